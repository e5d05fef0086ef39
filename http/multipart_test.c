/* Tests of the multipart/form-data part finder: every case runs through the one-shot parser and
 * through the streaming one fed in pieces of several sizes, which must agree exactly. */
#include "http/multipart.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct collect {
    uint8_t *data;
    size_t len, cap;
};

static iof_err collect_sink(void *ctx, const uint8_t *data, size_t len, struct iof_diag *d) {
    struct collect *c = ctx;
    if (c->len + len > c->cap) {
        return iof_fail(d, IOF_E2BIG, "collector full");
    }
    memcpy(c->data + c->len, data, len);
    c->len += len;
    return IOF_OK;
}

/* The streaming parser fed in pieces of `step` bytes; *c gets the part. */
static iof_err stream_get(const char *ct,
                          const uint8_t *body,
                          size_t len,
                          const char *field,
                          size_t step,
                          struct collect *c,
                          struct iof_diag *d) {
    struct iof_http_multipart_stream *s = NULL;
    iof_err err = iof_http_multipart_stream_new(ct, field, collect_sink, c, &s, d);
    if (err != IOF_OK) {
        return err;
    }
    for (size_t off = 0; off < len && err == IOF_OK; off += step) {
        size_t n = len - off < step ? len - off : step;
        err = iof_http_multipart_stream_feed(s, body + off, n, d);
    }
    if (err == IOF_OK) {
        err = iof_http_multipart_stream_finish(s, d);
    }
    if (err == IOF_OK) {
        assert_int_equal(iof_http_multipart_stream_part_len(s), c->len);
    }
    iof_http_multipart_stream_free(s);
    return err;
}

static iof_err get(const char *ct,
                   const char *body,
                   size_t len,
                   const char *field,
                   char *out,
                   size_t cap,
                   struct iof_diag *d) {
    const uint8_t *p = NULL;
    size_t n = 0;
    iof_err err = iof_http_multipart_part(ct, (const uint8_t *)body, len, field, &p, &n, d);
    if (err == IOF_OK) {
        assert_true(n < cap);
        assert_true(p >= (const uint8_t *)body && p + n <= (const uint8_t *)body + len);
        memcpy(out, p, n);
        out[n] = '\0';
    }
    const size_t steps[] = {1, 2, 3, 7, 64, len > 0 ? len : 1};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct collect c = {.data = malloc(len + 1), .cap = len};
        assert_non_null(c.data);
        struct iof_diag sd = {{0}};
        iof_err serr = stream_get(ct, (const uint8_t *)body, len, field, steps[i], &c, &sd);
        assert_int_equal(serr, err);
        if (d != NULL && err != IOF_OK) {
            assert_string_equal(sd.msg, d->msg);
        }
        if (err == IOF_OK) {
            assert_int_equal(c.len, n);
            assert_memory_equal(c.data, p, n);
        }
        free(c.data);
    }
    return err;
}

static const char curl_body[] = "--------------------------d74496d66958873e\r\n"
                                "Content-Disposition: form-data; name=\"other\"\r\n"
                                "\r\n"
                                "ignored\r\n"
                                "--------------------------d74496d66958873e\r\n"
                                "Content-Disposition: form-data; name=\"application\"; "
                                "filename=\"app.yaml\"\r\n"
                                "Content-Type: application/octet-stream\r\n"
                                "\r\n"
                                "kind: Application\r\nmetadata:\r\n  name: a\r\n"
                                "--------------------------d74496d66958873e--\r\n";
static const char curl_ct[] =
    "multipart/form-data; boundary=------------------------d74496d66958873e";

