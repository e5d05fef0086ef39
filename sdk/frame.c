/* Parser of the binary WebSocket messages the Agent sends on the control and message sockets
 * (agent.md §1.4). Every length is checked by the iomessage module before it is used. */
#include "sdk/internal.h"

#include <string.h>

iof_err iofog_sdk_frame_parse(const uint8_t *data,
                              size_t len,
                              size_t max_message,
                              struct iofog_sdk_frame *out,
                              struct iof_diag *d) {
    if (data == NULL || len == 0) {
        return iof_fail(d, IOF_EPROTO, "empty frame");
    }
    struct iofog_sdk_frame f;
    memset(&f, 0, sizeof f);
    switch (data[0]) {
        case IOF_MSG_OP_CONTROL_SIGNAL: f.kind = SDK_FRAME_CONTROL_SIGNAL; break;
        case IOF_MSG_OP_RESOURCE_SIGNAL: f.kind = SDK_FRAME_RESOURCE_SIGNAL; break;
        case IOF_MSG_OP_PING: f.kind = SDK_FRAME_PING; break;
        case IOF_MSG_OP_PONG: f.kind = SDK_FRAME_PONG; break;
        case IOF_MSG_OP_ACK: f.kind = SDK_FRAME_ACK; break;
        case IOF_MSG_OP_MESSAGE: {
            const uint8_t *body = NULL;
            size_t body_len = 0;
            iof_err err = iof_msg_frame_parse(data, len, &body, &body_len, d);
            if (err != IOF_OK) {
                return err;
            }
            if (body_len > max_message) {
                return iof_fail(d, IOF_E2BIG, "message of %zu bytes over the limit", body_len);
            }
            err = iof_msg_decode(body, body_len, &f.msg, d);
            if (err != IOF_OK) {
                return err;
            }
            f.kind = SDK_FRAME_MESSAGE;
            break;
        }
        case IOF_MSG_OP_RECEIPT: {
            iof_err err = iof_msg_receipt_parse(data, len, f.id, sizeof f.id, &f.timestamp, d);
            if (err != IOF_OK) {
                return err;
            }
            f.kind = SDK_FRAME_RECEIPT;
            break;
        }
        default: return iof_fail(d, IOF_EPROTO, "unknown opcode 0x%02X", data[0]);
    }
    *out = f;
    return IOF_OK;
}
