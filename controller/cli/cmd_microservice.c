/* iofog-controller microservice <action>: the classic CLI's microservice command (controller.md §7,
 * §7.1) over the running Controller's REST API with the admin credential. Unlike the classic CLI,
 * `update` sends only the keys given (no logSize reset to 1) and honours --catalog-id; the uuid
 * may be given as -i/--microservice-uuid or --microservice-id. */
#include "controller/cli/commands.h"

#include "common/json.h"
#include "controller/cli/cli_client.h"
#include "controller/cli/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_id {
    O_FILE,
    O_UUID,
    O_NAME,
    O_X86,
    O_ARM,
    O_REGISTRY,
    O_CATALOG,
    O_APP,
    O_FOG,
    O_CONFIG,
    O_VOLUMES,
    O_LOG_SIZE,
    O_ROOT_ON,
    O_ROOT_OFF,
    O_PORTS,
    O_MAPPING,
    O_ROUTES,
    O_ROUTE,
    O_INTERNAL_PORT,
    O_REBUILD,
    O_CLEANUP,
    O_USER,
    O_MAPPING_ID,
    O_ENV,
    O_CMD,
    O_COUNT
};

enum opt_kind { K_VALUE, K_MULTI, K_FLAG };

static const struct {
    const char *lng;
    const char *alt; /* a second long name, or NULL */
    char shrt;
    enum opt_kind kind;
} opts[O_COUNT] = {
    [O_FILE] = {"--file", NULL, 'f', K_VALUE},
    [O_UUID] = {"--microservice-uuid", "--microservice-id", 'i', K_VALUE},
    [O_NAME] = {"--name", NULL, 'n', K_VALUE},
    [O_X86] = {"--x86-image", NULL, 'x', K_VALUE},
    [O_ARM] = {"--arm-image", NULL, 'a', K_VALUE},
    [O_REGISTRY] = {"--registry-id", NULL, 'd', K_VALUE},
    [O_CATALOG] = {"--catalog-id", NULL, 'c', K_VALUE},
    [O_APP] = {"--application-name", "--flow-name", 'F', K_VALUE},
    [O_FOG] = {"--iofog-uuid", NULL, 'I', K_VALUE},
    [O_CONFIG] = {"--config", NULL, 'g', K_VALUE},
    [O_VOLUMES] = {"--volumes", NULL, 'v', K_MULTI},
    [O_LOG_SIZE] = {"--log-size", NULL, 'l', K_VALUE},
    [O_ROOT_ON] = {"--root-enable", NULL, 'r', K_FLAG},
    [O_ROOT_OFF] = {"--root-disable", NULL, 'R', K_FLAG},
    [O_PORTS] = {"--ports", NULL, 'p', K_MULTI},
    [O_MAPPING] = {"--mapping", NULL, 'P', K_VALUE},
    [O_ROUTES] = {"--routes", NULL, 't', K_MULTI},
    [O_ROUTE] = {"--route", NULL, 'T', K_VALUE},
    [O_INTERNAL_PORT] = {"--internal-port", NULL, 'b', K_VALUE},
    [O_REBUILD] = {"--rebuild", NULL, 'w', K_FLAG},
    [O_CLEANUP] = {"--cleanup", NULL, 'z', K_FLAG},
    [O_USER] = {"--user-id", NULL, 'u', K_VALUE},
    [O_MAPPING_ID] = {"--mapping-id", NULL, 'm', K_VALUE},
    [O_ENV] = {"--env", NULL, 'e', K_MULTI},
    [O_CMD] = {"--cmd", NULL, 'C', K_MULTI},
};

