/* Unit tests of the WebSocket handshake helpers: accept key, request and response checks. */
#include "ws/handshake.h"

#include "common/base64.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* RFC 6455 §1.3: key "dGhlIHNhbXBsZSBub25jZQ==" gives accept "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=". */
static void test_accept_key_rfc_vector(void **state) {
    (void)state;
    char out[IOF_WS_ACCEPT_LEN + 1];
    assert_int_equal(iof_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), IOF_OK);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char long_key[80];
    memset(long_key, 'A', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(iof_ws_accept_key(long_key, out), IOF_EINVAL);
    assert_int_equal(iof_ws_accept_key(NULL, out), IOF_EINVAL);
}

static void test_token_lists(void **state) {
    (void)state;
    assert_true(iof_ws_header_has_token("Upgrade", "upgrade"));
    assert_true(iof_ws_header_has_token("keep-alive, Upgrade", "upgrade"));
    assert_true(iof_ws_header_has_token(" keep-alive ,\tUPGRADE\t", "upgrade"));
    assert_true(iof_ws_header_has_token("WebSocket", "websocket"));
    assert_false(iof_ws_header_has_token("upgrades", "upgrade"));
    assert_false(iof_ws_header_has_token("keep-alive", "upgrade"));
    assert_false(iof_ws_header_has_token("", "upgrade"));
    assert_false(iof_ws_header_has_token(",,", "upgrade"));
    assert_false(iof_ws_header_has_token(NULL, "upgrade"));
}

static const struct iof_ws_upgrade_request good = {
    .method = "GET",
    .upgrade = "websocket",
    .connection = "keep-alive, Upgrade",
    .version = "13",
    .key = "dGhlIHNhbXBsZSBub25jZQ==",
};

static void test_request_ok(void **state) {
    (void)state;
    char accept[IOF_WS_ACCEPT_LEN + 1];
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_int_equal(iof_ws_handshake_check_request(&good, accept, &d), IOF_OK);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void expect_request_error(struct iof_ws_upgrade_request r, iof_err want, unsigned status) {
    char accept[IOF_WS_ACCEPT_LEN + 1] = "untouched";
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = iof_ws_handshake_check_request(&r, accept, &d);
    assert_int_equal(err, want);
    assert_int_equal(iof_ws_handshake_http_status(err), status);
    assert_string_equal(accept, "untouched"); /* out-param written only on success */
    assert_true(d.msg[0] != '\0');
}

static void test_request_failures(void **state) {
    (void)state;
    struct iof_ws_upgrade_request r = good;
    r.method = "POST";
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.method = NULL;
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.upgrade = NULL;
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.upgrade = "h2c";
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.connection = "keep-alive";
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.version = "8";
    expect_request_error(r, IOF_EUNSUPPORTED, 426);
    r = good;
    r.version = NULL;
    expect_request_error(r, IOF_EUNSUPPORTED, 426);
    r = good;
    r.key = NULL;
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.key = "dGhlIHNhbXBsZSBub25jZQ"; /* 22 chars */
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.key = "dGhlIHNhbXBsZSBub25jZSE="; /* 17 bytes when decoded */
    expect_request_error(r, IOF_EINVAL, 400);
    r = good;
    r.key = "dGhlIHNhbXBsZSBub25j!Q=="; /* not base64 */
    expect_request_error(r, IOF_EINVAL, 400);
    assert_int_equal(iof_ws_handshake_http_status(IOF_ENOMEM), 500);
}

static void test_client_key(void **state) {
    (void)state;
    char a[IOF_WS_KEY_LEN + 1];
    char b[IOF_WS_KEY_LEN + 1];
    assert_int_equal(iof_ws_client_key(a), IOF_OK);
    assert_int_equal(iof_ws_client_key(b), IOF_OK);
    assert_int_equal(strlen(a), IOF_WS_KEY_LEN);
    assert_string_not_equal(a, b);
    uint8_t raw[18];
    size_t n = 0;
    assert_int_equal(iof_base64_decode(a, strlen(a), raw, sizeof raw, &n), IOF_OK);
    assert_int_equal(n, 16);
}

static void test_find_head_end(void **state) {
    (void)state;
    size_t n = 0;
    assert_false(iof_ws_find_head_end("HTTP/1.1 101 x\r\n", 16, &n));
    const char *full = "HTTP/1.1 101 x\r\n\r\nFRAME";
    assert_true(iof_ws_find_head_end(full, strlen(full), &n));
    assert_int_equal(n, 18);
}

static iof_err check(const char *head) {
    struct iof_diag d;
    iof_diag_clear(&d);
    return iof_ws_handshake_check_response(head, strlen(head), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &d);
}

static void test_response(void **state) {
    (void)state;
    assert_int_equal(check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
                     IOF_OK);
    assert_int_equal(check("HTTP/1.1 101\r\nupgrade:WebSocket\r\nCONNECTION: keep-alive, upgrade"
                           "\r\nsec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\r\n"),
                     IOF_OK);
    assert_int_equal(check("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), IOF_EREMOTE);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: AAAALMBiTxaQ9kYGzHzo+xOo0K8=\r\n\r\n"),
                     IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
                     IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
                     IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
                     IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                           "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
                     IOF_EPROTO);
    assert_int_equal(check("HTTP/1.0 101 OK\r\n\r\n"), IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nno colon here\r\n\r\n"), IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n"), IOF_EPROTO);
    assert_int_equal(check("HTTP/1.1 101 OK\r\n"), IOF_EPROTO); /* incomplete */

    static char big[IOF_WS_MAX_RESPONSE_HEAD + 64];
    memset(big, 'x', sizeof big);
    memcpy(big, "HTTP/1.1 101 OK\r\nX: ", 20);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    struct iof_diag d;
    assert_int_equal(iof_ws_handshake_check_response(big, sizeof big, "x", &d), IOF_E2BIG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc_vector),
        cmocka_unit_test(test_token_lists),
        cmocka_unit_test(test_request_ok),
        cmocka_unit_test(test_request_failures),
        cmocka_unit_test(test_client_key),
        cmocka_unit_test(test_find_head_end),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
