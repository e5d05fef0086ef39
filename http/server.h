/* HTTP server on libmicrohttpd: routing with path parameters, JSON helpers, uniform error bodies,
 * long-poll holding without a thread per held request, and the HTTP/1.1 upgrade used by the
 * WebSocket module.
 *
 * Threads: the server runs its own polling thread(s) (one, or a pool of `threads`). Handlers run on
 * those threads, one request at a time per connection, and must not block for long: a request that
 * has to wait for something is held (iof_http_hold) and answered later from any thread
 * (iof_http_answer). Configuration calls (route, set_fallback) happen before start; start, stop
 * and free are called from one controlling thread, never from a handler.
 *
 * Every response carries X-Request-Id (the client's X-Request-Id or Request-Id when it is at most
 * 64 letters, digits or ". _ : -", otherwise a fresh random UUID), X-Timestamp (ms since the
 * epoch) and the CORS headers. OPTIONS on any path is answered 204 by the server itself. (Requests
 * so malformed that libmicrohttpd rejects them itself get its plain 400 without these.)
 *
 * Errors: a handler that fails returns an iof_err without answering; the server then answers with
 * iof_http_status_for(err) and the body {"name": iof_err_name(err), "message": <diag text>}.
 * The built-in answers (no route 404, wrong method 405 with Allow, body too large 413) use the same
 * body shape. A route parameter or query argument holding an encoded NUL (%00) is answered 400
 * IOF_EINVAL "Invalid format for field '<name>'..." before any handler runs: decoded, it would be
 * cut short wherever it is read as a C string.
 *
 * Bodies: a normal route gets its body in memory (at most max_body bytes), and is chosen once the
 * whole body is in. An upload route (iof_http_server_route_upload) is chosen as soon as the request
 * head arrives; its body goes to a file instead of memory (see "Uploads" below), so a body of
 * hundreds of MB costs a file descriptor and a few tens of KiB. */
#ifndef IOF_HTTP_SERVER_H
#define IOF_HTTP_SERVER_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iof_http_server;
struct iof_http_request;
struct iof_http_upgraded;

struct iof_http_config {
    const char *bind_addr;         /* NULL or "0.0.0.0": any IPv4 address; else a dotted quad */
    uint16_t port;                 /* 0: an ephemeral port, see iof_http_server_port() */
    size_t max_body;               /* request body limit, 0: 1 MiB; larger bodies get 413 */
    unsigned threads;              /* polling threads, 0: 1; more than 1 makes a pool */
    unsigned connection_timeout_s; /* idle connection timeout (restarts on every byte), 0: none */
    unsigned max_connections;      /* open connections (held ones included), 0: 4096; a request
                                      arriving while more are open is answered 503 with
                                      Retry-After. libmicrohttpd closes connections beyond
                                      iof_http_connection_ceiling() unanswered; the process needs
                                      that many file descriptors */
    size_t connection_memory;      /* libmicrohttpd's per-connection pool, which holds the
                                      request line and headers (bodies are not kept there);
                                      0: 32 KiB. What a held request costs in memory. */
    const char *cors_origin;       /* Access-Control-Allow-Origin value, NULL: "*", "": no CORS
                                      headers at all (a server not meant for web pages) */

    /* Connection discipline (http/guard.c); zero fields take the defaults. */
    unsigned head_timeout_s;     /* a request head must be complete within this long of the
                                    accept, or of the previous answer on a kept-alive connection;
                                    arriving bytes do not extend it. Past it the connection is
                                    closed. Requests being served, held or upgraded are exempt.
                                    0: 10 */
    unsigned per_ip_connections; /* open connections per source address; libmicrohttpd closes
                                    more at once. 0: 256 */
    size_t max_head;             /* request line plus headers, in bytes; a longer URL is answered
                                    414, longer headers 431 (with the error body, then closed).
                                    0: connection_memory / 2. Heads that do not fit in
                                    connection_memory at all get libmicrohttpd's own answer. */
    bool plain_errors;           /* the server's own error answers (404, 405, 413, 414, 431, 503,
                                    handler errors) as text/plain "message" instead of JSON */

    const char *tls_cert_pem; /* HTTPS (libmicrohttpd's GnuTLS): the certificate chain as PEM
                                      text, with tls_key_pem; NULL: plain HTTP. Copied. */
    const char *tls_key_pem;  /* the private key as PEM text */
};

/* The hard connection limit given to libmicrohttpd for a max_connections value (0: default):
 * max_connections plus a reserve in which excess connections still get their 503. */
unsigned iof_http_connection_ceiling(unsigned max_connections);

