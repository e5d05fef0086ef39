/* Unit tests of the WebSocket session over in-memory byte streams: reassembly, limits, protocol
 * failures, pings and the closing handshake, without sockets. */
#include "ws/session.h"

#include "common/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* One side of an in-memory connection: what it has to read, what it wrote, what it saw. */
struct end {
    struct iof_buf in;
    size_t in_off;
    bool in_eof;
    struct iof_buf out;
    struct iof_ws_session *s;
    int events;
    enum iof_ws_opcode last_opcode;
    struct iof_buf last_data;
    uint16_t last_status;
    bool echo; /* queue every data message back */
};

static ssize_t mem_read(void *ctx, uint8_t *buf, size_t len) {
    struct end *e = ctx;
    size_t avail = e->in.len - e->in_off;
    if (avail == 0) {
        return e->in_eof ? IOF_WS_IO_FAIL : IOF_WS_IO_AGAIN;
    }
    size_t n = avail < len ? avail : len;
    memcpy(buf, e->in.data + e->in_off, n);
    e->in_off += n;
    return (ssize_t)n;
}

static ssize_t mem_write(void *ctx, const uint8_t *buf, size_t len) {
    struct end *e = ctx;
    return iof_buf_append(&e->out, buf, len) == IOF_OK ? (ssize_t)len : IOF_WS_IO_FAIL;
}

static void mem_event(void *ctx, const struct iof_ws_event *ev) {
    struct end *e = ctx;
    e->events++;
    e->last_opcode = ev->opcode;
    e->last_status = ev->status;
    iof_buf_reset(&e->last_data);
    assert_int_equal(iof_buf_append(&e->last_data, ev->data, ev->len), IOF_OK);
    if (e->echo && (ev->opcode == IOF_WS_TEXT || ev->opcode == IOF_WS_BINARY)) {
        assert_int_equal(iof_ws_session_queue(e->s, ev->opcode, ev->data, ev->len), IOF_OK);
    }
}

static const struct iof_ws_session_ops mem_ops = {mem_read, mem_write, mem_event};

static void end_init(struct end *e, bool server, size_t max_message) {
    memset(e, 0, sizeof *e);
    iof_buf_init(&e->in, (size_t)8 << 20);
    iof_buf_init(&e->out, (size_t)8 << 20);
    iof_buf_init(&e->last_data, (size_t)8 << 20);
    /* the server side reads ahead as the hub does, the client side does not */
    struct iof_ws_session_config cfg = {server, max_message, &mem_ops, e, server};
    assert_int_equal(iof_ws_session_new(&cfg, NULL, 0, &e->s), IOF_OK);
}

static void end_free(struct end *e) {
    iof_ws_session_free(e->s);
    iof_buf_free(&e->in);
    iof_buf_free(&e->out);
    iof_buf_free(&e->last_data);
}

/* Moves a's written bytes to b's input and lets b read them. */
static void deliver(struct end *a, struct end *b) {
    assert_int_equal(iof_ws_session_write(a->s), IOF_OK);
    assert_int_equal(iof_buf_append(&b->in, a->out.data, a->out.len), IOF_OK);
    iof_buf_reset(&a->out);
    assert_int_equal(iof_ws_session_read(b->s), IOF_OK);
}

/* Appends a masked client frame (mask key 0x01020304). */
static void
client_frame(struct iof_buf *b, bool fin, uint8_t opcode, const void *data, size_t len) {
    uint8_t h[14];
    size_t n = 0;
    h[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        h[n++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        h[n++] = 0x80 | 126;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) {
            h[n++] = (uint8_t)((uint64_t)len >> (8 * i));
        }
    }
    static const uint8_t key[4] = {1, 2, 3, 4};
    memcpy(h + n, key, 4);
    n += 4;
    assert_int_equal(iof_buf_append(b, h, n), IOF_OK);
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)(p[i] ^ key[i % 4]);
        assert_int_equal(iof_buf_append(b, &c, 1), IOF_OK);
    }
}

/* Finds the first close frame in the unmasked server output and returns its status. */
static uint16_t close_status_in(const struct iof_buf *out) {
    size_t i = 0;
    while (i + 2 <= out->len) {
        uint8_t op = out->data[i] & 0x0f;
        size_t len = out->data[i + 1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            len = (size_t)out->data[i + 2] << 8 | out->data[i + 3];
            hl = 4;
        } else if (len == 127) {
            len = 0;
            for (int k = 0; k < 8; k++) {
                len = len << 8 | out->data[i + 2 + (size_t)k];
            }
            hl = 10;
        }
        if (op == 0x8) {
            if (len < 2) {
                return 0;
            }
            return (uint16_t)(out->data[i + hl] << 8 | out->data[i + hl + 1]);
        }
        i += hl + len;
    }
    return 0;
}

