/* The bridge gateway against a Docker Engine in its first-start state. The test starts a dockerd of
 * its own, for the first time: its own --data-root, --exec-root, --pidfile, unix socket, config
 * file and containerd namespaces, on a bridge the test creates without an address, with an address
 * pool of one free /24 (no iptables, no forwarding: nothing of the host's is touched). Such an
 * engine answers GET /networks/bridge with {"IPAM":{"Config":[{"Subnet":...}]}} and no Gateway,
 * exactly like a freshly installed engine on its first start. Checked: the engine code finds the
 * gateway from the bridge's interface, and a real iofog-agent on that engine serves its Local API
 * on the gateway address, also when it was started before the engine. Everything created is
 * removed. Skipped only when dockerd is not installed. Needs root (creating a bridge, running
 * dockerd), as the whole suite does. */
#include "agent/engine/docker.h"
#include "agent/engine/engine.h"
#include "common/random.h"
#include "common/test_cmd.h"
#include "controller/api/api_testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ifaddrs.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#define AGENT_BINARY IOFOG_BINARY_DIR "/agent/iofog-agent"

struct fx {
    char dir[128];    /* everything of the test dockerd */
    char sock[200];   /* unix://<dir>/docker.sock */
    char bridge[16];  /* the test's bridge interface */
    char subnet[32];  /* "10.251.N.0/24" */
    char expect[32];  /* the address the engine gives the bridge: "10.251.N.1" */
    bool bridge_made; /* to delete in teardown */
    pid_t dockerd;    /* 0 when not running */
    pid_t agent;      /* 0 when not running */
    char agent_dir[200];
};

static const char *find_program(const char *name, char *buf, size_t len) {
    static const char *const dirs[] = {
        "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        (void)snprintf(buf, len, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0) {
            return buf;
        }
    }
    return NULL;
}

/* Runs `ip` with the NULL-terminated words after it; 0 on success (its output printed otherwise).
 */
static int ip(const char *first, ...) {
    char path[64];
    if (find_program("ip", path, sizeof path) == NULL) {
        fprintf(stderr, "the ip command (iproute2) is missing\n");
        return -1;
    }
    const char *argv[12] = {path, first};
    size_t n = 2;
    va_list ap;
    va_start(ap, first);
    const char *w;
    while (n < sizeof argv / sizeof argv[0] - 1 && (w = va_arg(ap, const char *)) != NULL) {
        argv[n++] = w;
    }
    va_end(ap);
    argv[n] = NULL;
    char out[2048];
    int rc = test_cmd_run(NULL, out, sizeof out, NULL, argv);
    if (rc != 0) {
        fprintf(stderr, "ip %s ...: exit %d: %s\n", first, rc, out);
    }
    return rc;
}

/* Whether an interface of this host has an IPv4 address in 10.251.n.0/24. */
static bool subnet_taken(unsigned n) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) {
        return true;
    }
    bool taken = false;
    for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET) {
            uint32_t a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
            taken = taken || (a >> 8) == ((10u << 16) | (251u << 8) | n);
        }
    }
    freeifaddrs(list);
    return taken;
}

/* Stops a child: SIGTERM, up to limit_ms, then SIGKILL. */
static void stop_child(pid_t *pid, int limit_ms) {
    if (*pid <= 0) {
        return;
    }
    kill(*pid, SIGTERM);
    int64_t deadline = iof_time_mono_ms() + limit_ms;
    while (waitpid(*pid, NULL, WNOHANG) == 0) {
        if (iof_time_mono_ms() > deadline) {
            fprintf(stderr, "pid %d did not stop: SIGKILL\n", (int)*pid);
            kill(*pid, SIGKILL);
            (void)waitpid(*pid, NULL, 0);
            break;
        }
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    }
    *pid = 0;
}

/* Detaches every mount below dir (a dockerd that was killed leaves its data-root mount). */
static void unmount_below(const char *dir) {
    for (int round = 0; round < 8; round++) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (f == NULL) {
            return;
        }
        char line[4096], found[4096] = "";
        size_t n = strlen(dir);
        while (fgets(line, sizeof line, f) != NULL) {
            char mnt[4096];
            if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strncmp(mnt, dir, n) == 0 &&
                (mnt[n] == '/' || mnt[n] == '\0')) {
                memcpy(found, mnt, sizeof found); /* the last one: the deepest of a stack */
            }
        }
        fclose(f);
        if (found[0] == '\0' || umount2(found, MNT_DETACH) != 0) {
            return;
        }
    }
}

