/* The NATS transport of nats_transport.h: one libnats connection, the subscriptions of the local
 * receivers, a bounded outgoing queue for the time the connection is down, and the thread that
 * flushes it. */
#include "agent/nats/nats_transport.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MODULE "nats"

#define DEFAULT_BUFFER_MAX       10000
#define DEFAULT_BUFFER_BYTES_MAX ((size_t)64 * 1024 * 1024)
#define DEFAULT_MAX_PAYLOAD      ((size_t)1024 * 1024)
#define DEFAULT_RECONNECT_WAIT   250
#define RECONNECT_JITTER_MS      100
#define RECONNECT_JITTER_TLS_MS  1000
#define CONNECT_TIMEOUT_MS       2000
/* A dead server that sends no FIN (a partition) is noticed after about PING_INTERVAL x
 * (MAX_PINGS_OUT + 1). */
#define PING_INTERVAL_MS 5000
#define MAX_PINGS_OUT    2
/* How long agent_nats_free() waits for libnats to finish callbacks before giving up. */
#define CLOSE_WAIT_MS     5000
#define MAX_URLS          32
#define WRITE_DEADLINE_MS 2000
#define SUBJECT_ROOT      "iofog."
/* Subjects nats-server refused to subscribe, remembered for another try (see on_error). */
#define DENIED_MAX      64
#define RESUB_DELAY_MIN 200
#define RESUB_DELAY_MAX 5000

/* One queued outgoing message: subject and payload in one allocation. */
struct item {
    size_t len;
    char *subject;
    uint8_t data[];
};

/* One local receiver's subscription. */
struct sub {
    char *subject;
    natsSubscription *ns;
};

/* A publisher routed to a local receiver (sorted by receiver, then publisher). */
struct pair {
    char *receiver;
    char *publisher;
};

/* One remote receiver and its application (sorted by uuid). */
struct remote {
    char *uuid;
    char *app;
};

struct agent_nats {
    agent_nats_deliver_fn fn;
    void *ctx;
    size_t buffer_max, buffer_bytes_max, max_payload;
    int64_t resume_delay_ms;

    natsConnection *nc;

    /* mu guards everything below (and publishing, so queued and direct messages keep order). */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool connected;     /* as last reported by libnats' callbacks */
    int64_t resume_at;  /* monotonic ms: direct publishing resumes then */
    bool closing;       /* agent_nats_free() started */
    bool closed;        /* libnats' closed callback ran */
    struct item **ring; /* buffer_max slots */
    size_t head, count, bytes;
    uint64_t subs_created, subs_completed;
    struct agent_nats_counters c;
    /* Subscriptions nats-server refused (its permissions follow route changes a moment later than
     * this node learns of them): subscribed again at resub_at, the delay doubling per refusal. */
    char *denied[DENIED_MAX];
    size_t ndenied;
    int64_t resub_at, resub_delay;

    /* sub_mu serialises agent_nats_set_local(); never held while taking mu's callbacks' path. */
    pthread_mutex_t sub_mu;
    struct sub *subs;
    size_t nsubs;

    pthread_mutex_t remote_mu;
    struct remote *remotes;
    size_t nremotes;

    /* pub_mu guards the publishers routed to each local receiver; enforce false: no check. */
    pthread_mutex_t pub_mu;
    struct pair *pairs;
    size_t npairs;
    bool enforce;

    pthread_t flusher;
    bool flusher_started;
};

static iof_err nats_fail(struct iof_diag *d, natsStatus s, const char *what) {
    const char *last = nats_GetLastError(NULL);
    iof_err err = IOF_EIO;
    if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED) {
        err = IOF_EAUTH;
    } else if (s == NATS_NO_MEMORY) {
        err = IOF_ENOMEM;
    } else if (s == NATS_INVALID_ARG || s == NATS_ERR) {
        err = IOF_EINVAL;
    }
    return iof_fail(d,
                    err,
                    "NATS %s: %s%s%s",
                    what,
                    natsStatus_GetText(s),
                    last != NULL && last[0] != '\0' ? ": " : "",
                    last != NULL ? last : "");
}

/* Logs a drop the first time and then at every power of two, so a flood stays a few lines. */
static void log_drop(const char *reason, uint64_t n) {
    if ((n & (n - 1)) == 0) {
        IOF_WARN(MODULE, "message_dropped reason=%s total=%llu", reason, (unsigned long long)n);
    }
}

static bool uuid_ok(const char *uuid) {
    size_t n = uuid != NULL ? strlen(uuid) : 0;
    if (n == 0 || n > AGENT_NATS_UUID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = uuid[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_')) {
            return false;
        }
    }
    return true;
}