struct args {
    const char *value[O_COUNT];
    bool seen[O_COUNT];
    const char *multi[O_COUNT][32];
    size_t n_multi[O_COUNT];
    char *rest[64]; /* arguments for ctl_config_load (rest[0] is the action) */
    int n_rest;
};

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller microservice <action> [options] [--port N] [--data-dir DIR]\n"
            "\n"
            "Actions:\n"
            "  add                    -n NAME -F APP (-c CATALOG_ID | -x IMAGE [-a IMAGE])\n"
            "                         [-I NODE (uuid or name)] [-g CONFIG] [-d REGISTRY] [-l MB] "
            "[-r|-R]\n"
            "                         [-v HOST:CONTAINER:MODE[:TYPE]...] [-p INT:EXT[:udp]...]\n"
            "                         [-e KEY=VALUE...] [-C ARG...] [-t SRC:DST...] [-u USER]\n"
            "  update                 -i UUID [the add options; only those given change] [-w]\n"
            "  remove                 -i UUID [-z]\n"
            "  list                   all microservices\n"
            "  info                   -i UUID\n"
            "  logs                   NAME|UUID [-f] [--tail N] [--since TIME]: container log\n"
            "  describe               NAME|UUID: state and events (why it is not running)\n"
            "  route-create           -T SRC_UUID:DST_UUID\n"
            "  route-remove           -T SRC_UUID:DST_UUID\n"
            "  port-mapping-create    -i UUID -P INTERNAL:EXTERNAL[:tcp|udp]\n"
            "  port-mapping-remove    -i UUID -b INTERNAL\n"
            "  port-mapping-list      -i UUID\n"
            "  volume-mapping-create  -i UUID -P HOST:CONTAINER:MODE[:bind|volume]\n"
            "  volume-mapping-remove  -i UUID -m MAPPING_ID\n"
            "  volume-mapping-list    -i UUID\n"
            "\n"
            "-i is also --microservice-uuid or --microservice-id; -g is --config.\n");
}

static int find_opt(const char *arg, const char **inline_value) {
    *inline_value = NULL;
    if (arg[0] == '-' && arg[1] != '-' && arg[1] != '\0' && arg[2] == '\0') {
        for (int k = 0; k < O_COUNT; k++) {
            if (opts[k].shrt == arg[1]) {
                return k;
            }
        }
        return -1;
    }
    for (int k = 0; k < O_COUNT; k++) {
        const char *names[2] = {opts[k].lng, opts[k].alt};
        for (int j = 0; j < 2; j++) {
            size_t n = names[j] != NULL ? strlen(names[j]) : 0;
            if (n > 0 && strncmp(arg, names[j], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                *inline_value = arg[n] == '=' ? arg + n + 1 : NULL;
                return k;
            }
        }
    }
    return -1;
}

/* The flags ctl_config_load() takes. */
static bool config_flag(const char *arg) {
    static const char *const names[] = {"--port", "--data-dir", "--bind", "--log-level"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(arg, names[i], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
            return true;
        }
    }
    return false;
}

static iof_err parse_args(int argc, char **argv, struct args *a) {
    a->rest[a->n_rest++] = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *inl = NULL;
        int k = find_opt(argv[i], &inl);
        if (k < 0) {
            /* --port, --data-dir and friends: for ctl_config_load (with their value) */
            if (a->n_rest >= 62) {
                fprintf(stderr, "iofog-controller microservice: too many arguments\n");
                return IOF_EINVAL;
            }
            a->rest[a->n_rest++] = argv[i];
            if (strchr(argv[i], '=') == NULL && i + 1 < argc && argv[i + 1][0] != '-') {
                a->rest[a->n_rest++] = argv[++i];
            }
            continue;
        }
        a->seen[k] = true;
        if (opts[k].kind == K_FLAG) {
            continue;
        }
        if (inl == NULL && i + 1 >= argc) {
            fprintf(stderr, "iofog-controller microservice: %s needs a value\n", argv[i]);
            return IOF_EINVAL;
        }
        if (opts[k].kind == K_VALUE) {
            a->value[k] = inl != NULL ? inl : argv[++i];
            continue;
        }
        /* multiple values: the inline one or the next argument, then every following argument
         * up to the next option (for --cmd, up to the next option of this command) */
        const char *first = inl != NULL ? inl : argv[++i];
        a->multi[k][a->n_multi[k]++] = first;
        while (i + 1 < argc && a->n_multi[k] < 32) {
            const char *dummy = NULL;
            const char *next = argv[i + 1];
            if (find_opt(next, &dummy) >= 0 || (next[0] == '-' && k != O_CMD) ||
                config_flag(next)) {
                break;
            }
            a->multi[k][a->n_multi[k]++] = argv[++i];
        }
    }
    return IOF_OK;
}

