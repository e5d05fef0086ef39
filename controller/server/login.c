/* Password checks on a worker pool, and the login throttle (see login.h). */
#include "controller/server/login.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/server/server.h"
#include "controller/store/store_user.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_MAX      64
#define WORKERS_MAX    4
#define TABLE_SLOTS    4096
#define BUCKET         8
#define FREE_PER_ADDR  20
#define FREE_PER_EMAIL 5
#define WAIT_CAP_S     60
#define FORGET_MS      (15 * 60 * 1000)
#define FIELD_MAX      512 /* longer e-mails or passwords are checked as truncated copies */

struct job {
    uint64_t hold_id;
    char addr[64];
    char email[FIELD_MAX + 1];
    char password[FIELD_MAX + 1];
};

struct entry {
    uint64_t key; /* 0: free */
    uint32_t attempts;
    int64_t last_ms;
};

struct ctl_login {
    struct ctl_server *srv;
    char dummy_hash[CTL_PASSWORD_HASH_MAX];
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool quit;
    struct job *queue[QUEUE_MAX];
    size_t head, count;
    struct entry table[TABLE_SLOTS];
    uint64_t checked, throttled;
    pthread_t threads[WORKERS_MAX];
    size_t nthreads;
};

/* FNV-1a of a tag and a (case-folded) text; never 0. */
static uint64_t key_of(char tag, const char *s) {
    uint64_t h = 1469598103934665603ULL;
    h = (h ^ (unsigned char)tag) * 1099511628211ULL;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 1099511628211ULL;
    }
    return h != 0 ? h : 1;
}

/* The entry of key (found, or made by replacing the least recently used of its bucket). mu
 * held. */
static struct entry *entry_of(struct ctl_login *l, uint64_t key, int64_t now) {
    struct entry *b = &l->table[(key % (TABLE_SLOTS / BUCKET)) * BUCKET];
    struct entry *victim = &b[0];
    for (size_t i = 0; i < BUCKET; i++) {
        if (b[i].key == key) {
            if (now - b[i].last_ms > FORGET_MS) {
                b[i].attempts = 0;
            }
            return &b[i];
        }
        if (b[i].key == 0 || b[i].last_ms < victim->last_ms) {
            victim = &b[i];
        }
    }
    *victim = (struct entry){.key = key, .last_ms = now};
    return victim;
}

/* Seconds still to wait for e (0: none). */
static int64_t wait_of(const struct entry *e, uint32_t free_attempts, int64_t now) {
    if (e->attempts < free_attempts) {
        return 0;
    }
    uint32_t over = e->attempts - free_attempts;
    int64_t delay_s = over >= 6 ? WAIT_CAP_S : (int64_t)1 << over;
    if (delay_s > WAIT_CAP_S) {
        delay_s = WAIT_CAP_S;
    }
    int64_t left_ms = e->last_ms + delay_s * 1000 - now;
    return left_ms > 0 ? (left_ms + 999) / 1000 : 0;
}

int64_t ctl_login_wait_s(struct ctl_login *l, const char *addr, const char *email) {
    int64_t now = iof_time_mono_ms();
    pthread_mutex_lock(&l->mu);
    int64_t a = wait_of(entry_of(l, key_of('a', addr), now), FREE_PER_ADDR, now);
    int64_t e = wait_of(entry_of(l, key_of('e', email), now), FREE_PER_EMAIL, now);
    if (a > 0 || e > 0) {
        l->throttled++;
    }
    pthread_mutex_unlock(&l->mu);
    return a > e ? a : e;
}

static void
answer_error(struct ctl_login *l, uint64_t id, int status, const char *name, const char *message) {
    json_t *o = json_pack("{s:s, s:s}", "name", name, "message", message);
    (void)!iof_http_answer(l->srv->http, id, status, o);
}

