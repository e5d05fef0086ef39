/* Held long-polls keyed by node uuid: a chained hash table for wake-ups by node, and a wheel of
 * one list per second of deadline for the timer, which then looks only at the polls due in the
 * seconds that have passed, not at every held poll on each tick (tens of thousands per replica).
 * Answers are always sent outside the lock. */
#include "controller/domain/agent_wait.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 100
/* Seconds of deadline the wheel tells apart: more than the longest wait (MAX_WAIT_S, 60), so one
 * slot holds one second's deadlines, bar any left from a timer that was held up for a lap. */
#define WHEEL_SLOTS 64

/* Waits of at least JITTER_FROM_MS end at a random point of their last quarter: a fleet whose
 * polls were all sent at once (agents started together, or all reconnecting to a replica that took
 * over) would otherwise come back in the same instant every period, each poll a database look-up,
 * and leave the replica no thread for anything else meanwhile. */
#define JITTER_FROM_MS 10000

static int64_t jittered(int64_t timeout_ms) {
    uint32_t r = 0;
    if (timeout_ms < JITTER_FROM_MS || iof_random_bytes(&r, sizeof r) != IOF_OK) {
        return timeout_ms;
    }
    return timeout_ms - (int64_t)(r % (uint32_t)(timeout_ms / 4 + 1));
}

struct waiter {
    char fog_uuid[64];
    uint64_t hold_id;
    int64_t deadline_ms; /* monotonic */
    struct waiter *next_in_bucket;
    struct waiter *prev, *next; /* the wheel slot of its deadline */
};

struct ctl_agent_wait {
    struct iof_http_server *http;
    ctl_agent_wait_answer_fn answer;
    void *ctx;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    bool thread_started;
    pthread_t timer;

    struct waiter **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    struct waiter *wheel[WHEEL_SLOTS];
    int64_t next_sec; /* first second of deadlines the timer has not finished with */
};

static struct waiter **slot_of(struct ctl_agent_wait *aw, int64_t deadline_ms) {
    return &aw->wheel[(size_t)(deadline_ms / 1000) % WHEEL_SLOTS];
}

static size_t hash(const char *s) {
    size_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

/* Unlinks w from both structures; mu held. */
static void unlink_locked(struct ctl_agent_wait *aw, struct waiter *w) {
    struct waiter **pp = &aw->buckets[hash(w->fog_uuid) & (aw->nbuckets - 1)];
    while (*pp != NULL && *pp != w) {
        pp = &(*pp)->next_in_bucket;
    }
    if (*pp == w) {
        *pp = w->next_in_bucket;
    }
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        *slot_of(aw, w->deadline_ms) = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    aw->count--;
}

static struct waiter *find_locked(struct ctl_agent_wait *aw, const char *fog_uuid) {
    struct waiter *w = aw->buckets[hash(fog_uuid) & (aw->nbuckets - 1)];
    while (w != NULL && strcmp(w->fog_uuid, fog_uuid) != 0) {
        w = w->next_in_bucket;
    }
    return w;
}

/* Doubles the table when it holds more entries than buckets; mu held. Failure to grow only
 * makes chains longer. */
static void maybe_grow_locked(struct ctl_agent_wait *aw) {
    if (aw->count < aw->nbuckets) {
        return;
    }
    size_t n = aw->nbuckets * 2;
    struct waiter **b = calloc(n, sizeof *b);
    if (b == NULL) {
        return;
    }
    for (size_t k = 0; k < WHEEL_SLOTS; k++) {
        for (struct waiter *w = aw->wheel[k]; w != NULL; w = w->next) {
            size_t i = hash(w->fog_uuid) & (n - 1);
            w->next_in_bucket = b[i];
            b[i] = w;
        }
    }
    free(aw->buckets);
    aw->buckets = b;
    aw->nbuckets = n;
}

static void answer(struct ctl_agent_wait *aw, struct waiter *w) {
    json_t *body = aw->answer(aw->ctx, w->fog_uuid);
    iof_err err = body != NULL ? iof_http_answer(aw->http, w->hold_id, 200, body)
                               : iof_http_answer_raw(aw->http, w->hold_id, 500, NULL, NULL, 0);
    if (err != IOF_OK && err != IOF_ENOENT) {
        IOF_WARN(
            "agent", "long_poll_answer_failed fog=%s error=%s", w->fog_uuid, iof_strerror(err));
    }
    free(w);
}

static void *timer_main(void *arg) {
    struct ctl_agent_wait *aw = arg;
    pthread_mutex_lock(&aw->mu);
    while (!aw->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&aw->cond, &aw->mu, &ts);
        int64_t now = iof_time_mono_ms();
        int64_t now_sec = now / 1000;
        struct waiter *expired = NULL;
        /* The slots of every second since the last tick, the current one included (its later
         * deadlines wait for the next tick); at most one lap of the wheel. */
        int64_t first =
            aw->next_sec > now_sec - (WHEEL_SLOTS - 1) ? aw->next_sec : now_sec - (WHEEL_SLOTS - 1);
        for (int64_t sec = first; sec <= now_sec && !aw->stopping; sec++) {
            for (struct waiter *w = *slot_of(aw, sec * 1000), *next; w != NULL; w = next) {
                next = w->next;
                if (w->deadline_ms <= now) {
                    unlink_locked(aw, w);
                    w->next = expired;
                    expired = w;
                }
            }
        }
        aw->next_sec = now_sec;
        if (expired != NULL) {
            pthread_mutex_unlock(&aw->mu);
            while (expired != NULL) {
                struct waiter *w = expired;
                expired = w->next;
                answer(aw, w);
            }
            pthread_mutex_lock(&aw->mu);
        }
    }
    pthread_mutex_unlock(&aw->mu);
    return NULL;
}