iof_err
agent_nats_subject(const char *app, const char *uuid, char *out, size_t size, struct iof_diag *d) {
    static const char hex[] = "0123456789ABCDEF";
    if (app == NULL) {
        app = "";
    }
    size_t alen = strlen(app);
    if (alen > AGENT_NATS_APP_MAX) {
        return iof_fail(d, IOF_EINVAL, "Application name longer than %d bytes", AGENT_NATS_APP_MAX);
    }
    if (!uuid_ok(uuid)) {
        return iof_fail(d, IOF_EINVAL, "Invalid receiver uuid for a NATS subject");
    }
    char tmp[AGENT_NATS_SUBJECT_MAX];
    size_t n = sizeof SUBJECT_ROOT - 1;
    memcpy(tmp, SUBJECT_ROOT, n);
    if (alen == 0) {
        tmp[n++] = '_';
    }
    for (size_t i = 0; i < alen; i++) {
        unsigned char ch = (unsigned char)app[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-') {
            tmp[n++] = (char)ch;
        } else {
            tmp[n++] = '_';
            tmp[n++] = hex[ch >> 4];
            tmp[n++] = hex[ch & 15];
        }
    }
    tmp[n++] = '.';
    size_t ulen = strlen(uuid);
    memcpy(tmp + n, uuid, ulen);
    n += ulen;
    tmp[n] = '\0';
    if (n + 1 > size) {
        return iof_fail(d, IOF_E2BIG, "Subject buffer too small");
    }
    memcpy(out, tmp, n + 1);
    return IOF_OK;
}

/* ---- outgoing queue (mu held) ---- */

static void ring_drop_oldest(struct agent_nats *t) {
    struct item *it = t->ring[t->head];
    t->ring[t->head] = NULL;
    t->head = (t->head + 1) % t->buffer_max;
    t->count--;
    t->bytes -= it->len;
    free(it);
    t->c.dropped_buffer_full++;
    log_drop("buffer_full", t->c.dropped_buffer_full);
}

static void ring_push(struct agent_nats *t, struct item *it) {
    while (t->count > 0 &&
           (t->count == t->buffer_max || t->bytes + it->len > t->buffer_bytes_max)) {
        ring_drop_oldest(t);
    }
    t->ring[(t->head + t->count) % t->buffer_max] = it;
    t->count++;
    t->bytes += it->len;
}

static bool ready(const struct agent_nats *t) {
    return t->connected && iof_time_mono_ms() >= t->resume_at;
}

/* Publishes one message; false when the connection refused it (it stays the caller's). */
static bool send_now(struct agent_nats *t, const char *subject, const uint8_t *data, size_t len) {
    natsStatus s = natsConnection_Publish(t->nc, subject, data, (int)len);
    if (s != NATS_OK) {
        return false;
    }
    t->c.published++;
    return true;
}

static void on_msg(natsConnection *nc, natsSubscription *ns, natsMsg *m, void *closure);
static void on_sub_complete(void *closure);

/* Subscribes again to those of subjects[n] that are still wanted (frees subjects). Takes sub_mu:
 * call without mu. */
static void resubscribe(struct agent_nats *t, char **subjects, size_t n) {
    pthread_mutex_lock(&t->sub_mu);
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < t->nsubs; i++) {
            if (strcmp(t->subs[i].subject, subjects[k]) != 0) {
                continue;
            }
            if (t->subs[i].ns != NULL) {
                (void)natsSubscription_Unsubscribe(t->subs[i].ns);
                natsSubscription_Destroy(t->subs[i].ns);
                t->subs[i].ns = NULL;
            }
            natsSubscription *ns = NULL;
            natsStatus s = natsConnection_Subscribe(&ns, t->nc, subjects[k], on_msg, t);
            if (s == NATS_OK) {
                pthread_mutex_lock(&t->mu);
                t->subs_created++;
                pthread_mutex_unlock(&t->mu);
                if (natsSubscription_SetOnCompleteCB(ns, on_sub_complete, t) != NATS_OK) {
                    (void)natsSubscription_Unsubscribe(ns);
                    natsSubscription_Destroy(ns);
                    on_sub_complete(t);
                    ns = NULL;
                }
            }
            t->subs[i].ns = ns;
            IOF_DEBUG(MODULE, "resubscribed subject=%s ok=%d", subjects[k], ns != NULL);
            break;
        }
        free(subjects[k]);
    }
    pthread_mutex_unlock(&t->sub_mu);
}

