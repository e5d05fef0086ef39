/* The smaller agent-facing resources (controller.md §4): registries (with credentials: agents
 * only), tunnel, strace, version command, HAL info, node deletion, edge resources, and the image
 * snapshot: the request (GET) and the upload (PUT, streamed to a file, controller/snapshot.h). */
#include "controller/api/agent_api.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/domain/snapshot.h"
#include "controller/store/db_json.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static iof_err reply_rows(struct ctl_call *call, const char *key, const char *sql) {
    json_t *rows = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, 1, &rows, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, json_pack("{s:o}", key, rows));
}

/* The node's owner's registries with their credentials, and the public registries of others
 * (and the system ones) without them: another user's username and password never reach this
 * node (the classic Controller sent them; see docs/compatibility.md). */
static iof_err get_registries(struct ctl_call *call) {
    return reply_rows(
        call,
        "registries",
        "WITH o AS (SELECT user_id AS uid FROM fogs WHERE uuid = ?)"
        " SELECT r.id, r.url, r.is_public AS \"isPublic:bool\","
        " r.secure AS \"isSecure:bool\", r.certificate,"
        " r.requires_cert AS \"requiresCert:bool\","
        " CASE WHEN r.user_id IS NULL OR r.user_id = o.uid THEN r.user_name ELSE '' END"
        " AS username,"
        " CASE WHEN r.user_id IS NULL OR r.user_id = o.uid THEN r.password ELSE '' END"
        " AS password,"
        " r.user_email AS \"userEmail\", r.user_id AS \"userId\""
        " FROM registries r, o WHERE r.is_public = 1 OR r.user_id = o.uid ORDER BY r.id");
}

static iof_err get_tunnel(struct ctl_call *call) {
    json_t *t = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store),
                              "SELECT id, username, password, host,"
                              " remote_port AS rport, local_port AS lport,"
                              " rsa_key AS rsakey, closed AS \"closed:bool\","
                              " fog_uuid AS \"iofogUuid\" FROM tunnels WHERE fog_uuid = ?",
                              p,
                              1,
                              "Tunnel not found",
                              &t,
                              call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, json_pack("{s:o}", "tunnel", t));
}

/* Classic answers 404 "Strace not found" while no microservice of the node has strace set. */
static iof_err get_strace(struct ctl_call *call) {
    json_t *rows = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store),
                                    "SELECT s.microservice_uuid AS \"microserviceUuid\","
                                    " s.strace_run AS \"straceRun:bool\" FROM strace_diagnostics s"
                                    " JOIN microservices m ON m.uuid = s.microservice_uuid"
                                    " WHERE m.fog_uuid = ?",
                                    p,
                                    1,
                                    &rows,
                                    call->d);
    if (err == IOF_OK && json_array_size(rows) == 0) {
        err = iof_fail(call->d, IOF_ENOENT, "Strace not found");
    }
    if (err != IOF_OK) {
        json_decref(rows);
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "straceValues", rows));
}

static iof_err put_strace(struct ctl_call *call) {
    json_t *body;
    const json_t *data = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_array(body, "straceData", IOF_JSON_REQUIRED, &data, call->d))) {
        return err;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(data, i, item) {
        const char *uuid = json_string_value(json_object_get(item, "microserviceUuid"));
        const char *buffer = json_string_value(json_object_get(item, "buffer"));
        if (uuid == NULL || buffer == NULL) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'straceData'");
        }
        /* Kept bounded: the newest 1 MiB of output. */
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(buffer), CTL_DB_TEXT(uuid), CTL_DB_TEXT(call->fog_uuid)};
        int64_t changes = 0;
        err = ctl_db_exec(ctl_store_db(call->srv->store),
                          "UPDATE strace_diagnostics SET buffer = substr(buffer || ?, -1048576)"
                          " WHERE microservice_uuid = (SELECT uuid FROM microservices"
                          " WHERE uuid = ? AND fog_uuid = ?)",
                          p,
                          3,
                          NULL,
                          NULL,
                          &changes,
                          call->d);
        if (err == IOF_OK && changes == 0) {
            err = iof_fail(call->d, IOF_ENOENT, "Invalid microservice UUID '%s'", uuid);
        }
        if (err != IOF_OK) {
            return err;
        }
    }
    return ctl_reply(call, 204, NULL);
}

/* The version command with a fresh provisioning key: keys are stored hashed, so the one the
 * upgrade script needs to provision again is made here (20 minutes, single use). */
