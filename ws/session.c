/* WebSocket session on wslay's event API. wslay runs with its own message buffering off, so a data
 * message is collected here in a bounded buffer that grows only as payload actually arrives, and
 * the limit applies to the whole reassembled message, not just to one frame. */
#include "ws/session.h"

#include "common/buf.h"
#include "common/random.h"

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

/* A reassembly buffer grown beyond this is released after its message, so idle connections do not
 * keep large allocations. */
#define KEEP_BUFFER_MAX (64u * 1024u)

/* Outgoing frames are gathered here and written with one io_write per turn instead of one per
 * frame header and one per payload (wslay hands them over separately): on loopback every write is
 * a full trip through the TCP stack and a wake-up of the reader, which was most of the bus's cost
 * (docs/design/bus-performance.md). A payload of at least OUT_DIRECT bytes with nothing gathered
 * before it is written directly, without the copy. Allocated on first use and kept while the
 * connection is busy (allocating it per write made glibc grow and shrink its heap every turn);
 * iof_ws_session_release_idle gives it back. */
#define OUT_MAX    (64u * 1024u)
#define OUT_DIRECT (16u * 1024u)

/* Reading likewise: wslay asks for a few KiB at a time; the session reads up to IN_MAX bytes per
 * io_read and hands them out from its buffer (kept and released like the output buffer). */
#define IN_MAX (64u * 1024u)

struct iof_ws_session {
    wslay_event_context_ptr ctx;
    const struct iof_ws_session_ops *ops;
    void *octx;
    size_t max_message;
    uint8_t *prefix; /* bytes read before the session existed; consumed first */
    size_t prefix_len;
    size_t prefix_off;
    struct iof_buf msg; /* the data message being reassembled */
    bool frame_is_data; /* the frame being received belongs to a data message */
    bool msg_dropped;   /* the current data message hit a limit; its frames are ignored */
    bool broken;        /* I/O failed or the owner aborted: no more reading or writing */
    bool read_ahead;
    uint8_t *in;   /* read ahead, IN_MAX bytes when allocated */
    size_t in_off; /* in[in_off..in_len) is still to be handed to wslay */
    size_t in_len;
    uint8_t *out;   /* gathered output, OUT_MAX bytes when allocated */
    size_t out_off; /* out[out_off..out_len) is still to be written */
    size_t out_len;
};

static const uint8_t empty_payload[1] = {0};

/* Tells wslay why an io_read/io_write call r (not > 0) moved nothing: would block, or the stream
 * failed (the session is then broken). Returns -1 for the callback to return. */
static ssize_t io_failed(wslay_event_context_ptr ctx, struct iof_ws_session *s, ssize_t r) {
    if (r == IOF_WS_IO_AGAIN) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    } else {
        s->broken = true;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    }
    return -1;
}

static ssize_t
recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
    (void)flags;
    struct iof_ws_session *s = user;
    if (s->prefix_off < s->prefix_len) {
        size_t n = s->prefix_len - s->prefix_off;
        if (n > len) {
            n = len;
        }
        memcpy(buf, s->prefix + s->prefix_off, n);
        s->prefix_off += n;
        if (s->prefix_off == s->prefix_len) {
            free(s->prefix);
            s->prefix = NULL;
            s->prefix_len = s->prefix_off = 0;
        }
        return (ssize_t)n;
    }
    if (s->in_off == s->in_len) {
        s->in_off = s->in_len = 0;
        if (s->in == NULL && s->read_ahead && len < IN_MAX) {
            s->in = malloc(IN_MAX); /* without it, reads go straight into wslay's buffer */
        }
        if (s->in != NULL && len < IN_MAX) {
            ssize_t r = s->ops->io_read(s->octx, s->in, IN_MAX);
            if (r > 0) {
                s->in_len = (size_t)r;
            } else {
                return io_failed(ctx, s, r);
            }
        }
    }
    if (s->in_off < s->in_len) {
        size_t n = s->in_len - s->in_off < len ? s->in_len - s->in_off : len;
        memcpy(buf, s->in + s->in_off, n);
        s->in_off += n;
        return (ssize_t)n;
    }
    ssize_t r = s->ops->io_read(s->octx, buf, len);
    if (r > 0) {
        return r;
    }
    return io_failed(ctx, s, r);
}

