/* The example images (scripts/build-example-images.sh) run as containers against the stand-in
 * Agent of sdk/testagent.h: config-echo prints each configuration, also after a change signal;
 * sensor publishes temperatures within its configured range and follows a change at once; viewer
 * serves the last N pushed messages as JSON on its configured port. Containers run with
 * --network host so that they reach the stand-in on 127.0.0.1; each is removed afterwards.
 * The images are built under the tag IOFOG_EXAMPLE_TAG (default 1) by the CTest fixture
 * sdk_example_images; a missing Docker Engine or image fails the test. */
#include "sdk/testagent.h"

#include "common/buf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char container[96];

static int run(const char *fmt, ...) IOF_PRINTF(1, 2);
static int run(const char *fmt, ...) {
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* The container's output so far (stdout and stderr), NUL-terminated in out. */
static void logs(char *out, size_t size) {
    char cmd[256];
    (void)snprintf(cmd, sizeof cmd, "timeout 30 docker logs %s 2>&1", container);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return;
    }
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    (void)pclose(p);
}

/* Waits until the container's output contains text. */
static bool wait_log(const char *text) {
    static char buf[65536];
    for (int i = 0; i < 100; i++) {
        logs(buf, sizeof buf);
        if (strstr(buf, text) != NULL) {
            return true;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "container output so far:\n%s\n", buf);
    return false;
}

static const char *image_tag(void) {
    const char *t = getenv("IOFOG_EXAMPLE_TAG");
    return t != NULL && t[0] != '\0' ? t : "1";
}

/* Fails the test when the image is missing. */
static void need_image(const char *name) {
    if (run("timeout 30 docker image inspect iofog-example/%s:%s >/dev/null 2>&1",
            name,
            image_tag()) != 0) {
        fail_msg("image iofog-example/%s:%s is missing: run the test through ctest (fixture "
                 "sdk_example_images) or scripts/build-example-images.sh",
                 name,
                 image_tag());
    }
}

static void
start_container(const struct agent *a, const char *image, const char *id, const char *extra) {
    (void)snprintf(container, sizeof container, "iofogsdktest-%ld-%s", (long)getpid(), image);
    int rc = run("timeout 60 docker run -d --name %s --network host -e SELFNAME=%s "
                 "-e IOFOG_AGENT_HOST=127.0.0.1 -e IOFOG_AGENT_PORT=%u %s iofog-example/%s:%s "
                 ">/dev/null",
                 container,
                 id,
                 (unsigned)a->port,
                 extra,
                 image,
                 image_tag());
    assert_int_equal(rc, 0);
}

static int setup_agent(void **state) {
    if (run("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        run("timeout 30 docker version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "no Docker Engine answers (scripts/dockerd.sh start)\n");
        return -1;
    }
    return setup(state);
}

static int teardown_agent(void **state) {
    if (container[0] != '\0') {
        (void)run("timeout 60 docker rm -f %s >/dev/null 2>&1", container);
        container[0] = '\0';
    }
    return *state != NULL ? teardown(state) : 0;
}

static void test_config_echo(void **state) {
    struct agent *a = *state;
    assert_non_null(a);
    need_image("config-echo");
    agent_set_config(a, "{\"greeting\":\"hello\"}");
    start_container(a, "config-echo", "echo-1", "");
    assert_true(agent_wait(a, &a->control_opens, 1));
    assert_true(wait_log("config {\"greeting\":\"hello\"}"));

    agent_set_config(a, "{\"greeting\":\"changed\"}");
    const uint8_t signal = 0x0C;
    agent_send(a, true, &signal, 1);
    assert_true(agent_wait(a, &a->control_acks, 1));
    assert_true(wait_log("config {\"greeting\":\"changed\"}"));

    assert_int_equal(run("timeout 60 docker stop -t 10 %s >/dev/null", container), 0);
    assert_true(wait_log("config-echo stopped after 2 configurations"));
}

static double temperature(struct agent *a, char *unit, size_t unit_size) {
    pthread_mutex_lock(&a->mu);
    json_t *j = json_loads(a->last_content, 0, NULL);
    pthread_mutex_unlock(&a->mu);
    assert_non_null(j);
    double t = json_number_value(json_object_get(j, "temperature"));
    (void)snprintf(unit, unit_size, "%s", json_string_value(json_object_get(j, "unit")));
    json_decref(j);
    return t;
}

static void test_sensor(void **state) {
    struct agent *a = *state;
    assert_non_null(a);
    need_image("sensor");
    agent_set_config(a, "{\"frequency\":50,\"minimum\":20,\"maximum\":21}");
    start_container(a, "sensor", "sensor-1", "");
    assert_true(agent_wait(a, &a->message_opens, 1));
    assert_true(wait_log("sensor config frequency=50 minimum=20 maximum=21"));
    pthread_mutex_lock(&a->mu);
    int base = a->frames;
    pthread_mutex_unlock(&a->mu);
    assert_true(agent_wait(a, &a->frames, base + 3));
    char unit[8];
    double t = temperature(a, unit, sizeof unit);
    assert_true(t >= 20.0 && t <= 21.0);
    assert_string_equal(unit, "C");
    assert_string_equal(a->last_publisher, "sensor-1");
    /* Receipts are acknowledged by the SDK. */
    assert_true(agent_wait(a, &a->message_acks, 3));

    /* New range, no restart. */
    agent_set_config(a, "{\"frequency\":50,\"minimum\":50,\"maximum\":50}");
    const uint8_t signal = 0x0C;
    agent_send(a, true, &signal, 1);
    assert_true(wait_log("sensor config frequency=50 minimum=50 maximum=50"));
    pthread_mutex_lock(&a->mu);
    base = a->frames;
    pthread_mutex_unlock(&a->mu);
    assert_true(agent_wait(a, &a->frames, base + 2));
    t = temperature(a, unit, sizeof unit);
    assert_true(t == 50.0);
    assert_int_equal(run("timeout 60 docker stop -t 10 %s >/dev/null", container), 0);
    assert_true(wait_log("sensor stopped after"));
}

static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ctx) {
    struct iof_buf *b = ctx;
    return iof_buf_append(b, ptr, size * nmemb) == IOF_OK ? size * nmemb : 0;
}

