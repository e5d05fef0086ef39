/* Integration tests of the container engine against the real Docker Engine: images are built
 * locally with scripts/test-image.sh (no pulls) and a private registry is Debian's docker-registry
 * on 127.0.0.1. Every container and image created here carries the prefix of this process
 * ("wtengt<pid>") and is removed in the group teardown, also after a failure. */
#include "agent/engine/docker.h"
#include "agent/engine/engine.h"
#include "agent/engine/spec.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char prefix[32];    /* "wtengt<pid>" */
static char image_run[96]; /* sleeps, stops at once on SIGTERM */
static char image_two[96]; /* a second copy, for deleteWithCleanup */
static char image_crash[96];
static char pushed[2][200]; /* registry copies, removed by the teardown */
static char agent_a[64];
static char agent_b[64];
static struct agent_docker *dk;
static atomic_int changes;

static void on_change(void *ctx) {
    (void)ctx;
    atomic_fetch_add(&changes, 1);
}

/* Cleanup calls whose failure changes nothing. */
static void best_effort(iof_err err) {
    (void)err;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int run(const char *fmt, ...) IOF_PRINTF(1, 2);
static int run(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void uuid_of(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s-%s", prefix, name);
}

/* Engines a test started; freed by its teardown too, so a failed test leaves none running. */
static struct agent_engine *live[4];

static void free_engine(struct agent_engine *e) {
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        if (live[i] == e) {
            live[i] = NULL;
        }
    }
    agent_engine_free(e);
}

static pid_t registry_pid;    /* a docker-registry this process started, stopped by teardowns */
static char registry_dir[64]; /* its files */

static void stop_registry(void) {
    if (registry_pid > 0) {
        kill(registry_pid, SIGTERM);
        int st = 0;
        waitpid(registry_pid, &st, 0);
        registry_pid = 0;
    }
    if (registry_dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", registry_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot remove %s\n", registry_dir);
        }
        registry_dir[0] = '\0';
    }
}

static int free_engines(void **state) {
    (void)state;
    stop_registry();
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        agent_engine_free(live[i]);
        live[i] = NULL;
    }
    return 0;
}

static struct agent_engine *new_engine(const char *agent) {
    struct agent_engine_config cfg = {
        .agent_uuid = agent,
        .time_zone = "Etc/UTC",
        .on_change = on_change,
        .stop_timeout_s = 5,
        .restart_backoff_ms = 100,
    };
    struct agent_engine *e = NULL;
    assert_int_equal(agent_engine_new(&cfg, &e), IOF_OK);
    assert_int_equal(agent_engine_start(e), IOF_OK);
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        if (live[i] == NULL) {
            live[i] = e;
            return e;
        }
    }
    fail_msg("too many engines");
    return e;
}

/* The status entry of a microservice (new reference) or NULL. */
static json_t *status_of(struct agent_engine *e, const char *uuid) {
    json_t *all = NULL;
    assert_int_equal(agent_engine_status_json(e, &all), IOF_OK);
    size_t i;
    json_t *s;
    json_t *found = NULL;
    json_array_foreach(all, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "id")), uuid) == 0) {
            found = json_incref(s);
        }
    }
    json_decref(all);
    return found;
}

/* Waits (bounded) until the microservice has the status; returns its entry (new reference). */
static json_t *wait_status(struct agent_engine *e, const char *uuid, const char *want, long ms) {
    int64_t deadline = iof_time_mono_ms() + ms;
    json_t *s = NULL;
    while (iof_time_mono_ms() < deadline) {
        s = status_of(e, uuid);
        const char *st = json_string_value(json_object_get(s, "status"));
        if (st != NULL && strcmp(st, want) == 0) {
            return s;
        }
        json_decref(s);
        s = NULL;
        sleep_ms(50);
    }
    s = status_of(e, uuid);
    char *text = s != NULL ? json_dumps(s, 0) : NULL;
    fail_msg("%s did not reach %s within %ld ms; last: %s", uuid, want, ms, text ? text : "none");
    return NULL;
}

static const char *str(const json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "";
}

static json_t *inspect(const char *id) {
    json_t *c = NULL;
    iof_err err = agent_docker_inspect(dk, id, &c, NULL);
    return err == IOF_OK ? c : NULL;
}

static bool is_running(const json_t *c) {
    return json_is_true(json_object_get(json_object_get(c, "State"), "Running"));
}

