/* Unit tests of libiofog without an Agent: the message codec through the public API (binary
 * payloads with NUL bytes, the agent.md §2.2 vector), URL building (long ids, IPv6, host order),
 * the parser of frames from the Agent (truncated, oversized, receipts), the reconnect schedule,
 * options and environment, and configuration getters. */
#include "iofog/iofog.h"
#include "sdk/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const uint8_t payload[] = {'a', 0x00, 'b', 0x00, 0xff, 0x00};
static const uint8_t context[] = {0x00, 0x00, 0x01};

static void build(struct iofog_message *m) {
    iofog_message_init(m);
    m->publisher = "pub1";
    m->infotype = "application/octet-stream";
    m->infoformat = "binary";
    m->tag = "t";
    m->sequencenumber = 7;
    m->priority = 3;
    m->contentdata = payload;
    m->contentdata_len = sizeof payload;
    m->contextdata = context;
    m->contextdata_len = sizeof context;
}

static void test_binary_roundtrip_with_nul(void **state) {
    (void)state;
    struct iofog_message m;
    build(&m);
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(iofog_message_encode(&m, &bytes, &len), IOFOG_OK);
    struct iofog_message *back = NULL;
    assert_int_equal(iofog_message_decode(bytes, len, &back), IOFOG_OK);
    assert_int_equal(back->contentdata_len, sizeof payload);
    assert_memory_equal(back->contentdata, payload, sizeof payload);
    assert_int_equal(back->contextdata_len, sizeof context);
    assert_memory_equal(back->contextdata, context, sizeof context);
    assert_string_equal(back->publisher, "pub1");
    assert_int_equal(back->sequencenumber, 7);
    assert_int_equal(back->priority, 3);
    assert_int_equal(back->version, 4);
    /* Truncated by one byte: rejected, nothing returned. */
    struct iofog_message *none = NULL;
    assert_int_equal(iofog_message_decode(bytes, len - 1, &none), IOFOG_EINVAL);
    assert_null(none);
    assert_true(iofog_last_error()[0] != '\0');
    iofog_free(bytes);

    struct iofog_message *copy = NULL;
    assert_int_equal(iofog_message_copy(back, &copy), IOFOG_OK);
    assert_memory_equal(copy->contentdata, payload, sizeof payload);
    iofog_message_free(copy);
    iofog_message_free(back);
}

static void test_spec_vector(void **state) {
    (void)state;
    /* agent.md §2.2: 67 bytes. */
    static const uint8_t want[] = {
        0x00, 0x04, 0x03, 0x00, 0x00, 0x00, 0x04, 0x04, 0x00, 0x08, 0x04, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x05, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 'a',  'b',  'c',  0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x01, 0x52, 0x1e, 0xbe, 0xf6, 0x97, 'p',  'u',  'b',  '1',
        't',  'e',  'x',  't',  'u',  't',  'f',  '-',  '8',  'h',  'i'};
    struct iofog_message m;
    iofog_message_init(&m);
    m.id = "abc";
    m.sequencenumber = 1;
    m.sequencetotal = 1;
    m.timestamp = 1452214777495;
    m.publisher = "pub1";
    m.infotype = "text";
    m.infoformat = "utf-8";
    m.contentdata = (const uint8_t *)"hi";
    m.contentdata_len = 2;
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(iofog_message_encode(&m, &bytes, &len), IOFOG_OK);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(bytes, want, sizeof want);
    iofog_free(bytes);
}

static void test_json_roundtrip(void **state) {
    (void)state;
    struct iofog_message m;
    build(&m);
    char *text = NULL;
    assert_int_equal(iofog_message_to_json(&m, &text), IOFOG_OK);
    assert_non_null(strstr(text, "\"contentdata\":\"YQBiAP8A\""));
    struct iofog_message *back = NULL;
    assert_int_equal(iofog_message_from_json(text, strlen(text), &back), IOFOG_OK);
    assert_int_equal(back->contentdata_len, sizeof payload);
    assert_memory_equal(back->contentdata, payload, sizeof payload);
    iofog_message_free(back);
    iofog_free(text);
    assert_int_equal(iofog_message_from_json("[1]", 3, &back), IOFOG_EINVAL);
    assert_int_equal(iofog_message_from_json("{\"contentdata\":\"%%\"}", 20, &back), IOFOG_EINVAL);
    /* Invalid UTF-8 in a string field cannot be encoded. */
    m.tag = "\xff";
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(iofog_message_encode(&m, &bytes, &len), IOFOG_EINVAL);
}

