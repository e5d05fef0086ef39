/* libiofog: the C SDK for ioFog microservices. A microservice uses it to read its configuration
 * from the Agent's Local API (/v2, default port 54321), to learn of configuration changes, and to
 * send and receive ioMessages (REST and the control/message WebSockets).
 *
 * Thread model: a client is created with iofog_client_new() or iofog_client_new_from_env(). The
 * synchronous REST calls (iofog_get_config, iofog_post_message, iofog_next_messages, ...) may be
 * made from any thread, also concurrently: each call is serialised on the client's REST handle.
 * iofog_client_start() spawns one background thread per client that owns the control and message
 * sockets; every callback runs on that thread, one at a time, and may call the synchronous
 * functions and iofog_send_message(), but must not call iofog_client_stop() or
 * iofog_client_free(). iofog_client_stop() (or iofog_client_free()) ends the thread cleanly.
 *
 * Errors: every fallible function returns an enum iofog_err (IOFOG_OK = 0). The detail of the
 * last failure on the calling thread is available from iofog_last_error() and, for answers of the
 * Agent other than 200, iofog_last_http_status(). Out-parameters are written only on success.
 * Out of memory is reported as IOFOG_ENOMEM; the library never aborts.
 *
 * Ownership: pointers passed in are borrowed for the duration of the call unless stated otherwise.
 * Anything the library hands out says how to release it: iofog_free() for strings and byte
 * buffers, iofog_message_free(), iofog_message_list_free(), iofog_config_free().
 *
 * This header includes only the C standard library. */
#ifndef IOFOG_IOFOG_H
#define IOFOG_IOFOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOFOG_SDK_VERSION_MAJOR  0
#define IOFOG_SDK_VERSION_MINOR  1
#define IOFOG_SDK_VERSION_PATCH  0
#define IOFOG_SDK_VERSION_STRING "0.1.0"
/* One number for compile-time comparisons: major * 10000 + minor * 100 + patch. */
#define IOFOG_SDK_VERSION                                                                          \
    (IOFOG_SDK_VERSION_MAJOR * 10000 + IOFOG_SDK_VERSION_MINOR * 100 + IOFOG_SDK_VERSION_PATCH)

#if defined(__GNUC__)
#define IOFOG_API         __attribute__((visibility("default")))
#define IOFOG_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define IOFOG_API
#define IOFOG_WARN_UNUSED
#endif

/* Default TCP port of the Agent's Local API. */
#define IOFOG_DEFAULT_PORT 54321

/* Result of every fallible call. */
enum iofog_err {
    IOFOG_OK = 0,
    IOFOG_EINVAL,      /* a bad argument, or malformed data (message bytes, JSON) */
    IOFOG_ENOMEM,      /* an allocation failed */
    IOFOG_EIO,         /* the Agent could not be reached, or the connection broke */
    IOFOG_ETIMEOUT,    /* a deadline passed */
    IOFOG_EPROTO,      /* the Agent answered something that does not follow the protocol */
    IOFOG_EREMOTE,     /* the Agent answered with an error status (see iofog_last_http_status) */
    IOFOG_E2BIG,       /* data over a size limit */
    IOFOG_ENOENT,      /* the thing asked for does not exist (e.g. a configuration key) */
    IOFOG_ESTATE,      /* not allowed in the current state (e.g. start twice) */
    IOFOG_EBUSY,       /* the send queue is full; retry later */
    IOFOG_EUNSUPPORTED /* valid but not supported (e.g. WebSockets over TLS) */
};

/* Static text for an error code; never NULL. */
IOFOG_API const char *iofog_strerror(int err);

/* Detail text of the last failure on this thread (thread-local storage, valid until the next call
 * on this thread); "" when there is none. */
IOFOG_API const char *iofog_last_error(void);

/* HTTP status of the Agent's answer in the last failing call on this thread, 0 when the failure
 * did not come from an HTTP answer. */
IOFOG_API long iofog_last_http_status(void);

/* Version of the library at run time ("0.1.0"), to compare with IOFOG_SDK_VERSION_STRING. */
IOFOG_API const char *iofog_version_string(void);

/* Releases a string or byte buffer handed out by the library. NULL is a no-op. */
IOFOG_API void iofog_free(void *p);

