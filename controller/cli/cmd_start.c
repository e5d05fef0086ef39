/* iofog-controller start [--foreground] [options]: runs the server. Without --foreground the
 * process detaches (double fork, new session), writes <data-dir>/iofog-controller.pid and logs to
 * <data-dir>/controller.log; the parent returns once the server listens or reports why it could
 * not start. SIGTERM or SIGINT stop it cleanly. */
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

/* Runs until SIGTERM/SIGINT. ready_fd (or -1) receives one byte once listening. */
static iof_err serve(const struct ctl_config *cfg, int ready_fd, struct iof_diag *d) {
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
    sigwait(&set, &sig);
    IOF_INFO("controller", "stopping signal=%d", sig);
    ctl_server_free(srv);
    return IOF_OK;
}

static iof_err serve_cb(void *ctx, int ready_fd, struct iof_diag *d) {
    return serve(ctx, ready_fd, d);
}

static iof_err daemonize(const struct ctl_config *cfg, struct iof_diag *d) {
    char log_path[1100], pid_path[1100];
    (void)snprintf(log_path, sizeof log_path, "%s/controller.log", cfg->data_dir);
    (void)snprintf(pid_path, sizeof pid_path, "%s/iofog-controller.pid", cfg->data_dir);
    iof_err err = iof_daemonize(log_path, pid_path, serve_cb, (void *)(uintptr_t)cfg, d);
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
    static const char *const extra[] = {"--foreground", NULL};
    bool seen[1] = {false};
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    iof_err err = ctl_config_load(&cfg, argc, argv, extra, seen, &d);
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
    err = seen[0] ? serve(&cfg, -1, &d) : daemonize(&cfg, &d);
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
