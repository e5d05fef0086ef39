/* The Agent running microservices for the real Controller on the real Docker Engine, images built
 * locally (scripts/test-image.sh, registry from_cache): creation to RUNNING, an env change
 * recreating the container, stop and start, kill -9 of the agent and adoption of the same
 * containers, offline operation from the cache with the Controller gone, a missing image reported
 * as FAILED while the rest runs, delete, delete with cleanup removing the image, and a private
 * registry (docker-registry with htpasswd) pulled with the credentials the Controller holds, and
 * an image snapshot asked for through the Controller, exported by the agent and downloaded. */
#include "agent/agent_testutil.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define IMAGE         "iofog-agent-e2e/busy:1"
#define IMAGE_CLEANUP "iofog-agent-e2e/cleanup:1"

struct ctx {
    struct agent_fixture *a;
    int app_id;
};

static void container_id(const char *msvc, char *out, size_t len) {
    agent_sh(out, len, "docker inspect -f '{{.Id}}' iofog_%s 2>/dev/null", msvc);
}

static void container_state(const char *msvc, char *out, size_t len) {
    agent_sh(out, len, "docker inspect -f '{{.State.Status}}' iofog_%s 2>/dev/null", msvc);
}

static int count_containers(const char *node) {
    char out[64];
    agent_sh(out, sizeof out, "docker ps -aq --filter label=iofog-uuid=%s | wc -l", node);
    return atoi(out);
}

/* The Controller's view of a microservice's status (and error), "" when unknown. */
static void msvc_status(
    struct agent_fixture *a, const char *uuid, char *st, size_t len, char *err, size_t err_len) {
    json_t *ans = NULL;
    st[0] = '\0';
    if (err != NULL) {
        err[0] = '\0';
    }
    if (api_callf(a->ctl, "GET", a->user, NULL, &ans, "/api/v3/microservices/%s", uuid) == 200) {
        json_t *s = json_object_get(ans, "status");
        (void)snprintf(st,
                       len,
                       "%s",
                       json_string_value(json_object_get(s, "status")) != NULL
                           ? json_string_value(json_object_get(s, "status"))
                           : "");
        if (err != NULL) {
            const char *e = json_string_value(json_object_get(s, "errorMessage"));
            (void)snprintf(err, err_len, "%s", e != NULL ? e : "");
        }
    }
    json_decref(ans);
}

