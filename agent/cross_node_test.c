/* Messages across nodes, end to end: one Controller handing out the NATS URL of a nats-server the
 * test runs, two real Agents (own config dirs and Local API ports, one dockerd) provisioned to two
 * nodes, a "sensor" on node A routed to a "viewer" on node B, both played by WebSocket test clients
 * (ws/client.h) on their Agent's message socket.
 *
 * What it shows: the viewer gets every message with the id and timestamp of the sensor's receipt
 * and the sensor as publisher; nats-server killed (SIGKILL) and restarted on the same port
 * mid-stream, delivery resumes and the loss is bounded and equals what the Agents' status lines
 * ("messaging-across-nodes") report; moving the viewer to node A re-routes the messages through
 * A's on-node bus, and moving it back to B through NATS again, while the sensor keeps its socket.
 * All of it with per-node NATS credentials (the Controller's authorization file, nats-server
 * restarted with it); at the end a message node A sends on NATS under a forged publisher is
 * dropped and counted by B.
 */
#include "agent/agent_testutil.h"
#include "agent/nats/nats_testutil.h"

#include "http/client.h"
#include "iomessage/iomessage.h"
#include "ws/client.h"

#include <pthread.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define IMAGE "iofog-agent-e2e/busy:1"

#define N_STREAM      3000 /* messages of the restart stream */
#define RATE_PER_S    500
#define KILL_AT       1000 /* seq at which nats-server is killed */
#define OUTAGE_MSGS   500  /* messages published while it is down (1 s at RATE_PER_S) */
#define RESUMED_AFTER 1000 /* every message this many after the restart must arrive */
#define LOSS_MAX      100  /* in-flight loss bound (the transport buffers the rest) */
#define N_MOVE        300  /* messages after each move */

/* ---- the viewer: a thread reading its message socket ---- */

struct viewer {
    struct iof_ws_client *ws;
    pthread_t th;
    atomic_bool stop;
    bool joined;
    pthread_mutex_t mu;
    const char *tag; /* only messages whose content starts with this count */
    size_t n_max;
    int *count;       /* per seq */
    char (*id)[40];   /* per seq: the id received */
    int64_t *ts;      /* per seq: the timestamp received */
    int64_t *recv_ms; /* per seq: monotonic arrival time */
    size_t total;     /* tagged messages received */
    size_t other;     /* untagged (warm-up) messages received */
    size_t bad;       /* frames that do not parse, or a wrong publisher */
    const char *publisher;
};

static void *viewer_main(void *arg) {
    struct viewer *v = arg;
    size_t tag_len = strlen(v->tag);
    while (!atomic_load(&v->stop)) {
        struct iof_ws_msg m = {0};
        iof_err err = iof_ws_client_recv(v->ws, 100, &m);
        if (err == IOF_ETIMEOUT) {
            continue;
        }
        if (err != IOF_OK || m.opcode == IOF_WS_CLOSE) {
            iof_ws_msg_free(&m);
            break;
        }
        int64_t now = iof_time_mono_ms();
        const uint8_t *inner = NULL;
        size_t inner_len = 0;
        struct iof_msg *got = NULL;
        if (m.opcode != IOF_WS_BINARY ||
            iof_msg_frame_parse(m.data, m.len, &inner, &inner_len, NULL) != IOF_OK ||
            iof_msg_decode(inner, inner_len, &got, NULL) != IOF_OK) {
            pthread_mutex_lock(&v->mu);
            v->bad++;
            pthread_mutex_unlock(&v->mu);
            iof_ws_msg_free(&m);
            continue;
        }
        uint8_t ack = IOF_MSG_OP_ACK;
        if (iof_ws_client_send(v->ws, IOF_WS_BINARY, &ack, 1) != IOF_OK) {
            v->bad++; /* the reader owns the socket: a failed ACK is reported, not fatal here */
        }
        char content[64] = "";
        size_t cl =
            got->contentdata_len < sizeof content - 1 ? got->contentdata_len : sizeof content - 1;
        memcpy(content, got->contentdata, cl);
        long seq = -1;
        pthread_mutex_lock(&v->mu);
        if (got->publisher == NULL || strcmp(got->publisher, v->publisher) != 0) {
            v->bad++;
        } else if (strncmp(content, v->tag, tag_len) == 0 &&
                   sscanf(content + tag_len, "%ld", &seq) == 1 && seq >= 0 &&
                   (size_t)seq < v->n_max) {
            if (v->count[seq]++ == 0) {
                (void)snprintf(v->id[seq], sizeof v->id[seq], "%s", got->id ? got->id : "");
                v->ts[seq] = got->timestamp;
                v->recv_ms[seq] = now;
            }
            v->total++;
        } else {
            v->other++;
        }
        pthread_mutex_unlock(&v->mu);
        iof_msg_free(got);
        iof_ws_msg_free(&m);
    }
    return NULL;
}

