/* Test-only helpers of the http module's tests: a raw HTTP/1.1 client over loopback sockets (to
 * see response headers and to send what a well-behaved client would not), with receive timeouts so
 * a broken server fails a test instead of hanging it. Included only by *_test.c files. */
#ifndef IOF_HTTP_TESTUTIL_H
#define IOF_HTTP_TESTUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RAW_TIMEOUT_S 5

struct raw_resp {
    int status;
    char data[1 << 16]; /* head + body as received, NUL-terminated */
    size_t len;
    size_t head_len; /* bytes up to and including the blank line */
    const char *body;
    size_t body_len;
};

static inline int raw_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = RAW_TIMEOUT_S};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline bool raw_send(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static inline bool raw_send_str(int fd, const char *s) {
    return raw_send(fd, s, strlen(s));
}

/* Reads one response: the head, then Content-Length bytes, or (no length) until end of stream.
 * A 101 (or any answer to HEAD, head_only) stops after the head; whatever followed it is left in
 * body. */
static inline bool raw_read_response_ex(int fd, struct raw_resp *r, bool head_only) {
    memset(r, 0, sizeof *r);
    r->status = -1;
    const char *end = NULL;
    while (end == NULL) {
        if (r->len + 1 >= sizeof r->data) {
            return false;
        }
        ssize_t n = recv(fd, r->data + r->len, sizeof r->data - 1 - r->len, 0);
        if (n <= 0) {
            return false;
        }
        r->len += (size_t)n;
        r->data[r->len] = '\0';
        end = strstr(r->data, "\r\n\r\n");
    }
    r->head_len = (size_t)(end - r->data) + 4;
    if (sscanf(r->data, "HTTP/1.%*d %d", &r->status) != 1) {
        return false;
    }
    long want = -1;
    const char *cl = strcasestr(r->data, "\r\nContent-Length:");
    if (cl != NULL && cl < end) {
        want = strtol(cl + 17, NULL, 10);
    }
    bool no_body = head_only || r->status == 101 || r->status == 204 || r->status == 304;
    while (!no_body && (want < 0 || r->len - r->head_len < (size_t)want)) {
        if (r->len + 1 >= sizeof r->data) {
            return false;
        }
        ssize_t n = recv(fd, r->data + r->len, sizeof r->data - 1 - r->len, 0);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            if (want >= 0) {
                return false;
            }
            break;
        }
        r->len += (size_t)n;
        r->data[r->len] = '\0';
    }
    r->body = r->data + r->head_len;
    r->body_len = r->len - r->head_len;
    return true;
}

static inline bool raw_read_response(int fd, struct raw_resp *r) {
    return raw_read_response_ex(fd, r, false);
}

/* Copies the value of header name (first occurrence) into out; false when absent. */
static inline bool raw_header(const struct raw_resp *r, const char *name, char *out, size_t size) {
    size_t nlen = strlen(name);
    const char *p = strstr(r->data, "\r\n");
    while (p != NULL && (size_t)(p - r->data) + 2 < r->head_len) {
        p += 2;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ') {
                v++;
            }
            const char *e = strstr(v, "\r\n");
            size_t n = (size_t)(e - v);
            if (n >= size) {
                n = size - 1;
            }
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        p = strstr(p, "\r\n");
    }
    return false;
}

/* One request on a fresh connection. */
static inline bool raw_request(uint16_t port, const char *text, struct raw_resp *r) {
    int fd = raw_connect(port);
    if (fd < 0) {
        return false;
    }
    bool ok = raw_send_str(fd, text) && raw_read_response_ex(fd, r, strncmp(text, "HEAD ", 5) == 0);
    close(fd);
    return ok;
}

#endif
