/* Per-node NATS identity against a real Controller and a real nats-server on 127.0.0.1
 * (docs/design/nats-security.md). The Controller writes the authorization file and signals
 * nats-server; the test talks NATS' text protocol over raw sockets, as an attacker would, with
 * the credentials the Controller hands out at provisioning:
 *   - without credentials (or with wrong ones) nothing can be read or sent;
 *   - a node of another user can neither read nor inject a receiver's subject, and a node may
 *     publish only to receivers its microservices are routed to and subscribe only to its own;
 *   - removing a route (or moving or deleting a receiver) takes the permission away within
 *     seconds, on open connections too;
 *   - provisioning again rotates the credential, deprovisioning and deleting the node revoke it;
 *   - the receiving transport drops and counts a message whose publisher is not routed to the
 *     receiver. */
#include "agent/nats/nats_testutil.h"
#include "controller/api/msvc_testutil.h"

#include <errno.h>
#include <poll.h>
#include <sys/stat.h>

#define IMG "\"images\":[{\"containerImage\":\"x\",\"fogTypeId\":1}]"
/* How long a permission change may take to reach nats-server (asserted). */
#define FOLLOW_MS 5000

struct ctx {
    struct msvc_fx *x;
    struct nats_server ns;
    char dir[256];
    char conf[300], auth[300], pid[300];
    /* user 1: a (publisher) on fog-x86, b (receiver) on fog-x86b, route a -> b in app1 (id 1);
     * user 2: fog-u2. */
    char a[33], b[33];
    char pw_x86[64], pw_x86b[64], pw_u2[64];
    char tok_x86[64];
};

/* ---- a raw NATS client ---- */

static int raw_connect(struct ctx *c, const char *user, const char *pass, char *out, size_t size) {
    int fd = nats_raw_connect(c->ns.port, user, pass, out, size);
    assert_true(fd >= 0);
    return fd;
}

#define raw_send nats_raw_send
#define raw_read nats_raw_read

/* Sends cmds then a PING; writes the answers up to the PONG (or an error) into out. */
static void raw_cmd(int fd, const char *cmds, char *out, size_t size) {
    char buf[1024];
    (void)snprintf(buf, sizeof buf, "%sPING\r\n", cmds);
    raw_send(fd, buf);
    (void)raw_read(fd, out, size, "PONG\r\n", 3000);
}

/* A node's connection that must be accepted. */
static int node_connect(struct ctx *c, const char *node, const char *pass) {
    char out[1024];
    int fd = raw_connect(c, node, pass, out, sizeof out);
    if (strstr(out, "PONG") == NULL) {
        fail_msg("node %s refused: %s", node, out);
    }
    return fd;
}

static bool denied(const char *out) {
    return strstr(out, "Permissions Violation") != NULL ||
           strstr(out, "Authorization Violation") != NULL;
}

/* Subscribes on fd (sid) and says whether nats-server accepted it. */
static bool sub_ok(int fd, const char *subject, int sid) {
    char cmd[300], out[1024];
    (void)snprintf(cmd, sizeof cmd, "SUB %s %d\r\n", subject, sid);
    raw_cmd(fd, cmd, out, sizeof out);
    return strstr(out, "PONG") != NULL && !denied(out);
}

static bool pub_ok(int fd, const char *subject, const char *payload) {
    char cmd[600], out[1024];
    (void)snprintf(cmd, sizeof cmd, "PUB %s %zu\r\n%s\r\n", subject, strlen(payload), payload);
    raw_cmd(fd, cmd, out, sizeof out);
    return strstr(out, "PONG") != NULL && !denied(out);
}

/* Polls (a fresh connection each time) until pub permission of node on subject equals want;
 * returns the milliseconds it took, or fails after FOLLOW_MS. */
