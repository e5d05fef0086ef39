/* The token-protected admin routes of the Local API; see admin.h.
 *
 * The token is the first line of <config-dir>/local-api, sent as `Authorization: <token>` (no
 * Bearer). It is compared exactly and in constant time (the classic agent compared it
 * case-insensitively). Answers are JSON; a refused
 * token gets 401 with a plain-text body like the other Local API errors. Differences from classic:
 * /v2/provision answers its result instead of the classic parsing error, and
 * /v2/commandline failures carry an added "category" key (the error category's name) so the CLI
 * can choose its exit code. */
#include "agent/admin.h"

#include "common/json.h"
#include "common/log.h"
#include "http/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

static iof_err respond_text(struct iof_http_request *req, int status, const char *text) {
    return iof_http_respond(req, status, "text/plain", text, strlen(text));
}

/* Exact comparison whose time does not depend on where the strings differ (only on the
 * presented length, which is public). */
static bool token_equal(const char *presented, const char *expected) {
    size_t plen = strlen(presented), elen = strlen(expected);
    unsigned char diff = (unsigned char)(plen != elen);
    for (size_t i = 0; i < plen; i++) {
        diff |= (unsigned char)(presented[i] ^ expected[i % elen]);
    }
    return diff == 0;
}

static bool authorized(const struct agent_admin_ops *ops, struct iof_http_request *req) {
    const char *h = iof_http_header(req, "Authorization");
    return h != NULL && ops->token[0] != '\0' && token_equal(h, ops->token);
}

#define REQUIRE_TOKEN(a, req)                                                                      \
    do {                                                                                           \
        if (!authorized((a), (req))) {                                                             \
            return respond_text((req), 401, "Authorization error Unauthorized");                   \
        }                                                                                          \
    } while (0)

/* Result of one admin command: text for humans plus, on failure, the category. */
struct outcome {
    iof_err err;
    char text[4096];
};

static void append(struct outcome *o, const char *fmt, ...) IOF_PRINTF(2, 3);
static void append(struct outcome *o, const char *fmt, ...) {
    size_t n = strlen(o->text);
    if (n + 1 >= sizeof o->text) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(o->text + n, sizeof o->text - n, fmt, ap);
    va_end(ap);
}

/* "key : value" lines of a flat object, keys padded like the classic report. */
static void append_lines(struct outcome *o, json_t *obj) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        append(o, "%-36s: %s\n", k, json_is_string(v) ? json_string_value(v) : "");
    }
}

static void
run_command(const struct agent_admin_ops *ops, int argc, char **argv, struct outcome *o) {
    struct iof_diag d = {{0}};
    o->err = IOF_OK;
    o->text[0] = '\0';
    const char *cmd = argc > 0 ? argv[0] : "";
    if (strcmp(cmd, "status") == 0) {
        json_t *s = ops->status_lines(ops->ctx);
        append_lines(o, s);
        json_decref(s);
    } else if (strcmp(cmd, "info") == 0) {
        struct agent_config c;
        ops->config(ops->ctx, &c);
        json_t *s = agent_config_info_json(&c);
        append_lines(o, s);
        json_decref(s);
    } else if (strcmp(cmd, "version") == 0) {
        append(o, "Agent version: %s\n", IOFOG_VERSION);
    } else if (strcmp(cmd, "provision") == 0) {
        json_t *res = NULL;
        if (argc != 2) {
            o->err = iof_fail(&d, IOF_EINVAL, "usage: provision <provisioning key>");
        } else if ((o->err = ops->provision(ops->ctx, argv[1], &res, &d)) == IOF_OK) {
            append(
                o, "Provisioned: iofog uuid %s\n", json_string_value(json_object_get(res, "uuid")));
            json_decref(res);
        }
    } else if (strcmp(cmd, "deprovision") == 0) {
        if ((o->err = ops->deprovision(ops->ctx, &d)) == IOF_OK) {
            append(o, "Deprovisioned\n");
        }
    } else if (strcmp(cmd, "config") == 0) {
        json_t *msgs = NULL;
        if ((o->err = ops->configure(
                 ops->ctx, argc - 1, (const char *const *)argv + 1, &msgs, &d)) == IOF_OK) {
            const char *k;
            json_t *v;
            json_object_foreach(msgs, k, v) {
                append(o, "Option -%s: %s\n", k, json_string_value(v));
                o->err = IOF_EINVAL;
            }
            if (o->err == IOF_OK) {
                append(o, "New configuration saved\n");
            } else {
                (void)iof_fail(&d, IOF_EINVAL, "some options were not applied");
            }
            json_decref(msgs);
        }
    } else if (strcmp(cmd, "prune") == 0) {
        if ((o->err = ops->prune(ops->ctx)) == IOF_OK) {
            append(o, "Images pruned\n");
        } else {
            (void)iof_fail(&d, o->err, "image prune failed");
        }
    } else if (strcmp(cmd, "stop") == 0) {
        append(o, "Stopping the Agent and removing its microservices\n");
        ops->request_stop(ops->ctx);
    } else {
        o->err = iof_fail(&d, IOF_EINVAL, "unknown command '%s'", cmd);
    }
    if (o->err != IOF_OK && d.msg[0] != '\0') {
        append(o, "%s\n", d.msg);
    }
}