/* Writes gathered output until it is all out or io_write would block. false when the stream
 * failed (the session is then broken). */
static bool out_flush(struct iof_ws_session *s) {
    while (s->out_off < s->out_len) {
        ssize_t r = s->ops->io_write(s->octx, s->out + s->out_off, s->out_len - s->out_off);
        if (r > 0) {
            s->out_off += (size_t)r;
        } else if (r == IOF_WS_IO_AGAIN) {
            return true;
        } else {
            s->broken = true;
            return false;
        }
    }
    s->out_off = s->out_len = 0;
    return true;
}

static ssize_t
send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user) {
    (void)flags;
    struct iof_ws_session *s = user;
    if (s->out_len > 0 && s->out_len + len > OUT_MAX && !out_flush(s)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (s->out_len == 0 && len >= OUT_DIRECT) {
        ssize_t r = s->ops->io_write(s->octx, data, len);
        if (r > 0) {
            return r;
        }
        return io_failed(ctx, s, r);
    }
    if (s->out == NULL && (s->out = malloc(OUT_MAX)) == NULL) {
        wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
        return -1;
    }
    if (s->out_off > 0) {
        memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
        s->out_len -= s->out_off;
        s->out_off = 0;
    }
    size_t n = OUT_MAX - s->out_len < len ? OUT_MAX - s->out_len : len;
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    memcpy(s->out + s->out_len, data, n);
    s->out_len += n;
    return (ssize_t)n;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user) {
    (void)user;
    if (iof_random_bytes(buf, len) != IOF_OK) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return 0;
}

/* Gives up on the current data message: answers with a close frame carrying status and stops
 * reading, as wslay does for its own limits. */
static void drop_message(struct iof_ws_session *s, uint16_t status) {
    s->msg_dropped = true;
    (void)wslay_event_queue_close(s->ctx, status, NULL, 0);
    wslay_event_shutdown_read(s->ctx);
}

static void release_message(struct iof_ws_session *s) {
    if (s->msg.cap > KEEP_BUFFER_MAX) {
        iof_buf_free(&s->msg);
    } else {
        iof_buf_reset(&s->msg);
    }
}

static void frame_start_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *user) {
    (void)ctx;
    struct iof_ws_session *s = user;
    if (wslay_is_ctrl_frame(arg->opcode)) {
        s->frame_is_data = false; /* wslay buffers control frames itself (at most 125 bytes) */
        return;
    }
    s->frame_is_data = true;
    if (arg->opcode != WSLAY_CONTINUATION_FRAME) {
        release_message(s);
        s->msg_dropped = false;
    }
    if (s->msg_dropped) {
        return;
    }
    if (arg->payload_length > (uint64_t)(s->max_message - s->msg.len)) {
        drop_message(s, IOF_WS_STATUS_TOO_BIG);
    }
}

static void frame_chunk_cb(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg,
                           void *user) {
    (void)ctx;
    struct iof_ws_session *s = user;
    if (!s->frame_is_data || s->msg_dropped || arg->data_length == 0) {
        return;
    }
    iof_err err = iof_buf_append(&s->msg, arg->data, arg->data_length);
    if (err == IOF_E2BIG) {
        drop_message(s, IOF_WS_STATUS_TOO_BIG);
    } else if (err != IOF_OK) {
        drop_message(s, IOF_WS_STATUS_INTERNAL);
    }
}