static void test_roundtrip_sizes(void **state) {
    (void)state;
    struct end srv;
    struct end cli;
    end_init(&srv, true, (size_t)1 << 20);
    end_init(&cli, false, (size_t)1 << 20);
    srv.echo = true;
    const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, (size_t)1 << 20};
    uint8_t *data = malloc((size_t)1 << 20);
    uint8_t *text = malloc((size_t)1 << 20);
    assert_non_null(data);
    assert_non_null(text);
    for (size_t i = 0; i < ((size_t)1 << 20); i++) {
        data[i] = (uint8_t)(i * 7 + 3);
        text[i] = (uint8_t)('a' + i % 26);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        enum iof_ws_opcode op = k % 2 == 0 ? IOF_WS_BINARY : IOF_WS_TEXT;
        const uint8_t *payload = op == IOF_WS_TEXT ? text : data;
        assert_int_equal(iof_ws_session_queue(cli.s, op, payload, sizes[k]), IOF_OK);
        deliver(&cli, &srv);
        assert_int_equal(srv.last_opcode, op);
        assert_int_equal(srv.last_data.len, sizes[k]);
        deliver(&srv, &cli);
        assert_int_equal(cli.last_opcode, op);
        assert_int_equal(cli.last_data.len, sizes[k]);
        if (sizes[k] > 0) {
            assert_memory_equal(cli.last_data.data, payload, sizes[k]);
        }
    }
    free(text);
    assert_int_equal(srv.events, 7);
    assert_int_equal(cli.events, 7);
    free(data);
    end_free(&srv);
    end_free(&cli);
}

static void test_fragments_and_ping(void **state) {
    (void)state;
    struct end srv;
    end_init(&srv, true, 64);
    client_frame(&srv.in, false, 0x1, "Hel", 3);
    client_frame(&srv.in, true, 0x9, "pp", 2); /* ping between fragments */
    client_frame(&srv.in, false, 0x0, "lo ", 3);
    client_frame(&srv.in, true, 0x0, "world", 5);
    assert_int_equal(iof_ws_session_read(srv.s), IOF_OK);
    assert_int_equal(srv.events, 2);
    assert_int_equal(srv.last_opcode, IOF_WS_TEXT);
    assert_int_equal(srv.last_data.len, 11);
    assert_memory_equal(srv.last_data.data, "Hello world", 11);
    /* the pong went out with the ping's payload */
    assert_int_equal(iof_ws_session_write(srv.s), IOF_OK);
    assert_int_equal(srv.out.len, 4);
    assert_int_equal(srv.out.data[0], 0x8a);
    assert_int_equal(srv.out.data[1], 2);
    assert_memory_equal(srv.out.data + 2, "pp", 2);
    assert_false(iof_ws_session_finished(srv.s));
    end_free(&srv);
}

static void expect_server_close(const void *frames, size_t len, size_t max, uint16_t status) {
    struct end srv;
    end_init(&srv, true, max);
    assert_int_equal(iof_buf_append(&srv.in, frames, len), IOF_OK);
    assert_int_equal(iof_ws_session_read(srv.s), IOF_OK);
    assert_false(iof_ws_session_want_read(srv.s));
    assert_int_equal(iof_ws_session_write(srv.s), IOF_OK);
    assert_int_equal(close_status_in(&srv.out), status);
    assert_true(iof_ws_session_finished(srv.s));
    assert_int_equal(iof_ws_session_status(srv.s), status);
    assert_int_equal(srv.events, 0);
    end_free(&srv);
}

static void test_limits_and_violations(void **state) {
    (void)state;
    struct iof_buf b;
    iof_buf_init(&b, 1 << 20);
    /* one frame over the limit */
    client_frame(&b, true, 0x2, "0123456789a", 11);
    expect_server_close(b.data, b.len, 10, 1009);
    /* fragments that add up to more than the limit */
    iof_buf_reset(&b);
    client_frame(&b, false, 0x2, "012345", 6);
    client_frame(&b, true, 0x0, "678901", 6);
    expect_server_close(b.data, b.len, 10, 1009);
    /* exactly the limit is fine: no close */
    iof_buf_reset(&b);
    client_frame(&b, false, 0x2, "01234", 5);
    client_frame(&b, true, 0x0, "56789", 5);
    struct end srv;
    end_init(&srv, true, 10);
    assert_int_equal(iof_buf_append(&srv.in, b.data, b.len), IOF_OK);
    assert_int_equal(iof_ws_session_read(srv.s), IOF_OK);
    assert_int_equal(srv.events, 1);
    assert_int_equal(srv.last_data.len, 10);
    assert_true(iof_ws_session_want_read(srv.s));
    end_free(&srv);
    /* invalid UTF-8 in a text message */
    iof_buf_reset(&b);
    client_frame(&b, true, 0x1, "\xff\xfe", 2);
    expect_server_close(b.data, b.len, 10, 1007);
    /* an unmasked frame from a client */
    const uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
    expect_server_close(unmasked, sizeof unmasked, 10, 1002);
    /* a continuation with nothing to continue, a reserved opcode, RSV bits */
    iof_buf_reset(&b);
    client_frame(&b, true, 0x0, "x", 1);
    expect_server_close(b.data, b.len, 10, 1002);
    iof_buf_reset(&b);
    client_frame(&b, true, 0x3, "x", 1);
    expect_server_close(b.data, b.len, 10, 1002);
    const uint8_t rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    expect_server_close(rsv, sizeof rsv, 10, 1002);
    iof_buf_free(&b);
}

