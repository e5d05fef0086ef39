/* Descriptor validation and container create bodies (see spec.h). */
#include "agent/engine/spec.h"

#include "common/base64.h"
#include "common/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LIST_ITEMS 256 /* ports, volumes, env entries, hosts, cmd args per descriptor */

void agent_spec_free(struct agent_spec *s) {
    if (s == NULL) {
        return;
    }
    free(s->registry_auth);
    json_decref(s->base);
    free(s);
}

iof_err agent_spec_registry_auth(
    const char *username, const char *password, const char *email, const char *server, char **out) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}",
                          "username",
                          username != NULL ? username : "",
                          "password",
                          password != NULL ? password : "",
                          "email",
                          email != NULL ? email : "",
                          "serveraddress",
                          server != NULL ? server : "");
    if (o == NULL) {
        return IOF_ENOMEM;
    }
    char *text = NULL;
    size_t len = 0;
    iof_err err = iof_json_dump(o, &text, &len);
    json_decref(o);
    if (err != IOF_OK) {
        return err;
    }
    size_t n = iof_base64_encoded_len(len) + 1;
    char *b = malloc(n);
    if (b == NULL) {
        free(text);
        return IOF_ENOMEM;
    }
    err = iof_base64_encode((const uint8_t *)text, len, b, n);
    free(text);
    if (err != IOF_OK) {
        free(b);
        return err;
    }
    for (char *p = b; *p != '\0'; p++) { /* the URL-safe alphabet Docker decodes */
        if (*p == '+') {
            *p = '-';
        } else if (*p == '/') {
            *p = '_';
        }
    }
    *out = b;
    return IOF_OK;
}

static iof_err
find_registry(const json_t *registries, int64_t id, const json_t **out, struct iof_diag *d) {
    size_t i;
    const json_t *r;
    if (json_is_array(registries)) {
        json_array_foreach(registries, i, r) {
            int64_t rid = 0;
            if (json_is_object(r) &&
                iof_json_get_int(r, "id", IOF_JSON_REQUIRED, &rid, NULL) == IOF_OK && rid == id) {
                *out = r;
                return IOF_OK;
            }
        }
    }
    return iof_fail(d, IOF_EINVAL, "unknown registry id %lld", (long long)id);
}

