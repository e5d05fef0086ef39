/* NATS transport across a nats-server restart: node A streams 1,000 messages/s to a receiver on
 * node B, the server is killed and started again mid-stream; delivery resumes by itself, nothing is
 * duplicated, and the loss is bounded: with room in the queue it is only what was in flight when
 * the server died, with a small queue the overflow is dropped oldest-first and counted. */
#include "agent/nats/nats_testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define RATE_HZ 1000
#define TAIL    500

struct run {
    int sent;
    size_t received;
    size_t duplicates;
    size_t out_of_order;
    int first_after_restart; /* index of the first message sent after the restart */
    size_t received_after_restart;
    size_t received_tail; /* of the last TAIL messages sent */
    struct agent_nats_counters a, b;
};

static void add_ns(struct timespec *ts, long ns) {
    ts->tv_nsec += ns;
    while (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Streams total_ms of messages at RATE_HZ; the server is stopped with sig at down_at_ms and
 * started again on the same port at up_at_ms. */
static void stream_through_restart(struct agent_nats_config *cfg,
                                   int total_ms,
                                   int down_at_ms,
                                   int up_at_ms,
                                   int sig,
                                   struct run *out) {
    struct nats_server srv = {0};
    assert_int_equal(nats_server_start(&srv, 0, NULL), 0);
    struct rec *ra = rec_new(), *rb = rec_new();
    struct agent_nats *a = test_transport(&srv, ra, cfg);
    struct agent_nats *b = test_transport(&srv, rb, NULL);
    assert_non_null(a);
    assert_non_null(b);
    const char *u[] = {"viewer"};
    const char *ap[] = {"demo"};
    struct iof_diag d = {{0}};
    assert_int_equal(agent_nats_set_local(b, u, ap, 1, &d), IOF_OK);

    int n = total_ms * RATE_HZ / 1000;
    int down_i = down_at_ms * RATE_HZ / 1000, up_i = up_at_ms * RATE_HZ / 1000;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (int i = 0; i < n; i++) {
        if (i == down_i) {
            nats_server_stop(&srv, sig);
        }
        if (i == up_i) {
            assert_int_equal(nats_server_start(&srv, srv.port, NULL), 0);
            out->first_after_restart = i;
        }
        char id[64];
        struct iof_msg m = test_msg(id, "s", i, "sensor-uuid");
        assert_int_equal(agent_nats_publish(a, "demo", "viewer", &m, &d), IOF_OK);
        add_ns(&next, 1000000000L / RATE_HZ);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    out->sent = n;
    /* Drain: until everything arrived or nothing new came for 2 s (at most 15 s). */
    size_t last = 0;
    int64_t quiet_since = iof_time_mono_ms(), deadline = quiet_since + 15000;
    while (iof_time_mono_ms() < deadline) {
        size_t got = rec_count(rb);
        if (got >= (size_t)n) {
            break;
        }
        if (got != last) {
            last = got;
            quiet_since = iof_time_mono_ms();
        } else if (iof_time_mono_ms() - quiet_since > 2000) {
            break;
        }
        nats_sleep_ms(20);
    }
    agent_nats_counters(a, &out->a);
    agent_nats_counters(b, &out->b);

    uint8_t *seen = calloc((size_t)n, 1);
    pthread_mutex_lock(&rb->mu);
    int64_t prev = -1;
    for (size_t i = 0; i < rb->n; i++) {
        const struct rec_entry *e = &rb->e[i];
        assert_true(e->seq >= 0 && e->seq < n);
        char id[64];
        (void)snprintf(id, sizeof id, "s-%06lld", (long long)e->seq);
        assert_string_equal(e->id, id);
        assert_string_equal(e->publisher, "sensor-uuid");
        assert_int_equal(e->timestamp, 1700000000000 + e->seq);
        if (seen[e->seq]) {
            out->duplicates++;
        }
        seen[e->seq] = 1;
        if (e->seq < prev) {
            out->out_of_order++;
        }
        prev = e->seq;
        if (e->seq >= out->first_after_restart) {
            out->received_after_restart++;
        }
        if (e->seq >= n - TAIL) {
            out->received_tail++;
        }
    }
    out->received = rb->n;
    pthread_mutex_unlock(&rb->mu);
    free(seen);

    agent_nats_free(a);
    agent_nats_free(b);
    rec_free(ra);
    rec_free(rb);
    nats_server_cleanup(&srv);
}

static void report(const char *name, const struct run *r) {
    size_t lost = (size_t)r->sent - (r->received - r->duplicates);
    fprintf(stderr,
            "%s: sent=%d received=%zu lost=%zu (%.2f%%) droppedBufferFull=%llu "
            "lostInFlight=%lld duplicates=%zu outOfOrder=%zu receivedAfterRestart=%zu/%d "
            "receivedLast%d=%zu reconnects A=%llu B=%llu\n",
            name,
            r->sent,
            r->received,
            lost,
            100.0 * (double)lost / r->sent,
            (unsigned long long)r->a.dropped_buffer_full,
            (long long)lost - (long long)r->a.dropped_buffer_full,
            r->duplicates,
            r->out_of_order,
            r->received_after_restart,
            r->sent - r->first_after_restart,
            TAIL,
            r->received_tail,
            (unsigned long long)r->a.reconnects,
            (unsigned long long)r->b.reconnects);
}

/* Server killed (SIGKILL) for 1 s in a 4 s stream; the queue has room for all of it. */
static void test_restart_kill(void **state) {
    (void)state;
    struct agent_nats_config cfg = {0};
    struct run r = {0};
    stream_through_restart(&cfg, 4000, 1000, 2000, SIGKILL, &r);
    report("restart SIGKILL, buffer 10000", &r);
    size_t lost = (size_t)r.sent - r.received;
    assert_int_equal(r.duplicates, 0);
    assert_int_equal(r.a.dropped_buffer_full, 0);
    assert_true(r.a.reconnects >= 1);
    assert_true(r.b.reconnects >= 1);
    assert_true(r.a.connected);
    /* Everything sent after the restart arrives; what was in flight when the server died is the
     * only loss (at 1,000 messages/s a few ms worth). */
    assert_int_equal(r.received_after_restart, (size_t)(r.sent - r.first_after_restart));
    assert_int_equal(r.received_tail, TAIL);
    assert_true(lost <= 50);
    assert_int_equal(r.b.delivered, r.received);
}

/* Server stopped (SIGTERM) for 1 s with a queue of 100: what does not fit while the connection is
 * down and settling (about 1.3 s at 1,000 messages/s) is dropped, oldest first, and counted; the
 * stream then resumes in full. */
static void test_restart_small_buffer(void **state) {
    (void)state;
    struct agent_nats_config cfg = {.buffer_max = 100};
    struct run r = {0};
    stream_through_restart(&cfg, 3000, 1000, 2000, SIGTERM, &r);
    report("restart SIGTERM, buffer 100", &r);
    size_t lost = (size_t)r.sent - r.received;
    assert_int_equal(r.duplicates, 0);
    assert_true(r.a.dropped_buffer_full >= 800 && r.a.dropped_buffer_full <= 2000);
    assert_true(lost >= r.a.dropped_buffer_full);
    assert_true(lost - r.a.dropped_buffer_full <= 50); /* nearly every loss is counted */
    assert_int_equal(r.received_tail, TAIL);
    assert_true(r.a.reconnects >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_kill),
        cmocka_unit_test(test_restart_small_buffer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    agent_nats_library_close();
    return rc;
}
