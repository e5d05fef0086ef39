/* Unit tests of descriptor validation and container create bodies: registries, env/TZ/SELFNAME
 * order, extra hosts, ports, volumes, log options, the spec hash, and the errors of bad shapes. */
#include "agent/engine/spec.h"

#include "common/base64.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static json_t *registries(void) {
    return json_pack("[{s:i, s:s, s:b}, {s:i, s:s, s:b}, {s:i, s:s, s:b, s:s, s:s, s:s}]",
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
                     1,
                     "id",
                     3,
                     "url",
                     "127.0.0.1:5000",
                     "isPublic",
                     0,
                     "username",
                     "u",
                     "password",
                     "p+w/d?",
                     "userEmail",
                     "u@example.com");
}

static json_t *load(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (v == NULL) {
        fail_msg("bad test JSON: %s", je.text);
    }
    return v;
}

static struct agent_spec *parse_ok(const char *text) {
    json_t *item = load(text);
    json_t *regs = registries();
    struct agent_spec *s = NULL;
    struct iof_diag d = {{0}};
    iof_err err = agent_spec_parse(item, regs, &s, &d);
    json_decref(item);
    json_decref(regs);
    if (err != IOF_OK) {
        fail_msg("%s: %s", text, d.msg);
    }
    return s;
}

static void expect_bad(const char *text, const char *needle) {
    json_t *item = load(text);
    json_t *regs = registries();
    struct agent_spec *s = NULL;
    struct iof_diag d = {{0}};
    iof_err err = agent_spec_parse(item, regs, &s, &d);
    json_decref(item);
    json_decref(regs);
    assert_int_equal(err, IOF_EINVAL);
    assert_null(s);
    if (strstr(d.msg, needle) == NULL) {
        fail_msg("%s: '%s' does not mention '%s'", text, d.msg, needle);
    }
}

static json_t *
body_of(const struct agent_spec *s, const char *tz, const char *addr, char hash[17]) {
    struct agent_spec_host h = {.agent_uuid = "agent-1", .host_address = addr, .time_zone = tz};
    json_t *b = NULL;
    assert_int_equal(agent_spec_body(s, &h, &b, hash), IOF_OK);
    return b;
}

static void test_full_descriptor(void **state) {
    (void)state;
    struct agent_spec *s = parse_ok(
        "{\"uuid\":\"m1\",\"imageId\":\"127.0.0.1:5000/ns/img:v2\",\"registryId\":3,"
        "\"rootHostAccess\":false,\"logSize\":10,"
        "\"portMappings\":[{\"portExternal\":8080,\"portInternal\":80,\"isUdp\":false},"
        "{\"portExternal\":5353,\"portInternal\":53,\"isUdp\":true}],"
        "\"volumeMappings\":[{\"hostDestination\":\"/srv/data\",\"containerDestination\":\"/data\","
        "\"accessMode\":\"ro\",\"type\":\"bind\"},{\"hostDestination\":\"vol1\","
        "\"containerDestination\":\"/v\",\"accessMode\":\"rw\",\"type\":\"volume\"}],"
        "\"env\":[{\"key\":\"A\",\"value\":\"1\"}],\"extraHosts\":[\"db:10.0.0.2\"],"
        "\"cmd\":[\"run\",\"--fast\"],\"config\":\"{}\",\"rebuild\":false,\"delete\":false}");
    assert_string_equal(s->uuid, "m1");
    assert_string_equal(s->image, "127.0.0.1:5000/ns/img:v2");
    assert_string_equal(s->ref.repo, "127.0.0.1:5000/ns/img");
    assert_false(s->from_cache);
    assert_true(s->desired_running);
    assert_non_null(s->registry_auth);
    /* the auth header decodes (after mapping back from base64url) to the credentials */
    char *std = strdup(s->registry_auth);
    for (char *p = std; *p != '\0'; p++) {
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    }
    uint8_t raw[512];
    size_t n = 0;
    assert_int_equal(iof_base64_decode(std, strlen(std), raw, sizeof raw - 1, &n), IOF_OK);
    raw[n] = '\0';
    free(std);
    json_t *auth = load((const char *)raw);
    assert_string_equal(json_string_value(json_object_get(auth, "username")), "u");
    assert_string_equal(json_string_value(json_object_get(auth, "password")), "p+w/d?");
    assert_string_equal(json_string_value(json_object_get(auth, "serveraddress")),
                        "127.0.0.1:5000");
    json_decref(auth);

    char hash[17];
    json_t *b = body_of(s, "Europe/Berlin", "172.17.0.1", hash);
    json_t *env = json_object_get(b, "Env");
    assert_int_equal(json_array_size(env), 3);
    assert_string_equal(json_string_value(json_array_get(env, 0)), "SELFNAME=m1");
    assert_string_equal(json_string_value(json_array_get(env, 1)), "TZ=Europe/Berlin");
    assert_string_equal(json_string_value(json_array_get(env, 2)), "A=1");
    json_t *hc = json_object_get(b, "HostConfig");
    assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "bridge");
    assert_false(json_is_true(json_object_get(hc, "Privileged")));
    assert_null(json_object_get(hc, "CpusetCpus"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name")), "no");
    json_t *hosts = json_object_get(hc, "ExtraHosts");
    assert_int_equal(json_array_size(hosts), 2);
    assert_string_equal(json_string_value(json_array_get(hosts, 1)), "iofog:172.17.0.1");
    json_t *pb = json_object_get(hc, "PortBindings");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(pb, "80/tcp"), 0), "HostPort")),
                        "8080");
    assert_non_null(json_object_get(pb, "53/udp"));
    assert_non_null(json_object_get(json_object_get(b, "ExposedPorts"), "53/udp"));
    json_t *binds = json_object_get(hc, "Binds");
    assert_string_equal(json_string_value(json_array_get(binds, 0)), "/srv/data:/data:ro");
    assert_string_equal(json_string_value(json_array_get(binds, 1)), "vol1:/v:rw");
    json_t *log = json_object_get(json_object_get(hc, "LogConfig"), "Config");
    assert_string_equal(json_string_value(json_object_get(log, "max-file")), "5");
    assert_string_equal(json_string_value(json_object_get(log, "max-size")), "2048k");
    json_t *cmd = json_object_get(b, "Cmd");
    assert_int_equal(json_array_size(cmd), 2);
    json_t *labels = json_object_get(b, "Labels");
    assert_string_equal(json_string_value(json_object_get(labels, "iofog-uuid")), "agent-1");
    assert_string_equal(json_string_value(json_object_get(labels, "iofog-microservice")), "m1");
    assert_string_equal(json_string_value(json_object_get(labels, "iofog-spec-hash")), hash);
    assert_int_equal(strlen(hash), 16);
    json_decref(b);
    agent_spec_free(s);
}

