/* libFuzzer target: the multipart/form-data part finder on an untrusted body. The first input line
 * is the Content-Type, the rest the body; a found part must lie inside the body. Seeds:
 * http/fuzz-corpus/multipart. */
#include "http/multipart.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL || nl - data > 200) {
        return 0;
    }
    char ct[201];
    size_t ctl = (size_t)(nl - data);
    memcpy(ct, data, ctl);
    ct[ctl] = '\0';
    const uint8_t *body = nl + 1;
    size_t len = size - ctl - 1;
    static const char *const fields[] = {"application", "template", "microservice", ""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const uint8_t *part = NULL;
        size_t n = 0;
        if (iof_http_multipart_part(ct, body, len, fields[i], &part, &n, NULL) == IOF_OK &&
            (part < body || n > len || part + n > body + len)) {
            abort();
        }
    }
    return 0;
}