/* A containerd that outlived its dockerd (only when dockerd had to be killed). */
static void stop_orphan_containerd(const struct fx *x) {
    char path[300], text[32] = "";
    (void)snprintf(path, sizeof path, "%s/exec/containerd/containerd.pid", x->dir);
    FILE *f = fopen(path, "re");
    if (f != NULL && fgets(text, sizeof text, f) != NULL) {
        long pid = strtol(text, NULL, 10);
        if (pid > 1 && kill((pid_t)pid, 0) == 0) {
            kill((pid_t)pid, SIGTERM);
            for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++) {
                nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
            }
            if (kill((pid_t)pid, 0) == 0) {
                kill((pid_t)pid, SIGKILL);
            }
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

static void print_tail(const char *path) {
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return;
    }
    char buf[4096];
    (void)fseek(f, -(long)sizeof buf + 1, SEEK_END);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- %s (tail) ----\n%s\n----\n", path, buf);
}

/* The directory and the bridge, no engine yet. */
static int setup_bridge(void **state) {
    struct fx *x = calloc(1, sizeof *x);
    *state = x;
    char dockerd[64];
    if (find_program("dockerd", dockerd, sizeof dockerd) == NULL) {
        return 0; /* the tests skip */
    }
    if (geteuid() != 0) {
        fprintf(stderr, "this test starts its own dockerd and creates a bridge: it needs root\n");
        return -1;
    }
    (void)snprintf(x->dir, sizeof x->dir, "/tmp/iofog-firststart.XXXXXX");
    if (mkdtemp(x->dir) == NULL) {
        return -1;
    }
    uint8_t r[4];
    if (iof_random_bytes(r, sizeof r) != IOF_OK) {
        return -1;
    }
    (void)snprintf(x->bridge, sizeof x->bridge, "iofs%02x%02x%02x", r[0], r[1], r[2]);
    unsigned n = r[3];
    for (int tries = 0; tries < 256 && subnet_taken(n); tries++) {
        n = (n + 1) & 0xffu;
    }
    (void)snprintf(x->subnet, sizeof x->subnet, "10.251.%u.0/24", n);
    (void)snprintf(x->expect, sizeof x->expect, "10.251.%u.1", n);
    (void)snprintf(x->sock, sizeof x->sock, "unix://%s/docker.sock", x->dir);
    /* A bridge without an address: the engine picks the subnet from its pool and gives the bridge
     * its first address, as it does for docker0 on a first start. */
    if (ip("link", "add", "name", x->bridge, "type", "bridge", NULL) != 0) {
        return -1;
    }
    x->bridge_made = true;
    return 0;
}

/* Starts the test's dockerd, for the first time, and waits (≤ 30 s) until it answers. */
static int start_dockerd(struct fx *x) {
    char dockerd[64];
    if (find_program("dockerd", dockerd, sizeof dockerd) == NULL) {
        return -1;
    }
    char path[300], pool[64];
    (void)snprintf(path, sizeof path, "%s/daemon.json", x->dir);
    FILE *f = fopen(path, "we");
    if (f == NULL || fputs("{}\n", f) < 0 || fclose(f) != 0) {
        return -1;
    }
    (void)snprintf(pool, sizeof pool, "base=%s,size=24", x->subnet);
    char data[200], exec_root[200], pidfile[200], ns[64], pns[64], logpath[200];
    (void)snprintf(data, sizeof data, "%s/data", x->dir);
    (void)snprintf(exec_root, sizeof exec_root, "%s/exec", x->dir);
    (void)snprintf(pidfile, sizeof pidfile, "%s/docker.pid", x->dir);
    (void)snprintf(ns, sizeof ns, "%s", x->bridge);
    (void)snprintf(pns, sizeof pns, "%s-plugins", x->bridge);
    (void)snprintf(logpath, sizeof logpath, "%s/dockerd.log", x->dir);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test that dies takes its engine along */
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(dockerd,
              dockerd,
              "--config-file",
              path,
              "--data-root",
              data,
              "--exec-root",
              exec_root,
              "--pidfile",
              pidfile,
              "--host",
              x->sock,
              "--bridge",
              x->bridge,
              "--default-address-pool",
              pool,
              "--iptables=false",
              "--ip-masq=false",
              "--ip-forward=false",
              "--storage-driver",
              "vfs",
              "--containerd-namespace",
              ns,
              "--containerd-plugins-namespace",
              pns,
              (char *)NULL);
        _exit(127);
    }
    x->dockerd = pid;
    /* Up within 30 s (a first start creates its data root). */
    struct agent_docker *k = NULL;
    if (agent_docker_new(x->sock, 2000, &k, NULL) != IOF_OK) {
        return -1;
    }
    bool up = false;
    for (int i = 0; i < 300 && !up; i++) {
        long status = 0;
        up = agent_docker_call(k, "GET", "/_ping", NULL, NULL, &status, NULL, NULL) == IOF_OK &&
             status == 200;
        if (!up) {
            if (waitpid(x->dockerd, NULL, WNOHANG) == x->dockerd) {
                x->dockerd = 0;
                break;
            }
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
    }
    agent_docker_free(k);
    if (!up) {
        fprintf(stderr, "the test's dockerd did not come up\n");
        print_tail(logpath);
        return -1;
    }
    return 0;
}

/* The bridge and a dockerd on it, started for the first time. */
static int setup(void **state) {
    int rc = setup_bridge(state);
    struct fx *x = *state;
    return rc != 0 || x->dir[0] == '\0' ? rc : start_dockerd(x);
}

/* The bridge network as the test's engine reports it. */
static json_t *inspect_bridge(const struct fx *x) {
    struct agent_docker *k = NULL;
    assert_int_equal(agent_docker_new(x->sock, 10000, &k, NULL), IOF_OK);
    long status = 0;
    json_t *v = NULL;
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_call(k, "GET", "/networks/bridge", NULL, NULL, &status, &v, &d);
    agent_docker_free(k);
    if (err != IOF_OK || status != 200) {
        fail_msg("GET /networks/bridge: %s (%ld)", iof_diag_text(&d, err), status);
    }
    return v;
}

static bool skip_without_dockerd(void) {
    char path[64];
    if (find_program("dockerd", path, sizeof path) == NULL) {
        printf("SKIPPED: dockerd is not installed (scripts/install-deps.sh installs docker.io)\n");
        return true;
    }
    return false;
}

static void test_engine_finds_the_gateway(void **state) {
    struct fx *x = *state;
    if (skip_without_dockerd()) {
        skip();
    }
    json_t *v = inspect_bridge(x);
    const json_t *cfg = json_object_get(json_object_get(v, "IPAM"), "Config");
    char *text = json_dumps(json_object_get(v, "IPAM"), JSON_COMPACT);
    printf("first-start engine: IPAM %s, bridge %s\n", text, x->bridge);
    free(text);
    /* the state this test is about: a subnet, no gateway */
    assert_int_equal(json_array_size(cfg), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cfg, 0), "Subnet")),
                        x->subnet);
    assert_null(json_object_get(json_array_get(cfg, 0), "Gateway"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "Options"),
                                                          "com.docker.network.bridge.name")),
                        x->bridge);

    char gw[64];
    enum agent_docker_gw_source src;
    struct iof_diag d = {{0}};
    iof_err err = agent_docker_gateway_of(v, agent_docker_ifaddr, NULL, gw, sizeof gw, &src, &d);
    json_decref(v);
    if (err != IOF_OK) {
        fail_msg("gateway: %s", iof_diag_text(&d, err));
    }
    assert_string_equal(gw, x->expect);
    assert_int_equal(src, AGENT_DOCKER_GW_INTERFACE);

    /* the engine as the Agent uses it */
    struct agent_engine_config ec = {.docker_url = x->sock, .agent_uuid = "first-start-test"};
    struct agent_engine *e = NULL;
    assert_int_equal(agent_engine_new(&ec, &e), IOF_OK);
    char via_engine[64] = "";
    err = agent_engine_bridge_gateway(e, via_engine, sizeof via_engine);
    agent_engine_free(e);
    assert_int_equal(err, IOF_OK);
    assert_string_equal(via_engine, x->expect);
}