static size_t count_containers(const char *agent, const char *msvc) {
    json_t *list = NULL;
    assert_int_equal(agent_docker_list(dk, agent, &list, NULL), IOF_OK);
    size_t n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *m = json_string_value(
            json_object_get(json_object_get(c, "Labels"), AGENT_LABEL_MICROSERVICE));
        n += msvc == NULL || (m != NULL && strcmp(m, msvc) == 0);
    }
    json_decref(list);
    return n;
}

static bool image_exists(const char *ref) {
    bool present = false;
    assert_int_equal(agent_docker_image_exists(dk, ref, &present, NULL), IOF_OK);
    return present;
}

/* A from_cache descriptor (registry 2) with optional env A=<value> and extra keys from `extra`. */
static json_t *msvc(const char *uuid, const char *image, const char *env_a, const char *extra) {
    json_t *m = json_pack("{s:s, s:s, s:i, s:[], s:i}",
                          "uuid",
                          uuid,
                          "imageId",
                          image,
                          "registryId",
                          2,
                          "env",
                          "logSize",
                          1);
    if (env_a != NULL) {
        json_array_append_new(json_object_get(m, "env"),
                              json_pack("{s:s, s:s}", "key", "A", "value", env_a));
    }
    if (extra != NULL) {
        json_error_t je;
        json_t *x = json_loads(extra, 0, &je);
        assert_non_null(x);
        json_object_update(m, x);
        json_decref(x);
    }
    return m;
}

static json_t *registries(const char *private_url, const char *password) {
    json_t *r = json_pack("[{s:i, s:s, s:b}, {s:i, s:s, s:b}]",
                          "id",
                          1,
                          "url",
                          "registry.hub.docker.com",
                          "isPublic",
                          1,
                          "id",
                          2,
                          "url",
                          "from_cache",
                          "isPublic",
                          1);
    if (private_url != NULL) {
        json_array_append_new(r,
                              json_pack("{s:i, s:s, s:b, s:s, s:s, s:s}",
                                        "id",
                                        3,
                                        "url",
                                        private_url,
                                        "isPublic",
                                        0,
                                        "username",
                                        "tester",
                                        "password",
                                        password,
                                        "userEmail",
                                        "t@example.com"));
        json_array_append_new(r,
                              json_pack("{s:i, s:s, s:b, s:s, s:s, s:s}",
                                        "id",
                                        4,
                                        "url",
                                        private_url,
                                        "isPublic",
                                        0,
                                        "username",
                                        "tester",
                                        "password",
                                        "wrong",
                                        "userEmail",
                                        "t@example.com"));
    }
    return r;
}

static void set_desired(struct agent_engine *e, json_t *list, json_t *regs) {
    assert_int_equal(agent_engine_set_desired(e, list, regs), IOF_OK);
    json_decref(list);
    json_decref(regs);
}

static void remove_agent_containers(const char *agent) {
    json_t *list = NULL;
    if (agent_docker_list(dk, agent, &list, NULL) != IOF_OK) {
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        best_effort(
            agent_docker_remove(dk, json_string_value(json_object_get(c, "Id")), true, NULL));
    }
    json_decref(list);
}

static int group_setup(void **state) {
    (void)state;
    if (iof_log_init_from_env() != IOF_OK) {
        fprintf(stderr, "IOFOG_LOG_LEVEL is invalid\n");
    }
    snprintf(prefix, sizeof prefix, "wtengt%ld", (long)getpid());
    snprintf(image_run, sizeof image_run, "%s-run:1", prefix);
    snprintf(image_two, sizeof image_two, "%s-two:1", prefix);
    snprintf(image_crash, sizeof image_crash, "%s-crash:1", prefix);
    snprintf(agent_a, sizeof agent_a, "%s-agent-a", prefix);
    snprintf(agent_b, sizeof agent_b, "%s-agent-b", prefix);
    if (run("bash scripts/dockerd.sh start >/dev/null") != 0 ||
        run("bash scripts/test-image.sh %s >/dev/null", image_run) != 0 ||
        run("bash scripts/test-image.sh %s >/dev/null", image_two) != 0 ||
        run("bash scripts/test-image.sh %s /bin/sh -c 'sleep 0.2; exit 3' >/dev/null",
            image_crash) != 0) {
        fprintf(stderr, "no Docker Engine or cannot build the test images\n");
        return -1;
    }
    if (agent_docker_new(NULL, 30000, &dk, NULL) != IOF_OK) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (dk == NULL) {
        return 0;
    }
    remove_agent_containers(agent_a);
    remove_agent_containers(agent_b);
    char name[128];
    snprintf(name, sizeof name, "iofog_%s-foreign", prefix);
    best_effort(agent_docker_remove(dk, name, true, NULL));
    const char *images[] = {image_run, image_two, image_crash, pushed[0], pushed[1]};
    for (size_t i = 0; i < 5; i++) {
        if (images[i][0] == '\0') {
            continue;
        }
        best_effort(agent_docker_image_remove(dk, images[i], NULL));
    }
    char vol[96];
    snprintf(vol, sizeof vol, "/volumes/%s-vol", prefix);
    long status = 0;
    best_effort(agent_docker_call(dk, "DELETE", vol, NULL, NULL, &status, NULL, NULL));
    agent_docker_free(dk);
    dk = NULL;
    return 0;
}

