/* On-node bus benchmark client (not a test), driven by bench/messaging.sh: publishers and receivers
 * on the Local API message sockets (/v2/message/socket/id/<id>) of an Agent, or of bench/ws_relay
 * (the raw relay baseline), all on one port.
 *
 * The client is kept cheap so it does not hide the server: its own minimal WebSocket framing on a
 * plain socket (handshake, masked frames with a zero key, which RFC 6455 allows), frames written
 * in batches and read in large chunks, one thread per socket. Every message is a classic 0x0D frame
 * made once with iof_msg_frame_encode; the last 12 bytes of its content carry the publisher's index
 * and a sequence number, so receivers check per-publisher order and count losses without decoding.
 * Receivers ACK (0x0B) every message, one write per chunk read; publishers count receipts (0x0E).
 *
 *   --test one|fan|many  throughput: every publisher sends --count messages as fast as the flow
 *                        window allows (at most --window messages ahead of the slowest receiver
 *                        and of its own receipts), timed from the first send until the last
 *                        delivery and the last receipt arrived. Deliveries/s = messages received
 *                        by all receivers / time.
 *   --test paced         one publisher at --rate messages/s for --seconds: publish (frame
 *                        written) -> arrival latency, p50/p99/max.
 * Prints one JSON object. */
#include "iomessage/iomessage.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 32
#define TAIL      12 /* publisher index (4) + sequence (8), big-endian, at the end of content */
#define CHUNK     (256 * 1024)

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bus-bench: %s (%s)\n", what, strerror(errno));
    exit(1);
}

static int ws_connect(unsigned port, const char *id) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        die("connect");
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[512];
    int n = snprintf(req,
                     sizeof req,
                     "GET /v2/message/socket/id/%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     id,
                     port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        die("handshake");
    }
    /* Byte by byte up to the blank line: nothing of the stream is read past the 101. */
    char head[2048];
    size_t h = 0;
    while (h < sizeof head - 1 && (h < 4 || memcmp(head + h - 4, "\r\n\r\n", 4) != 0)) {
        if (recv(fd, head + h, 1, 0) != 1) {
            die("handshake answer");
        }
        h++;
    }
    head[h] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "bus-bench: %s refused: %.40s\n", id, head);
        exit(1);
    }
    return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("send");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Client frame header (binary, FIN, masked with key 0) for a payload of len; returns its size. */
static size_t frame_head(uint8_t *out, size_t len) {
    out[0] = 0x82;
    size_t h;
    if (len < 126) {
        out[1] = (uint8_t)(0x80 | len);
        h = 2;
    } else if (len < 65536) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        h = 4;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        }
        h = 10;
    }
    memset(out + h, 0, 4);
    return h + 4;
}

/* Calls fn for every whole server frame in buf[0..*len) and keeps the partial rest. */
typedef void (*frame_fn)(void *ctx, uint8_t opcode, const uint8_t *p, size_t n);
static void parse_frames(uint8_t *buf, size_t *len, frame_fn fn, void *ctx) {
    size_t off = 0;
    for (;;) {
        size_t rest = *len - off;
        if (rest < 2) {
            break;
        }
        const uint8_t *f = buf + off;
        size_t h = 2;
        uint64_t pl = f[1] & 0x7f;
        if (pl == 126) {
            if (rest < 4) {
                break;
            }
            pl = ((uint64_t)f[2] << 8) | f[3];
            h = 4;
        } else if (pl == 127) {
            if (rest < 10) {
                break;
            }
            pl = 0;
            for (int i = 0; i < 8; i++) {
                pl = (pl << 8) | f[2 + i];
            }
            h = 10;
        }
        if (rest < h + pl) {
            break;
        }
        fn(ctx, f[0] & 0x0f, f + h, (size_t)pl);
        off += h + (size_t)pl;
    }
    memmove(buf, buf + off, *len - off);
    *len -= off;
}

/* ---- shared state ---- */

static unsigned g_npub, g_nrecv, g_window = 500;
static uint64_t g_count;
static atomic_bool g_stop;

static int64_t *g_sent_ns; /* paced: by seq */
static int64_t *g_recv_ns; /* paced: by seq */

struct recv_state {
    int fd;
    pthread_t th;
    atomic_uint_fast64_t got;
    uint64_t warm;
    uint64_t order_errors;
    uint64_t next_seq[MAX_SOCKS];
    int64_t last_ns;
    uint8_t acks[CHUNK / 8];
    size_t nacks;
};

struct pub_state {
    int fd;
    unsigned index;
    pthread_t th;
    atomic_uint_fast64_t receipts;
    int64_t last_ns;
    uint8_t *tmpl; /* client frame of one message */
    size_t tmpl_len;
};