static void test_viewer(void **state) {
    struct agent *a = *state;
    assert_non_null(a);
    need_image("viewer");
    uint16_t port = free_port();
    char cfg[96];
    (void)snprintf(cfg, sizeof cfg, "{\"port\":%u,\"buffersize\":2}", (unsigned)port);
    agent_set_config(a, cfg);
    char env[64];
    (void)snprintf(env, sizeof env, "-e VIEWER_PORT=%u", (unsigned)port);
    start_container(a, "viewer", "viewer-1", env);
    assert_true(agent_wait(a, &a->message_opens, 1));
    assert_true(wait_log("viewer config"));

    static const char *const contents[] = {"m1", "m2", "m3"};
    for (int i = 0; i < 3; i++) {
        struct iof_msg m = {.version = 4,
                            .id = "id",
                            .timestamp = 1 + i,
                            .publisher = "sensor-1",
                            .infotype = "text",
                            .infoformat = "utf-8",
                            .contentdata = (const uint8_t *)contents[i],
                            .contentdata_len = 2};
        uint8_t *frame = NULL;
        size_t flen = 0;
        assert_int_equal(iof_msg_frame_encode(&m, &frame, &flen, NULL), IOF_OK);
        agent_send(a, false, frame, flen);
        free(frame);
    }
    assert_true(agent_wait(a, &a->message_acks, 3));

    char url[64];
    (void)snprintf(url, sizeof url, "http://127.0.0.1:%u/messages", (unsigned)port);
    struct iof_buf body;
    iof_buf_init(&body, 1 << 20);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &body), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L), CURLE_OK);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    assert_int_equal(status, 200);
    json_t *arr = json_loadb((const char *)body.data, body.len, 0, NULL);
    iof_buf_free(&body);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "contentdata")),
                        "bTI="); /* "m2" */
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "contentdata")),
                        "bTM="); /* "m3" */
    json_decref(arr);
    assert_int_equal(run("timeout 60 docker stop -t 10 %s >/dev/null", container), 0);
    assert_true(wait_log("viewer stopped after 3 messages"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_echo, setup_agent, teardown_agent),
        cmocka_unit_test_setup_teardown(test_sensor, setup_agent, teardown_agent),
        cmocka_unit_test_setup_teardown(test_viewer, setup_agent, teardown_agent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
