/* /api/v3/microservices: the microservices and diagnostics route groups (controller.md §3.8) and
 * the lifecycle routes /start, /stop, /restart (spec README). Handlers parse the request and call
 * the service layer (controller/msvc.h), which validates, checks ownership and raises flags. */
#include "controller/api/api.h"
#include "controller/api/application.h"
#include "controller/api/substitute.h"

#include "common/json.h"
#include "common/log.h"
#include "controller/domain/msvc.h"
#include "controller/domain/msvc_internal.h"
#include "controller/domain/snapshot.h"
#include "controller/store/db_json.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ctl_db *db_of(struct ctl_call *call) {
    return ctl_store_db(call->srv->store);
}

static iof_err parse_id(struct ctl_call *call, const char *name, int64_t *out) {
    const char *v = iof_http_param(call->req, name);
    char *end = NULL;
    long long n = v != NULL ? strtoll(v, &end, 10) : 0;
    if (v == NULL || end == v || *end != '\0' || n <= 0) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field '%s'", name);
    }
    *out = (int64_t)n;
    return IOF_OK;
}

static iof_err list(struct ctl_call *call) {
    const char *app_name = iof_http_query(call->req, "application");
    const char *flow = iof_http_query(call->req, "flowId");
    int64_t app_id = 0;
    json_t *app = NULL;
    iof_err err = IOF_OK;
    if (app_name != NULL && *app_name != '\0') {
        err = ctl_msvc_app_by_name(call, app_name, &app);
    } else if (flow != NULL && *flow != '\0') {
        char *end = NULL;
        long long id = strtoll(flow, &end, 10);
        err = (*end != '\0' || id <= 0)
                  ? iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'flowId'")
                  : ctl_msvc_app_by_id(call, (int64_t)id, &app);
    }
    if (err != IOF_OK) {
        return err;
    }
    if (app != NULL) {
        app_id = ctl_msvc_jint(app, "id");
        json_decref(app);
    }
    json_t *arr = NULL;
    if ((err = ctl_msvc_list_json(call, app_id, &arr)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "microservices", arr));
}

static iof_err create(struct ctl_call *call) {
    json_t *body = NULL;
    char uuid[CTL_UUID_LEN + 1];
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK || (err = ctl_msvc_create(call, 0, body, uuid)) != IOF_OK) {
        return err;
    }
    json_t *m = NULL;
    if ((err = ctl_msvc_get_json(call, uuid, &m)) != IOF_OK) {
        return err;
    }
    json_t *ans = json_pack("{s:s, s:O}", "uuid", uuid, "name", json_object_get(m, "name"));
    json_decref(m);
    return ctl_reply(call, 201, ans);
}

/* A kind Microservice upload (multipart field `microservice`) as an MsvcCreate/MsvcUpdate body.
 * metadata.name may be "<application>/<microservice>". */