static struct viewer *
viewer_start(struct agent_fixture *a, const char *uuid, const char *publisher, const char *tag) {
    struct viewer *v = calloc(1, sizeof *v);
    v->n_max = N_STREAM;
    v->count = calloc(v->n_max, sizeof *v->count);
    v->id = calloc(v->n_max, sizeof *v->id);
    v->ts = calloc(v->n_max, sizeof *v->ts);
    v->recv_ms = calloc(v->n_max, sizeof *v->recv_ms);
    v->tag = tag;
    v->publisher = publisher;
    pthread_mutex_init(&v->mu, NULL);
    v->ws = agent_ws_open(a, "message", uuid);
    assert_non_null(v->ws);
    assert_int_equal(pthread_create(&v->th, NULL, viewer_main, v), 0);
    return v;
}

/* Ends the reading thread; the records stay readable. */
static void viewer_join(struct viewer *v) {
    if (!v->joined) {
        atomic_store(&v->stop, true);
        pthread_join(v->th, NULL);
        v->joined = true;
    }
}

static void viewer_stop(struct viewer *v) {
    viewer_join(v);
    iof_ws_client_free(v->ws);
    pthread_mutex_destroy(&v->mu);
    free(v->count);
    free(v->id);
    free(v->ts);
    free(v->recv_ms);
    free(v);
}

static size_t viewer_counts(struct viewer *v, size_t *other) {
    pthread_mutex_lock(&v->mu);
    size_t n = v->total;
    if (other != NULL) {
        *other = v->other;
    }
    pthread_mutex_unlock(&v->mu);
    return n;
}

/* Waits until the viewer holds want tagged messages, or the count stays unchanged for quiet_ms,
 * at most max_ms; returns the count. */
static size_t viewer_settle(struct viewer *v, size_t want, int quiet_ms, int max_ms) {
    int64_t end = iof_time_mono_ms() + max_ms, changed = iof_time_mono_ms();
    size_t n = viewer_counts(v, NULL);
    while (n < want && iof_time_mono_ms() < end && iof_time_mono_ms() - changed < quiet_ms) {
        nats_sleep_ms(20);
        size_t m = viewer_counts(v, NULL);
        if (m != n) {
            n = m;
            changed = iof_time_mono_ms();
        }
    }
    return n;
}

/* ---- the sensor: publishes on its message socket and reads the receipts ---- */

struct sent {
    char id[40];
    int64_t ts;
};

static void
publish(struct iof_ws_client *tx, const char *sensor, const char *content, struct sent *out) {
    struct sent r = {.ts = 0};
    assert_int_equal(
        agent_ws_publish(tx, sensor, content, strlen(content), r.id, sizeof r.id, &r.ts), 0);
    if (out != NULL) {
        *out = r;
    }
}

/* Publishes warm-up messages every 100 ms until the viewer got one (≤ 15 s): the whole path is up
 * (Controller config, NATS subscriptions). Returns the number published. */