static void *flush_main(void *arg) {
    struct agent_nats *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->closing) {
        int64_t now = iof_time_mono_ms();
        if (t->ndenied > 0 && t->connected && now >= t->resub_at) {
            char *todo[DENIED_MAX];
            size_t n = t->ndenied;
            memcpy(todo, t->denied, n * sizeof *todo);
            t->ndenied = 0;
            pthread_mutex_unlock(&t->mu);
            resubscribe(t, todo, n);
            pthread_mutex_lock(&t->mu);
            continue;
        }
        if (t->count > 0 && t->connected && now >= t->resume_at) {
            struct item *it = t->ring[t->head];
            if (send_now(t, it->subject, it->data, it->len)) {
                t->ring[t->head] = NULL;
                t->head = (t->head + 1) % t->buffer_max;
                t->count--;
                t->bytes -= it->len;
                free(it);
                continue;
            }
            /* Refused (libnats' own buffer is full or it is closing): try again shortly. */
            now += 50;
        } else if (t->count > 0 && t->connected) {
            now = t->resume_at;
        } else {
            now += 1000;
        }
        if (t->ndenied > 0 && t->connected && t->resub_at < now) {
            now = t->resub_at;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = now - iof_time_mono_ms();
        if (wait < 1) {
            wait = 1;
        }
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&t->cond, &t->mu, &ts);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- libnats callbacks (libnats threads) ---- */

static void count_in(struct agent_nats *t, uint64_t *counter, const char *reason);

static void on_connected(natsConnection *nc, void *closure) {
    (void)nc;
    struct agent_nats *t = closure;
    pthread_mutex_lock(&t->mu);
    t->connected = true;
    /* A late first connection is a reconnect for the peers' purposes (see on_reconnected). */
    t->resume_at = iof_time_mono_ms() + t->resume_delay_ms;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    IOF_INFO(MODULE, "connected");
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    struct agent_nats *t = closure;
    pthread_mutex_lock(&t->mu);
    bool was = t->connected && !t->closing;
    t->connected = false;
    if (was) {
        t->c.disconnects++;
    }
    pthread_mutex_unlock(&t->mu);
    if (was) {
        IOF_WARN(MODULE, "disconnected");
    }
}

static void on_reconnected(natsConnection *nc, void *closure) {
    (void)nc;
    struct agent_nats *t = closure;
    pthread_mutex_lock(&t->mu);
    t->connected = true;
    t->c.reconnects++;
    /* Peers reconnect on their own schedule and re-subscribe only then: hold the queue a little
     * so that what waited for the server is not sent to subjects nobody listens to yet. */
    t->resume_at = iof_time_mono_ms() + t->resume_delay_ms;
    size_t queued = t->count;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    IOF_INFO(MODULE, "reconnected queued=%zu", queued);
}

static void on_closed(natsConnection *nc, void *closure) {
    (void)nc;
    struct agent_nats *t = closure;
    pthread_mutex_lock(&t->mu);
    t->connected = false;
    t->closed = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

/* The subject quoted after marker in text (nats-server's permission violation message). */
static char *quoted_after(const char *text, const char *marker) {
    const char *p = text != NULL ? strstr(text, marker) : NULL;
    const char *end = p != NULL ? strchr(p + strlen(marker), '"') : NULL;
    if (end == NULL) {
        return NULL;
    }
    p += strlen(marker);
    return strndup(p, (size_t)(end - p));
}

/* nats-server refused a publish (counted: the message is lost) or a subscription (tried again
 * later: the permission usually arrives a moment after this node learnt of the route). */
static void on_not_permitted(struct agent_nats *t, const char *text) {
    char *subject = quoted_after(text, "Subscription to \"");
    if (subject != NULL) {
        char shown[AGENT_NATS_SUBJECT_MAX];
        (void)snprintf(shown, sizeof shown, "%s", subject);
        pthread_mutex_lock(&t->mu);
        bool known = false;
        for (size_t i = 0; i < t->ndenied && !known; i++) {
            known = strcmp(t->denied[i], subject) == 0;
        }
        if (!known && t->ndenied < DENIED_MAX) {
            t->denied[t->ndenied++] = subject;
            subject = NULL;
        }
        if (t->resub_delay < RESUB_DELAY_MIN) {
            t->resub_delay = RESUB_DELAY_MIN;
        }
        int64_t retry_ms = t->resub_delay;
        t->resub_at = iof_time_mono_ms() + t->resub_delay;
        t->resub_delay =
            t->resub_delay * 2 > RESUB_DELAY_MAX ? RESUB_DELAY_MAX : t->resub_delay * 2;
        uint64_t n = ++t->c.denied_subscriptions;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->mu);
        free(subject);
        if ((n & (n - 1)) == 0) { /* the first, then every power of two */
            IOF_INFO(MODULE,
                     "subscription_refused subject=%s retry_in_ms=%lld total=%llu",
                     shown,
                     (long long)retry_ms,
                     (unsigned long long)n);
        }
        return;
    }
    if (text != NULL && strstr(text, "Publish to") != NULL) {
        count_in(t, &t->c.dropped_not_permitted, "publish_not_permitted");
        return;
    }
    IOF_WARN(MODULE, "not_permitted text=\"%s\"", text != NULL ? text : "");
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
    (void)sub;
    struct agent_nats *t = closure;
    if (err == NATS_NOT_PERMITTED) {
        const char *text = NULL;
        (void)natsConnection_GetLastError(nc, &text);
        on_not_permitted(t, text);
        return;
    }
    if (err == NATS_SLOW_CONSUMER) {
        pthread_mutex_lock(&t->mu);
        uint64_t n = ++t->c.dropped_slow_consumer;
        pthread_mutex_unlock(&t->mu);
        log_drop("slow_consumer", n);
        return;
    }
    IOF_WARN(MODULE, "async_error status=%d text=%s", (int)err, natsStatus_GetText(err));
}

static void on_sub_complete(void *closure) {
    struct agent_nats *t = closure;
    pthread_mutex_lock(&t->mu);
    t->subs_completed++;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

static void count_in(struct agent_nats *t, uint64_t *counter, const char *reason) {
    pthread_mutex_lock(&t->mu);
    uint64_t n = ++*counter;
    pthread_mutex_unlock(&t->mu);
    if (reason != NULL) {
        log_drop(reason, n);
    }
}

static int cmp_pair(const void *a, const void *b) {
    const struct pair *x = a, *y = b;
    int c = strcmp(x->receiver, y->receiver);
    return c != 0 ? c : strcmp(x->publisher, y->publisher);
}

/* Whether publisher is routed to local receiver (always, while no check is enforced). */
static bool publisher_routed(struct agent_nats *t, const char *receiver, const char *publisher) {
    struct pair key = {(char *)(uintptr_t)receiver, (char *)(uintptr_t)publisher};
    pthread_mutex_lock(&t->pub_mu);
    bool ok =
        !t->enforce || (publisher != NULL && t->npairs > 0 &&
                        bsearch(&key, t->pairs, t->npairs, sizeof *t->pairs, cmp_pair) != NULL);
    pthread_mutex_unlock(&t->pub_mu);
    return ok;
}

static void on_msg(natsConnection *nc, natsSubscription *ns, natsMsg *m, void *closure) {
    (void)nc;
    (void)ns;
    struct agent_nats *t = closure;
    int len = natsMsg_GetDataLength(m);
    const char *subject = natsMsg_GetSubject(m);
    const char *dot = subject != NULL ? strrchr(subject, '.') : NULL;
    if (len < 0 || (size_t)len > t->max_payload) {
        count_in(t, &t->c.dropped_oversized, "oversized");
    } else if (dot == NULL || !uuid_ok(dot + 1)) {
        count_in(t, &t->c.dropped_malformed, "bad_subject");
    } else {
        struct iof_msg *msg = NULL;
        struct iof_diag d = {{0}};
        iof_err err = iof_msg_decode((const uint8_t *)natsMsg_GetData(m), (size_t)len, &msg, &d);
        if (err != IOF_OK) {
            count_in(t, &t->c.dropped_malformed, "malformed");
            IOF_DEBUG(MODULE, "malformed_message error=%s", iof_diag_text(&d, err));
        } else if (!publisher_routed(t, dot + 1, msg->publisher)) {
            iof_msg_free(msg);
            count_in(t, &t->c.dropped_unrouted_publisher, "unrouted_publisher");
        } else {
            err = t->fn(t->ctx, dot + 1, msg);
            iof_msg_free(msg);
            if (err == IOF_OK) {
                count_in(t, &t->c.delivered, NULL);
            } else {
                count_in(t, &t->c.dropped_undeliverable, "undeliverable");
            }
        }
    }
    natsMsg_Destroy(m);
}

/* ---- setup ---- */

static iof_err set_options(struct agent_nats *t,
                           const struct agent_nats_config *cfg,
                           natsOptions *o,
                           struct iof_diag *d) {
    char *urls = strdup(cfg->urls);
    if (urls == NULL) {
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    const char *list[MAX_URLS];
    int n = 0;
    bool tls = cfg->ca_file != NULL;
    char *save = NULL;
    for (char *u = strtok_r(urls, ", ", &save); u != NULL; u = strtok_r(NULL, ", ", &save)) {
        if (n == MAX_URLS) {
            free(urls);
            return iof_fail(d, IOF_EINVAL, "More than %d NATS URLs", MAX_URLS);
        }
        if (strncmp(u, "tls://", 6) == 0) {
            tls = true;
        } else if (strncmp(u, "nats://", 7) != 0) {
            free(urls);
            return iof_fail(d, IOF_EINVAL, "NATS URL must start with nats:// or tls://");
        }
        list[n++] = u;
    }
    if (n == 0) {
        free(urls);
        return iof_fail(d, IOF_EINVAL, "No NATS URL");
    }
    int64_t wait = cfg->reconnect_wait_ms > 0 ? cfg->reconnect_wait_ms : DEFAULT_RECONNECT_WAIT;
    int pending = t->buffer_max > 1000000 ? 1000000 : (int)t->buffer_max;
    natsStatus s = natsOptions_SetServers(o, list, n);
    free(urls);
    if (s == NATS_OK) {
        s = natsOptions_SetName(o, cfg->name != NULL ? cfg->name : "iofog-agent");
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxReconnect(o, -1);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectWait(o, wait);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectJitter(o, RECONNECT_JITTER_MS, RECONNECT_JITTER_TLS_MS);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetTimeout(o, CONNECT_TIMEOUT_MS);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetPingInterval(o, PING_INTERVAL_MS);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxPingsOut(o, MAX_PINGS_OUT);
    }
    if (s == NATS_OK) {
        /* Latency over batching: at the rates microservices publish, a write per message costs
         * little and saves the flusher's wake-up delay. */
        s = natsOptions_SetSendAsap(o, true);
    }
    if (s == NATS_OK) {
        /* Publishing holds the transport's lock: a peer that stops reading must not block it. */
        s = natsOptions_SetWriteDeadline(o, WRITE_DEADLINE_MS);
    }
    if (s == NATS_OK) {
        /* One delivery thread for all receivers instead of a thread per subscription. */
        s = natsOptions_UseGlobalMessageDelivery(o, true);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxPendingMsgs(o, pending);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, t);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectedCB(o, on_reconnected, t);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetClosedCB(o, on_closed, t);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetErrorHandler(o, on_error, t);
    }
    if (s == NATS_OK && cfg->creds_file != NULL) {
        s = natsOptions_SetUserCredentialsFromFiles(o, cfg->creds_file, NULL);
    }
    if (s == NATS_OK && cfg->user != NULL) {
        s = natsOptions_SetUserInfo(o, cfg->user, cfg->password != NULL ? cfg->password : "");
    }
    if (s == NATS_OK && cfg->token != NULL) {
        s = natsOptions_SetToken(o, cfg->token);
    }
    if (s == NATS_OK && tls) {
        s = natsOptions_SetSecure(o, true);
    }
    if (s == NATS_OK && cfg->ca_file != NULL) {
        s = natsOptions_LoadCATrustedCertificates(o, cfg->ca_file);
    }
    if (s == NATS_OK && (cfg->cert_file != NULL || cfg->key_file != NULL)) {
        if (cfg->cert_file == NULL || cfg->key_file == NULL) {
            return iof_fail(d, IOF_EINVAL, "TLS client certificate needs both cert and key files");
        }
        s = natsOptions_LoadCertificatesChain(o, cfg->cert_file, cfg->key_file);
    }
    if (s != NATS_OK) {
        return nats_fail(d, s, "options");
    }
    return IOF_OK;
}

iof_err agent_nats_new(const struct agent_nats_config *cfg,
                       agent_nats_deliver_fn fn,
                       void *ctx,
                       struct agent_nats **out,
                       struct iof_diag *d) {
    if (cfg == NULL || cfg->urls == NULL || fn == NULL || out == NULL) {
        return iof_fail(d, IOF_EINVAL, "NATS transport needs URLs and a deliver function");
    }
    struct agent_nats *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    t->fn = fn;
    t->ctx = ctx;
    t->buffer_max = cfg->buffer_max > 0 ? cfg->buffer_max : DEFAULT_BUFFER_MAX;
    t->buffer_bytes_max =
        cfg->buffer_bytes_max > 0 ? cfg->buffer_bytes_max : DEFAULT_BUFFER_BYTES_MAX;
    t->max_payload = cfg->max_payload > 0 ? cfg->max_payload : DEFAULT_MAX_PAYLOAD;
    int64_t wait = cfg->reconnect_wait_ms > 0 ? cfg->reconnect_wait_ms : DEFAULT_RECONNECT_WAIT;
    t->resume_delay_ms =
        cfg->resume_delay_ms > 0 ? cfg->resume_delay_ms : 2 * wait + RECONNECT_JITTER_MS;
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->sub_mu, NULL);
    pthread_mutex_init(&t->remote_mu, NULL);
    pthread_mutex_init(&t->pub_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    t->ring = calloc(t->buffer_max, sizeof *t->ring);
    if (t->ring == NULL) {
        agent_nats_free(t);
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }

    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s != NATS_OK) {
        agent_nats_free(t);
        return nats_fail(d, s, "options");
    }
    iof_err err = set_options(t, cfg, o, d);
    if (err != IOF_OK) {
        natsOptions_Destroy(o);
        agent_nats_free(t);
        return err;
    }
    /* The first attempt is synchronous and does not retry, so that its status is the
     * server's own answer: a server that refused the credentials will not change its mind,
     * and saying so now beats retrying in the background. (With retry-on-failed-connect the
     * library hands the first failure to its reconnect thread, which clears the error
     * before it can be read.) Only an unreachable server is retried in the background. */
    s = natsConnection_Connect(&t->nc, o);
    if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED) {
        natsOptions_Destroy(o);
        t->nc = NULL;
        err = nats_fail(d, s, "connect");
        agent_nats_free(t);
        return err;
    }
    if (s != NATS_OK) {
        t->nc = NULL;
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, t);
        if (s == NATS_OK) {
            s = natsConnection_Connect(&t->nc, o);
        }
    }
    natsOptions_Destroy(o);
    if (s == NATS_OK) {
        pthread_mutex_lock(&t->mu);
        t->connected = true;
        t->resume_at = iof_time_mono_ms();
        pthread_mutex_unlock(&t->mu);
    } else if (s == NATS_NOT_YET_CONNECTED) {
        IOF_WARN(MODULE, "not_yet_connected retrying=true");
    } else {
        t->nc = NULL;
        err = nats_fail(d, s, "connect");
        agent_nats_free(t);
        return err;
    }
    if (pthread_create(&t->flusher, NULL, flush_main, t) != 0) {
        agent_nats_free(t);
        return iof_fail(d, IOF_EIO, "Cannot start the NATS flush thread");
    }
    t->flusher_started = true;
    *out = t;
    return IOF_OK;
}