static struct recv_state g_recv[MAX_SOCKS];
static struct pub_state g_pub[MAX_SOCKS];

static void on_recv_frame(void *ctx, uint8_t opcode, const uint8_t *p, size_t n) {
    struct recv_state *r = ctx;
    if (opcode != 2 || n < 5 + TAIL || p[0] != IOF_MSG_OP_MESSAGE) {
        return;
    }
    const uint8_t *t = p + n - TAIL;
    uint32_t pub = ((uint32_t)t[0] << 24) | ((uint32_t)t[1] << 16) | ((uint32_t)t[2] << 8) | t[3];
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++) {
        seq = (seq << 8) | t[4 + i];
    }
    static const uint8_t ack[7] = {0x82, 0x81, 0, 0, 0, 0, IOF_MSG_OP_ACK};
    memcpy(r->acks + r->nacks, ack, sizeof ack);
    r->nacks += sizeof ack;
    if (pub == UINT32_MAX) {
        r->warm++;
        return;
    }
    if (pub < MAX_SOCKS) {
        if (seq != r->next_seq[pub]) {
            r->order_errors++;
        }
        r->next_seq[pub] = seq + 1;
    }
    int64_t t_ns = now_ns();
    if (g_recv_ns != NULL && seq < g_count) {
        g_recv_ns[seq] = t_ns;
    }
    r->last_ns = t_ns;
    atomic_fetch_add(&r->got, 1);
}

static void *recv_main(void *arg) {
    struct recv_state *r = arg;
    uint8_t *buf = malloc(CHUNK);
    size_t len = 0;
    while (!atomic_load(&g_stop)) {
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0) {
            continue;
        }
        ssize_t n = recv(r->fd, buf + len, CHUNK - len, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            fprintf(stderr, "bus-bench: receiver socket ended\n");
            break;
        }
        len += (size_t)n;
        parse_frames(buf, &len, on_recv_frame, r);
        if (r->nacks > 0) {
            write_all(r->fd, r->acks, r->nacks);
            r->nacks = 0;
        }
    }
    free(buf);
    return NULL;
}

static void on_pub_frame(void *ctx, uint8_t opcode, const uint8_t *p, size_t n) {
    struct pub_state *s = ctx;
    if (opcode == 2 && n > 0 && p[0] == IOF_MSG_OP_RECEIPT) {
        atomic_fetch_add(&s->receipts, 1);
        s->last_ns = now_ns();
    }
}

/* Reads what is there (waiting up to timeout_ms for something) and counts receipts. */
static void pub_read(struct pub_state *s, uint8_t *buf, size_t *len, int timeout_ms) {
    struct pollfd pf = {.fd = s->fd, .events = POLLIN};
    if (poll(&pf, 1, timeout_ms) <= 0) {
        return;
    }
    ssize_t n = recv(s->fd, buf + *len, CHUNK - *len, MSG_DONTWAIT);
    if (n > 0) {
        *len += (size_t)n;
        parse_frames(buf, len, on_pub_frame, s);
    } else if (n == 0) {
        die("publisher socket ended");
    }
}

