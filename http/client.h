/* HTTP client on libcurl: plain requests with a bounded response, JSON requests, and streaming of
 * long responses (Docker pull progress, event streams), over TCP, TLS or a Unix socket.
 *
 * A struct iof_http_client wraps one curl easy handle so consecutive requests reuse the
 * connection. It is not thread-safe: use one client per thread (creating clients from several
 * threads at once is fine). */
#ifndef IOF_HTTP_CLIENT_H
#define IOF_HTTP_CLIENT_H

#include "common/buf.h"
#include "common/error.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct iof_http_client;

struct iof_http_client_opts {
    const char *unix_socket;   /* e.g. "/var/run/docker.sock" (URLs still name a host, "http://d/");
                                  NULL: TCP */
    long timeout_ms;           /* whole-request limit, 0: none (streams usually want none) */
    long connect_timeout_ms;   /* 0: curl's default (300 s) */
    const char *ca_file;       /* PEM bundle to verify TLS peers with, NULL: the system's */
    size_t max_response;       /* response body limit, 0: 16 MiB; bigger: IOF_E2BIG */
    const atomic_bool *cancel; /* NULL, or a flag another thread sets to end a request in flight
                                  (a long-poll at shutdown): it then fails with IOF_ECONFLICT
                                  within about a second. Must outlive the client. */
};

struct iof_http_response {
    long status;
    struct iof_buf body;    /* owned, release with iof_http_response_free; data is never NULL
                               and is NUL-terminated */
    char content_type[128]; /* "" when absent; truncated when longer */
};

/* Receives a piece of a streamed body (not NUL-terminated, not aligned to chunks or lines).
 * Return false to stop the transfer; the request then ends with IOF_OK. */
typedef bool (*iof_http_chunk_cb)(void *ctx, const char *data, size_t len);

/* Creates a client; opts is copied (its strings too); NULL opts means all defaults.
 * IOF_ENOMEM, IOF_EINTERNAL when curl cannot be initialised. */
IOF_NODISCARD iof_err iof_http_client_new(const struct iof_http_client_opts *opts,
                                          struct iof_http_client **out);

/* Closes the connection and frees. NULL is a no-op. */
void iof_http_client_free(struct iof_http_client *c);

/* Performs one request. headers: NULL or a NULL-terminated list of "Name: value" strings. body: len
 * bytes sent as the request body (NULL with len 0 sends none). On success *out holds the status
 * (any status, 4xx and 5xx included, counts as success) and the body; the caller releases it with
 * iof_http_response_free. Errors: IOF_ETIMEOUT when a timeout passed, IOF_EIO when connecting or
 * the transfer failed (curl's message in d), IOF_E2BIG when the response exceeded max_response,
 * IOF_EINVAL on a bad method/URL/header, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_client_request(struct iof_http_client *c,
                                              const char *method,
                                              const char *url,
                                              const char *const *headers,
                                              const void *body,
                                              size_t len,
                                              struct iof_http_response *out,
                                              struct iof_diag *d);

/* Sends the file at path, streamed from disk, as the only part of a multipart/form-data body:
 * part name field, the given file name and content type (e.g. an image snapshot PUT to the
 * Controller). Memory use does not grow with the file. Response and errors as
 * iof_http_client_request, plus IOF_ENOENT when the file cannot be read. For large files create
 * the client with timeout_ms 0 (and a cancel flag). */
IOF_NODISCARD iof_err iof_http_client_upload(struct iof_http_client *c,
                                             const char *method,
                                             const char *url,
                                             const char *const *headers,
                                             const char *field,
                                             const char *path,
                                             const char *filename,
                                             const char *content_type,
                                             struct iof_http_response *out,
                                             struct iof_diag *d);

/* Releases the body of a response filled by iof_http_client_request. NULL is a no-op. */
void iof_http_response_free(struct iof_http_response *r);

/* A request with a JSON body (body NULL: none; not stolen) and "Content-Type: application/json"
 * plus "Accept: application/json" added to headers. On success *status is set and *out_json is a
 * new reference the caller releases, or NULL when the response body is empty or not valid JSON.
 * out_json may be NULL when the body is of no interest. Errors as iof_http_client_request. */
IOF_NODISCARD iof_err iof_http_client_request_json(struct iof_http_client *c,
                                                   const char *method,
                                                   const char *url,
                                                   const char *const *headers,
                                                   const json_t *body,
                                                   long *status,
                                                   json_t **out_json,
                                                   struct iof_diag *d);

/* Performs a request and hands the response body to cb as it arrives (no size limit: the callee
 * decides when to stop). *status is set on success, also when cb stopped the transfer. The whole
 * request is still bound by timeout_ms when that is not 0. Errors as iof_http_client_request. */
IOF_NODISCARD iof_err iof_http_client_stream(struct iof_http_client *c,
                                             const char *method,
                                             const char *url,
                                             const char *const *headers,
                                             const void *body,
                                             size_t len,
                                             iof_http_chunk_cb cb,
                                             void *ctx,
                                             long *status,
                                             struct iof_diag *d);

/* The status of the response being received, from inside an iof_http_client_stream callback
 * (the head has arrived by then); 0 when unknown. */
long iof_http_client_response_status(struct iof_http_client *c);

#endif
