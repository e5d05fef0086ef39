/* ioMessage codec tests: every vector of ../shared/testdata/iomessage-vectors.json plus edge cases
 * the vectors do not cover (negative numbers, limits, UTF-8, truncation at every length). */
#include "iomessage/iomessage.h"

#include "common/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *vectors;

static int load_vectors(void **state) {
    (void)state;
    json_error_t e;
    vectors = json_load_file(IOFOG_TESTDATA_DIR "/iomessage-vectors.json", 0, &e);
    if (vectors == NULL) {
        fprintf(stderr, "cannot load vectors: %s\n", e.text);
        return -1;
    }
    return 0;
}

static int free_vectors(void **state) {
    (void)state;
    json_decref(vectors);
    return 0;
}

/* Decodes hex text into a new buffer (test helper; aborts the test on bad hex). */
static uint8_t *unhex(const char *hex, size_t *len) {
    size_t n = strlen(hex);
    assert_int_equal(n % 2, 0);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return out;
}

static void assert_json_same(const json_t *got, const json_t *want) {
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "got:  %.400s\nwant: %.400s\n", g, w);
        free(g);
        free(w);
        fail_msg("JSON differs");
    }
}

static void check_binary_decodes_to(const char *hex, const json_t *want) {
    size_t len;
    uint8_t *bin = unhex(hex, &len);
    struct iof_msg *m = NULL;
    struct iof_diag d = {{0}};
    iof_err err = iof_msg_decode(bin, len, &m, &d);
    if (err != IOF_OK) {
        fail_msg("decode failed: %s", d.msg);
    }
    json_t *got = NULL;
    assert_int_equal(iof_msg_to_json(m, &got, &d), IOF_OK);
    assert_json_same(got, want);
    json_decref(got);
    iof_msg_free(m);
    free(bin);
}

static void check_encodes_to(const struct iof_msg *m, enum iof_msg_width w, const char *hex) {
    size_t want_len;
    uint8_t *want = unhex(hex, &want_len);
    uint8_t *got = NULL;
    size_t got_len = 0;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_msg_encode_alloc(m, w, &got, &got_len, &d), IOF_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    size_t size = 0;
    assert_int_equal(iof_msg_encoded_size(m, w, &size, &d), IOF_OK);
    assert_int_equal(size, want_len);
    /* One byte short of room must fail cleanly. */
    size_t ignored;
    assert_int_equal(iof_msg_encode(m, w, got, want_len - 1, &ignored, &d), IOF_E2BIG);
    free(got);
    free(want);
}

static void test_vectors(void **state) {
    (void)state;
    const json_t *list = json_object_get(vectors, "vectors");
    assert_true(json_array_size(list) >= 3);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        const json_t *want = json_object_get(v, "json");
        const char *bin = json_string_value(json_object_get(v, "binary_hex"));
        const char *minimal = json_string_value(json_object_get(v, "binary_minimal_width_hex"));
        const char *frame = json_string_value(json_object_get(v, "ws_frame_hex"));
        assert_non_null(want);
        assert_non_null(bin);
        assert_non_null(minimal);
        assert_non_null(frame);

        check_binary_decodes_to(bin, want);
        check_binary_decodes_to(minimal, want);

        struct iof_msg *m = NULL;
        struct iof_diag d = {{0}};
        assert_int_equal(iof_msg_from_json(want, &m, &d), IOF_OK);
        check_encodes_to(m, IOF_MSG_WIDTH_CLASSIC, bin);
        check_encodes_to(m, IOF_MSG_WIDTH_MINIMAL, minimal);

        size_t want_len;
        uint8_t *want_frame = unhex(frame, &want_len);
        uint8_t *got_frame = NULL;
        size_t got_len = 0;
        assert_int_equal(iof_msg_frame_encode(m, &got_frame, &got_len, &d), IOF_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got_frame, want_frame, want_len);

        const uint8_t *inner = NULL;
        size_t inner_len = 0;
        assert_int_equal(iof_msg_frame_parse(want_frame, want_len, &inner, &inner_len, &d), IOF_OK);
        assert_int_equal(inner_len, want_len - 5);
        struct iof_msg *back = NULL;
        assert_int_equal(iof_msg_decode(inner, inner_len, &back, &d), IOF_OK);
        json_t *back_json = NULL;
        assert_int_equal(iof_msg_to_json(back, &back_json, &d), IOF_OK);
        assert_json_same(back_json, want);
        /* A frame whose length field disagrees with its size is rejected. */
        assert_int_equal(iof_msg_frame_parse(want_frame, want_len - 1, &inner, &inner_len, &d),
                         IOF_EINVAL);

        json_decref(back_json);
        iof_msg_free(back);
        free(got_frame);
        free(want_frame);
        iof_msg_free(m);
    }
}