static long long
wait_pub(struct ctx *c, const char *node, const char *pass, const char *subject, bool want) {
    int64_t t0 = iof_time_mono_ms();
    while (iof_time_mono_ms() - t0 < FOLLOW_MS) {
        char out[1024];
        int fd = raw_connect(c, node, pass, out, sizeof out);
        /* A node provisioned a moment ago may not be in nats-server's users yet. */
        bool ok = strstr(out, "PONG") != NULL && pub_ok(fd, subject, "probe");
        close(fd);
        if (ok == want) {
            return (long long)(iof_time_mono_ms() - t0);
        }
        nats_sleep_ms(50);
    }
    fail_msg("publish permission of %s on %s never became %d", node, subject, want);
    return -1;
}

/* ---- the Controller side ---- */

/* Provisions node through the REST API; copies the NATS password (and the agent token). */
static void provision(struct ctx *c, const char *token, const char *node, char *pw, char *tok) {
    json_t *ans = NULL;
    long st =
        api_callf(c->x->f, "GET", token, NULL, &ans, "/api/v3/iofog/%s/provisioning-key", node);
    assert_true(st == 200 || st == 201);
    char body[128];
    (void)snprintf(body, sizeof body, "{\"key\":\"%s\",\"type\":1}", jstr(ans, "key"));
    json_decref(ans);
    assert_int_equal(api_call(c->x->f, "POST", "/api/v3/agent/provision", NULL, body, &ans), 200);
    assert_string_equal(jstr(ans, "natsUser"), node);
    assert_int_equal(strlen(jstr(ans, "natsPassword")), 40);
    (void)snprintf(pw, 64, "%s", jstr(ans, "natsPassword"));
    if (tok != NULL) {
        (void)snprintf(tok, 64, "%s", jstr(ans, "token"));
    }
    json_decref(ans);
}

static void subject_of(const char *uuid, char out[64]) {
    (void)snprintf(out, 64, "iofog.1.%s", uuid);
}

static void add_route(struct ctx *c) {
    assert_int_equal(
        api_call(c->x->f,
                 "POST",
                 "/api/v3/routes",
                 c->x->t1,
                 "{\"name\":\"ab\",\"application\":\"app1\",\"from\":\"a\",\"to\":\"b\"}",
                 NULL),
        200);
}

static void delete_route(struct ctx *c) {
    long st = api_call(c->x->f, "DELETE", "/api/v3/routes/app1/ab", c->x->t1, NULL, NULL);
    assert_true(st == 200 || st == 204);
}

static int setup(void **state) {
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL || test_tmpdir_make(c->dir, sizeof c->dir) != 0) {
        return -1;
    }
    (void)snprintf(c->auth, sizeof c->auth, "%s/auth.conf", c->dir);
    (void)snprintf(c->pid, sizeof c->pid, "%s/nats.pid", c->dir);
    (void)snprintf(c->conf, sizeof c->conf, "%s/nats.conf", c->dir);
    /* The Controller first: the file nats-server includes is the Controller's. */
    setenv("IOFOG_CONTROLLER_NATS_AUTH_FILE", c->auth, 1);
    setenv("IOFOG_CONTROLLER_NATS_PID_FILE", c->pid, 1);
    void *fx = NULL;
    int rc = fx_setup(&fx);
    unsetenv("IOFOG_CONTROLLER_NATS_AUTH_FILE");
    unsetenv("IOFOG_CONTROLLER_NATS_PID_FILE");
    if (rc != 0) {
        return -1;
    }
    c->x = fx;
    FILE *f = fopen(c->conf, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "include \"auth.conf\"\n");
    fclose(f);
    const char *extra[] = {"-c", c->conf, "-P", c->pid, NULL};
    if (nats_server_start(&c->ns, 0, extra) != 0) {
        fprintf(stderr, "nats-server did not start with the Controller's authorization file\n");
        return -1;
    }
    /* The Controller signals the pid nats-server wrote: make sure it is this one. */
    for (int i = 0; i < 100; i++) {
        FILE *pf = fopen(c->pid, "r");
        long pid = 0;
        if (pf != NULL) {
            if (fscanf(pf, "%ld", &pid) != 1) {
                pid = 0;
            }
            fclose(pf);
        }
        if (pid == (long)c->ns.pid) {
            break;
        }
        if (i == 99) {
            fprintf(stderr, "nats-server pid file holds %ld, not %ld\n", pid, (long)c->ns.pid);
            return -1;
        }
        nats_sleep_ms(20);
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    struct ctx *c = *state;
    nats_server_cleanup(&c->ns);
    void *fx = c->x;
    int rc = fx_teardown(&fx);
    (void)test_tmpdir_remove(c->dir);
    free(c);
    return rc;
}