/* Waits until the Controller shows status want; returns the ms it took, -1 on timeout. */
static int64_t
wait_msvc(struct agent_fixture *a, const char *uuid, const char *want, int timeout_ms) {
    int64_t t0 = iof_time_mono_ms();
    char st[32] = "";
    while (iof_time_mono_ms() - t0 < timeout_ms) {
        msvc_status(a, uuid, st, sizeof st, NULL, 0);
        if (strcmp(st, want) == 0) {
            return iof_time_mono_ms() - t0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "microservice %s: wanted %s, last %s\n", uuid, want, st);
    return -1;
}

static int wait_container(const char *msvc, const char *state, int timeout_ms) {
    int64_t t0 = iof_time_mono_ms();
    char st[32];
    do {
        container_state(msvc, st, sizeof st);
        if (strcmp(st, state) == 0) {
            return 0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    } while (iof_time_mono_ms() - t0 < timeout_ms);
    fprintf(stderr, "container iofog_%s: wanted %s, last '%s'\n", msvc, state, st);
    return -1;
}

/* Adds a microservice to the test application; returns its uuid in out. */
static void add_msvc(struct ctx *c, const char *name, const char *image, char out[64]) {
    char body[512];
    (void)snprintf(body,
                   sizeof body,
                   "{\"name\":\"%s\",\"application\":\"e2e\",\"iofogUuid\":\"%s\","
                   "\"registryId\":2,\"config\":\"{}\","
                   "\"images\":[{\"containerImage\":\"%s\",\"fogTypeId\":1}]}",
                   name,
                   c->a->node,
                   image);
    json_t *ans = NULL;
    assert_int_equal(api_call(c->a->ctl, "POST", "/api/v3/microservices", c->a->user, body, &ans),
                     201);
    (void)snprintf(out, 64, "%s", jstr(ans, "uuid"));
    json_decref(ans);
}

static int setup(void **state) {
    if (system("bash scripts/dockerd.sh start >/dev/null 2>&1") != 0 ||
        system("bash scripts/test-image.sh " IMAGE " >/dev/null") != 0 ||
        system("bash scripts/test-image.sh " IMAGE_CLEANUP " >/dev/null") != 0) {
        fprintf(stderr, "no Docker Engine or no test image\n");
        return -1;
    }
    struct ctx *c = calloc(1, sizeof *c);
    c->a = agent_fixture_new("edge-e2e");
    if (c->a == NULL) {
        return -1;
    }
    if (agent_fixture_app(c->a, "e2e") != 0) {
        return -1;
    }
    if (agent_fixture_provision(c->a, 5000) != 0) {
        fprintf(stderr, "agent did not come up\n");
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    struct ctx *c = *state;
    char out[256];
    int rc = agent_daemon_stop(c->a);
    agent_sh(out, sizeof out, "bash agent/registry_test.sh stop %s/registry 2>&1", c->a->ctl->dir);
    int left = count_containers(c->a->node);
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

static void test_lifecycle(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char m1[64], id1[128], id2[128];

    add_msvc(c, "busy", IMAGE, m1);
    int64_t ms = wait_msvc(a, m1, "RUNNING", 10000);
    assert_true(ms >= 0);
    printf("creation -> RUNNING in the Controller: %lld ms\n", (long long)ms);
    assert_true(ms <= 2000);
    container_id(m1, id1, sizeof id1);
    assert_int_equal(strlen(id1), 64);

    /* The container as the spec README wants it. */
    char out[512];
    agent_sh(
        out,
        sizeof out,
        "docker inspect -f '{{.HostConfig.Privileged}} {{index .Config.Labels \"iofog-uuid\"}}' "
        "iofog_%s",
        m1);
    char want[128];
    (void)snprintf(want, sizeof want, "false %s", a->node);
    assert_string_equal(out, want);
    agent_sh(out, sizeof out, "docker inspect -f '{{json .Config.Env}}' iofog_%s", m1);
    char selfname[100];
    (void)snprintf(selfname, sizeof selfname, "\"SELFNAME=%s\"", m1);
    assert_non_null(strstr(out, selfname));

    /* An env change recreates the container. */
    assert_int_equal(api_callf(a->ctl,
                               "PATCH",
                               a->user,
                               "{\"env\":[{\"key\":\"GREETING\",\"value\":\"hi\"}]}",
                               NULL,
                               "/api/v3/microservices/%s",
                               m1),
                     204);
    int64_t t0 = iof_time_mono_ms();
    do {
        container_id(m1, id2, sizeof id2);
        if (strlen(id2) == 64 && strcmp(id1, id2) != 0) {
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    } while (iof_time_mono_ms() - t0 < 10000);
    assert_string_not_equal(id1, id2);
    assert_int_equal(wait_container(m1, "running", 10000), 0);
    agent_sh(out, sizeof out, "docker inspect -f '{{json .Config.Env}}' iofog_%s", m1);
    assert_non_null(strstr(out, "GREETING=hi"));

    /* Stop keeps the container, start runs it again. */
    assert_int_equal(
        api_callf(a->ctl, "PATCH", a->user, NULL, NULL, "/api/v3/microservices/%s/stop", m1), 204);
    assert_int_equal(wait_container(m1, "exited", 15000), 0);
    assert_true(wait_msvc(a, m1, "STOPPED", 10000) >= 0);
    assert_int_equal(
        api_callf(a->ctl, "PATCH", a->user, NULL, NULL, "/api/v3/microservices/%s/start", m1), 204);
    assert_int_equal(wait_container(m1, "running", 15000), 0);
    assert_true(wait_msvc(a, m1, "RUNNING", 10000) >= 0);

    /* A missing image fails clearly; the rest keeps running. */
    char bad[64], st[32], err[512];
    add_msvc(c, "missing", "iofog-agent-e2e/does-not-exist:1", bad);
    assert_true(wait_msvc(a, bad, "FAILED", 15000) >= 0);
    msvc_status(a, bad, st, sizeof st, err, sizeof err);
    printf("missing image errorMessage: %s\n", err);
    assert_non_null(strstr(err, "does-not-exist"));
    assert_int_equal(wait_container(m1, "running", 1000), 0);

    /* Delete removes the container; delete with cleanup removes the image too. */
    assert_int_equal(
        api_callf(a->ctl, "DELETE", a->user, NULL, NULL, "/api/v3/microservices/%s", bad), 204);
    char m3[64];
    add_msvc(c, "cleanup", IMAGE_CLEANUP, m3);
    assert_true(wait_msvc(a, m3, "RUNNING", 10000) >= 0);
    assert_int_equal(api_callf(a->ctl,
                               "DELETE",
                               a->user,
                               "{\"withCleanup\":true}",
                               NULL,
                               "/api/v3/microservices/%s",
                               m3),
                     204);
    assert_int_equal(
        api_callf(a->ctl, "DELETE", a->user, NULL, NULL, "/api/v3/microservices/%s", m1), 204);
    t0 = iof_time_mono_ms();
    do {
        container_state(m1, st, sizeof st);
        container_state(m3, err, sizeof err);
        agent_sh(
            out, sizeof out, "docker image inspect " IMAGE_CLEANUP " >/dev/null 2>&1 && echo y");
        if (st[0] == '\0' && err[0] == '\0' && out[0] == '\0') {
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    } while (iof_time_mono_ms() - t0 < 15000);
    assert_string_equal(st, "");
    assert_string_equal(err, "");
    assert_string_equal(out, ""); /* the image is gone */
    agent_sh(out, sizeof out, "docker image inspect " IMAGE " >/dev/null 2>&1 && echo y");
    assert_string_equal(out, "y"); /* a plain delete keeps it */
}

static void test_restart_adopts_and_offline(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char m[3][64], before[3][128], after[128];
    for (int i = 0; i < 3; i++) {
        char name[16];
        (void)snprintf(name, sizeof name, "busy-%d", i);
        add_msvc(c, name, IMAGE, m[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_true(wait_msvc(a, m[i], "RUNNING", 15000) >= 0);
        container_id(m[i], before[i], sizeof before[i]);
    }
    assert_int_equal(count_containers(a->node), 3);

    /* kill -9 of the agent, then a restart: the same containers are adopted. */
    agent_daemon_kill9(a);
    assert_int_equal(agent_daemon_spawn(a), 0);
    assert_int_equal(agent_wait_status(a, ": ok", 10000), 0);
    sleep(2); /* give a wrong reconcile time to show itself */
    for (int i = 0; i < 3; i++) {
        container_id(m[i], after, sizeof after);
        assert_string_equal(before[i], after);
    }
    assert_int_equal(count_containers(a->node), 3);

    /* Controller gone: containers keep running, a killed one is restarted from the cache, also
     * across an agent restart. */
    api_kill9(a->ctl);
    agent_daemon_kill9(a);
    char out[256];
    agent_sh(out, sizeof out, "docker kill iofog_%s >/dev/null 2>&1; echo done", m[1]);
    assert_int_equal(agent_daemon_spawn(a), 0);
    assert_int_equal(wait_container(m[1], "running", 15000), 0);
    assert_int_equal(wait_container(m[0], "running", 1000), 0);
    assert_int_equal(wait_container(m[2], "running", 1000), 0);
    assert_int_equal(agent_wait_status(a, "not connected", 5000), 0);
    assert_int_equal(count_containers(a->node), 3);

    /* Controller back (new port): statuses converge. */
    assert_int_equal(api_spawn(a->ctl), 0);
    assert_int_equal(
        agent_cli(
            a, out, sizeof out, "config -a http://127.0.0.1:%u/api/v3/", (unsigned)a->ctl->port),
        0);
    assert_int_equal(agent_wait_status(a, ": ok", 15000), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(wait_msvc(a, m[i], "RUNNING", 15000) >= 0);
    }
}

/* A private registry with htpasswd auth, added to the Controller: the microservice is pulled
 * with the registry's credentials and runs; with a wrong password it is FAILED with the
 * registry's error. */
static void test_private_registry(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char dir[512], out[512];
    (void)snprintf(dir, sizeof dir, "%s/registry", a->ctl->dir);
    uint16_t port = api_free_port();
    char repo[64];
    (void)snprintf(repo, sizeof repo, "e2e-private-%ld", (long)getpid());
    char cmd[1200];
    (void)snprintf(cmd,
                   sizeof cmd,
                   "bash agent/registry_test.sh start %s %u " IMAGE " %s",
                   dir,
                   (unsigned)port,
                   repo);
    assert_int_equal(system(cmd), 0);

    char body[512];
    int ids[2];
    const char *passwords[2] = {"s3cret", "wrong"};
    for (int i = 0; i < 2; i++) {
        (void)snprintf(body,
                       sizeof body,
                       "{\"url\":\"127.0.0.1:%u\",\"isPublic\":false,\"username\":\"tester\","
                       "\"password\":\"%s\",\"email\":\"ops@example.com\"}",
                       (unsigned)port,
                       passwords[i]);
        json_t *ans = NULL;
        assert_int_equal(api_call(a->ctl, "POST", "/api/v3/registries", a->user, body, &ans), 201);
        ids[i] = (int)json_integer_value(json_object_get(ans, "id"));
        json_decref(ans);
    }
    char good[64], bad[64], image[160];
    (void)snprintf(image, sizeof image, "127.0.0.1:%u/%s:1", (unsigned)port, repo);
    const char *names[2] = {"private-ok", "private-denied"};
    char *uuids[2] = {good, bad};
    for (int i = 0; i < 2; i++) {
        (void)snprintf(body,
                       sizeof body,
                       "{\"name\":\"%s\",\"application\":\"e2e\",\"iofogUuid\":\"%s\","
                       "\"registryId\":%d,\"config\":\"{}\","
                       "\"images\":[{\"containerImage\":\"%s\",\"fogTypeId\":1}]}",
                       names[i],
                       a->node,
                       ids[i],
                       image);
        json_t *ans = NULL;
        assert_int_equal(api_call(a->ctl, "POST", "/api/v3/microservices", a->user, body, &ans),
                         201);
        (void)snprintf(uuids[i], 64, "%s", jstr(ans, "uuid"));
        json_decref(ans);
        if (i == 0) { /* the good one first, so the image is not cached for the bad one */
            int64_t ms = wait_msvc(a, good, "RUNNING", 30000);
            printf("pulled from the private registry and RUNNING after %lld ms\n", (long long)ms);
            assert_true(ms >= 0);
            agent_sh(out, sizeof out, "docker rmi -f %s >/dev/null 2>&1; echo", image);
        }
    }
    /* The denied one may find the image gone (removed above while the good container runs) */
    char st[32], err[512];
    assert_true(wait_msvc(a, bad, "FAILED", 30000) >= 0);
    msvc_status(a, bad, st, sizeof st, err, sizeof err);
    printf("wrong password: %s\n", err);
    assert_non_null(strstr(err, "unauthorized"));

    (void)snprintf(cmd, sizeof cmd, "bash agent/registry_test.sh stop %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* POST .../image-snapshot to the Controller: the agent exports the image of the container
 * (docker save, gzip) and uploads it; the user downloads a gzipped tar with the image inside. */
static void test_image_snapshot(void **state) {
    struct ctx *c = *state;
    struct agent_fixture *a = c->a;
    char m[64];
    add_msvc(c, "snap", IMAGE, m);
    assert_true(wait_msvc(a, m, "RUNNING", 10000) >= 0);
    int64_t t0 = iof_time_mono_ms();
    assert_int_equal(
        api_callf(
            a->ctl, "POST", a->user, NULL, NULL, "/api/v3/microservices/%s/image-snapshot", m),
        201);
    char file[600], out[256];
    (void)snprintf(file, sizeof file, "%s/snapshot-download.tar.gz", a->dir);
    bool ready = false;
    while (!ready && iof_time_mono_ms() - t0 < 30000) {
        agent_sh(out,
                 sizeof out,
                 "curl -s -o %s -w '%%{http_code}' -H 'Authorization: %s' "
                 "http://127.0.0.1:%u/api/v3/microservices/%s/image-snapshot",
                 file,
                 a->user,
                 (unsigned)a->ctl->port,
                 m);
        ready = strcmp(out, "200") == 0;
        if (!ready) {
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
    }
    assert_true(ready);
    printf("image snapshot downloadable %lld ms after the request\n",
           (long long)(iof_time_mono_ms() - t0));
    /* a gzipped docker-save tar: manifest.json names the image the container runs */
    char manifest[4096];
    agent_sh(manifest, sizeof manifest, "tar -xzOf %s manifest.json", file);
    assert_non_null(strstr(manifest, "\"RepoTags\":[\"" IMAGE "\"]"));
    /* the export's temporary file is gone, and the flag was consumed */
    agent_sh(out, sizeof out, "ls %s | grep -c '^image-snapshot-' || true", a->dir);
    assert_string_equal(out, "0");
    assert_int_equal(unlink(file), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_adopts_and_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_snapshot, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