/* True when this libmicrohttpd can serve HTTPS (MHD_FEATURE_TLS). */
bool iof_http_tls_supported(void);

/* A request handler. It must do exactly one of:
 *   - answer with one of the iof_http_respond* functions and return IOF_OK;
 *   - hold the request with iof_http_hold and return IOF_OK (answered later by iof_http_answer);
 *   - start an upgrade with iof_http_respond_upgrade and return IOF_OK;
 *   - return an error without answering: the server answers it from the error table, with the text
 *     of d (may be empty) as the message.
 * Returning IOF_OK without any of the first three is a bug: the server answers 500 and logs it.
 * If an error is returned after the request was answered, the answer stands and the error is
 * logged. d is never NULL and starts empty. */
typedef iof_err (*iof_http_handler)(struct iof_http_request *req, struct iof_diag *d, void *ctx);

/* Called exactly once per successful iof_http_respond_upgrade, on a server thread: right after the
 * 101 response has been sent, or with fd -1 and u NULL when the upgrade did not happen (the client
 * went away before the 101 was sent, or memory or descriptors ran out), so the callee can always
 * release what ctx holds. It must not block: hand the fd to a thread or event loop and return.
 *   - fd: the connection's socket, now a raw byte stream the callee reads and writes but never
 *     closes. It arrives in non-blocking mode (O_NONBLOCK set); the callee may change that. Write
 *     with send(..., MSG_NOSIGNAL) to avoid SIGPIPE. It stays a valid descriptor until
 *     iof_http_upgraded_close(u); once the server is stopped it reports end of stream / EPIPE.
 *   - extra_in, extra_len: bytes the client sent after the request head, already read from the
 *     socket; they come first in the stream. Never NULL (extra_len may be 0). Borrowed: valid
 *     only during the callback.
 *   - u: the handle the callee passes to iof_http_upgraded_close exactly once, from any thread,
 *     when it is done with the connection (also after the server was stopped or freed). */
typedef void (*iof_http_upgrade_cb)(
    void *ctx, int fd, const char *extra_in, size_t extra_len, struct iof_http_upgraded *u);

/* HTTP status for an error category: EINVAL 400, EAUTH 401, EPERM 403, ENOENT 404,
 * EUNSUPPORTED 405, EEXIST and ECONFLICT 409, E2BIG 413, EBUSY 503, ETIMEOUT 504,
 * every other category (and IOF_OK, which is no error to report) 500. */
int iof_http_status_for(iof_err err);

/* ---- Server lifecycle ------------------------------------------------------------------------ */

/* Creates a stopped server; config is copied (its strings too). *out is freed with
 * iof_http_server_free. IOF_EINVAL on a bad bind address. */
IOF_NODISCARD iof_err iof_http_server_new(const struct iof_http_config *config,
                                          struct iof_http_server **out);

/* Adds a route; before start only. method is an HTTP method ("GET"); pattern is a path of segments
 * such as "/api/v3/iofog/:uuid/tunnel": ":name" matches one non-empty segment and makes it
 * available through iof_http_param(req, "name"); a final "*" segment matches the rest of the path
 * (possibly empty), available as iof_http_param(req, "*"). Routes are tried in the order added;
 * the first match wins. pattern and method are copied; ctx is passed to h as is.
 * IOF_EINVAL on a malformed pattern, IOF_ECONFLICT after start, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_server_route(struct iof_http_server *srv,
                                            const char *method,
                                            const char *pattern,
                                            iof_http_handler h,
                                            void *ctx);

/* ---- Uploads ----------------------------------------------------------------------------------
 * An upload route streams its request body to a file: each piece is written as it arrives, so the
 * memory an upload costs does not depend on its size. The route is matched when the request head
 * arrives; then, in order:
 *   1. a Content-Length over max_bytes is answered 413 at once (the body is never read);
 *   2. admit (optional) runs, with the same contract as a handler except that returning IOF_OK
 *      without answering accepts the upload. Anything it answers (or the error it returns) is the
 *      answer and the body is not read: a client that asked "Expect: 100-continue" never sends it,
 *      others are disconnected after the answer. Use it for what can be checked from the head
 *      alone (credentials, whether an upload is expected at all), so refused uploads cost nothing;
 *   3. the body goes to an anonymous file created in dir (O_TMPFILE, or mkstemp where the file
 *      system has no O_TMPFILE; mode 0600). With multipart_field set, only the bytes of that part
 *      of a multipart/form-data body are written (http/multipart.h, streaming parser); without
 *      it, the raw body. Once more than max_bytes body bytes arrived (chunked uploads) the file is
 *      emptied, the rest of the body is read and dropped and the answer is 413;
 *   4. when the body is complete the handler runs as for any route; iof_http_upload_file gives it
 *      the file, iof_http_upload_keep gives the file a name. A file not kept is gone when the
 *      request ends (also when the client disconnects half-way).
 * iof_http_body is empty on upload routes. */
