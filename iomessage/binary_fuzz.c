/* libFuzzer target: the ioMessage binary decoder (strict and repairing) and the message-socket
 * frame parser, fed untrusted bytes. Whatever decodes must re-encode (both widths), decode again
 * to the same JSON, and survive the JSON codec; what the repairing decoder accepts must encode.
 * Seeds: iomessage/fuzz-corpus/binary. */
#include "iomessage/iomessage.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *inner = NULL;
    size_t inner_len = 0;
    if (iof_msg_frame_parse(data, size, &inner, &inner_len, NULL) == IOF_OK) {
        check(inner_len + 5 == size);
    }
    char id[256];
    int64_t ts;
    (void)iof_msg_receipt_parse(data, size, id, sizeof id, &ts, NULL);

    struct iof_msg *m = NULL;
    size_t repaired = 0;
    if (iof_msg_decode_repair(data, size, &m, &repaired, NULL) == IOF_OK) {
        uint8_t *buf = NULL;
        size_t len = 0;
        check(iof_msg_encode_alloc(m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, NULL) == IOF_OK);
        struct iof_msg *again = NULL;
        check(iof_msg_decode(buf, len, &again, NULL) == IOF_OK);
        iof_msg_free(again);
        free(buf);
        iof_msg_free(m);
        m = NULL;
    } else {
        check(m == NULL);
    }
    if (iof_msg_decode(data, size, &m, NULL) != IOF_OK) {
        check(m == NULL);
        return 0;
    }
    json_t *j1 = NULL;
    check(iof_msg_to_json(m, &j1, NULL) == IOF_OK);
    for (int w = 0; w <= 1; w++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        check(iof_msg_encode_alloc(m, (enum iof_msg_width)w, &buf, &len, NULL) == IOF_OK);
        struct iof_msg *again = NULL;
        check(iof_msg_decode(buf, len, &again, NULL) == IOF_OK);
        json_t *j2 = NULL;
        check(iof_msg_to_json(again, &j2, NULL) == IOF_OK);
        check(json_equal(j1, j2));
        json_decref(j2);
        iof_msg_free(again);
        free(buf);
    }
    struct iof_msg *from_json = NULL;
    check(iof_msg_from_json(j1, &from_json, NULL) == IOF_OK);
    iof_msg_free(from_json);
    json_decref(j1);
    iof_msg_free(m);
    return 0;
}
