/* The Agent touches only what it owns, against the real Controller and Docker Engine: `prune`
 * removes the images the Agent pulled for microservices and no others (an image built by someone
 * else on the same engine survives); `deprovision` removes this node's containers and the offline
 * caches (the registries one holds passwords); a NATS URL where nothing listens is logged as
 * nats_connect_failed, not nats_connected. */
#include "agent/agent_testutil.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#define IMAGE       "iofog-agent-e2e/busy:1"    /* from_cache: built locally, never pulled */
#define IMAGE_OTHER "iofog-agent-own/foreign:1" /* another program's image, unused */
#define IMAGE_PUSH  "iofog-agent-own/pushed:1"  /* pushed to the test's registry (own image id) */

static bool image_exists(const char *ref) {
    char out[64];
    agent_sh(
        out, sizeof out, "docker image inspect %s >/dev/null 2>&1 && echo yes || echo no", ref);
    return strcmp(out, "yes") == 0;
}

static int count_containers(const char *node) {
    char out[64];
    agent_sh(out, sizeof out, "docker ps -aq --filter label=iofog-uuid=%s | wc -l", node);
    return atoi(out);
}

static void msvc_state(struct agent_fixture *a, const char *uuid, char *st, size_t len) {
    json_t *ans = NULL;
    st[0] = '\0';
    if (api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/microservices/%s", uuid) == 200) {
        const char *s =
            json_string_value(json_object_get(json_object_get(ans, "status"), "status"));
        (void)snprintf(st, len, "%s", s != NULL ? s : "");
    }
    json_decref(ans);
}

static int wait_msvc(struct agent_fixture *a, const char *uuid, const char *want, int timeout_ms) {
    int64_t end = iof_time_mono_ms() + timeout_ms;
    char st[32] = "";
    while (iof_time_mono_ms() < end) {
        msvc_state(a, uuid, st, sizeof st);
        if (strcmp(st, want) == 0) {
            return 0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "microservice %s: wanted %s, last %s\n", uuid, want, st);
    return -1;
}

static void add_msvc(struct agent_fixture *a,
                     const char *name,
                     const char *node,
                     int registry,
                     const char *image,
                     const char *extra,
                     char out[64]) {
    char body[1024];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"%s\",\"application\":\"own\",\"iofogUuid\":\"%s\","
                   "\"registryId\":%d,\"config\":\"{}\","
                   "\"images\":[{\"containerImage\":\"%s\",\"fogTypeId\":1}]%s}",
                   name,
                   node,
                   registry,
                   image,
                   extra);
    json_t *ans = NULL;
    assert_int_equal(api_call(a->ctl, "POST", "/api/v3/microservices", a->user, body, &ans), 201);
    (void)snprintf(out, 64, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("bash scripts/test-image.sh " IMAGE " >/dev/null") != 0) {
        fprintf(stderr, "no Docker Engine or no test image\n");
        return -1;
    }
    struct agent_fixture *a = agent_fixture_new("edge-own");
    if (a == NULL || agent_fixture_app(a, "own") != 0 || agent_fixture_provision(a, 5000) != 0) {
        return -1;
    }
    *state = a;
    return 0;
}

static int teardown(void **state) {
    struct agent_fixture *a = *state;
    char out[256];
    int rc = a->pid != 0 ? agent_daemon_stop(a) : 0;
    agent_sh(out, sizeof out, "bash agent/registry_test.sh stop %s/registry 2>&1", a->ctl->dir);
    agent_sh(out,
             sizeof out,
             "docker rm -f $(docker ps -aq --filter label=iofog-uuid=%s) 2>/dev/null",
             a->node);
    agent_sh(out, sizeof out, "docker rmi " IMAGE_OTHER " " IMAGE_PUSH " >/dev/null 2>&1; echo");
    int frc = agent_fixture_free(a);
    return rc == 0 && frc == 0 ? 0 : -1;
}

