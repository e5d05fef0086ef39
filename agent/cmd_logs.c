/* iofog-agent logs UUID: a microservice's container log on the node itself, without the
 * Controller (the same lines `iofog-controller microservice logs` shows from anywhere). */
#include "agent/cli_client.h"
#include "agent/commands.h"
#include "agent/engine/docker.h"
#include "agent/logs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: iofog-agent logs UUID [-f] [--tail N|all] [--since SECONDS] [--config-dir DIR]\n\n"
    "Prints the log (stdout and stderr, with Docker's timestamps) of the container of the\n"
    "microservice UUID on this node, read from the Docker Engine the Agent uses.\n\n"
    "  -f, --follow       keep printing new lines until the container stops\n"
    "  -n, --tail N       the last N lines (default 100; all: everything)\n"
    "  -s, --since S      only lines since S (Unix seconds)\n"
    "  --config-dir DIR   the Agent's settings (default /etc/iofog-agent,\n"
    "                     env IOFOG_AGENT_CONFIG_DIR)\n";

struct printer {
    struct agent_logs_demux demux;
    bool failed;
};

static bool on_bytes(void *ctx, const char *data, size_t len) {
    struct printer *p = ctx;
    char out[16 * 1024];
    while (len > 0) {
        size_t part = len < sizeof out ? len : sizeof out;
        size_t n = agent_logs_demux(&p->demux, data, part, out);
        if (fwrite(out, 1, n, stdout) != n) {
            p->failed = true;
            return false;
        }
        data += part;
        len -= part;
    }
    (void)fflush(stdout);
    return true;
}

iof_err agent_cmd_logs(int argc, char **argv, void *ctx) {
    (void)ctx;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", usage);
            return IOF_OK;
        }
    }
    struct agent_config c;
    iof_err err = agent_cli_load_config("logs", &argc, argv, &c);
    if (err != IOF_OK) {
        return err;
    }
    static const struct option longs[] = {
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, 'n'},
        {"since", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    bool follow = false;
    long tail = 100;
    long long since = 0;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "fn:s:", longs, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
            case 'f': follow = true; break;
            case 'n':
                tail = strcmp(optarg, "all") == 0 ? -1 : strtol(optarg, &end, 10);
                if ((end != NULL && (*end != '\0' || end == optarg)) || tail < -1) {
                    fprintf(stderr, "iofog-agent logs: --tail takes a number or all\n");
                    return IOF_EINVAL;
                }
                break;
            case 's':
                since = strtoll(optarg, &end, 10);
                if (*end != '\0' || end == optarg || since < 0) {
                    fprintf(stderr, "iofog-agent logs: --since takes Unix seconds\n");
                    return IOF_EINVAL;
                }
                break;
            default:
                fprintf(
                    stderr, "iofog-agent logs: unknown option '%s'\n\n%s", argv[optind - 1], usage);
                return IOF_EINVAL;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "iofog-agent logs: name one microservice uuid\n\n%s", usage);
        return IOF_EINVAL;
    }
    const char *uuid = argv[optind];
    if (strspn(uuid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") !=
            strlen(uuid) ||
        strlen(uuid) > 64) {
        fprintf(stderr, "iofog-agent logs: '%s' is not a microservice uuid\n", uuid);
        return IOF_EINVAL;
    }
    char name[96];
    (void)snprintf(name, sizeof name, "iofog_%s", uuid);
    struct agent_docker *k = NULL;
    struct iof_diag d = {{0}};
    struct printer p = {0};
    if ((err = agent_docker_new(c.docker_url, 0, &k, &d)) == IOF_OK) {
        err = agent_docker_logs(k, name, tail, (int64_t)since, follow, on_bytes, &p, &d);
    }
    agent_docker_free(k);
    if (err == IOF_ENOENT) {
        fprintf(stderr,
                "iofog-agent logs: microservice %s has no container on this node (not started "
                "yet, or removed)\n",
                uuid);
    } else if (err != IOF_OK && !p.failed) {
        fprintf(stderr, "iofog-agent logs: %s\n", iof_diag_text(&d, err));
    }
    return p.failed ? IOF_EIO : err;
}
