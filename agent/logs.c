/* Log streams to the Controller; see logs.h. */
#include "agent/logs.h"

#include "agent/engine/docker.h"
#include "agent/upstream.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX    (32 * 1024) /* bytes per POST; well under the Controller's stream buffer */
#define BUSY_WAIT_MS 50          /* after a 429: the reader is slower */
#define BUSY_TRIES   600         /* 30 s of a reader that reads nothing: give up */
#define FILE_POLL_MS 200         /* following the Agent's own log file */

struct agent_logs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const atomic_bool *cancel;
    size_t running;
};

struct job {
    struct agent_logs *owner;
    char id[64];
    char msvc[64];
    long tail;
    int64_t since_s;
    bool follow;
    char controller_url[512];
    char token[256];
    char cert[512];
    char docker_url[256];
    char log_file[600];
    struct agent_upstream *up;
    char path[128]; /* "agent/logs/<id>" */
    struct agent_logs_demux demux;
    bool over; /* the Controller ended the session or a send failed: stop reading */
    char buf[CHUNK_MAX];
    size_t used;
};

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

size_t agent_logs_demux(struct agent_logs_demux *s, const char *data, size_t len, char *out) {
    size_t w = 0;
    if (!s->started && len > 0) {
        s->started = true;
        s->raw = (unsigned char)data[0] > 2;
    }
    if (s->raw) {
        memcpy(out, data, len);
        return len;
    }
    size_t i = 0;
    while (i < len) {
        if (s->left == 0) {
            s->head[s->head_len++] = (unsigned char)data[i++];
            if (s->head_len == 8) {
                s->left = (uint32_t)s->head[4] << 24 | (uint32_t)s->head[5] << 16 |
                          (uint32_t)s->head[6] << 8 | s->head[7];
                s->head_len = 0;
            }
            continue;
        }
        size_t take = len - i < s->left ? len - i : s->left;
        memcpy(out + w, data + i, take);
        w += take;
        i += take;
        s->left -= (uint32_t)take;
    }
    return w;
}

/* Sends what is buffered; waits while the Controller says the reader is slower. */
static void flush(struct job *j) {
    if (j->used == 0 || j->over) {
        j->used = 0;
        return;
    }
    struct iof_diag d = {{0}};
    for (int tries = 0; tries < BUSY_TRIES; tries++) {
        if (atomic_load(j->owner->cancel)) {
            j->over = true;
            break;
        }
        iof_err err = agent_upstream_send(
            j->up, j->controller_url, j->token, "POST", j->path, j->buf, j->used, &d);
        if (err == IOF_OK) {
            break;
        }
        if (err != IOF_EBUSY) {
            IOF_INFO("agent", "log_stream_stopped id=%s reason=\"%s\"", j->id, d.msg);
            j->over = true;
            break;
        }
        sleep_ms(BUSY_WAIT_MS);
        if (tries + 1 == BUSY_TRIES) {
            j->over = true;
        }
    }
    j->used = 0;
}

static void append(struct job *j, const char *data, size_t len) {
    while (len > 0 && !j->over) {
        size_t room = sizeof j->buf - j->used;
        size_t take = len < room ? len : room;
        memcpy(j->buf + j->used, data, take);
        j->used += take;
        data += take;
        len -= take;
        if (j->used == sizeof j->buf) {
            flush(j);
        }
    }
}

static bool on_docker_bytes(void *ctx, const char *data, size_t len) {
    struct job *j = ctx;
    char out[16 * 1024];
    while (len > 0 && !j->over) {
        size_t part = len < sizeof out ? len : sizeof out;
        size_t n = agent_logs_demux(&j->demux, data, part, out);
        append(j, out, n);
        data += part;
        len -= part;
    }
    /* Send what arrived now: a follower wants each line as soon as it is printed. */
    flush(j);
    return !j->over && !atomic_load(j->owner->cancel);
}

static void end_session(struct job *j, const char *reason) {
    json_t *body = reason != NULL ? json_pack("{s:s}", "reason", reason) : NULL;
    struct iof_diag d = {{0}};
    if (agent_upstream_call(
            j->up, j->controller_url, j->token, "DELETE", j->path, body, NULL, &d) != IOF_OK) {
        IOF_DEBUG("agent", "log_stream_end_failed id=%s reason=\"%s\"", j->id, d.msg);
    }
    json_decref(body);
}

/* The last `tail` lines of the file from offset 0 (all when tail < 0): the offset to start at. */
static off_t tail_offset(int fd, long tail) {
    off_t size = lseek(fd, 0, SEEK_END);
    if (tail < 0 || size <= 0) {
        return 0;
    }
    char block[4096];
    long lines = 0;
    off_t pos = size;
    while (pos > 0) {
        size_t n = pos < (off_t)sizeof block ? (size_t)pos : sizeof block;
        pos -= (off_t)n;
        if (pread(fd, block, n, pos) != (ssize_t)n) {
            return 0;
        }
        for (size_t i = n; i-- > 0;) {
            /* the newline ending the last line does not start a line */
            if (block[i] == '\n' && pos + (off_t)i != size - 1 && ++lines > tail) {
                return pos + (off_t)i + 1;
            }
        }
    }
    return 0;
}

