/* Internals of the HTTP server shared by its source files (server, router, request, hold,
 * upgrade). Not part of the public API: only the http module's own .c files include this. */
#ifndef IOF_HTTP_INTERNAL_H
#define IOF_HTTP_INTERNAL_H

#include "common/buf.h"
#include "http/server.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IOF_HTTP_MAX_PARAMS        16 /* ":name" segments (and "*") per route */
#define IOF_HTTP_MAX_QUERY         64 /* query arguments kept per request; later ones are ignored */
#define IOF_HTTP_MAX_EXTRA_HEADERS 32 /* iof_http_set_header per request */
#define IOF_HTTP_REQUEST_ID_MAX    64 /* longest client-supplied request id accepted */
#define IOF_HTTP_ALLOW_MAX         128 /* text of an Allow header */

/* ---- Router (router.c) ---- */

struct iof_http_route {
    char *method;
    char *pattern;   /* as given */
    char **segments; /* pattern split at '/', "" segments removed; ":x" params, "*" last only */
    size_t nsegments;
    bool tail; /* last segment is "*" */
    iof_http_handler handler;
    void *ctx;
    /* upload routes only (upload true): the options with owned copies of the strings */
    bool upload;
    uint64_t upload_max;
    char *upload_dir;
    char *upload_field;
    iof_http_handler admit;
};

struct iof_http_router {
    struct iof_http_route *routes;
    size_t count;
    size_t cap;
};

/* One matched parameter: name borrowed from the route, value decoded into the request. */
struct iof_http_param_kv {
    const char *name;
    const char *value;
};

void iof_http_router_free(struct iof_http_router *r);

IOF_NODISCARD iof_err iof_http_router_add(struct iof_http_router *r,
                                          const char *method,
                                          const char *pattern,
                                          iof_http_handler h,
                                          void *ctx);

enum iof_http_match {
    IOF_HTTP_MATCH_FOUND,     /* *route and the parameters are set */
    IOF_HTTP_MATCH_NO_PATH,   /* no route has this path */
    IOF_HTTP_MATCH_NO_METHOD, /* the path exists for other methods, listed in allow */
};

/* Matches a raw path (no query). Parameter values are percent-decoded into values_buf, which must
 * hold strlen(path) + IOF_HTTP_MAX_PARAMS + 1 bytes; params holds IOF_HTTP_MAX_PARAMS entries.
 * HEAD falls back to GET routes. allow gets "GET, POST, OPTIONS"-style text on NO_METHOD. */
enum iof_http_match iof_http_router_match(const struct iof_http_router *r,
                                          const char *method,
                                          const char *path,
                                          const struct iof_http_route **route,
                                          struct iof_http_param_kv *params,
                                          size_t *nparams,
                                          char *values_buf,
                                          char allow[IOF_HTTP_ALLOW_MAX]);

/* Percent-decodes src[0..n) into dst (at least n + 1 bytes), '+' as a space when plus_space.
 * Malformed escapes are kept literally. Returns the decoded length; dst is NUL-terminated. */
size_t iof_http_url_decode(char *dst, const char *src, size_t n, bool plus_space);

/* ---- Server and requests ---- */

enum iof_http_hold_state {
    IOF_HTTP_HOLD_NONE = 0,
    IOF_HTTP_HOLD_HELD,      /* iof_http_hold called, handler still running */
    IOF_HTTP_HOLD_SUSPENDED, /* handler returned, connection suspended, waiting for an answer */
    IOF_HTTP_HOLD_RESUMING,  /* answer stored, connection resumed, not yet queued */
    IOF_HTTP_HOLD_DONE,      /* answer queued */
};

/* An answer given from another thread, kept until the connection's thread queues it. */
struct iof_http_pending {
    int status;
    char *content_type; /* owned; NULL: none */
    char *body;         /* owned; NULL when len is 0 */
    size_t len;
};

struct iof_http_header_kv {
    char *name;
    char *value;
};

struct iof_http_slot {
    struct iof_http_request *req; /* NULL: free */
    uint32_t gen;
    uint32_t next_free;
};