static void test_finds_named_part(void **state) {
    (void)state;
    char out[256];
    struct iof_diag d = {{0}};
    assert_int_equal(
        get(curl_ct, curl_body, sizeof curl_body - 1, "application", out, sizeof out, &d), IOF_OK);
    assert_string_equal(out, "kind: Application\r\nmetadata:\r\n  name: a");
    assert_int_equal(get(curl_ct, curl_body, sizeof curl_body - 1, "other", out, sizeof out, &d),
                     IOF_OK);
    assert_string_equal(out, "ignored");
    assert_int_equal(get(curl_ct, curl_body, sizeof curl_body - 1, "template", out, sizeof out, &d),
                     IOF_ENOENT);
    assert_string_equal(d.msg, "Required field 'template' is missing");
}

static void test_variants(void **state) {
    (void)state;
    char out[256];
    struct iof_diag d = {{0}};
    /* Quoted boundary, preamble, LF-only headers, empty part, binary bytes with NUL. */
    static const char body[] = "preamble text\r\n--AaB03x\r\n"
                               "content-disposition: form-data; name=empty\n\n"
                               "\r\n--AaB03x  \r\n"
                               "Content-Disposition: form-data; name=\"f\\\"q\"\r\n\r\n"
                               "a\0b\r\n--AaB03x--";
    const char *ct = "Multipart/Form-Data; charset=utf-8; boundary=\"AaB03x\"";
    assert_int_equal(get(ct, body, sizeof body - 1, "empty", out, sizeof out, &d), IOF_OK);
    assert_string_equal(out, "");
    const uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(
        iof_http_multipart_part(ct, (const uint8_t *)body, sizeof body - 1, "f\"q", &p, &n, &d),
        IOF_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);
}