/* ---------------------------------------------------------------------------------------------
 * ioMessages (agent.md §2). Strings are NUL-terminated UTF-8, NULL meaning empty; contextdata and
 * contentdata are bytes with an explicit length (they may contain NUL bytes). For a message you
 * build, every pointer is yours and is only read. A message the library returns owns its memory;
 * release it with iofog_message_free(). */
struct iofog_message {
    int64_t version; /* 4 (JSON from classic agents may carry 0) */
    const char *id;  /* set by the Agent when it accepts a message */
    const char *tag;
    const char *groupid;
    int64_t sequencenumber;
    int64_t sequencetotal;
    int64_t priority;
    int64_t timestamp; /* ms since the epoch; set by the Agent */
    const char *publisher;
    const char *authid;
    const char *authgroup;
    int64_t chainposition;
    const char *hash;
    const char *previoushash;
    const char *nonce;
    int64_t difficultytarget;
    const char *infotype;
    const char *infoformat;
    const uint8_t *contextdata;
    size_t contextdata_len;
    const uint8_t *contentdata;
    size_t contentdata_len;
};

/* Clears *msg and sets version 4. */
IOFOG_API void iofog_message_init(struct iofog_message *msg);

/* Binary encoding (classic widths). *out is a new buffer of *out_len bytes, freed with
 * iofog_free(). IOFOG_EINVAL when a field does not fit its wire type or is not UTF-8. */
IOFOG_API IOFOG_WARN_UNUSED int
iofog_message_encode(const struct iofog_message *msg, uint8_t **out, size_t *out_len);

/* Decodes exactly len bytes of a binary ioMessage into a new message (iofog_message_free()).
 * IOFOG_EINVAL for malformed bytes, IOFOG_EUNSUPPORTED for a version other than 4. */
IOFOG_API IOFOG_WARN_UNUSED int
iofog_message_decode(const uint8_t *data, size_t len, struct iofog_message **out);

/* JSON form (agent.md §1.2, data fields as base64) as a new NUL-terminated string
 * (iofog_free()). */
IOFOG_API IOFOG_WARN_UNUSED int iofog_message_to_json(const struct iofog_message *msg, char **out);

/* Parses the JSON form (len bytes, no NUL needed) into a new message (iofog_message_free()). */
IOFOG_API IOFOG_WARN_UNUSED int
iofog_message_from_json(const char *json, size_t len, struct iofog_message **out);

/* Copies a message into one new allocation (iofog_message_free()). */
IOFOG_API IOFOG_WARN_UNUSED int iofog_message_copy(const struct iofog_message *msg,
                                                   struct iofog_message **out);

/* Releases a message returned by the library. NULL is a no-op. */
IOFOG_API void iofog_message_free(struct iofog_message *msg);

/* Messages returned by iofog_next_messages() and iofog_query_messages(). */
struct iofog_message_list {
    size_t count;
    struct iofog_message **items; /* count messages, owned by the list */
    int64_t timeframestart;       /* query only: as answered by the Agent */
    int64_t timeframeend;
};

/* Releases a list and its messages. NULL is a no-op. */
IOFOG_API void iofog_message_list_free(struct iofog_message_list *list);

/* ---------------------------------------------------------------------------------------------
 * Client. */
struct iofog_client;

struct iofog_options {
    const char *id;           /* microservice UUID (SELFNAME); required */
    const char *const *hosts; /* NULL-terminated host list tried in order until one answers;
                                 NULL: {"iofog", "127.0.0.1"} */
    uint16_t port;            /* 0: IOFOG_DEFAULT_PORT */
    int ssl;                  /* non-zero: REST over https (sockets then IOFOG_EUNSUPPORTED) */
    long request_timeout_ms;  /* whole REST request; 0: 15000 */
    long connect_timeout_ms;  /* TCP connect and WebSocket handshake; 0: 5000 */
    unsigned backoff_min_ms;  /* first reconnect delay; 0: 1000 */
    unsigned backoff_max_ms;  /* reconnect delay cap; 0: 30000 */
    unsigned keepalive_ms;    /* socket ping interval, reconnect after two silent ones; 0: 15000 */
    size_t max_message;       /* largest message or REST answer accepted; 0: 16 MiB */
    size_t max_send_queue;    /* bytes waiting in iofog_send_message's queue; 0: 16 MiB */
};

/* Sets every option to its default (all zero). */
IOFOG_API void iofog_options_init(struct iofog_options *opts);

/* Creates a client from explicit options; the strings are copied. Nothing is connected yet.
 * IOFOG_EINVAL when id is missing or empty or a host is empty, IOFOG_ENOMEM. Release with
 * iofog_client_free(). */
