/* Streamed responses: bytes written by a producer thread reach a client in order while the
 * response is open, an idle stream parks its connection, a departed client is noticed by the
 * producer, a full buffer pushes back, and stopping the server ends every stream. */
#include "common/clock.h"
#include "http/client.h"
#include "http/server.h"
#include "http/testutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

struct fixture {
    struct iof_http_server *srv;
    pthread_mutex_t mu;
    struct iof_http_stream *stream; /* the last stream a handler opened */
    size_t buffer;
};

static iof_err h_stream(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct fixture *f = ctx;
    struct iof_http_stream *s = NULL;
    iof_err err = iof_http_respond_stream(req, 200, "text/plain", f->buffer, &s);
    if (err == IOF_OK) {
        pthread_mutex_lock(&f->mu);
        f->stream = s;
        pthread_mutex_unlock(&f->mu);
    }
    return err;
}

static struct iof_http_stream *wait_stream(struct fixture *f) {
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->mu);
        struct iof_http_stream *s = f->stream;
        f->stream = NULL;
        pthread_mutex_unlock(&f->mu);
        if (s != NULL) {
            return s;
        }
        sleep_ms(10);
    }
    return NULL;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .threads = 2};
    f->buffer = 4096;
    pthread_mutex_init(&f->mu, NULL);
    if (iof_http_server_new(&cfg, &f->srv) != IOF_OK ||
        iof_http_server_route(f->srv, "GET", "/follow", h_stream, f) != IOF_OK ||
        iof_http_server_start(f->srv) != IOF_OK) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    iof_http_server_free(f->srv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* Reads from fd until needle has arrived or 3 s pass; the bytes go to buf (NUL-terminated). */
static bool read_until(int fd, char *buf, size_t size, size_t *used, const char *needle) {
    int64_t deadline = iof_time_mono_ms() + 3000;
    while (strstr(buf, needle) == NULL) {
        if (iof_time_mono_ms() > deadline || *used + 1 >= size) {
            return false;
        }
        ssize_t n = recv(fd, buf + *used, size - 1 - *used, 0);
        if (n <= 0) {
            return false;
        }
        *used += (size_t)n;
        buf[*used] = '\0';
    }
    return true;
}

static void test_bytes_arrive_while_open(void **state) {
    struct fixture *f = *state;
    int fd = raw_connect(iof_http_server_port(f->srv));
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd, "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n"));
    struct iof_http_stream *s = wait_stream(f);
    assert_non_null(s);
    char buf[8192] = "";
    size_t used = 0;
    assert_true(read_until(fd, buf, sizeof buf, &used, "\r\n\r\n"));
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strcasestr(buf, "Transfer-Encoding: chunked"));
    /* Each line arrives before the next is written: the connection is woken from a park. */
    for (int i = 0; i < 3; i++) {
        char line[32];
        (void)snprintf(line, sizeof line, "line %d\n", i);
        sleep_ms(50);
        assert_int_equal(iof_http_stream_write(s, line, strlen(line)), IOF_OK);
        assert_true(read_until(fd, buf, sizeof buf, &used, line));
    }
    iof_http_stream_end(s);
    assert_true(read_until(fd, buf, sizeof buf, &used, "\r\n0\r\n\r\n"));
    close(fd);
}

static void test_client_gone_and_backpressure(void **state) {
    struct fixture *f = *state;
    int fd = raw_connect(iof_http_server_port(f->srv));
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd, "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n"));
    struct iof_http_stream *s = wait_stream(f);
    assert_non_null(s);
    char big[8192];
    memset(big, 'x', sizeof big);
    assert_int_equal(iof_http_stream_write(s, big, sizeof big), IOF_E2BIG);
    /* The client does not read: the socket buffers fill, then the stream's own buffer. */
    iof_err err = IOF_OK;
    for (int i = 0; i < 20000 && err == IOF_OK; i++) {
        err = iof_http_stream_write(s, big, 1024);
        if (err == IOF_OK && i % 64 == 0) {
            sleep_ms(1);
        }
    }
    assert_int_equal(err, IOF_EBUSY);
    assert_true(iof_http_stream_buffered(s) > 0);
    close(fd);
    /* The server notices the departure once it tries to send; the producer then gets IOF_EIO. */
    int64_t deadline = iof_time_mono_ms() + 5000;
    while (!iof_http_stream_gone(s) && iof_time_mono_ms() < deadline) {
        if (iof_http_stream_write(s, "y", 1) == IOF_EIO) {
            break;
        }
        sleep_ms(20);
    }
    assert_true(iof_http_stream_gone(s));
    assert_int_equal(iof_http_stream_write(s, "z", 1), IOF_EIO);
    iof_http_stream_end(s);
}

static void test_stop_ends_streams(void **state) {
    struct fixture *f = *state;
    int fd = raw_connect(iof_http_server_port(f->srv));
    assert_true(fd >= 0);
    assert_true(raw_send_str(fd, "GET /follow HTTP/1.1\r\nHost: x\r\n\r\n"));
    struct iof_http_stream *s = wait_stream(f);
    assert_non_null(s);
    char buf[4096] = "";
    size_t used = 0;
    assert_true(read_until(fd, buf, sizeof buf, &used, "\r\n\r\n"));
    /* parked (nothing written); stopping must not hang and must end the body */
    int64_t t0 = iof_time_mono_ms();
    iof_http_server_stop(f->srv);
    assert_true(iof_time_mono_ms() - t0 < 3000);
    assert_true(iof_http_stream_gone(s));
    assert_int_equal(iof_http_stream_write(s, "late", 4), IOF_EIO);
    iof_http_stream_end(s);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bytes_arrive_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_and_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_streams, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