static void test_prune_removes_only_pulled_images(void **state) {
    struct agent_fixture *a = *state;
    char out[1024];
    /* Someone else's image on the same engine, used by no container. */
    assert_int_equal(system("bash scripts/test-image.sh " IMAGE_OTHER " >/dev/null"), 0);
    assert_true(image_exists(IMAGE_OTHER));

    /* An image the Agent pulls for a microservice, from a private registry of this test; its image
     * id differs from IMAGE's (another command), so IMAGE's container does not hold it. */
    assert_int_equal(
        system("bash scripts/test-image.sh " IMAGE_PUSH " sh -c 'sleep 3600' >/dev/null"), 0);
    char dir[512], repo[64], cmd[1200], image[160], body[512];
    (void)snprintf(dir, sizeof dir, "%s/registry", a->ctl->dir);
    uint16_t port = api_free_port();
    (void)snprintf(repo, sizeof repo, "own-pulled-%ld", (long)getpid());
    (void)snprintf(cmd,
                   sizeof cmd,
                   "bash agent/registry_test.sh start %s %u " IMAGE_PUSH " %s",
                   dir,
                   (unsigned)port,
                   repo);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(image, sizeof image, "127.0.0.1:%u/%s:1", (unsigned)port, repo);
    assert_false(image_exists(image));
    (void)snprintf(body,
                   sizeof body,
                   "{\"url\":\"127.0.0.1:%u\",\"isPublic\":false,\"username\":\"tester\","
                   "\"password\":\"s3cret\",\"email\":\"ops@example.com\"}",
                   (unsigned)port);
    json_t *ans = NULL;
    assert_int_equal(api_call(a->ctl, "POST", "/api/v3/registries", a->user, body, &ans), 201);
    int reg = (int)json_integer_value(json_object_get(ans, "id"));
    json_decref(ans);

    char pulled[64], local[64];
    add_msvc(a, "pulled", a->node, reg, image, "", pulled);
    add_msvc(a, "local", a->node, 2, IMAGE, "", local);
    assert_int_equal(wait_msvc(a, pulled, "RUNNING", 30000), 0);
    assert_int_equal(wait_msvc(a, local, "RUNNING", 30000), 0);
    assert_true(image_exists(image));

    /* While its container exists the pulled image stays. */
    assert_int_equal(agent_cli(a, out, sizeof out, "prune"), 0);
    assert_true(image_exists(image));

    /* The microservice goes; its image is now unused. */
    assert_int_equal(
        api_callf(a->ctl, "DELETE", a->user, NULL, NULL, "/api/v3/microservices/%s", pulled), 204);
    int64_t end = iof_time_mono_ms() + 30000;
    char id[128] = "x";
    while (iof_time_mono_ms() < end && id[0] != '\0') {
        agent_sh(id, sizeof id, "docker ps -aq --filter name=iofog_%s", pulled);
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    assert_string_equal(id, "");

    assert_int_equal(agent_cli(a, out, sizeof out, "prune"), 0);
    assert_false(image_exists(image));      /* pulled by the Agent: removed */
    assert_true(image_exists(IMAGE_OTHER)); /* not the Agent's: kept */
    assert_true(image_exists(IMAGE));       /* in use (and not pulled): kept */
    (void)snprintf(cmd, sizeof cmd, "bash agent/registry_test.sh stop %s", dir);
    assert_int_equal(system(cmd), 0);
}

static bool file_exists(const char *dir, const char *name) {
    char path[700];
    struct stat st;
    (void)snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void test_deprovision_removes_containers_and_caches(void **state) {
    struct agent_fixture *a = *state;
    char out[1024], uuid[64];
    add_msvc(a, "dep", a->node, 2, IMAGE, "", uuid);
    assert_int_equal(wait_msvc(a, uuid, "RUNNING", 30000), 0);
    assert_int_equal(count_containers(a->node), 1);
    assert_true(file_exists(a->dir, "cache/registries.json"));
    assert_true(file_exists(a->dir, "cache/microservices.json"));

    assert_int_equal(agent_cli(a, out, sizeof out, "deprovision"), 0);
    assert_int_equal(count_containers(a->node), 0);
    assert_false(file_exists(a->dir, "cache/registries.json"));
    assert_false(file_exists(a->dir, "cache/microservices.json"));
    assert_false(file_exists(a->dir, "cache/edge_resources.json"));
}

static int setup_nats(void **state) {
    /* A NATS URL on a port where nothing listens, handed out by the Controller. */
    char url[64];
    (void)snprintf(url, sizeof url, "nats://127.0.0.1:%u", (unsigned)api_free_port());
    setenv("IOFOG_CONTROLLER_NATS_URL", url, 1);
    int rc = setup(state);
    unsetenv("IOFOG_CONTROLLER_NATS_URL");
    return rc;
}

static void test_nats_connect_failed_is_logged(void **state) {
    struct agent_fixture *a = *state;
    /* A route to a microservice on another node makes the Agent open its NATS transport. */
    json_t *ans = NULL;
    assert_int_equal(api_call(a->ctl,
                              "POST",
                              "/api/v3/iofog",
                              a->user,
                              "{\"name\":\"elsewhere\",\"fogType\":1}",
                              &ans),
                     201);
    char remote_node[64], remote[64], local[64], extra[128];
    (void)snprintf(remote_node, sizeof remote_node, "%s", jstr(ans, "uuid"));
    json_decref(ans);
    add_msvc(a, "far", remote_node, 2, IMAGE, "", remote);
    (void)snprintf(extra, sizeof extra, ",\"routes\":[\"%s\"]", remote);
    add_msvc(a, "near", a->node, 2, IMAGE, extra, local);

    char log[512], out[2048];
    (void)snprintf(log, sizeof log, "%s.log", a->dir);
    int64_t end = iof_time_mono_ms() + 20000;
    out[0] = '\0';
    while (iof_time_mono_ms() < end) {
        agent_sh(out, sizeof out, "grep -o 'nats_connect[a-z_]*' %s | head -1", log);
        if (out[0] != '\0') {
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    assert_string_equal(out, "nats_connect_failed");
    agent_sh(out, sizeof out, "grep -c 'nats_connected' %s; true", log);
    assert_string_equal(out, "0");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prune_removes_only_pulled_images, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_deprovision_removes_containers_and_caches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nats_connect_failed_is_logged, setup_nats, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