static void test_defaults_and_overrides(void **state) {
    (void)state;
    struct agent_spec *s = parse_ok(
        "{\"uuid\":\"m2\",\"imageId\":\"img\",\"registryId\":2,\"desiredState\":\"STOPPED\","
        "\"env\":[{\"key\":\"TZ\",\"value\":\"UTC\"}],\"extraHosts\":[\"iofog:1.2.3.4\"]}");
    assert_true(s->from_cache);
    assert_null(s->registry_auth);
    assert_false(s->desired_running);
    assert_string_equal(s->image, "img:latest");
    char hash[17];
    json_t *b = body_of(s, "Europe/Berlin", "172.17.0.1", hash);
    json_t *env = json_object_get(b, "Env");
    assert_int_equal(json_array_size(env), 2); /* no second TZ */
    assert_string_equal(json_string_value(json_array_get(env, 1)), "TZ=UTC");
    json_t *hosts = json_object_get(json_object_get(b, "HostConfig"), "ExtraHosts");
    assert_int_equal(json_array_size(hosts), 1); /* the user's iofog entry wins */
    assert_null(json_object_get(b, "Cmd"));
    json_t *log =
        json_object_get(json_object_get(json_object_get(b, "HostConfig"), "LogConfig"), "Config");
    assert_string_equal(json_string_value(json_object_get(log, "max-file")), "1");
    assert_string_equal(json_string_value(json_object_get(log, "max-size")), "1024k");
    json_decref(b);
    agent_spec_free(s);

    /* host networking: no iofog host, no published ports */
    s = parse_ok("{\"uuid\":\"m3\",\"imageId\":\"img:1\",\"rootHostAccess\":true,"
                 "\"portMappings\":[{\"portExternal\":1,\"portInternal\":2}]}");
    b = body_of(s, NULL, "172.17.0.1", hash);
    json_t *hc = json_object_get(b, "HostConfig");
    assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "host");
    assert_true(json_is_true(json_object_get(hc, "Privileged"))); /* asked for root host access */
    assert_int_equal(json_array_size(json_object_get(hc, "ExtraHosts")), 0);
    assert_int_equal(json_object_size(json_object_get(hc, "PortBindings")), 0);
    assert_int_equal(json_array_size(json_object_get(b, "Env")), 1);
    json_decref(b);
    agent_spec_free(s);

    /* the newer split flags */
    s = parse_ok("{\"uuid\":\"m5\",\"imageId\":\"img\",\"hostNetworkMode\":true}");
    b = body_of(s, NULL, NULL, hash);
    hc = json_object_get(b, "HostConfig");
    assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "host");
    assert_false(json_is_true(json_object_get(hc, "Privileged")));
    json_decref(b);
    agent_spec_free(s);
    s = parse_ok("{\"uuid\":\"m6\",\"imageId\":\"img\",\"isPrivileged\":true}");
    b = body_of(s, NULL, NULL, hash);
    hc = json_object_get(b, "HostConfig");
    assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "bridge");
    assert_true(json_is_true(json_object_get(hc, "Privileged")));
    json_decref(b);
    agent_spec_free(s);

    /* deleteWithCleanup implies delete */
    s = parse_ok("{\"uuid\":\"m4\",\"imageId\":\"img\",\"deleteWithCleanup\":true}");
    assert_true(s->remove);
    assert_true(s->remove_image);
    agent_spec_free(s);
}