static void stamp(uint8_t *frame, size_t len, uint32_t pub, uint64_t seq) {
    uint8_t *t = frame + len - TAIL;
    t[0] = (uint8_t)(pub >> 24);
    t[1] = (uint8_t)(pub >> 16);
    t[2] = (uint8_t)(pub >> 8);
    t[3] = (uint8_t)pub;
    for (int i = 0; i < 8; i++) {
        t[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
    }
}

static uint64_t slowest_receiver(void) {
    uint64_t m = UINT64_MAX;
    for (unsigned i = 0; i < g_nrecv; i++) {
        uint64_t g = atomic_load(&g_recv[i].got);
        m = g < m ? g : m;
    }
    return m;
}

static void *pub_main(void *arg) {
    struct pub_state *s = arg;
    uint8_t *rbuf = malloc(CHUNK);
    size_t rlen = 0;
    size_t per = s->tmpl_len;
    size_t batch_max = per >= 65536 ? 1 : 65536 / per;
    uint8_t *out = malloc(per * batch_max);
    uint64_t sent = 0;
    while (sent < g_count) {
        /* Flow window: receivers see every publisher's messages (many: one receiver gets them
         * all), so the slowest receiver's count is compared with what all publishers sent. */
        uint64_t ahead_recv = g_npub > 1 ? sent * g_npub : sent;
        uint64_t slow = slowest_receiver();
        uint64_t rc = atomic_load(&s->receipts);
        uint64_t room = g_window;
        if (ahead_recv >= slow + room || sent >= rc + room) {
            pub_read(s, rbuf, &rlen, 1);
            continue;
        }
        uint64_t can = room - (sent - rc);
        uint64_t can_r = g_npub > 1 ? (slow + room - ahead_recv) / g_npub + 1 : slow + room - sent;
        can = can < can_r ? can : can_r;
        can = can < batch_max ? can : batch_max;
        can = can < g_count - sent ? can : g_count - sent;
        for (uint64_t i = 0; i < can; i++) {
            memcpy(out + i * per, s->tmpl, per);
            stamp(out + i * per, per, s->index, sent + i);
        }
        write_all(s->fd, out, per * can);
        sent += can;
        pub_read(s, rbuf, &rlen, 0);
    }
    while (atomic_load(&s->receipts) < g_count && !atomic_load(&g_stop)) {
        pub_read(s, rbuf, &rlen, 50);
    }
    free(out);
    free(rbuf);
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *test = "one";
    const char *pubs[MAX_SOCKS], *recvs[MAX_SOCKS];
    unsigned port = 0, size = 256, rate = 1000, seconds = 5;
    g_count = 100000;
    static const struct option opts[] = {{"port", required_argument, NULL, 'P'},
                                         {"test", required_argument, NULL, 't'},
                                         {"pub", required_argument, NULL, 'p'},
                                         {"recv", required_argument, NULL, 'r'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"size", required_argument, NULL, 'z'},
                                         {"rate", required_argument, NULL, 'a'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"window", required_argument, NULL, 'w'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
            case 'P': port = (unsigned)atoi(optarg); break;
            case 't': test = optarg; break;
            case 'p':
                if (g_npub < MAX_SOCKS) {
                    pubs[g_npub++] = optarg;
                }
                break;
            case 'r':
                if (g_nrecv < MAX_SOCKS) {
                    recvs[g_nrecv++] = optarg;
                }
                break;
            case 'c': g_count = strtoull(optarg, NULL, 10); break;
            case 'z': size = (unsigned)atoi(optarg); break;
            case 'a': rate = (unsigned)atoi(optarg); break;
            case 's': seconds = (unsigned)atoi(optarg); break;
            case 'w': g_window = (unsigned)atoi(optarg); break;
            default: return 2;
        }
    }
    bool paced = strcmp(test, "paced") == 0;
    if (port == 0 || g_npub == 0 || g_nrecv == 0 || size < TAIL || rate == 0 ||
        (paced && g_npub != 1)) {
        fprintf(stderr,
                "usage: bus-bench --port P --test one|fan|many|paced --pub ID... --recv ID... "
                "[--count N] [--size B] [--rate R --seconds S] [--window W]\n");
        return 2;
    }
    if (paced) {
        g_count = (uint64_t)rate * seconds;
        g_sent_ns = calloc(g_count, sizeof *g_sent_ns);
        g_recv_ns = calloc(g_count, sizeof *g_recv_ns);
    }
    for (unsigned i = 0; i < g_nrecv; i++) {
        g_recv[i].fd = ws_connect(port, recvs[i]);
    }
    uint8_t *content = malloc(size);
    memset(content, 'x', size);
    for (unsigned i = 0; i < g_npub; i++) {
        struct pub_state *s = &g_pub[i];
        s->fd = ws_connect(port, pubs[i]);
        s->index = i;
        struct iof_msg m = {.version = 4,
                            .publisher = pubs[i],
                            .infotype = "bench",
                            .infoformat = "bytes",
                            .contentdata = content,
                            .contentdata_len = size};
        uint8_t *frame = NULL;
        size_t flen = 0;
        if (iof_msg_frame_encode(&m, &frame, &flen, NULL) != IOF_OK) {
            return 1;
        }
        uint8_t head[14];
        size_t h = frame_head(head, flen);
        s->tmpl = malloc(h + flen);
        memcpy(s->tmpl, head, h);
        memcpy(s->tmpl + h, frame, flen);
        s->tmpl_len = h + flen;
        free(frame);
    }
    for (unsigned i = 0; i < g_nrecv; i++) {
        if (pthread_create(&g_recv[i].th, NULL, recv_main, &g_recv[i]) != 0) {
            return 1;
        }
    }
    /* Warm-up: until every receiver got a message (its socket is registered), at most 10 s. */
    struct pub_state *p0 = &g_pub[0];
    uint8_t *rbuf = malloc(CHUNK);
    size_t rlen = 0;
    int64_t warm_end = now_ns() + 10 * 1000000000LL;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < g_nrecv; i++) {
            all = all && g_recv[i].warm > 0;
        }
        if (all) {
            break;
        }
        if (now_ns() > warm_end) {
            fprintf(stderr, "bus-bench: warm-up messages did not arrive\n");
            return 1;
        }
        stamp(p0->tmpl, p0->tmpl_len, UINT32_MAX, 0);
        write_all(p0->fd, p0->tmpl, p0->tmpl_len);
        pub_read(p0, rbuf, &rlen, 50);
    }
    struct timespec settle = {.tv_nsec = 200000000};
    nanosleep(&settle, NULL);
    for (unsigned i = 0; i < g_npub; i++) {
        pub_read(&g_pub[i], rbuf, &rlen, 0);
        rlen = 0;
        atomic_store(&g_pub[i].receipts, 0);
    }

    int64_t t0 = now_ns();
    if (paced) {
        int64_t period = 1000000000LL / rate;
        for (uint64_t i = 0; i < g_count; i++) {
            int64_t due = t0 + (int64_t)i * period, wait = due - now_ns();
            if (wait > 0) {
                struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
                nanosleep(&ts, NULL);
            }
            stamp(p0->tmpl, p0->tmpl_len, 0, i);
            g_sent_ns[i] = now_ns();
            write_all(p0->fd, p0->tmpl, p0->tmpl_len);
            pub_read(p0, rbuf, &rlen, 0);
        }
        int64_t end = now_ns() + 2000000000LL;
        while ((atomic_load(&g_recv[0].got) < g_count || atomic_load(&p0->receipts) < g_count) &&
               now_ns() < end) {
            pub_read(p0, rbuf, &rlen, 10);
        }
    } else {
        for (unsigned i = 0; i < g_npub; i++) {
            if (pthread_create(&g_pub[i].th, NULL, pub_main, &g_pub[i]) != 0) {
                return 1;
            }
        }
        /* Until all arrived, or nothing moved for 3 s. */
        uint64_t want = g_count * g_npub * g_nrecv, last = 0;
        int64_t quiet = now_ns();
        for (;;) {
            uint64_t got = 0;
            for (unsigned i = 0; i < g_nrecv; i++) {
                got += atomic_load(&g_recv[i].got);
            }
            uint64_t rc = 0;
            for (unsigned i = 0; i < g_npub; i++) {
                rc += atomic_load(&g_pub[i].receipts);
            }
            if (got >= want && rc >= g_count * g_npub) {
                break;
            }
            if (got + rc != last) {
                last = got + rc;
                quiet = now_ns();
            } else if (now_ns() - quiet > 3000000000LL) {
                break;
            }
            struct timespec ts = {.tv_nsec = 1000000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store(&g_stop, true);
    for (unsigned i = 0; i < g_npub && !paced; i++) {
        pthread_join(g_pub[i].th, NULL);
    }
    for (unsigned i = 0; i < g_nrecv; i++) {
        pthread_join(g_recv[i].th, NULL);
    }
    int64_t last = t0;
    uint64_t got = 0, receipts = 0, order = 0;
    for (unsigned i = 0; i < g_nrecv; i++) {
        got += atomic_load(&g_recv[i].got);
        order += g_recv[i].order_errors;
        last = g_recv[i].last_ns > last ? g_recv[i].last_ns : last;
    }
    for (unsigned i = 0; i < g_npub; i++) {
        receipts += atomic_load(&g_pub[i].receipts);
        last = g_pub[i].last_ns > last ? g_pub[i].last_ns : last;
    }
    uint64_t sent = g_count * g_npub;
    double secs = (double)(last - t0) / 1e9;
    printf("{\"test\":\"%s\",\"size\":%u,\"publishers\":%u,\"receivers\":%u,\"sent\":%llu,"
           "\"received\":%llu,\"receipts\":%llu,\"orderErrors\":%llu,\"seconds\":%.3f",
           test,
           size,
           g_npub,
           g_nrecv,
           (unsigned long long)sent,
           (unsigned long long)got,
           (unsigned long long)receipts,
           (unsigned long long)order,
           secs);
    if (paced) {
        int64_t *lat = calloc(g_count + 1, sizeof *lat);
        size_t k = 0;
        for (uint64_t i = 0; i < g_count; i++) {
            if (g_recv_ns[i] != 0) {
                lat[k++] = g_recv_ns[i] - g_sent_ns[i];
            }
        }
        qsort(lat, k, sizeof *lat, cmp_i64);
        double p50 = k ? (double)lat[(k - 1) / 2] / 1e6 : 0;
        double p99 = k ? (double)lat[(k * 99 + 99) / 100 - 1] / 1e6 : 0;
        double mx = k ? (double)lat[k - 1] / 1e6 : 0;
        printf(",\"rate\":%u,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}\n", rate, p50, p99, mx);
    } else {
        printf(",\"msgsPerSec\":%.0f,\"deliveriesPerSec\":%.0f}\n",
               secs > 0 ? (double)sent / secs : 0.0,
               secs > 0 ? (double)got / secs : 0.0);
    }
    return 0;
}