iof_err ctl_agent_wait_new(struct iof_http_server *http,
                           ctl_agent_wait_answer_fn answer_fn,
                           void *ctx,
                           struct ctl_agent_wait **out) {
    struct ctl_agent_wait *aw = calloc(1, sizeof *aw);
    if (aw == NULL) {
        return IOF_ENOMEM;
    }
    aw->http = http;
    aw->answer = answer_fn;
    aw->ctx = ctx;
    aw->nbuckets = 256;
    aw->next_sec = iof_time_mono_ms() / 1000;
    aw->buckets = calloc(aw->nbuckets, sizeof *aw->buckets);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&aw->mu, NULL);
    pthread_cond_init(&aw->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (aw->buckets == NULL || pthread_create(&aw->timer, NULL, timer_main, aw) != 0) {
        ctl_agent_wait_free(aw);
        return IOF_ENOMEM;
    }
    aw->thread_started = true;
    *out = aw;
    return IOF_OK;
}

iof_err ctl_agent_wait_hold(struct ctl_agent_wait *aw,
                            struct iof_http_request *req,
                            const char *fog_uuid,
                            int64_t timeout_ms) {
    if (strlen(fog_uuid) >= sizeof((struct waiter *)0)->fog_uuid) {
        return IOF_EINVAL;
    }
    struct waiter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = iof_http_hold(req, &w->hold_id);
    if (err != IOF_OK) {
        free(w);
        return err;
    }
    memcpy(w->fog_uuid, fog_uuid, strlen(fog_uuid) + 1);
    w->deadline_ms = iof_time_mono_ms() + jittered(timeout_ms);
    pthread_mutex_lock(&aw->mu);
    if (aw->stopping) {
        pthread_mutex_unlock(&aw->mu);
        /* The hold is answered at once so the request is not left hanging. */
        if (iof_http_answer_raw(aw->http, w->hold_id, 503, NULL, NULL, 0) != IOF_OK) {
            IOF_DEBUG("agent", "long_poll_gone fog=%s", fog_uuid);
        }
        free(w);
        return IOF_OK;
    }
    struct waiter *old = find_locked(aw, fog_uuid);
    if (old != NULL) {
        unlink_locked(aw, old);
    }
    maybe_grow_locked(aw);
    size_t i = hash(fog_uuid) & (aw->nbuckets - 1);
    w->next_in_bucket = aw->buckets[i];
    aw->buckets[i] = w;
    struct waiter **slot = slot_of(aw, w->deadline_ms);
    w->prev = NULL;
    w->next = *slot;
    if (*slot != NULL) {
        (*slot)->prev = w;
    }
    *slot = w;
    aw->count++;
    pthread_mutex_unlock(&aw->mu);
    if (old != NULL) {
        answer(aw, old); /* replaced by the newer request */
    }
    return IOF_OK;
}

void ctl_agent_wait_wake(struct ctl_agent_wait *aw, const char *fog_uuid) {
    if (aw == NULL || fog_uuid == NULL) {
        return;
    }
    pthread_mutex_lock(&aw->mu);
    struct waiter *w = aw->stopping ? NULL : find_locked(aw, fog_uuid);
    if (w != NULL) {
        unlink_locked(aw, w);
    }
    pthread_mutex_unlock(&aw->mu);
    if (w != NULL) {
        answer(aw, w);
    }
}

void ctl_agent_wait_wake_all(struct ctl_agent_wait *aw) {
    if (aw == NULL) {
        return;
    }
    struct waiter *list = NULL;
    pthread_mutex_lock(&aw->mu);
    for (size_t k = 0; k < WHEEL_SLOTS && !aw->stopping; k++) {
        while (aw->wheel[k] != NULL) {
            struct waiter *w = aw->wheel[k];
            unlink_locked(aw, w);
            w->next = list;
            list = w;
        }
    }
    pthread_mutex_unlock(&aw->mu);
    while (list != NULL) {
        struct waiter *w = list;
        list = w->next;
        answer(aw, w);
    }
}

size_t ctl_agent_wait_count(struct ctl_agent_wait *aw) {
    pthread_mutex_lock(&aw->mu);
    size_t n = aw->count;
    pthread_mutex_unlock(&aw->mu);
    return n;
}

void ctl_agent_wait_stop(struct ctl_agent_wait *aw) {
    if (aw == NULL) {
        return;
    }
    pthread_mutex_lock(&aw->mu);
    bool join = aw->thread_started && !aw->stopping;
    aw->stopping = true;
    pthread_cond_broadcast(&aw->cond);
    pthread_mutex_unlock(&aw->mu);
    if (join) {
        pthread_join(aw->timer, NULL);
    }
    pthread_mutex_lock(&aw->mu);
    for (size_t k = 0; k < WHEEL_SLOTS; k++) {
        while (aw->wheel[k] != NULL) {
            struct waiter *w = aw->wheel[k];
            unlink_locked(aw, w);
            free(w);
        }
    }
    pthread_mutex_unlock(&aw->mu);
}

void ctl_agent_wait_free(struct ctl_agent_wait *aw) {
    if (aw == NULL) {
        return;
    }
    ctl_agent_wait_stop(aw);
    pthread_cond_destroy(&aw->cond);
    pthread_mutex_destroy(&aw->mu);
    free(aw->buckets);
    free(aw);
}
