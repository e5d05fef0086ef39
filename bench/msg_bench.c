/* Messaging benchmark client (not a test), driven by bench/messaging.sh: plays a publisher and a
 * receiver on real Agents' Local API message sockets (/v2/message/socket/id/<id>, ws/client.h).
 *
 * --mode bus: the publisher's socket on --pub-port, the receiver's on --recv-port (the same Agent
 * for on-node, two Agents for cross-node). Latency is publish (frame written) -> frame received by
 * the receiver (monotonic clock, one process), paced at --rate messages/s for --seconds; then a
 * burst of --burst messages sent as fast as the socket takes them (throughput: received / time
 * from the first send to the last arrival). The receiver ACKs every message.
 * --mode echo: WebSocket ping -> pong round trips on the socket of --recv-id at --recv-port, paced
 * the same way (the loopback WebSocket baseline).
 * Prints one JSON object. */
#include "common/clock.h"
#include "iomessage/iomessage.h"
#include "ws/client.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
    if (us > 0) {
        nanosleep(&(struct timespec){.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000},
                  NULL);
    }
}

static struct iof_ws_client *connect_socket(uint16_t port, const char *id) {
    char path[256];
    (void)snprintf(path, sizeof path, "/v2/message/socket/id/%s", id);
    struct iof_ws_client *c = NULL;
    struct iof_diag d = {{0}};
    if (iof_ws_client_connect("127.0.0.1", port, path, 5000, NULL, &c, &d) != IOF_OK) {
        fprintf(stderr, "msg-bench: cannot open %s on port %u: %s\n", path, (unsigned)port, d.msg);
        exit(1);
    }
    return c;
}

/* ---- receiver ---- */

struct receiver {
    struct iof_ws_client *ws;
    pthread_t th;
    atomic_bool stop;
    pthread_mutex_t mu;
    int64_t *recv_us; /* by seq; 0 = not yet */
    size_t n;
    size_t got;
    size_t warm; /* messages without a seq */
    int64_t last_us;
};

static void *receiver_main(void *arg) {
    struct receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct iof_ws_msg m = {0};
        iof_err err = iof_ws_client_recv(r->ws, 50, &m);
        if (err == IOF_ETIMEOUT) {
            continue;
        }
        if (err != IOF_OK || m.opcode == IOF_WS_CLOSE) {
            fprintf(stderr, "msg-bench: receiver socket ended (%s)\n", iof_strerror(err));
            iof_ws_msg_free(&m);
            break;
        }
        int64_t t = now_us();
        const uint8_t *inner = NULL;
        size_t inner_len = 0;
        struct iof_msg *msg = NULL;
        if (m.opcode == IOF_WS_BINARY &&
            iof_msg_frame_parse(m.data, m.len, &inner, &inner_len, NULL) == IOF_OK &&
            iof_msg_decode(inner, inner_len, &msg, NULL) == IOF_OK) {
            uint8_t ack = IOF_MSG_OP_ACK;
            if (iof_ws_client_send(r->ws, IOF_WS_BINARY, &ack, 1) != IOF_OK) {
                fprintf(stderr, "msg-bench: ACK failed\n");
            }
            long long seq = -1;
            char head[24] = "";
            size_t hl =
                msg->contentdata_len < sizeof head - 1 ? msg->contentdata_len : sizeof head - 1;
            memcpy(head, msg->contentdata, hl);
            pthread_mutex_lock(&r->mu);
            if (sscanf(head, "seq%lld", &seq) == 1 && seq >= 0 && (size_t)seq < r->n) {
                if (r->recv_us[seq] == 0) {
                    r->recv_us[seq] = t;
                    r->got++;
                    r->last_us = t;
                }
            } else {
                r->warm++;
            }
            pthread_mutex_unlock(&r->mu);
            iof_msg_free(msg);
        }
        iof_ws_msg_free(&m);
    }
    return NULL;
}

static void receiver_reset(struct receiver *r, size_t n) {
    pthread_mutex_lock(&r->mu);
    free(r->recv_us);
    r->recv_us = calloc(n, sizeof *r->recv_us);
    r->n = n;
    r->got = 0;
    r->last_us = 0;
    pthread_mutex_unlock(&r->mu);
}

static size_t receiver_got(struct receiver *r, size_t *warm) {
    pthread_mutex_lock(&r->mu);
    size_t g = r->got;
    if (warm != NULL) {
        *warm = r->warm;
    }
    pthread_mutex_unlock(&r->mu);
    return g;
}