static void test_frame_message(void **state) {
    (void)state;
    struct iofog_message m;
    build(&m);
    struct iof_msg im;
    iofog_sdk_msg_view(&m, &im);
    uint8_t *frame = NULL;
    size_t len = 0;
    assert_int_equal(iof_msg_frame_encode(&im, &frame, &len, NULL), IOF_OK);

    struct iofog_sdk_frame f;
    struct iof_diag d = {0};
    assert_int_equal(iofog_sdk_frame_parse(frame, len, 1 << 20, &f, &d), IOF_OK);
    assert_int_equal(f.kind, SDK_FRAME_MESSAGE);
    assert_int_equal(f.msg->contentdata_len, sizeof payload);
    assert_memory_equal(f.msg->contentdata, payload, sizeof payload);
    iof_msg_free(f.msg);

    /* Truncated anywhere: the length field no longer matches. */
    for (size_t cut = 1; cut < len; cut += 7) {
        assert_int_not_equal(iofog_sdk_frame_parse(frame, cut, 1 << 20, &f, &d), IOF_OK);
    }
    /* One byte too many. */
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, frame, len);
    longer[len] = 0;
    assert_int_equal(iofog_sdk_frame_parse(longer, len + 1, 1 << 20, &f, &d), IOF_EINVAL);
    free(longer);
    /* Over the configured maximum. */
    assert_int_equal(iofog_sdk_frame_parse(frame, len, 10, &f, &d), IOF_E2BIG);
    /* A length field claiming 4 GiB. */
    uint8_t huge[] = {0x0D, 0xff, 0xff, 0xff, 0xff, 0x00, 0x04};
    assert_int_equal(iofog_sdk_frame_parse(huge, sizeof huge, 1 << 20, &f, &d), IOF_EINVAL);
    free(frame);
}

static void test_frame_receipt_and_signals(void **state) {
    (void)state;
    /* agent.md §1.4 vector. */
    static const uint8_t receipt[] = {0x0e, 0x0d, 0x08, 'f',  '9',  'y',  '4',  '3',
                                      't',  'r',  'f',  'd',  's',  'S',  'D',  'F',
                                      0x00, 0x00, 0x01, 0x52, 0x1e, 0xbe, 0xf6, 0x97};
    struct iofog_sdk_frame f;
    struct iof_diag d = {0};
    assert_int_equal(iofog_sdk_frame_parse(receipt, sizeof receipt, 1024, &f, &d), IOF_OK);
    assert_int_equal(f.kind, SDK_FRAME_RECEIPT);
    assert_string_equal(f.id, "f9y43trfdsSDF");
    assert_int_equal(f.timestamp, 1452214777495);
    for (size_t cut = 1; cut < sizeof receipt; cut++) {
        assert_int_not_equal(iofog_sdk_frame_parse(receipt, cut, 1024, &f, &d), IOF_OK);
    }
    /* Timestamp width over 8 bytes. */
    static const uint8_t wide[] = {0x0e, 0x01, 0x09, 'x', 1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_not_equal(iofog_sdk_frame_parse(wide, sizeof wide, 1024, &f, &d), IOF_OK);

    static const struct {
        uint8_t op;
        enum iofog_sdk_frame_kind kind;
    } one[] = {{0x0C, SDK_FRAME_CONTROL_SIGNAL},
               {0x0F, SDK_FRAME_RESOURCE_SIGNAL},
               {0x09, SDK_FRAME_PING},
               {0x0A, SDK_FRAME_PONG},
               {0x0B, SDK_FRAME_ACK}};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        assert_int_equal(iofog_sdk_frame_parse(&one[i].op, 1, 1024, &f, &d), IOF_OK);
        assert_int_equal(f.kind, one[i].kind);
    }
    uint8_t unknown = 0x42;
    assert_int_equal(iofog_sdk_frame_parse(&unknown, 1, 1024, &f, &d), IOF_EPROTO);
    assert_int_equal(iofog_sdk_frame_parse(NULL, 0, 1024, &f, &d), IOF_EPROTO);
}

static void test_backoff(void **state) {
    (void)state;
    static const unsigned want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(iofog_sdk_backoff_ms(1000, 30000, i), want[i]);
    }
    assert_int_equal(iofog_sdk_backoff_ms(1000, 30000, 1000), 30000);
    assert_int_equal(iofog_sdk_backoff_ms(100, 50, 3), 100); /* cap below min: min wins */
    assert_int_equal(iofog_sdk_backoff_ms(0, 10, 0), 1);
    assert_int_equal(iofog_sdk_backoff_ms(3000000000u, 4000000000u, 5), 4000000000u);
}