static int warm_up(struct iof_ws_client *tx, const char *sensor, struct viewer *v) {
    size_t other0 = 0;
    (void)viewer_counts(v, &other0);
    int64_t end = iof_time_mono_ms() + 15000;
    int n = 0;
    for (;;) {
        publish(tx, sensor, "warm-up", NULL);
        n++;
        size_t other = 0;
        for (int i = 0; i < 10; i++) {
            nats_sleep_ms(10);
            (void)viewer_counts(v, &other);
            if (other > other0) {
                return n;
            }
        }
        if (iof_time_mono_ms() > end) {
            fail_msg("no warm-up message arrived in 15 s");
        }
    }
}

/* ---- the Agents ---- */

struct ctx {
    struct nats_server ns;
    char dir[256]; /* nats-server's configuration, the Controller's authorization file */
    char conf[300], auth[300], pid[300];
    struct agent_fixture *a, *b;
    char sensor[64], viewer[64];
};

struct xcounters {
    long long published, delivered, dropped;
};

/* The "messaging-across-nodes" status line's counters. */
static struct xcounters counters(struct agent_fixture *a) {
    char out[8192];
    assert_int_equal(agent_cli(a, out, sizeof out, "status"), 0);
    const char *line = strstr(out, "messaging-across-nodes");
    assert_non_null(line);
    const char *colon = strchr(line, ':');
    assert_non_null(colon);
    struct xcounters c = {0};
    char state[32];
    int k = sscanf(colon + 1,
                   " %31[^,], %lld published, %lld delivered, %lld dropped",
                   state,
                   &c.published,
                   &c.delivered,
                   &c.dropped);
    if (k != 4) {
        fail_msg("unexpected status line: %.200s", line);
    }
    return c;
}

static void add_msvc(struct ctx *c, const char *name, const char *node, char out[64]) {
    char body[512];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"%s\",\"application\":\"xnode\",\"iofogUuid\":\"%s\","
                   "\"registryId\":2,\"images\":[{\"containerImage\":\"" IMAGE
                   "\",\"fogTypeId\":1}]}",
                   name,
                   node);
    json_t *ans = NULL;
    assert_int_equal(api_call(c->a->ctl, "POST", "/api/v3/microservices", c->a->user, body, &ans),
                     201);
    (void)snprintf(out, 64, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

/* Waits (≤ 15 s) until the agent knows microservice id (want) or no longer knows it (!want). */
static void wait_known(struct agent_fixture *a, const char *id, bool want) {
    char body[128];
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", id);
    int64_t end = iof_time_mono_ms() + 15000;
    while (iof_time_mono_ms() < end) {
        if ((agent_local_post(a, "/v2/config/get", body, NULL) == 200) == want) {
            return;
        }
        nats_sleep_ms(50);
    }
    fail_msg("agent on port %u never %s %s", (unsigned)a->local_port, want ? "knew" : "forgot", id);
}

static void move_viewer(struct ctx *c, struct agent_fixture *to) {
    char body[128];
    (void)snprintf(body, sizeof body, "{\"iofogUuid\":\"%s\"}", to->node);
    long st = api_callf(
        c->a->ctl, "PATCH", c->a->user, body, NULL, "/api/v3/microservices/%s", c->viewer);
    assert_true(st == 200 || st == 204);
}

/* nats-server's arguments: the configuration that includes the Controller's users. */
static const char *const *nats_args(struct ctx *c) {
    static const char *args[5];
    args[0] = "-c";
    args[1] = c->conf;
    args[2] = "-P";
    args[3] = c->pid;
    args[4] = NULL;
    return args;
}

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("bash scripts/test-image.sh " IMAGE " >/dev/null") != 0) {
        return -1;
    }
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL || test_tmpdir_make(c->dir, sizeof c->dir) != 0) {
        return -1;
    }
    /* Per-node NATS identity on (docs/design/nats-security.md): the Controller writes the users
     * file nats-server includes and signals it on changes, so the Controller starts first. */
    (void)snprintf(c->auth, sizeof c->auth, "%s/auth.conf", c->dir);
    (void)snprintf(c->pid, sizeof c->pid, "%s/nats.pid", c->dir);
    (void)snprintf(c->conf, sizeof c->conf, "%s/nats.conf", c->dir);
    uint16_t port = nats_free_port();
    char url[64];
    (void)snprintf(url, sizeof url, "nats://127.0.0.1:%u", (unsigned)port);
    setenv("IOFOG_CONTROLLER_NATS_URL", url, 1); /* the Controller hands it to the agents */
    setenv("IOFOG_CONTROLLER_NATS_AUTH_FILE", c->auth, 1);
    setenv("IOFOG_CONTROLLER_NATS_PID_FILE", c->pid, 1);
    c->a = agent_fixture_new("xnode-a");
    unsetenv("IOFOG_CONTROLLER_NATS_URL");
    unsetenv("IOFOG_CONTROLLER_NATS_AUTH_FILE");
    unsetenv("IOFOG_CONTROLLER_NATS_PID_FILE");
    FILE *f = fopen(c->conf, "w");
    if (c->a == NULL || f == NULL) {
        return -1;
    }
    fprintf(f, "include \"auth.conf\"\n");
    fclose(f);
    if (nats_server_start(&c->ns, port, nats_args(c)) != 0) {
        fprintf(stderr, "nats-server did not start\n");
        return -1;
    }
    if ((c->b = agent_fixture_new_peer(c->a, "xnode-b")) == NULL ||
        agent_fixture_app(c->a, "xnode") != 0) {
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    struct ctx *c = *state;
    int rc = agent_daemon_stop(c->b) | agent_daemon_stop(c->a); /* remove their containers */
    rc |= agent_fixture_free(c->b);
    rc |= agent_fixture_free(c->a);
    nats_server_cleanup(&c->ns);
    (void)test_tmpdir_remove(c->dir);
    free(c);
    return rc == 0 ? 0 : -1;
}

