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

/* URL and headers of a request: base_url + path, a request id, the token when there is one. */
struct prepared {
    char url[1200], auth[300], rid_hdr[64];
    const char *headers[3];
};

static iof_err prepare(const char *base_url,
                       const char *token,
                       const char *path,
                       struct prepared *p,
                       struct iof_diag *d) {
    char rid[40] = "";
    if (snprintf(p->url, sizeof p->url, "%s%s", base_url, path) >= (int)sizeof p->url) {
        return iof_fail(d, IOF_EINVAL, "Controller URL too long");
    }
    if (iof_random_string(rid, 32, IOF_ALPHABET_HEX) != IOF_OK) {
        rid[0] = '\0';
    }
    (void)snprintf(p->rid_hdr, sizeof p->rid_hdr, "Request-Id: %s", rid);
    p->headers[0] = p->rid_hdr;
    p->headers[1] = NULL;
    p->headers[2] = NULL;
    if (token != NULL && token[0] != '\0') {
        (void)snprintf(p->auth, sizeof p->auth, "Authorization: %s", token);
        p->headers[1] = p->auth;
    }
    return IOF_OK;
}

/* Maps the Controller's answer (answer consumed) to the result of a call. */
static iof_err finish(long status,
                      json_t *answer,
                      const char *method,
                      const char *path,
                      json_t **out,
                      struct iof_diag *d) {
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
                  : status == 429                ? IOF_EBUSY
                                                 : IOF_EREMOTE;
    return iof_fail(d, cat, "%s %s: HTTP %ld %s", method, path, status, text);
}

iof_err agent_upstream_call(struct agent_upstream *u,
                            const char *base_url,
                            const char *token,
                            const char *method,
                            const char *path,
                            const json_t *body,
                            json_t **out,
                            struct iof_diag *d) {
    struct prepared p;
    iof_err err = prepare(base_url, token, path, &p, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *empty = NULL;
    bool has_body = strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0;
    if (body == NULL && has_body) {
        body = empty = json_object();
    }
    long status = 0;
    json_t *answer = NULL;
    err =
        iof_http_client_request_json(u->http, method, p.url, p.headers, body, &status, &answer, d);
    json_decref(empty);
    if (err != IOF_OK) {
        return err == IOF_ETIMEOUT ? err : IOF_EIO;
    }
    return finish(status, answer, method, path, out, d);
}

iof_err agent_upstream_upload(struct agent_upstream *u,
                              const char *base_url,
                              const char *token,
                              const char *method,
                              const char *path,
                              const char *field,
                              const char *file,
                              const char *filename,
                              const char *content_type,
                              struct iof_diag *d) {
    struct prepared p;
    iof_err err = prepare(base_url, token, path, &p, d);
    if (err != IOF_OK) {
        return err;
    }
    struct iof_http_response r;
    err = iof_http_client_upload(
        u->http, method, p.url, p.headers, field, file, filename, content_type, &r, d);
    if (err != IOF_OK) {
        return err == IOF_ETIMEOUT || err == IOF_ENOENT ? err : IOF_EIO;
    }
    json_t *answer = NULL;
    if (r.body.len > 0) {
        answer = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    }
    long status = r.status;
    iof_http_response_free(&r);
    return finish(status, answer, method, path, NULL, d);
}

iof_err agent_upstream_send(struct agent_upstream *u,
                            const char *base_url,
                            const char *token,
                            const char *method,
                            const char *path,
                            const void *data,
                            size_t len,
                            struct iof_diag *d) {
    struct prepared p;
    iof_err err = prepare(base_url, token, path, &p, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *headers[] = {
        p.headers[0], p.headers[1], "Content-Type: application/octet-stream", NULL};
    if (headers[1] == NULL) {
        headers[1] = headers[2];
        headers[2] = NULL;
    }
    struct iof_http_response r;
    err = iof_http_client_request(u->http, method, p.url, headers, data, len, &r, d);
    if (err != IOF_OK) {
        return err == IOF_ETIMEOUT ? err : IOF_EIO;
    }
    json_t *answer = NULL;
    if (r.body.len > 0) {
        answer = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
    }
    long status = r.status;
    iof_http_response_free(&r);
    return finish(status, answer, method, path, NULL, d);
}