static iof_err yaml_body(struct ctl_call *call, json_t **out) {
    json_t *doc = NULL;
    iof_err err = ctl_app_upload_yaml(call, "microservice", "Microservice", &doc);
    if (err != IOF_OK) {
        return err;
    }
    const char *full = json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
    const json_t *spec = json_object_get(doc, "spec");
    char app[256] = {0};
    const char *name = full;
    const char *slash = full != NULL ? strchr(full, '/') : NULL;
    if (slash != NULL && (size_t)(slash - full) < sizeof app) {
        memcpy(app, full, (size_t)(slash - full));
        name = slash + 1;
    }
    json_t *body = NULL;
    if (full == NULL) {
        err = iof_fail(call->d, IOF_EINVAL, "Invalid YAML format: missing metadata.name property");
    } else if (spec == NULL || !json_is_object(spec)) {
        err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'spec'");
    } else {
        err = ctl_yaml_microservice_body(spec, app[0] != '\0' ? app : NULL, &body, call->d);
    }
    if (err == IOF_OK && json_object_get(body, "name") == NULL &&
        json_object_set_new(body, "name", json_string(name)) != 0) {
        err = iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    json_decref(doc);
    if (err == IOF_OK) {
        err = ctl_subst_render(call, body, NULL); /* classic: self = the microservice body */
    }
    if (err != IOF_OK) {
        json_decref(body);
        return err;
    }
    *out = body;
    return IOF_OK;
}

static iof_err create_yaml(struct ctl_call *call) {
    json_t *body = NULL;
    char uuid[CTL_UUID_LEN + 1];
    iof_err err = yaml_body(call, &body);
    if (err == IOF_OK) {
        err = ctl_msvc_create(call, 0, body, uuid);
    }
    json_t *ans = err == IOF_OK
                      ? json_pack("{s:s, s:O}", "uuid", uuid, "name", json_object_get(body, "name"))
                      : NULL;
    json_decref(body);
    return err != IOF_OK ? err : ctl_reply(call, 201, ans);
}

static iof_err patch_yaml(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err = yaml_body(call, &body);
    if (err == IOF_OK) {
        err = ctl_msvc_update(call, iof_http_param(call->req, "uuid"), body);
    }
    json_decref(body);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err get_one(struct ctl_call *call) {
    json_t *m = NULL;
    iof_err err = ctl_msvc_get_json(call, iof_http_param(call->req, "uuid"), &m);
    return err != IOF_OK ? err : ctl_reply(call, 200, m);
}

static iof_err patch(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = ctl_msvc_update(call, iof_http_param(call->req, "uuid"), body)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err delete_one(struct ctl_call *call) {
    json_t *body = NULL;
    bool cleanup = false;
    size_t len = 0;
    (void)iof_http_body(call->req, &len);
    iof_err err = IOF_OK;
    if (len > 0 &&
        ((err = ctl_body(call, &body)) ||
         (err = iof_json_get_bool(body, "withCleanup", IOF_JSON_OPTIONAL, &cleanup, call->d)))) {
        return err;
    }
    if ((err = ctl_msvc_delete_ex(call, iof_http_param(call->req, "uuid"), cleanup)) != IOF_OK) {
        return err;
    }
    /* Removed at once when the row went now; a microservice marked for deletion keeps its
     * snapshot until the agent reports it gone (then the liveness thread's sweep removes it). */
    struct iof_diag sd = {{0}};
    if (ctl_snapshot_sweep(call->srv, NULL, &sd) != IOF_OK) {
        IOF_WARN("controller", "snapshot_sweep_failed error=%s", sd.msg);
    }
    return ctl_reply(call, 204, NULL);
}

/* Public ports of the caller's microservices only (the classic route leaks every user's). */
static iof_err public_ports(struct ctl_call *call) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *rows = NULL;
    iof_err err =
        ctl_db_query_json(db_of(call),
                          "SELECT m.uuid AS \"microserviceUuid\", p.port_internal AS internal,"
                          " p.port_external AS external, pp.public_port AS \"publicPort\","
                          " pp.protocol AS protocol, pp.schemes AS \"schemes:json\","
                          " pp.host_fog_uuid AS \"hostIofogUuid\""
                          " FROM microservice_public_ports pp"
                          " JOIN microservice_ports p ON p.id = pp.port_id"
                          " JOIN microservices m ON m.uuid = p.microservice_uuid"
                          " WHERE m.marked_for_delete = 0 AND (? = 1 OR m.user_id = ?)"
                          " ORDER BY pp.public_port",
                          p,
                          2,
                          &rows,
                          call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, rows);
}

static iof_err legacy_route_create(struct ctl_call *call) {
    iof_err err = ctl_route_create_uuids(
        call, NULL, iof_http_param(call->req, "uuid"), iof_http_param(call->req, "receiverUuid"));
    return err != IOF_OK ? err : ctl_reply(call, 201, json_object());
}

static iof_err legacy_route_delete(struct ctl_call *call) {
    iof_err err = ctl_route_delete_uuids(
        call, iof_http_param(call->req, "uuid"), iof_http_param(call->req, "receiverUuid"));
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

/* ---- port mappings ---- */

static iof_err port_create(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = ctl_msvc_port_add(call, iof_http_param(call->req, "uuid"), body)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 201, json_object());
}

static iof_err port_list(struct ctl_call *call) {
    json_t *m = NULL;
    iof_err err = ctl_msvc_get_json(call, iof_http_param(call->req, "uuid"), &m);
    if (err != IOF_OK) {
        return err;
    }
    json_t *ans = json_pack("{s:O}", "ports", json_object_get(m, "ports"));
    json_decref(m);
    return ctl_reply(call, 200, ans);
}

static iof_err port_delete(struct ctl_call *call) {
    int64_t internal = 0;
    const char *proto = iof_http_query(call->req, "protocol");
    iof_err err = parse_id(call, "internalPort", &internal);
    if (err == IOF_OK && proto != NULL && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) {
        err = iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'protocol'");
    }
    if (err != IOF_OK ||
        (err = ctl_msvc_port_remove(call, iof_http_param(call->req, "uuid"), internal, proto)) !=
            IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

/* ---- volume mappings ---- */

static iof_err volume_create(struct ctl_call *call) {
    json_t *body = NULL;
    int64_t id = 0;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = ctl_msvc_volume_add(call, iof_http_param(call->req, "uuid"), body, &id)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

static iof_err volume_list(struct ctl_call *call) {
    const char *uuid = iof_http_param(call->req, "uuid");
    json_t *m = NULL;
    iof_err err = ctl_msvc_get_json(call, uuid, &m);
    if (err != IOF_OK) {
        return err;
    }
    json_t *vols = json_object_get(m, "volumeMappings");
    size_t i;
    json_t *v;
    json_array_foreach(vols, i, v) {
        (void)json_object_set_new(v, "microserviceUuid", json_string(uuid));
    }
    json_t *ans = json_pack("{s:O}", "volumeMappings", vols);
    json_decref(m);
    return ctl_reply(call, 200, ans);
}

static iof_err volume_delete(struct ctl_call *call) {
    int64_t id = 0;
    iof_err err = parse_id(call, "id", &id);
    if (err != IOF_OK ||
        (err = ctl_msvc_volume_remove(call, iof_http_param(call->req, "uuid"), id)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

/* ---- lifecycle ---- */

static iof_err lifecycle(struct ctl_call *call, const char *action) {
    iof_err err = ctl_msvc_lifecycle(call, iof_http_param(call->req, "uuid"), action);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err start(struct ctl_call *call) {
    return lifecycle(call, "start");
}

static iof_err stop(struct ctl_call *call) {
    return lifecycle(call, "stop");
}

static iof_err restart(struct ctl_call *call) {
    return lifecycle(call, "restart");
}

/* ---- diagnostics ---- */

static iof_err strace_patch(struct ctl_call *call) {
    json_t *body = NULL;
    bool enable = false;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_bool(body, "enable", IOF_JSON_REQUIRED, &enable, call->d)) ||
        (err = ctl_msvc_strace_set(call, iof_http_param(call->req, "uuid"), enable))) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err strace_get(struct ctl_call *call) {
    const char *format = iof_http_query(call->req, "format");
    if (format == NULL || *format == '\0') {
        format = "string";
    }
    if (strcmp(format, "string") != 0 && strcmp(format, "file") != 0) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'format'");
    }
    struct ctl_msvc_ref ref = {0};
    iof_err err = ctl_msvc_find(call, iof_http_param(call->req, "uuid"), &ref);
    json_t *row = NULL;
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_TEXT(ref.uuid)};
        err = ctl_db_query_json_one(db_of(call),
                                    "SELECT buffer FROM strace_diagnostics"
                                    " WHERE microservice_uuid = ?",
                                    p,
                                    1,
                                    "Strace data for this microservice is not available",
                                    &row,
                                    call->d);
    }
    ctl_msvc_ref_clear(&ref);
    if (err != IOF_OK) {
        return err;
    }
    const char *buffer = json_string_value(json_object_get(row, "buffer"));
    if (strcmp(format, "file") == 0) {
        err = iof_http_set_header(
            call->req, "Content-Disposition", "attachment; filename=\"strace.txt\"");
        if (err == IOF_OK) {
            err = iof_http_respond(
                call->req, 200, "text/plain", buffer, buffer != NULL ? strlen(buffer) : 0);
        }
        json_decref(row);
        return err;
    }
    json_t *ans = json_pack("{s:s}", "data", buffer != NULL ? buffer : "");
    json_decref(row);
    return ctl_reply(call, 200, ans);
}

static iof_err strace_ftp(struct ctl_call *call) {
    json_t *body = NULL;
    const char *host = NULL, *user = NULL, *pass = NULL, *dir = NULL;
    int64_t port = 0;
    struct ctl_msvc_ref ref = {0};
    iof_err err = ctl_msvc_find(call, iof_http_param(call->req, "uuid"), &ref);
    ctl_msvc_ref_clear(&ref);
    if (err != IOF_OK || (err = ctl_body(call, &body)) ||
        (err = iof_json_get_string(body, "ftpHost", IOF_JSON_REQUIRED, &host, call->d)) ||
        (err = iof_json_get_int(body, "ftpPort", IOF_JSON_REQUIRED, &port, call->d)) ||
        (err = iof_json_get_string(body, "ftpUser", IOF_JSON_REQUIRED, &user, call->d)) ||
        (err = iof_json_get_string(body, "ftpPass", IOF_JSON_REQUIRED, &pass, call->d)) ||
        (err = iof_json_get_string(body, "ftpDestDir", IOF_JSON_REQUIRED, &dir, call->d))) {
        return err;
    }
    return ctl_reply_error(call,
                           501,
                           "NotImplementedError",
                           "Pushing strace output to an FTP server is not supported by this "
                           "Controller; read it with GET /api/v3/microservices/:uuid/strace"
                           "?format=file");
}

static iof_err snapshot_create(struct ctl_call *call) {
    iof_err err = ctl_msvc_snapshot_request(call, iof_http_param(call->req, "uuid"));
    return err != IOF_OK ? err : ctl_reply(call, 201, json_object());
}

/* Agents upload the exported image to <data-dir>/image-snapshots/<uuid>.tar.gz and store that
 * path in the image_snapshot column (agent API, agent_misc.c); until then ('' or 'get_image')
 * there is nothing to download. The file is sent from disk (sendfile), never read into memory. */
static iof_err snapshot_get(struct ctl_call *call) {
    struct ctl_msvc_ref ref = {0};
    iof_err err = ctl_msvc_find(call, iof_http_param(call->req, "uuid"), &ref);
    json_t *row = NULL;
    char uuid[65] = "";
    if (err == IOF_OK) {
        (void)snprintf(uuid, sizeof uuid, "%s", ref.uuid);
        const struct ctl_db_value p[] = {CTL_DB_TEXT(ref.uuid)};
        err = ctl_db_query_json_one(db_of(call),
                                    "SELECT image_snapshot AS path FROM microservices"
                                    " WHERE uuid = ?",
                                    p,
                                    1,
                                    "Invalid microservice UUID",
                                    &row,
                                    call->d);
    }
    ctl_msvc_ref_clear(&ref);
    if (err != IOF_OK) {
        return err;
    }
    const char *path = json_string_value(json_object_get(row, "path"));
    int fd = path != NULL && path[0] == '/' ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    json_decref(row);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        (void)close(fd);
        fd = -1;
    }
    if (fd < 0) {
        return iof_fail(call->d,
                        IOF_ENOENT,
                        "Image snapshot is not available for this microservice: request one with "
                        "POST and wait for the agent to upload it");
    }
    char disposition[128];
    (void)snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.tar.gz\"", uuid);
    err = iof_http_set_header(call->req, "Content-Disposition", disposition);
    if (err != IOF_OK) {
        (void)close(fd);
        return err;
    }
    return iof_http_respond_fd(call->req, 200, "application/gzip", fd, (uint64_t)st.st_size);
}

const struct ctl_route ctl_routes_microservices[] = {
    {"GET", "/api/v3/microservices/public-ports", public_ports, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices", list, CTL_AUTH_USER},
    {"POST", "/api/v3/microservices", create, CTL_AUTH_USER},
    {"POST", "/api/v3/microservices/yaml", create_yaml, CTL_AUTH_USER},
    {"PATCH", "/api/v3/microservices/yaml/:uuid", patch_yaml, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices/:uuid", get_one, CTL_AUTH_USER},
    {"PATCH", "/api/v3/microservices/:uuid", patch, CTL_AUTH_USER},
    {"DELETE", "/api/v3/microservices/:uuid", delete_one, CTL_AUTH_USER},
    {"POST",
     "/api/v3/microservices/:uuid/routes/:receiverUuid",
     legacy_route_create,
     CTL_AUTH_USER},
    {"DELETE",
     "/api/v3/microservices/:uuid/routes/:receiverUuid",
     legacy_route_delete,
     CTL_AUTH_USER},
    {"POST", "/api/v3/microservices/:uuid/port-mapping", port_create, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices/:uuid/port-mapping", port_list, CTL_AUTH_USER},
    {"DELETE",
     "/api/v3/microservices/:uuid/port-mapping/:internalPort",
     port_delete,
     CTL_AUTH_USER},
    {"POST", "/api/v3/microservices/:uuid/volume-mapping", volume_create, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices/:uuid/volume-mapping", volume_list, CTL_AUTH_USER},
    {"DELETE", "/api/v3/microservices/:uuid/volume-mapping/:id", volume_delete, CTL_AUTH_USER},
    {"PATCH", "/api/v3/microservices/:uuid/start", start, CTL_AUTH_USER},
    {"PATCH", "/api/v3/microservices/:uuid/stop", stop, CTL_AUTH_USER},
    {"PATCH", "/api/v3/microservices/:uuid/restart", restart, CTL_AUTH_USER},
};
const size_t ctl_routes_microservices_count =
    sizeof ctl_routes_microservices / sizeof ctl_routes_microservices[0];

const struct ctl_route ctl_routes_diagnostics[] = {
    {"POST", "/api/v3/microservices/:uuid/image-snapshot", snapshot_create, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices/:uuid/image-snapshot", snapshot_get, CTL_AUTH_USER},
    {"PATCH", "/api/v3/microservices/:uuid/strace", strace_patch, CTL_AUTH_USER},
    {"GET", "/api/v3/microservices/:uuid/strace", strace_get, CTL_AUTH_USER},
    {"PUT", "/api/v3/microservices/:uuid/strace", strace_ftp, CTL_AUTH_USER},
};
const size_t ctl_routes_diagnostics_count =
    sizeof ctl_routes_diagnostics / sizeof ctl_routes_diagnostics[0];
