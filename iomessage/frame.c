/* Message-socket frames (agent.md §1.4): 0x0D message frames and 0x0E receipts. */
#include "iomessage/iomessage.h"

#include <stdlib.h>
#include <string.h>

iof_err iof_msg_frame_encode(const struct iof_msg *msg,
                             uint8_t **out,
                             size_t *out_len,
                             struct iof_diag *d) {
    size_t n;
    iof_err err = iof_msg_encoded_size(msg, IOF_MSG_WIDTH_CLASSIC, &n, d);
    if (err != IOF_OK) {
        return err;
    }
    uint8_t *buf = malloc(n + 5);
    if (buf == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    size_t written;
    err = iof_msg_encode(msg, IOF_MSG_WIDTH_CLASSIC, buf + 5, n, &written, d);
    if (err != IOF_OK) {
        free(buf);
        return err;
    }
    buf[0] = IOF_MSG_OP_MESSAGE;
    buf[1] = (uint8_t)(written >> 24);
    buf[2] = (uint8_t)(written >> 16);
    buf[3] = (uint8_t)(written >> 8);
    buf[4] = (uint8_t)written;
    *out = buf;
    *out_len = written + 5;
    return IOF_OK;
}

iof_err iof_msg_frame_parse(
    const uint8_t *frame, size_t len, const uint8_t **msg, size_t *msg_len, struct iof_diag *d) {
    if (len < 5) {
        return iof_fail(d, IOF_EINVAL, "message frame of %zu bytes is too short", len);
    }
    if (frame[0] != IOF_MSG_OP_MESSAGE) {
        return iof_fail(d, IOF_EINVAL, "opcode 0x%02x is not a message frame", frame[0]);
    }
    uint32_t n =
        (uint32_t)frame[1] << 24 | (uint32_t)frame[2] << 16 | (uint32_t)frame[3] << 8 | frame[4];
    if (n != len - 5) {
        return iof_fail(d, IOF_EINVAL, "message frame says %u bytes but carries %zu", n, len - 5);
    }
    *msg = frame + 5;
    *msg_len = n;
    return IOF_OK;
}

iof_err iof_msg_receipt_encode(
    const char *id, int64_t timestamp, uint8_t *out, size_t size, size_t *out_len) {
    return iof_msg_receipt_encode_width(id, timestamp, 8, out, size, out_len);
}

iof_err iof_msg_receipt_encode_width(const char *id,
                                     int64_t timestamp,
                                     unsigned ts_width,
                                     uint8_t *out,
                                     size_t size,
                                     size_t *out_len) {
    size_t n = strlen(id);
    if (n > 255 || (ts_width != 6 && ts_width != 8)) {
        return IOF_EINVAL;
    }
    uint64_t ts = (uint64_t)timestamp;
    if (ts_width == 6 && (timestamp < 0 || ts >> 48 != 0)) {
        return IOF_EINVAL;
    }
    if (size < 3 + n + ts_width) {
        return IOF_E2BIG;
    }
    out[0] = IOF_MSG_OP_RECEIPT;
    out[1] = (uint8_t)n;
    out[2] = (uint8_t)ts_width;
    memcpy(out + 3, id, n);
    for (unsigned i = 0; i < ts_width; i++) {
        out[3 + n + i] = (uint8_t)(ts >> (8 * (ts_width - 1 - i)));
    }
    *out_len = 3 + n + ts_width;
    return IOF_OK;
}

iof_err iof_msg_receipt_parse(const uint8_t *frame,
                              size_t len,
                              char *id_out,
                              size_t id_size,
                              int64_t *timestamp,
                              struct iof_diag *d) {
    if (len < 3 || frame[0] != IOF_MSG_OP_RECEIPT) {
        return iof_fail(d, IOF_EINVAL, "not a receipt frame");
    }
    size_t id_len = frame[1];
    size_t ts_len = frame[2];
    if (ts_len > 8 || len != 3 + id_len + ts_len) {
        return iof_fail(d, IOF_EINVAL, "receipt lengths do not match the frame");
    }
    if (id_len + 1 > id_size) {
        return iof_fail(d, IOF_E2BIG, "receipt id does not fit");
    }
    if (memchr(frame + 3, 0, id_len) != NULL) {
        return iof_fail(d, IOF_EINVAL, "receipt id contains a NUL byte");
    }
    uint64_t ts = 0;
    for (size_t i = 0; i < ts_len; i++) {
        ts = ts << 8 | frame[3 + id_len + i];
    }
    memcpy(id_out, frame + 3, id_len);
    id_out[id_len] = '\0';
    *timestamp = (int64_t)ts;
    return IOF_OK;
}
