/* Test of the WebSocket client against a raw loopback server that writes its 101 answer and the
 * first frames in one send(), as a server pushing right after the upgrade may: the client must
 * hand those frames out without waiting for more bytes on the socket. */
#include "ws/client.h"
#include "ws/handshake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

struct server {
    int listen_fd;
    uint16_t port;
    bool ok;
};

/* Accepts one connection, reads the request head, answers 101 plus a binary frame {0x0C} and a
 * text frame "hi" in one write, then keeps the connection until the client closes it. */
static void *server_main(void *arg) {
    struct server *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) {
        return NULL;
    }
    struct timeval tv = {.tv_sec = 5};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[4096];
    size_t len = 0;
    while (len < sizeof head - 1 && strstr(head, "\r\n\r\n") == NULL) {
        ssize_t n = recv(fd, head + len, sizeof head - 1 - len, 0);
        if (n <= 0) {
            close(fd);
            return NULL;
        }
        len += (size_t)n;
        head[len] = '\0';
    }
    const char *k = strcasestr(head, "Sec-WebSocket-Key:");
    char key[IOF_WS_KEY_LEN + 1] = "";
    char accept_key[IOF_WS_ACCEPT_LEN + 1];
    if (k != NULL) {
        k += strlen("Sec-WebSocket-Key:");
        while (*k == ' ') {
            k++;
        }
        memcpy(key, k, IOF_WS_KEY_LEN);
        key[IOF_WS_KEY_LEN] = '\0';
    }
    if (k == NULL || iof_ws_accept_key(key, accept_key) != IOF_OK) {
        close(fd);
        return NULL;
    }
    char out[512];
    int n = snprintf(out,
                     sizeof out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept_key);
    static const uint8_t frames[] = {0x82, 0x01, 0x0C, 0x81, 0x02, 'h', 'i'};
    memcpy(out + n, frames, sizeof frames);
    s->ok = send(fd, out, (size_t)n + sizeof frames, MSG_NOSIGNAL) ==
            (ssize_t)n + (ssize_t)sizeof frames;
    char sink[256];
    while (recv(fd, sink, sizeof sink, 0) > 0) {
    }
    close(fd);
    return NULL;
}

static void test_frames_with_the_101(void **state) {
    (void)state;
    struct server s = {.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    assert_true(s.listen_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s.listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s.listen_fd, 1), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(s.listen_fd, (struct sockaddr *)&sa, &sl), 0);
    s.port = ntohs(sa.sin_port);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, server_main, &s), 0);

    struct iof_ws_client *c = NULL;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_ws_client_connect("127.0.0.1", s.port, "/x", 5000, NULL, &c, &d), IOF_OK);
    assert_int_equal(iof_ws_client_pending(c), 2);
    struct iof_ws_msg m = {0};
    /* both frames are there already: a zero timeout must do */
    assert_int_equal(iof_ws_client_recv(c, 0, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_BINARY);
    assert_int_equal(m.len, 1);
    assert_int_equal(m.data[0], 0x0C);
    iof_ws_msg_free(&m);
    assert_int_equal(iof_ws_client_recv(c, 0, &m), IOF_OK);
    assert_int_equal(m.opcode, IOF_WS_TEXT);
    assert_string_equal((const char *)m.data, "hi");
    iof_ws_msg_free(&m);
    assert_int_equal(iof_ws_client_recv(c, 0, &m), IOF_ETIMEOUT);
    iof_ws_client_free(c);
    pthread_join(tid, NULL);
    close(s.listen_fd);
    assert_true(s.ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_with_the_101),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