/* ---- subscriptions ---- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

iof_err agent_nats_set_local(struct agent_nats *t,
                             const char *const *uuids,
                             const char *const *apps,
                             size_t n,
                             struct iof_diag *d) {
    char **want = n > 0 ? calloc(n, sizeof *want) : NULL;
    if (n > 0 && want == NULL) {
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    iof_err err = IOF_OK;
    size_t nwant = 0;
    for (size_t i = 0; i < n && err == IOF_OK; i++) {
        char subject[AGENT_NATS_SUBJECT_MAX];
        err =
            agent_nats_subject(apps != NULL ? apps[i] : NULL, uuids[i], subject, sizeof subject, d);
        if (err == IOF_OK) {
            want[nwant] = strdup(subject);
            if (want[nwant] == NULL) {
                err = iof_fail(d, IOF_ENOMEM, "Out of memory");
            } else {
                nwant++;
            }
        }
    }
    if (err != IOF_OK) {
        for (size_t i = 0; i < nwant; i++) {
            free(want[i]);
        }
        free(want);
        return err;
    }
    if (nwant > 1) {
        qsort(want, nwant, sizeof *want, cmp_str);
        size_t u = 1;
        for (size_t i = 1; i < nwant; i++) {
            if (strcmp(want[i], want[u - 1]) == 0) {
                free(want[i]);
            } else {
                want[u++] = want[i];
            }
        }
        nwant = u;
    }

    pthread_mutex_lock(&t->sub_mu);
    struct sub *next = nwant > 0 ? calloc(nwant, sizeof *next) : NULL;
    if (nwant > 0 && next == NULL) {
        pthread_mutex_unlock(&t->sub_mu);
        for (size_t i = 0; i < nwant; i++) {
            free(want[i]);
        }
        free(want);
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    /* Both lists are sorted and free of duplicates: walk them together, keeping, dropping and
     * adding. */
    size_t i = 0, j = 0, k = 0;
    bool subscribed = false;
    while (i < t->nsubs || j < nwant) {
        int c = i == t->nsubs ? 1 : j == nwant ? -1 : strcmp(t->subs[i].subject, want[j]);
        if (c == 0) {
            next[k++] = t->subs[i++];
            free(want[j++]);
        } else if (c < 0) {
            /* Fails only for a subscription libnats closed already (connection closed). */
            (void)natsSubscription_Unsubscribe(t->subs[i].ns);
            natsSubscription_Destroy(t->subs[i].ns);
            IOF_DEBUG(MODULE, "unsubscribed subject=%s", t->subs[i].subject);
            free(t->subs[i].subject);
            i++;
        } else {
            natsSubscription *ns = NULL;
            natsStatus s = natsConnection_Subscribe(&ns, t->nc, want[j], on_msg, t);
            if (s == NATS_OK) {
                pthread_mutex_lock(&t->mu);
                t->subs_created++;
                pthread_mutex_unlock(&t->mu);
                s = natsSubscription_SetOnCompleteCB(ns, on_sub_complete, t);
                if (s != NATS_OK) {
                    /* No completion callback will come for it: count it complete here. */
                    (void)natsSubscription_Unsubscribe(ns);
                    natsSubscription_Destroy(ns);
                    on_sub_complete(t);
                }
            }
            if (s != NATS_OK) {
                if (err == IOF_OK) {
                    err = nats_fail(d, s, "subscribe");
                }
                IOF_ERROR(MODULE, "subscribe_failed subject=%s", want[j]);
                free(want[j++]);
                continue;
            }
            IOF_DEBUG(MODULE, "subscribed subject=%s", want[j]);
            subscribed = true;
            next[k].subject = want[j++];
            next[k].ns = ns;
            k++;
        }
    }
    free(want);
    free(t->subs);
    t->subs = next;
    t->nsubs = k;
    if (subscribed && natsConnection_Status(t->nc) == NATS_CONN_STATUS_CONNECTED) {
        /* A round trip, so that once this returns (while connected) the server knows the new
         * subscriptions and messages published from now on reach them. Best effort: while
         * disconnected libnats subscribes on reconnect, so there is nothing to wait for then. */
        (void)natsConnection_FlushTimeout(t->nc, 1000);
    }
    pthread_mutex_lock(&t->mu);
    t->c.subscriptions = k;
    if (subscribed) {
        t->resub_delay = RESUB_DELAY_MIN; /* a new route: its permission is due soon */
    }
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_unlock(&t->sub_mu);
    return err;
}