static iof_err need(const struct args *a, enum opt_id k, const char *action) {
    if (a->value[k] == NULL) {
        fprintf(stderr,
                "iofog-controller microservice %s: %s (-%c) is required\n",
                action,
                opts[k].lng,
                opts[k].shrt);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

static iof_err to_int(const char *v, const char *what, json_int_t *out) {
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0') {
        fprintf(stderr, "iofog-controller microservice: %s must be a number: '%s'\n", what, v);
        return IOF_EINVAL;
    }
    *out = n;
    return IOF_OK;
}

/* Splits s at ':' into at most max parts (copies into buf). */
static size_t split(const char *s, char *buf, size_t bufsz, char **parts, size_t max) {
    (void)snprintf(buf, bufsz, "%s", s);
    size_t n = 0;
    char *p = buf;
    while (n < max) {
        parts[n++] = p;
        char *c = strchr(p, ':');
        if (c == NULL) {
            break;
        }
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static iof_err port_json(const char *spec, json_t **out) {
    char buf[128], *parts[3];
    size_t n = split(spec, buf, sizeof buf, parts, 3);
    json_int_t in = 0, ex = 0;
    if (n < 2 || to_int(parts[0], "internal port", &in) || to_int(parts[1], "external port", &ex)) {
        fprintf(stderr, "iofog-controller microservice: port mapping is INTERNAL:EXTERNAL[:udp]\n");
        return IOF_EINVAL;
    }
    *out = json_pack("{s:I, s:I, s:s}",
                     "internal",
                     in,
                     "external",
                     ex,
                     "protocol",
                     n == 3 && strcmp(parts[2], "udp") == 0 ? "udp" : "tcp");
    return IOF_OK;
}

static iof_err volume_json(const char *spec, json_t **out) {
    char buf[1024], *parts[4];
    size_t n = split(spec, buf, sizeof buf, parts, 4);
    if (n < 3) {
        fprintf(stderr,
                "iofog-controller microservice: volume mapping is HOST:CONTAINER:MODE[:TYPE]\n");
        return IOF_EINVAL;
    }
    *out = json_pack("{s:s, s:s, s:s, s:s}",
                     "hostDestination",
                     parts[0],
                     "containerDestination",
                     parts[1],
                     "accessMode",
                     parts[2],
                     "type",
                     n == 4 ? parts[3] : "bind");
    return IOF_OK;
}

/* The MsvcCreate/MsvcUpdate body from the options given. */
static iof_err build_body(const struct args *a, json_t **out) {
    json_t *b = NULL;
    if (a->value[O_FILE] != NULL) {
        json_error_t je;
        b = json_load_file(a->value[O_FILE], 0, &je);
        if (!json_is_object(b)) {
            fprintf(stderr,
                    "iofog-controller microservice: %s: %s\n",
                    a->value[O_FILE],
                    b == NULL ? je.text : "a JSON object is expected");
            json_decref(b);
            return IOF_EINVAL;
        }
    } else {
        b = json_object();
    }
    iof_err err = IOF_OK;
    json_int_t n = 0;
    if (a->value[O_NAME] != NULL) {
        (void)json_object_set_new(b, "name", json_string(a->value[O_NAME]));
    }
    if (a->value[O_CONFIG] != NULL) {
        /* The configuration is handed to the microservice as JSON: a typo here would only show
         * later in the microservice's own log, so it is refused now, with where it went wrong. */
        json_error_t je;
        json_t *parsed = json_loads(a->value[O_CONFIG], JSON_DECODE_ANY, &je);
        if (parsed == NULL) {
            fprintf(stderr,
                    "iofog-controller microservice: --config is not valid JSON: %s (line %d, "
                    "column %d, position %d)\n",
                    je.text,
                    je.line,
                    je.column,
                    je.position);
            json_decref(b);
            return IOF_EINVAL;
        }
        json_decref(parsed);
        (void)json_object_set_new(b, "config", json_string(a->value[O_CONFIG]));
    }
    if (a->value[O_APP] != NULL) {
        (void)json_object_set_new(b, "application", json_string(a->value[O_APP]));
    }
    if (a->value[O_FOG] != NULL) {
        (void)json_object_set_new(b, "iofogUuid", json_string(a->value[O_FOG]));
    }
    if (err == IOF_OK && a->value[O_CATALOG] != NULL &&
        (err = to_int(a->value[O_CATALOG], "--catalog-id", &n)) == IOF_OK) {
        (void)json_object_set_new(b, "catalogItemId", json_integer(n));
    }
    if (err == IOF_OK && a->value[O_REGISTRY] != NULL &&
        (err = to_int(a->value[O_REGISTRY], "--registry-id", &n)) == IOF_OK) {
        (void)json_object_set_new(b, "registryId", json_integer(n));
    }
    if (err == IOF_OK && a->value[O_LOG_SIZE] != NULL &&
        (err = to_int(a->value[O_LOG_SIZE], "--log-size", &n)) == IOF_OK) {
        (void)json_object_set_new(b, "logSize", json_integer(n));
    }
    if (a->seen[O_ROOT_ON] || a->seen[O_ROOT_OFF]) {
        (void)json_object_set_new(b, "rootHostAccess", json_boolean(a->seen[O_ROOT_ON]));
    }
    if (a->seen[O_REBUILD]) {
        (void)json_object_set_new(b, "rebuild", json_true());
    }
    if (a->value[O_X86] != NULL || a->value[O_ARM] != NULL) {
        json_t *imgs = json_array();
        if (a->value[O_X86] != NULL) {
            (void)json_array_append_new(
                imgs, json_pack("{s:s, s:i}", "containerImage", a->value[O_X86], "fogTypeId", 1));
        }
        if (a->value[O_ARM] != NULL) {
            (void)json_array_append_new(
                imgs, json_pack("{s:s, s:i}", "containerImage", a->value[O_ARM], "fogTypeId", 2));
        }
        (void)json_object_set_new(b, "images", imgs);
    }
    if (a->seen[O_PORTS]) {
        json_t *list = json_array();
        for (size_t i = 0; err == IOF_OK && i < a->n_multi[O_PORTS]; i++) {
            json_t *p = NULL;
            if ((err = port_json(a->multi[O_PORTS][i], &p)) == IOF_OK) {
                (void)json_array_append_new(list, p);
            }
        }
        (void)json_object_set_new(b, "ports", list);
    }
    if (a->seen[O_VOLUMES]) {
        json_t *list = json_array();
        for (size_t i = 0; err == IOF_OK && i < a->n_multi[O_VOLUMES]; i++) {
            json_t *v = NULL;
            if ((err = volume_json(a->multi[O_VOLUMES][i], &v)) == IOF_OK) {
                (void)json_array_append_new(list, v);
            }
        }
        (void)json_object_set_new(b, "volumeMappings", list);
    }
    if (a->seen[O_ENV]) {
        json_t *list = json_array();
        for (size_t i = 0; err == IOF_OK && i < a->n_multi[O_ENV]; i++) {
            const char *kv = a->multi[O_ENV][i];
            const char *eq = strchr(kv, '=');
            if (eq == NULL || eq == kv) {
                fprintf(stderr, "iofog-controller microservice: --env takes KEY=VALUE\n");
                err = IOF_EINVAL;
                break;
            }
            (void)json_array_append_new(
                list, json_pack("{s:s%, s:s}", "key", kv, (size_t)(eq - kv), "value", eq + 1));
        }
        (void)json_object_set_new(b, "env", list);
    }
    if (a->seen[O_CMD]) {
        json_t *list = json_array();
        for (size_t i = 0; i < a->n_multi[O_CMD]; i++) {
            (void)json_array_append_new(list, json_string(a->multi[O_CMD][i]));
        }
        (void)json_object_set_new(b, "cmd", list);
    }
    if (err != IOF_OK) {
        json_decref(b);
        return err;
    }
    *out = b;
    return IOF_OK;
}

/* Sends the request, prints errors, and the answer when print is set. */
static iof_err call(const struct ctl_config *cfg,
                    const struct args *a,
                    const char *method,
                    const char *path,
                    const json_t *body,
                    bool print,
                    json_t **keep) {
    long user = 0;
    if (a->value[O_USER] != NULL) {
        json_int_t u = 0;
        if (to_int(a->value[O_USER], "--user-id", &u) != IOF_OK) {
            return IOF_EINVAL;
        }
        user = (long)u;
    }
    struct iof_diag d = {{0}};
    long status = 0;
    json_t *answer = NULL;
    iof_err err = ctl_cli_request(cfg, method, path, body, user, &status, &answer, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller microservice: %s\n", iof_diag_text(&d, err));
        return err;
    }
    err = ctl_cli_check(status, answer);
    if (err == IOF_OK && print && answer != NULL) {
        ctl_cli_print_json(answer);
    }
    if (err == IOF_OK && keep != NULL) {
        *keep = answer;
        return IOF_OK;
    }
    json_decref(answer);
    return err;
}

static iof_err route_paths(const struct args *a, const char *action, char *path, size_t n) {
    char buf[128], *parts[2];
    if (a->value[O_ROUTE] == NULL || split(a->value[O_ROUTE], buf, sizeof buf, parts, 2) != 2) {
        fprintf(
            stderr, "iofog-controller microservice %s: -T/--route SRC:DST is required\n", action);
        return IOF_EINVAL;
    }
    (void)snprintf(path, n, "/api/v3/microservices/%s/routes/%s", parts[0], parts[1]);
    return IOF_OK;
}

static iof_err run(const struct ctl_config *cfg, const char *action, const struct args *a) {
    char path[512];
    const char *uuid = a->value[O_UUID];
    iof_err err = IOF_OK;
    json_t *body = NULL;
    if (strcmp(action, "list") == 0) {
        ctl_cli_view_microservices(cfg);
        return call(cfg, a, "GET", "/api/v3/microservices", NULL, true, NULL);
    }
    if (strcmp(action, "add") == 0) {
        json_t *ans = NULL;
        if ((err = build_body(a, &body)) != IOF_OK ||
            (err = call(cfg, a, "POST", "/api/v3/microservices", body, true, &ans)) != IOF_OK) {
            json_decref(body);
            return err;
        }
        json_decref(body);
        const char *made = json_string_value(json_object_get(ans, "uuid"));
        for (size_t i = 0; err == IOF_OK && made != NULL && i < a->n_multi[O_ROUTES]; i++) {
            /* routes given as SRC:DST, where either end may be the new microservice's name */
            char buf[256], *parts[2];
            if (split(a->multi[O_ROUTES][i], buf, sizeof buf, parts, 2) != 2) {
                fprintf(stderr, "iofog-controller microservice add: --routes takes SRC:DST\n");
                err = IOF_EINVAL;
                break;
            }
            const char *name = a->value[O_NAME];
            const char *src = name != NULL && strcmp(parts[0], name) == 0 ? made : parts[0];
            const char *dst = name != NULL && strcmp(parts[1], name) == 0 ? made : parts[1];
            (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/routes/%s", src, dst);
            err = call(cfg, a, "POST", path, NULL, false, NULL);
        }
        json_decref(ans);
        return err;
    }
    if (strcmp(action, "route-create") == 0 || strcmp(action, "route-remove") == 0) {
        if ((err = route_paths(a, action, path, sizeof path)) != IOF_OK) {
            return err;
        }
        err = call(cfg, a, action[6] == 'c' ? "POST" : "DELETE", path, NULL, false, NULL);
        if (err == IOF_OK) {
            printf("Route has been %s successfully.\n", action[6] == 'c' ? "created" : "removed");
        }
        return err;
    }
    static const char *const known[] = {"info",
                                        "update",
                                        "remove",
                                        "port-mapping-create",
                                        "port-mapping-remove",
                                        "port-mapping-list",
                                        "volume-mapping-create",
                                        "volume-mapping-remove",
                                        "volume-mapping-list"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        is_known = is_known || strcmp(action, known[i]) == 0;
    }
    if (!is_known) {
        fprintf(stderr, "iofog-controller microservice: unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    if ((err = need(a, O_UUID, action)) != IOF_OK) {
        return err;
    }
    if (strcmp(action, "info") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s", uuid);
        return call(cfg, a, "GET", path, NULL, true, NULL);
    }
    if (strcmp(action, "update") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s", uuid);
        if ((err = build_body(a, &body)) == IOF_OK && json_object_size(body) == 0) {
            fprintf(stderr,
                    "iofog-controller microservice update: nothing to change: give at least one "
                    "option to change (see --help)\n");
            err = IOF_EINVAL;
        }
        if (err == IOF_OK) {
            err = call(cfg, a, "PATCH", path, body, false, NULL);
        }
        json_decref(body);
        if (err == IOF_OK) {
            printf("Microservice %s has been updated successfully.\n", uuid);
        }
        return err;
    }
    if (strcmp(action, "remove") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s", uuid);
        body = json_pack("{s:b}", "withCleanup", a->seen[O_CLEANUP]);
        err = call(cfg, a, "DELETE", path, body, false, NULL);
        json_decref(body);
        if (err == IOF_OK) {
            printf("Microservice %s has been removed successfully.\n", uuid);
        }
        return err;
    }
    bool ports = strncmp(action, "port-mapping-", 13) == 0;
    bool vols = strncmp(action, "volume-mapping-", 15) == 0;
    if (!ports && !vols) {
        fprintf(stderr, "iofog-controller microservice: unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    const char *sub = ports ? "port-mapping" : "volume-mapping";
    const char *verb = action + (ports ? 13 : 15);
    if (strcmp(verb, "list") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/%s", uuid, sub);
        return call(cfg, a, "GET", path, NULL, true, NULL);
    }
    if (strcmp(verb, "create") == 0) {
        if ((err = need(a, O_MAPPING, action)) != IOF_OK ||
            (err = ports ? port_json(a->value[O_MAPPING], &body)
                         : volume_json(a->value[O_MAPPING], &body)) != IOF_OK) {
            return err;
        }
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/%s", uuid, sub);
        err = call(cfg, a, "POST", path, body, !ports, NULL);
        json_decref(body);
        if (err == IOF_OK && ports) {
            printf("Port mapping has been created successfully.\n");
        }
        return err;
    }
    if (strcmp(verb, "remove") == 0) {
        enum opt_id k = ports ? O_INTERNAL_PORT : O_MAPPING_ID;
        json_int_t n = 0;
        if ((err = need(a, k, action)) != IOF_OK ||
            (err = to_int(a->value[k], opts[k].lng, &n)) != IOF_OK) {
            return err;
        }
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/%s/%lld", uuid, sub, n);
        err = call(cfg, a, "DELETE", path, NULL, false, NULL);
        if (err == IOF_OK) {
            printf("%s mapping has been removed successfully.\n", ports ? "Port" : "Volume");
        }
        return err;
    }
    fprintf(stderr, "iofog-controller microservice: unknown action '%s'\n\n", action);
    usage(stderr);
    return IOF_EINVAL;
}

iof_err ctl_cmd_microservice(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    if (strcmp(argv[1], "logs") == 0) {
        return ctl_cli_logs("microservice", argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "describe") == 0) {
        return ctl_cli_describe(argc - 1, argv + 1);
    }
    struct args *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = parse_args(argc, argv, a);
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    if (err == IOF_OK && (err = ctl_config_load(&cfg, a->n_rest, a->rest, NULL, NULL, &d))) {
        fprintf(stderr, "iofog-controller microservice: %s\n", iof_diag_text(&d, err));
    }
    char node[128];
    long user = a->value[O_USER] != NULL ? strtol(a->value[O_USER], NULL, 10) : 0;
    if (err == IOF_OK && a->value[O_FOG] != NULL &&
        (err = ctl_cli_node_uuid(&cfg, user, a->value[O_FOG], node, sizeof node)) == IOF_OK) {
        a->value[O_FOG] = node;
    }
    if (err == IOF_OK) {
        err = run(&cfg, argv[1], a);
    }
    free(a);
    return err;
}
