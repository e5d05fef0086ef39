/* Unit tests of the bridge gateway lookup: the answers a Docker Engine gives for its default
 * bridge (with a Gateway after a restart, without one on its very first start), with the host's
 * interfaces replaced by a table, and the host's real interfaces through getifaddrs. */
#include "agent/engine/docker.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* The body a freshly installed Docker Engine (Debian docker.io 20.10.24) answers to
 * GET /networks/bridge on its first start: no "Gateway" in IPAM.Config. */
static const char first_start[] =
    "{\"Name\":\"bridge\",\"Id\":\"1dd85b7e106f\",\"Scope\":\"local\",\"Driver\":\"bridge\","
    "\"EnableIPv6\":false,\"IPAM\":{\"Driver\":\"default\",\"Options\":null,"
    "\"Config\":[{\"Subnet\":\"172.17.0.0/16\"}]},\"Internal\":false,\"Attachable\":false,"
    "\"Ingress\":false,\"ConfigFrom\":{\"Network\":\"\"},\"ConfigOnly\":false,\"Containers\":{},"
    "\"Options\":{\"com.docker.network.bridge.default_bridge\":\"true\","
    "\"com.docker.network.bridge.enable_icc\":\"true\","
    "\"com.docker.network.bridge.enable_ip_masquerade\":\"true\","
    "\"com.docker.network.bridge.host_binding_ipv4\":\"0.0.0.0\","
    "\"com.docker.network.bridge.name\":\"docker0\",\"com.docker.network.driver.mtu\":\"1500\"},"
    "\"Labels\":{}}";

/* A fake host: interface name -> IPv4 address; records the names asked for. */
struct fake_host {
    const char *name;
    const char *addr;
    char asked[64];
    int calls;
};

static bool fake_ifaddr(void *ctx, const char *ifname, char *buf, size_t len) {
    struct fake_host *h = ctx;
    h->calls++;
    snprintf(h->asked, sizeof h->asked, "%s", ifname);
    if (h->name == NULL || strcmp(h->name, ifname) != 0 || h->addr == NULL) {
        return false;
    }
    snprintf(buf, len, "%s", h->addr);
    return true;
}

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (v == NULL) {
        fail_msg("bad test JSON: %s", e.text);
    }
    return v;
}

/* Runs the lookup on text with host; checks the address and the source. */
static void expect_gw(const char *text,
                      struct fake_host *host,
                      const char *want,
                      enum agent_docker_gw_source want_src) {
    json_t *v = parse(text);
    char gw[64] = "";
    enum agent_docker_gw_source src = (enum agent_docker_gw_source)99;
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_gateway_of(v, fake_ifaddr, host, gw, sizeof gw, &src, &d);
    json_decref(v);
    if (err != IOF_OK) {
        fail_msg("%s: %s", text, iof_diag_text(&d, err));
    }
    assert_string_equal(gw, want);
    assert_string_equal(agent_docker_gw_source_name(src), agent_docker_gw_source_name(want_src));
}

static void test_first_start_uses_the_interface(void **state) {
    (void)state;
    struct fake_host h = {.name = "docker0", .addr = "172.17.0.1"};
    expect_gw(first_start, &h, "172.17.0.1", AGENT_DOCKER_GW_INTERFACE);
    assert_string_equal(h.asked, "docker0");
    /* an address that is not the subnet's first one proves it came from the interface */
    struct fake_host odd = {.name = "docker0", .addr = "172.17.42.7"};
    expect_gw(first_start, &odd, "172.17.42.7", AGENT_DOCKER_GW_INTERFACE);
}

static void test_first_start_without_interface_uses_the_subnet(void **state) {
    (void)state;
    struct fake_host none = {0}; /* the engine runs elsewhere: no docker0 here */
    expect_gw(first_start, &none, "172.17.0.1", AGENT_DOCKER_GW_SUBNET);
    assert_int_equal(none.calls, 1);
    assert_string_equal(none.asked, "docker0");
    /* the interface exists but has no IPv4 address */
    struct fake_host no_v4 = {.name = "docker0", .addr = NULL};
    expect_gw(first_start, &no_v4, "172.17.0.1", AGENT_DOCKER_GW_SUBNET);
    /* no lookup function at all */
    json_t *v = parse(first_start);
    char gw[32];
    enum agent_docker_gw_source src;
    assert_int_equal(agent_docker_gateway_of(v, NULL, NULL, gw, sizeof gw, &src, NULL), IOF_OK);
    assert_string_equal(gw, "172.17.0.1");
    assert_int_equal(src, AGENT_DOCKER_GW_SUBNET);
    json_decref(v);
}

static void test_gateway_after_restart_wins(void **state) {
    (void)state;
    struct fake_host h = {.name = "docker0", .addr = "172.17.9.9"};
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"172.17.0.0/16\",\"Gateway\":\"172.17.0.1\"}]},"
              "\"Options\":{\"com.docker.network.bridge.name\":\"docker0\"}}",
              &h,
              "172.17.0.1",
              AGENT_DOCKER_GW_IPAM);
    assert_int_equal(h.calls, 0); /* the interface is not even looked at */
    /* IPv6 first (EnableIPv6): its gateway is skipped, the IPv4 one taken */
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"fd00:1::/64\",\"Gateway\":\"fd00:1::1\"},"
              "{\"Subnet\":\"10.20.0.0/16\",\"Gateway\":\"10.20.0.254\"}]}}",
              &h,
              "10.20.0.254",
              AGENT_DOCKER_GW_IPAM);
}