/* m2 mounts /tmp read-only and a named volume <prefix>-vol. */
#define M2_VOLUMES                                                                                 \
    "{\"volumeMappings\":[{\"hostDestination\":\"/tmp\",\"containerDestination\":\"/host-tmp\","   \
    "\"accessMode\":\"ro\",\"type\":\"bind\"},{\"hostDestination\":\"%s-vol\","                    \
    "\"containerDestination\":\"/v\",\"type\":\"volume\"}]}"

/* from_cache runs; env change recreates; STOPPED/RUNNING; a killed container is restarted;
 * delete and deleteWithCleanup remove the container (and the image). */
static void test_lifecycle(void **state) {
    (void)state;
    char m2_extra[512];
    snprintf(m2_extra, sizeof m2_extra, M2_VOLUMES, prefix);
    char m1[96];
    char m2[96];
    uuid_of(m1, sizeof m1, "m1");
    uuid_of(m2, sizeof m2, "m2");
    struct agent_engine *e = new_engine(agent_a);
    int64_t t0 = iof_time_mono_ms();
    json_t *list =
        json_pack("[o, o]", msvc(m1, image_run, "1", NULL), msvc(m2, image_two, NULL, m2_extra));
    set_desired(e, list, registries(NULL, NULL));
    assert_true(agent_engine_converging(e) || agent_engine_running_count(e) == 2);
    json_t *s = wait_status(e, m1, "RUNNING", 20000);
    int64_t took = iof_time_mono_ms() - t0;
    json_decref(wait_status(e, m2, "RUNNING", 20000));
    printf("from_cache microservice RUNNING after %lld ms\n", (long long)took);
    assert_int_equal(agent_engine_running_count(e), 2);
    assert_false(agent_engine_converging(e));
    int64_t until = iof_time_mono_ms() + 5000;
    while (atomic_load(&changes) == 0 && iof_time_mono_ms() < until) {
        sleep_ms(20);
    }
    assert_true(atomic_load(&changes) > 0);
    char id1[AGENT_DOCKER_ID_MAX];
    snprintf(id1, sizeof id1, "%s", str(s, "containerId"));
    assert_true(json_integer_value(json_object_get(s, "startTime")) > 0);
    json_decref(s);

    /* the container as specified */
    json_t *c = inspect(id1);
    assert_non_null(c);
    char want_name[128];
    snprintf(want_name, sizeof want_name, "/iofog_%s", m1);
    assert_string_equal(str(c, "Name"), want_name);
    json_t *cfg = json_object_get(c, "Config");
    json_t *labels = json_object_get(cfg, "Labels");
    assert_string_equal(str(labels, "iofog-uuid"), agent_a);
    assert_string_equal(str(labels, "iofog-microservice"), m1);
    json_t *env = json_object_get(cfg, "Env");
    char self[128];
    snprintf(self, sizeof self, "SELFNAME=%s", m1);
    assert_string_equal(json_string_value(json_array_get(env, 0)), self);
    assert_string_equal(json_string_value(json_array_get(env, 1)), "TZ=Etc/UTC");
    json_t *hc = json_object_get(c, "HostConfig");
    assert_false(json_is_true(json_object_get(hc, "Privileged")));
    assert_string_equal(str(json_object_get(hc, "RestartPolicy"), "Name"), "no");
    assert_string_equal(str(hc, "CpusetCpus"), "");
    json_t *hosts = json_object_get(hc, "ExtraHosts");
    assert_int_equal(json_array_size(hosts), 1);
    char gw[64];
    assert_int_equal(agent_engine_bridge_gateway(e, gw, sizeof gw), IOF_OK);
    char iofog_host[96];
    snprintf(iofog_host, sizeof iofog_host, "iofog:%s", gw);
    assert_string_equal(json_string_value(json_array_get(hosts, 0)), iofog_host);
    json_decref(c);

    /* m2's mounts: the bind read-only, the named volume read-write */
    s = status_of(e, m2);
    c = inspect(str(s, "containerId"));
    json_decref(s);
    assert_non_null(c);
    json_t *mounts = json_object_get(c, "Mounts");
    assert_int_equal(json_array_size(mounts), 2);
    size_t mi;
    json_t *mount;
    json_array_foreach(mounts, mi, mount) {
        if (strcmp(str(mount, "Destination"), "/host-tmp") == 0) {
            assert_string_equal(str(mount, "Type"), "bind");
            assert_false(json_is_true(json_object_get(mount, "RW")));
        } else {
            assert_string_equal(str(mount, "Destination"), "/v");
            assert_string_equal(str(mount, "Type"), "volume");
            assert_true(json_is_true(json_object_get(mount, "RW")));
        }
    }
    json_decref(c);

    /* an unchanged desired state changes nothing */
    list = json_pack("[o, o]", msvc(m1, image_run, "1", NULL), msvc(m2, image_two, NULL, m2_extra));
    set_desired(e, list, registries(NULL, NULL));
    sleep_ms(300);
    s = wait_status(e, m1, "RUNNING", 5000);
    assert_string_equal(str(s, "containerId"), id1);
    json_decref(s);

    /* env change: recreated */
    t0 = iof_time_mono_ms();
    list = json_pack("[o, o]", msvc(m1, image_run, "2", NULL), msvc(m2, image_two, NULL, m2_extra));
    set_desired(e, list, registries(NULL, NULL));
    int64_t deadline = iof_time_mono_ms() + 20000;
    char id2[AGENT_DOCKER_ID_MAX] = "";
    while (iof_time_mono_ms() < deadline) {
        s = status_of(e, m1);
        if (strcmp(str(s, "status"), "RUNNING") == 0 && strcmp(str(s, "containerId"), id1) != 0) {
            snprintf(id2, sizeof id2, "%s", str(s, "containerId"));
            json_decref(s);
            break;
        }
        json_decref(s);
        sleep_ms(50);
    }
    assert_string_not_equal(id2, "");
    printf("env change: recreated in %lld ms\n", (long long)(iof_time_mono_ms() - t0));
    assert_null(inspect(id1));
    assert_int_equal(count_containers(agent_a, m1), 1);

    /* STOPPED stops it, RUNNING starts it again (same container) */
    list = json_pack("[o, o]",
                     msvc(m1, image_run, "2", "{\"desiredState\":\"STOPPED\"}"),
                     msvc(m2, image_two, NULL, m2_extra));
    set_desired(e, list, registries(NULL, NULL));
    json_decref(wait_status(e, m1, "STOPPED", 15000));
    c = inspect(id2);
    assert_non_null(c);
    assert_false(is_running(c));
    json_decref(c);
    assert_int_equal(agent_engine_running_count(e), 1);
    list = json_pack("[o, o]",
                     msvc(m1, image_run, "2", "{\"desiredState\":\"RUNNING\"}"),
                     msvc(m2, image_two, NULL, m2_extra));
    set_desired(e, list, registries(NULL, NULL));
    s = wait_status(e, m1, "RUNNING", 15000);
    assert_string_equal(str(s, "containerId"), id2);
    json_decref(s);

    /* docker kill: noticed through the events stream and restarted */
    c = inspect(id2);
    char started[64];
    snprintf(started, sizeof started, "%s", str(json_object_get(c, "State"), "StartedAt"));
    json_decref(c);
    char path[256];
    snprintf(path, sizeof path, "/containers/%s/kill", id2);
    long status = 0;
    t0 = iof_time_mono_ms();
    assert_int_equal(agent_docker_call(dk, "POST", path, NULL, NULL, &status, NULL, NULL), IOF_OK);
    assert_int_equal(status, 204);
    bool restarted = false;
    deadline = iof_time_mono_ms() + 15000;
    while (!restarted && iof_time_mono_ms() < deadline) {
        sleep_ms(50);
        c = inspect(id2);
        restarted = c != NULL && is_running(c) &&
                    strcmp(str(json_object_get(c, "State"), "StartedAt"), started) != 0;
        json_decref(c);
    }
    assert_true(restarted);
    printf("killed container running again after %lld ms\n", (long long)(iof_time_mono_ms() - t0));
    json_decref(wait_status(e, m1, "RUNNING", 5000));

    /* rebuild: recreated once, not again while the flag stays set */
    s = status_of(e, m2);
    char old2[AGENT_DOCKER_ID_MAX];
    snprintf(old2, sizeof old2, "%s", str(s, "containerId"));
    json_decref(s);
    char rebuild_extra[600];
    snprintf(rebuild_extra,
             sizeof rebuild_extra,
             "%.*s,\"rebuild\":true}",
             (int)strlen(m2_extra) - 1,
             m2_extra);
    for (int round = 0; round < 2; round++) {
        list = json_pack(
            "[o, o]", msvc(m1, image_run, "2", NULL), msvc(m2, image_two, NULL, rebuild_extra));
        set_desired(e, list, registries(NULL, NULL));
        deadline = iof_time_mono_ms() + 15000;
        bool recreated = false;
        while (!recreated && iof_time_mono_ms() < deadline) {
            s = status_of(e, m2);
            recreated = strcmp(str(s, "status"), "RUNNING") == 0 &&
                        strcmp(str(s, "containerId"), old2) != 0;
            if (recreated) {
                snprintf(old2, sizeof old2, "%s", str(s, "containerId"));
            }
            json_decref(s);
            if (round == 1) {
                sleep_ms(1500); /* give a wrong second recreate time to show */
                s = status_of(e, m2);
                recreated = strcmp(str(s, "containerId"), old2) != 0;
                json_decref(s);
                break;
            }
            sleep_ms(50);
        }
        assert_true(round == 0 ? recreated : !recreated);
    }
    assert_int_equal(count_containers(agent_a, m2), 1);

    /* delete removes the container; deleteWithCleanup the image too */
    list = json_pack("[o, o]",
                     msvc(m1, image_run, "2", "{\"delete\":true}"),
                     msvc(m2, image_two, NULL, "{\"deleteWithCleanup\":true}"));
    set_desired(e, list, registries(NULL, NULL));
    json_decref(wait_status(e, m1, "DELETED", 15000));
    json_decref(wait_status(e, m2, "DELETED", 15000));
    assert_int_equal(count_containers(agent_a, NULL), 0);
    assert_true(image_exists(image_run));
    assert_false(image_exists(image_two));

    /* no longer listed: forgotten */
    set_desired(e, json_array(), registries(NULL, NULL));
    deadline = iof_time_mono_ms() + 5000;
    while ((s = status_of(e, m1)) != NULL && iof_time_mono_ms() < deadline) {
        json_decref(s);
        sleep_ms(50);
    }
    assert_null(s);
    free_engine(e);
    assert_int_equal(run("bash scripts/test-image.sh %s >/dev/null", image_two), 0);
}

