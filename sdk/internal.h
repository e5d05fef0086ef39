/* Private parts of libiofog shared between its source files: the client structure, the thread-local
 * error detail, conversions between the public and the internal message types, URL building, the
 * reconnect schedule and the parser of frames the Agent sends on its sockets. Nothing here is
 * exported from the shared library (visibility hidden); names carry the iofog_sdk_ prefix. */
#ifndef IOFOG_SDK_INTERNAL_H
#define IOFOG_SDK_INTERNAL_H

#include "iofog/iofog.h"

#include "common/buf.h"
#include "common/error.h"
#include "iomessage/iomessage.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SDK_DEFAULT_REQUEST_TIMEOUT_MS 15000L
#define SDK_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define SDK_DEFAULT_BACKOFF_MIN_MS     1000u
#define SDK_DEFAULT_BACKOFF_MAX_MS     30000u
#define SDK_DEFAULT_KEEPALIVE_MS       15000u
#define SDK_DEFAULT_MAX_MESSAGE        ((size_t)16 * 1024 * 1024)
#define SDK_DEFAULT_MAX_SEND_QUEUE     ((size_t)16 * 1024 * 1024)
#define SDK_MAX_HOSTS                  8

/* ---- errors ---------------------------------------------------------------------------------- */

/* Clears this thread's error detail; every public entry point starts with it. */
void iofog_sdk_clear_error(void);

/* Records detail (printf format) and http status for this thread and returns err. */
int iofog_sdk_fail(int err, long http_status, const char *fmt, ...) IOF_PRINTF(3, 4);

/* Maps an internal category to the public code and records the detail of d (may be NULL). */
int iofog_sdk_fail_iof(iof_err err, const struct iof_diag *d);

/* ---- one REST connection (a curl handle); see rest.c ----------------------------------------- */
struct iofog_sdk_rest;

IOF_NODISCARD iof_err iofog_sdk_rest_new(struct iofog_sdk_rest **out);
void iofog_sdk_rest_free(struct iofog_sdk_rest *r);

/* ---- send queue item ------------------------------------------------------------------------- */
struct iofog_sdk_item {
    struct iofog_sdk_item *next;
    size_t len;     /* bytes of frame */
    uint8_t *frame; /* 0x0D | len32 | binary message, owned */
};

/* ---- the client ------------------------------------------------------------------------------ */
struct iofog_client {
    char *id;
    char *hosts[SDK_MAX_HOSTS];
    size_t host_count;
    atomic_uint host_index; /* the host that answered last; tried first */
    uint16_t port;
    bool ssl;
    long request_timeout_ms;
    long connect_timeout_ms;
    unsigned backoff_min_ms;
    unsigned backoff_max_ms;
    unsigned keepalive_ms;
    size_t max_message;
    size_t max_send_queue;

    /* Synchronous calls share one connection, one call at a time. */
    pthread_mutex_t rest_lock;
    struct iofog_sdk_rest *rest;

    /* Background thread. lock guards started, queue and queue_bytes. */
    pthread_mutex_t lock;
    bool started;
    bool want_control;
    bool want_message;
    pthread_t thread;
    int wake_fd; /* eventfd: written to wake the thread */
    atomic_bool stop;
    atomic_int connected[2];
    struct iofog_callbacks cb;
    struct iofog_sdk_item *queue_head;
    struct iofog_sdk_item *queue_tail;
    size_t queue_bytes;
};

/* Performs one request on conn against the client's hosts (tried in order from host_index on
 * connection failures). body may be NULL (GET without body). On a 200 answer *out is the parsed
 * JSON object (new reference). Other statuses: IOF_EREMOTE with the Agent's text; transport
 * failures IOF_EIO/IOF_ETIMEOUT; a 200 body that is not a JSON object IOF_EPROTO. *status gets the
 * HTTP status whenever an answer arrived. */
