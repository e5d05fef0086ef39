/* The SDK against the real Agent (iofog-agent start --foreground) provisioned to the real
 * Controller (agent/agent_testutil.h):
 *   - configuration fetch, also with a client made from the environment;
 *   - the change callback within 100 ms of `iofog-controller microservice update --config`;
 *   - two clients exchanging binary messages (NUL bytes) through a Controller route, with
 *     receipts whose id and timestamp the receiver sees again;
 *   - reconnection by itself after the agent is stopped with SIGTERM and started again;
 *   - the three example images (scripts/build-example-images.sh, tag IOFOG_EXAMPLE_TAG, built by
 *     the CTest fixture sdk_example_images, which also builds iofog-sdk-e2e/busy:<tag> for the
 *     other microservices) as one application under the agent: sensor -> viewer
 *     over a route, the viewer's JSON fetched through its published port, a sensor config change
 *     followed by the same container, config-echo printing its new configuration.
 * Needs a Docker Engine (scripts/dockerd.sh) and fails without one. */
#include "agent/agent_testutil.h"

#include "common/base64.h"
#include "controller/cli/cli_testutil.h"

#include <iofog/iofog.h>

#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define MAX_SEEN 256

/* What the callbacks of one client saw, guarded by mu. */
struct probe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int configs;
    char config[512];  /* last configuration text */
    int64_t config_at; /* monotonic ms of the last on_config */
    int receipts;
    char receipt_id[MAX_SEEN][64];
    int64_t receipt_ts[MAX_SEEN];
    int messages;
    struct iofog_message *msg[MAX_SEEN];
    int64_t msg_at[MAX_SEEN];
    int up[2];    /* connected now, per socket */
    int opens[2]; /* connects seen, per socket */
    int drops[2]; /* losses seen, per socket */
    int errors;
};

/* Clients and probes belong to the fixture, so that a failed assertion (a longjmp out of the
 * test) still stops every client thread before its probe goes away. */
#define MAX_CLIENTS 4
struct ctx {
    struct agent_fixture *a;
    char busy[96]; /* iofog-sdk-e2e/busy:<tag>, a do-nothing image for microservices */
    struct iofog_client *clients[MAX_CLIENTS];
    struct probe *probes[MAX_CLIENTS];
};

/* ---------------------------------------------------------------------------------------------
 * Callbacks and waiting. */

/* A new probe owned by the fixture. */
static struct probe *new_probe(struct ctx *c) {
    struct probe *p = calloc(1, sizeof *p);
    assert_non_null(p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c->probes[i] == NULL) {
            c->probes[i] = p;
            return p;
        }
    }
    fail_msg("too many probes");
    return NULL;
}

static void probe_free(struct probe *p) {
    if (p == NULL) {
        return;
    }
    for (int i = 0; i < p->messages && i < MAX_SEEN; i++) {
        iofog_message_free(p->msg[i]);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Stops and frees a client owned by the fixture. */
static void drop_client(struct ctx *c, struct iofog_client *cl) {
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c->clients[i] == cl) {
            c->clients[i] = NULL;
        }
    }
    iofog_client_free(cl);
}

