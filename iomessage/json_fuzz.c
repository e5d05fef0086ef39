/* libFuzzer target: the ioMessage JSON decoder on untrusted text (strict JSON parse, then the
 * tolerant field reader). What it accepts must encode to binary and decode back to the same JSON.
 * Seeds: iomessage/fuzz-corpus/json. */
#include "iomessage/iomessage.h"

#include "common/json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *j = NULL;
    if (iof_json_parse((const char *)data, size, &j, NULL) != IOF_OK) {
        return 0;
    }
    struct iof_msg *m = NULL;
    if (iof_msg_from_json(j, &m, NULL) == IOF_OK) {
        uint8_t *buf = NULL;
        size_t len = 0;
        check(iof_msg_encode_alloc(m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, NULL) == IOF_OK);
        struct iof_msg *back = NULL;
        check(iof_msg_decode(buf, len, &back, NULL) == IOF_OK);
        json_t *j1 = NULL, *j2 = NULL;
        check(iof_msg_to_json(m, &j1, NULL) == IOF_OK);
        check(iof_msg_to_json(back, &j2, NULL) == IOF_OK);
        /* The binary form always carries version 4; compare everything else. */
        json_object_del(j1, "version");
        json_object_del(j2, "version");
        check(json_equal(j1, j2));
        json_decref(j1);
        json_decref(j2);
        iof_msg_free(back);
        free(buf);
        iof_msg_free(m);
    }
    json_decref(j);
    return 0;
}
