/* Cross-node messaging benchmark (not a test): two NATS transports ("node A" publishing, "node B"
 * hosting the receiver) in one process over a nats-server on loopback, next to raw libnats
 * publish/subscribe of the same bytes measured the same way.
 *
 * For each of the two paths: latency (publish call -> deliver callback, monotonic clock) at a
 * paced rate, and throughput of a burst sent as fast as the publisher can. Prints one JSON object.
 * Usage: nats-latency --url nats://127.0.0.1:4222 [--rate 1000] [--seconds 10] [--burst 100000]
 *                     [--size 64] */
#include "agent/nats/nats_transport.h"

#include "common/clock.h"

#include <getopt.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sink {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int64_t *recv_us; /* by sequence number; 0 = not received */
    size_t n;         /* slots */
    size_t got;
};

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sink_record(struct sink *s, int64_t seq) {
    int64_t t = now_us();
    pthread_mutex_lock(&s->mu);
    if (seq >= 0 && (size_t)seq < s->n && s->recv_us[seq] == 0) {
        s->recv_us[seq] = t;
        s->got++;
        if (s->got == s->n) {
            pthread_cond_broadcast(&s->cond);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void sink_reset(struct sink *s, size_t n) {
    pthread_mutex_lock(&s->mu);
    free(s->recv_us);
    s->recv_us = calloc(n, sizeof *s->recv_us);
    s->n = n;
    s->got = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Waits until every message arrived or nothing new came for 2 s; returns the count. */
static size_t sink_wait(struct sink *s) {
    size_t last = (size_t)-1;
    int64_t quiet = iof_time_mono_ms();
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t got = s->got;
        size_t n = s->n;
        pthread_mutex_unlock(&s->mu);
        if (got >= n) {
            return got;
        }
        if (got != last) {
            last = got;
            quiet = iof_time_mono_ms();
        } else if (iof_time_mono_ms() - quiet > 2000) {
            return got;
        }
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
}

static iof_err transport_deliver(void *ctx, const char *receiver, const struct iof_msg *m) {
    (void)receiver;
    sink_record(ctx, m->sequencenumber);
    return IOF_OK;
}

static void raw_deliver(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    /* The sequence number travels in the first 8 bytes of the raw payload. */
    int64_t seq = -1;
    if (natsMsg_GetDataLength(msg) >= 8) {
        memcpy(&seq, natsMsg_GetData(msg), sizeof seq);
    }
    sink_record(closure, seq);
    natsMsg_Destroy(msg);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct result {
    size_t sent, received;
    double p50_ms, p99_ms, max_ms, seconds;
};

static void summarise(struct sink *s, const int64_t *send_us, size_t n, struct result *r) {
    int64_t *lat = calloc(n, sizeof *lat);
    size_t k = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        if (s->recv_us[i] != 0) {
            lat[k++] = s->recv_us[i] - send_us[i];
        }
    }
    pthread_mutex_unlock(&s->mu);
    qsort(lat, k, sizeof *lat, cmp_i64);
    r->sent = n;
    r->received = k;
    if (k > 0) {
        r->p50_ms = (double)lat[k / 2] / 1000.0;
        r->p99_ms = (double)lat[(k * 99) / 100] / 1000.0;
        r->max_ms = (double)lat[k - 1] / 1000.0;
    }
    free(lat);
}

/* One path under test: publish message i. */
struct path {
    struct agent_nats *t;
    natsConnection *raw;
    uint8_t *payload;
    size_t size;
};

static struct iof_msg bench_msg(const uint8_t *content, size_t size, int64_t i) {
    return (struct iof_msg){.version = 4,
                            .id = "4TGbYL6KnYqNQ3dmPQbAWGJrXfk7ZXza",
                            .tag = "bench",
                            .sequencenumber = i,
                            .timestamp = iof_time_now_ms(),
                            .publisher = "sensor-uuid",
                            .infotype = "application/octet-stream",
                            .infoformat = "raw",
                            .contentdata = content,
                            .contentdata_len = size};
}

static void path_publish(struct path *p, int64_t i) {
    if (p->t != NULL) {
        struct iof_msg m = bench_msg(p->payload, p->size, i);
        if (agent_nats_publish(p->t, "bench", "viewer-uuid", &m, NULL) != IOF_OK) {
            fprintf(stderr, "publish failed\n");
        }
    } else {
        memcpy(p->payload, &i, sizeof i);
        if (natsConnection_Publish(p->raw, "raw.viewer", p->payload, (int)p->size) != NATS_OK) {
            fprintf(stderr, "raw publish failed\n");
        }
    }
}

static void run_paced(struct path *p, struct sink *s, int rate, int seconds, struct result *r) {
    size_t n = (size_t)rate * (size_t)seconds;
    int64_t *send_us = calloc(n, sizeof *send_us);
    sink_reset(s, n);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long step = 1000000000L / rate;
    int64_t t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        send_us[i] = now_us();
        path_publish(p, (int64_t)i);
        next.tv_nsec += step;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    (void)sink_wait(s);
    summarise(s, send_us, n, r);
    r->seconds = (double)(now_us() - t0) / 1e6;
    free(send_us);
}

static void run_burst(struct path *p, struct sink *s, size_t n, struct result *r) {
    int64_t *send_us = calloc(n, sizeof *send_us);
    sink_reset(s, n);
    int64_t t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        send_us[i] = now_us();
        path_publish(p, (int64_t)i);
    }
    (void)sink_wait(s);
    int64_t last = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        last = s->recv_us[i] > last ? s->recv_us[i] : last;
    }
    pthread_mutex_unlock(&s->mu);
    summarise(s, send_us, n, r);
    r->seconds = (double)(last - t0) / 1e6;
    free(send_us);
}

static void print_result(const char *name, const struct result *r, bool last) {
    printf("  \"%s\": {\"sent\": %zu, \"received\": %zu, \"seconds\": %.3f, \"msgsPerSec\": %.0f, "
           "\"p50Ms\": %.3f, \"p99Ms\": %.3f, \"maxMs\": %.3f}%s\n",
           name,
           r->sent,
           r->received,
           r->seconds,
           r->seconds > 0 ? (double)r->received / r->seconds : 0.0,
           r->p50_ms,
           r->p99_ms,
           r->max_ms,
           last ? "" : ",");
}

int main(int argc, char **argv) {
    const char *url = "nats://127.0.0.1:4222";
    int rate = 1000, seconds = 10;
    size_t burst = 100000, size = 64;
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"burst", required_argument, NULL, 'b'},
                                         {"size", required_argument, NULL, 'z'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "u:r:s:b:z:", opts, NULL)) != -1) {
        switch (c) {
            case 'u': url = optarg; break;
            case 'r': rate = atoi(optarg); break;
            case 's': seconds = atoi(optarg); break;
            case 'b': burst = (size_t)strtoul(optarg, NULL, 10); break;
            case 'z': size = (size_t)strtoul(optarg, NULL, 10); break;
            default:
                fprintf(stderr,
                        "usage: %s --url URL [--rate N] [--seconds N] [--burst N] [--size N]\n",
                        argv[0]);
                return 2;
        }
    }
    if (rate <= 0 || seconds <= 0 || burst == 0 || size < 8 || size > 65536) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    struct sink s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    uint8_t *payload = calloc(1, size);
    struct result tr_paced = {0}, tr_burst = {0}, raw_paced = {0}, raw_burst = {0};
    struct agent_nats_counters cnt_a = {0}, cnt_b = {0};

    /* Transport path. The queue and libnats' pending limit are sized for the burst, so the burst
     * measures speed, not drops. */
    {
        struct agent_nats_config cfg = {.urls = url, .buffer_max = burst + 1};
        struct agent_nats *a = NULL, *b = NULL;
        struct iof_diag d = {{0}};
        iof_err err = agent_nats_new(&cfg, transport_deliver, &s, &a, &d);
        if (err == IOF_OK) {
            err = agent_nats_new(&cfg, transport_deliver, &s, &b, &d);
        }
        const char *u[] = {"viewer-uuid"};
        const char *ap[] = {"bench"};
        if (err == IOF_OK) {
            err = agent_nats_set_local(b, u, ap, 1, &d);
        }
        if (err != IOF_OK) {
            fprintf(stderr, "transport: %s\n", iof_diag_text(&d, err));
            return 1;
        }
        struct path p = {.t = a, .payload = payload, .size = size};
        run_paced(&p, &s, rate, seconds, &tr_paced);
        run_burst(&p, &s, burst, &tr_burst);
        agent_nats_counters(a, &cnt_a);
        agent_nats_counters(b, &cnt_b);
        agent_nats_free(a);
        agent_nats_free(b);
    }

    /* Raw libnats: same server, payloads as long as the transport's encoded ioMessages, SendAsap
     * like the transport, plain subscription callback, no encoding or decoding. */
    {
        struct iof_msg m = bench_msg(payload, size, 1);
        size_t raw_size = 0;
        if (iof_msg_encoded_size(&m, IOF_MSG_WIDTH_CLASSIC, &raw_size, NULL) != IOF_OK) {
            return 1;
        }
        uint8_t *raw_payload = calloc(1, raw_size);
        natsOptions *o = NULL;
        natsConnection *pub = NULL, *sub = NULL;
        natsSubscription *ns = NULL;
        natsStatus st = natsOptions_Create(&o);
        if (st == NATS_OK) {
            st = natsOptions_SetURL(o, url);
        }
        if (st == NATS_OK) {
            st = natsOptions_SetSendAsap(o, true);
        }
        if (st == NATS_OK) {
            st = natsOptions_SetMaxPendingMsgs(o, (int)burst + 1);
        }
        if (st == NATS_OK) {
            st = natsConnection_Connect(&pub, o);
        }
        if (st == NATS_OK) {
            st = natsConnection_Connect(&sub, o);
        }
        if (st == NATS_OK) {
            st = natsConnection_Subscribe(&ns, sub, "raw.viewer", raw_deliver, &s);
        }
        if (st == NATS_OK) {
            st = natsConnection_Flush(sub);
        }
        if (st != NATS_OK) {
            fprintf(stderr, "raw: %s\n", natsStatus_GetText(st));
            return 1;
        }
        struct path p = {.raw = pub, .payload = raw_payload, .size = raw_size};
        run_paced(&p, &s, rate, seconds, &raw_paced);
        run_burst(&p, &s, burst, &raw_burst);
        natsSubscription_Destroy(ns);
        natsConnection_Destroy(pub);
        natsConnection_Destroy(sub);
        natsOptions_Destroy(o);
        free(raw_payload);
    }

    printf("{\n  \"rate\": %d, \"seconds\": %d, \"burst\": %zu, \"contentBytes\": %zu,\n",
           rate,
           seconds,
           burst,
           size);
    printf("  \"transportPublished\": %llu, \"transportDelivered\": %llu, "
           "\"transportDropped\": %llu,\n",
           (unsigned long long)cnt_a.published,
           (unsigned long long)cnt_b.delivered,
           (unsigned long long)(cnt_a.dropped_buffer_full + cnt_b.dropped_slow_consumer +
                                cnt_b.dropped_malformed + cnt_b.dropped_oversized));
    print_result("transportPaced", &tr_paced, false);
    print_result("transportBurst", &tr_burst, false);
    print_result("rawPaced", &raw_paced, false);
    print_result("rawBurst", &raw_burst, true);
    printf("}\n");
    free(s.recv_us);
    free(payload);
    agent_nats_library_close();
    return 0;
}