static void test_urls(void **state) {
    (void)state;
    struct iof_buf b;
    iof_buf_init(&b, 1 << 16);
    assert_int_equal(iofog_sdk_base_url(&b, false, "iofog", 54321), IOF_OK);
    assert_string_equal((const char *)b.data, "http://iofog:54321");
    iof_buf_reset(&b);
    assert_int_equal(iofog_sdk_base_url(&b, true, "::1", 443), IOF_OK);
    assert_string_equal((const char *)b.data, "https://[::1]:443");
    iof_buf_reset(&b);
    assert_int_equal(iofog_sdk_append_escaped(&b, "/v2/control/socket/id/", "a b/c?%"), IOF_OK);
    assert_string_equal((const char *)b.data, "/v2/control/socket/id/a%20b%2Fc%3F%25");

    /* A long id is kept whole. */
    char id[1001];
    memset(id, 'x', 1000);
    id[1000] = '\0';
    iof_buf_reset(&b);
    assert_int_equal(iofog_sdk_append_escaped(&b, "/v2/message/socket/id/", id), IOF_OK);
    assert_int_equal(b.len, strlen("/v2/message/socket/id/") + 1000);
    /* Past the buffer's maximum: an error, not a truncated URL. */
    struct iof_buf small;
    iof_buf_init(&small, 64);
    assert_int_equal(iofog_sdk_append_escaped(&small, "/p/", id), IOF_E2BIG);
    iof_buf_free(&small);
    iof_buf_free(&b);

    struct iofog_options o;
    iofog_options_init(&o);
    o.id = id;
    struct iofog_client *c = NULL;
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_OK);
    char url[64];
    assert_int_equal(iofog_client_base_url(c, url, sizeof url), strlen("http://iofog:54321"));
    assert_string_equal(url, "http://iofog:54321"); /* first of the default hosts */
    assert_string_equal(iofog_client_id(c), id);
    char tiny[8];
    assert_int_equal(iofog_client_base_url(c, tiny, sizeof tiny), 18);
    assert_string_equal(tiny, "http://");
    iofog_client_free(c);

    const char *const hosts[] = {"10.0.0.1", "fe80::1", NULL};
    o.hosts = hosts;
    o.port = 1234;
    o.ssl = 1;
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_OK);
    assert_int_equal(iofog_client_base_url(c, url, sizeof url), strlen("https://10.0.0.1:1234"));
    assert_string_equal(url, "https://10.0.0.1:1234");
    /* Sockets do not speak TLS. */
    assert_int_equal(iofog_client_start(c, NULL), IOFOG_EUNSUPPORTED);
    iofog_client_free(c);

    const char *const empty_host[] = {"", NULL};
    o.hosts = empty_host;
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_EINVAL);
    const char *const no_hosts[] = {NULL};
    o.hosts = no_hosts;
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_EINVAL);
}

static void test_env(void **state) {
    (void)state;
    struct iofog_client *c = NULL;
    unsetenv("SELFNAME");
    unsetenv("SSL");
    unsetenv("IOFOG_AGENT_HOST");
    unsetenv("IOFOG_AGENT_PORT");
    assert_int_equal(iofog_client_new_from_env(NULL, &c), IOFOG_EINVAL);
    assert_non_null(strstr(iofog_last_error(), "SELFNAME"));
    setenv("SELFNAME", "", 1);
    assert_int_equal(iofog_client_new_from_env(NULL, &c), IOFOG_EINVAL);

    setenv("SELFNAME", "ms-uuid-1", 1);
    assert_int_equal(iofog_client_new_from_env(NULL, &c), IOFOG_OK);
    assert_string_equal(iofog_client_id(c), "ms-uuid-1");
    char url[64];
    (void)iofog_client_base_url(c, url, sizeof url);
    assert_string_equal(url, "http://iofog:54321");
    iofog_client_free(c);

    setenv("SSL", "false", 1);
    setenv("IOFOG_AGENT_HOST", "127.0.0.1", 1);
    setenv("IOFOG_AGENT_PORT", "60000", 1);
    assert_int_equal(iofog_client_new_from_env(NULL, &c), IOFOG_OK);
    (void)iofog_client_base_url(c, url, sizeof url);
    assert_string_equal(url, "http://127.0.0.1:60000");
    iofog_client_free(c);

    setenv("SSL", "true", 1);
    assert_int_equal(iofog_client_new_from_env(NULL, &c), IOFOG_OK);
    (void)iofog_client_base_url(c, url, sizeof url);
    assert_string_equal(url, "https://127.0.0.1:60000");
    iofog_client_free(c);

    static const char *const bad_ports[] = {"0", "65536", "12x", "-1"};
    for (size_t i = 0; i < 4; i++) {
        setenv("IOFOG_AGENT_PORT", bad_ports[i], 1);
        assert_int_equal(iofog_client_new_from_env(NULL, &c), IOFOG_EINVAL);
    }
    unsetenv("SELFNAME");
    unsetenv("SSL");
    unsetenv("IOFOG_AGENT_HOST");
    unsetenv("IOFOG_AGENT_PORT");

    struct iofog_options o;
    iofog_options_init(&o);
    assert_int_equal(iofog_client_new(&o, &c), IOFOG_EINVAL);
    assert_int_equal(iofog_client_new(NULL, &c), IOFOG_EINVAL);
}