static void test_variants(void **state) {
    (void)state;
    /* the bridge's own name from the network option (dockerd --bridge) */
    struct fake_host br = {.name = "br-edge", .addr = "10.1.2.3"};
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"10.1.2.0/24\"}]},"
              "\"Options\":{\"com.docker.network.bridge.name\":\"br-edge\"}}",
              &br,
              "10.1.2.3",
              AGENT_DOCKER_GW_INTERFACE);
    assert_string_equal(br.asked, "br-edge");
    /* no Options at all: docker0 */
    struct fake_host d0 = {.name = "docker0", .addr = "192.168.5.1"};
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"192.168.5.0/24\"}]}}",
              &d0,
              "192.168.5.1",
              AGENT_DOCKER_GW_INTERFACE);
    assert_string_equal(d0.asked, "docker0");
    /* an IPv6 subnet first, then the IPv4 one; a subnet not on a network boundary */
    struct fake_host none = {0};
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"fd00::/64\"},{\"Subnet\":\"10.9.8.77/20\"}]}}",
              &none,
              "10.9.0.1",
              AGENT_DOCKER_GW_SUBNET);
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"10.0.0.8/31\"}]}}",
              &none,
              "10.0.0.8",
              AGENT_DOCKER_GW_SUBNET);
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"10.0.0.9/32\"}]}}",
              &none,
              "10.0.0.9",
              AGENT_DOCKER_GW_SUBNET);
    /* a Gateway that is no address is ignored */
    expect_gw("{\"IPAM\":{\"Config\":[{\"Subnet\":\"172.18.0.0/16\",\"Gateway\":\"\"}]}}",
              &none,
              "172.18.0.1",
              AGENT_DOCKER_GW_SUBNET);
}

static void test_nothing_to_go_on(void **state) {
    (void)state;
    static const char *const bodies[] = {
        "{}",
        "{\"IPAM\":{\"Config\":null}}",
        "{\"IPAM\":{\"Config\":[]}}",
        "{\"IPAM\":{\"Config\":[{\"Subnet\":\"fd00::/64\",\"Gateway\":\"fd00::1\"}]}}",
        "{\"IPAM\":{\"Config\":[{\"Subnet\":\"172.17.0.0\"}]}}",
        "{\"IPAM\":{\"Config\":[{\"Subnet\":\"172.17.0.0/33\"}]}}",
        "{\"IPAM\":{\"Config\":[{\"Subnet\":\"172.17.0.0/x\"}]}}",
        "{\"IPAM\":{\"Config\":[{\"Subnet\":\"172.17.0.0/\"}]}}",
        "{\"IPAM\":{\"Config\":[{\"Subnet\":17}]}}",
    };
    struct fake_host none = {0};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *v = parse(bodies[i]);
        char gw[32] = "unchanged";
        struct iof_diag d = {{0}};
        iof_err err = agent_docker_gateway_of(v, fake_ifaddr, &none, gw, sizeof gw, NULL, &d);
        json_decref(v);
        if (err != IOF_ENOENT) {
            fail_msg("%s: %d (%s)", bodies[i], (int)err, gw);
        }
        assert_string_equal(gw, "unchanged");
        assert_non_null(strstr(d.msg, "no IPv4 gateway"));
    }
    /* a buffer too short for the address */
    json_t *v = parse(first_start);
    char tiny[8];
    assert_int_equal(agent_docker_gateway_of(v, fake_ifaddr, &none, tiny, sizeof tiny, NULL, NULL),
                     IOF_E2BIG);
    json_decref(v);
}

static void test_real_interfaces(void **state) {
    (void)state;
    char a[64];
    assert_true(agent_docker_ifaddr(NULL, "lo", a, sizeof a));
    assert_string_equal(a, "127.0.0.1");
    assert_false(agent_docker_ifaddr(NULL, "no-such-if0", a, sizeof a));
    /* loopback as the bridge: the lookup goes through getifaddrs */
    json_t *v = parse("{\"IPAM\":{\"Config\":[{\"Subnet\":\"10.77.0.0/16\"}]},"
                      "\"Options\":{\"com.docker.network.bridge.name\":\"lo\"}}");
    enum agent_docker_gw_source src;
    assert_int_equal(agent_docker_gateway_of(v, agent_docker_ifaddr, NULL, a, sizeof a, &src, NULL),
                     IOF_OK);
    assert_string_equal(a, "127.0.0.1");
    assert_int_equal(src, AGENT_DOCKER_GW_INTERFACE);
    json_decref(v);
    /* an interface name longer than the kernel allows is not looked up */
    v = parse(
        "{\"IPAM\":{\"Config\":[{\"Subnet\":\"10.77.0.0/16\"}]},"
        "\"Options\":{\"com.docker.network.bridge.name\":\"a-name-far-too-long-for-linux\"}}");
    struct fake_host h = {.name = "a-name-far-too-long-for-linux", .addr = "1.2.3.4"};
    assert_int_equal(agent_docker_gateway_of(v, fake_ifaddr, &h, a, sizeof a, &src, NULL), IOF_OK);
    assert_int_equal(h.calls, 0);
    assert_string_equal(a, "10.77.0.1");
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_start_uses_the_interface),
        cmocka_unit_test(test_first_start_without_interface_uses_the_subnet),
        cmocka_unit_test(test_gateway_after_restart_wins),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_nothing_to_go_on),
        cmocka_unit_test(test_real_interfaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