static iof_err h_commandline(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *line = json_string_value(json_object_get(body, "command"));
    if (line == NULL) {
        return iof_fail(d, IOF_EINVAL, "Required field 'command' is missing");
    }
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", line) >= (int)sizeof buf) {
        return iof_fail(d, IOF_E2BIG, "command too long");
    }
    char *argv[MAX_ARGS];
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (argc == MAX_ARGS) {
            /* Running the first words alone would do something else than asked. Answered in the
             * shape of a failed command, so the CLI prints the text and exits "invalid input". */
            char msg[96];
            (void)snprintf(msg,
                           sizeof msg,
                           "Invalid format for field 'command': more than %d words\n",
                           MAX_ARGS);
            return iof_http_respond_json(req,
                                         400,
                                         json_pack("{ssssss}",
                                                   "response",
                                                   msg,
                                                   "error",
                                                   "Bad request",
                                                   "category",
                                                   iof_err_name(IOF_EINVAL)));
        }
        argv[argc++] = t;
    }
    struct outcome *o = malloc(sizeof *o);
    if (o == NULL) {
        return IOF_ENOMEM;
    }
    run_command(ops, argc, argv, o);
    json_t *r = o->err == IOF_OK ? json_pack("{ss}", "response", o->text)
                                 : json_pack("{ssssss}",
                                             "response",
                                             o->text,
                                             "error",
                                             "Internal server error",
                                             "category",
                                             iof_err_name(o->err));
    int status = o->err == IOF_OK ? 200 : 500;
    free(o);
    return iof_http_respond_json(req, status, r);
}

/* /v2/config: the long option names of the classic handler. */
static const char *const long_names[][2] = {
    {"disk-limit", "d"},
    {"disk-directory", "dl"},
    {"memory-limit", "m"},
    {"cpu-limit", "p"},
    {"controller-url", "a"},
    {"cert-directory", "ac"},
    {"docker-url", "c"},
    {"network-adapter", "n"},
    {"logs-limit", "l"},
    {"logs-directory", "ld"},
    {"logs-count", "lc"},
    {"status-frequency", "sf"},
    {"changes-frequency", "cf"},
    {"diagnostics-frequency", "df"},
    {"device-scan-frequency", "sd"},
    {"isolated", "idc"},
    {"gps", "gps"},
    {"fog-type", "ft"},
    {"developer-mode", "dev"},
    {"logs-level", "ll"},
    {"time-zone", "tz"},
};

static iof_err h_config(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *argv[2 * MAX_ARGS];
    char flags[MAX_ARGS][8];
    int argc = 0;
    json_t *errors = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        const char *flag = NULL;
        for (size_t i = 0; i < sizeof long_names / sizeof long_names[0]; i++) {
            if (strcmp(long_names[i][0], k) == 0) {
                flag = long_names[i][1];
            }
        }
        if (flag == NULL || !json_is_string(v) || argc + 2 > 2 * MAX_ARGS) {
            json_object_set_new(errors, k, json_string("Invalid option or value"));
            continue;
        }
        int slot = argc / 2;
        (void)snprintf(flags[slot], sizeof flags[0], "-%s", flag);
        argv[argc] = flags[slot];
        argv[argc + 1] = json_string_value(v);
        argc += 2;
    }
    if (argc > 0) {
        json_t *msgs = NULL;
        err = ops->configure(ops->ctx, argc, argv, &msgs, d);
        if (err != IOF_OK) {
            json_decref(errors);
            return err;
        }
        json_object_update(errors, msgs);
        json_decref(msgs);
    }
    return iof_http_respond_json(req, 200, errors);
}

static iof_err h_provision(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    json_t *body = NULL;
    iof_err err = iof_http_body_json(req, &body, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *key = json_string_value(json_object_get(body, "provisioning-key"));
    json_t *res = NULL;
    struct iof_diag pd = {{0}};
    err = ops->provision(ops->ctx, key, &res, &pd);
    if (err != IOF_OK) {
        return iof_http_respond_json(
            req, 500, json_pack("{ssss}", "status", "failed", "errorMessage", pd.msg));
    }
    return iof_http_respond_json(req, 200, res);
}

static iof_err h_deprovision(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    struct iof_diag pd = {{0}};
    iof_err err = ops->deprovision(ops->ctx, &pd);
    return iof_http_respond_json(req,
                                 200,
                                 json_pack("{ssss}",
                                           "message",
                                           err == IOF_OK ? "Deprovisioned" : pd.msg,
                                           "status",
                                           err == IOF_OK ? "success" : "failed"));
}

static iof_err h_status(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    return iof_http_respond_json(req, 200, ops->status_lines(ops->ctx));
}

static iof_err h_info(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    struct agent_config c;
    ops->config(ops->ctx, &c);
    return iof_http_respond_json(req, 200, agent_config_info_json(&c));
}

static iof_err h_version(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    const struct agent_admin_ops *ops = ctx;
    REQUIRE_TOKEN(ops, req);
    return iof_http_respond_json(req, 200, json_pack("{ss}", "version", IOFOG_VERSION));
}

iof_err agent_admin_register(struct agent_admin_ops *ops, struct iof_http_server *srv) {
    static const struct {
        const char *method, *path;
        iof_http_handler h;
    } routes[] = {
        {"POST", "/v2/commandline", h_commandline},
        {"POST", "/v2/config", h_config},
        {"POST", "/v2/provision", h_provision},
        {"DELETE", "/v2/deprovision", h_deprovision},
        {"GET", "/v2/status", h_status},
        {"GET", "/v2/info", h_info},
        {"GET", "/v2/version", h_version},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        iof_err err =
            iof_http_server_route(srv, routes[i].method, routes[i].path, routes[i].h, ops);
        if (err != IOF_OK) {
            return err;
        }
    }
    return IOF_OK;
}
