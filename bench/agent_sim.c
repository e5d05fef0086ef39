/* agent-sim: simulates N agents against a running Controller (a benchmark, not a test).
 *
 * Each agent is a node created with the user API, provisioned with its key, then keeps one
 * keep-alive connection with a long-poll GET /api/v3/agent/config/changes?wait=60 held, and
 * acknowledges what it is told; a connection the Controller closes is opened again and the poll
 * sent again, as a real Agent's HTTP client does (counted: closedConnections). Status reports (PUT
 * /agent/status) go every 10 s per agent over a few shared connections. A changer thread then
 * changes the configuration of random nodes through the user API and measures the time from the
 * request to the affected agent's answer.
 *
 * Usage: agent-sim --port P --admin TOKEN --agents N [--changes K] [--pid CONTROLLER_PID]
 *                  [--change-port P2] [--rate R] [--status-interval S] [--prefix NAME]
 *                  [--go-file PATH] [--delays-out PATH] [--setup-threads T]
 * Prints one JSON object with the figures. Sockets are raw and driven by one epoll loop, so the
 * simulator itself needs no thread per agent.
 *
 * For a fleet spread over several processes and Controller replicas (bench/scale_out.sh): the
 * agents are created, provisioned and held on --port; the changes go through --change-port (a
 * load balancer: the change then reaches the replica holding the poll through the database) at
 * --rate per second; with --go-file the simulator says "ready" on stderr once its polls are held
 * and waits until that file exists before changing anything; --delays-out writes each measured
 * delivery delay (microseconds, one a line) for the caller to merge. Set-up runs on T threads
 * (default 4), each with its own connection. */
#include "common/clock.h"
#include "http/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct agent {
    char uuid[64];
    char token[64];
    int fd;
    char in[4096];
    size_t in_len;
    bool acking;
    bool connecting; /* a reconnect in progress: the poll goes out once the socket is writable */
    _Atomic int64_t change_at_us; /* set by the changer; 0 when none is pending */
};

static struct agent *agents;
static size_t n_agents;
static uint16_t port;
static long status_interval_s = 10;
static _Atomic bool stopping;
static int64_t *delays_us;
static _Atomic size_t n_delays;
static _Atomic size_t n_answers;
static _Atomic size_t n_status_ok, n_status_failed;
static _Atomic size_t n_closed; /* agent connections the Controller closed (then reopened) */
static _Atomic size_t n_lost;   /* closed connections that could not be reopened */

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A connection to the Controller; with nonblock the connect may still be in progress (the epoll
 * loop must never wait for one: every other agent's answers would wait behind it). */
static int open_conn_mode(bool nonblock) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 &&
                   !(nonblock && errno == EINPROGRESS))) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int open_conn(void) {
    return open_conn_mode(false);
}

static bool send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_poll(struct agent *a) {
    char req[512];
    int n = snprintf(req,
                     sizeof req,
                     "GET /api/v3/agent/config/changes?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: %s\r\n\r\n",
                     a->token);
    a->acking = false;
    return send_all(a->fd, req, (size_t)n);
}

static bool send_ack(struct agent *a, const char *last_updated) {
    char body[96], req[640];
    int bl = snprintf(body, sizeof body, "{\"lastUpdated\":\"%s\"}", last_updated);
    int n = snprintf(req,
                     sizeof req,
                     "PATCH /api/v3/agent/config/changes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     "\r\n%s",
                     a->token,
                     bl,
                     body);
    a->acking = true;
    return send_all(a->fd, req, (size_t)n);
}

/* A whole response in a->in? Returns its length (head + body) or 0. */
static size_t response_len(const struct agent *a, const char **body, size_t *body_len) {
    const char *end = memmem(a->in, a->in_len, "\r\n\r\n", 4);
    if (end == NULL) {
        return 0;
    }
    size_t head = (size_t)(end - a->in) + 4;
    const char *cl = memmem(a->in, head, "Content-Length:", 15);
    size_t blen = cl != NULL ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    if (a->in_len < head + blen) {
        return 0;
    }
    *body = a->in + head;
    *body_len = blen;
    return head + blen;
}

