/* Log stream sessions; see logs.h. A linked list under one mutex: sessions are few (bounded by
 * max_sessions) and short-lived. */
#include "controller/domain/logs.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session {
    struct session *next;
    char id[33];
    char fog_uuid[64];
    char msvc_uuid[64];
    long tail;
    int64_t since_s;
    bool follow;
    bool claimed;
    int64_t opened_ms;
    uint64_t bytes;
    const struct ctl_log_sink_ops *ops;
    void *sink;
};

/* A streamed HTTP response as a sink. */
static iof_err stream_write(void *ctx, const void *data, size_t len) {
    return iof_http_stream_write(ctx, data, len);
}

static bool stream_gone(void *ctx) {
    return iof_http_stream_gone(ctx);
}

static void stream_end(void *ctx) {
    iof_http_stream_end(ctx);
}

static const struct ctl_log_sink_ops stream_ops = {stream_write, stream_gone, stream_end};

struct ctl_logs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ctl_logs_limits lim;
    struct session *list;
    size_t count;
    bool stopping;
    pthread_t sweeper;
};

/* Ends s's stream (with a last line when note is not NULL) and frees it; s is unlinked. */
static void session_close(struct session *s, const char *note) {
    if (note != NULL) {
        char line[256];
        int n = snprintf(line, sizeof line, "-- %s --\n", note);
        /* best effort: a full buffer or a departed client just loses the note */
        if (n > 0 &&
            s->ops->write(s->sink, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) !=
                IOF_OK) {
            IOF_DEBUG("logs", "log_stream_note_lost id=%s", s->id);
        }
    }
    s->ops->end(s->sink);
    free(s);
}

/* Unlinks and returns the sessions that must end now; with l->mu held. */
static struct session *take_expired_locked(struct ctl_logs *l, int64_t now) {
    struct session *done = NULL;
    for (struct session **p = &l->list; *p != NULL;) {
        struct session *s = *p;
        bool unclaimed = !s->claimed && now - s->opened_ms > l->lim.claim_ms;
        bool too_long = now - s->opened_ms > l->lim.max_duration_ms;
        if (unclaimed || too_long || s->ops->gone(s->sink)) {
            *p = s->next;
            l->count--;
            s->next = done;
            done = s;
            /* remember why, in the otherwise unused tail field of a dying session */
            s->tail = unclaimed ? 1 : too_long ? 2 : 0;
        } else {
            p = &s->next;
        }
    }
    return done;
}

static void close_list(struct session *done) {
    while (done != NULL) {
        struct session *next = done->next;
        const char *note = done->tail == 1   ? "the node did not answer: is its Agent running and "
                                               "connected?"
                           : done->tail == 2 ? "time limit of this log stream reached"
                                             : NULL;
        IOF_INFO("logs",
                 "log_stream_end id=%s node=%s why=%s",
                 done->id,
                 done->fog_uuid,
                 done->tail == 1   ? "unclaimed"
                 : done->tail == 2 ? "time"
                                   : "client");
        session_close(done, note);
        done = next;
    }
}

static void *sweeper_main(void *arg) {
    struct ctl_logs *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        struct session *done = take_expired_locked(l, iof_time_mono_ms());
        pthread_mutex_unlock(&l->mu);
        close_list(done);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

iof_err ctl_logs_new(const struct ctl_logs_limits *limits, struct ctl_logs **out) {
    struct ctl_logs *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return IOF_ENOMEM;
    }
    if (limits != NULL) {
        l->lim = *limits;
    }
    l->lim.max_sessions = l->lim.max_sessions != 0 ? l->lim.max_sessions : 256;
    l->lim.max_per_node = l->lim.max_per_node != 0 ? l->lim.max_per_node : 8;
    l->lim.max_bytes = l->lim.max_bytes != 0 ? l->lim.max_bytes : (uint64_t)64 << 20;
    l->lim.max_duration_ms = l->lim.max_duration_ms != 0 ? l->lim.max_duration_ms : 3600 * 1000;
    l->lim.claim_ms = l->lim.claim_ms != 0 ? l->lim.claim_ms : 15000;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->sweeper, NULL, sweeper_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return IOF_ENOMEM;
    }
    *out = l;
    return IOF_OK;
}

