/* Blocking WebSocket client over plain TCP (no TLS), for the tests and the C SDK.
 *
 * One client is one connection. Calls block up to the timeouts given, never forever unless asked
 * to. Received messages and control events are handed out one at a time by iof_ws_client_recv;
 * pings from the server are answered automatically. Frames are masked as RFC 6455 requires.
 *
 * Thread rules: a client is not thread-safe. One thread at a time may call its functions; an SDK
 * thread may poll iof_ws_client_fd() for readability and then call iof_ws_client_recv. */
#ifndef IOF_WS_CLIENT_H
#define IOF_WS_CLIENT_H

#include "common/error.h"
#include "ws/types.h"

#include <stddef.h>
#include <stdint.h>

struct iof_ws_client;

struct iof_ws_client_opts {
    size_t max_message; /* largest message accepted from the server; 0: 1 MiB. A larger one makes
                           the client close with 1009. */
    size_t max_inbox;   /* received bytes held while the caller is busy sending; 0: 4 MiB. Reading
                           pauses at this mark, so at most max_inbox + max_message are held. */
    int io_timeout_ms;  /* deadline of one send, ping or close; 0: 10000 */
    const char *const *headers; /* extra request headers as a NULL-terminated list of name, value,
                                   ...; NULL for none. Copied during connect. */
};

/* One thing received. Owned by the caller after iof_ws_client_recv; release with
 * iof_ws_msg_free. */
struct iof_ws_msg {
    enum iof_ws_opcode opcode; /* TEXT or BINARY (a whole message), PONG (payload of the pong), or
                                  CLOSE (the connection is over; data is the reason) */
    uint8_t *data;             /* NUL-terminated for convenience (NUL not counted); never NULL */
    size_t len;
    uint16_t status; /* CLOSE only: the server's status code, 1005 if it sent none, 1006 when the
                        connection ended without a close frame */
};

/* Connects to host:port within timeout_ms (< 0: no limit), sends the upgrade request for path
 * (must start with '/', no spaces or control characters) and checks the server's 101 answer and
 * Sec-WebSocket-Accept. host is a name or a numeric address; resolving a name is not bounded by
 * timeout_ms. opts may be NULL for the defaults.
 * IOF_EINVAL bad arguments, IOF_EIO connection failed, IOF_ETIMEOUT, IOF_EREMOTE the server
 * answered something other than 101 (d holds its status line), IOF_EPROTO bad handshake,
 * IOF_E2BIG response head over IOF_WS_MAX_RESPONSE_HEAD, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_client_connect(const char *host,
                                            uint16_t port,
                                            const char *path,
                                            int timeout_ms,
                                            const struct iof_ws_client_opts *opts,
                                            struct iof_ws_client **out,
                                            struct iof_diag *d);

/* Sends one unfragmented TEXT or BINARY message (not checked for UTF-8) and waits until it is
 * written to the socket. IOF_EINVAL for another opcode, IOF_ECONFLICT once the connection is
 * closing or closed, IOF_ETIMEOUT after io_timeout_ms (the connection is then unusable: free it),
 * IOF_EIO when the connection broke. */
IOF_NODISCARD iof_err iof_ws_client_send(struct iof_ws_client *c,
                                         enum iof_ws_opcode opcode,
                                         const void *data,
                                         size_t len);

/* Sends a ping with up to 125 bytes of payload (IOF_E2BIG beyond); the pong arrives through
 * iof_ws_client_recv. Other errors as iof_ws_client_send. */
IOF_NODISCARD iof_err iof_ws_client_ping(struct iof_ws_client *c, const void *payload, size_t len);

/* Waits up to timeout_ms (< 0: no limit, 0: only what is already there) for the next message or
 * event and moves it into *out. A CLOSE event is the last one: afterwards IOF_ECONFLICT.
 * IOF_ETIMEOUT when nothing arrived, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_ws_client_recv(struct iof_ws_client *c,
                                         int timeout_ms,
                                         struct iof_ws_msg *out);

/* Starts the closing handshake with status (1000..4999) and an optional reason (at most 123
 * bytes, NULL for none), then waits up to io_timeout_ms for the server's close. Data messages
 * arriving meanwhile are discarded. IOF_OK when the server's close arrived (or had already
 * arrived), IOF_ETIMEOUT when it did not, IOF_EIO when the connection broke, IOF_EINVAL for a bad
 * status or reason. Free the client afterwards in every case. */
IOF_NODISCARD iof_err iof_ws_client_close(struct iof_ws_client *c,
                                          uint16_t status,
                                          const char *reason);

/* Closes the socket (without a close frame if none was exchanged) and frees c. NULL accepted. */
void iof_ws_client_free(struct iof_ws_client *c);

/* The socket, for poll(2). Readable means iof_ws_client_recv may have something. Messages that
 * arrived while the caller was sending are held inside and do not make the socket readable: check
 * iof_ws_client_pending before polling. Do not read, write or close the socket. */
int iof_ws_client_fd(const struct iof_ws_client *c);

/* Number of messages and events held inside, ready for iof_ws_client_recv without waiting. */
size_t iof_ws_client_pending(const struct iof_ws_client *c);

/* Releases a message's data and clears it. NULL and cleared messages accepted. */
void iof_ws_msg_free(struct iof_ws_msg *m);

#endif
