/* libFuzzer target: the multipart/form-data part finder on an untrusted body. The first input line
 * is the Content-Type, the rest the body; a found part must lie inside the body. The streaming
 * parser gets the same body in pieces whose sizes come from the input and must give the same
 * answer, the same message and the same bytes. Seeds: http/fuzz-corpus/multipart. */
#include "http/multipart.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct collect {
    uint8_t *data;
    size_t len, cap;
};

static iof_err collect_sink(void *ctx, const uint8_t *p, size_t n, struct iof_diag *d) {
    struct collect *c = ctx;
    if (n > IOF_MULTIPART_STREAM_OUT || c->len + n > c->cap) {
        (void)d;
        abort(); /* the part cannot be longer than the body */
    }
    memcpy(c->data + c->len, p, n);
    c->len += n;
    return IOF_OK;
}

static iof_err streamed(const char *ct,
                        const uint8_t *body,
                        size_t len,
                        const char *field,
                        uint32_t seed,
                        struct collect *c,
                        struct iof_diag *d) {
    struct iof_http_multipart_stream *s = NULL;
    iof_err err = iof_http_multipart_stream_new(ct, field, collect_sink, c, &s, d);
    size_t off = 0;
    while (err == IOF_OK && off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 97;
        size_t n = len - off < step ? len - off : step;
        err = iof_http_multipart_stream_feed(s, body + off, n, d);
        off += n;
    }
    if (err == IOF_OK) {
        err = iof_http_multipart_stream_finish(s, d);
    }
    iof_http_multipart_stream_free(s);
    return err;
}

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
    struct collect c = {.data = malloc(len + 1), .cap = len};
    if (c.data == NULL) {
        return 0;
    }
    static const char *const fields[] = {"application", "template", "microservice", ""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const uint8_t *part = NULL;
        size_t n = 0;
        struct iof_diag d1 = {{0}}, d2 = {{0}};
        iof_err e1 = iof_http_multipart_part(ct, body, len, fields[i], &part, &n, &d1);
        if (e1 == IOF_OK && (part < body || n > len || part + n > body + len)) {
            abort();
        }
        c.len = 0;
        iof_err e2 = streamed(ct, body, len, fields[i], (uint32_t)(size * 31 + i), &c, &d2);
        if (e1 != e2 || (e1 != IOF_OK && strcmp(d1.msg, d2.msg) != 0) ||
            (e1 == IOF_OK && (c.len != n || memcmp(c.data, part, n) != 0))) {
            abort();
        }
    }
    free(c.data);
    return 0;
}
