/* iofog-controller start [--foreground] [options]: runs the server. Without --foreground the
 * process detaches (double fork, new session), writes <data-dir>/iofog-controller.pid and logs to
 * <data-dir>/controller.log; the parent returns once the server listens or reports why it could
 * not start. SIGTERM or SIGINT stop it cleanly; SIGHUP reloads the configuration (see reload()). */
#include "controller/cli/commands.h"

#include "common/daemon.h"
#include "common/log.h"
#include "controller/server/server.h"
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller start [--foreground] [options]\n\n"
            "Starts the Controller. Without --foreground it runs in the background with its pid\n"
            "in <data-dir>/iofog-controller.pid and its log in <data-dir>/controller.log.\n\n"
            "Options:\n"
            "  --foreground       stay attached (for service managers, containers and tests)\n"
            "%s",
            ctl_config_flags_help);
}

/* What the server runs with: the configuration loaded at start and the command line it came from
 * (a reload reads file, environment and these same flags again, in the same precedence). */
struct serve_args {
    const struct ctl_config *cfg;
    int argc;
    char **argv;
};

static const char *const start_extra_flags[] = {"--foreground", NULL};

/* Appends " name" to out[size] when the setting differs between a and b. */
#define RESTART_FIELD(out, size, a, b, field, name)                                                \
    do {                                                                                           \
        if (memcmp(&(a)->field, &(b)->field, sizeof(a)->field) != 0) {                             \
            size_t used_ = strlen(out);                                                            \
            (void)snprintf((out) + used_, (size)-used_, "%s%s", used_ > 0 ? "," : "", name);       \
        }                                                                                          \
    } while (0)

/* SIGHUP: loads the configuration again (controller.json, environment, the start's flags) and
 * applies what can change in a running server: the log level. Every other setting is bound to
 * the listening socket, the store or threads made at start; one that changed is named in a
 * warning (restart to apply it) and the running value stays. A configuration that no longer
 * loads (malformed file, bad value) is reported and changes nothing. */
static void reload(const struct serve_args *args, struct ctl_config *running) {
    struct ctl_config next;
    struct iof_diag d = {{0}};
    bool seen[1] = {false};
    char q[300];
    if (ctl_config_load(&next, args->argc, args->argv, start_extra_flags, seen, &d) != IOF_OK) {
        IOF_WARN("controller",
                 "reload_failed reason=%s (the running configuration stays)",
                 iof_log_quote(q, sizeof q, d.msg));
        return;
    }
    char restart[512] = "";
    RESTART_FIELD(restart, sizeof restart, running, &next, bind, "bind");
    RESTART_FIELD(restart, sizeof restart, running, &next, port, "port");
    RESTART_FIELD(restart, sizeof restart, running, &next, http_threads, "httpThreads");
    RESTART_FIELD(
        restart, sizeof restart, running, &next, connection_memory, "connectionMemoryBytes");
    RESTART_FIELD(restart, sizeof restart, running, &next, max_connections, "maxConnections");
    RESTART_FIELD(restart,
                  sizeof restart,
                  running,
                  &next,
                  max_connections_per_address,
                  "maxConnectionsPerAddress");
    RESTART_FIELD(
        restart, sizeof restart, running, &next, user_token_ttl_s, "userTokenExpirationSeconds");
    RESTART_FIELD(restart,
                  sizeof restart,
                  running,
                  &next,
                  user_token_max_lifetime_s,
                  "userTokenMaxLifetimeSeconds");
    RESTART_FIELD(restart, sizeof restart, running, &next, nats_url, "natsUrl");
    RESTART_FIELD(restart, sizeof restart, running, &next, nats_auth_file, "natsAuthFile");
    RESTART_FIELD(restart, sizeof restart, running, &next, nats_pid_file, "natsPidFile");
    RESTART_FIELD(
        restart, sizeof restart, running, &next, liveness_interval_ms, "livenessIntervalMs");
    RESTART_FIELD(
        restart, sizeof restart, running, &next, image_snapshot_max_bytes, "imageSnapshotMaxBytes");
    RESTART_FIELD(restart, sizeof restart, running, &next, tls_cert, "tlsCert");
    RESTART_FIELD(restart, sizeof restart, running, &next, tls_key, "tlsKey");
    RESTART_FIELD(restart, sizeof restart, running, &next, db, "db");
    RESTART_FIELD(restart, sizeof restart, running, &next, viewer_dir, "viewerDir");
    RESTART_FIELD(restart, sizeof restart, running, &next, viewer_port, "viewerPort");
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    enum iof_log_level before = running->log_level;
    running->log_level = next.log_level;
    iof_log_set_level(next.log_level);
    /* At warn level or above, so it shows whatever the new level is (short of error/off). */
    IOF_WARN("controller",
             "reloaded logLevel=%s (was %s) restart_needed=%s",
             names[next.log_level <= IOF_LOG_OFF ? next.log_level : IOF_LOG_OFF],
             names[before <= IOF_LOG_OFF ? before : IOF_LOG_OFF],
             restart[0] != '\0' ? restart : "-");
}