IOF_NODISCARD iof_err iofog_sdk_rest_call(struct iofog_client *c,
                                          struct iofog_sdk_rest *conn,
                                          const char *method,
                                          const char *path,
                                          const json_t *body,
                                          json_t **out,
                                          long *status,
                                          struct iof_diag *d);

/* The configuration fetch shared by iofog_get_config and the background thread. */
IOF_NODISCARD int iofog_sdk_get_config(struct iofog_client *c,
                                       struct iofog_sdk_rest *conn,
                                       struct iofog_config **out);

/* POST /v2/messages/new with a message given in internal form. */
IOF_NODISCARD int iofog_sdk_post_message(struct iofog_client *c,
                                         struct iofog_sdk_rest *conn,
                                         const struct iof_msg *msg,
                                         struct iofog_receipt *out);

/* ---- URLs ------------------------------------------------------------------------------------ */

/* Appends "<scheme>://<host>:<port>" to b; IPv6 literals get brackets. */
IOF_NODISCARD iof_err iofog_sdk_base_url(struct iof_buf *b,
                                         bool ssl,
                                         const char *host,
                                         uint16_t port);

/* Appends prefix then id percent-encoded (everything but unreserved characters) to b. */
IOF_NODISCARD iof_err iofog_sdk_append_escaped(struct iof_buf *b,
                                               const char *prefix,
                                               const char *id);

/* ---- messages -------------------------------------------------------------------------------- */

/* Views a public message as an internal one (pointers shared, nothing copied). */
void iofog_sdk_msg_view(const struct iofog_message *in, struct iof_msg *out);

/* Wraps a decoded internal message (taken over) as a public one; on failure inner is freed. */
IOF_NODISCARD iof_err iofog_sdk_msg_wrap(struct iof_msg *inner, struct iofog_message **out);

/* Message list from the "messages" array of a JSON answer (iof_msg_from_json per item). */
IOF_NODISCARD iof_err iofog_sdk_msg_list_from_json(const json_t *arr,
                                                   struct iofog_message_list **out,
                                                   struct iof_diag *d);

/* ---- reconnect schedule ---------------------------------------------------------------------- */

/* Delay before reconnect attempt number attempt (0-based): min * 2^attempt, capped at max. */
unsigned iofog_sdk_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned attempt);

/* ---- frames from the Agent ------------------------------------------------------------------- */

enum iofog_sdk_frame_kind {
    SDK_FRAME_CONTROL_SIGNAL,  /* 0x0C: new configuration */
    SDK_FRAME_RESOURCE_SIGNAL, /* 0x0F: edge resources changed */
    SDK_FRAME_MESSAGE,         /* 0x0D: a message; msg is set */
    SDK_FRAME_RECEIPT,         /* 0x0E: receipt; id and timestamp are set */
    SDK_FRAME_PING,            /* 0x09 as data: answer with 0x0A */
    SDK_FRAME_PONG,            /* 0x0A */
    SDK_FRAME_ACK,             /* 0x0B */
};

struct iofog_sdk_frame {
    enum iofog_sdk_frame_kind kind;
    struct iof_msg *msg; /* MESSAGE: owned by the caller (iof_msg_free) */
    char id[256];        /* RECEIPT */
    int64_t timestamp;   /* RECEIPT */
};

/* Classifies one binary WebSocket message from the Agent. A message frame whose length field does
 * not match, whose body exceeds max_message or does not decode, and a malformed receipt are
 * IOF_EINVAL (or IOF_E2BIG); an empty frame or an unknown opcode IOF_EPROTO. For the one-byte
 * signals, bytes after the opcode are ignored (older SDKs only look at the first byte). */
IOF_NODISCARD iof_err iofog_sdk_frame_parse(const uint8_t *data,
                                            size_t len,
                                            size_t max_message,
                                            struct iofog_sdk_frame *out,
                                            struct iof_diag *d);

/* ---- background thread (loop.c) -------------------------------------------------------------- */
void iofog_sdk_queue_clear(struct iofog_client *c);

#endif
