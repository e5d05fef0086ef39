/* iofog-agent start [--foreground] [--config-dir DIR] [--local-api-port PORT]: runs the daemon.
 * Without --foreground the process detaches (double fork, new session), writes
 * <config-dir>/iofog-agent.pid and logs to <log-directory>/iofog-agent.log; the parent returns
 * once the Local API listens, or says why the daemon could not start. Starting an Agent that
 * already runs is a no-op (classic). */
#include "agent/cli_client.h"
#include "agent/commands.h"
#include "agent/daemon.h"
#include "agent/nats/nats_transport.h"

#include "common/daemon.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: iofog-agent start [--foreground] [--config-dir DIR] [--local-api-port PORT]\n\n"
        "Starts the Agent daemon. Without --foreground it runs in the background with its\n"
        "pid in <config-dir>/iofog-agent.pid and its log in <log-directory>/iofog-agent.log.\n\n"
        "  --foreground           stay attached (service managers, containers, tests)\n"
        "  --config-dir DIR       settings, credentials and caches (default %s,\n"
        "                         env IOFOG_AGENT_CONFIG_DIR)\n"
        "  --local-api-port PORT  Local API port (default %d; saved to the configuration)\n",
        AGENT_DEFAULT_CONFIG_DIR,
        AGENT_DEFAULT_LOCAL_API_PORT);
}

static void pid_path(const struct agent_config *c, char *out, size_t n) {
    (void)snprintf(out, n, "%s/iofog-agent.pid", c->config_dir);
}

static bool already_running(const struct agent_config *c, long *pid_out) {
    char path[700];
    pid_path(c, path, sizeof path);
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f == NULL) {
        return false;
    }
    bool ok = fscanf(f, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)pid, 0) == 0;
    fclose(f);
    *pid_out = pid;
    return ok;
}

/* Runs until SIGTERM/SIGINT or `stop` (SIGHUP reloads). ready_fd (or -1) gets one byte once
 * serving. */
static iof_err serve(const struct agent_config *c, int ready_fd, struct iof_diag *d) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);                /* agent_daemon_wait reloads the configuration on it */
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    struct agent_daemon *a = NULL;
    iof_err err = agent_daemon_new(c, &a, d);
    if (err == IOF_OK) {
        err = agent_daemon_start(a, d);
    }
    if (err != IOF_OK) {
        agent_daemon_free(a);
        return err;
    }
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "1", 1);
        close(ready_fd);
    }
    agent_daemon_wait(a);
    agent_daemon_free(a);
    agent_nats_library_close();
    return IOF_OK;
}

static iof_err serve_cb(void *ctx, int ready_fd, struct iof_diag *d) {
    return serve(ctx, ready_fd, d);
}

static iof_err daemonize(const struct agent_config *c, struct iof_diag *d) {
    char log_path[700], path[700];
    (void)snprintf(log_path, sizeof log_path, "%siofog-agent.log", c->log_directory);
    (void)mkdir(c->log_directory, 0700);
    pid_path(c, path, sizeof path);
    iof_err err = iof_daemonize(log_path, path, serve_cb, (void *)(uintptr_t)c, d);
    if (err == IOF_OK) {
        printf("Agent started (Local API on port %u, config %s)\n",
               (unsigned)c->local_api_port,
               c->config_dir);
    }
    return err;
}

iof_err agent_cmd_start(int argc, char **argv, void *ctx) {
    (void)ctx;
    bool foreground = false;
    const char *port = NULL;
    int w = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return IOF_OK;
        } else if (strcmp(argv[i], "--foreground") == 0) {
            foreground = true;
        } else if (strcmp(argv[i], "--local-api-port") == 0 && i + 1 < argc) {
            port = argv[++i];
        } else if (strncmp(argv[i], "--local-api-port=", 17) == 0) {
            port = argv[i] + 17;
        } else {
            argv[w++] = argv[i];
        }
    }
    argc = w;
    struct agent_config c;
    iof_err err = agent_cli_load_config("start", &argc, argv, &c);
    if (err != IOF_OK) {
        return err;
    }
    if (argc > 1) {
        fprintf(stderr, "iofog-agent start: unexpected argument '%s'\n\n", argv[1]);
        usage(stderr);
        return IOF_EINVAL;
    }
    struct iof_diag d = {{0}};
    if (port != NULL) {
        if ((err = agent_config_set(&c, "lp", port, &d)) != IOF_OK) {
            fprintf(stderr, "iofog-agent start: %s\n", d.msg);
            return err;
        }
    }
    long pid = 0;
    if (already_running(&c, &pid)) {
        printf("The Agent is already running (pid %ld)\n", pid);
        return IOF_OK;
    }
    /* The CLI finds the daemon through config.json: write it (and the defaults) once. */
    if ((err = agent_config_save(&c, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-agent start: %s\n", d.msg);
        return err;
    }
    enum iof_log_level lvl;
    if (getenv("IOFOG_LOG_LEVEL") == NULL && iof_log_level_parse(c.log_level, &lvl) == IOF_OK) {
        iof_log_set_level(lvl);
    } else if (iof_log_init_from_env() != IOF_OK) {
        fprintf(stderr, "iofog-agent start: bad IOFOG_LOG_LEVEL\n");
    }
    err = foreground ? serve(&c, -1, &d) : daemonize(&c, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-agent start: %s\n", iof_diag_text(&d, err));
    }
    return err;
}