/* Runs until SIGTERM/SIGINT (SIGHUP reloads). ready_fd (or -1) receives one byte once listening. */
static iof_err serve(const struct serve_args *args, int ready_fd, struct iof_diag *d) {
    const struct ctl_config *cfg = args->cfg;
    struct ctl_config running = *cfg;
    /* Each held long-poll is an open connection: make room for every connection the server
     * accepts (max_connections and the reserve that still gets its 503). */
    struct rlimit rl;
    rlim_t need = (rlim_t)iof_http_connection_ceiling(cfg->max_connections) + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* server threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);

    struct ctl_server *srv = NULL;
    iof_err err = ctl_server_check_address(cfg, d);
    if (err != IOF_OK) {
        return err;
    }
    err = ctl_server_new(cfg, &srv, d);
    if (err == IOF_OK) {
        err = ctl_server_start(srv, d);
    }
    if (err != IOF_OK) {
        ctl_server_free(srv);
        return err;
    }
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "1", 1);
        close(ready_fd);
    }
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        reload(args, &running);
    }
    IOF_INFO("controller", "stopping signal=%d", sig);
    ctl_server_free(srv);
    return IOF_OK;
}

static iof_err serve_cb(void *ctx, int ready_fd, struct iof_diag *d) {
    return serve(ctx, ready_fd, d);
}

static iof_err daemonize(const struct serve_args *args, struct iof_diag *d) {
    const struct ctl_config *cfg = args->cfg;
    char log_path[1100], pid_path[1100];
    int n1 = snprintf(log_path, sizeof log_path, "%s/controller.log", cfg->data_dir);
    int n2 = snprintf(pid_path, sizeof pid_path, "%s/iofog-controller.pid", cfg->data_dir);
    if (n1 < 0 || (size_t)n1 >= sizeof log_path || n2 < 0 || (size_t)n2 >= sizeof pid_path) {
        return iof_fail(d, IOF_EINVAL, "--data-dir: path too long");
    }
    iof_err err = iof_daemonize(log_path, pid_path, serve_cb, (void *)(uintptr_t)args, d);
    if (err == IOF_OK) {
        printf("Controller started on port %u (data: %s)\n", (unsigned)cfg->port, cfg->data_dir);
    }
    return err;
}

iof_err ctl_cmd_start(int argc, char **argv, void *ctx) {
    (void)ctx;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return IOF_OK;
        }
    }
    bool seen[1] = {false};
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    iof_err err = ctl_config_load(&cfg, argc, argv, start_extra_flags, seen, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller start: %s\n\n", d.msg);
        usage(stderr);
        return err;
    }
    iof_log_set_level(cfg.log_level);
    if ((err = ctl_config_make_data_dir(&cfg, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-controller start: %s\n", d.msg);
        return err;
    }
    struct serve_args args = {.cfg = &cfg, .argc = argc, .argv = argv};
    err = seen[0] ? serve(&args, -1, &d) : daemonize(&args, &d);
    if (err == IOF_EEXIST &&
        strncmp(d.msg, "already running as pid", 22) == 0) { /* iof_daemonize */
        fprintf(stderr,
                "iofog-controller start: a Controller with data directory %s is %s; stop it with "
                "iofog-controller stop --data-dir %s\n",
                cfg.data_dir,
                d.msg,
                cfg.data_dir);
    } else if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller start: %s\n", iof_diag_text(&d, err));
    }
    return err;
}
