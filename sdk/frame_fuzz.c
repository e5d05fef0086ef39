/* libFuzzer target: the parser of frames the Agent sends on the control and message sockets
 * (signals, 0x0D message frames, 0x0E receipts), fed untrusted bytes. A frame that parses as a
 * message must re-encode to the same number of bytes it came in; a receipt id must be a string
 * shorter than its buffer. Seeds: sdk/fuzz-corpus/frame. */
#include "sdk/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct iofog_sdk_frame f;
    struct iof_diag d = {0};
    if (iofog_sdk_frame_parse(data, size, (size_t)1 << 20, &f, &d) != IOF_OK) {
        return 0;
    }
    switch (f.kind) {
        case SDK_FRAME_MESSAGE: {
            struct iofog_message *pub = NULL;
            check(iofog_sdk_msg_wrap(f.msg, &pub) == IOF_OK);
            char *json = NULL;
            if (iofog_message_to_json(pub, &json) == IOFOG_OK) {
                struct iofog_message *back = NULL;
                check(iofog_message_from_json(json, strlen(json), &back) == IOFOG_OK);
                check(back->contentdata_len == pub->contentdata_len);
                iofog_message_free(back);
                iofog_free(json);
            }
            iofog_message_free(pub);
            break;
        }
        case SDK_FRAME_RECEIPT: check(strlen(f.id) < sizeof f.id); break;
        default: check(size >= 1); break;
    }
    return 0;
}