static iof_err get_version(struct ctl_call *call) {
    json_t *cmd = NULL;
    struct ctl_db *db = ctl_store_db(call->srv->store);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json_one(db,
                                        "SELECT version_command AS \"versionCommand\""
                                        " FROM fog_version_commands WHERE fog_uuid = ?",
                                        p,
                                        1,
                                        "Version command not found",
                                        &cmd,
                                        call->d);
    if (err != IOF_OK) {
        return err;
    }
    char key[9], hash[CTL_TOKEN_HASH_LEN + 1];
    int64_t exp = iof_time_now_ms() + 20 * 60 * 1000;
    err = iof_random_string(key, 8, IOF_ALPHABET_FOG_TOKEN);
    if (err == IOF_OK) {
        ctl_token_hash(key, hash);
        const struct ctl_db_value k[] = {
            CTL_DB_TEXT(call->fog_uuid), CTL_DB_TEXT(hash), CTL_DB_INT(exp)};
        err =
            ctl_db_exec(db,
                        "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
                        " VALUES (?, ?, ?) ON CONFLICT (fog_uuid) DO UPDATE SET"
                        " key_hash = excluded.key_hash, expiration_time = excluded.expiration_time",
                        k,
                        3,
                        NULL,
                        NULL,
                        NULL,
                        call->d);
    }
    if (err != IOF_OK) {
        json_decref(cmd);
        return err;
    }
    json_object_set_new(cmd, "provisionKey", json_string(key));
    json_object_set_new(cmd, "expirationTime", json_integer((json_int_t)exp));
    return ctl_reply(call, 200, cmd);
}

static iof_err put_hal(struct ctl_call *call, const char *table) {
    json_t *body;
    const char *info = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "info", IOF_JSON_REQUIRED, &info, call->d))) {
        return err;
    }
    char sql[200];
    (void)snprintf(
        sql,
        sizeof sql,
        "INSERT INTO %s (fog_uuid, info, updated_at) VALUES (?, ?, ?) ON CONFLICT"
        " (fog_uuid) DO UPDATE SET info = excluded.info, updated_at = excluded.updated_at",
        table);
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(call->fog_uuid), CTL_DB_TEXT(info), CTL_DB_INT(iof_time_now_ms())};
    err = ctl_db_exec(ctl_store_db(call->srv->store), sql, p, 3, NULL, NULL, NULL, call->d);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err put_hal_hw(struct ctl_call *call) {
    return put_hal(call, "hw_infos");
}

static iof_err put_hal_usb(struct ctl_call *call) {
    return put_hal(call, "usb_infos");
}

static iof_err delete_node(struct ctl_call *call) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_exec(ctl_store_db(call->srv->store),
                              "DELETE FROM fogs WHERE uuid = ?",
                              p,
                              1,
                              NULL,
                              NULL,
                              NULL,
                              call->d);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

static iof_err get_edge_resources(struct ctl_call *call) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    json_t *list = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json(
        db,
        "SELECT e.id, e.name, e.version, e.description, e.interface_protocol AS "
        "\"interfaceProtocol\","
        " e.display_name AS \"displayName\", e.display_icon AS \"displayIcon\","
        " e.display_color AS \"displayColor\", e.custom AS \"custom:json\""
        " FROM edge_resources e JOIN fog_edge_resources l ON l.edge_resource_id = e.id"
        " WHERE l.fog_uuid = ? ORDER BY e.name, e.version",
        p,
        1,
        &list,
        call->d);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (err != IOF_OK) {
            break;
        }
        json_t *display = json_pack("{s:O, s:O, s:O}",
                                    "name",
                                    json_object_get(e, "displayName"),
                                    "icon",
                                    json_object_get(e, "displayIcon"),
                                    "color",
                                    json_object_get(e, "displayColor"));
        json_object_del(e, "displayName");
        json_object_del(e, "displayIcon");
        json_object_del(e, "displayColor");
        json_object_set_new(e, "display", display);
        const struct ctl_db_value q[] = {CTL_DB_INT(json_integer_value(json_object_get(e, "id")))};
        json_t *endpoints = NULL, *tags = NULL;
        err =
            ctl_db_query_json(db,
                              "SELECT id, name, description, method, url,"
                              " request_type AS \"requestType\", response_type AS \"responseType\","
                              " request_payload_example AS \"requestPayloadExample\","
                              " response_payload_example AS \"responsePayloadExample\""
                              " FROM edge_resource_endpoints WHERE edge_resource_id = ?"
                              " ORDER BY id",
                              q,
                              1,
                              &endpoints,
                              call->d);
        if (err == IOF_OK) {
            err = ctl_db_query_json(
                db,
                "SELECT t.name FROM tags t JOIN edge_resource_tags x"
                " ON x.tag_id = t.id WHERE x.edge_resource_id = ? ORDER BY t.name",
                q,
                1,
                &tags,
                call->d);
        }
        json_t *names = json_array();
        size_t k;
        json_t *t;
        json_array_foreach(tags, k, t) {
            json_array_append(names, json_object_get(t, "name"));
        }
        json_decref(tags);
        json_object_set_new(e, "orchestrationTags", names);
        json_object_set_new(
            e,
            "interface",
            json_pack("{s:o}", "endpoints", endpoints != NULL ? endpoints : json_array()));
    }
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "edgeResources", list));
}

static iof_err get_image_snapshot(struct ctl_call *call) {
    json_t *row = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                        "SELECT uuid FROM microservices WHERE fog_uuid = ?"
                                        " AND image_snapshot = 'get_image' LIMIT 1",
                                        p,
                                        1,
                                        "Image snapshot not found",
                                        &row,
                                        call->d);
    return err != IOF_OK ? err : ctl_reply(call, 200, row);
}