static void on_config(void *ctx, const struct iofog_config *cfg) {
    struct probe *p = ctx;
    int64_t now = iof_time_mono_ms();
    pthread_mutex_lock(&p->mu);
    p->configs++;
    (void)snprintf(p->config, sizeof p->config, "%s", iofog_config_raw(cfg));
    p->config_at = now;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void on_receipt(void *ctx, const char *id, int64_t timestamp) {
    struct probe *p = ctx;
    pthread_mutex_lock(&p->mu);
    if (p->receipts < MAX_SEEN) {
        (void)snprintf(p->receipt_id[p->receipts], sizeof p->receipt_id[0], "%s", id);
        p->receipt_ts[p->receipts] = timestamp;
        p->receipts++;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void on_message(void *ctx, const struct iofog_message *m) {
    struct probe *p = ctx;
    int64_t now = iof_time_mono_ms();
    struct iofog_message *copy = NULL;
    if (iofog_message_copy(m, &copy) != IOFOG_OK) {
        copy = NULL;
    }
    pthread_mutex_lock(&p->mu);
    if (p->messages < MAX_SEEN && copy != NULL) {
        p->msg[p->messages] = copy;
        p->msg_at[p->messages] = now;
        p->messages++;
        copy = NULL;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    iofog_message_free(copy);
}

static void on_state(void *ctx, enum iofog_socket s, int connected) {
    struct probe *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->up[s] = connected;
    if (connected) {
        p->opens[s]++;
    } else {
        p->drops[s]++;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void on_error(void *ctx, int err, const char *detail) {
    struct probe *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->errors++;
    pthread_mutex_unlock(&p->mu);
    fprintf(stderr, "sdk: %s: %s\n", iofog_strerror(err), detail);
}

/* Waits (<= timeout_ms) until *field >= want; true when reached. */
static bool wait_count(struct probe *p, const int *field, int want, int timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (*field < want && rc == 0) {
        rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
    }
    bool ok = *field >= want;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

/* Waits (<= timeout_ms) until the last configuration is text; its arrival time in *at. */
static bool wait_config_text(struct probe *p, const char *text, int timeout_ms, int64_t *at) {
    int64_t end = iof_time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&p->mu);
    while (strcmp(p->config, text) != 0 && iof_time_mono_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    bool ok = strcmp(p->config, text) == 0;
    if (at != NULL) {
        *at = p->config_at;
    }
    if (!ok) {
        fprintf(stderr, "configuration never became %s (last %s)\n", text, p->config);
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static int get_int(struct probe *p, const int *field) {
    pthread_mutex_lock(&p->mu);
    int v = *field;
    pthread_mutex_unlock(&p->mu);
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Fixture: Controller, provisioned agent, one application. */

static void msleep(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static const char *image_tag(void);

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("timeout 60 docker version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "no Docker Engine answers (scripts/dockerd.sh start)\n");
        return -1;
    }
    struct ctx *c = calloc(1, sizeof *c);
    (void)snprintf(c->busy, sizeof c->busy, "iofog-sdk-e2e/busy:%s", image_tag());
    char cmd[300];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "timeout 30 docker image inspect %s >/dev/null 2>&1 || "
                   "bash scripts/test-image.sh %s >/dev/null",
                   c->busy,
                   c->busy);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot build %s\n", c->busy);
        free(c);
        return -1;
    }
    c->a = agent_fixture_new("edge-sdk");
    if (c->a == NULL) {
        return -1;
    }
    *state = c;
    if (agent_fixture_app(c->a, "sdk") != 0) {
        return -1;
    }
    if (agent_fixture_provision(c->a, 10000) != 0) {
        fprintf(stderr, "agent did not come up\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    struct ctx *c = *state;
    if (c == NULL) {
        return 0;
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        iofog_client_free(c->clients[i]);
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        probe_free(c->probes[i]);
    }
    char out[512];
    int rc = agent_daemon_stop(c->a);
    /* The agent removes its containers when it stops; anything left is removed and fails. */
    agent_sh(out, sizeof out, "docker ps -aq --filter label=iofog-uuid=%s | wc -l", c->a->node);
    int left = atoi(out);
    agent_sh(out,
             sizeof out,
             "docker rm -f $(docker ps -aq --filter label=iofog-uuid=%s) 2>/dev/null",
             c->a->node);
    int frc = agent_fixture_free(c->a);
    free(c);
    if (rc != 0 || left != 0 || frc != 0) {
        fprintf(stderr, "teardown: stop rc=%d, containers left %d, exit %d\n", rc, left, frc);
        return -1;
    }
    return 0;
}

/* Adds a microservice to the application "sdk" on the fixture's node; config is the JSON text of
 * its configuration, extra (may be NULL) a JSON object merged into the request (env, ports). */
static void add_msvc(struct ctx *c,
                     const char *name,
                     const char *image,
                     const char *config,
                     const char *extra,
                     char out[64]) {
    json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:s, s:[{s:s, s:i}]}",
                             "name",
                             name,
                             "application",
                             "sdk",
                             "iofogUuid",
                             c->a->node,
                             "registryId",
                             2,
                             "config",
                             config,
                             "images",
                             "containerImage",
                             image,
                             "fogTypeId",
                             1);
    assert_non_null(body);
    if (extra != NULL) {
        json_t *x = json_loads(extra, 0, NULL);
        assert_non_null(x);
        assert_int_equal(json_object_update(body, x), 0);
        json_decref(x);
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *ans = NULL;
    long st = api_call(c->a->ctl, "POST", "/api/v3/microservices", c->a->user, text, &ans);
    free(text);
    if (st != 201) {
        char *a = ans != NULL ? json_dumps(ans, JSON_COMPACT) : NULL;
        fprintf(stderr, "POST /microservices %s: %ld %s\n", name, st, a != NULL ? a : "");
        free(a);
    }
    assert_int_equal(st, 201);
    (void)snprintf(out, 64, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

static void add_route(struct ctx *c, const char *name, const char *from, const char *to) {
    char body[256];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"%s\",\"application\":\"sdk\",\"from\":\"%s\",\"to\":\"%s\"}",
                   name,
                   from,
                   to);
    assert_int_equal(api_call(c->a->ctl, "POST", "/api/v3/routes", c->a->user, body, NULL), 200);
}

/* A client for microservice id on the fixture's agent, reconnecting quickly. */
static struct iofog_client *new_client(struct ctx *c, const char *id) {
    static const char *const hosts[] = {"127.0.0.1", NULL};
    struct iofog_options o;
    iofog_options_init(&o);
    o.id = id;
    o.hosts = hosts;
    o.port = c->a->local_port;
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 250;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    struct iofog_client *cl = NULL;
    assert_int_equal(iofog_client_new(&o, &cl), IOFOG_OK);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c->clients[i] == NULL) {
            c->clients[i] = cl;
            return cl;
        }
    }
    iofog_client_free(cl);
    fail_msg("too many clients");
    return NULL;
}

/* Fetches the configuration until the agent knows the microservice (<= 15 s). */
static struct iofog_config *fetch_config(struct iofog_client *cl) {
    struct iofog_config *cfg = NULL;
    int64_t end = iof_time_mono_ms() + 15000;
    int rc;
    while ((rc = iofog_get_config(cl, &cfg)) != IOFOG_OK && iof_time_mono_ms() < end) {
        msleep(50);
    }
    if (rc != IOFOG_OK) {
        fail_msg(
            "config of %s: %s: %s", iofog_client_id(cl), iofog_strerror(rc), iofog_last_error());
    }
    return cfg;
}

/* `iofog-controller microservice update --microservice-id uuid --config config`; the monotonic
 * times of its start and return in *t0 and *t1. */
static void
cli_update_config(struct ctx *c, const char *uuid, const char *config, int64_t *t0, int64_t *t1) {
    char out[2048];
    *t0 = iof_time_mono_ms();
    int rc = cli_run(c->a->ctl,
                     true,
                     out,
                     sizeof out,
                     "microservice",
                     "update",
                     "--microservice-id",
                     uuid,
                     "--config",
                     config,
                     (const char *)NULL);
    *t1 = iof_time_mono_ms();
    if (rc != 0) {
        fprintf(stderr, "microservice update: %d %s\n", rc, out);
    }
    assert_int_equal(rc, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Configuration. */

static void test_config(void **state) {
    struct ctx *c = *state;
    char id[64];
    add_msvc(c, "conf", c->busy, "{\"n\":1,\"name\":\"first\"}", NULL, id);

    /* A client made from the environment the Agent gives a container. */
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)c->a->local_port);
    assert_int_equal(setenv("SELFNAME", id, 1), 0);
    assert_int_equal(setenv("IOFOG_AGENT_HOST", "127.0.0.1", 1), 0);
    assert_int_equal(setenv("IOFOG_AGENT_PORT", port, 1), 0);
    struct iofog_client *env_cl = NULL;
    assert_int_equal(iofog_client_new_from_env(NULL, &env_cl), IOFOG_OK);
    (void)unsetenv("SELFNAME");
    (void)unsetenv("IOFOG_AGENT_HOST");
    (void)unsetenv("IOFOG_AGENT_PORT");
    char url[128];
    (void)iofog_client_base_url(env_cl, url, sizeof url);
    char want_url[64];
    (void)snprintf(want_url, sizeof want_url, "http://127.0.0.1:%s", port);
    assert_string_equal(url, want_url);
    struct iofog_config *cfg = fetch_config(env_cl);
    assert_string_equal(iofog_config_raw(cfg), "{\"n\":1,\"name\":\"first\"}");
    int64_t n = 0;
    const char *name = NULL;
    assert_int_equal(iofog_config_get_int(cfg, "n", &n), IOFOG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(iofog_config_get_string(cfg, "name", &name), IOFOG_OK);
    assert_string_equal(name, "first");
    assert_int_equal(iofog_config_get_int(cfg, "missing", &n), IOFOG_ENOENT);
    iofog_config_free(cfg);
    iofog_client_free(env_cl);

    /* An unknown id is refused by the agent. */
    struct iofog_client *bad = new_client(c, "no-such-microservice");
    assert_int_equal(iofog_get_config(bad, &cfg), IOFOG_EREMOTE);
    printf("unknown id: HTTP %ld (%s)\n", iofog_last_http_status(), iofog_last_error());
    drop_client(c, bad);

    /* The change callback. */
    struct probe *p = new_probe(c);
    struct iofog_client *cl = new_client(c, id);
    struct iofog_callbacks cb = {
        .ctx = p, .on_config = on_config, .on_state = on_state, .on_error = on_error};
    assert_int_equal(iofog_client_start(cl, &cb), IOFOG_OK);
    assert_true(wait_count(p, &p->up[IOFOG_SOCKET_CONTROL], 1, 10000));
    assert_true(wait_config_text(p, "{\"n\":1,\"name\":\"first\"}", 10000, NULL));

    int64_t worst = 0;
    for (int i = 2; i <= 6; i++) {
        char text[64];
        (void)snprintf(text, sizeof text, "{\"n\":%d,\"name\":\"changed\"}", i);
        int64_t t0 = 0, t1 = 0, at = 0;
        cli_update_config(c, id, text, &t0, &t1);
        assert_true(wait_config_text(p, text, 5000, &at));
        printf("config change %d: callback %lld ms after the CLI started, %lld ms after it "
               "returned\n",
               i - 1,
               (long long)(at - t0),
               (long long)(at - t1));
        worst = at - t1 > worst ? at - t1 : worst;
    }
    printf("config change: worst %lld ms after the CLI returned (limit 100)\n", (long long)worst);
    assert_true(worst <= 100);
    assert_int_equal(get_int(p, &p->errors), 0);
    drop_client(c, cl);
}

/* ---------------------------------------------------------------------------------------------
 * Messages through a route. */

/* Sends warm-up messages from tx until rx receives one (the route reached the agent). */
static void warm_up(struct iofog_client *tx, struct probe *rx) {
    int base = get_int(rx, &rx->messages);
    for (int i = 0; i < 50; i++) {
        struct iofog_message m;
        iofog_message_init(&m);
        m.infotype = "text";
        m.infoformat = "utf-8";
        m.contentdata = (const uint8_t *)"warm-up";
        m.contentdata_len = 7;
        assert_int_equal(iofog_send_message(tx, &m), IOFOG_OK);
        if (wait_count(rx, &rx->messages, base + 1, 200)) {
            return;
        }
    }
    fail_msg("no message went through the route");
}

static void test_route_messages(void **state) {
    struct ctx *c = *state;
    char pub[64], recv[64];
    add_msvc(c, "pub", c->busy, "{}", NULL, pub);
    add_msvc(c, "recv", c->busy, "{}", NULL, recv);
    add_route(c, "pub-to-recv", "pub", "recv");

    struct probe *ptx = new_probe(c);
    struct probe *prx = new_probe(c);
    struct iofog_client *tx = new_client(c, pub);
    struct iofog_client *rx = new_client(c, recv);
    iofog_config_free(fetch_config(tx));
    iofog_config_free(fetch_config(rx));
    struct iofog_callbacks cbt = {
        .ctx = ptx, .on_receipt = on_receipt, .on_state = on_state, .on_error = on_error};
    struct iofog_callbacks cbr = {
        .ctx = prx, .on_message = on_message, .on_state = on_state, .on_error = on_error};
    assert_int_equal(iofog_client_start(rx, &cbr), IOFOG_OK);
    assert_int_equal(iofog_client_start(tx, &cbt), IOFOG_OK);
    assert_true(wait_count(prx, &prx->up[IOFOG_SOCKET_MESSAGE], 1, 10000));
    assert_true(wait_count(ptx, &ptx->up[IOFOG_SOCKET_MESSAGE], 1, 10000));
    assert_int_equal(iofog_client_connected(tx, IOFOG_SOCKET_MESSAGE), 1);
    warm_up(tx, prx);

    /* Let late warm-up receipts and deliveries settle, then count from there. */
    msleep(300);
    int r0 = get_int(ptx, &ptx->receipts);
    int m0 = get_int(prx, &prx->messages);
    enum { N = 20 };
    uint8_t payload[N][16];
    int64_t sent_at[N];
    int64_t wall0 = iof_time_now_ms();
    for (int i = 0; i < N; i++) {
        /* binary content with NUL bytes: 00 'b' 'i' 'n' 00 i ff 00 ... */
        memset(payload[i], 0, sizeof payload[i]);
        memcpy(payload[i], "\0bin\0", 5);
        payload[i][5] = (uint8_t)i;
        payload[i][6] = 0xff;
        struct iofog_message m;
        iofog_message_init(&m);
        m.infotype = "application/octet-stream";
        m.infoformat = "binary";
        m.contentdata = payload[i];
        m.contentdata_len = sizeof payload[i];
        m.contextdata = (const uint8_t *)"ctx\0data";
        m.contextdata_len = 8;
        sent_at[i] = iof_time_mono_ms();
        assert_int_equal(iofog_send_message(tx, &m), IOFOG_OK);
        msleep(20);
    }
    assert_true(wait_count(ptx, &ptx->receipts, r0 + N, 10000));
    assert_true(wait_count(prx, &prx->messages, m0 + N, 10000));
    msleep(200);

    /* Entries below the counts read here are never written again: read them without the lock
     * (an assertion must not leave a lock held that a callback waits for). */
    int receipts = get_int(ptx, &ptx->receipts);
    int messages = get_int(prx, &prx->messages);
    assert_int_equal(receipts, r0 + N);
    assert_int_equal(messages, m0 + N);
    int64_t lat_sum = 0, lat_max = 0;
    for (int i = 0; i < N; i++) {
        const char *id = ptx->receipt_id[r0 + i];
        int64_t ts = ptx->receipt_ts[r0 + i];
        assert_int_equal(strlen(id), 32);
        assert_true(ts >= wall0 - 1000 && ts <= iof_time_now_ms() + 1000);
        const struct iofog_message *got = NULL;
        int64_t got_at = 0;
        for (int k = m0; k < messages; k++) {
            if (prx->msg[k]->id != NULL && strcmp(prx->msg[k]->id, id) == 0) {
                got = prx->msg[k];
                got_at = prx->msg_at[k];
            }
        }
        if (got == NULL) {
            fail_msg("no delivery with the id %s of receipt %d", id, i);
            break;
        }
        assert_int_equal(got->timestamp, ts);
        assert_string_equal(got->publisher, pub);
        assert_string_equal(got->infotype, "application/octet-stream");
        assert_int_equal(got->contentdata_len, sizeof payload[i]);
        assert_memory_equal(got->contentdata, payload[i], sizeof payload[i]);
        assert_int_equal(got->contextdata_len, 8);
        assert_memory_equal(got->contextdata, "ctx\0data", 8);
        int64_t lat = got_at - sent_at[i];
        lat_sum += lat;
        lat_max = lat > lat_max ? lat : lat_max;
    }
    printf("route: %d binary messages, receipts in send order with the ids the receiver got; "
           "send -> on_message mean %.1f ms, max %lld ms\n",
           N,
           (double)lat_sum / N,
           (long long)lat_max);

    /* The receiver does not get its own messages back, and nothing arrives without a route. */
    struct iofog_message m;
    iofog_message_init(&m);
    m.infotype = "text"; /* the agent's REST publish requires infotype and infoformat */
    m.infoformat = "utf-8";
    m.contentdata = (const uint8_t *)"back";
    m.contentdata_len = 4;
    int rr = get_int(ptx, &ptx->receipts);
    int before = get_int(prx, &prx->messages);
    struct iofog_receipt rc;
    int prc = iofog_post_message(rx, &m, &rc);
    if (prc != IOFOG_OK) {
        fail_msg("post: %s: %s", iofog_strerror(prc), iofog_last_error());
    }
    assert_int_equal(strlen(rc.id), 32);
    msleep(300);
    assert_int_equal(get_int(prx, &prx->messages), before);
    assert_int_equal(get_int(ptx, &ptx->receipts), rr);
    assert_int_equal(get_int(ptx, &ptx->errors) + get_int(prx, &prx->errors), 0);

    drop_client(c, tx);
    drop_client(c, rx);
}

/* ---------------------------------------------------------------------------------------------
 * Reconnection after an agent restart. */

static void test_agent_restart(void **state) {
    struct ctx *c = *state;
    char id[64], peer[64];
    add_msvc(c, "restart", c->busy, "{\"n\":1}", NULL, id);
    add_msvc(c, "peer", c->busy, "{}", NULL, peer);
    add_route(c, "restart-to-peer", "restart", "peer");
    struct probe *p = new_probe(c);
    struct iofog_client *cl = new_client(c, id);
    iofog_config_free(fetch_config(cl));
    struct iofog_callbacks cb = {.ctx = p,
                                 .on_config = on_config,
                                 .on_receipt = on_receipt,
                                 .on_state = on_state,
                                 .on_error = NULL};
    assert_int_equal(iofog_client_start(cl, &cb), IOFOG_OK);
    assert_true(wait_count(p, &p->opens[IOFOG_SOCKET_CONTROL], 1, 10000));
    assert_true(wait_count(p, &p->opens[IOFOG_SOCKET_MESSAGE], 1, 10000));
    assert_true(wait_config_text(p, "{\"n\":1}", 5000, NULL));

    int64_t t_term = iof_time_mono_ms();
    assert_int_equal(agent_daemon_term(c->a), 0);
    int64_t t_down = iof_time_mono_ms();
    assert_true(wait_count(p, &p->drops[IOFOG_SOCKET_CONTROL], 1, 5000));
    assert_true(wait_count(p, &p->drops[IOFOG_SOCKET_MESSAGE], 1, 5000));
    assert_int_equal(iofog_client_connected(cl, IOFOG_SOCKET_CONTROL), 0);
    printf("agent SIGTERM -> exit in %lld ms; both sockets reported lost\n",
           (long long)(t_down - t_term));
    msleep(500); /* the client keeps trying while the agent is away */

    int64_t t_spawn = iof_time_mono_ms();
    assert_int_equal(agent_daemon_spawn(c->a), 0);
    int64_t t_up = iof_time_mono_ms();
    assert_true(wait_count(p, &p->opens[IOFOG_SOCKET_CONTROL], 2, 15000));
    assert_true(wait_count(p, &p->opens[IOFOG_SOCKET_MESSAGE], 2, 15000));
    int64_t t_back = iof_time_mono_ms();
    assert_int_equal(iofog_client_connected(cl, IOFOG_SOCKET_CONTROL), 1);
    assert_int_equal(iofog_client_connected(cl, IOFOG_SOCKET_MESSAGE), 1);
    printf("agent restart: CLI answered %lld ms after the start, both sockets back %lld ms after "
           "the start\n",
           (long long)(t_up - t_spawn),
           (long long)(t_back - t_spawn));
    assert_int_equal(agent_wait_status(c->a, ": ok", 10000), 0);

    /* A later change still reaches the callback. */
    int64_t t0 = 0, t1 = 0, at = 0;
    cli_update_config(c, id, "{\"n\":3}", &t0, &t1);
    assert_true(wait_config_text(p, "{\"n\":3}", 5000, &at));
    printf("config change after the restart: callback %lld ms after the CLI started, %lld ms "
           "after it returned\n",
           (long long)(at - t0),
           (long long)(at - t1));
    assert_true(at - t1 <= 100);

    /* And the message socket carries messages again. */
    int r = get_int(p, &p->receipts);
    struct iofog_message m;
    iofog_message_init(&m);
    m.infotype = "text";
    m.infoformat = "binary";
    m.contentdata = (const uint8_t *)"after\0restart";
    m.contentdata_len = 13;
    assert_int_equal(iofog_send_message(cl, &m), IOFOG_OK);
    assert_true(wait_count(p, &p->receipts, r + 1, 5000));
    drop_client(c, cl);
}

/* ---------------------------------------------------------------------------------------------
 * The example images under the agent. */

static const char *image_tag(void) {
    const char *t = getenv("IOFOG_EXAMPLE_TAG");
    return t != NULL && t[0] != '\0' ? t : "1";
}

/* The viewer's JSON array (GET /messages through its published port); NULL when unreachable. */
static json_t *viewer_get(uint16_t port) {
    struct iof_http_client_opts o = {.timeout_ms = 3000, .connect_timeout_ms = 1000};
    struct iof_http_client *h = NULL;
    assert_int_equal(iof_http_client_new(&o, &h), IOF_OK);
    char url[96];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/messages", (unsigned)port);
    struct iof_http_response r;
    json_t *arr = NULL;
    if (iof_http_client_request(h, "GET", url, NULL, NULL, 0, &r, NULL) == IOF_OK) {
        if (r.status == 200) {
            arr = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
        }
        iof_http_response_free(&r);
    }
    iof_http_client_free(h);
    if (arr != NULL && !json_is_array(arr)) {
        json_decref(arr);
        arr = NULL;
    }
    return arr;
}

/* Counts the viewer's messages from publisher whose temperature lies in [lo, hi]; *n_all gets
 * the number of messages seen. */
static int readings_in(uint16_t port, const char *publisher, double lo, double hi, int *n_all) {
    json_t *arr = viewer_get(port);
    int n = 0;
    *n_all = 0;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) {
        ++*n_all;
        const char *b64 = jstr(m, "contentdata");
        uint8_t raw[256];
        size_t len = 0;
        if (strcmp(jstr(m, "publisher"), publisher) != 0 ||
            iof_base64_decode(b64, strlen(b64), raw, sizeof raw - 1, &len) != IOF_OK) {
            continue;
        }
        json_t *body = json_loadb((const char *)raw, len, 0, NULL);
        json_t *t = json_object_get(body, "temperature");
        if (json_is_number(t) && json_number_value(t) >= lo && json_number_value(t) <= hi &&
            strcmp(jstr(body, "unit"), "C") == 0) {
            n++;
        }
        json_decref(body);
    }
    json_decref(arr);
    return n;
}

/* Waits (<= timeout_ms) until the viewer shows at least want readings in [lo, hi]; the ms it
 * took, -1 on timeout. */
static int64_t wait_readings(
    uint16_t port, const char *publisher, double lo, double hi, int want, int timeout_ms) {
    int64_t t0 = iof_time_mono_ms();
    int all = 0, n = 0;
    do {
        n = readings_in(port, publisher, lo, hi, &all);
        if (n >= want) {
            return iof_time_mono_ms() - t0;
        }
        msleep(50);
    } while (iof_time_mono_ms() - t0 < timeout_ms);
    fprintf(stderr, "viewer: %d of %d messages in [%g, %g], wanted %d\n", n, all, lo, hi, want);
    return -1;
}

static void msvc_status(struct ctx *c, const char *uuid, char *st, size_t len) {
    json_t *ans = NULL;
    st[0] = '\0';
    if (api_callf(c->a->ctl, "GET", c->a->user, NULL, &ans, "/api/v3/microservices/%s", uuid) ==
        200) {
        const char *s =
            json_string_value(json_object_get(json_object_get(ans, "status"), "status"));
        (void)snprintf(st, len, "%s", s != NULL ? s : "");
    }
    json_decref(ans);
}

static int64_t wait_running(struct ctx *c, const char *uuid, int timeout_ms) {
    int64_t t0 = iof_time_mono_ms();
    char st[32] = "";
    do {
        msvc_status(c, uuid, st, sizeof st);
        if (strcmp(st, "RUNNING") == 0) {
            return iof_time_mono_ms() - t0;
        }
        msleep(50);
    } while (iof_time_mono_ms() - t0 < timeout_ms);
    fprintf(stderr, "microservice %s: wanted RUNNING, last '%s'\n", uuid, st);
    return -1;
}

static bool wait_log(const char *uuid, const char *text, int timeout_ms) {
    static char buf[65536];
    int64_t t0 = iof_time_mono_ms();
    do {
        agent_sh(buf, sizeof buf, "timeout 30 docker logs iofog_%s 2>&1", uuid);
        if (strstr(buf, text) != NULL) {
            return true;
        }
        msleep(100);
    } while (iof_time_mono_ms() - t0 < timeout_ms);
    fprintf(stderr, "iofog_%s never printed '%s'; output so far:\n%s\n", uuid, text, buf);
    return false;
}

static void test_examples(void **state) {
    struct ctx *c = *state;
    const char *tag = image_tag();
    static const char *const names[] = {"sensor", "viewer", "config-echo"};
    char image[3][96];
    for (int i = 0; i < 3; i++) {
        (void)snprintf(image[i], sizeof image[i], "iofog-example/%s:%s", names[i], tag);
        char out[128];
        agent_sh(out, sizeof out, "timeout 30 docker image inspect -f ok %s 2>&1", image[i]);
        if (strcmp(out, "ok") != 0) {
            fail_msg("image %s is missing: run the test through ctest (fixture "
                     "sdk_example_images) or scripts/build-example-images.sh",
                     image[i]);
        }
    }
    /* The containers reach the agent as `iofog` (bridge gateway) on the test's Local API port. */
    char env[128];
    (void)snprintf(env,
                   sizeof env,
                   "{\"env\":[{\"key\":\"IOFOG_AGENT_PORT\",\"value\":\"%u\"}]}",
                   (unsigned)c->a->local_port);
    uint16_t vport = api_free_port();
    char viewer_extra[256];
    (void)snprintf(viewer_extra,
                   sizeof viewer_extra,
                   "{\"env\":[{\"key\":\"IOFOG_AGENT_PORT\",\"value\":\"%u\"}],"
                   "\"ports\":[{\"internal\":8080,\"external\":%u,\"protocol\":\"tcp\"}]}",
                   (unsigned)c->a->local_port,
                   (unsigned)vport);
    char sensor[64], viewer[64], echo[64];
    add_msvc(
        c, "sensor", image[0], "{\"frequency\":100,\"minimum\":20,\"maximum\":21}", env, sensor);
    add_msvc(c, "viewer", image[1], "{\"port\":8080,\"buffersize\":5}", viewer_extra, viewer);
    add_msvc(c, "config-echo", image[2], "{\"greeting\":\"hello\"}", env, echo);
    add_route(c, "sensor-to-viewer", "sensor", "viewer");
    const char *uuids[] = {sensor, viewer, echo};
    for (int i = 0; i < 3; i++) {
        int64_t ms = wait_running(c, uuids[i], 60000);
        assert_true(ms >= 0);
        printf("%s RUNNING after %lld ms\n", names[i], (long long)ms);
    }
    char sensor_id[128], echo_id[128], id_now[128];
    agent_sh(
        sensor_id, sizeof sensor_id, "docker inspect -f '{{.Id}}' iofog_%s 2>/dev/null", sensor);
    agent_sh(echo_id, sizeof echo_id, "docker inspect -f '{{.Id}}' iofog_%s 2>/dev/null", echo);
    assert_int_equal(strlen(sensor_id), 64);
    assert_int_equal(strlen(echo_id), 64);

    /* Sensor readings in 20..21 arrive at the viewer through the route. */
    assert_true(wait_log(sensor, "sensor config frequency=100 minimum=20 maximum=21", 20000));
    int64_t ms = wait_readings(vport, sensor, 20.0, 21.0, 3, 30000);
    assert_true(ms >= 0);
    printf("viewer on host port %u shows sensor readings in [20, 21] (%lld ms after RUNNING)\n",
           (unsigned)vport,
           (long long)ms);
    assert_true(wait_log(echo, "config {\"greeting\":\"hello\"}", 20000));

    /* A new range through the Controller CLI: same container, new values. */
    int64_t t0 = 0, t1 = 0;
    cli_update_config(c, sensor, "{\"frequency\":100,\"minimum\":50,\"maximum\":51}", &t0, &t1);
    assert_true(wait_log(sensor, "sensor config frequency=100 minimum=50 maximum=51", 10000));
    ms = wait_readings(vport, sensor, 50.0, 51.0, 5, 10000); /* buffersize 5: all new */
    assert_true(ms >= 0);
    printf("sensor range change: viewer holds only readings in [50, 51] %lld ms after the CLI "
           "returned\n",
           (long long)(iof_time_mono_ms() - t1));
    agent_sh(id_now, sizeof id_now, "docker inspect -f '{{.Id}}' iofog_%s 2>/dev/null", sensor);
    assert_string_equal(id_now, sensor_id);

    /* config-echo prints its new configuration, same container. */
    cli_update_config(c, echo, "{\"greeting\":\"changed\"}", &t0, &t1);
    assert_true(wait_log(echo, "config {\"greeting\":\"changed\"}", 10000));
    printf("config-echo printed the new configuration %lld ms after the CLI returned\n",
           (long long)(iof_time_mono_ms() - t1));
    agent_sh(id_now, sizeof id_now, "docker inspect -f '{{.Id}}' iofog_%s 2>/dev/null", echo);
    assert_string_equal(id_now, echo_id);

    /* Images built from a sanitizer build report any finding on stderr. */
    for (int i = 0; i < 3; i++) {
        char out[64];
        agent_sh(out,
                 sizeof out,
                 "timeout 30 docker logs iofog_%s 2>&1 | grep -c 'Sanitizer\\|runtime error'",
                 uuids[i]);
        assert_string_equal(out, "0");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_examples, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