IOFOG_API IOFOG_WARN_UNUSED int iofog_client_new(const struct iofog_options *opts,
                                                 struct iofog_client **out);

/* Creates a client from the environment the Agent gives a container:
 *   SELFNAME            microservice UUID (required: IOFOG_EINVAL when missing or empty);
 *   SSL                 set to anything but "", "0" or "false": https;
 *   IOFOG_AGENT_HOST    overrides the host list (one host; the default tries iofog, 127.0.0.1);
 *   IOFOG_AGENT_PORT    overrides the port (1..65535, else IOFOG_EINVAL).
 * Other options are taken from *base when not NULL (its id and hosts are ignored). */
IOFOG_API IOFOG_WARN_UNUSED int iofog_client_new_from_env(const struct iofog_options *base,
                                                          struct iofog_client **out);

/* Stops the background thread if running, closes every connection and frees the client.
 * Must not be called from a callback. NULL is a no-op. */
IOFOG_API void iofog_client_free(struct iofog_client *client);

/* The microservice id (owned by the client). */
IOFOG_API const char *iofog_client_id(const struct iofog_client *client);

/* The URL prefix currently used for REST ("http://iofog:54321"), written into out (NUL-terminated,
 * truncated to size). Returns the length it needs without the NUL. */
IOFOG_API size_t iofog_client_base_url(const struct iofog_client *client, char *out, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Configuration. */
struct iofog_config;

/* Fetches the configuration (POST /v2/config/get). *out is a new parsed configuration
 * (iofog_config_free()). IOFOG_EREMOTE when the Agent answers an error (e.g. unknown id),
 * IOFOG_EPROTO when the answer or the configuration is not valid JSON. */
IOFOG_API IOFOG_WARN_UNUSED int iofog_get_config(struct iofog_client *client,
                                                 struct iofog_config **out);

/* The configuration as the Controller stored it: a NUL-terminated JSON text owned by cfg. */
IOFOG_API const char *iofog_config_raw(const struct iofog_config *cfg);

/* The parsed configuration as a jansson json_t * (borrowed, owned by cfg), for programs that link
 * jansson themselves; always a JSON object. */
IOFOG_API void *iofog_config_json(const struct iofog_config *cfg);

/* Top-level values by key. IOFOG_ENOENT when the key is absent or null, IOFOG_EINVAL when it has
 * another type. Strings are borrowed from cfg. Integers accept JSON integers, and reals with no
 * fraction; numbers accept both. */
IOFOG_API IOFOG_WARN_UNUSED int
iofog_config_get_string(const struct iofog_config *cfg, const char *key, const char **out);
IOFOG_API IOFOG_WARN_UNUSED int
iofog_config_get_int(const struct iofog_config *cfg, const char *key, int64_t *out);
IOFOG_API IOFOG_WARN_UNUSED int
iofog_config_get_number(const struct iofog_config *cfg, const char *key, double *out);
IOFOG_API IOFOG_WARN_UNUSED int
iofog_config_get_bool(const struct iofog_config *cfg, const char *key, int *out);

/* Parses a configuration text (for tests and for programs that keep a copy). */
IOFOG_API IOFOG_WARN_UNUSED int
iofog_config_parse(const char *text, size_t len, struct iofog_config **out);

/* Releases a configuration. NULL is a no-op. */
IOFOG_API void iofog_config_free(struct iofog_config *cfg);

/* ---------------------------------------------------------------------------------------------
 * Synchronous REST calls; any thread. */

/* What the Agent answers when it accepts a message. */
struct iofog_receipt {
    char id[256];      /* message id given by the Agent */
    int64_t timestamp; /* ms since the epoch */
};

/* Publishes msg through POST /v2/messages/new. A NULL publisher becomes the client id, version 0
 * becomes 4; id and timestamp are left to the Agent. *out (may be NULL) receives the receipt. */
IOFOG_API IOFOG_WARN_UNUSED int iofog_post_message(struct iofog_client *client,
                                                   const struct iofog_message *msg,
                                                   struct iofog_receipt *out);

/* Takes the messages waiting for this microservice (POST /v2/messages/next). *out is a new list
 * (iofog_message_list_free()), possibly empty. */
IOFOG_API IOFOG_WARN_UNUSED int iofog_next_messages(struct iofog_client *client,
                                                    struct iofog_message_list **out);

/* Reads archived messages of the given publishers within [start, end] ms
 * (POST /v2/messages/query). *out is a new list (iofog_message_list_free()). */
IOFOG_API IOFOG_WARN_UNUSED int iofog_query_messages(struct iofog_client *client,
                                                     int64_t timeframestart,
                                                     int64_t timeframeend,
                                                     const char *const *publishers,
                                                     size_t publisher_count,
                                                     struct iofog_message_list **out);

enum iofog_log_type { IOFOG_LOG_INFO = 0, IOFOG_LOG_WARNING = 1 };

/* Appends a line to this microservice's log on the Agent (POST /v2/log). */
IOFOG_API IOFOG_WARN_UNUSED int
iofog_log(struct iofog_client *client, enum iofog_log_type type, const char *message);

/* The edge resources linked to this node (GET /v2/edgeResources) as a new NUL-terminated JSON
 * array text (iofog_free()). */
IOFOG_API IOFOG_WARN_UNUSED int iofog_get_edge_resources(struct iofog_client *client, char **out);

/* ---------------------------------------------------------------------------------------------
 * Background thread: control and message sockets. */

enum iofog_socket { IOFOG_SOCKET_CONTROL = 0, IOFOG_SOCKET_MESSAGE = 1 };

/* Callbacks, all optional (NULL), all run on the client's background thread. Borrowed pointers
 * are valid only during the callback. */
struct iofog_callbacks {
    void *ctx; /* passed to every callback */
    /* The configuration, fetched after every (re)connect of the control socket and after every
     * change signal (0x0C, acknowledged before the fetch). Setting it opens the control socket. */
    void (*on_config)(void *ctx, const struct iofog_config *cfg);
    /* The edge resources changed (0x0F, acknowledged). Setting it opens the control socket. */
    void (*on_resource_signal)(void *ctx);
    /* A message pushed by the Agent (0x0D, acknowledged before the call). Setting it, or
     * on_receipt, opens the message socket. */
    void (*on_message)(void *ctx, const struct iofog_message *msg);
    /* A message queued by iofog_send_message was accepted: over the socket (receipt 0x0E,
     * acknowledged) or, while the socket is down, by the REST fallback. In send order. */
    void (*on_receipt)(void *ctx, const char *id, int64_t timestamp);
    /* A socket connected (connected = 1) or was lost (0). */
    void (*on_state)(void *ctx, enum iofog_socket socket, int connected);
    /* Something failed in the background (a socket, a config fetch, a queued send that could not
     * be delivered by any path). The thread goes on, reconnecting where needed. */
    void (*on_error)(void *ctx, int err, const char *detail);
};

/* Starts the background thread (callbacks copied). Returns once the thread runs; the sockets
 * connect in the background. IOFOG_ESTATE when already started, IOFOG_EUNSUPPORTED with ssl,
 * IOFOG_ENOMEM, IOFOG_EIO when the thread cannot be created. */
IOFOG_API IOFOG_WARN_UNUSED int iofog_client_start(struct iofog_client *client,
                                                   const struct iofog_callbacks *callbacks);

/* Stops the background thread: closes both sockets (close handshake bounded by a short timeout),
 * drops queued sends that were not written (each reported to on_error), joins the thread.
 * The client can be started again. No-op when not started, and when called from a callback
 * (where it would have to wait for itself). */
IOFOG_API void iofog_client_stop(struct iofog_client *client);

/* Queues msg (copied) for the background thread, which sends it on the message socket
 * (0x0D frame) or, while that socket is down, through POST /v2/messages/new. The outcome arrives
 * as on_receipt, or as on_error when both paths fail; a message written to the socket just before
 * the connection broke may get neither (the Agent may or may not have received it). Publisher and
 * version default as in iofog_post_message. IOFOG_ESTATE when the client is not started or has no
 * message socket (neither on_message nor on_receipt set), IOFOG_EBUSY when the queue is full,
 * IOFOG_EINVAL when the message does not encode. Any thread, callbacks included. */
IOFOG_API IOFOG_WARN_UNUSED int iofog_send_message(struct iofog_client *client,
                                                   const struct iofog_message *msg);

/* 1 while the given socket is connected, 0 otherwise. Any thread. */
IOFOG_API int iofog_client_connected(struct iofog_client *client, enum iofog_socket socket);

#ifdef __cplusplus
}
#endif

#endif