static void test_malformed(void **state) {
    (void)state;
    char out[64];
    struct iof_diag d = {{0}};
    assert_int_equal(get("application/json", "{}", 2, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid content type: multipart/form-data expected");
    assert_int_equal(get(NULL, "{}", 2, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_int_equal(get("multipart/form-data", "x", 1, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "boundary"));
    const char *ct = "multipart/form-data; boundary=XX";
    static const char unclosed[] = "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc";
    assert_int_equal(get(ct, unclosed, sizeof unclosed - 1, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid multipart body: no closing boundary");
    static const char noheaders_end[] = "--XX\r\nContent-Disposition: form-data; name=\"a\"";
    assert_int_equal(get(ct, noheaders_end, sizeof noheaders_end - 1, "a", out, sizeof out, &d),
                     IOF_EINVAL);
    static const char not_form[] = "--XX\r\nContent-Disposition: attachment\r\n\r\nx\r\n--XX--";
    assert_int_equal(get(ct, not_form, sizeof not_form - 1, "a", out, sizeof out, &d), IOF_EINVAL);
    assert_int_equal(get(ct, "", 0, "a", out, sizeof out, &d), IOF_EINVAL);
    static const char nocrlf[] = "--XXjunk\r\n\r\nx\r\n--XX--";
    assert_int_equal(get(ct, nocrlf, sizeof nocrlf - 1, "a", out, sizeof out, &d), IOF_EINVAL);
    /* A boundary over 70 characters is refused. */
    char longct[200];
    (void)snprintf(longct, sizeof longct, "multipart/form-data; boundary=%0100d", 7);
    assert_int_equal(get(longct, "x", 1, "a", out, sizeof out, &d), IOF_EINVAL);
    /* Too many parts. */
    size_t cap = 100 * 64;
    char *many = malloc(cap);
    assert_non_null(many);
    size_t len = 0;
    for (int i = 0; i < 70; i++) {
        len += (size_t)snprintf(many + len,
                                cap - len,
                                "--XX\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\nv\r\n",
                                i);
    }
    len += (size_t)snprintf(many + len, cap - len, "--XX--\r\n");
    assert_int_equal(get(ct, many, len, "p69", out, sizeof out, &d), IOF_EINVAL);
    assert_string_equal(d.msg, "Invalid multipart body: too many parts");
    assert_int_equal(get(ct, many, len, "p3", out, sizeof out, &d), IOF_OK);
    assert_string_equal(out, "v");
    free(many);
}

/* A part of several MiB with CRs, delimiter prefixes and near-delimiters in it, fed in uneven
 * pieces: the sink gets exactly the part, in pieces of at most IOF_MULTIPART_STREAM_OUT bytes. */
struct piece_check {
    struct collect c;
    size_t max_piece;
};

static iof_err piece_sink(void *ctx, const uint8_t *data, size_t len, struct iof_diag *d) {
    struct piece_check *pc = ctx;
    if (len > pc->max_piece) {
        pc->max_piece = len;
    }
    return collect_sink(&pc->c, data, len, d);
}

static void test_stream_large(void **state) {
    (void)state;
    const char *ct = "multipart/form-data; boundary=abcabd";
    const size_t part_len = 3u << 20;
    uint8_t *part = malloc(part_len);
    assert_non_null(part);
    uint32_t x = 12345;
    for (size_t i = 0; i < part_len; i++) {
        x = x * 1103515245u + 12345u;
        part[i] = (uint8_t)(x >> 24);
    }
    /* Sprinkle prefixes of the delimiter, including self-overlapping ones. */
    static const char *const near[] = {"\r\n--abcab", "\r\n--abcabc", "\r\r\n--ab", "\r\n-", "\r"};
    for (size_t i = 0, k = 0; i + 16 < part_len; i += 4099, k++) {
        const char *t = near[k % 5];
        memcpy(part + i, t, strlen(t));
        part[i + strlen(t)] = 'x'; /* never completes the delimiter by chance */
    }
    static const char head[] = "--abcabd\r\nContent-Disposition: form-data; name=\"skip\"\r\n\r\n"
                               "\r\n--abcab\r\n--abcabd\r\n"
                               "Content-Disposition: form-data; name=\"upstream\"; "
                               "filename=\"x.tar.gz\"\r\nContent-Type: application/zip\r\n\r\n";
    static const char tail[] = "\r\n--abcabd--\r\n";
    size_t len = sizeof head - 1 + part_len + sizeof tail - 1;
    uint8_t *body = malloc(len);
    assert_non_null(body);
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof head - 1, part, part_len);
    memcpy(body + sizeof head - 1 + part_len, tail, sizeof tail - 1);

    const uint8_t *one = NULL;
    size_t one_len = 0;
    assert_int_equal(iof_http_multipart_part(ct, body, len, "upstream", &one, &one_len, NULL),
                     IOF_OK);
    assert_int_equal(one_len, part_len);
    struct piece_check pc = {.c = {.data = malloc(part_len), .cap = part_len}};
    assert_non_null(pc.c.data);
    struct iof_http_multipart_stream *s = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_http_multipart_stream_new(ct, "upstream", piece_sink, &pc, &s, &d),
                     IOF_OK);
    size_t off = 0, step = 1;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        assert_int_equal(iof_http_multipart_stream_feed(s, body + off, n, &d), IOF_OK);
        off += n;
        step = step * 7 % 100003 + 1;
    }
    assert_int_equal(iof_http_multipart_stream_finish(s, &d), IOF_OK);
    assert_int_equal(pc.c.len, part_len);
    assert_memory_equal(pc.c.data, part, part_len);
    assert_true(pc.max_piece <= IOF_MULTIPART_STREAM_OUT);
    iof_http_multipart_stream_free(s);

    /* A sink error stops the parse and is returned from then on. */
    pc.c.len = 0;
    pc.c.cap = 1000;
    assert_int_equal(iof_http_multipart_stream_new(ct, "upstream", piece_sink, &pc, &s, &d),
                     IOF_OK);
    assert_int_equal(iof_http_multipart_stream_feed(s, body, len, &d), IOF_E2BIG);
    assert_string_equal(d.msg, "collector full");
    assert_int_equal(iof_http_multipart_stream_feed(s, body, 10, &d), IOF_E2BIG);
    assert_int_equal(iof_http_multipart_stream_finish(s, &d), IOF_E2BIG);
    iof_http_multipart_stream_free(s);
    free(pc.c.data);
    free(body);
    free(part);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_named_part),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_stream_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