/* ---- publishing ---- */

iof_err agent_nats_publish(struct agent_nats *t,
                           const char *app,
                           const char *receiver_uuid,
                           const struct iof_msg *msg,
                           struct iof_diag *d) {
    char subject[AGENT_NATS_SUBJECT_MAX];
    iof_err err = agent_nats_subject(app, receiver_uuid, subject, sizeof subject, d);
    if (err != IOF_OK) {
        return err;
    }
    size_t len = 0;
    err = iof_msg_encoded_size(msg, IOF_MSG_WIDTH_CLASSIC, &len, d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t server_max = t->nc != NULL ? natsConnection_GetMaxPayload(t->nc) : 0;
    if (len > t->max_payload || (server_max > 0 && (int64_t)len > server_max)) {
        return iof_fail(d, IOF_E2BIG, "Message of %zu bytes is over the NATS payload limit", len);
    }
    size_t slen = strlen(subject) + 1;
    struct item *it = malloc(sizeof *it + len + slen);
    if (it == NULL) {
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    size_t wrote = 0;
    err = iof_msg_encode(msg, IOF_MSG_WIDTH_CLASSIC, it->data, len, &wrote, d);
    if (err != IOF_OK) {
        free(it);
        return err;
    }
    it->len = wrote;
    it->subject = (char *)it->data + len;
    memcpy(it->subject, subject, slen);

    pthread_mutex_lock(&t->mu);
    if (t->closing) {
        pthread_mutex_unlock(&t->mu);
        free(it);
        return iof_fail(d, IOF_ECONFLICT, "NATS transport is closing");
    }
    if (t->count == 0 && ready(t) && send_now(t, it->subject, it->data, it->len)) {
        free(it);
    } else {
        ring_push(t, it);
        pthread_cond_signal(&t->cond);
    }
    pthread_mutex_unlock(&t->mu);
    return IOF_OK;
}

static void free_pairs(struct pair *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(p[i].receiver);
        free(p[i].publisher);
    }
    free(p);
}

iof_err agent_nats_set_publishers(struct agent_nats *t,
                                  const char *const *receivers,
                                  const char *const *publishers,
                                  size_t n,
                                  bool enforce,
                                  struct iof_diag *d) {
    struct pair *next = n > 0 ? calloc(n, sizeof *next) : NULL;
    if (n > 0 && next == NULL) {
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        next[i].receiver = strdup(receivers[i] != NULL ? receivers[i] : "");
        next[i].publisher = strdup(publishers[i] != NULL ? publishers[i] : "");
        if (next[i].receiver == NULL || next[i].publisher == NULL) {
            free_pairs(next, i + 1);
            return iof_fail(d, IOF_ENOMEM, "Out of memory");
        }
    }
    if (n > 1) {
        qsort(next, n, sizeof *next, cmp_pair);
    }
    pthread_mutex_lock(&t->pub_mu);
    struct pair *old = t->pairs;
    size_t nold = t->npairs;
    t->pairs = next;
    t->npairs = n;
    t->enforce = enforce;
    pthread_mutex_unlock(&t->pub_mu);
    free_pairs(old, nold);
    return IOF_OK;
}

static int cmp_remote(const void *a, const void *b) {
    return strcmp(((const struct remote *)a)->uuid, ((const struct remote *)b)->uuid);
}

static void free_remotes(struct remote *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(r[i].uuid);
        free(r[i].app);
    }
    free(r);
}