/* A second engine with the same agent uuid adopts running containers: same ids, no duplicates.
 * An engine of another agent, and a container named iofog_<x> without our label, are left alone. */
static void test_adoption_and_foreign(void **state) {
    (void)state;
    char m3[96];
    char m4[96];
    char foreign[96];
    uuid_of(m3, sizeof m3, "m3");
    uuid_of(m4, sizeof m4, "m4");
    uuid_of(foreign, sizeof foreign, "foreign");
    struct agent_engine *e = new_engine(agent_a);
    json_t *list = json_pack("[o, o]",
                             msvc(m3, image_run, "x", NULL),
                             msvc(m4, image_run, NULL, "{\"portMappings\":[]}"));
    set_desired(e, list, registries(NULL, NULL));
    json_t *s3 = wait_status(e, m3, "RUNNING", 20000);
    json_t *s4 = wait_status(e, m4, "RUNNING", 20000);
    free_engine(e); /* leaves the containers running */
    assert_int_equal(count_containers(agent_a, NULL), 2);

    int64_t t0 = iof_time_mono_ms();
    e = new_engine(agent_a);
    list = json_pack("[o, o]",
                     msvc(m3, image_run, "x", NULL),
                     msvc(m4, image_run, NULL, "{\"portMappings\":[]}"));
    set_desired(e, list, registries(NULL, NULL));
    json_t *a3 = wait_status(e, m3, "RUNNING", 10000);
    json_t *a4 = wait_status(e, m4, "RUNNING", 10000);
    printf("adopted 2 running containers in %lld ms\n", (long long)(iof_time_mono_ms() - t0));
    assert_string_equal(str(a3, "containerId"), str(s3, "containerId"));
    assert_string_equal(str(a4, "containerId"), str(s4, "containerId"));
    assert_int_equal(json_integer_value(json_object_get(a3, "startTime")),
                     json_integer_value(json_object_get(s3, "startTime")));
    sleep_ms(500);
    assert_int_equal(count_containers(agent_a, NULL), 2);
    json_decref(s3);
    json_decref(s4);
    json_decref(a3);
    json_decref(a4);

    /* a container named like ours without our label */
    char name[128];
    snprintf(name, sizeof name, "iofog_%s", foreign);
    json_t *body = json_pack("{s:s}", "Image", image_run);
    char fid[AGENT_DOCKER_ID_MAX];
    assert_int_equal(agent_docker_create(dk, name, body, fid, NULL), IOF_OK);
    json_decref(body);
    assert_int_equal(agent_docker_start(dk, fid, NULL), IOF_OK);
    list = json_pack("[o, o, o]",
                     msvc(m3, image_run, "x", NULL),
                     msvc(m4, image_run, NULL, "{\"portMappings\":[]}"),
                     msvc(foreign, image_run, NULL, NULL));
    set_desired(e, list, registries(NULL, NULL));
    json_t *f = wait_status(e, foreign, "FAILED", 10000);
    printf("foreign name: %s\n", str(f, "errorMessage"));
    assert_non_null(strstr(str(f, "errorMessage"), "does not manage"));
    json_decref(f);

    /* another agent's engine sees none of these containers and removes nothing */
    struct agent_engine *other = new_engine(agent_b);
    set_desired(other, json_array(), registries(NULL, NULL));
    sleep_ms(1000);
    free_engine(other);

    /* everything unlisted goes, the foreign container stays */
    set_desired(e, json_array(), registries(NULL, NULL));
    int64_t deadline = iof_time_mono_ms() + 15000;
    while (count_containers(agent_a, NULL) > 0 && iof_time_mono_ms() < deadline) {
        sleep_ms(50);
    }
    assert_int_equal(count_containers(agent_a, NULL), 0);
    json_t *c = inspect(fid);
    assert_non_null(c);
    assert_true(is_running(c));
    json_decref(c);
    assert_int_equal(agent_docker_remove(dk, fid, true, NULL), IOF_OK);
    free_engine(e);
}

