/* The Local API knows its caller (docs/security.md), against the real Agent and Controller with
 * real containers: a microservice's container reads its own configuration and publishes as
 * itself, but gets 403 for another microservice's configuration or publisher; a container ioFog
 * did not start (on the default bridge, and on a user-defined network) gets 403; no CORS headers;
 * a WebSocket upgrade from a foreign Origin is refused; localApiStrict refuses the node's own
 * processes. Containers call the Agent on the bridge gateway with busybox wget. */
#include "agent/agent_testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>

#define IMAGE "iofog-agent-e2e/busy:1"

struct ctx {
    struct agent_fixture *a;
    char ma[64], mb[64];
    char gw[64];
    char net[64];
};

static void add_msvc(struct agent_fixture *a, const char *name, char out[64]) {
    char body[512];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"%s\",\"application\":\"callers\",\"iofogUuid\":\"%s\","
                   "\"registryId\":2,\"config\":\"{\\\"secret\\\":\\\"%s-secret\\\"}\","
                   "\"images\":[{\"containerImage\":\"" IMAGE "\",\"fogTypeId\":1}]}",
                   name,
                   a->node,
                   name);
    json_t *ans = NULL;
    assert_int_equal(api_call(a->ctl, "POST", "/api/v3/microservices", a->user, body, &ans), 201);
    (void)snprintf(out, 64, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("bash scripts/test-image.sh " IMAGE " >/dev/null") != 0) {
        return -1;
    }
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return -1;
    }
    (void)snprintf(c->net, sizeof c->net, "iofog-callers-test-%d", (int)getpid());
    c->a = agent_fixture_new("edge-callers");
    if (c->a == NULL || agent_fixture_app(c->a, "callers") != 0) {
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    struct ctx *c = *state;
    char out[256];
    agent_sh(out, sizeof out, "docker network rm %s 2>&1", c->net);
    int rc = agent_daemon_stop(c->a);
    int frc = agent_fixture_free(c->a);
    free(c);
    return rc == 0 && frc == 0 ? 0 : -1;
}