static void test_receipt_vector(void **state) {
    (void)state;
    const json_t *r = json_object_get(vectors, "receipt");
    const char *id = json_string_value(json_object_get(r, "id"));
    int64_t ts = (int64_t)json_integer_value(json_object_get(r, "timestamp"));
    size_t want_len;
    uint8_t *want = unhex(json_string_value(json_object_get(r, "frame_hex")), &want_len);
    uint8_t got[300];
    size_t got_len = 0;
    assert_int_equal(iof_msg_receipt_encode(id, ts, got, sizeof got, &got_len), IOF_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);

    char back_id[256];
    int64_t back_ts = 0;
    struct iof_diag d;
    assert_int_equal(iof_msg_receipt_parse(want, want_len, back_id, sizeof back_id, &back_ts, &d),
                     IOF_OK);
    assert_string_equal(back_id, id);
    assert_int_equal(back_ts, ts);
    assert_int_equal(
        iof_msg_receipt_parse(want, want_len - 1, back_id, sizeof back_id, &back_ts, &d),
        IOF_EINVAL);
    assert_int_equal(iof_msg_receipt_parse(want, want_len, back_id, 4, &back_ts, &d), IOF_E2BIG);
    assert_int_equal(iof_msg_receipt_encode(id, ts, got, want_len - 1, &got_len), IOF_E2BIG);
    free(want);
}

/* 6-byte receipt timestamps (for the Node.js SDK): the spec's example in 6 bytes, parsed back;
 * other widths and timestamps beyond 48 bits refused. */
static void test_receipt_width(void **state) {
    (void)state;
    uint8_t got[64];
    size_t got_len = 0;
    assert_int_equal(
        iof_msg_receipt_encode_width("f9y43trfdsSDF", 1452214777495, 6, got, sizeof got, &got_len),
        IOF_OK);
    static const uint8_t want[] = {0x0e, 0x0d, 0x06, 0x66, 0x39, 0x79, 0x34, 0x33,
                                   0x74, 0x72, 0x66, 0x64, 0x73, 0x53, 0x44, 0x46,
                                   0x01, 0x52, 0x1e, 0xbe, 0xf6, 0x97};
    assert_int_equal(got_len, sizeof want);
    assert_memory_equal(got, want, sizeof want);
    char id[256];
    int64_t ts = 0;
    assert_int_equal(iof_msg_receipt_parse(got, got_len, id, sizeof id, &ts, NULL), IOF_OK);
    assert_string_equal(id, "f9y43trfdsSDF");
    assert_int_equal(ts, 1452214777495);
    assert_int_equal(iof_msg_receipt_encode_width("a", 1, 7, got, sizeof got, &got_len),
                     IOF_EINVAL);
    assert_int_equal(
        iof_msg_receipt_encode_width("a", INT64_C(1) << 48, 6, got, sizeof got, &got_len),
        IOF_EINVAL);
    assert_int_equal(iof_msg_receipt_encode_width("a", -1, 6, got, sizeof got, &got_len),
                     IOF_EINVAL);
    assert_int_equal(iof_msg_receipt_encode_width("a", 1, 6, got, 3 + 1 + 5, &got_len), IOF_E2BIG);
}