/* Bad items become FAILED with a clear message while a good one runs. */
static void test_bad_input(void **state) {
    (void)state;
    char good[96];
    char noreg[96];
    char noimg[96];
    char badport[96];
    char malformed[96];
    uuid_of(good, sizeof good, "good");
    uuid_of(noreg, sizeof noreg, "noreg");
    uuid_of(noimg, sizeof noimg, "noimg");
    uuid_of(badport, sizeof badport, "badport");
    uuid_of(malformed, sizeof malformed, "malformed");
    char missing[128];
    snprintf(missing, sizeof missing, "%s-missing:1", prefix);
    struct agent_engine *e = new_engine(agent_a);
    json_t *list = json_pack("[o, o, o, o, o, i, {s:i}]",
                             msvc(good, image_run, NULL, NULL),
                             msvc(noreg, image_run, NULL, "{\"registryId\":99}"),
                             msvc(noimg, missing, NULL, NULL),
                             msvc(badport,
                                  image_run,
                                  NULL,
                                  "{\"portMappings\":[{\"portExternal\":0,\"portInternal\":80}]}"),
                             msvc(malformed, image_run, NULL, "{\"env\":\"A=1\"}"),
                             7,
                             "uuid",
                             5);
    set_desired(e, list, registries(NULL, NULL));
    json_decref(wait_status(e, good, "RUNNING", 20000));
    struct {
        const char *uuid;
        const char *needle;
    } want[] = {
        {noreg, "unknown registry id 99"},
        {noimg, "not found in the local cache"},
        {badport, "invalid port mapping 0:80"},
        {malformed, "Invalid format for field 'env'"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *s = wait_status(e, want[i].uuid, "FAILED", 10000);
        printf("FAILED %s: %s\n", want[i].uuid + strlen(prefix) + 1, str(s, "errorMessage"));
        if (strstr(str(s, "errorMessage"), want[i].needle) == NULL) {
            fail_msg("%s: '%s' lacks '%s'", want[i].uuid, str(s, "errorMessage"), want[i].needle);
        }
        json_decref(s);
    }
    assert_false(agent_engine_converging(e));
    assert_int_equal(agent_engine_running_count(e), 1);
    assert_int_equal(agent_engine_remove_all(e), IOF_OK);
    assert_int_equal(count_containers(agent_a, NULL), 0);
    free_engine(e);
}

/* A container that keeps exiting is restarted with backoff and then left STUCK_IN_RESTART. */
static void test_stuck_in_restart(void **state) {
    (void)state;
    char m[96];
    uuid_of(m, sizeof m, "crash");
    struct agent_engine *e = new_engine(agent_a);
    int64_t t0 = iof_time_mono_ms();
    set_desired(e, json_pack("[o]", msvc(m, image_crash, NULL, NULL)), registries(NULL, NULL));
    json_t *s = wait_status(e, m, "STUCK_IN_RESTART", 40000);
    printf("STUCK_IN_RESTART after %lld ms: %s\n",
           (long long)(iof_time_mono_ms() - t0),
           str(s, "errorMessage"));
    json_decref(s);
    /* left alone */
    json_t *list = NULL;
    assert_int_equal(agent_docker_list(dk, agent_a, &list, NULL), IOF_OK);
    assert_int_equal(json_array_size(list), 1);
    char id[AGENT_DOCKER_ID_MAX];
    snprintf(id, sizeof id, "%s", str(json_array_get(list, 0), "Id"));
    json_decref(list);
    sleep_ms(1500);
    s = status_of(e, m);
    assert_string_equal(str(s, "status"), "STUCK_IN_RESTART");
    json_decref(s);
    /* a changed descriptor gets a fresh start */
    set_desired(e, json_pack("[o]", msvc(m, image_run, NULL, NULL)), registries(NULL, NULL));
    json_decref(wait_status(e, m, "RUNNING", 20000));
    assert_int_equal(agent_engine_stop_all(e), IOF_OK);
    sleep_ms(1000); /* the engine must not bring it back */
    list = NULL;
    assert_int_equal(agent_docker_list(dk, agent_a, &list, NULL), IOF_OK);
    assert_int_equal(json_array_size(list), 1); /* stopped, not removed */
    assert_string_equal(str(json_array_get(list, 0), "State"), "exited");
    json_decref(list);
    assert_int_equal(agent_engine_remove_all(e), IOF_OK);
    assert_int_equal(count_containers(agent_a, NULL), 0);
    free_engine(e);
}

/* ---- private registry -------------------------------------------------------------------- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static bool port_answers(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void push(const char *local, const char *repo, const char *auth) {
    char path[512];
    snprintf(path, sizeof path, "/images/%s/tag?repo=%s&tag=1", local, repo);
    long status = 0;
    assert_int_equal(agent_docker_call(dk, "POST", path, NULL, NULL, &status, NULL, NULL), IOF_OK);
    assert_int_equal(status, 201);
    char header[1024];
    snprintf(header, sizeof header, "X-Registry-Auth: %s", auth);
    const char *headers[] = {header, NULL};
    snprintf(path, sizeof path, "/images/%s/push?tag=1", repo);
    assert_int_equal(agent_docker_call(dk, "POST", path, NULL, headers, &status, NULL, NULL),
                     IOF_OK);
    assert_int_equal(status, 200);
    char ref[256];
    snprintf(ref, sizeof ref, "%s:1", repo);
    assert_int_equal(agent_docker_image_remove(dk, ref, NULL), IOF_OK); /* the pull must fetch it */
    assert_false(image_exists(ref));
}