struct iof_http_upload_opts {
    uint64_t max_bytes;          /* body limit in bytes (multipart framing included); 0: max_body */
    const char *dir;             /* where the file is made (copied); NULL: $TMPDIR, else /tmp */
    const char *multipart_field; /* NULL: the raw body; else that part of a multipart/form-data
                                    body (copied) */
    iof_http_handler admit;      /* NULL: every upload is accepted; gets the route's ctx */
};

/* Adds an upload route (see above); same pattern rules, order and errors as iof_http_server_route.
 * Before start only. */
IOF_NODISCARD iof_err iof_http_server_route_upload(struct iof_http_server *srv,
                                                   const char *method,
                                                   const char *pattern,
                                                   const struct iof_http_upload_opts *opts,
                                                   iof_http_handler h,
                                                   void *ctx);

/* In the handler of an upload route: the received file and its size. *fd is borrowed (the server
 * closes it when the request ends); its file offset is unspecified, read it with pread(2).
 * The error the upload met, with its message in d: IOF_ENOENT "Required field 'x' is missing",
 * IOF_EINVAL "Invalid multipart body: ..." (or a non-multipart Content-Type), IOF_EIO when the
 * file could not be written (disk full). IOF_ECONFLICT on a request of another kind of route. */
IOF_NODISCARD iof_err iof_http_upload_file(struct iof_http_request *req,
                                           int *fd,
                                           uint64_t *size,
                                           struct iof_diag *d);

/* In the handler of an upload route, after iof_http_upload_file succeeded: gives the received file
 * the name path, replacing any file there atomically (readers see the old file or the whole new
 * one, never a part). path must be on the file system of the route's dir (IOF_EIO otherwise). The
 * file keeps mode 0600 and is not fsync'ed (that would stall the polling thread). At most once
 * per request (IOF_ECONFLICT). */
IOF_NODISCARD iof_err iof_http_upload_keep(struct iof_http_request *req,
                                           const char *path,
                                           struct iof_diag *d);

/* Before start only. With a fallback set, requests that match no route (neither path nor method)
 * go to h instead of the built-in 404/405. NULL h restores the built-in answers. */
void iof_http_server_set_fallback(struct iof_http_server *srv, iof_http_handler h, void *ctx);

/* ---- Observation (metrics) -------------------------------------------------------------------
 * Called once per answered request when its connection is done with it, on a server thread, with
 * the index of the route that matched (0-based, in the order routes were added; -1: none, e.g. the
 * built-in 404 or a preflight), the status answered and the time from the request's arrival to
 * completion (held time included). It must not block and should only count (atomics). Set before
 * start; NULL turns it off. */
typedef void (*iof_http_observer)(void *ctx, int route, int status, int64_t elapsed_us);
void iof_http_server_set_observer(struct iof_http_server *srv, iof_http_observer fn, void *ctx);

/* The routes added so far, and one's method and pattern (borrowed; valid until free; NULL when i
 * is out of range). Stable once the server is started. */
size_t iof_http_server_route_count(const struct iof_http_server *srv);
const char *iof_http_server_route_method(const struct iof_http_server *srv, size_t i);
const char *iof_http_server_route_pattern(const struct iof_http_server *srv, size_t i);

/* Requests held right now (iof_http_hold), for gauges. Takes the server's lock: not for hot
 * paths. */
size_t iof_http_server_held(struct iof_http_server *srv);

/* Binds and starts the polling threads. IOF_EBUSY when another socket already listens on the
 * address and port (the listener sets SO_REUSEADDR, never SO_REUSEPORT, so a second server on a
 * port in use fails here instead of sharing it); IOF_EIO (with a logged reason) when binding fails
 * otherwise; IOF_ECONFLICT when already started. */
IOF_NODISCARD iof_err iof_http_server_start(struct iof_http_server *srv);

/* Whether bind_addr:port (bind_addr NULL or "0.0.0.0": any address) can be listened on now, by a
 * bind of a throw-away socket: IOF_OK when it can (or port is 0), IOF_EBUSY when another socket
 * listens there, IOF_EINVAL on a bad address, IOF_EIO (errno text in d) otherwise. For a fast,
 * clear refusal before expensive start-up work; iof_http_server_start still has the last word. */
IOF_NODISCARD iof_err iof_http_address_check(const char *bind_addr,
                                             uint16_t port,
                                             struct iof_diag *d);