static iof_err parse_registry(struct agent_spec *s,
                              const json_t *item,
                              const json_t *registries,
                              struct iof_diag *d) {
    int64_t id = 0;
    const json_t *idv = json_object_get(item, "registryId");
    if (idv == NULL || json_is_null(idv)) {
        return IOF_OK; /* no registry: pull from Docker Hub without credentials */
    }
    iof_err err = iof_json_get_int(item, "registryId", IOF_JSON_REQUIRED, &id, d);
    if (err != IOF_OK) {
        return err;
    }
    const json_t *reg = NULL;
    err = find_registry(registries, id, &reg, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *url = NULL;
    bool is_public = true;
    if (iof_json_get_string(reg, "url", IOF_JSON_REQUIRED, &url, NULL) != IOF_OK ||
        iof_json_get_bool(reg, "isPublic", IOF_JSON_OPTIONAL, &is_public, NULL) != IOF_OK) {
        return iof_fail(
            d, IOF_EINVAL, "registry %lld has an invalid url or isPublic", (long long)id);
    }
    if (strcmp(url, AGENT_REGISTRY_CACHE_URL) == 0) {
        s->from_cache = true;
        return IOF_OK;
    }
    if (is_public) {
        return IOF_OK;
    }
    const char *user = NULL;
    const char *pass = NULL;
    const char *email = NULL;
    if (iof_json_get_string(reg, "username", IOF_JSON_OPTIONAL, &user, NULL) != IOF_OK ||
        iof_json_get_string(reg, "password", IOF_JSON_OPTIONAL, &pass, NULL) != IOF_OK ||
        iof_json_get_string(reg, "userEmail", IOF_JSON_OPTIONAL, &email, NULL) != IOF_OK) {
        return iof_fail(d, IOF_EINVAL, "registry %lld has invalid credentials", (long long)id);
    }
    return agent_spec_registry_auth(user, pass, email, url, &s->registry_auth);
}

/* Fetches an optional array field and checks its length. */
static iof_err
get_list(const json_t *item, const char *key, const json_t **out, struct iof_diag *d) {
    *out = NULL;
    iof_err err = iof_json_get_array(item, key, IOF_JSON_OPTIONAL, out, d);
    if (err != IOF_OK) {
        return err;
    }
    if (*out != NULL && json_array_size(*out) > MAX_LIST_ITEMS) {
        return iof_fail(d, IOF_EINVAL, "Too many entries in field '%s'", key);
    }
    return IOF_OK;
}

static iof_err add_port(json_t *exposed, json_t *bindings, const json_t *pm, struct iof_diag *d) {
    if (!json_is_object(pm)) {
        return iof_fail(d, IOF_EINVAL, "invalid port mapping: not an object");
    }
    int64_t in = 0;
    int64_t ext = 0;
    bool udp = false;
    iof_err err = iof_json_get_int(pm, "portInternal", IOF_JSON_REQUIRED, &in, d);
    if (err == IOF_OK) {
        err = iof_json_get_int(pm, "portExternal", IOF_JSON_REQUIRED, &ext, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_bool(pm, "isUdp", IOF_JSON_OPTIONAL, &udp, d);
    }
    if (err != IOF_OK) {
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", iof_diag_text(d, err));
        return iof_fail(d, IOF_EINVAL, "invalid port mapping: %s", why);
    }
    if (in < 1 || in > 65535 || ext < 1 || ext > 65535) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "invalid port mapping %lld:%lld: ports must be in 1..65535",
                        (long long)ext,
                        (long long)in);
    }
    char key[32];
    char host[16];
    snprintf(key, sizeof key, "%lld/%s", (long long)in, udp ? "udp" : "tcp");
    snprintf(host, sizeof host, "%lld", (long long)ext);
    json_t *list = json_object_get(bindings, key);
    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(bindings, key, list) != 0) {
            return IOF_ENOMEM;
        }
    }
    if (json_object_set_new(exposed, key, json_object()) != 0 ||
        json_array_append_new(list, json_pack("{s:s}", "HostPort", host)) != 0) {
        return IOF_ENOMEM;
    }
    return IOF_OK;
}

static bool volume_name_ok(const char *n) {
    if (n[0] == '\0' || strlen(n) > 255) {
        return false;
    }
    for (const char *p = n; *p != '\0'; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (p == n || (c != '_' && c != '.' && c != '-'))) {
            return false;
        }
    }
    return true;
}

static bool path_ok(const char *p) {
    return p[0] == '/' && strchr(p, ':') == NULL && strlen(p) < 1024;
}

static iof_err add_volume(json_t *binds, const json_t *vm, struct iof_diag *d) {
    if (!json_is_object(vm)) {
        return iof_fail(d, IOF_EINVAL, "invalid volume mapping: not an object");
    }
    const char *host = NULL;
    const char *ctr = NULL;
    const char *mode = NULL;
    const char *type = NULL;
    iof_err err = iof_json_get_string(vm, "hostDestination", IOF_JSON_REQUIRED, &host, d);
    if (err == IOF_OK) {
        err = iof_json_get_string(vm, "containerDestination", IOF_JSON_REQUIRED, &ctr, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_string(vm, "accessMode", IOF_JSON_OPTIONAL, &mode, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_string(vm, "type", IOF_JSON_OPTIONAL, &type, d);
    }
    if (err != IOF_OK) {
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", iof_diag_text(d, err));
        return iof_fail(d, IOF_EINVAL, "invalid volume mapping: %s", why);
    }
    bool ro = false;
    if (mode != NULL && mode[0] != '\0') {
        if (strcasecmp(mode, "ro") == 0) {
            ro = true;
        } else if (strcasecmp(mode, "rw") != 0) {
            return iof_fail(d,
                            IOF_EINVAL,
                            "invalid volume mapping: accessMode '%.40s' is not 'rw' or 'ro'",
                            mode);
        }
    }
    bool is_volume = false;
    if (type != NULL && strcmp(type, "volume") == 0) {
        is_volume = true;
    } else if (type != NULL && strcmp(type, "bind") != 0) {
        return iof_fail(
            d, IOF_EINVAL, "invalid volume mapping: type '%.40s' is not supported", type);
    }
    if (!path_ok(ctr)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "invalid volume mapping: containerDestination '%.80s' is not an "
                        "absolute path",
                        ctr);
    }
    if (is_volume ? !volume_name_ok(host) : !path_ok(host)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        is_volume ? "invalid volume mapping: '%.80s' is not a valid volume name"
                                  : "invalid volume mapping: hostDestination '%.80s' is not an "
                                    "absolute path",
                        host);
    }
    char text[2100];
    snprintf(text, sizeof text, "%s:%s:%s", host, ctr, ro ? "ro" : "rw");
    return json_array_append_new(binds, json_string(text)) == 0 ? IOF_OK : IOF_ENOMEM;
}