static void test_private_registry(void **state) {
    (void)state;
    int port = free_port();
    assert_true(port > 0);
    snprintf(registry_dir, sizeof registry_dir, "/tmp/wtengt-registry-XXXXXX");
    char *dir = registry_dir;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(
        run("python3 -W ignore -c \"import crypt; print('tester:' + crypt.crypt('s3cret', "
            "crypt.mksalt(crypt.METHOD_BLOWFISH)))\" > %s/htpasswd",
            dir),
        0);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/config.yml", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(
        f,
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n"
        "http:\n  addr: 127.0.0.1:%d\n  secret: test\nauth:\n  htpasswd:\n    realm: test\n"
        "    path: %s/htpasswd\n",
        dir,
        port,
        dir);
    fclose(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        registry_pid = pid;
    }
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM); /* no registry outlives a crashed test */
        char log[600];
        snprintf(log, sizeof log, "%s/registry.log", dir);
        if (freopen(log, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL) {
            _exit(126);
        }
        execl("/usr/bin/docker-registry", "docker-registry", "serve", cfg, (char *)NULL);
        _exit(127);
    }
    int64_t deadline = iof_time_mono_ms() + 10000;
    while (!port_answers(port) && iof_time_mono_ms() < deadline) {
        sleep_ms(50);
    }
    char url[64];
    snprintf(url, sizeof url, "127.0.0.1:%d", port);
    char repo_good[160];
    char repo_bad[160];
    snprintf(repo_good, sizeof repo_good, "%s/%s-good", url, prefix);
    snprintf(repo_bad, sizeof repo_bad, "%s/%s-bad", url, prefix);
    snprintf(pushed[0], sizeof pushed[0], "%s:1", repo_good);
    snprintf(pushed[1], sizeof pushed[1], "%s:1", repo_bad);
    char *auth = NULL;
    assert_int_equal(agent_spec_registry_auth("tester", "s3cret", "", url, &auth), IOF_OK);
    push(image_run, repo_good, auth);
    push(image_run, repo_bad, auth);
    free(auth);

    char good[96];
    char bad[96];
    uuid_of(good, sizeof good, "pulled");
    uuid_of(bad, sizeof bad, "denied");
    char ref_good[200];
    char ref_bad[200];
    snprintf(ref_good, sizeof ref_good, "%s:1", repo_good);
    snprintf(ref_bad, sizeof ref_bad, "%s:1", repo_bad);

    struct agent_engine *e = new_engine(agent_a);
    int64_t t0 = iof_time_mono_ms();
    set_desired(e,
                json_pack("[o, o]",
                          msvc(good, ref_good, NULL, "{\"registryId\":3}"),
                          msvc(bad, ref_bad, NULL, "{\"registryId\":4}")),
                registries(url, "s3cret"));
    json_t *s = wait_status(e, good, "RUNNING", 30000);
    printf("pulled from the private registry and RUNNING after %lld ms (percentage %lld)\n",
           (long long)(iof_time_mono_ms() - t0),
           (long long)json_integer_value(json_object_get(s, "percentage")));
    assert_int_equal(json_integer_value(json_object_get(s, "percentage")), 100);
    json_decref(s);
    s = wait_status(e, bad, "FAILED", 30000);
    printf("wrong password: %s\n", str(s, "errorMessage"));
    assert_non_null(strstr(str(s, "errorMessage"), "unauthorized"));
    json_decref(s);
    assert_false(image_exists(ref_bad));

    /* a failed pull of an image present locally runs the local copy */
    char fallback[96];
    uuid_of(fallback, sizeof fallback, "fallback");
    set_desired(e,
                json_pack("[o, o]",
                          msvc(good, ref_good, NULL, "{\"registryId\":3}"),
                          msvc(fallback, ref_good, NULL, "{\"registryId\":4}")),
                registries(url, "s3cret"));
    json_decref(wait_status(e, fallback, "RUNNING", 30000));

    assert_int_equal(agent_engine_remove_all(e), IOF_OK);
    free_engine(e);
    best_effort(agent_docker_image_remove(dk, ref_good, NULL));
    best_effort(agent_docker_image_remove(dk, ref_bad, NULL));
    stop_registry();
}

