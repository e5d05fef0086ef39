/* ioMessage v4: the message format microservices exchange through the Agent (spec: agent.md §2,
 * vectors: ../shared/testdata/iomessage-vectors.json).
 *
 * Three embodiments are handled here:
 *   - binary: a 33-byte header of big-endian field lengths, then the 19 field values;
 *   - JSON: lowercase keys, contextdata/contentdata as standard base64;
 *   - the message-socket frames: 0x0D | len32 | binary message, and the receipt
 *     0x0E | idLen | tsLen | id | timestamp.
 * Encoders write the classic Java agent's widths by default (value 0 -> length 0; int32 fields 4
 * bytes, priority 1, int64 fields 8), which every SDK reads. Decoders accept any width 0..8 for a
 * number and check every length against the input, so no input can make them read out of bounds.
 * Length fields are unsigned (the classic agent reads them as signed, which corrupts strings of 128
 * bytes or more in 1-byte fields); strings must be UTF-8 without NUL bytes. */
#ifndef IOF_IOMESSAGE_H
#define IOF_IOMESSAGE_H

#include "common/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IOF_MSG_VERSION     4
#define IOF_MSG_HEADER_SIZE 33
/* Hard ceiling for one encoded message; callers usually configure something smaller. */
#define IOF_MSG_MAX_SIZE ((size_t)64 * 1024 * 1024)

/* First byte of a binary WebSocket frame on the Local API sockets (agent.md §1.4). */
enum iof_msg_opcode {
    IOF_MSG_OP_PING = 0x09,
    IOF_MSG_OP_PONG = 0x0A,
    IOF_MSG_OP_ACK = 0x0B,
    IOF_MSG_OP_CONTROL_SIGNAL = 0x0C,
    IOF_MSG_OP_MESSAGE = 0x0D,
    IOF_MSG_OP_RECEIPT = 0x0E,
    IOF_MSG_OP_RESOURCE_SIGNAL = 0x0F,
};

/* A message. String fields are NUL-terminated UTF-8 and NULL means empty; data fields are bytes
 * with a length (NULL with length 0 means empty). For a message you build, the pointers are yours
 * and are only read. For a message returned by a decoder, everything lives in the one allocation
 * released by iof_msg_free(). */
struct iof_msg {
    int64_t version; /* 4 on the wire; JSON re-hydrated by classic agents may carry 0 */
    const char *id;
    const char *tag;
    const char *groupid;
    int64_t sequencenumber; /* int32 on the wire */
    int64_t sequencetotal;  /* int32 on the wire */
    int64_t priority;       /* int8 on the wire */
    int64_t timestamp;      /* ms since the epoch */
    const char *publisher;
    const char *authid;
    const char *authgroup;
    int64_t chainposition;
    const char *hash;
    const char *previoushash;
    const char *nonce;
    int64_t difficultytarget; /* int32 on the wire; JSON reals are truncated */
    const char *infotype;
    const char *infoformat;
    const uint8_t *contextdata;
    size_t contextdata_len;
    const uint8_t *contentdata;
    size_t contentdata_len;
};

enum iof_msg_width {
    IOF_MSG_WIDTH_CLASSIC = 0, /* as the Java agent and Node SDK write */
    IOF_MSG_WIDTH_MINIMAL = 1, /* fewest bytes, 0 as one 0x00 byte, as the Go and old C SDKs */
};

/* Releases a message returned by a decoder. NULL is a no-op. */
void iof_msg_free(struct iof_msg *msg);

/* Checks the fields of a message for encoding: lengths fit their length fields, strings are UTF-8,
 * numbers fit their wire types. IOF_EINVAL naming the field otherwise. */
IOF_NODISCARD iof_err iof_msg_validate(const struct iof_msg *msg, struct iof_diag *d);

/* Size of the binary encoding (IOF_EINVAL if the message does not validate). */
IOF_NODISCARD iof_err iof_msg_encoded_size(const struct iof_msg *msg,
                                           enum iof_msg_width width,
                                           size_t *out_size,
                                           struct iof_diag *d);

/* Encodes into out[0..size). IOF_E2BIG if size is too small, IOF_EINVAL if the message does not
 * validate. *out_len is the number of bytes written. */
IOF_NODISCARD iof_err iof_msg_encode(const struct iof_msg *msg,
                                     enum iof_msg_width width,
                                     uint8_t *out,
                                     size_t size,
                                     size_t *out_len,
                                     struct iof_diag *d);