/* Microservices a (fog-x86) -> b (fog-x86b) in app1, nodes provisioned. */
static void make_route(struct ctx *c) {
    provision(c, c->x->t1, "fog-x86", c->pw_x86, c->tok_x86);
    provision(c, c->x->t1, "fog-x86b", c->pw_x86b, NULL);
    provision(c, c->x->t2, "fog-u2", c->pw_u2, NULL);
    fx_create(c->x->f,
              c->x->t1,
              "{\"name\":\"a\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86\"," IMG "}",
              c->a);
    fx_create(c->x->f,
              c->x->t1,
              "{\"name\":\"b\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86b\"," IMG "}",
              c->b);
    add_route(c);
    char sb[64];
    subject_of(c->b, sb);
    (void)wait_pub(c, "fog-x86", c->pw_x86, sb, true);
}

/* ---- tests ---- */

/* Anonymous and wrong credentials: refused before any SUB or PUB is served. */
static void test_no_credentials(void **state) {
    struct ctx *c = *state;
    make_route(c);
    char out[2048];
    int fd = raw_connect(c, NULL, NULL, out, sizeof out);
    raw_send(fd, "SUB > 1\r\nPUB iofog.1.x 1\r\nx\r\nPING\r\n");
    (void)raw_read(fd, out + strlen(out), sizeof out - strlen(out), NULL, 1000);
    assert_non_null(strstr(out, "Authorization Violation"));
    assert_null(strstr(out, "PONG"));
    assert_null(strstr(out, "MSG "));
    close(fd);
    /* A node's name with a wrong password, and the locked placeholder user. */
    fd = raw_connect(c, "fog-x86", "not-the-password", out, sizeof out);
    assert_non_null(strstr(out, "Authorization Violation"));
    close(fd);
    fd = raw_connect(c, "_iofog_locked", "", out, sizeof out);
    assert_non_null(strstr(out, "Authorization Violation"));
    close(fd);
    /* The Controller keeps a bcrypt hash, not the password. */
    char buf[128];
    const char *h =
        fx_value(c->x->f,
                 "SELECT password_hash AS v FROM fog_nats_credentials WHERE fog_uuid = 'fog-x86'",
                 buf,
                 sizeof buf);
    assert_non_null(h);
    assert_memory_equal(h, "$2b$", 4);
    assert_null(strstr(h, c->pw_x86));
    struct stat st;
    assert_int_equal(stat(c->auth, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* User 2's node cannot read or inject user 1's subjects; user 1's nodes get exactly what their
 * route gives them. */
static void test_tenant_isolation(void **state) {
    struct ctx *c = *state;
    make_route(c);
    char sb[64], sa[64], out[2048];
    subject_of(c->b, sb);
    subject_of(c->a, sa);

    int u2 = node_connect(c, "fog-u2", c->pw_u2);
    assert_false(sub_ok(u2, ">", 1));
    assert_false(sub_ok(u2, "iofog.>", 2));
    assert_false(sub_ok(u2, sb, 3));
    assert_false(pub_ok(u2, sb, "FORGED"));
    assert_false(pub_ok(u2, sa, "FORGED"));

    int rx = node_connect(c, "fog-x86b", c->pw_x86b);
    int tx = node_connect(c, "fog-x86", c->pw_x86);
    assert_true(sub_ok(rx, sb, 1));        /* b's node reads b */
    assert_false(sub_ok(rx, ">", 2));      /* and nothing else */
    assert_false(sub_ok(tx, sb, 1));       /* a's node cannot read b */
    assert_false(pub_ok(rx, sb, "self"));  /* b's node has no route to b */
    assert_false(pub_ok(tx, sa, "x"));     /* nothing is routed to a */
    assert_true(pub_ok(tx, sb, "from-a")); /* the route */
    (void)raw_read(rx, out, sizeof out, "from-a", 2000);
    assert_non_null(strstr(out, "from-a"));
    assert_false(pub_ok(u2, sb, "FORGED2")); /* user 2 still cannot inject */
    (void)raw_read(rx, out, sizeof out, "FORGED", 500);
    assert_null(strstr(out, "FORGED"));
    close(u2);
    close(rx);
    close(tx);
}

/* A route removal takes publish and subscribe permission away within seconds, from open
 * connections too; a new route and a receiver's move give them back where they now belong. */
static void test_route_removal_revokes(void **state) {
    struct ctx *c = *state;
    make_route(c);
    char sb[64], out[2048];
    subject_of(c->b, sb);
    int rx = node_connect(c, "fog-x86b", c->pw_x86b);
    int tx = node_connect(c, "fog-x86", c->pw_x86);
    assert_true(sub_ok(rx, sb, 1));
    assert_true(pub_ok(tx, sb, "before"));
    (void)raw_read(rx, out, sizeof out, "before", 2000);
    assert_non_null(strstr(out, "before"));

    int64_t t0 = iof_time_mono_ms();
    delete_route(c);
    /* The open publisher loses the permission ... */
    bool gone = false;
    while (!gone && iof_time_mono_ms() - t0 < FOLLOW_MS) {
        gone = !pub_ok(tx, sb, "after");
        if (!gone) {
            nats_sleep_ms(20);
        }
    }
    long long ms = (long long)(iof_time_mono_ms() - t0);
    assert_true(gone);
    /* ... and the open subscription is removed by nats-server, which says so. */
    (void)raw_read(rx, out, sizeof out, "Subscription to", 2000);
    assert_non_null(strstr(out, "Permissions Violation for Subscription to"));
    printf("route removal -> publish refused after %lld ms\n", ms);

    /* The route again, then b moved to fog-x86: fog-x86b loses b, fog-x86 reads it. */
    add_route(c);
    (void)wait_pub(c, "fog-x86", c->pw_x86, sb, true);
    long st = api_callf(c->x->f,
                        "PATCH",
                        c->x->t1,
                        "{\"iofogUuid\":\"fog-x86\"}",
                        NULL,
                        "/api/v3/microservices/%s",
                        c->b);
    assert_true(st == 200 || st == 204);
    int64_t t1 = iof_time_mono_ms();
    bool moved = false;
    while (!moved && iof_time_mono_ms() - t1 < FOLLOW_MS) {
        int r2 = node_connect(c, "fog-x86b", c->pw_x86b);
        int t2 = node_connect(c, "fog-x86", c->pw_x86);
        moved = !sub_ok(r2, sb, 1) && sub_ok(t2, sb, 1);
        close(r2);
        close(t2);
        if (!moved) {
            nats_sleep_ms(50);
        }
    }
    assert_true(moved);

    /* Deleting the receiver takes the permission away from the node that hosts it. */
    st = api_callf(c->x->f, "DELETE", c->x->t1, NULL, NULL, "/api/v3/microservices/%s", c->b);
    assert_true(st == 200 || st == 202 || st == 204);
    t1 = iof_time_mono_ms();
    bool deleted = false;
    while (!deleted && iof_time_mono_ms() - t1 < FOLLOW_MS) {
        int t2 = node_connect(c, "fog-x86", c->pw_x86);
        deleted = !sub_ok(t2, sb, 1);
        close(t2);
        if (!deleted) {
            nats_sleep_ms(50);
        }
    }
    assert_true(deleted);
    close(rx);
    close(tx);
}

/* Provisioning again rotates the credential (the old one stops working, open connections
 * included); deprovisioning and deleting the node revoke it. */
static void test_rotation_and_revocation(void **state) {
    struct ctx *c = *state;
    make_route(c);
    char out[1024], old[64], tok[64];
    (void)snprintf(old, sizeof old, "%s", c->pw_x86);
    int open_fd = node_connect(c, "fog-x86", old);
    provision(c, c->x->t1, "fog-x86", c->pw_x86, tok);
    assert_string_not_equal(old, c->pw_x86);
    /* The open connection is closed by the reload; the old password no longer connects. */
    (void)raw_read(open_fd, out, sizeof out, "Authorization Violation", FOLLOW_MS);
    assert_non_null(strstr(out, "Authorization Violation"));
    close(open_fd);
    int fd = raw_connect(c, "fog-x86", old, out, sizeof out);
    assert_non_null(strstr(out, "Authorization Violation"));
    close(fd);
    char sb[64];
    subject_of(c->b, sb);
    (void)wait_pub(c, "fog-x86", c->pw_x86, sb, true); /* the new one works, route and all */

    /* Deprovisioning (the agent's own call) revokes. */
    assert_int_equal(api_call(c->x->f, "POST", "/api/v3/agent/deprovision", tok, "{}", NULL), 204);
    int64_t t0 = iof_time_mono_ms();
    bool refused = false;
    while (!refused && iof_time_mono_ms() - t0 < FOLLOW_MS) {
        fd = raw_connect(c, "fog-x86", c->pw_x86, out, sizeof out);
        refused = strstr(out, "Authorization Violation") != NULL;
        close(fd);
        if (!refused) {
            nats_sleep_ms(50);
        }
    }
    assert_true(refused);

    /* Deleting a node revokes its credential. */
    close(node_connect(c, "fog-u2", c->pw_u2));
    assert_int_equal(api_call(c->x->f, "DELETE", "/api/v3/iofog/fog-u2", c->x->t2, NULL, NULL),
                     202);
    t0 = iof_time_mono_ms();
    refused = false;
    while (!refused && iof_time_mono_ms() - t0 < FOLLOW_MS) {
        fd = raw_connect(c, "fog-u2", c->pw_u2, out, sizeof out);
        refused = strstr(out, "Authorization Violation") != NULL;
        close(fd);
        if (!refused) {
            nats_sleep_ms(50);
        }
    }
    assert_true(refused);
}

/* The receiving transport (as the Agent of fog-x86b runs it, with its credential) drops and
 * counts a message whose publisher is not routed to the receiver, even from a node that may
 * publish to that receiver. */
static void test_forged_publisher_dropped(void **state) {
    struct ctx *c = *state;
    make_route(c);
    struct rec *r = rec_new();
    struct agent_nats_config cfg = {.user = "fog-x86b", .password = c->pw_x86b};
    struct agent_nats *t = test_transport(&c->ns, r, &cfg);
    assert_non_null(t);
    const char *lu[] = {c->b}, *la[] = {"1"}, *pr[] = {c->b}, *pp[] = {c->a};
    struct iof_diag d = {{0}};
    assert_int_equal(agent_nats_set_publishers(t, pr, pp, 1, true, &d), IOF_OK);
    assert_int_equal(agent_nats_set_local(t, lu, la, 1, &d), IOF_OK);

    /* fog-x86 may publish to b (its route): one message as a, one as a forged publisher. */
    struct agent_nats_config txc = {.user = "fog-x86", .password = c->pw_x86};
    struct rec *rtx = rec_new();
    struct agent_nats *tx = test_transport(&c->ns, rtx, &txc);
    assert_non_null(tx);
    int64_t t0 = iof_time_mono_ms();
    struct agent_nats_counters k;
    do { /* wait until connected */
        agent_nats_counters(tx, &k);
        nats_sleep_ms(20);
    } while (!k.connected && iof_time_mono_ms() - t0 < 5000);
    nats_sleep_ms(700); /* the transport holds its queue a moment after connecting */
    char id1[64], id2[64];
    struct iof_msg forged = test_msg(id1, "forged", 1, "FORGED-PUBLISHER");
    struct iof_msg real = test_msg(id2, "real", 2, c->a);
    assert_int_equal(agent_nats_publish(tx, "1", c->b, &forged, &d), IOF_OK);
    assert_int_equal(agent_nats_publish(tx, "1", c->b, &real, &d), IOF_OK);
    assert_int_equal(rec_wait(r, 1, 5000), 1);
    nats_sleep_ms(300);
    assert_int_equal(rec_count(r), 1);
    pthread_mutex_lock(&r->mu);
    assert_string_equal(r->e[0].publisher, c->a);
    pthread_mutex_unlock(&r->mu);
    agent_nats_counters(t, &k);
    assert_int_equal(k.dropped_unrouted_publisher, 1);
    assert_int_equal(k.delivered, 1);
    json_t *stats = NULL;
    assert_int_equal(agent_nats_stats(t, &stats), IOF_OK);
    assert_int_equal(json_integer_value(json_object_get(stats, "droppedUnroutedPublisher")), 1);
    json_decref(stats);
    agent_nats_free(tx);
    agent_nats_free(t);
    rec_free(rtx);
    rec_free(r);
}

/* The transport subscribes again when nats-server refused a subscription because the route's
 * permission arrived after the node learnt of the route. */
static void test_refused_subscription_retried(void **state) {
    struct ctx *c = *state;
    make_route(c);
    delete_route(c);
    char sb[64];
    subject_of(c->b, sb);
    (void)wait_pub(c, "fog-x86", c->pw_x86, sb, false);
    struct rec *r = rec_new();
    struct agent_nats_config cfg = {.user = "fog-x86b", .password = c->pw_x86b};
    struct agent_nats *t = test_transport(&c->ns, r, &cfg);
    assert_non_null(t);
    const char *lu[] = {c->b}, *la[] = {"1"};
    struct iof_diag d = {{0}};
    assert_int_equal(agent_nats_set_local(t, lu, la, 1, &d), IOF_OK);
    struct agent_nats_counters k;
    int64_t t0 = iof_time_mono_ms();
    do {
        nats_sleep_ms(20);
        agent_nats_counters(t, &k);
    } while (k.denied_subscriptions == 0 && iof_time_mono_ms() - t0 < 5000);
    assert_true(k.denied_subscriptions >= 1);
    add_route(c); /* the permission arrives; the transport's retry picks it up */
    (void)wait_pub(c, "fog-x86", c->pw_x86, sb, true);
    int tx = node_connect(c, "fog-x86", c->pw_x86);
    char id[64];
    struct iof_msg m = test_msg(id, "late", 1, c->a);
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(iof_msg_encode(&m, IOF_MSG_WIDTH_CLASSIC, buf, sizeof buf, &len, &d), IOF_OK);
    bool got = false;
    t0 = iof_time_mono_ms();
    while (!got && iof_time_mono_ms() - t0 < 10000) {
        char head[128];
        (void)snprintf(head, sizeof head, "PUB %s %zu\r\n", sb, len);
        raw_send(tx, head);
        (void)send(tx, buf, len, MSG_NOSIGNAL);
        raw_send(tx, "\r\n");
        got = rec_wait(r, 1, 300) >= 1;
    }
    assert_true(got);
    close(tx);
    agent_nats_free(t);
    rec_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_removal_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_publisher_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_subscription_retried, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    agent_nats_library_close();
    return rc;
}
