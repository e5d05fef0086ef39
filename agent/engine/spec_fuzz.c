/* libFuzzer target: microservice descriptors from the Controller (untrusted JSON) through
 * validation and create-body building, and the input as an image reference, whose canonical text
 * must parse back to the same reference. Seeds: agent/fuzz-corpus/spec. */
#include "common/imageref.h"
#include "agent/engine/spec.h"
#include "common/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void imageref_roundtrip(const uint8_t *data, size_t size) {
    char text[IOF_IMAGEREF_MAX + 8];
    if (size >= sizeof text || memchr(data, '\0', size) != NULL) {
        return;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    struct iof_imageref a;
    struct iof_imageref b;
    if (iof_imageref_parse(text, &a, NULL) != IOF_OK) {
        return;
    }
    char canon[IOF_IMAGEREF_MAX + 300];
    if (iof_imageref_format(&a, canon, sizeof canon) != IOF_OK) {
        abort();
    }
    if (strlen(canon) < IOF_IMAGEREF_MAX &&
        (iof_imageref_parse(canon, &b, NULL) != IOF_OK || memcmp(&a, &b, sizeof a) != 0)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    imageref_roundtrip(data, size);
    json_t *item = NULL;
    if (iof_json_parse((const char *)data, size, &item, NULL) != IOF_OK) {
        return 0;
    }
    json_t *regs = json_pack("[{s:i, s:s, s:b}, {s:i, s:s, s:b, s:s, s:s}]",
                             "id",
                             2,
                             "url",
                             "from_cache",
                             "isPublic",
                             1,
                             "id",
                             3,
                             "url",
                             "127.0.0.1:5000",
                             "isPublic",
                             0,
                             "username",
                             "u",
                             "password",
                             "p");
    struct agent_spec *s = NULL;
    if (agent_spec_parse(item, regs, &s, NULL) == IOF_OK) {
        struct agent_spec_host h = {
            .agent_uuid = "a", .host_address = "172.17.0.1", .time_zone = "UTC"};
        json_t *body = NULL;
        char hash[17];
        if (agent_spec_body(s, &h, &body, hash) == IOF_OK) {
            if (strlen(hash) != 16 || !json_is_object(body)) {
                abort();
            }
            json_decref(body);
        }
        agent_spec_free(s);
    }
    json_decref(regs);
    json_decref(item);
    return 0;
}