static void on_response(struct agent *a, const char *body, size_t len) {
    if (a->acking) {
        (void)send_poll(a);
        return;
    }
    atomic_fetch_add(&n_answers, 1);
    bool any = memmem(body, len, "true", 4) != NULL;
    int64_t t0 = atomic_exchange(&a->change_at_us, 0);
    if (t0 != 0 && any) {
        size_t i = atomic_fetch_add(&n_delays, 1);
        delays_us[i] = now_us() - t0;
    } else if (t0 != 0) {
        atomic_store(&a->change_at_us, t0); /* not this answer */
    }
    const char *lu = memmem(body, len, "\"lastUpdated\":\"", 15);
    if (any && lu != NULL) {
        char v[32] = {0};
        const char *s = lu + 15;
        size_t k = 0;
        while (k + 1 < sizeof v && s < body + len && *s != '"') {
            v[k++] = *s++;
        }
        (void)send_ack(a, v);
    } else {
        (void)send_poll(a);
    }
}

static void *loop_main(void *arg) {
    int ep = *(int *)arg;
    struct epoll_event ev[256];
    while (!stopping) {
        int n = epoll_wait(ep, ev, 256, 200);
        for (int i = 0; i < n; i++) {
            struct agent *a = ev[i].data.ptr;
            if (a->connecting) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = a};
                a->connecting = false;
                if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0 ||
                    epoll_ctl(ep, EPOLL_CTL_MOD, a->fd, &e) != 0 || !send_poll(a)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
                    close(a->fd);
                    a->fd = -1;
                    atomic_fetch_add(&n_lost, 1); /* this agent stops polling */
                }
                continue;
            }
            ssize_t r = recv(a->fd, a->in + a->in_len, sizeof a->in - a->in_len, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                /* As a real Agent's HTTP client does: a new connection and the poll again (an
                 * unacknowledged change is still raised, so it is answered at once). */
                epoll_ctl(ep, EPOLL_CTL_DEL, a->fd, NULL);
                close(a->fd);
                atomic_fetch_add(&n_closed, 1);
                a->in_len = 0;
                a->fd = open_conn_mode(true);
                a->connecting = true;
                struct epoll_event e = {.events = EPOLLOUT, .data.ptr = a};
                if (a->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &e) != 0) {
                    a->connecting = false;
                    atomic_fetch_add(&n_lost, 1); /* this agent stops polling */
                }
                continue;
            }
            if (r < 0) {
                continue;
            }
            a->in_len += (size_t)r;
            const char *body;
            size_t blen, total;
            while ((total = response_len(a, &body, &blen)) > 0) {
                on_response(a, body, blen);
                memmove(a->in, a->in + total, a->in_len - total);
                a->in_len -= total;
            }
        }
    }
    return NULL;
}

/* Status reports: every agent once per 10 s over a few shared keep-alive connections. */
static void *status_main(void *arg) {
    (void)arg;
    struct iof_http_client_opts o = {.timeout_ms = 10000};
    struct iof_http_client *c = NULL;
    if (iof_http_client_new(&o, &c) != IOF_OK) {
        return NULL;
    }
    char url[128];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v3/agent/status", (unsigned)port);
    const char *body = "{\"daemonStatus\":\"RUNNING\",\"cpuUsage\":1.5,\"memoryUsage\":50,"
                       "\"microserviceStatus\":\"[]\"}";
    size_t next = 0;
    while (!stopping) {
        int64_t round = now_us();
        size_t per_round = n_agents / (size_t)status_interval_s + 1; /* agents per second */
        for (size_t k = 0; k < per_round && !stopping; k++, next = (next + 1) % n_agents) {
            char auth[96];
            (void)snprintf(auth, sizeof auth, "Authorization: %s", agents[next].token);
            const char *h[] = {auth, "Content-Type: application/json", NULL};
            struct iof_http_response r;
            struct iof_diag d;
            if (iof_http_client_request(c, "PUT", url, h, body, strlen(body), &r, &d) == IOF_OK) {
                atomic_fetch_add(
                    r.status == 204 || r.status == 200 ? &n_status_ok : &n_status_failed, 1);
                iof_http_response_free(&r);
            } else {
                atomic_fetch_add(&n_status_failed, 1);
            }
        }
        int64_t left = 1000000 - (now_us() - round);
        if (left > 0) {
            nanosleep(
                &(struct timespec){.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000},
                NULL);
        }
    }
    iof_http_client_free(c);
    return NULL;
}