/* The bound port once started (useful with port 0); 0 when not running. */
uint16_t iof_http_server_port(const struct iof_http_server *srv);

/* Answers every held request with 503 (new holds are refused from now on), closes the server's
 * side of upgraded connections (their descriptors stay valid until iof_http_upgraded_close, see
 * iof_http_upgrade_cb), waits up to 2 s for the 503s to be sent, then stops the threads and closes
 * the listening socket and every connection. Outstanding hold ids become stale
 * (iof_http_answer gives IOF_ENOENT). Idempotent; a stopped server cannot be started again. Must
 * not be called from a handler. */
void iof_http_server_stop(struct iof_http_server *srv);

/* Stops if needed and frees. NULL is a no-op. Upgraded handles not yet closed stay valid for their
 * owners. */
void iof_http_server_free(struct iof_http_server *srv);

/* ---- Request accessors: all returned pointers are borrowed from req --------------------------
 * They stay valid until the handler returns (also after hold or upgrade). Never call them on a
 * request after its handler returned. */

const char *iof_http_method(const struct iof_http_request *req);

/* The path without the query string, as sent (not percent-decoded). */
const char *iof_http_path(const struct iof_http_request *req);

/* Value of the route parameter ":name" (or "*"), percent-decoded; NULL when the route has none. */
const char *iof_http_param(const struct iof_http_request *req, const char *name);

/* Value of a query-string argument, URL-decoded ('+' is a space); "" for a bare "?flag";
 * NULL when absent. */
const char *iof_http_query(const struct iof_http_request *req, const char *name);

/* Value of a request header, name matched case-insensitively; NULL when absent. */
const char *iof_http_header(const struct iof_http_request *req, const char *name);

/* The request body (at most max_body bytes) and its length; never NULL, NUL-terminated (the NUL is
 * not counted). */
const uint8_t *iof_http_body(const struct iof_http_request *req, size_t *len);

/* Parses the body as classic servers do (common/json.h: a duplicate key keeps its last value,
 * ill-formed UTF-8 becomes U+FFFD; no trailing garbage). *out is owned by the request (do not
 * decref; json_incref to keep it longer); parsed once, later calls return the same value.
 * IOF_EINVAL with an "Invalid JSON..." message on an empty or malformed body. */
IOF_NODISCARD iof_err iof_http_body_json(struct iof_http_request *req,
                                         json_t **out,
                                         struct iof_diag *d);

/* How many ill-formed UTF-8 sequences iof_http_body_json replaced with U+FFFD (0 before it). */
size_t iof_http_body_repaired(const struct iof_http_request *req);

/* The request id echoed in X-Request-Id. */
const char *iof_http_request_id(const struct iof_http_request *req);

/* The peer address as text ("127.0.0.1"), or "" when unknown. */
const char *iof_http_remote_addr(const struct iof_http_request *req);

/* ---- Responses: each request is answered exactly once ---------------------------------------
 * Only from the handler, on its thread, while it runs; a held request is answered with
 * iof_http_answer instead. A second answer, or an answer outside the handler, gives
 * IOF_ECONFLICT. On failure the request stays unanswered, so a handler can simply return the
 * error and let the server answer it. Statuses must be 100..999 and not 101 (IOF_EINVAL). */

/* Adds a header to whatever answer this request gets (including error answers and a later
 * iof_http_answer of a held request); setting a name again replaces its value. Name and value are
 * copied. IOF_EINVAL on a name that is no HTTP token or a value containing CR/LF, IOF_E2BIG beyond
 * 32 extra headers, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_set_header(struct iof_http_request *req,
                                          const char *name,
                                          const char *value);

/* Answers with a copy of body (len bytes; body may be NULL when len is 0). content_type NULL sends
 * no Content-Type. */
IOF_NODISCARD iof_err iof_http_respond(struct iof_http_request *req,
                                       int status,
                                       const char *content_type,
                                       const void *body,
                                       size_t len);

/* Answers with the first size bytes of the file fd, sent from the file by the kernel (sendfile)
 * while the connection can take them: no copy in memory whatever the size. Takes fd in every case
 * (closed after the answer or on failure). content_type NULL sends no Content-Type. */
IOF_NODISCARD iof_err iof_http_respond_fd(
    struct iof_http_request *req, int status, const char *content_type, int fd, uint64_t size);

/* Answers with value serialised as application/json. Steals the reference to value (released even
 * on failure). NULL value sends an empty body without Content-Type (e.g. 204). */
IOF_NODISCARD iof_err iof_http_respond_json(struct iof_http_request *req,
                                            int status,
                                            json_t *value);