static void test_hash_tracks_changes(void **state) {
    (void)state;
    const char *base =
        "{\"uuid\":\"m\",\"imageId\":\"img\",\"env\":[{\"key\":\"A\",\"value\":\"1\"}]}";
    struct agent_spec *a = parse_ok(base);
    struct agent_spec *b = parse_ok(base);
    struct agent_spec *c =
        parse_ok("{\"uuid\":\"m\",\"imageId\":\"img\",\"env\":[{\"key\":\"A\",\"value\":\"2\"}]}");
    struct agent_spec *dd =
        parse_ok("{\"uuid\":\"m\",\"imageId\":\"img\",\"env\":[{\"key\":\"A\",\"value\":\"1\"}],"
                 "\"rebuild\":true,\"config\":\"{\\\"x\\\":1}\"}");
    char ha[17];
    char hb[17];
    char hc[17];
    char hd[17];
    char he[17];
    json_decref(body_of(a, NULL, "1.1.1.1", ha));
    json_decref(body_of(b, NULL, "1.1.1.1", hb));
    json_decref(body_of(c, NULL, "1.1.1.1", hc));
    json_decref(body_of(dd, NULL, "1.1.1.1", hd));
    json_decref(body_of(a, NULL, "2.2.2.2", he));
    assert_string_equal(ha, hb);
    assert_string_not_equal(ha, hc);
    assert_string_equal(ha, hd); /* config and rebuild are not part of the container */
    assert_string_not_equal(ha, he);
    agent_spec_free(a);
    agent_spec_free(b);
    agent_spec_free(c);
    agent_spec_free(dd);
}

static void test_bad_shapes(void **state) {
    (void)state;
    expect_bad("[1,2]", "not a JSON object");
    expect_bad("{\"imageId\":\"img\"}", "Required field 'uuid' is missing");
    expect_bad("{\"uuid\":\"m\"}", "Required field 'imageId' is missing");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"Bad Image\"}", "repository name");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"registryId\":42}", "unknown registry id 42");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"registryId\":\"x\"}", "registryId");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"env\":\"A=1\"}", "'env'");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"env\":[{\"value\":\"1\"}]}",
               "invalid env entry");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"portMappings\":[{\"portExternal\":70000,"
               "\"portInternal\":80}]}",
               "invalid port mapping 70000:80");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"portMappings\":[{\"portInternal\":80}]}",
               "invalid port mapping: Required field 'portExternal'");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"portMappings\":[\"80:80\"]}",
               "invalid port mapping");
    expect_bad(
        "{\"uuid\":\"m\",\"imageId\":\"img\",\"volumeMappings\":[{\"hostDestination\":\"rel\","
        "\"containerDestination\":\"/d\"}]}",
        "not an absolute path");
    expect_bad(
        "{\"uuid\":\"m\",\"imageId\":\"img\",\"volumeMappings\":[{\"hostDestination\":\"/a\","
        "\"containerDestination\":\"/d\",\"accessMode\":\"x\"}]}",
        "accessMode");
    expect_bad(
        "{\"uuid\":\"m\",\"imageId\":\"img\",\"volumeMappings\":[{\"hostDestination\":\"/a\","
        "\"containerDestination\":\"/d\",\"type\":\"volumeMount\"}]}",
        "not supported");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"desiredState\":\"PAUSED\"}", "desiredState");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"cmd\":[1]}", "'cmd'");
    expect_bad("{\"uuid\":\"m\",\"imageId\":\"img\",\"rootHostAccess\":\"yes\"}", "rootHostAccess");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_descriptor),
        cmocka_unit_test(test_defaults_and_overrides),
        cmocka_unit_test(test_hash_tracks_changes),
        cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
