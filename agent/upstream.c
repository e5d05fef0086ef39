/* Requests to the Controller's agent API; see upstream.h. */
#include "agent/upstream.h"

#include "common/random.h"
#include "http/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct agent_upstream {
    struct iof_http_client *http;
};

iof_err agent_upstream_new(long timeout_ms, const char *ca_file, struct agent_upstream **out) {
    return agent_upstream_new_cancellable(timeout_ms, ca_file, NULL, out);
}

iof_err agent_upstream_new_cancellable(long timeout_ms,
                                       const char *ca_file,
                                       const atomic_bool *cancel,
                                       struct agent_upstream **out) {
    struct agent_upstream *u = calloc(1, sizeof *u);
    if (u == NULL) {
        return IOF_ENOMEM;
    }
    struct iof_http_client_opts o = {
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = 10000,
        .ca_file =
            ca_file != NULL && ca_file[0] != '\0' && access(ca_file, R_OK) == 0 ? ca_file : NULL,
        .max_response = 8u << 20,
        .cancel = cancel,
    };
    iof_err err = iof_http_client_new(&o, &u->http);
    if (err != IOF_OK) {
        free(u);
        return err;
    }
    *out = u;
    return IOF_OK;
}

void agent_upstream_free(struct agent_upstream *u) {
    if (u != NULL) {
        iof_http_client_free(u->http);
        free(u);
    }
}

iof_err agent_upstream_call(struct agent_upstream *u,
                            const char *base_url,
                            const char *token,
                            const char *method,
                            const char *path,
                            const json_t *body,
                            json_t **out,
                            struct iof_diag *d) {
    char url[1200], auth[300], rid[40] = "", rid_hdr[64];
    if (snprintf(url, sizeof url, "%s%s", base_url, path) >= (int)sizeof url) {
        return iof_fail(d, IOF_EINVAL, "Controller URL too long");
    }
    if (iof_random_string(rid, 32, IOF_ALPHABET_HEX) != IOF_OK) {
        rid[0] = '\0';
    }
    (void)snprintf(rid_hdr, sizeof rid_hdr, "Request-Id: %s", rid);
    const char *headers[3] = {rid_hdr, NULL, NULL};
    if (token != NULL && token[0] != '\0') {
        (void)snprintf(auth, sizeof auth, "Authorization: %s", token);
        headers[1] = auth;
    }
    json_t *empty = NULL;
    bool has_body = strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0;
    if (body == NULL && has_body) {
        body = empty = json_object();
    }
    long status = 0;
    json_t *answer = NULL;
    iof_err err =
        iof_http_client_request_json(u->http, method, url, headers, body, &status, &answer, d);
    json_decref(empty);
    if (err != IOF_OK) {
        return err == IOF_ETIMEOUT ? err : IOF_EIO;
    }
    if (status >= 200 && status < 300) {
        if (out != NULL) {
            *out = answer != NULL ? answer : json_object();
        } else {
            json_decref(answer);
        }
        return IOF_OK;
    }
    const char *msg = json_string_value(json_object_get(answer, "message"));
    char text[200];
    (void)snprintf(text, sizeof text, "%s", msg != NULL ? msg : "");
    json_decref(answer);
    iof_err cat = status == 401 || status == 403 ? IOF_EAUTH
                  : status == 404                ? IOF_ENOENT
                  : status == 400                ? IOF_EINVAL
                                                 : IOF_EREMOTE;
    return iof_fail(d, cat, "%s %s: HTTP %ld %s", method, path, status, text);
}