/* Node A's NATS credential from its Agent's credentials.json (which must be 0600). */
static void node_credential(struct agent_fixture *a, char *user, char *pass, size_t size) {
    char path[512];
    (void)snprintf(path, sizeof path, "%s/credentials.json", a->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    assert_non_null(j);
    assert_true(strlen(jstr(j, "natsUser")) > 0 && strlen(jstr(j, "natsPassword")) > 0);
    (void)snprintf(user, size, "%s", jstr(j, "natsUser"));
    (void)snprintf(pass, size, "%s", jstr(j, "natsPassword"));
    json_decref(j);
}

/* Publishes, as node A on NATS, one ioMessage to the viewer naming a publisher that is not routed
 * to it; asserts B drops and counts it (its status line's dropped, not delivered). */
static void forge(struct ctx *c, struct xcounters before) {
    char user[128], pass[128], out[1024];
    node_credential(c->a, user, pass, sizeof user);
    assert_string_equal(user, c->a->node);
    json_t *rows = NULL;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(c->viewer)};
    struct iof_diag d = {{0}};
    assert_int_equal(ctl_db_query_json(ctl_store_db(c->a->ctl->store),
                                       "SELECT application_id AS app FROM microservices"
                                       " WHERE uuid = ?",
                                       p,
                                       1,
                                       &rows,
                                       &d),
                     IOF_OK);
    long long app = (long long)json_integer_value(json_object_get(json_array_get(rows, 0), "app"));
    json_decref(rows);
    char id[64];
    struct iof_msg m = test_msg(id, "forged", 1, "FORGED-PUBLISHER");
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(iof_msg_encode(&m, IOF_MSG_WIDTH_CLASSIC, buf, sizeof buf, &len, &d), IOF_OK);
    int fd = nats_raw_connect(c->ns.port, user, pass, out, sizeof out);
    assert_true(fd >= 0);
    assert_non_null(strstr(out, "PONG"));
    char head[256];
    (void)snprintf(head, sizeof head, "PUB iofog.%lld.%s %zu\r\n", app, c->viewer, len);
    nats_raw_send(fd, head);
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
    nats_raw_send(fd, "\r\nPING\r\n");
    (void)nats_raw_read(fd, out, sizeof out, "PONG", 3000);
    assert_non_null(strstr(out, "PONG"));
    assert_null(strstr(out, "Violation")); /* A may publish to the viewer: its route */
    close(fd);
    struct xcounters after = before;
    int64_t end = iof_time_mono_ms() + 5000;
    while (after.dropped == before.dropped && iof_time_mono_ms() < end) {
        nats_sleep_ms(100);
        after = counters(c->b);
    }
    printf("forged publisher: B dropped %lld, delivered %lld\n",
           after.dropped - before.dropped,
           after.delivered - before.delivered);
    assert_int_equal(after.dropped - before.dropped, 1);
    assert_int_equal(after.delivered, before.delivered);
}

