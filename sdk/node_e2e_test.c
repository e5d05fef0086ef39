/* The official Node.js SDK (by default Datasance's @datasance/iofog-nodejs-sdk 3.0.1; Eclipse's
 * @iofog/nodejs-sdk 1.3.x through IOFOG_NODE_SDK; both the classic API) inside a container under
 * the real Agent (iofog-agent start --foreground) provisioned to the real Controller
 * (agent/agent_testutil.h). The image iofog-node-flow:<tag> is built by
 * scripts/build-node-sdk-image.sh at setup and removed at the end; it runs sdk/node-flow/flow.js,
 * which prints one `FLOW ...` line per SDK event. One application on the default bridge:
 *
 *     sensor (C example) --route--> node-flow (Node SDK) --route--> viewer (C example)
 *
 * Asserted: the Node microservice reads its configuration (getConfig); its REST publish
 * (sendNewMessage) gets a receipt and getNextMessages returns the sensor's messages; on the
 * message socket its three messages get receipts and the sensor's messages are pushed to it;
 * everything it publishes reaches the viewer with its publisher id, the receipts' ids and its
 * content and context bytes intact; a configuration change through the Controller CLI reaches it
 * over the control socket (signal, then getConfig) without a restart; no SDK error. The SDK sends
 * no credential, so each call passes the Local API's caller check by its container address; the
 * same image started outside ioFog, naming the same id, gets no configuration.
 * The SDK comes from npm (IOFOG_NODE_SDK may name a tarball or directory instead); when it cannot
 * be installed the test exits 77 (skipped) and says why. Needs a Docker Engine. */
#include "agent/agent_testutil.h"

#include "common/base64.h"
#include "controller/cli/cli_testutil.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define SKIP_CODE 77
#define LOG_MAX   (256 * 1024)

struct ctx {
    struct agent_fixture *a;
    char image[96];   /* iofog-node-flow:<tag> */
    char foreign[64]; /* name of the container started outside ioFog, "" when none */
};

static char g_image[96];
static char g_logs[LOG_MAX];

static void msleep(long ms) {
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL);
}

static const char *image_tag(void) {
    const char *t = getenv("IOFOG_EXAMPLE_TAG");
    return t != NULL && t[0] != '\0' ? t : "1";
}

/* ---------------------------------------------------------------------------------------------
 * Fixture. */