struct iof_http_upgraded {
    struct iof_http_upgraded *prev, *next; /* in srv->upgraded while attached */
    struct iof_http_server *srv;           /* NULL once detached at stop */
    struct MHD_UpgradeResponseHandle *urh; /* NULL once closed towards MHD */
    int mhd_fd;                            /* MHD's socket */
    int fd;                                /* the descriptor handed out (a dup when possible) */
};

/* guard.c: connection tracking, head deadline, open-connection count */
struct iof_http_conn;
struct iof_http_guard {
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    pthread_t thread;
    bool running; /* thread started (controlling thread only) */
    bool quit;
    struct iof_http_conn *head, *tail; /* connections waiting for a head, oldest wait first */
    size_t open;
    size_t peak;        /* highest open count since the last malloc_trim */
    uint64_t cut_total; /* connections closed at the head deadline */
};

struct iof_http_server {
    struct iof_http_config cfg; /* strings point into the owned copies below */
    char *bind_addr;
    char *cors_origin;
    char *tls_cert_pem;
    char *tls_key_pem;
    struct iof_http_router router;
    iof_http_handler fallback;
    void *fallback_ctx;
    iof_http_observer observer;
    void *observer_ctx;
    struct MHD_Daemon *daemon;
    uint16_t port;
    bool started;
    bool stopped;

    pthread_mutex_t mu; /* guards everything below and the hold fields of requests */
    pthread_cond_t drained;
    bool stopping;
    struct iof_http_slot *slots;
    uint32_t nslots;
    uint32_t free_head;              /* index + 1 of the first free slot, 0: none */
    size_t held_live;                /* held requests whose connection has not completed yet */
    struct iof_http_stream *streams; /* live streamed responses (stream.c) */

    struct iof_http_guard guard;

    /* guarded by the upgrade module's global lock */
    struct iof_http_upgraded *upgraded;
    bool upgrades_closed;
};

struct iof_http_upload_state; /* upload.c */

struct iof_http_request {
    struct iof_http_server *srv;
    struct MHD_Connection *conn;
    const char *method;    /* MHD's, valid for the request */
    const char *version;   /* MHD's, valid for the request */
    char *uri;             /* raw request target, owned */
    char *path;            /* raw path, points into path_buf */
    char *path_buf;        /* owned: path then decoded parameter values */
    char *query_buf;       /* owned: decoded query names and values */
    const char *nul_query; /* name of the first query argument whose name or value holds %00 */
    struct iof_http_param_kv params[IOF_HTTP_MAX_PARAMS];
    size_t nparams;
    struct iof_http_param_kv query[IOF_HTTP_MAX_QUERY];
    size_t nquery;
    struct iof_http_header_kv headers[IOF_HTTP_MAX_EXTRA_HEADERS];
    size_t nheaders;
    struct iof_buf body;
    const struct iof_http_route *upload_route; /* set at the head for an upload route */
    struct iof_http_upload_state *upload;      /* owned; once the upload was admitted */
    size_t discarded;                          /* body bytes dropped after the limit was hit */
    bool too_big;
    bool raw_answered; /* an answer was written to the socket directly; close when done */
    bool started;
    bool in_handler;
    bool answered; /* a response was queued (or an upgrade started) */
    int status;    /* status answered, for the log line */
    json_t *json;
    size_t json_repaired; /* ill-formed UTF-8 sequences replaced when parsing json */
    char id[IOF_HTTP_REQUEST_ID_MAX + 1];
    char remote[64];
    int64_t start_ms;
    int64_t start_us; /* monotonic, for the observer */
    int route_index;  /* matched route, -1: none */

    /* hold state, guarded by srv->mu */
    enum iof_http_hold_state hold;
    uint64_t hold_id;
    bool has_pending;
    struct iof_http_pending pending;

    /* upgrade */
    iof_http_upgrade_cb upgrade_cb;
    void *upgrade_ctx;
    bool upgrade_called; /* upgrade_cb has run (it runs exactly once once set) */
};

/* upload.c (streamed request bodies) */
/* The admitted request's file (and multipart parser). IOF_EIO or IOF_EINVAL (a Content-Type that
 * is not multipart/form-data) with the reason in d. */