static iof_err add_env(json_t *env, const json_t *e, struct iof_diag *d) {
    if (!json_is_object(e)) {
        return iof_fail(d, IOF_EINVAL, "invalid env entry: not an object");
    }
    const char *key = NULL;
    const char *value = "";
    iof_err err = iof_json_get_string(e, "key", IOF_JSON_REQUIRED, &key, d);
    if (err == IOF_OK) {
        err = iof_json_get_string(e, "value", IOF_JSON_OPTIONAL, &value, d);
    }
    if (err != IOF_OK) {
        char why[sizeof d->msg];
        snprintf(why, sizeof why, "%s", iof_diag_text(d, err));
        return iof_fail(d, IOF_EINVAL, "invalid env entry: %s", why);
    }
    if (key[0] == '\0' || strchr(key, '=') != NULL) {
        return iof_fail(d, IOF_EINVAL, "invalid env entry: key '%.60s'", key);
    }
    json_t *s = json_sprintf("%s=%s", key, value);
    return json_array_append_new(env, s) == 0 ? IOF_OK : IOF_ENOMEM;
}

static iof_err add_strings(json_t *dst, const json_t *src, const char *key, struct iof_diag *d) {
    size_t i;
    const json_t *v;
    json_array_foreach(src, i, v) {
        if (!json_is_string(v)) {
            return iof_fail(d, IOF_EINVAL, "Invalid format for field '%s'", key);
        }
        if (json_array_append_new(dst, json_string(json_string_value(v))) != 0) {
            return IOF_ENOMEM;
        }
    }
    return IOF_OK;
}

