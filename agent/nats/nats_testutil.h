/* Test harness for the NATS transport: a real nats-server (Debian's) on a free 127.0.0.1 port,
 * started and stopped by the test, a receiver that records what arrives, and message helpers. */
#ifndef AGENT_NATS_TESTUTIL_H
#define AGENT_NATS_TESTUTIL_H

#include "agent/nats/nats_transport.h"

#include "common/clock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct nats_server {
    pid_t pid; /* 0 when not running */
    uint16_t port;
    char log[128];
};

static inline void nats_sleep_ms(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static inline uint16_t nats_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline bool nats_port_open(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Starts nats-server on 127.0.0.1 (port 0: a free one, else the given one, as for a restart) with
 * extra command-line arguments (NULL-terminated, may be NULL), and waits (<= 10 s) until it
 * accepts connections. 0 on success. */
static inline int
nats_server_start(struct nats_server *s, uint16_t port, const char *const *extra) {
    s->port = port != 0 ? port : nats_free_port();
    if (s->port == 0) {
        return -1;
    }
    (void)snprintf(s->log, sizeof s->log, "/tmp/iofog-nats-test-%u.log", (unsigned)s->port);
    char portstr[8];
    (void)snprintf(portstr, sizeof portstr, "%u", (unsigned)s->port);
    const char *argv[32] = {"nats-server", "-a", "127.0.0.1", "-p", portstr};
    size_t n = 5;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        /* A failed assertion skips the test's cleanup: the server must not outlive the test. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv("/usr/sbin/nats-server", (char *const *)(uintptr_t)argv);
        execvp("nats-server", (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 200; i++) {
        if (nats_port_open(s->port)) {
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        nats_sleep_ms(50);
    }
    return -1;
}

/* Stops the server with sig (SIGKILL: a crash; SIGTERM: a clean stop) and reaps it. */
static inline void nats_server_stop(struct nats_server *s, int sig) {
    if (s->pid > 0) {
        kill(s->pid, sig);
        int st;
        (void)waitpid(s->pid, &st, 0);
        s->pid = 0;
    }
}

static inline void nats_server_cleanup(struct nats_server *s) {
    nats_server_stop(s, SIGTERM);
    (void)unlink(s->log);
}

/* What a receiving transport recorded: every message's receiver, id, publisher, timestamp and
 * content, up to REC_MAX. */
#define REC_MAX 20000
struct rec_entry {
    char receiver[AGENT_NATS_UUID_MAX + 1];
    char id[64];
    char publisher[64];
    int64_t timestamp;
    int64_t seq;
    size_t content_len;
    int64_t recv_mono_us;
};
struct rec {
    pthread_mutex_t mu;
    struct rec_entry e[REC_MAX];
    size_t n;
    bool refuse; /* deliver answers IOF_EBUSY */
};

static inline struct rec *rec_new(void) {
    struct rec *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static inline void rec_free(struct rec *r) {
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static inline iof_err rec_deliver(void *ctx, const char *receiver, const struct iof_msg *m) {
    struct rec *r = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&r->mu);
    if (r->refuse) {
        pthread_mutex_unlock(&r->mu);
        return IOF_EBUSY;
    }
    if (r->n < REC_MAX) {
        struct rec_entry *e = &r->e[r->n++];
        (void)snprintf(e->receiver, sizeof e->receiver, "%s", receiver);
        (void)snprintf(e->id, sizeof e->id, "%s", m->id != NULL ? m->id : "");
        (void)snprintf(e->publisher, sizeof e->publisher, "%s", m->publisher ? m->publisher : "");
        e->timestamp = m->timestamp;
        e->seq = m->sequencenumber;
        e->content_len = m->contentdata_len;
        e->recv_mono_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    pthread_mutex_unlock(&r->mu);
    return IOF_OK;
}

static inline size_t rec_count(struct rec *r) {
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Waits (<= ms) until r holds at least n messages; returns the count. */
static inline size_t rec_wait(struct rec *r, size_t n, long ms) {
    int64_t deadline = iof_time_mono_ms() + ms;
    size_t got;
    while ((got = rec_count(r)) < n && iof_time_mono_ms() < deadline) {
        nats_sleep_ms(10);
    }
    return got;
}

/* A message with id "<prefix>-<seq>", publisher pub, timestamp 1700000000000 + seq. id_buf must
 * hold 64 bytes and outlive the message. */
static inline struct iof_msg
test_msg(char *id_buf, const char *prefix, int64_t seq, const char *pub) {
    (void)snprintf(id_buf, 64, "%s-%06lld", prefix, (long long)seq);
    static const uint8_t content[] = "payload";
    return (struct iof_msg){
        .version = 4,
        .id = id_buf,
        .tag = "test",
        .sequencenumber = seq,
        .sequencetotal = 0,
        .timestamp = 1700000000000 + seq,
        .publisher = pub,
        .infotype = "text/plain",
        .infoformat = "utf-8",
        .contentdata = content,
        .contentdata_len = sizeof content - 1,
    };
}

static inline struct agent_nats *
test_transport(const struct nats_server *s, struct rec *r, const struct agent_nats_config *base) {
    char url[64];
    (void)snprintf(url, sizeof url, "nats://127.0.0.1:%u", (unsigned)s->port);
    struct agent_nats_config cfg = {0};
    if (base != NULL) {
        cfg = *base;
    }
    if (cfg.urls == NULL) {
        cfg.urls = url;
    }
    if (cfg.reconnect_wait_ms == 0) {
        cfg.reconnect_wait_ms = 100;
    }
    struct agent_nats *t = NULL;
    struct iof_diag d = {{0}};
    iof_err err = agent_nats_new(&cfg, rec_deliver, r, &t, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "agent_nats_new: %s\n", iof_diag_text(&d, err));
        return NULL;
    }
    return t;
}

/* ---- a raw NATS client (the text protocol over a socket, as an attacker would speak it) ---- */

static inline void nats_raw_send(int fd, const char *text) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            return; /* the server closed: what it said is read by nats_raw_read */
        }
        off += (size_t)n;
    }
}

/* Reads into out (NUL-terminated) until the text contains until (NULL: until the peer closes) or
 * ms pass; returns the bytes read. */
static inline size_t nats_raw_read(int fd, char *out, size_t size, const char *until, int ms) {
    size_t n = 0;
    out[0] = '\0';
    int64_t end = iof_time_mono_ms() + ms;
    while (n + 1 < size) {
        int left = (int)(end - iof_time_mono_ms());
        if (left <= 0) {
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0) {
            break;
        }
        ssize_t r = recv(fd, out + n, size - 1 - n, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        out[n] = '\0';
        if (until != NULL && strstr(out, until) != NULL) {
            break;
        }
    }
    return n;
}

/* Connects to 127.0.0.1:port as user/pass (NULL user: no credentials): reads INFO, sends CONNECT
 * and a PING, and writes what the server answered (up to PONG or an error) into out. The socket,
 * or -1 when nothing listens. */
static inline int
nats_raw_connect(uint16_t port, const char *user, const char *pass, char *out, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    (void)nats_raw_read(fd, out, size, "\r\n", 2000); /* INFO */
    char cmd[512];
    if (user != NULL) {
        (void)snprintf(cmd,
                       sizeof cmd,
                       "CONNECT {\"verbose\":false,\"user\":\"%s\",\"pass\":\"%s\"}\r\nPING\r\n",
                       user,
                       pass);
    } else {
        (void)snprintf(cmd, sizeof cmd, "CONNECT {\"verbose\":false}\r\nPING\r\n");
    }
    nats_raw_send(fd, cmd);
    (void)nats_raw_read(fd, out, size, "\r\n", 3000);
    return fd;
}

#endif