/* Answers iof_http_status_for(err) with {"name": iof_err_name(err), "message": message}
 * (message NULL: iof_strerror(err)). */
IOF_NODISCARD iof_err iof_http_respond_error(struct iof_http_request *req,
                                             iof_err err,
                                             const char *message);

/* ---- Streamed responses (chunked) ------------------------------------------------------------ */

/* A response whose body is produced while it is sent (Transfer-Encoding: chunked), by a producer
 * on any thread: log following and similar relays. The bytes pass through a buffer of at most
 * max_buffer bytes; while it is empty the connection is suspended (no thread waits for it). */
struct iof_http_stream;

/* Answers req (from its handler) with status and content_type and a body that comes from
 * iof_http_stream_write. *out is the producer's handle: release it with iof_http_stream_end in
 * every case. IOF_ECONFLICT if req was already answered, IOF_EINVAL on a bad status or
 * content type, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_respond_stream(struct iof_http_request *req,
                                              int status,
                                              const char *content_type,
                                              size_t max_buffer,
                                              struct iof_http_stream **out);

/* Appends len bytes (all or none). IOF_EBUSY when they do not fit in the buffer now (the client
 * reads slower than the producer writes: retry later or drop), IOF_EIO when the client has gone
 * or the server stopped (stop producing), IOF_E2BIG when len exceeds the buffer itself. */
IOF_NODISCARD iof_err iof_http_stream_write(struct iof_http_stream *s,
                                            const void *data,
                                            size_t len);

/* Bytes waiting in the buffer (not yet handed to the connection). */
size_t iof_http_stream_buffered(struct iof_http_stream *s);

/* True once the client has gone (or the server stopped): nothing written will arrive. */
bool iof_http_stream_gone(struct iof_http_stream *s);

/* Ends the body after what was written and releases the producer's handle (s is not used
 * afterwards). Any thread; exactly once per stream. */
void iof_http_stream_end(struct iof_http_stream *s);

/* ---- Holding (long poll) --------------------------------------------------------------------- */

/* Holds the request: after the handler returns the connection is suspended (no thread waits for
 * it) until the request is answered by id. *out_id is never 0 and generational: an id that was
 * answered or dropped never matches a later hold (until one slot is reused 2^32 times). Headers
 * set with iof_http_set_header before or after hold (until the handler returns) are kept. A
 * client that disconnects while held goes unnoticed until the answer is written.
 * IOF_ECONFLICT if the request was already answered or held, IOF_EBUSY while stopping (the
 * handler returning that gives the client a 503), IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_hold(struct iof_http_request *req, uint64_t *out_id);

/* Answers a held request from any thread (also from a handler) and wakes its connection.
 * Steals value (released in every case); NULL value: empty body. The connection's thread sends
 * the answer right away. IOF_ENOENT when id was already answered, was dropped at stop, or never
 * existed; IOF_EINVAL on a bad status; IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_answer(struct iof_http_server *srv,
                                      uint64_t id,
                                      int status,
                                      json_t *value);

/* Like iof_http_answer with a copy of raw bytes; content_type NULL sends no Content-Type. */
IOF_NODISCARD iof_err iof_http_answer_raw(struct iof_http_server *srv,
                                          uint64_t id,
                                          int status,
                                          const char *content_type,
                                          const void *body,
                                          size_t len);

/* ---- Upgrade (WebSocket handshake) ----------------------------------------------------------- */

/* Answers 101 Switching Protocols with the given headers (a NULL-terminated list of name, value
 * pairs, e.g. {"Upgrade", "websocket", "Sec-WebSocket-Accept", key, NULL}; "Connection: Upgrade"
 * is added by libmicrohttpd, do not list it) and, once it is sent, calls cb(ctx, ...) as described
 * at iof_http_upgrade_cb. The request must be HTTP/1.1 with an Upgrade header; checking the
 * protocol's own handshake headers is the caller's job. cb runs exactly once, with fd -1 if the
 * upgrade did not happen (see iof_http_upgrade_cb). IOF_EINVAL on an odd header list or a request
 * that cannot be upgraded, IOF_ECONFLICT if already answered, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_http_respond_upgrade(struct iof_http_request *req,
                                               const char *const *headers,
                                               iof_http_upgrade_cb cb,
                                               void *ctx);

/* Releases an upgraded connection: tells the server it is done (MHD closes its side) and frees u.
 * Exactly once per upgrade callback, from any thread, also after the server was stopped or freed.
 * The fd must not be used afterwards. */
void iof_http_upgraded_close(struct iof_http_upgraded *u);

#endif