static iof_err build_base(struct agent_spec *s, const json_t *item, struct iof_diag *d) {
    bool host_mode = false;
    int64_t log_mb = 1;
    const json_t *ports = NULL;
    const json_t *vols = NULL;
    const json_t *env = NULL;
    const json_t *hosts = NULL;
    const json_t *cmd = NULL;
    bool host_network = false;
    bool privileged = false;
    /* rootHostAccess (classic) asks for the host's network and privileges; the newest line splits
     * it into hostNetworkMode and isPrivileged. Nothing else makes a container privileged. */
    iof_err err = iof_json_get_bool(item, "rootHostAccess", IOF_JSON_OPTIONAL, &host_mode, d);
    if (err == IOF_OK) {
        err = iof_json_get_bool(item, "hostNetworkMode", IOF_JSON_OPTIONAL, &host_network, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_bool(item, "isPrivileged", IOF_JSON_OPTIONAL, &privileged, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_int(item, "logSize", IOF_JSON_OPTIONAL, &log_mb, d);
    }
    if (err == IOF_OK) {
        err = get_list(item, "portMappings", &ports, d);
    }
    if (err == IOF_OK) {
        err = get_list(item, "volumeMappings", &vols, d);
    }
    if (err == IOF_OK) {
        err = get_list(item, "env", &env, d);
    }
    if (err == IOF_OK) {
        err = get_list(item, "extraHosts", &hosts, d);
    }
    if (err == IOF_OK) {
        err = get_list(item, "cmd", &cmd, d);
    }
    if (err != IOF_OK) {
        return err;
    }
    privileged = privileged || host_mode;
    host_mode = host_mode || host_network;
    if (log_mb < 1) {
        log_mb = 1;
    } else if (log_mb > 10240) {
        log_mb = 10240;
    }
    /* logSize MB in total: up to 10 files of equal size, at least 1 MB each. */
    int64_t files = log_mb / 2 < 1 ? 1 : (log_mb / 2 > 10 ? 10 : log_mb / 2);
    char max_size[32];
    char max_file[24];
    snprintf(max_size, sizeof max_size, "%lldk", (long long)(log_mb * 1024 / files));
    snprintf(max_file, sizeof max_file, "%lld", (long long)files);

    json_t *b = json_pack("{s:s, s:[], s:{}, s:{s:s, s:{}, s:[], s:[], s:{s:s, s:{s:s, s:s}},"
                          " s:{s:s}, s:b}}",
                          "Image",
                          s->image,
                          "Env",
                          "ExposedPorts",
                          "HostConfig",
                          "NetworkMode",
                          host_mode ? "host" : "bridge",
                          "PortBindings",
                          "Binds",
                          "ExtraHosts",
                          "LogConfig",
                          "Type",
                          "json-file",
                          "Config",
                          "max-size",
                          max_size,
                          "max-file",
                          max_file,
                          "RestartPolicy",
                          "Name",
                          "no",
                          "Privileged",
                          privileged);
    if (b == NULL) {
        return IOF_ENOMEM;
    }
    s->base = b;
    json_t *hc = json_object_get(b, "HostConfig");
    size_t i;
    const json_t *v;
    if (ports != NULL) {
        json_array_foreach(ports, i, v) {
            err = add_port(
                json_object_get(b, "ExposedPorts"), json_object_get(hc, "PortBindings"), v, d);
            if (err != IOF_OK) {
                return err;
            }
        }
    }
    if (vols != NULL) {
        json_array_foreach(vols, i, v) {
            err = add_volume(json_object_get(hc, "Binds"), v, d);
            if (err != IOF_OK) {
                return err;
            }
        }
    }
    if (env != NULL) {
        json_array_foreach(env, i, v) {
            err = add_env(json_object_get(b, "Env"), v, d);
            if (err != IOF_OK) {
                return err;
            }
        }
    }
    if (hosts != NULL) {
        err = add_strings(json_object_get(hc, "ExtraHosts"), hosts, "extraHosts", d);
        if (err != IOF_OK) {
            return err;
        }
    }
    if (host_mode) {
        /* Published ports and extra hosts mean nothing with the host's network stack. */
        json_object_clear(json_object_get(hc, "PortBindings"));
        json_array_clear(json_object_get(hc, "ExtraHosts"));
    }
    if (cmd != NULL && json_array_size(cmd) > 0) {
        json_t *c = json_array();
        if (c == NULL || json_object_set_new(b, "Cmd", c) != 0) {
            return IOF_ENOMEM;
        }
        err = add_strings(c, cmd, "cmd", d);
        if (err != IOF_OK) {
            return err;
        }
    }
    return IOF_OK;
}

static iof_err
parse_into(struct agent_spec *s, const json_t *item, const json_t *registries, struct iof_diag *d) {
    const char *uuid = NULL;
    const char *image = NULL;
    const char *state = NULL;
    iof_err err = iof_json_get_string(item, "uuid", IOF_JSON_REQUIRED, &uuid, d);
    if (err != IOF_OK) {
        return err;
    }
    if (uuid[0] == '\0' || strlen(uuid) >= sizeof s->uuid) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'uuid'");
    }
    snprintf(s->uuid, sizeof s->uuid, "%s", uuid);
    err = iof_json_get_string(item, "imageId", IOF_JSON_REQUIRED, &image, d);
    if (err == IOF_OK) {
        err = iof_json_get_bool(item, "rebuild", IOF_JSON_OPTIONAL, &s->rebuild, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_bool(item, "delete", IOF_JSON_OPTIONAL, &s->remove, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_bool(item, "deleteWithCleanup", IOF_JSON_OPTIONAL, &s->remove_image, d);
    }
    if (err == IOF_OK) {
        err = iof_json_get_string(item, "desiredState", IOF_JSON_OPTIONAL, &state, d);
    }
    if (err != IOF_OK) {
        return err;
    }
    s->desired_running = true;
    if (state != NULL) {
        if (strcmp(state, "STOPPED") == 0) {
            s->desired_running = false;
        } else if (strcmp(state, "RUNNING") != 0) {
            return iof_fail(d, IOF_EINVAL, "invalid desiredState '%.40s'", state);
        }
    }
    if (s->remove_image) {
        s->remove = true;
    }
    err = iof_imageref_parse(image, &s->ref, d);
    if (err == IOF_OK) {
        err = iof_imageref_format(&s->ref, s->image, sizeof s->image);
    }
    if (err != IOF_OK) {
        return err;
    }
    err = parse_registry(s, item, registries, d);
    if (err != IOF_OK) {
        return err;
    }
    return build_base(s, item, d);
}

iof_err agent_spec_parse(const json_t *item,
                         const json_t *registries,
                         struct agent_spec **out,
                         struct iof_diag *d) {
    if (!json_is_object(item)) {
        return iof_fail(d, IOF_EINVAL, "microservice descriptor is not a JSON object");
    }
    struct agent_spec *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = parse_into(s, item, registries, d);
    if (err != IOF_OK) {
        agent_spec_free(s);
        return err;
    }
    *out = s;
    return IOF_OK;
}

static uint64_t fnv1a(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bool env_sets(const json_t *env, const char *key) {
    size_t kn = strlen(key);
    size_t i;
    const json_t *v;
    json_array_foreach(env, i, v) {
        const char *e = json_string_value(v);
        if (e != NULL && strncmp(e, key, kn) == 0 && e[kn] == '=') {
            return true;
        }
    }
    return false;
}

static bool names_iofog(const json_t *hosts) {
    size_t i;
    const json_t *v;
    json_array_foreach(hosts, i, v) {
        const char *h = json_string_value(v);
        if (h != NULL && strncmp(h, "iofog:", 6) == 0) {
            return true;
        }
    }
    return false;
}

iof_err agent_spec_body(const struct agent_spec *s,
                        const struct agent_spec_host *host,
                        json_t **out_body,
                        char hash[17]) {
    json_t *b = json_deep_copy(s->base);
    if (b == NULL) {
        return IOF_ENOMEM;
    }
    json_t *env = json_object_get(b, "Env");
    json_t *hc = json_object_get(b, "HostConfig");
    json_t *hosts = json_object_get(hc, "ExtraHosts");
    bool ok = true;
    size_t at = 0;
    ok = ok && json_array_insert_new(env, at++, json_sprintf("SELFNAME=%s", s->uuid)) == 0;
    if (host->time_zone != NULL && host->time_zone[0] != '\0' && !env_sets(env, "TZ")) {
        ok = ok && json_array_insert_new(env, at++, json_sprintf("TZ=%s", host->time_zone)) == 0;
    }
    if (host->local_api_port != 0 && host->local_api_port != 54321 &&
        !env_sets(env, "IOFOG_AGENT_PORT")) {
        ok = ok &&
             json_array_insert_new(
                 env, at, json_sprintf("IOFOG_AGENT_PORT=%u", (unsigned)host->local_api_port)) == 0;
    }
    bool bridge = strcmp(json_string_value(json_object_get(hc, "NetworkMode")), "host") != 0;
    if (bridge && host->host_address != NULL && host->host_address[0] != '\0' &&
        !names_iofog(hosts)) {
        ok = ok && json_array_append_new(hosts, json_sprintf("iofog:%s", host->host_address)) == 0;
    }
    json_t *labels = json_pack("{s:s, s:s}",
                               AGENT_LABEL_AGENT,
                               host->agent_uuid != NULL ? host->agent_uuid : "",
                               AGENT_LABEL_MICROSERVICE,
                               s->uuid);
    ok = ok && json_object_set_new(b, "Labels", labels) == 0;
    char *text = ok ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text == NULL) {
        json_decref(b);
        return IOF_ENOMEM;
    }
    snprintf(hash, 17, "%016llx", (unsigned long long)fnv1a(text, strlen(text)));
    free(text);
    if (json_object_set_new(labels, AGENT_LABEL_HASH, json_string(hash)) != 0) {
        json_decref(b);
        return IOF_ENOMEM;
    }
    *out_body = b;
    return IOF_OK;
}