static void
msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user) {
    (void)ctx;
    struct iof_ws_session *s = user;
    struct iof_ws_event ev = {.opcode = (enum iof_ws_opcode)arg->opcode,
                              .data = arg->msg != NULL ? arg->msg : empty_payload,
                              .len = arg->msg_length,
                              .status = 0};
    switch (arg->opcode) {
        case WSLAY_TEXT_FRAME:
        case WSLAY_BINARY_FRAME:
            if (s->msg_dropped) {
                return;
            }
            ev.data = s->msg.data != NULL ? s->msg.data : empty_payload;
            ev.len = s->msg.len;
            s->ops->on_event(s->octx, &ev);
            release_message(s);
            return;
        case WSLAY_CONNECTION_CLOSE:
            ev.status = arg->status_code != 0 ? arg->status_code : IOF_WS_STATUS_NO_STATUS;
            if (arg->msg_length >= 2) {
                ev.data = arg->msg + 2;
                ev.len = arg->msg_length - 2;
            } else {
                ev.data = empty_payload;
                ev.len = 0;
            }
            s->ops->on_event(s->octx, &ev);
            return;
        case WSLAY_PING:
        case WSLAY_PONG: s->ops->on_event(s->octx, &ev); return;
        default: return;
    }
}

iof_err iof_ws_session_new(const struct iof_ws_session_config *cfg,
                           const uint8_t *prefix,
                           size_t prefix_len,
                           struct iof_ws_session **out) {
    if (cfg->max_message == 0 || cfg->ops == NULL || cfg->ops->io_read == NULL ||
        cfg->ops->io_write == NULL || cfg->ops->on_event == NULL) {
        return IOF_EINVAL;
    }
    struct iof_ws_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return IOF_ENOMEM;
    }
    s->ops = cfg->ops;
    s->octx = cfg->ctx;
    s->max_message = cfg->max_message;
    s->read_ahead = cfg->read_ahead;
    iof_buf_init(&s->msg, cfg->max_message);
    if (prefix_len > 0) {
        s->prefix = malloc(prefix_len);
        if (s->prefix == NULL) {
            free(s);
            return IOF_ENOMEM;
        }
        memcpy(s->prefix, prefix, prefix_len);
        s->prefix_len = prefix_len;
    }
    struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .genmask_callback = genmask_cb,
        .on_frame_recv_start_callback = frame_start_cb,
        .on_frame_recv_chunk_callback = frame_chunk_cb,
        .on_frame_recv_end_callback = NULL,
        .on_msg_recv_callback = msg_cb,
    };
    int r = cfg->server ? wslay_event_context_server_init(&s->ctx, &cbs, s)
                        : wslay_event_context_client_init(&s->ctx, &cbs, s);
    if (r != 0) {
        free(s->prefix);
        free(s);
        return IOF_ENOMEM;
    }
    wslay_event_config_set_no_buffering(s->ctx, 1);
    /* With buffering off wslay checks each frame against this; the whole message is checked in
     * frame_start_cb. */
    wslay_event_config_set_max_recv_msg_length(s->ctx, (uint64_t)cfg->max_message);
    *out = s;
    return IOF_OK;
}

void iof_ws_session_free(struct iof_ws_session *s) {
    if (s == NULL) {
        return;
    }
    wslay_event_context_free(s->ctx);
    iof_buf_free(&s->msg);
    free(s->in);
    free(s->out);
    free(s->prefix);
    free(s);
}

iof_err iof_ws_session_read(struct iof_ws_session *s) {
    if (s->broken) {
        return IOF_EIO;
    }
    int r = wslay_event_recv(s->ctx);
    if (r == 0) {
        return IOF_OK;
    }
    iof_ws_session_abort(s);
    return r == WSLAY_ERR_NOMEM ? IOF_ENOMEM : IOF_EIO;
}

iof_err iof_ws_session_write(struct iof_ws_session *s) {
    if (s->broken) {
        return IOF_EIO;
    }
    int r = wslay_event_send(s->ctx);
    if (r == 0 && out_flush(s)) {
        return IOF_OK;
    }
    iof_ws_session_abort(s);
    return r == WSLAY_ERR_NOMEM ? IOF_ENOMEM : IOF_EIO;
}