iof_err agent_nats_set_remote(struct agent_nats *t,
                              const char *const *uuids,
                              const char *const *apps,
                              size_t n,
                              struct iof_diag *d) {
    struct remote *r = n > 0 ? calloc(n, sizeof *r) : NULL;
    if (n > 0 && r == NULL) {
        return iof_fail(d, IOF_ENOMEM, "Out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *app = apps != NULL && apps[i] != NULL ? apps[i] : "";
        char subject[AGENT_NATS_SUBJECT_MAX];
        iof_err err = agent_nats_subject(app, uuids[i], subject, sizeof subject, d);
        if (err == IOF_OK) {
            r[i].uuid = strdup(uuids[i]);
            r[i].app = strdup(app);
            if (r[i].uuid == NULL || r[i].app == NULL) {
                err = iof_fail(d, IOF_ENOMEM, "Out of memory");
            }
        }
        if (err != IOF_OK) {
            free_remotes(r, n);
            return err;
        }
    }
    if (n > 1) {
        qsort(r, n, sizeof *r, cmp_remote);
    }
    pthread_mutex_lock(&t->remote_mu);
    struct remote *old = t->remotes;
    size_t nold = t->nremotes;
    t->remotes = r;
    t->nremotes = n;
    pthread_mutex_unlock(&t->remote_mu);
    free_remotes(old, nold);
    return IOF_OK;
}

iof_err agent_nats_send(void *transport, const char *receiver_uuid, const struct iof_msg *msg) {
    struct agent_nats *t = transport;
    if (receiver_uuid == NULL) {
        return IOF_EINVAL;
    }
    char app[AGENT_NATS_APP_MAX + 1];
    pthread_mutex_lock(&t->remote_mu);
    struct remote key = {.uuid = (char *)(uintptr_t)receiver_uuid, .app = NULL};
    const struct remote *r =
        t->nremotes > 0 ? bsearch(&key, t->remotes, t->nremotes, sizeof key, cmp_remote) : NULL;
    if (r != NULL) {
        (void)snprintf(app, sizeof app, "%s", r->app);
    }
    pthread_mutex_unlock(&t->remote_mu);
    if (r == NULL) {
        return IOF_ENOENT;
    }
    struct iof_diag d = {{0}};
    iof_err err = agent_nats_publish(t, app, receiver_uuid, msg, &d);
    if (err != IOF_OK) {
        IOF_DEBUG(
            MODULE, "send_failed receiver=%s error=%s", receiver_uuid, iof_diag_text(&d, err));
    }
    return err;
}

/* ---- observation and teardown ---- */

void agent_nats_counters(struct agent_nats *t, struct agent_nats_counters *out) {
    pthread_mutex_lock(&t->mu);
    *out = t->c;
    out->connected = t->connected;
    out->buffered = t->count;
    out->buffered_bytes = t->bytes;
    pthread_mutex_unlock(&t->mu);
}

iof_err agent_nats_stats(struct agent_nats *t, json_t **out) {
    struct agent_nats_counters c;
    agent_nats_counters(t, &c);
    uint64_t dropped = c.dropped_buffer_full + c.dropped_oversized + c.dropped_malformed +
                       c.dropped_undeliverable + c.dropped_slow_consumer +
                       c.dropped_unrouted_publisher; /* not_permitted ones count as published */
    json_t *r = json_pack("{sIsIsIsIsIsIsIsIsIsIsIsIsIsIsIsbsIsI}",
                          "published",
                          (json_int_t)c.published,
                          "delivered",
                          (json_int_t)c.delivered,
                          "dropped",
                          (json_int_t)dropped,
                          "droppedBufferFull",
                          (json_int_t)c.dropped_buffer_full,
                          "droppedOversized",
                          (json_int_t)c.dropped_oversized,
                          "droppedMalformed",
                          (json_int_t)c.dropped_malformed,
                          "droppedUndeliverable",
                          (json_int_t)c.dropped_undeliverable,
                          "droppedSlowConsumer",
                          (json_int_t)c.dropped_slow_consumer,
                          "droppedUnroutedPublisher",
                          (json_int_t)c.dropped_unrouted_publisher,
                          "droppedNotPermitted",
                          (json_int_t)c.dropped_not_permitted,
                          "deniedSubscriptions",
                          (json_int_t)c.denied_subscriptions,
                          "buffered",
                          (json_int_t)c.buffered,
                          "bufferedBytes",
                          (json_int_t)c.buffered_bytes,
                          "subscriptions",
                          (json_int_t)c.subscriptions,
                          "bufferMax",
                          (json_int_t)t->buffer_max,
                          "connected",
                          c.connected,
                          "reconnects",
                          (json_int_t)c.reconnects,
                          "disconnects",
                          (json_int_t)c.disconnects);
    if (r == NULL) {
        return IOF_ENOMEM;
    }
    *out = r;
    return IOF_OK;
}

/* Waits on t->cond (mu held) until done(t) or the deadline; false on timeout. */
static bool wait_until(struct agent_nats *t, bool (*done)(const struct agent_nats *), int64_t ms) {
    int64_t deadline = iof_time_mono_ms() + ms;
    while (!done(t)) {
        int64_t left = deadline - iof_time_mono_ms();
        if (left <= 0) {
            return false;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t step = left < 100 ? left : 100;
        ts.tv_nsec += (long)step * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&t->cond, &t->mu, &ts);
    }
    return true;
}

static bool subs_done(const struct agent_nats *t) {
    return t->subs_completed >= t->subs_created;
}

static bool conn_closed(const struct agent_nats *t) {
    return t->closed;
}

void agent_nats_free(struct agent_nats *t) {
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->closing = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    if (t->flusher_started) {
        pthread_join(t->flusher, NULL);
    }
    pthread_mutex_lock(&t->sub_mu);
    for (size_t i = 0; i < t->nsubs; i++) {
        /* Fails only for a subscription libnats closed already (connection closed). */
        (void)natsSubscription_Unsubscribe(t->subs[i].ns);
    }
    pthread_mutex_unlock(&t->sub_mu);
    /* The deliver function and ctx belong to the caller: after free returns, no deliver call may
     * run. libnats reports each closed subscription once its handler can no longer run. */
    pthread_mutex_lock(&t->mu);
    bool subs_ok = wait_until(t, subs_done, CLOSE_WAIT_MS);
    pthread_mutex_unlock(&t->mu);
    if (!subs_ok) {
        IOF_ERROR(MODULE, "close_timeout what=subscriptions");
    }
    for (size_t i = 0; i < t->nsubs; i++) {
        natsSubscription_Destroy(t->subs[i].ns);
        free(t->subs[i].subject);
    }
    free(t->subs);
    if (t->nc != NULL) {
        natsConnection_Close(t->nc);
        pthread_mutex_lock(&t->mu);
        bool closed_ok = wait_until(t, conn_closed, CLOSE_WAIT_MS);
        pthread_mutex_unlock(&t->mu);
        if (!closed_ok) {
            IOF_ERROR(MODULE, "close_timeout what=connection");
        }
        natsConnection_Destroy(t->nc);
    }
    if (t->ring != NULL) {
        while (t->count > 0) {
            free(t->ring[t->head]);
            t->head = (t->head + 1) % t->buffer_max;
            t->count--;
        }
        free(t->ring);
    }
    free_remotes(t->remotes, t->nremotes);
    free_pairs(t->pairs, t->npairs);
    for (size_t i = 0; i < t->ndenied; i++) {
        free(t->denied[i]);
    }
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->sub_mu);
    pthread_mutex_destroy(&t->remote_mu);
    pthread_mutex_destroy(&t->pub_mu);
    free(t);
}

void agent_nats_library_close(void) {
    natsStatus s = nats_CloseAndWait(CLOSE_WAIT_MS);
    if (s != NATS_OK) {
        IOF_WARN(MODULE, "library_close status=%s", natsStatus_GetText(s));
    }
}