/* Set-up: creates and provisions agents first, first + step, ... over its own connection. */
#define MAX_SETUP_THREADS 16
struct setup_job {
    const char *base, *auth, *prefix;
    size_t first, step;
};

static void *setup_main(void *arg) {
    const struct setup_job *job = arg;
    struct iof_http_client_opts o = {.timeout_ms = 60000};
    struct iof_http_client *c = NULL;
    if (iof_http_client_new(&o, &c) != IOF_OK) {
        fprintf(stderr, "set-up: no HTTP client\n");
        exit(1);
    }
    const char *h[] = {job->auth, "Content-Type: application/json", NULL};
    char body[128], url[256];
    for (size_t i = job->first; i < n_agents; i += job->step) {
        long st = 0;
        json_t *ans = NULL;
        struct iof_diag d;
        (void)snprintf(body, sizeof body, "{\"name\":\"%s-%zu\",\"fogType\":1}", job->prefix, i);
        json_t *jb = json_loads(body, 0, NULL);
        (void)snprintf(url, sizeof url, "%s/iofog", job->base);
        if (iof_http_client_request_json(c, "POST", url, h, jb, &st, &ans, &d) != IOF_OK ||
            st != 201) {
            fprintf(stderr, "node %zu: %ld %s\n", i, st, d.msg);
            exit(1);
        }
        json_decref(jb);
        (void)snprintf(agents[i].uuid,
                       sizeof agents[i].uuid,
                       "%s",
                       json_string_value(json_object_get(ans, "uuid")));
        json_decref(ans);
        (void)snprintf(url, sizeof url, "%s/iofog/%s/provisioning-key", job->base, agents[i].uuid);
        if (iof_http_client_request_json(c, "GET", url, h, NULL, &st, &ans, &d) != IOF_OK ||
            st != 201) {
            fprintf(stderr, "provisioning key %zu: %ld %s\n", i, st, d.msg);
            exit(1);
        }
        (void)snprintf(body,
                       sizeof body,
                       "{\"key\":\"%s\",\"type\":1}",
                       json_string_value(json_object_get(ans, "key")));
        json_decref(ans);
        jb = json_loads(body, 0, NULL);
        (void)snprintf(url, sizeof url, "%s/agent/provision", job->base);
        if (iof_http_client_request_json(c, "POST", url, NULL, jb, &st, &ans, &d) != IOF_OK ||
            st != 200) {
            fprintf(stderr, "provision %zu: %ld %s\n", i, st, d.msg);
            exit(1);
        }
        json_decref(jb);
        (void)snprintf(agents[i].token,
                       sizeof agents[i].token,
                       "%s",
                       json_string_value(json_object_get(ans, "token")));
        json_decref(ans);
    }
    iof_http_client_free(c);
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void proc_figures(long pid, double *rss_mb, double *cpu_s) {
    char path[64], line[256];
    *rss_mb = -1;
    *cpu_s = -1;
    (void)snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            *rss_mb = strtod(line + 6, NULL) / 1024.0;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    (void)snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "re");
    if (f != NULL && fgets(line, sizeof line, f) != NULL) {
        const char *p = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        if (p != NULL &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

int main(int argc, char **argv) {
    const char *admin = NULL;
    size_t changes = 200;
    long pid = 0;
    uint16_t change_port = 0;
    double rate = 50;
    const char *prefix = "sim";
    const char *go_file = NULL;
    const char *delays_out = NULL;
    size_t setup_threads_n = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = (uint16_t)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--admin") == 0) {
            admin = argv[i + 1];
        } else if (strcmp(argv[i], "--agents") == 0) {
            n_agents = (size_t)strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--changes") == 0) {
            changes = (size_t)strtoul(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--pid") == 0) {
            pid = strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--change-port") == 0) {
            change_port = (uint16_t)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--rate") == 0) {
            rate = strtod(argv[i + 1], NULL);
        } else if (strcmp(argv[i], "--status-interval") == 0) {
            status_interval_s = strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--prefix") == 0) {
            prefix = argv[i + 1];
        } else if (strcmp(argv[i], "--go-file") == 0) {
            go_file = argv[i + 1];
        } else if (strcmp(argv[i], "--delays-out") == 0) {
            delays_out = argv[i + 1];
        } else if (strcmp(argv[i], "--setup-threads") == 0) {
            setup_threads_n = (size_t)strtoul(argv[i + 1], NULL, 10);
        }
    }
    if (change_port == 0) {
        change_port = port;
    }
    if (port == 0 || admin == NULL || n_agents == 0 || changes == 0 || rate <= 0 ||
        status_interval_s < 1 || setup_threads_n < 1 || setup_threads_n > MAX_SETUP_THREADS) {
        fprintf(stderr,
                "usage: agent-sim --port P --admin TOKEN --agents N [--changes K] [--pid PID]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    agents = calloc(n_agents, sizeof *agents);
    delays_us = calloc(changes, sizeof *delays_us);
    struct iof_http_client_opts o = {.timeout_ms = 30000};
    struct iof_http_client *c = NULL;
    if (agents == NULL || delays_us == NULL || iof_http_client_new(&o, &c) != IOF_OK) {
        return 1;
    }
    char base[64], auth[128], url[256];
    (void)snprintf(base, sizeof base, "http://127.0.0.1:%u/api/v3", (unsigned)port);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", admin);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    int64_t t_setup = now_us();
    pthread_t setup_threads[MAX_SETUP_THREADS];
    struct setup_job jobs[MAX_SETUP_THREADS];
    for (size_t k = 0; k < setup_threads_n; k++) {
        jobs[k] = (struct setup_job){
            .base = base, .auth = auth, .prefix = prefix, .first = k, .step = setup_threads_n};
        if (pthread_create(&setup_threads[k], NULL, setup_main, &jobs[k]) != 0) {
            return 1;
        }
    }
    for (size_t k = 0; k < setup_threads_n; k++) {
        pthread_join(setup_threads[k], NULL);
    }
    double setup_s = (double)(now_us() - t_setup) / 1e6;

    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < n_agents; i++) {
        agents[i].fd = open_conn();
        if (agents[i].fd < 0) {
            fprintf(stderr, "connection %zu failed: %s\n", i, strerror(errno));
            return 1;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &agents[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, agents[i].fd, &e);
        (void)send_poll(&agents[i]);
    }
    pthread_t loop, status;
    pthread_create(&loop, NULL, loop_main, &ep);
    /* Let the first answers (flags raised at creation) settle into held polls. */
    sleep(3);
    if (go_file != NULL) {
        fprintf(stderr, "ready\n");
        for (int k = 0; k < 36000 && access(go_file, F_OK) != 0; k++) { /* at most an hour */
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
    }
    pthread_create(&status, NULL, status_main, NULL);
    double rss0 = 0, cpu0 = 0;
    if (pid > 0) {
        proc_figures(pid, &rss0, &cpu0);
    }
    char change_base[64];
    (void)snprintf(
        change_base, sizeof change_base, "http://127.0.0.1:%u/api/v3", (unsigned)change_port);
    long gap_ns = (long)(1e9 / rate);
    size_t sent = 0, failed = 0;
    long fail_status = 0;
    size_t status0 = atomic_load(&n_status_ok);
    int64_t t_changes = now_us();
    for (size_t k = 0; k < changes; k++) {
        struct agent *a = &agents[(size_t)rand() % n_agents];
        if (atomic_load(&a->change_at_us) != 0) {
            continue;
        }
        char body[64];
        (void)snprintf(body, sizeof body, "{\"statusFrequency\":%zu}", 11 + k % 50);
        json_t *jb = json_loads(body, 0, NULL);
        long st = 0;
        struct iof_diag d;
        (void)snprintf(url, sizeof url, "%s/iofog/%s", change_base, a->uuid);
        atomic_store(&a->change_at_us, now_us());
        sent++;
        if (iof_http_client_request_json(c, "PATCH", url, h, jb, &st, NULL, &d) != IOF_OK ||
            st != 204) {
            atomic_store(&a->change_at_us, 0);
            failed++;
            fail_status = st;
        }
        json_decref(jb);
        nanosleep(
            &(struct timespec){.tv_sec = gap_ns / 1000000000L, .tv_nsec = gap_ns % 1000000000L},
            NULL); /* rate changes/s */
    }
    sleep(2);
    double secs = (double)(now_us() - t_changes) / 1e6;
    double rss1 = 0, cpu1 = 0;
    if (pid > 0) {
        proc_figures(pid, &rss1, &cpu1);
    }
    size_t status_done = atomic_load(&n_status_ok) - status0;
    size_t undelivered = 0;
    for (size_t i = 0; i < n_agents; i++) {
        undelivered += atomic_load(&agents[i].change_at_us) != 0;
    }
    stopping = true;
    pthread_join(loop, NULL);
    pthread_join(status, NULL);
    size_t nd = atomic_load(&n_delays);
    qsort(delays_us, nd, sizeof *delays_us, cmp64);
    if (delays_out != NULL) {
        FILE *f = fopen(delays_out, "we");
        for (size_t k = 0; f != NULL && k < nd; k++) {
            fprintf(f, "%lld\n", (long long)delays_us[k]);
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    printf("{\"agents\":%zu,\"setupSeconds\":%.1f,\"changesMeasured\":%zu,"
           "\"deliveryP50Ms\":%.2f,\"deliveryP99Ms\":%.2f,\"deliveryMaxMs\":%.2f,"
           "\"controllerRssMb\":%.1f,\"controllerCpuPercent\":%.1f,\"answers\":%zu,"
           "\"changesSent\":%zu,\"changesFailed\":%zu,\"changeFailStatus\":%ld,"
           "\"undelivered\":%zu,\"statusReportsPerSecond\":%.1f,\"statusFailed\":%zu,"
           "\"closedConnections\":%zu,\"lostAgents\":%zu}\n",
           n_agents,
           setup_s,
           nd,
           nd ? (double)delays_us[nd / 2] / 1000.0 : -1,
           nd ? (double)delays_us[nd * 99 / 100] / 1000.0 : -1,
           nd ? (double)delays_us[nd - 1] / 1000.0 : -1,
           rss1,
           pid > 0 && secs > 0 ? (cpu1 - cpu0) / secs * 100.0 : -1,
           atomic_load(&n_answers),
           sent,
           failed,
           fail_status,
           undelivered,
           secs > 0 ? (double)status_done / secs : 0,
           atomic_load(&n_status_failed),
           atomic_load(&n_closed),
           atomic_load(&n_lost));
    for (size_t i = 0; i < n_agents; i++) {
        if (agents[i].fd >= 0) {
            close(agents[i].fd);
        }
    }
    free(agents);
    free(delays_us);
    iof_http_client_free(c);
    return 0;
}