/* The microservice of this node whose snapshot was asked for; IOF_EINVAL (classic
 * ValidationError, the only error the classic route knows besides 401) when there is none. */
static iof_err pending_snapshot(struct ctl_call *call, char uuid[65]) {
    json_t *row = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(call->fog_uuid)};
    iof_err err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                        "SELECT uuid FROM microservices WHERE fog_uuid = ?"
                                        " AND image_snapshot = 'get_image' LIMIT 1",
                                        p,
                                        1,
                                        NULL,
                                        &row,
                                        call->d);
    const char *u = json_string_value(json_object_get(row, "uuid"));
    if (err == IOF_ENOENT || (err == IOF_OK && (u == NULL || strlen(u) > 64))) {
        err = iof_fail(call->d, IOF_EINVAL, "No image snapshot was requested from this node");
    } else if (err == IOF_OK) {
        memcpy(uuid, u, strlen(u) + 1);
    }
    json_decref(row);
    return err;
}

/* Before the body, in classic's order: the content type first ("Invalid content type"), then an
 * upload nobody asked for is refused without reading it (classic stores it and changes
 * nothing). */
static iof_err admit_image_snapshot(struct ctl_call *call) {
    const char *ct = iof_http_header(call->req, "Content-Type");
    if (ct == NULL || strstr(ct, "multipart/form-data") == NULL) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid content type");
    }
    char uuid[65];
    return pending_snapshot(call, uuid);
}

/* The body is in (only its "upstream" part was written to the file): the file becomes
 * <data-dir>/image-snapshots/<uuid>.tar.gz and the column moves from 'get_image' to that path. */
static iof_err put_image_snapshot(struct ctl_call *call) {
    int fd;
    uint64_t size;
    iof_err err = iof_http_upload_file(call->req, &fd, &size, call->d);
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_EINVAL, "Uploaded image snapshot file not found");
    }
    char uuid[65], path[1200];
    if (err != IOF_OK || (err = pending_snapshot(call, uuid)) != IOF_OK ||
        (err = ctl_snapshot_path(&call->srv->cfg, uuid, path, sizeof path, call->d)) != IOF_OK ||
        (err = iof_http_upload_keep(call->req, path, call->d)) != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(path), CTL_DB_TEXT(uuid), CTL_DB_TEXT(call->fog_uuid)};
    int64_t changes = 0;
    err = ctl_db_exec(ctl_store_db(call->srv->store),
                      "UPDATE microservices SET image_snapshot = ? WHERE uuid = ? AND fog_uuid = ?"
                      " AND image_snapshot = 'get_image'",
                      p,
                      3,
                      NULL,
                      NULL,
                      &changes,
                      call->d);
    if (err == IOF_OK && changes == 0) {
        /* Deleted or moved to another node while the body was arriving. */
        err = iof_fail(call->d, IOF_EINVAL, "No image snapshot was requested from this node");
    }
    if (err != IOF_OK) {
        (void)unlink(path);
        return err;
    }
    IOF_INFO("controller",
             "image_snapshot_stored microservice=%s fog=%s bytes=%llu",
             uuid,
             call->fog_uuid,
             (unsigned long long)size);
    return ctl_reply(call, 200, json_object());
}

static const struct ctl_route image_snapshot_put = {
    "PUT", "/api/v3/agent/image-snapshot", put_image_snapshot, CTL_AUTH_AGENT};

iof_err ctl_api_register_agent_uploads(struct ctl_server *srv, struct iof_diag *d) {
    char dir[1100];
    iof_err err = ctl_snapshot_make_dir(&srv->cfg, d);
    if (err == IOF_OK) {
        err = ctl_snapshot_dir(&srv->cfg, dir, sizeof dir, d);
    }
    if (err != IOF_OK) {
        return err;
    }
    /* The file is made in the directory it is kept in, so keeping it is a rename. */
    const struct iof_http_upload_opts opts = {
        .max_bytes = srv->cfg.image_snapshot_max_bytes,
        .dir = dir,
        .multipart_field = "upstream",
    };
    return ctl_api_register_upload(srv, &image_snapshot_put, admit_image_snapshot, &opts, d);
}

const struct ctl_route ctl_routes_agent_misc[] = {
    {"GET", "/api/v3/agent/registries", get_registries, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/tunnel", get_tunnel, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/strace", get_strace, CTL_AUTH_AGENT},
    {"PUT", "/api/v3/agent/strace", put_strace, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/version", get_version, CTL_AUTH_AGENT},
    {"PUT", "/api/v3/agent/hal/hw", put_hal_hw, CTL_AUTH_AGENT},
    {"PUT", "/api/v3/agent/hal/usb", put_hal_usb, CTL_AUTH_AGENT},
    {"DELETE", "/api/v3/agent/delete-node", delete_node, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/edgeResources", get_edge_resources, CTL_AUTH_AGENT},
    {"GET", "/api/v3/agent/image-snapshot", get_image_snapshot, CTL_AUTH_AGENT},
};
const size_t ctl_routes_agent_misc_count =
    sizeof ctl_routes_agent_misc / sizeof ctl_routes_agent_misc[0];