/* Configures and starts a real Agent on the test's engine (status every second, so it looks for
 * the gateway again quickly); its log goes to <dir>/agent.log. Returns its Local API port. */
static uint16_t start_agent(struct fx *x) {
    (void)snprintf(x->agent_dir, sizeof x->agent_dir, "%s/agent", x->dir);
    uint16_t port = api_free_port();
    char port_s[16], data[300], logdir[300], logfile[400];
    (void)snprintf(port_s, sizeof port_s, "%u", (unsigned)port);
    (void)snprintf(data, sizeof data, "%s/data", x->agent_dir);
    (void)snprintf(logdir, sizeof logdir, "%s/log", x->agent_dir);
    (void)snprintf(logfile, sizeof logfile, "%s/agent.log", x->dir);
    const char *cfg[] = {AGENT_BINARY,
                         "config",
                         "-c",
                         x->sock,
                         "-lp",
                         port_s,
                         "-sf",
                         "1",
                         "-dl",
                         data,
                         "-ld",
                         logdir,
                         "--config-dir",
                         x->agent_dir,
                         NULL};
    char out[4096];
    int rc = test_cmd_run(NULL, out, sizeof out, NULL, cfg);
    if (rc != 0) {
        fail_msg("agent config: %d\n%s", rc, out);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
        }
        execl(AGENT_BINARY,
              AGENT_BINARY,
              "start",
              "--foreground",
              "--config-dir",
              x->agent_dir,
              (char *)NULL);
        _exit(127);
    }
    x->agent = pid;
    return port;
}

