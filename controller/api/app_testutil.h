/* Test helpers of the application and template tests (tests only, header-only): multipart YAML
 * uploads, SQL set-up of nodes and microservices, and change-flag reads. */
#ifndef CTL_API_APP_TESTUTIL_H
#define CTL_API_APP_TESTUTIL_H

#include "controller/api/api_testutil.h"

/* Sends method path with yaml as the multipart/form-data field `field`. Returns the status and
 * the parsed answer like api_call; -1 on transport error. */
static inline long api_upload(struct api_fixture *f,
                              const char *method,
                              const char *path,
                              const char *token,
                              const char *field,
                              const char *yaml,
                              json_t **out) {
    static const char boundary[] = "----iofogTestBoundary7MA4YWxkTrZu0gW";
    size_t cap = strlen(yaml) + 512;
    char *body = malloc(cap);
    if (body == NULL) {
        return -1;
    }
    int n = snprintf(body,
                     cap,
                     "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"f.yaml\"\r\n"
                     "Content-Type: application/x-yaml\r\n\r\n%s\r\n--%s--\r\n",
                     boundary,
                     field,
                     yaml,
                     boundary);
    char url[512], auth[300], ct[160];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", token);
    (void)snprintf(ct, sizeof ct, "Content-Type: multipart/form-data; boundary=%s", boundary);
    const char *headers[] = {ct, auth, NULL};
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    iof_err err = iof_http_client_request(f->http, method, url, headers, body, (size_t)n, &r, &d);
    free(body);
    if (err != IOF_OK) {
        fprintf(stderr, "api_upload %s %s: %s\n", method, path, d.msg);
        return -1;
    }
    if (out != NULL) {
        *out = r.body.len > 0 ? json_loadb((const char *)r.body.data, r.body.len, 0, NULL) : NULL;
    }
    long status = r.status;
    iof_http_response_free(&r);
    return status;
}

/* Runs one SQL statement on the server's store; returns 0 on success (printing the error). */
static inline int
api_sql(struct api_fixture *f, const char *sql, const struct ctl_db_value *p, size_t n) {
    struct iof_diag d = {{0}};
    iof_err err = ctl_db_exec(ctl_store_db(f->store), sql, p, n, NULL, NULL, NULL, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "api_sql %s: %s\n", sql, d.msg);
        return -1;
    }
    return 0;
}

/* The integer the query's first row has in its first column named "n"; -1 on error. */
static inline long long
api_count(struct api_fixture *f, const char *sql, const struct ctl_db_value *p, size_t n) {
    json_t *row = NULL;
    struct iof_diag d = {{0}};
    if (ctl_db_query_json_one(ctl_store_db(f->store), sql, p, n, NULL, &row, &d) != IOF_OK) {
        fprintf(stderr, "api_count %s: %s\n", sql, d.msg);
        return -1;
    }
    long long v = (long long)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return v;
}

/* The pending change flags of a node (0 on error). */
static inline uint32_t api_flags(struct api_fixture *f, const char *fog_uuid) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d = {{0}};
    if (ctl_store_flags_get(f->store, fog_uuid, &mask, &version, &d) != IOF_OK) {
        fprintf(stderr, "api_flags %s: %s\n", fog_uuid, d.msg);
        return 0;
    }
    return mask;
}

/* Acknowledges every pending flag of a node. */
static inline void api_flags_clear(struct api_fixture *f, const char *fog_uuid) {
    uint32_t mask = 0;
    int64_t version = 0;
    struct iof_diag d = {{0}};
    if (ctl_store_flags_get(f->store, fog_uuid, &mask, &version, &d) != IOF_OK ||
        ctl_store_flags_ack(f->store, fog_uuid, version, &d) != IOF_OK) {
        fprintf(stderr, "api_flags_clear %s: %s\n", fog_uuid, d.msg);
    }
}

#endif