static void serve_file(struct job *j) {
    if (j->log_file[0] == '\0') {
        end_session(j,
                    "this Agent logs to its standard error (started with --foreground): "
                    "no log file to read");
        return;
    }
    int fd = open(j->log_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char reason[700];
        (void)snprintf(reason, sizeof reason, "cannot read %s: %s", j->log_file, strerror(errno));
        end_session(j, reason);
        return;
    }
    off_t pos = tail_offset(fd, j->tail);
    char block[8192];
    while (!j->over && !atomic_load(j->owner->cancel)) {
        ssize_t n = pread(fd, block, sizeof block, pos);
        if (n > 0) {
            append(j, block, (size_t)n);
            pos += n;
            continue;
        }
        flush(j);
        if (!j->follow || n < 0) {
            break;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size < pos) {
            pos = 0; /* rotated or truncated: start over */
        }
        sleep_ms(FILE_POLL_MS);
    }
    close(fd);
    if (!j->over) {
        end_session(j, NULL);
    }
}

static void serve_container(struct job *j) {
    struct agent_docker *k = NULL;
    struct iof_diag d = {{0}};
    char name[96];
    (void)snprintf(name, sizeof name, "iofog_%s", j->msvc);
    iof_err err = agent_docker_new_cancellable(j->docker_url, 0, j->owner->cancel, &k, &d);
    if (err == IOF_OK) {
        err = agent_docker_logs(k, name, j->tail, j->since_s, j->follow, on_docker_bytes, j, &d);
    }
    agent_docker_free(k);
    flush(j);
    if (j->over) {
        return;
    }
    if (err == IOF_ENOENT) {
        IOF_INFO("agent", "log_stream_no_container id=%s reason=\"%s\"", j->id, d.msg);
        end_session(j,
                    "the microservice has no container on this node (not started yet, or removed)");
    } else if (err != IOF_OK && !atomic_load(j->owner->cancel)) {
        char reason[300];
        (void)snprintf(reason, sizeof reason, "cannot read the container's log: %s", d.msg);
        end_session(j, reason);
    } else {
        end_session(j, j->follow ? "the container stopped or was removed" : NULL);
    }
}

static void *job_main(void *arg) {
    struct job *j = arg;
    if (agent_upstream_new_cancellable(
            0, j->cert[0] != '\0' ? j->cert : NULL, j->owner->cancel, &j->up) == IOF_OK) {
        IOF_INFO("agent",
                 "log_stream_start id=%s microservice=%s follow=%d",
                 j->id,
                 j->msvc[0] != '\0' ? j->msvc : "-",
                 (int)j->follow);
        if (j->msvc[0] != '\0') {
            serve_container(j);
        } else {
            serve_file(j);
        }
        agent_upstream_free(j->up);
    }
    struct agent_logs *l = j->owner;
    free(j);
    pthread_mutex_lock(&l->mu);
    l->running--;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

iof_err agent_logs_new(const atomic_bool *cancel, struct agent_logs **out) {
    struct agent_logs *l = calloc(1, sizeof *l);
    if (l == NULL) {
        return IOF_ENOMEM;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->cancel = cancel;
    *out = l;
    return IOF_OK;
}

static bool copy(char *dst, size_t size, const char *src) {
    if (src == NULL) {
        src = "";
    }
    if (strlen(src) >= size) {
        return false;
    }
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

void agent_logs_serve(struct agent_logs *l,
                      const struct agent_logs_target *t,
                      const json_t *sessions) {
    size_t i;
    const json_t *s;
    json_array_foreach(sessions, i, s) {
        struct job *j = calloc(1, sizeof *j);
        if (j == NULL) {
            return;
        }
        j->owner = l;
        const json_t *tail = json_object_get(s, "tail");
        const json_t *since = json_object_get(s, "since");
        j->tail = json_is_integer(tail) ? (long)json_integer_value(tail) : 100;
        j->since_s = json_is_integer(since) ? (int64_t)json_integer_value(since) : 0;
        j->follow = json_is_true(json_object_get(s, "follow"));
        const char *id = json_string_value(json_object_get(s, "id"));
        bool ok =
            id != NULL && strspn(id, "0123456789abcdef") == strlen(id) &&
            copy(j->id, sizeof j->id, id) &&
            copy(j->msvc,
                 sizeof j->msvc,
                 json_string_value(json_object_get(s, "microserviceUuid"))) &&
            strspn(j->msvc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") ==
                strlen(j->msvc) &&
            copy(j->controller_url, sizeof j->controller_url, t->controller_url) &&
            copy(j->token, sizeof j->token, t->access_token) &&
            copy(j->cert, sizeof j->cert, t->controller_cert) &&
            copy(j->docker_url, sizeof j->docker_url, t->docker_url) &&
            copy(j->log_file, sizeof j->log_file, t->log_file);
        if (!ok) {
            IOF_WARN("agent", "log_stream_refused reason=\"malformed session\"");
            free(j);
            continue;
        }
        (void)snprintf(j->path, sizeof j->path, "agent/logs/%s", j->id);
        pthread_mutex_lock(&l->mu);
        bool room = l->running < AGENT_LOGS_MAX;
        if (room) {
            l->running++;
        }
        pthread_mutex_unlock(&l->mu);
        pthread_t th;
        pthread_attr_t attr;
        bool started = false;
        if (room && pthread_attr_init(&attr) == 0) {
            (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            started = pthread_create(&th, &attr, job_main, j) == 0;
            pthread_attr_destroy(&attr);
        }
        if (!started) {
            if (room) {
                pthread_mutex_lock(&l->mu);
                l->running--;
                pthread_mutex_unlock(&l->mu);
            }
            if (agent_upstream_new(10000, j->cert[0] != '\0' ? j->cert : NULL, &j->up) == IOF_OK) {
                end_session(j, "this node serves too many log streams now; try again later");
                agent_upstream_free(j->up);
            }
            free(j);
        }
    }
}

size_t agent_logs_running(struct agent_logs *l) {
    pthread_mutex_lock(&l->mu);
    size_t n = l->running;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void agent_logs_free(struct agent_logs *l) {
    if (l == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    while (l->running > 0) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