static void test_close_handshake(void **state) {
    (void)state;
    struct end srv;
    struct end cli;
    end_init(&srv, true, 1024);
    end_init(&cli, false, 1024);
    assert_int_equal(iof_ws_session_close(cli.s, 4000, "bye"), IOF_OK);
    assert_int_equal(iof_ws_session_close(cli.s, 1000, NULL), IOF_ECONFLICT);
    assert_int_equal(iof_ws_session_queue(cli.s, IOF_WS_TEXT, (const uint8_t *)"x", 1),
                     IOF_ECONFLICT);
    deliver(&cli, &srv);
    assert_int_equal(srv.last_opcode, IOF_WS_CLOSE);
    assert_int_equal(srv.last_status, 4000);
    assert_int_equal(srv.last_data.len, 3);
    assert_memory_equal(srv.last_data.data, "bye", 3);
    assert_true(iof_ws_session_close_received(srv.s));
    assert_false(iof_ws_session_finished(cli.s)); /* waiting for the echo */
    deliver(&srv, &cli);
    assert_true(iof_ws_session_finished(srv.s));
    assert_true(iof_ws_session_finished(cli.s));
    assert_int_equal(cli.last_opcode, IOF_WS_CLOSE);
    assert_int_equal(cli.last_status, 4000);
    assert_int_equal(iof_ws_session_status(srv.s), 4000);
    assert_int_equal(iof_ws_session_status(cli.s), 4000);
    end_free(&srv);
    end_free(&cli);
}

static void test_eof_and_arguments(void **state) {
    (void)state;
    struct end srv;
    end_init(&srv, true, 1024);
    srv.in_eof = true;
    assert_int_equal(iof_ws_session_read(srv.s), IOF_EIO);
    assert_true(iof_ws_session_finished(srv.s));
    assert_int_equal(iof_ws_session_status(srv.s), 1006);
    end_free(&srv);

    end_init(&srv, true, 1024);
    uint8_t big[126] = {0};
    assert_int_equal(iof_ws_session_queue(srv.s, IOF_WS_PING, big, sizeof big), IOF_E2BIG);
    assert_int_equal(iof_ws_session_queue(srv.s, IOF_WS_CLOSE, big, 2), IOF_EINVAL);
    assert_int_equal(iof_ws_session_close(srv.s, 1005, NULL), IOF_EINVAL);
    assert_int_equal(iof_ws_session_close(srv.s, 999, NULL), IOF_EINVAL);
    assert_int_equal(iof_ws_session_close(srv.s, 0, "reason"), IOF_EINVAL);
    char reason[130];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    assert_int_equal(iof_ws_session_close(srv.s, 1000, reason), IOF_EINVAL);
    assert_true(iof_ws_status_sendable(1000));
    assert_true(iof_ws_status_sendable(4999));
    assert_false(iof_ws_status_sendable(1006));
    assert_false(iof_ws_status_sendable(5000));
    end_free(&srv);

    struct iof_ws_session *s = NULL;
    struct iof_ws_session_config bad = {true, 0, &mem_ops, NULL, false};
    assert_int_equal(iof_ws_session_new(&bad, NULL, 0, &s), IOF_EINVAL);
    assert_null(s);
}

static void test_prefix_first(void **state) {
    (void)state;
    struct iof_buf pre;
    iof_buf_init(&pre, 1024);
    client_frame(&pre, true, 0x1, "first", 5);
    struct end srv;
    memset(&srv, 0, sizeof srv);
    iof_buf_init(&srv.in, 1024);
    iof_buf_init(&srv.out, 1024);
    iof_buf_init(&srv.last_data, 1024);
    struct iof_ws_session_config cfg = {true, 1024, &mem_ops, &srv, true};
    assert_int_equal(iof_ws_session_new(&cfg, pre.data, pre.len, &srv.s), IOF_OK);
    client_frame(&srv.in, true, 0x1, "second", 6);
    assert_int_equal(iof_ws_session_read(srv.s), IOF_OK);
    assert_int_equal(srv.events, 2);
    assert_int_equal(srv.last_data.len, 6);
    iof_buf_free(&pre);
    end_free(&srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_sizes),
        cmocka_unit_test(test_fragments_and_ping),
        cmocka_unit_test(test_limits_and_violations),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_eof_and_arguments),
        cmocka_unit_test(test_prefix_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