IOF_NODISCARD iof_err iof_http_upload_begin(struct iof_http_request *req, struct iof_diag *d);
/* Takes the next body bytes; false once the route's limit is exceeded (the file is emptied). */
bool iof_http_upload_data(struct iof_http_request *req, const void *data, size_t len);
/* The body is complete: finishes the multipart parse. */
void iof_http_upload_end(struct iof_http_request *req);
/* Closes and removes the file unless it was kept. NULL upload: no-op. */
void iof_http_upload_free(struct iof_http_request *req);

/* upgrade.c: runs the upgrade callback with fd -1 if it has not run yet (upgrade never happened).
 */
void iof_http_upgrade_abandon(struct iof_http_request *req);

/* request.c */
/* Fills the request id, remote address, path and query from the raw URI. */
IOF_NODISCARD iof_err iof_http_request_prepare(struct iof_http_request *req);
void iof_http_request_free(struct iof_http_request *req);
/* Adds the id, timestamp, CORS and extra headers to resp. */
IOF_NODISCARD iof_err iof_http_add_common_headers(struct iof_http_request *req,
                                                  struct MHD_Response *resp);
/* Queues resp with status and marks the request answered; logs the request line. */
IOF_NODISCARD iof_err iof_http_queue(struct iof_http_request *req,
                                     int status,
                                     struct MHD_Response *resp);
/* Builds an {"name","message"} error body. Caller frees *out. */
IOF_NODISCARD iof_err iof_http_error_body(iof_err err,
                                          const char *message,
                                          char **out,
                                          size_t *len);

/* hold.c */
/* Called by the access handler after the handler returned with the request held: suspends the
 * connection or, when already answered, queues the answer right away. */
void iof_http_hold_after_handler(struct iof_http_request *req);
/* Queues the stored answer of a resumed request. */
void iof_http_hold_deliver(struct iof_http_request *req);
/* Drops the request's slot if it still has one (request completed or connection died). */
void iof_http_hold_forget(struct iof_http_request *req);
/* Stop: answers every held request 503 and waits (bounded) until those answers are sent. */
void iof_http_hold_stop(struct iof_http_server *srv);

/* guard.c */
#define IOF_HTTP_GUARD_OPTIONS 5
IOF_NODISCARD iof_err iof_http_guard_init(struct iof_http_server *srv);
void iof_http_guard_destroy(struct iof_http_server *srv);
/* Fills libmicrohttpd options (connection notification, limits, idle timeout), END last. */
size_t iof_http_guard_fill_options(struct iof_http_server *srv,
                                   struct MHD_OptionItem opts[IOF_HTTP_GUARD_OPTIONS]);
IOF_NODISCARD iof_err iof_http_guard_start(struct iof_http_server *srv);
void iof_http_guard_stop(struct iof_http_server *srv);
/* The connection's request head is complete: no head deadline until the request ends. */
void iof_http_guard_head_done(struct iof_http_server *srv, struct MHD_Connection *conn);
/* The connection's request ended: the next head is due within the deadline. */
void iof_http_guard_request_done(struct iof_http_server *srv, struct MHD_Connection *conn);
/* The connection was upgraded: never a head deadline again. */
void iof_http_guard_exempt(struct iof_http_server *srv, struct MHD_Connection *conn);
/* More connections are open than max_connections. */
bool iof_http_guard_over_cap(struct iof_http_server *srv);

/* upgrade.c */
void iof_http_upgrade_on_mhd(void *cls,
                             struct MHD_Connection *connection,
                             void *con_cls,
                             const char *extra_in,
                             size_t extra_in_size,
                             MHD_socket sock,
                             struct MHD_UpgradeResponseHandle *urh);
/* Stop: closes the MHD side of every upgraded connection of srv and detaches the handles. */
void iof_http_upgrade_stop(struct iof_http_server *srv);
/* Ends every streamed response and wakes the suspended ones, before MHD stops (stream.c). */
void iof_http_stream_stop(struct iof_http_server *srv);

#endif
