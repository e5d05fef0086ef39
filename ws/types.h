/* Names shared by every part of the WebSocket module: opcodes, close status codes and defaults. */
#ifndef IOF_WS_TYPES_H
#define IOF_WS_TYPES_H

/* RFC 6455 §5.2 opcodes. Data messages are TEXT or BINARY; the rest are control frames. */
enum iof_ws_opcode {
    IOF_WS_TEXT = 0x1,
    IOF_WS_BINARY = 0x2,
    IOF_WS_CLOSE = 0x8,
    IOF_WS_PING = 0x9,
    IOF_WS_PONG = 0xa,
};

/* RFC 6455 §7.4.1 close status codes used here. */
#define IOF_WS_STATUS_NORMAL       1000
#define IOF_WS_STATUS_GOING_AWAY   1001
#define IOF_WS_STATUS_PROTOCOL     1002
#define IOF_WS_STATUS_NO_STATUS    1005 /* never sent: the peer's close carried no code */
#define IOF_WS_STATUS_ABNORMAL     1006 /* never sent: the connection ended without a close */
#define IOF_WS_STATUS_INVALID_DATA 1007
#define IOF_WS_STATUS_TOO_BIG      1009
#define IOF_WS_STATUS_INTERNAL     1011

/* Default largest message accepted from a peer. */
#define IOF_WS_DEFAULT_MAX_MESSAGE ((size_t)1 << 20)

/* Largest payload of a control frame (ping, pong) and of a close reason. */
#define IOF_WS_MAX_CONTROL 125
#define IOF_WS_MAX_REASON  123

#endif