static void test_gateway_and_inline_commands(void **state) {
    (void)state;
    struct agent_engine *e = NULL;
    struct agent_engine_config bad = {.docker_url = "http://127.0.0.1:2375"};
    assert_int_equal(agent_engine_new(&bad, &e), IOF_EINVAL);
    assert_null(e);
    struct agent_engine_config cfg = {.agent_uuid = agent_b};
    assert_int_equal(agent_engine_new(&cfg, &e), IOF_OK);
    char gw[64];
    assert_int_equal(agent_engine_bridge_gateway(e, gw, sizeof gw), IOF_OK);
    assert_non_null(strchr(gw, '.'));
    /* without threads the commands run on the caller's thread */
    assert_int_equal(agent_engine_stop_all(e), IOF_OK);
    assert_int_equal(agent_engine_set_agent_uuid(e, agent_b), IOF_OK);
    agent_engine_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_lifecycle, free_engines),
        cmocka_unit_test_teardown(test_adoption_and_foreign, free_engines),
        cmocka_unit_test_teardown(test_bad_input, free_engines),
        cmocka_unit_test_teardown(test_stuck_in_restart, free_engines),
        cmocka_unit_test_teardown(test_private_registry, free_engines),
        cmocka_unit_test_teardown(test_gateway_and_inline_commands, free_engines),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