/* Encodes into a new buffer the caller frees with free(). */
IOF_NODISCARD iof_err iof_msg_encode_alloc(const struct iof_msg *msg,
                                           enum iof_msg_width width,
                                           uint8_t **out,
                                           size_t *out_len,
                                           struct iof_diag *d);

/* Decodes exactly len bytes (trailing bytes are an error). On success *out is a new message the
 * caller releases with iof_msg_free(). IOF_EINVAL with a reason on malformed input,
 * IOF_EUNSUPPORTED for a version other than 4, IOF_E2BIG above IOF_MSG_MAX_SIZE, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_msg_decode(const uint8_t *data,
                                     size_t len,
                                     struct iof_msg **out,
                                     struct iof_diag *d);

/* Like iof_msg_decode, but ill-formed UTF-8 in a string field is read the classic Agent's way
 * (`new String(bytes)`: each ill-formed sequence becomes U+FFFD) instead of refused, e.g. a tag
 * a Node SDK sent as Latin-1. *repaired (may be NULL) is the number of sequences replaced. NUL
 * bytes, and text that no longer fits its length field once repaired, are still IOF_EINVAL. */
IOF_NODISCARD iof_err iof_msg_decode_repair(
    const uint8_t *data, size_t len, struct iof_msg **out, size_t *repaired, struct iof_diag *d);

/* JSON form with every key present (agent.md §1.2); a new reference the caller releases with
 * json_decref(). IOF_EINVAL if a string is not UTF-8, IOF_ENOMEM. */
IOF_NODISCARD iof_err iof_msg_to_json(const struct iof_msg *msg, json_t **out, struct iof_diag *d);

/* Reads the JSON form tolerantly: absent or null keys are empty/0, numbers may be JSON numbers or
 * strings of digits, version 0 is accepted. Base64 must be standard with padding. On success *out
 * is a new message the caller releases with iof_msg_free(). IOF_EINVAL naming the field otherwise.
 */
IOF_NODISCARD iof_err iof_msg_from_json(const json_t *obj,
                                        struct iof_msg **out,
                                        struct iof_diag *d);

/* Message-socket frame: 0x0D, 4-byte big-endian length, binary message (classic widths). New
 * buffer, caller frees with free(). */
IOF_NODISCARD iof_err iof_msg_frame_encode(const struct iof_msg *msg,
                                           uint8_t **out,
                                           size_t *out_len,
                                           struct iof_diag *d);

/* Finds the message inside a 0x0D frame: *msg points into frame (borrowed). IOF_EINVAL when the
 * opcode is not 0x0D, the frame is shorter than 5 bytes or the length does not match the rest. */
IOF_NODISCARD iof_err iof_msg_frame_parse(
    const uint8_t *frame, size_t len, const uint8_t **msg, size_t *msg_len, struct iof_diag *d);

/* Receipt frame 0x0E | idLen | 8 | id | timestamp (big-endian ms), the classic agent's framing.
 * id must be at most 255 bytes. out must hold 3 + strlen(id) + 8 bytes (IOF_E2BIG otherwise). */
IOF_NODISCARD iof_err iof_msg_receipt_encode(
    const char *id, int64_t timestamp, uint8_t *out, size_t size, size_t *out_len);

/* The same frame with the timestamp in ts_width bytes (6 or 8): 6 for clients that cannot read a
 * wider number (the Node.js SDK on Node.js 10 and later reads it with Buffer.readUIntBE, which
 * throws beyond 6 bytes). IOF_EINVAL for another width, or a timestamp outside 0..2^48-1 with 6;
 * out must hold 3 + strlen(id) + ts_width bytes (IOF_E2BIG otherwise). */
IOF_NODISCARD iof_err iof_msg_receipt_encode_width(const char *id,
                                                   int64_t timestamp,
                                                   unsigned ts_width,
                                                   uint8_t *out,
                                                   size_t size,
                                                   size_t *out_len);

/* Parses a receipt frame. id_out receives the id NUL-terminated (id_size >= 256 always fits).
 * A timestamp width of 0..8 bytes is accepted. */
IOF_NODISCARD iof_err iof_msg_receipt_parse(const uint8_t *frame,
                                            size_t len,
                                            char *id_out,
                                            size_t id_size,
                                            int64_t *timestamp,
                                            struct iof_diag *d);

#endif