static void check(struct ctl_login *l, struct job *j) {
    struct iof_diag d;
    iof_diag_clear(&d);
    struct ctl_store_user u = {0};
    iof_err err = ctl_store_user_get_by_email(l->srv->store, j->email, &u, &d);
    bool ok;
    if (err == IOF_ENOENT) {
        /* Same cost as a real check: the answer must not tell which e-mails exist. */
        (void)ctl_password_verify(l->dummy_hash, j->password);
        ok = false;
    } else if (err != IOF_OK) {
        ctl_store_user_clear(&u);
        answer_error(
            l, j->hold_id, iof_http_status_for(err), iof_err_name(err), iof_diag_text(&d, err));
        return;
    } else {
        ok = ctl_password_verify(u.password_hash, j->password) ||
             (u.temp_password_hash != NULL &&
              ctl_password_verify(u.temp_password_hash, j->password));
    }
    if (!ok) {
        ctl_store_user_clear(&u);
        answer_error(l, j->hold_id, 401, "InvalidCredentialsError", "Invalid credentials");
        return;
    }
    int64_t now = iof_time_mono_ms();
    pthread_mutex_lock(&l->mu);
    entry_of(l, key_of('e', j->email), now)->attempts = 0;
    struct entry *ea = entry_of(l, key_of('a', j->addr), now);
    if (ea->attempts > 0) {
        ea->attempts--; /* only failures count against an address */
    }
    pthread_mutex_unlock(&l->mu);
    char token[CTL_USER_TOKEN_LEN + 1];
    char hash[CTL_TOKEN_HASH_LEN + 1];
    err = ctl_token_new(token);
    if (err == IOF_OK) {
        ctl_token_hash(token, hash);
        int64_t expires = iof_time_now_ms() + l->srv->cfg.user_token_ttl_s * 1000;
        err = ctl_store_token_add(l->srv->store, u.id, hash, expires, &d);
    }
    ctl_store_user_clear(&u);
    if (err != IOF_OK) {
        answer_error(
            l, j->hold_id, iof_http_status_for(err), iof_err_name(err), iof_diag_text(&d, err));
        return;
    }
    (void)!iof_http_answer(l->srv->http, j->hold_id, 200, json_pack("{s:s}", "accessToken", token));
}

static void *worker(void *arg) {
    struct ctl_login *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && l->count == 0) {
            pthread_cond_wait(&l->cv, &l->mu);
        }
        if (l->quit) {
            break;
        }
        struct job *j = l->queue[l->head];
        l->head = (l->head + 1) % QUEUE_MAX;
        l->count--;
        pthread_mutex_unlock(&l->mu);
        check(l, j);
        memset(j->password, 0, sizeof j->password);
        free(j);
        pthread_mutex_lock(&l->mu);
        l->checked++;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

iof_err ctl_login_submit(struct ctl_login *l,
                         struct iof_http_request *req,
                         const char *email,
                         const char *password) {
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return IOF_ENOMEM;
    }
    (void)snprintf(j->addr, sizeof j->addr, "%s", iof_http_remote_addr(req));
    (void)snprintf(j->email, sizeof j->email, "%s", email);
    (void)snprintf(j->password, sizeof j->password, "%s", password);
    int64_t now = iof_time_mono_ms();
    pthread_mutex_lock(&l->mu);
    if (l->count == QUEUE_MAX) {
        pthread_mutex_unlock(&l->mu);
        free(j);
        return IOF_EBUSY;
    }
    iof_err err = iof_http_hold(req, &j->hold_id);
    if (err != IOF_OK) {
        pthread_mutex_unlock(&l->mu);
        free(j);
        return err;
    }
    /* Counted now, so a burst in flight is throttled before its checks end. */
    struct entry *ea = entry_of(l, key_of('a', j->addr), now);
    ea->attempts++;
    ea->last_ms = now;
    struct entry *ee = entry_of(l, key_of('e', j->email), now);
    ee->attempts++;
    ee->last_ms = now;
    l->queue[(l->head + l->count) % QUEUE_MAX] = j;
    l->count++;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return IOF_OK;
}

void ctl_login_counts(struct ctl_login *l, uint64_t *checked, uint64_t *throttled) {
    pthread_mutex_lock(&l->mu);
    *checked = l->checked;
    *throttled = l->throttled;
    pthread_mutex_unlock(&l->mu);
}

iof_err ctl_login_new(struct ctl_server *srv, struct ctl_login **out) {
    struct ctl_login *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return IOF_ENOMEM;
    }
    l->srv = srv;
    char secret[33];
    uint8_t raw[16];
    if (iof_random_bytes(raw, sizeof raw) != IOF_OK) {
        free(l);
        return IOF_EIO;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        (void)snprintf(secret + 2 * i, 3, "%02x", raw[i]);
    }
    if (ctl_password_hash(secret, l->dummy_hash) != IOF_OK) {
        free(l);
        return IOF_EINTERNAL;
    }
    if (pthread_mutex_init(&l->mu, NULL) != 0 || pthread_cond_init(&l->cv, NULL) != 0) {
        free(l);
        return IOF_ENOMEM;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus >= 4 ? (size_t)cpus / 2 : 1;
    if (want > WORKERS_MAX) {
        want = WORKERS_MAX;
    }
    for (size_t i = 0; i < want; i++) {
        if (pthread_create(&l->threads[i], NULL, worker, l) != 0) {
            break;
        }
        l->nthreads++;
    }
    if (l->nthreads == 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return IOF_EIO;
    }
    *out = l;
    return IOF_OK;
}

void ctl_login_free(struct ctl_login *l) {
    if (l == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->quit = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < l->nthreads; i++) {
        pthread_join(l->threads[i], NULL);
    }
    while (l->count > 0) {
        free(l->queue[l->head]);
        l->head = (l->head + 1) % QUEUE_MAX;
        l->count--;
    }
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