/* Until every message arrived or none arrived for 2 s. */
static size_t receiver_wait(struct receiver *r, size_t n) {
    size_t last = 0;
    int64_t quiet = iof_time_mono_ms();
    for (;;) {
        size_t g = receiver_got(r, NULL);
        if (g >= n || iof_time_mono_ms() - quiet > 2000) {
            return g;
        }
        if (g != last) {
            last = g;
            quiet = iof_time_mono_ms();
        }
        sleep_us(5000);
    }
}

/* ---- publisher ---- */

static void drain_receipts(struct iof_ws_client *tx) {
    struct iof_ws_msg m = {0};
    while (iof_ws_client_recv(tx, 0, &m) == IOF_OK) {
        iof_ws_msg_free(&m);
    }
}

static void publish(struct iof_ws_client *tx, const char *pub, long long seq, size_t size) {
    char content[4096];
    if (size >= sizeof content) {
        size = sizeof content - 1;
    }
    memset(content, 'x', size);
    int k = seq >= 0 ? snprintf(content, sizeof content, "seq%lld;", seq)
                     : snprintf(content, sizeof content, "warm;");
    content[k] = 'x';
    struct iof_msg msg = {.version = 4,
                          .publisher = pub,
                          .infotype = "bench",
                          .infoformat = "bytes",
                          .contentdata = (const uint8_t *)content,
                          .contentdata_len = size > (size_t)k ? size : (size_t)k};
    uint8_t *frame = NULL;
    size_t len = 0;
    if (iof_msg_frame_encode(&msg, &frame, &len, NULL) != IOF_OK ||
        iof_ws_client_send(tx, IOF_WS_BINARY, frame, len) != IOF_OK) {
        fprintf(stderr, "msg-bench: publish failed\n");
        exit(1);
    }
    free(frame);
    drain_receipts(tx);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct stats {
    size_t sent, received;
    double p50, p99, max;
};

static struct stats latency(const int64_t *sent_us, const int64_t *recv_us, size_t n) {
    struct stats s = {.sent = n};
    int64_t *lat = calloc(n + 1, sizeof *lat);
    for (size_t i = 0; i < n; i++) {
        if (recv_us[i] != 0) {
            lat[s.received++] = recv_us[i] - sent_us[i];
        }
    }
    qsort(lat, s.received, sizeof *lat, cmp_i64);
    if (s.received > 0) {
        s.p50 = (double)lat[(s.received - 1) / 2] / 1000.0;
        s.p99 = (double)lat[(s.received * 99 + 99) / 100 - 1] / 1000.0;
        s.max = (double)lat[s.received - 1] / 1000.0;
    }
    free(lat);
    return s;
}

int main(int argc, char **argv) {
    const char *mode = "bus", *pub_id = NULL, *recv_id = NULL;
    unsigned pub_port = 0, recv_port = 0, rate = 1000, seconds = 10, burst = 20000, size = 64;
    static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
                                         {"pub-port", required_argument, NULL, 'P'},
                                         {"pub-id", required_argument, NULL, 'p'},
                                         {"recv-port", required_argument, NULL, 'R'},
                                         {"recv-id", required_argument, NULL, 'r'},
                                         {"rate", required_argument, NULL, 'a'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"burst", required_argument, NULL, 'b'},
                                         {"size", required_argument, NULL, 'z'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
            case 'm': mode = optarg; break;
            case 'P': pub_port = (unsigned)atoi(optarg); break;
            case 'p': pub_id = optarg; break;
            case 'R': recv_port = (unsigned)atoi(optarg); break;
            case 'r': recv_id = optarg; break;
            case 'a': rate = (unsigned)atoi(optarg); break;
            case 's': seconds = (unsigned)atoi(optarg); break;
            case 'b': burst = (unsigned)atoi(optarg); break;
            case 'z': size = (unsigned)atoi(optarg); break;
            default: return 2;
        }
    }
    bool echo = strcmp(mode, "echo") == 0;
    if (recv_port == 0 || recv_id == NULL || rate == 0 ||
        (!echo && (pub_port == 0 || pub_id == NULL))) {
        fprintf(stderr,
                "usage: msg-bench --mode bus --pub-port P --pub-id ID --recv-port P --recv-id ID "
                "[--rate 1000] [--seconds 10] [--burst 20000] [--size 64]\n"
                "       msg-bench --mode echo --recv-port P --recv-id ID [--rate] [--seconds]\n");
        return 2;
    }
    size_t n = (size_t)rate * seconds;
    int64_t *sent_us = calloc(n > burst ? n : burst, sizeof *sent_us);
    int64_t period = 1000000 / rate;

    if (echo) {
        struct iof_ws_client *ws = connect_socket((uint16_t)recv_port, recv_id);
        int64_t *recv_us = calloc(n, sizeof *recv_us);
        int64_t t0 = now_us();
        for (size_t i = 0; i < n; i++) {
            sleep_us(t0 + (int64_t)i * period - now_us());
            uint64_t seq = i;
            sent_us[i] = now_us();
            if (iof_ws_client_ping(ws, &seq, sizeof seq) != IOF_OK) {
                fprintf(stderr, "msg-bench: ping failed\n");
                return 1;
            }
            /* the pong (messages for this id would arrive too: none are routed to it) */
            struct iof_ws_msg m = {0};
            while (iof_ws_client_recv(ws, 1000, &m) == IOF_OK) {
                bool pong = m.opcode == IOF_WS_PONG && m.len == sizeof seq &&
                            memcmp(m.data, &seq, sizeof seq) == 0;
                iof_ws_msg_free(&m);
                if (pong) {
                    recv_us[i] = now_us();
                    break;
                }
            }
        }
        struct stats s = latency(sent_us, recv_us, n);
        printf("{\"sent\":%zu,\"received\":%zu,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}\n",
               s.sent,
               s.received,
               s.p50,
               s.p99,
               s.max);
        iof_ws_client_free(ws);
        free(recv_us);
        free(sent_us);
        return 0;
    }

    struct receiver r = {0};
    pthread_mutex_init(&r.mu, NULL);
    r.ws = connect_socket((uint16_t)recv_port, recv_id);
    struct iof_ws_client *tx = connect_socket((uint16_t)pub_port, pub_id);
    receiver_reset(&r, 1);
    if (pthread_create(&r.th, NULL, receiver_main, &r) != 0) {
        return 1;
    }
    /* Warm-up: until one message made it (subscriptions in place), at most 15 s. */
    int64_t warm_end = iof_time_mono_ms() + 15000;
    size_t warm = 0;
    while (warm == 0) {
        if (iof_time_mono_ms() > warm_end) {
            fprintf(stderr, "msg-bench: nothing arrived in 15 s\n");
            return 1;
        }
        publish(tx, pub_id, -1, size);
        sleep_us(100000);
        (void)receiver_got(&r, &warm);
    }
    sleep_us(300000);

    /* Paced. */
    receiver_reset(&r, n);
    int64_t t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        sleep_us(t0 + (int64_t)i * period - now_us());
        sent_us[i] = now_us();
        publish(tx, pub_id, (long long)i, size);
    }
    int64_t paced_end = now_us();
    (void)receiver_wait(&r, n);
    pthread_mutex_lock(&r.mu);
    struct stats paced = latency(sent_us, r.recv_us, n);
    double paced_rate =
        (r.last_us > t0) ? (double)paced.received * 1e6 / (double)(r.last_us - t0) : 0.0;
    pthread_mutex_unlock(&r.mu);

    /* Burst. */
    receiver_reset(&r, burst);
    int64_t b0 = now_us();
    for (size_t i = 0; i < burst; i++) {
        sent_us[i] = now_us();
        publish(tx, pub_id, (long long)i, size);
    }
    (void)receiver_wait(&r, burst);
    pthread_mutex_lock(&r.mu);
    struct stats bs = latency(sent_us, r.recv_us, burst);
    double burst_rate = r.last_us > b0 ? (double)bs.received * 1e6 / (double)(r.last_us - b0) : 0;
    pthread_mutex_unlock(&r.mu);

    atomic_store(&r.stop, true);
    pthread_join(r.th, NULL);
    printf("{\"rate\":%u,\"seconds\":%.2f,\"size\":%u,\"sent\":%zu,\"received\":%zu,"
           "\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f,\"pacedMsgsPerSec\":%.0f,"
           "\"burstSent\":%zu,\"burstReceived\":%zu,\"burstMsgsPerSec\":%.0f,"
           "\"burstP99Ms\":%.3f}\n",
           rate,
           (double)(paced_end - t0) / 1e6,
           size,
           paced.sent,
           paced.received,
           paced.p50,
           paced.p99,
           paced.max,
           paced_rate,
           bs.sent,
           bs.received,
           burst_rate,
           bs.p99);
    iof_ws_client_free(tx);
    iof_ws_client_free(r.ws);
    free(r.recv_us);
    free(sent_us);
    pthread_mutex_destroy(&r.mu);
    return 0;
}