void ctl_logs_free(struct ctl_logs *l) {
    if (l == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->sweeper, NULL);
    struct session *s = l->list;
    l->list = NULL;
    while (s != NULL) {
        struct session *next = s->next;
        session_close(s, "the Controller is stopping");
        s = next;
    }
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

iof_err
ctl_logs_open(struct ctl_logs *l, const struct ctl_log_request *r, struct iof_http_stream *stream) {
    return ctl_logs_open_sink(l, r, &stream_ops, stream);
}

iof_err ctl_logs_open_sink(struct ctl_logs *l,
                           const struct ctl_log_request *r,
                           const struct ctl_log_sink_ops *ops,
                           void *ctx) {
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        ops->end(ctx);
        return IOF_ENOMEM;
    }
    const char *msvc = r->msvc_uuid != NULL ? r->msvc_uuid : "";
    if (strlen(r->fog_uuid) >= sizeof s->fog_uuid || strlen(msvc) >= sizeof s->msvc_uuid ||
        iof_random_string(s->id, sizeof s->id - 1, "0123456789abcdef") != IOF_OK) {
        free(s);
        ops->end(ctx);
        return IOF_EINVAL;
    }
    (void)snprintf(s->fog_uuid, sizeof s->fog_uuid, "%s", r->fog_uuid);
    (void)snprintf(s->msvc_uuid, sizeof s->msvc_uuid, "%s", msvc);
    s->tail = r->tail;
    s->since_s = r->since_s;
    s->follow = r->follow;
    s->opened_ms = iof_time_mono_ms();
    s->ops = ops;
    s->sink = ctx;
    pthread_mutex_lock(&l->mu);
    size_t per_node = 0;
    for (struct session *o = l->list; o != NULL; o = o->next) {
        per_node += strcmp(o->fog_uuid, s->fog_uuid) == 0;
    }
    iof_err err = l->stopping || l->count >= l->lim.max_sessions || per_node >= l->lim.max_per_node
                      ? IOF_EBUSY
                      : IOF_OK;
    if (err == IOF_OK) {
        s->next = l->list;
        l->list = s;
        l->count++;
    }
    pthread_mutex_unlock(&l->mu);
    if (err != IOF_OK) {
        session_close(s, "too many log streams are open; try again later");
        return err;
    }
    IOF_INFO("logs",
             "log_stream_open id=%s node=%s microservice=%s follow=%d",
             s->id,
             s->fog_uuid,
             s->msvc_uuid[0] != '\0' ? s->msvc_uuid : "-",
             (int)s->follow);
    return IOF_OK;
}

bool ctl_logs_pending(struct ctl_logs *l, const char *fog_uuid) {
    pthread_mutex_lock(&l->mu);
    bool found = false;
    for (struct session *s = l->list; s != NULL && !found; s = s->next) {
        found = !s->claimed && strcmp(s->fog_uuid, fog_uuid) == 0;
    }
    pthread_mutex_unlock(&l->mu);
    return found;
}

json_t *ctl_logs_claim(struct ctl_logs *l, const char *fog_uuid) {
    json_t *out = json_array();
    if (out == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&l->mu);
    for (struct session *s = l->list; s != NULL; s = s->next) {
        if (s->claimed || strcmp(s->fog_uuid, fog_uuid) != 0) {
            continue;
        }
        json_t *item = json_pack("{s:s, s:s, s:I, s:I, s:b}",
                                 "id",
                                 s->id,
                                 "microserviceUuid",
                                 s->msvc_uuid,
                                 "tail",
                                 (json_int_t)s->tail,
                                 "since",
                                 (json_int_t)s->since_s,
                                 "follow",
                                 s->follow);
        if (item == NULL || json_array_append_new(out, item) != 0) {
            break;
        }
        s->claimed = true;
    }
    pthread_mutex_unlock(&l->mu);
    return out;
}

/* The node's session id, with l->mu held; NULL if none. */
static struct session **find_locked(struct ctl_logs *l, const char *fog_uuid, const char *id) {
    for (struct session **p = &l->list; *p != NULL; p = &(*p)->next) {
        if (strcmp((*p)->id, id) == 0 && strcmp((*p)->fog_uuid, fog_uuid) == 0) {
            return p;
        }
    }
    return NULL;
}

iof_err ctl_logs_write(
    struct ctl_logs *l, const char *fog_uuid, const char *id, const void *data, size_t len) {
    pthread_mutex_lock(&l->mu);
    struct session **p = find_locked(l, fog_uuid, id);
    if (p == NULL) {
        pthread_mutex_unlock(&l->mu);
        return IOF_ENOENT;
    }
    struct session *s = *p;
    iof_err err;
    const char *note = NULL;
    if (s->bytes + len > l->lim.max_bytes) {
        err = IOF_E2BIG;
        note = "size limit of this log stream reached";
    } else {
        err = s->ops->write(s->sink, data, len);
        if (err == IOF_OK) {
            s->bytes += len;
        } else if (err == IOF_E2BIG) {
            err = IOF_EBUSY; /* bigger than the buffer: the Agent sends smaller chunks */
        } else if (err == IOF_EIO) {
            err = IOF_ENOENT; /* the client has gone */
        }
    }
    if (err == IOF_E2BIG || err == IOF_ENOENT) {
        *p = s->next;
        l->count--;
    } else {
        s = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    if (s != NULL) {
        session_close(s, note);
    }
    return err;
}

iof_err ctl_logs_end(struct ctl_logs *l, const char *fog_uuid, const char *id, const char *reason) {
    pthread_mutex_lock(&l->mu);
    struct session **p = find_locked(l, fog_uuid, id);
    struct session *s = p != NULL ? *p : NULL;
    if (s != NULL) {
        *p = s->next;
        l->count--;
    }
    pthread_mutex_unlock(&l->mu);
    if (s == NULL) {
        return IOF_ENOENT;
    }
    IOF_INFO("logs", "log_stream_end id=%s node=%s why=agent", s->id, s->fog_uuid);
    session_close(s, reason != NULL && reason[0] != '\0' ? reason : NULL);
    return IOF_OK;
}

size_t ctl_logs_count(struct ctl_logs *l) {
    pthread_mutex_lock(&l->mu);
    size_t n = l->count;
    pthread_mutex_unlock(&l->mu);
    return n;
}