static void wait_running(const char *uuid) {
    char out[256];
    int64_t t0 = iof_time_mono_ms();
    while (iof_time_mono_ms() - t0 < 60000) {
        agent_sh(
            out, sizeof out, "docker inspect -f '{{.State.Running}}' iofog_%s 2>/dev/null", uuid);
        if (strcmp(out, "true") == 0) {
            return;
        }
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    fail_msg("container of %s never ran", uuid);
}

/* busybox wget in a container: `where` is "exec iofog_<uuid>" or "run --rm [--network n]
 * IMAGE". POSTs body to path on the Agent's bridge address; out gets the answer body, or the
 * error line with the status ("server returned error: HTTP/1.1 403 Forbidden"). */
static void wget_in(
    struct ctx *c, const char *where, const char *path, const char *body, char *out, size_t len) {
    agent_sh(out,
             len,
             "docker %s wget -q -O - --header 'Content-Type: application/json' "
             "--post-data '%s' http://%s:%u%s 2>&1",
             where,
             body,
             c->gw,
             (unsigned)c->a->local_port,
             path);
}

/* Sends a raw request to the Local API on 127.0.0.1 and reads the answer head and body (the
 * server closes, or 2 s pass). */
static void raw_local(struct agent_fixture *a, const char *request, char *out, size_t len) {
    out[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a->local_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = recv(fd, out + n, len - 1 - n, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        out[n] = '\0';
        if (strstr(out, "\r\n\r\n") != NULL && strstr(out, "HTTP/1.1 101") == NULL &&
            strstr(out, "Content-Length: 0") != NULL) {
            break;
        }
    }
    out[n] = '\0';
    (void)close(fd);
}

static void ws_upgrade(char *req, size_t len, const char *id, uint16_t port, const char *origin) {
    (void)snprintf(req,
                   len,
                   "GET /v2/message/socket/id/%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n",
                   id,
                   (unsigned)port,
                   origin);
}

static void test_caller_bound_to_container(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    assert_int_equal(agent_fixture_provision(a, 5000), 0);
    add_msvc(a, "alpha", c->ma);
    add_msvc(a, "beta", c->mb);
    wait_running(c->ma);
    wait_running(c->mb);
    /* The Agent's bridge address: the containers' default gateway. */
    agent_sh(c->gw,
             sizeof c->gw,
             "docker exec iofog_%s sh -c \"ip route | awk '/^default/ {print \\$3}'\"",
             c->ma);
    assert_true(c->gw[0] != '\0');

    char where[128], body[256], out[2048];
    (void)snprintf(where, sizeof where, "exec iofog_%s", c->ma);
    /* Its own configuration: served (retried while the agent learns the microservice list). */
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->ma);
    int64_t t0 = iof_time_mono_ms();
    do {
        wget_in(c, where, "/v2/config/get", body, out, sizeof out);
        if (strstr(out, "alpha-secret") != NULL) {
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    } while (iof_time_mono_ms() - t0 < 20000);
    if (strstr(out, "alpha-secret") == NULL) {
        fprintf(stderr, "last answer via %s: %s\n", c->gw, out);
    }
    assert_non_null(strstr(out, "alpha-secret"));
    printf("own config from the container after %lld ms\n", (long long)(iof_time_mono_ms() - t0));

    /* Another microservice's configuration: 403, no secret. */
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->mb);
    wget_in(c, where, "/v2/config/get", body, out, sizeof out);
    printf("alpha asking for beta's config: %s\n", out);
    assert_non_null(strstr(out, "403"));
    assert_null(strstr(out, "beta-secret"));
    /* Its own queue yes, beta's no. */
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->ma);
    wget_in(c, where, "/v2/messages/next", body, out, sizeof out);
    assert_non_null(strstr(out, "\"status\":\"okay\""));
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->mb);
    wget_in(c, where, "/v2/messages/next", body, out, sizeof out);
    assert_non_null(strstr(out, "403"));
    /* Publishing as itself yes, as beta no. */
    (void)snprintf(body,
                   sizeof body,
                   "{\"publisher\":\"%s\",\"version\":4,\"infotype\":\"text\","
                   "\"infoformat\":\"utf-8\",\"contentdata\":\"aGk=\"}",
                   c->ma);
    wget_in(c, where, "/v2/messages/new", body, out, sizeof out);
    assert_non_null(strstr(out, "\"status\":\"okay\""));
    (void)snprintf(body,
                   sizeof body,
                   "{\"publisher\":\"%s\",\"version\":4,\"infotype\":\"text\","
                   "\"infoformat\":\"utf-8\",\"contentdata\":\"aGk=\"}",
                   c->mb);
    wget_in(c, where, "/v2/messages/new", body, out, sizeof out);
    assert_non_null(strstr(out, "403"));

    /* Containers ioFog did not start: on the default bridge, and on a user-defined network. */
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->ma);
    wget_in(c, "run --rm " IMAGE, "/v2/config/get", body, out, sizeof out);
    printf("stranger on the default bridge: %s\n", out);
    assert_non_null(strstr(out, "403"));
    assert_null(strstr(out, "alpha-secret"));
    char made[256];
    agent_sh(made, sizeof made, "docker network create %s >/dev/null 2>&1 && echo ok", c->net);
    assert_string_equal(made, "ok");
    (void)snprintf(where, sizeof where, "run --rm --network %s " IMAGE, c->net);
    wget_in(c, where, "/v2/config/get", body, out, sizeof out);
    printf("stranger on a user-defined network: %s\n", out);
    assert_non_null(strstr(out, "403"));
    assert_null(strstr(out, "alpha-secret"));
    wget_in(c, where, "/v2/gps", "{\"lat\":\"1\",\"lon\":\"2\"}", out, sizeof out);
    assert_non_null(strstr(out, "403"));

    /* The node itself is served as with the classic agent (strict mode off). */
    json_t *ans = NULL;
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->mb);
    assert_int_equal(agent_local_post(a, "/v2/config/get", body, &ans), 200);
    json_decref(ans);

    /* No CORS: a preflight and an answer carry no Access-Control-Allow-Origin. */
    char req[512], resp[4096];
    (void)snprintf(req,
                   sizeof req,
                   "OPTIONS /v2/config/get HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                   "Origin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n"
                   "Connection: close\r\n\r\n",
                   (unsigned)a->local_port);
    raw_local(a, req, resp, sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 "));
    assert_null(strcasestr(resp, "Access-Control-Allow-Origin"));
    (void)snprintf(req,
                   sizeof req,
                   "GET /v2/edgeResources HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                   "Origin: http://evil.example\r\nConnection: close\r\n\r\n",
                   (unsigned)a->local_port);
    raw_local(a, req, resp, sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_null(strcasestr(resp, "Access-Control-Allow-Origin"));

    /* A WebSocket from a web page elsewhere is refused; the Agent's own origin is not. */

    ws_upgrade(req, sizeof req, c->ma, a->local_port, "http://evil.example");
    raw_local(a, req, resp, sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 403"));
    char own[64];
    (void)snprintf(own, sizeof own, "http://127.0.0.1:%u", (unsigned)a->local_port);
    ws_upgrade(req, sizeof req, c->ma, a->local_port, own);
    raw_local(a, req, resp, sizeof resp);
    assert_non_null(strstr(resp, "HTTP/1.1 101"));

    /* localApiStrict: the node's own processes are refused for a bridge microservice's id; the
     * container itself still gets its configuration. */
    assert_int_equal(agent_daemon_term(a), 0);
    assert_int_equal(agent_cli(a, NULL, 0, "config -ls on"), 0);
    assert_int_equal(agent_daemon_spawn(a), 0);
    assert_int_equal(agent_wait_status(a, ": ok", 5000), 0);
    (void)snprintf(body, sizeof body, "{\"id\":\"%s\"}", c->ma);
    t0 = iof_time_mono_ms();
    (void)snprintf(where, sizeof where, "exec iofog_%s", c->ma);
    do {
        wget_in(c, where, "/v2/config/get", body, out, sizeof out);
        if (strstr(out, "alpha-secret") != NULL) {
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    } while (iof_time_mono_ms() - t0 < 20000);
    assert_non_null(strstr(out, "alpha-secret"));
    assert_int_equal(agent_local_post(a, "/v2/config/get", body, &ans), 403);
    json_decref(ans);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_caller_bound_to_container, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