/* The HTTP status the Local API answers on addr:port within tries × 100 ms, 0 for none. */
static long local_api_status(struct fx *x, const char *addr, uint16_t port, int tries) {
    char url[128];
    (void)snprintf(url, sizeof url, "http://%s:%u/v2/config/get", addr, (unsigned)port);
    struct iof_http_client *http = NULL;
    struct iof_http_client_opts o = {.timeout_ms = 2000, .connect_timeout_ms = 1000};
    assert_int_equal(iof_http_client_new(&o, &http), IOF_OK);
    long status = 0;
    for (int i = 0; i < tries && status == 0; i++) {
        struct iof_http_response r;
        if (iof_http_client_request(http, "POST", url, NULL, "{\"id\":\"nobody\"}", 15, &r, NULL) ==
            IOF_OK) {
            status = r.status;
            iof_http_response_free(&r);
        } else {
            if (x->agent != 0 && waitpid(x->agent, NULL, WNOHANG) == x->agent) {
                x->agent = 0;
                break;
            }
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        }
    }
    iof_http_client_free(http);
    return status;
}

/* Whether the Agent's log has a line containing text. */
static bool agent_logged(const struct fx *x, const char *text) {
    char logfile[400];
    (void)snprintf(logfile, sizeof logfile, "%s/agent.log", x->dir);
    FILE *f = fopen(logfile, "re");
    if (f == NULL) {
        return false;
    }
    char line[1024];
    bool seen = false;
    while (!seen && fgets(line, sizeof line, f) != NULL) {
        seen = strstr(line, text) != NULL;
    }
    fclose(f);
    if (!seen) {
        print_tail(logfile);
    }
    return seen;
}

/* A real Agent on this engine serves its Local API on the gateway too (the containers' `iofog`). */
static void test_agent_listens_on_the_gateway(void **state) {
    struct fx *x = *state;
    if (skip_without_dockerd()) {
        skip();
    }
    uint16_t port = start_agent(x);
    long status = local_api_status(x, x->expect, port, 100);
    if (status == 0) {
        (void)agent_logged(x, "-");
        fail_msg("no answer from the Local API on %s:%u", x->expect, (unsigned)port);
    }
    printf("Local API on the gateway %s:%u answered HTTP %ld\n", x->expect, (unsigned)port, status);
    stop_child(&x->agent, 10000);
    char want[128]; /* the log says where the address came from */
    (void)snprintf(want, sizeof want, "bridge_gateway address=%s source=interface", x->expect);
    if (!agent_logged(x, want)) {
        fail_msg("'%s' not logged", want);
    }
}

/* An Agent started before its Docker Engine answers serves the gateway once the engine is up. */
static void test_agent_started_before_its_engine(void **state) {
    struct fx *x = *state;
    if (skip_without_dockerd()) {
        skip();
    }
    uint16_t port = start_agent(x);
    assert_int_not_equal(local_api_status(x, "127.0.0.1", port, 100), 0);
    assert_int_equal(local_api_status(x, x->expect, port, 1), 0); /* no engine, no gateway yet */
    assert_int_equal(start_dockerd(x), 0);
    int64_t t0 = iof_time_mono_ms();
    long status = local_api_status(x, x->expect, port, 300);
    if (status == 0) {
        (void)agent_logged(x, "-");
        fail_msg("no answer on the gateway %s:%u after the engine came up", x->expect, port);
    }
    printf("Local API on the gateway %lld ms after the engine answered\n",
           (long long)(iof_time_mono_ms() - t0));
    stop_child(&x->agent, 10000);
    char want[128];
    (void)snprintf(want, sizeof want, "bridge_listening address=%s", x->expect);
    if (!agent_logged(x, want)) {
        fail_msg("'%s' not logged", want);
    }
}

static int teardown(void **state) {
    struct fx *x = *state;
    stop_child(&x->agent, 10000);
    stop_child(&x->dockerd, 20000);
    if (x->dir[0] != '\0') {
        stop_orphan_containerd(x);
        unmount_below(x->dir);
    }
    if (x->bridge_made) {
        (void)ip("link", "del", x->bridge, NULL, NULL);
    }
    if (x->dir[0] != '\0' && test_cmd_rmtree(x->dir) != 0) {
        fprintf(stderr, "could not remove %s\n", x->dir);
    }
    free(x);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_engine_finds_the_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_listens_on_the_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_agent_started_before_its_engine, setup_bridge, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