static void test_invalid_vectors(void **state) {
    (void)state;
    const json_t *list = json_object_get(vectors, "invalid");
    assert_true(json_array_size(list) >= 6);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        size_t len;
        uint8_t *bin = unhex(json_string_value(json_object_get(v, "hex")), &len);
        struct iof_msg *m = NULL;
        struct iof_diag d = {{0}};
        iof_err err = iof_msg_decode(bin, len, &m, &d);
        if (err == IOF_OK) {
            fail_msg("invalid vector '%s' was accepted",
                     json_string_value(json_object_get(v, "name")));
        }
        assert_null(m);
        assert_true(d.msg[0] != '\0');
        free(bin);
    }
}

/* Every proper prefix of a valid message is rejected (and ASan checks no byte past it is read). */
static void test_every_truncation_rejected(void **state) {
    (void)state;
    const json_t *v = json_array_get(json_object_get(vectors, "vectors"), 1);
    size_t len;
    uint8_t *bin = unhex(json_string_value(json_object_get(v, "binary_hex")), &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n > 0 ? n : 1);
        assert_non_null(copy);
        memcpy(copy, bin, n);
        struct iof_msg *m = NULL;
        assert_int_not_equal(iof_msg_decode(copy, n, &m, NULL), IOF_OK);
        free(copy);
    }
    free(bin);
}

static void test_numbers_round_trip(void **state) {
    (void)state;
    struct iof_msg m = {0};
    m.version = 4;
    m.publisher = "p";
    m.infotype = "t";
    m.infoformat = "f";
    const int64_t seq[] = {0, 1, -1, 255, 256, 65535, 65536, INT32_MAX, INT32_MIN};
    const int64_t big[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1452214777495};
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
            for (size_t j = 0; j < sizeof big / sizeof big[0]; j++) {
                m.sequencenumber = seq[i];
                m.difficultytarget = seq[i];
                m.priority = (int64_t)(int8_t)(seq[i] & 0xff);
                m.timestamp = big[j];
                m.chainposition = big[j];
                uint8_t *buf;
                size_t len;
                assert_int_equal(iof_msg_encode_alloc(&m, (enum iof_msg_width)w, &buf, &len, NULL),
                                 IOF_OK);
                struct iof_msg *back = NULL;
                assert_int_equal(iof_msg_decode(buf, len, &back, NULL), IOF_OK);
                assert_int_equal(back->sequencenumber, m.sequencenumber);
                assert_int_equal(back->difficultytarget, m.difficultytarget);
                assert_int_equal(back->priority, m.priority);
                assert_int_equal(back->timestamp, m.timestamp);
                assert_int_equal(back->chainposition, m.chainposition);
                iof_msg_free(back);
                free(buf);
            }
        }
    }
    m.sequencenumber = (int64_t)INT32_MAX + 1;
    struct iof_diag d;
    uint8_t *buf;
    size_t len;
    assert_int_equal(iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "sequencenumber"));
}

static void test_string_limits_and_utf8(void **state) {
    (void)state;
    char long_id[300];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[299] = '\0';
    struct iof_msg m = {0};
    m.id = long_id;
    struct iof_diag d;
    uint8_t *buf;
    size_t len;
    /* 299 bytes do not fit the 1-byte length of id, but 255 do (unsigned lengths). */
    assert_int_equal(iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "'id'"));
    long_id[255] = '\0';
    assert_int_equal(iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, &d), IOF_OK);
    struct iof_msg *back = NULL;
    assert_int_equal(iof_msg_decode(buf, len, &back, &d), IOF_OK);
    assert_int_equal(strlen(back->id), 255);
    iof_msg_free(back);

    /* Multi-byte UTF-8 counts in bytes and survives; a broken sequence is refused both ways. */
    m.id = "";
    m.tag = "temp \xc2\xb0"
            "C \xe2\x82\xac";
    free(buf);
    assert_int_equal(iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, &d), IOF_OK);
    assert_int_equal(buf[3] << 8 | buf[4], strlen(m.tag));
    assert_int_equal(iof_msg_decode(buf, len, &back, &d), IOF_OK);
    assert_string_equal(back->tag, m.tag);
    iof_msg_free(back);
    buf[IOF_MSG_HEADER_SIZE + 5] = 0xff; /* inside the tag */
    assert_int_equal(iof_msg_decode(buf, len, &back, &d), IOF_EINVAL);
    assert_non_null(strstr(d.msg, "UTF-8"));
    free(buf);
    m.tag = "bad \xc3";
    assert_int_equal(iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, &d), IOF_EINVAL);
}