static void test_config(void **state) {
    (void)state;
    const char *text = "{\"frequency\":250,\"minimum\":-5.5,\"name\":\"s1\",\"on\":true,"
                       "\"whole\":3.0,\"nothing\":null}";
    struct iofog_config *cfg = NULL;
    assert_int_equal(iofog_config_parse(text, strlen(text), &cfg), IOFOG_OK);
    assert_string_equal(iofog_config_raw(cfg), text);
    assert_non_null(iofog_config_json(cfg));
    int64_t i = 0;
    double x = 0;
    const char *s = NULL;
    int b = 0;
    assert_int_equal(iofog_config_get_int(cfg, "frequency", &i), IOFOG_OK);
    assert_int_equal(i, 250);
    assert_int_equal(iofog_config_get_int(cfg, "whole", &i), IOFOG_OK);
    assert_int_equal(i, 3);
    assert_int_equal(iofog_config_get_int(cfg, "minimum", &i), IOFOG_EINVAL);
    assert_int_equal(iofog_config_get_number(cfg, "minimum", &x), IOFOG_OK);
    assert_true(x == -5.5);
    assert_int_equal(iofog_config_get_number(cfg, "frequency", &x), IOFOG_OK);
    assert_int_equal(iofog_config_get_string(cfg, "name", &s), IOFOG_OK);
    assert_string_equal(s, "s1");
    assert_int_equal(iofog_config_get_string(cfg, "frequency", &s), IOFOG_EINVAL);
    assert_int_equal(iofog_config_get_bool(cfg, "on", &b), IOFOG_OK);
    assert_int_equal(b, 1);
    assert_int_equal(iofog_config_get_int(cfg, "nothing", &i), IOFOG_ENOENT);
    assert_int_equal(iofog_config_get_int(cfg, "absent", &i), IOFOG_ENOENT);
    iofog_config_free(cfg);

    assert_int_equal(iofog_config_parse("", 0, &cfg), IOFOG_OK);
    assert_string_equal(iofog_config_raw(cfg), "");
    iofog_config_free(cfg);
    assert_int_equal(iofog_config_parse("[1]", 3, &cfg), IOFOG_EPROTO);
    assert_int_equal(iofog_config_parse("{", 1, &cfg), IOFOG_EPROTO);
    /* A duplicate key keeps its last value, as the classic SDKs' JSON parsers do. */
    assert_int_equal(iofog_config_parse("{\"a\":1,\"a\":2}", 13, &cfg), IOFOG_OK);
    assert_int_equal(iofog_config_get_int(cfg, "a", &i), IOFOG_OK);
    assert_int_equal(i, 2);
    iofog_config_free(cfg);
}

static void test_errors_and_version(void **state) {
    (void)state;
    for (int e = IOFOG_OK; e <= IOFOG_EUNSUPPORTED; e++) {
        assert_non_null(iofog_strerror(e));
        assert_string_not_equal(iofog_strerror(e), "unknown error");
    }
    assert_string_equal(iofog_strerror(999), "unknown error");
    assert_string_equal(iofog_version_string(), IOFOG_SDK_VERSION_STRING);
    assert_int_equal(IOFOG_SDK_VERSION, 100);
    iofog_free(NULL);
    iofog_message_free(NULL);
    iofog_message_list_free(NULL);
    iofog_config_free(NULL);
    iofog_client_free(NULL);
    iofog_client_stop(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_roundtrip_with_nul),
        cmocka_unit_test(test_spec_vector),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_frame_message),
        cmocka_unit_test(test_frame_receipt_and_signals),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_errors_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
