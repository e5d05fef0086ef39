/* One WebSocket connection's protocol state, independent of how bytes move: framing, masking,
 * the close handshake and automatic pongs come from wslay's event API; message reassembly with a
 * hard size limit is done here. The hub (server side), the client and the frame fuzzer all drive
 * their connections through this, each with its own I/O functions.
 *
 * Thread rules: a session is not thread-safe; exactly one thread uses it at a time. Its callbacks
 * run inside iof_ws_session_read/iof_ws_session_write on the calling thread. */
#ifndef IOF_WS_SESSION_H
#define IOF_WS_SESSION_H

#include "common/error.h"
#include "ws/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct iof_ws_session;

/* What a session reports to its owner. data is borrowed for the duration of the callback. */
struct iof_ws_event {
    enum iof_ws_opcode opcode; /* TEXT/BINARY: a whole message; PING/PONG: a control frame;
                                  CLOSE: the peer's close frame (the echo is already queued) */
    const uint8_t *data;       /* message, ping/pong payload, or close reason */
    size_t len;
    uint16_t status; /* CLOSE only: the peer's status code, 1005 when it sent none */
};

/* How a session moves bytes. io_read/io_write return the byte count (> 0), IOF_WS_IO_AGAIN when
 * nothing can be moved now, IOF_WS_IO_FAIL on end of stream or error. */
#define IOF_WS_IO_AGAIN ((ssize_t)0)
#define IOF_WS_IO_FAIL  ((ssize_t)-1)

struct iof_ws_session_ops {
    ssize_t (*io_read)(void *ctx, uint8_t *buf, size_t len);
    ssize_t (*io_write)(void *ctx, const uint8_t *buf, size_t len);
    void (*on_event)(void *ctx, const struct iof_ws_event *ev);
};

struct iof_ws_session_config {
    bool server;        /* server role (expects masked frames) or client role (masks its frames) */
    size_t max_message; /* largest reassembled message accepted; larger closes with 1009 */
    const struct iof_ws_session_ops *ops; /* borrowed; must outlive the session */
    void *ctx;                            /* passed to every op */
    bool read_ahead; /* io_read is asked for up to 64 KiB at a time and what wslay does not take
                        yet waits in the session; for owners that read until IOF_WS_IO_AGAIN
                        anyway (the hub), not for those whose io_read holds back to limit what
                        they accept (the client's inbox) */
};

/* Creates a session. prefix[0..prefix_len) are bytes already read from the peer (left over after
 * the HTTP handshake); they are copied and consumed before io_read is called. IOF_EINVAL when
 * max_message is 0 or ops is incomplete, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_session_new(const struct iof_ws_session_config *cfg,
                                         const uint8_t *prefix,
                                         size_t prefix_len,
                                         struct iof_ws_session **out);

/* Frees the session (NULL accepted). Sends nothing. */
void iof_ws_session_free(struct iof_ws_session *s);

/* Reads what io_read has to give and dispatches complete messages and control frames to on_event.
 * Protocol violations by the peer queue a close frame with the matching status (1002, 1007, 1009)
 * and stop reading; that is not an error here. IOF_EIO when the stream ended or failed (the
 * session is then finished), IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_session_read(struct iof_ws_session *s);

/* Writes queued frames until io_write would block or nothing is left. IOF_EIO when writing failed
 * (the session is then finished), IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_session_write(struct iof_ws_session *s);

/* Queues one unfragmented message (copied). opcode is TEXT, BINARY, PING or PONG; control payloads
 * are at most 125 bytes (IOF_E2BIG). IOF_ECONFLICT once a close frame was queued or the session
 * broke, IOF_EINVAL for another opcode, IOF_ENOMEM. Text is not checked for UTF-8. */
IOF_NODISCARD iof_err iof_ws_session_queue(struct iof_ws_session *s,
                                           enum iof_ws_opcode opcode,
                                           const uint8_t *data,
                                           size_t len);

/* Queues a close frame with status (1000..4999, 0 for none) and an optional reason of at most 123
 * bytes (NULL for none). Reading goes on until the peer's close arrives. IOF_ECONFLICT when a close
 * was already queued, IOF_EINVAL for a bad status or reason. */
IOF_NODISCARD iof_err iof_ws_session_close(struct iof_ws_session *s,
                                           uint16_t status,
                                           const char *reason);

/* True for a status code that may be sent in a close frame: 1000-1003, 1007-1014, 3000-4999. */
bool iof_ws_status_sendable(uint16_t status);

/* Stops the session without a close frame: nothing more is read or written. */
void iof_ws_session_abort(struct iof_ws_session *s);

bool iof_ws_session_want_read(const struct iof_ws_session *s);
bool iof_ws_session_want_write(const struct iof_ws_session *s);

/* True when the session will neither read nor write again: close handshake complete, protocol
 * failure answered, stream failed, or aborted. */
bool iof_ws_session_finished(const struct iof_ws_session *s);

/* True once a close frame was sent, or received, respectively. */
bool iof_ws_session_close_sent(const struct iof_ws_session *s);
bool iof_ws_session_close_received(const struct iof_ws_session *s);

/* The status that describes how the connection ended: the peer's close code if it sent a close
 * frame (1005 when it carried none), else the code this side sent, else 1006 (abnormal). */
uint16_t iof_ws_session_status(const struct iof_ws_session *s);

/* Frees the input and output buffers when nothing waits in them (the owner calls this now and
 * then, so idle sessions hold no buffer). */
void iof_ws_session_release_idle(struct iof_ws_session *s);

/* Bytes of message payload queued and not yet written. */
size_t iof_ws_session_queued_bytes(const struct iof_ws_session *s);

#endif