static void test_trailing_bytes_rejected(void **state) {
    (void)state;
    struct iof_msg m = {0};
    m.publisher = "p";
    uint8_t buf[128];
    size_t len;
    assert_int_equal(iof_msg_encode(&m, IOF_MSG_WIDTH_CLASSIC, buf, sizeof buf, &len, NULL),
                     IOF_OK);
    buf[len] = 0;
    struct iof_msg *back = NULL;
    struct iof_diag d;
    assert_int_equal(iof_msg_decode(buf, len + 1, &back, &d), IOF_EINVAL);
    assert_int_equal(iof_msg_decode(buf, len, &back, &d), IOF_OK);
    assert_string_equal(back->publisher, "p");
    assert_string_equal(back->id, "");
    assert_null(back->contentdata);
    assert_int_equal(back->contentdata_len, 0);
    iof_msg_free(back);
}

static void test_json_tolerance(void **state) {
    (void)state;
    const char *text = "{\"version\":0,\"publisher\":\"p\",\"sequencenumber\":\"12\","
                       "\"difficultytarget\":0.0,\"priority\":null,\"timestamp\":1.5e3,"
                       "\"contentdata\":\"aGk=\",\"unknown\":true}";
    json_t *j = NULL;
    struct iof_diag d;
    assert_int_equal(iof_json_parse_object(text, strlen(text), &j, &d), IOF_OK);
    struct iof_msg *m = NULL;
    assert_int_equal(iof_msg_from_json(j, &m, &d), IOF_OK);
    assert_int_equal(m->version, 0);
    assert_int_equal(m->sequencenumber, 12);
    assert_int_equal(m->timestamp, 1500);
    assert_int_equal(m->contentdata_len, 2);
    assert_memory_equal(m->contentdata, "hi", 2);
    assert_string_equal(m->infotype, "");
    iof_msg_free(m);
    json_decref(j);

    static const char *const bad[] = {
        "{\"contentdata\":\"aGk\"}",       /* no padding */
        "{\"contentdata\":\"aG\\nk=\"}",   /* line break */
        "{\"contentdata\":5}",             /* not a string */
        "{\"sequencenumber\":\"1x\"}",     /* not digits */
        "{\"sequencenumber\":1.5}",        /* fraction where none is allowed */
        "{\"sequencenumber\":4294967296}", /* beyond int32 */
        "{\"priority\":300}",              /* beyond int8 */
        "{\"publisher\":7}",               /* not a string */
        "{\"version\":\"four\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(iof_json_parse_object(bad[i], strlen(bad[i]), &j, &d), IOF_OK);
        m = NULL;
        if (iof_msg_from_json(j, &m, &d) != IOF_EINVAL) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_null(m);
        json_decref(j);
    }
    json_t *not_object = json_array();
    assert_int_equal(iof_msg_from_json(not_object, &m, &d), IOF_EINVAL);
    json_decref(not_object);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_receipt_vector),
        cmocka_unit_test(test_receipt_width),
        cmocka_unit_test(test_invalid_vectors),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_numbers_round_trip),
        cmocka_unit_test(test_string_limits_and_utf8),
        cmocka_unit_test(test_trailing_bytes_rejected),
        cmocka_unit_test(test_json_tolerance),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