static int setup(void **state) {
    struct ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return -1;
    }
    (void)snprintf(c->image, sizeof c->image, "%s", g_image);
    c->a = agent_fixture_new("edge-node-sdk");
    if (c->a == NULL) {
        free(c);
        return -1;
    }
    *state = c;
    if (agent_fixture_app(c->a, "sdk") != 0 || agent_fixture_provision(c->a, 10000) != 0) {
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
    char out[512];
    if (c->foreign[0] != '\0') {
        agent_sh(out, sizeof out, "timeout 30 docker rm -f %s 2>&1", c->foreign);
    }
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
    json_t *x = json_loads(extra, 0, NULL);
    assert_non_null(x);
    assert_int_equal(json_object_update(body, x), 0);
    json_decref(x);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *ans = NULL;
    long st = api_call(c->a->ctl, "POST", "/api/v3/microservices", c->a->user, text, &ans);
    free(text);
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

static int64_t wait_running(struct ctx *c, const char *uuid, int timeout_ms) {
    int64_t t0 = iof_time_mono_ms();
    char st[32] = "";
    do {
        json_t *ans = NULL;
        if (api_callf(c->a->ctl, "GET", c->a->user, NULL, &ans, "/api/v3/microservices/%s", uuid) ==
            200) {
            const char *s =
                json_string_value(json_object_get(json_object_get(ans, "status"), "status"));
            (void)snprintf(st, sizeof st, "%s", s != NULL ? s : "");
        }
        json_decref(ans);
        if (strcmp(st, "RUNNING") == 0) {
            return iof_time_mono_ms() - t0;
        }
        msleep(100);
    } while (iof_time_mono_ms() - t0 < timeout_ms);
    fprintf(stderr, "microservice %s: wanted RUNNING, last '%s'\n", uuid, st);
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * The Node microservice's output. */

/* Reads the container's output (stdout and stderr) into g_logs. */
static void read_logs(const char *container) {
    agent_sh(g_logs, sizeof g_logs, "timeout 30 docker logs %s 2>&1", container);
}

/* Number of lines of g_logs that start with prefix. */
static int count_lines(const char *prefix) {
    int n = 0;
    size_t plen = strlen(prefix);
    for (const char *p = g_logs; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, plen) == 0) {
            n++;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return n;
}

/* The rest of the k-th (0-based) line starting with prefix, up to the newline; false when there
 * are fewer. */
static bool line_after(const char *prefix, int k, char *out, size_t len) {
    size_t plen = strlen(prefix);
    for (const char *p = g_logs; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, plen) == 0 && k-- == 0) {
            const char *e = strchr(p, '\n');
            size_t n = e != NULL ? (size_t)(e - p) - plen : strlen(p) - plen;
            n = n < len - 1 ? n : len - 1;
            memcpy(out, p + plen, n);
            out[n] = '\0';
            return true;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return false;
}

/* Waits (<= timeout_ms) until the container printed at least want lines starting with prefix;
 * the ms it took, -1 (with the output on stderr) on timeout. */
static int64_t wait_lines(const char *container, const char *prefix, int want, int timeout_ms) {
    int64_t t0 = iof_time_mono_ms();
    do {
        read_logs(container);
        if (count_lines(prefix) >= want) {
            return iof_time_mono_ms() - t0;
        }
        msleep(100);
    } while (iof_time_mono_ms() - t0 < timeout_ms);
    fprintf(stderr,
            "%s printed %d lines '%s', wanted %d; output:\n%s\n",
            container,
            count_lines(prefix),
            prefix,
            want,
            g_logs);
    return -1;
}

/* A FLOW line's JSON string field (the rest of the line after `<publisher> `) as text. */
static void json_string_field(const char *json_text, char *out, size_t len) {
    json_t *s = json_loads(json_text, JSON_DECODE_ANY, NULL);
    assert_true(json_is_string(s));
    (void)snprintf(out, len, "%s", json_string_value(s));
    json_decref(s);
}

/* ---------------------------------------------------------------------------------------------
 * The viewer. */

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

/* Decodes a base64 field of m into out (NUL-terminated); false when absent or invalid. */
static bool b64_field(json_t *m, const char *key, char *out, size_t len) {
    const char *b64 = json_string_value(json_object_get(m, key));
    size_t n = 0;
    if (b64 == NULL || iof_base64_decode(b64, strlen(b64), (uint8_t *)out, len - 1, &n) != IOF_OK) {
        return false;
    }
    out[n] = '\0';
    return true;
}

/* The viewer's message from publisher with exactly this content, a new reference or NULL. */
static json_t *viewer_find(json_t *arr, const char *publisher, const char *content) {
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) {
        char got[512];
        if (strcmp(jstr(m, "publisher"), publisher) == 0 &&
            b64_field(m, "contentdata", got, sizeof got) && strcmp(got, content) == 0) {
            return json_incref(m);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The test. */

static void test_node_sdk_flow(void **state) {
    struct ctx *c = *state;
    const char *tag = image_tag();
    char sensor_img[96], viewer_img[96];
    (void)snprintf(sensor_img, sizeof sensor_img, "iofog-example/sensor:%s", tag);
    (void)snprintf(viewer_img, sizeof viewer_img, "iofog-example/viewer:%s", tag);
    for (int i = 0; i < 2; i++) {
        const char *img = i == 0 ? sensor_img : viewer_img;
        char out[128];
        agent_sh(out, sizeof out, "timeout 30 docker image inspect -f ok %s 2>&1", img);
        if (strcmp(out, "ok") != 0) {
            fail_msg("image %s is missing: run the test through ctest (fixture "
                     "sdk_example_images) or scripts/build-example-images.sh",
                     img);
        }
    }

    /* Every container reaches the agent as `iofog` (bridge gateway) on the test's port. */
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
    char sensor[64], node[64], viewer[64];
    add_msvc(
        c, "sensor", sensor_img, "{\"frequency\":300,\"minimum\":20,\"maximum\":21}", env, sensor);
    add_msvc(c, "node-flow", c->image, "{\"greeting\":\"first\",\"n\":1}", env, node);
    add_msvc(c, "viewer", viewer_img, "{\"port\":8080,\"buffersize\":100}", viewer_extra, viewer);
    add_route(c, "sensor-to-node", "sensor", "node-flow");
    add_route(c, "node-to-viewer", "node-flow", "viewer");
    const char *uuids[] = {sensor, node, viewer};
    const char *names[] = {"sensor", "node-flow", "viewer"};
    for (int i = 0; i < 3; i++) {
        int64_t ms = wait_running(c, uuids[i], 90000);
        assert_true(ms >= 0);
        printf("%s RUNNING after %lld ms\n", names[i], (long long)ms);
    }
    char cname[80], node_cid[128], cid_now[128], gw[64];
    (void)snprintf(cname, sizeof cname, "iofog_%s", node);
    agent_sh(node_cid, sizeof node_cid, "docker inspect -f '{{.Id}}' %s 2>/dev/null", cname);
    assert_int_equal(strlen(node_cid), 64);
    /* On the default bridge: the Local API sees the container's own address. */
    agent_sh(gw,
             sizeof gw,
             "docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' %s",
             cname);
    assert_string_equal(gw, "bridge");

    /* init and getConfig. */
    int64_t ms = wait_lines(cname, "FLOW config ", 1, 30000);
    assert_true(ms >= 0);
    char line[1024];
    assert_true(line_after("FLOW sdk ", 0, line, sizeof line));
    printf("node-flow runs %s\n", line);
    assert_true(line_after("FLOW init ", 0, line, sizeof line));
    printf("node-flow: init reached %s; configuration read %lld ms after RUNNING\n",
           line,
           (long long)ms);
    assert_true(strstr(line, "127.0.0.1") == NULL); /* the SDK's ping found `iofog` */
    assert_true(line_after("FLOW config ", 0, line, sizeof line));
    assert_string_equal(line, "{\"greeting\":\"first\",\"n\":1}");

    /* REST: sendNewMessage's receipt; getNextMessages returns the sensor's readings. */
    assert_true(wait_lines(cname, "FLOW rest-receipt ", 1, 30000) >= 0);
    assert_true(wait_lines(cname, "FLOW rest-message ", 1, 30000) >= 0);
    char rest_id[64] = "";
    long long rest_ts = 0;
    assert_true(line_after("FLOW rest-receipt ", 0, line, sizeof line));
    assert_int_equal(sscanf(line, "%63s %lld", rest_id, &rest_ts), 2);
    assert_int_equal(strlen(rest_id), 32);
    assert_true(rest_ts > 1500000000000LL);
    int nrest = count_lines("FLOW rest-message ");
    for (int i = 0; i < nrest; i++) {
        char pub[64], text[512];
        assert_true(line_after("FLOW rest-message ", i, line, sizeof line));
        assert_int_equal(sscanf(line, "%63s", pub), 1);
        assert_string_equal(pub, sensor);
        json_string_field(line + strlen(pub) + 1, text, sizeof text);
        assert_non_null(strstr(text, "\"temperature\":"));
    }
    printf("node-flow REST: receipt %s, %d sensor messages from getNextMessages\n", rest_id, nrest);

    /* Message socket: three receipts; the sensor's messages pushed. */
    assert_true(wait_lines(cname, "FLOW ws-open", 1, 30000) >= 0);
    ms = wait_lines(cname, "FLOW ws-receipt ", 3, 10000);
    assert_true(ms >= 0);
    int64_t pushed_ms = wait_lines(cname, "FLOW ws-message ", 3, 10000);
    assert_true(pushed_ms >= 0);
    char ws_id[3][64];
    for (int i = 0; i < 3; i++) {
        long long ts = 0;
        assert_true(line_after("FLOW ws-receipt ", i, line, sizeof line));
        assert_int_equal(sscanf(line, "%63s %lld", ws_id[i], &ts), 2);
        assert_int_equal(strlen(ws_id[i]), 32);
        assert_true(ts >= rest_ts && ts < rest_ts + 120000);
    }
    int npushed = count_lines("FLOW ws-message ");
    for (int i = 0; i < npushed; i++) {
        char pub[64], text[512];
        assert_true(line_after("FLOW ws-message ", i, line, sizeof line));
        assert_int_equal(sscanf(line, "%63s", pub), 1);
        assert_string_equal(pub, sensor);
        json_string_field(line + strlen(pub) + 1, text, sizeof text);
        assert_non_null(strstr(text, "\"temperature\":"));
    }
    printf("node-flow socket: 3 receipts, %d sensor messages pushed\n", npushed);

    /* The viewer got all four of the Node microservice's messages, intact, with the receipts'
     * ids. */
    static const char *const contents[] = {"node rest \xe2\x9c\x93",
                                           "node ws 0 \xe2\x9c\x93",
                                           "node ws 1 \xe2\x9c\x93",
                                           "node ws 2 \xe2\x9c\x93"};
    const char *ids[] = {rest_id, ws_id[0], ws_id[1], ws_id[2]};
    const char *ctxs[] = {"ctx-rest", "ctx-ws", "ctx-ws", "ctx-ws"};
    int64_t t0 = iof_time_mono_ms();
    int found = 0;
    json_t *arr = NULL;
    do {
        json_decref(arr);
        arr = viewer_get(vport);
        found = 0;
        for (int i = 0; i < 4; i++) {
            json_t *m = viewer_find(arr, node, contents[i]);
            found += m != NULL;
            json_decref(m);
        }
        if (found < 4) {
            msleep(100);
        }
    } while (found < 4 && iof_time_mono_ms() - t0 < 15000);
    if (found < 4) {
        char *dump = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
        fprintf(stderr, "viewer holds %d of the 4 messages: %s\n", found, dump ? dump : "none");
        free(dump);
    }
    assert_int_equal(found, 4);
    for (int i = 0; i < 4; i++) {
        json_t *m = viewer_find(arr, node, contents[i]);
        char context[64];
        assert_true(b64_field(m, "contextdata", context, sizeof context));
        assert_string_equal(context, ctxs[i]);
        assert_string_equal(jstr(m, "id"), ids[i]);
        assert_string_equal(jstr(m, "infotype"), "text");
        json_decref(m);
    }
    json_decref(arr);
    printf("viewer shows the Node microservice's 4 messages with its publisher id, the receipt "
           "ids and intact content and context\n");

    /* A configuration change through the Controller CLI: control signal, getConfig again, same
     * container. */
    char out[2048];
    int64_t c0 = iof_time_mono_ms();
    int rc = cli_run(c->a->ctl,
                     true,
                     out,
                     sizeof out,
                     "microservice",
                     "update",
                     "--microservice-id",
                     node,
                     "--config",
                     "{\"greeting\":\"second\",\"n\":2}",
                     (const char *)NULL);
    int64_t c1 = iof_time_mono_ms();
    if (rc != 0) {
        fprintf(stderr, "microservice update: %d %s\n", rc, out);
    }
    assert_int_equal(rc, 0);
    assert_true(wait_lines(cname, "FLOW signal", 1, 10000) >= 0);
    assert_true(wait_lines(cname, "FLOW config ", 2, 10000) >= 0);
    int64_t c2 = iof_time_mono_ms();
    assert_true(line_after("FLOW config ", 1, line, sizeof line));
    assert_string_equal(line, "{\"greeting\":\"second\",\"n\":2}");
    agent_sh(cid_now, sizeof cid_now, "docker inspect -f '{{.Id}}' %s 2>/dev/null", cname);
    assert_string_equal(cid_now, node_cid);
    printf("config change: CLI took %lld ms; the Node SDK printed the new configuration within "
           "%lld ms after it returned (log polled every 100 ms), same container\n",
           (long long)(c1 - c0),
           (long long)(c2 - c1));

    /* No SDK error, no crash, nothing refused. */
    read_logs(cname);
    assert_int_equal(count_lines("FLOW error"), 0);
    assert_int_equal(count_lines("FLOW bad-request"), 0);
    assert_null(strstr(g_logs, "Error:"));
    assert_null(strstr(g_logs, "not reachable"));

    /* The same image started outside ioFog on the default bridge, naming the Node
     * microservice's id, is refused: it never prints a configuration. */
    (void)snprintf(c->foreign, sizeof c->foreign, "iofog-node-foreign-%d", (int)getpid());
    agent_sh(out,
             sizeof out,
             "timeout 60 docker run -d --name %s --add-host iofog:host-gateway -e SELFNAME=%s "
             "-e IOFOG_AGENT_PORT=%u %s 2>&1",
             c->foreign,
             node,
             (unsigned)c->a->local_port,
             c->image);
    assert_true(wait_lines(c->foreign, "FLOW init ", 1, 20000) >= 0);
    msleep(5000); /* its getConfig and first getNextMessages have long been answered */
    read_logs(c->foreign);
    assert_int_equal(count_lines("FLOW config "), 0);
    assert_int_equal(count_lines("FLOW rest-message "), 0);
    printf("a container ioFog did not start, naming the same id: no configuration, no "
           "messages\n");
}

int main(void) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("timeout 60 docker version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "no Docker Engine answers (scripts/dockerd.sh start)\n");
        return 1;
    }
    (void)snprintf(g_image, sizeof g_image, "iofog-node-flow:%s", image_tag());
    char cmd[512];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "IOFOG_BUILD_DIR=%s bash scripts/build-node-sdk-image.sh %s",
                   IOFOG_BINARY_DIR,
                   g_image);
    int64_t t0 = iof_time_mono_ms();
    int st = system(cmd);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == SKIP_CODE) {
        fprintf(stderr, "skipped: the Node SDK cannot be installed here\n");
        return SKIP_CODE;
    }
    if (code != 0) {
        fprintf(stderr, "cannot build %s (exit %d)\n", g_image, code);
        return 1;
    }
    printf("image %s built in %lld ms\n", g_image, (long long)(iof_time_mono_ms() - t0));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node_sdk_flow, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    (void)snprintf(cmd, sizeof cmd, "timeout 60 docker image rm %s >/dev/null 2>&1", g_image);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", g_image);
        failed++;
    }
    return failed;
}