static iof_err map_queue_error(int r) {
    switch (r) {
        case 0: return IOF_OK;
        case WSLAY_ERR_NO_MORE_MSG: return IOF_ECONFLICT;
        case WSLAY_ERR_NOMEM: return IOF_ENOMEM;
        default: return IOF_EINVAL;
    }
}

iof_err iof_ws_session_queue(struct iof_ws_session *s,
                             enum iof_ws_opcode opcode,
                             const uint8_t *data,
                             size_t len) {
    if (opcode != IOF_WS_TEXT && opcode != IOF_WS_BINARY && opcode != IOF_WS_PING &&
        opcode != IOF_WS_PONG) {
        return IOF_EINVAL;
    }
    if ((opcode == IOF_WS_PING || opcode == IOF_WS_PONG) && len > IOF_WS_MAX_CONTROL) {
        return IOF_E2BIG;
    }
    if (s->broken) {
        return IOF_ECONFLICT;
    }
    struct wslay_event_msg m = {.opcode = (uint8_t)opcode, .msg = data, .msg_length = len};
    return map_queue_error(wslay_event_queue_msg(s->ctx, &m));
}

bool iof_ws_status_sendable(uint16_t status) {
    return (status >= 1000 && status <= 1014 && status != 1004 && status != 1005 &&
            status != 1006) ||
           (status >= 3000 && status <= 4999);
}

iof_err iof_ws_session_close(struct iof_ws_session *s, uint16_t status, const char *reason) {
    size_t rlen = reason != NULL ? strlen(reason) : 0;
    if (rlen > IOF_WS_MAX_REASON || (status == 0 && rlen > 0) ||
        (status != 0 && !iof_ws_status_sendable(status))) {
        return IOF_EINVAL;
    }
    if (s->broken) {
        return IOF_ECONFLICT;
    }
    return map_queue_error(wslay_event_queue_close(s->ctx, status, (const uint8_t *)reason, rlen));
}

void iof_ws_session_abort(struct iof_ws_session *s) {
    s->broken = true;
    wslay_event_shutdown_read(s->ctx);
    wslay_event_shutdown_write(s->ctx);
}

bool iof_ws_session_want_read(const struct iof_ws_session *s) {
    return !s->broken && wslay_event_want_read(s->ctx) != 0;
}

bool iof_ws_session_want_write(const struct iof_ws_session *s) {
    return !s->broken && (wslay_event_want_write(s->ctx) != 0 || s->out_off < s->out_len);
}

bool iof_ws_session_finished(const struct iof_ws_session *s) {
    return !iof_ws_session_want_read(s) && !iof_ws_session_want_write(s);
}

bool iof_ws_session_close_sent(const struct iof_ws_session *s) {
    return wslay_event_get_close_sent(s->ctx) != 0;
}

bool iof_ws_session_close_received(const struct iof_ws_session *s) {
    return wslay_event_get_close_received(s->ctx) != 0;
}

uint16_t iof_ws_session_status(const struct iof_ws_session *s) {
    if (wslay_event_get_close_received(s->ctx)) {
        return wslay_event_get_status_code_received(s->ctx);
    }
    if (wslay_event_get_close_sent(s->ctx)) {
        return wslay_event_get_status_code_sent(s->ctx);
    }
    return IOF_WS_STATUS_ABNORMAL;
}

void iof_ws_session_release_idle(struct iof_ws_session *s) {
    if (s->in != NULL && s->in_off == s->in_len) {
        free(s->in);
        s->in = NULL;
        s->in_off = s->in_len = 0;
    }
    if (s->out != NULL && s->out_off == s->out_len) {
        free(s->out);
        s->out = NULL;
        s->out_off = s->out_len = 0;
    }
}

size_t iof_ws_session_queued_bytes(const struct iof_ws_session *s) {
    return wslay_event_get_queued_msg_length(s->ctx) + (s->out_len - s->out_off);
}