/* Checks every received message of v against what the sensor's receipts said. */
static void check_identity(struct viewer *v, const struct sent *sent, size_t n, size_t *dups) {
    *dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (v->count[i] == 0) {
            continue;
        }
        *dups += (size_t)(v->count[i] - 1);
        if (strcmp(v->id[i], sent[i].id) != 0 || v->ts[i] != sent[i].ts) {
            fail_msg("message %zu arrived as id %s ts %lld, the receipt said %s %lld",
                     i,
                     v->id[i],
                     (long long)v->ts[i],
                     sent[i].id,
                     (long long)sent[i].ts);
        }
    }
    assert_int_equal(v->bad, 0);
}

static void test_cross_node(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a, *b = c->b;
    add_msvc(c, "sensor", a->node, c->sensor);
    add_msvc(c, "viewer", b->node, c->viewer);
    assert_int_equal(
        api_call(
            a->ctl,
            "POST",
            "/api/v3/routes",
            a->user,
            "{\"name\":\"s2v\",\"application\":\"xnode\",\"from\":\"sensor\",\"to\":\"viewer\"}",
            NULL),
        200);
    assert_int_equal(agent_fixture_provision(a, 10000), 0);
    assert_int_equal(agent_fixture_provision(b, 10000), 0);
    wait_known(a, c->sensor, true);
    wait_known(b, c->viewer, true);
    assert_int_equal(agent_wait_status(a, ": connected,", 10000), 0);
    assert_int_equal(agent_wait_status(b, ": connected,", 10000), 0);

    struct iof_ws_client *tx = agent_ws_open(a, "message", c->sensor);
    assert_non_null(tx);
    struct viewer *v = viewer_start(b, c->viewer, c->sensor, "seq=");
    int warm = warm_up(tx, c->sensor, v);
    printf("cross-node path up after %d warm-up message(s)\n", warm);
    nats_sleep_ms(300); /* stragglers of the warm-up */
    struct xcounters a0 = counters(a), b0 = counters(b);

    /* The stream, with nats-server killed and restarted on its port in the middle. */
    struct sent *sent = calloc(N_STREAM, sizeof *sent);
    int64_t t0 = iof_time_mono_ms(), kill_ms = 0, restart_ms = 0;
    for (int i = 0; i < N_STREAM; i++) {
        int64_t due = t0 + (int64_t)i * 1000 / RATE_PER_S;
        int64_t now = iof_time_mono_ms();
        if (due > now) {
            nats_sleep_ms((long)(due - now));
        }
        if (i == KILL_AT) {
            nats_server_stop(&c->ns, SIGKILL);
            kill_ms = iof_time_mono_ms();
        } else if (i == KILL_AT + OUTAGE_MSGS) {
            assert_int_equal(nats_server_start(&c->ns, c->ns.port, nats_args(c)), 0);
            restart_ms = iof_time_mono_ms();
        }
        char content[32];
        (void)snprintf(content, sizeof content, "seq=%d", i);
        publish(tx, c->sensor, content, &sent[i]);
    }
    int64_t t_end = iof_time_mono_ms();
    size_t got = viewer_settle(v, N_STREAM, 3000, 20000);
    viewer_join(v);

    size_t dups = 0;
    check_identity(v, sent, N_STREAM, &dups);
    size_t lost = N_STREAM - got + dups, lost_after = 0;
    int64_t resumed_ms = -1;
    for (int i = 0; i < N_STREAM; i++) {
        if (v->count[i] == 0 && i >= KILL_AT + OUTAGE_MSGS + RESUMED_AFTER) {
            lost_after++;
        }
        if (v->count[i] > 0 && v->recv_ms[i] >= restart_ms &&
            (resumed_ms < 0 || v->recv_ms[i] - restart_ms < resumed_ms)) {
            resumed_ms = v->recv_ms[i] - restart_ms;
        }
    }
    struct xcounters a1 = counters(a), b1 = counters(b);
    long long reported =
        (a1.published - a0.published) + (a1.dropped - a0.dropped) - (b1.delivered - b0.delivered);
    printf("cross-node: %d messages at %d/s in %.1f s, nats-server down %lld ms (SIGKILL, same "
           "port); %zu delivered, %zu lost, %zu duplicates; first delivery %lld ms after the "
           "restart\n",
           N_STREAM,
           RATE_PER_S,
           (double)(t_end - t0) / 1000.0,
           (long long)(restart_ms - kill_ms),
           got,
           lost,
           dups,
           (long long)resumed_ms);
    printf("status lines: A published %lld dropped %lld, B delivered %lld dropped %lld -> loss "
           "reported %lld\n",
           a1.published - a0.published,
           a1.dropped - a0.dropped,
           b1.delivered - b0.delivered,
           b1.dropped - b0.dropped,
           reported);
    assert_int_equal(dups, 0);
    assert_true(lost <= LOSS_MAX);
    assert_int_equal(lost_after, 0);
    assert_true(resumed_ms >= 0);
    assert_int_equal(reported, (long long)lost);
    viewer_stop(v);

    /* Move the viewer to node A: the sensor's socket stays, its messages take A's on-node bus. */
    move_viewer(c, a);
    wait_known(a, c->viewer, true);
    wait_known(b, c->viewer, false);
    v = viewer_start(a, c->viewer, c->sensor, "local=");
    struct xcounters a2 = counters(a);
    for (int i = 0; i < N_MOVE; i++) {
        char content[32];
        (void)snprintf(content, sizeof content, "local=%d", i);
        publish(tx, c->sensor, content, &sent[i]);
    }
    got = viewer_settle(v, N_MOVE, 3000, 10000);
    viewer_join(v);
    check_identity(v, sent, N_MOVE, &dups);
    struct xcounters a3 = counters(a);
    printf("viewer moved to node A: %zu of %d delivered on-node, %lld through NATS\n",
           got,
           N_MOVE,
           a3.published - a2.published);
    assert_int_equal(got, N_MOVE);
    assert_int_equal(dups, 0);
    assert_int_equal(a3.published, a2.published);
    viewer_stop(v);

    /* And back to node B: across nodes again, the same sensor socket. */
    move_viewer(c, b);
    wait_known(b, c->viewer, true);
    wait_known(a, c->viewer, false);
    v = viewer_start(b, c->viewer, c->sensor, "back=");
    warm = warm_up(tx, c->sensor, v);
    struct xcounters a4 = counters(a), b4 = counters(b);
    for (int i = 0; i < N_MOVE; i++) {
        char content[32];
        (void)snprintf(content, sizeof content, "back=%d", i);
        publish(tx, c->sensor, content, &sent[i]);
    }
    got = viewer_settle(v, N_MOVE, 3000, 10000);
    viewer_join(v);
    check_identity(v, sent, N_MOVE, &dups);
    struct xcounters a5 = counters(a), b5 = counters(b);
    printf("viewer moved back to node B: %zu of %d delivered (after %d warm-up), %lld through "
           "NATS, %lld delivered by B\n",
           got,
           N_MOVE,
           warm,
           a5.published - a4.published,
           b5.delivered - b4.delivered);
    assert_int_equal(got, N_MOVE);
    assert_int_equal(dups, 0);
    assert_int_equal(a5.published - a4.published, N_MOVE);

    /* A forged publisher, sent with node A's own NATS credential (which may publish to the
     * viewer: the sensor's route), is dropped and counted by B, never delivered. */
    forge(c, b5);
    pthread_mutex_lock(&v->mu);
    size_t bad = v->bad;
    pthread_mutex_unlock(&v->mu);
    assert_int_equal(bad, 0);
    viewer_stop(v);
    iof_ws_client_free(tx);
    free(sent);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cross_node, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
