/* iofog-controller diagnostics <strace-update|strace-info|strace-ftp-post|image-snapshot-create|
 * image-snapshot-get> (controller.md §7) over the running Controller's REST API. */
#include "controller/cli/commands.h"

#include "controller/cli/cli_client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller diagnostics <action> -i <microservice-uuid> [options]\n\n"
            "Actions:\n"
            "  strace-update          --enable | --disable   trace the microservice's container\n"
            "  strace-info            -f/--format string|file (file writes <uuid>.strace.txt)\n"
            "  strace-ftp-post        -h/--host -p/--port -u/--user -s/--password\n"
            "                         -d/--destination (not supported by this Controller)\n"
            "  image-snapshot-create  ask the agent to export the container image\n"
            "  image-snapshot-get     download it to <uuid>.tar.gz\n\n"
            "Common options: -i/--microservice-uuid UUID, --controller-port N, --data-dir DIR\n");
}

struct diag_opts {
    const char *uuid, *format, *host, *ftp_port, *user, *password, *dest;
    const char *port, *data_dir;
    int enable; /* 1 enable, 0 disable, -1 not given */
};

static iof_err parse(int argc, char **argv, struct diag_opts *o) {
    static const struct option longs[] = {
        {"microservice-uuid", required_argument, NULL, 'i'},
        {"enable", no_argument, NULL, 'E'},
        {"disable", no_argument, NULL, 'X'},
        {"format", required_argument, NULL, 'f'},
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 's'},
        {"destination", required_argument, NULL, 'd'},
        {"controller-port", required_argument, NULL, 'P'},
        {"data-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "i:f:h:p:u:s:d:", longs, NULL)) != -1) {
        switch (c) {
            case 'i': o->uuid = optarg; break;
            case 'E': o->enable = 1; break;
            case 'X': o->enable = 0; break;
            case 'f': o->format = optarg; break;
            case 'h': o->host = optarg; break;
            case 'p': o->ftp_port = optarg; break;
            case 'u': o->user = optarg; break;
            case 's': o->password = optarg; break;
            case 'd': o->dest = optarg; break;
            case 'P': o->port = optarg; break;
            case 'D': o->data_dir = optarg; break;
            case 'H': usage(stdout); return IOF_ECONFLICT;
            default:
                fprintf(
                    stderr, "iofog-controller diagnostics: bad option '%s'\n\n", argv[optind - 1]);
                usage(stderr);
                return IOF_EINVAL;
        }
    }
    if (o->uuid == NULL) {
        fprintf(stderr, "iofog-controller diagnostics: -i/--microservice-uuid is required\n");
        return IOF_EINVAL;
    }
    return IOF_OK;
}

iof_err ctl_cmd_diagnostics(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    struct diag_opts o = {.enable = -1};
    iof_err err = parse(argc - 1, argv + 1, &o);
    if (err != IOF_OK) {
        return err == IOF_ECONFLICT ? IOF_OK : err;
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    if ((err = ctl_cli_config(o.port, o.data_dir, &cfg, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-controller diagnostics: %s\n", d.msg);
        return err;
    }
    char path[256];
    if (strcmp(action, "strace-update") == 0) {
        if (o.enable < 0) {
            fprintf(stderr, "iofog-controller diagnostics: --enable or --disable is required\n");
            return IOF_EINVAL;
        }
        json_t *body = json_pack("{s:b}", "enable", o.enable);
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/strace", o.uuid);
        err = ctl_cli_run(&cfg, "PATCH", path, body, 0, "diagnostics strace-update");
        json_decref(body);
        if (err == IOF_OK) {
            printf("strace %s for %s\n", o.enable ? "enabled" : "disabled", o.uuid);
        }
        return err;
    }
    if (strcmp(action, "strace-info") == 0) {
        const char *format = o.format != NULL ? o.format : "string";
        if (strcmp(format, "string") != 0 && strcmp(format, "file") != 0) {
            fprintf(stderr, "iofog-controller diagnostics: -f must be string or file\n");
            return IOF_EINVAL;
        }
        (void)snprintf(
            path, sizeof path, "/api/v3/microservices/%s/strace?format=%s", o.uuid, format);
        if (strcmp(format, "file") == 0) {
            char out[128];
            (void)snprintf(out, sizeof out, "%s.strace.txt", o.uuid);
            return ctl_cli_download(&cfg, path, out);
        }
        return ctl_cli_run(&cfg, "GET", path, NULL, 0, "diagnostics strace-info");
    }
    if (strcmp(action, "strace-ftp-post") == 0) {
        char *end = NULL;
        long ftp_port = o.ftp_port != NULL ? strtol(o.ftp_port, &end, 10) : 0;
        if (o.ftp_port != NULL &&
            (end == o.ftp_port || *end != '\0' || ftp_port < 1 || ftp_port > 65535)) {
            fprintf(stderr, "iofog-controller diagnostics: -p/--port must be 1-65535\n");
            return IOF_EINVAL;
        }
        json_t *body = json_pack("{s:s?, s:s?, s:s?, s:s?}",
                                 "ftpHost",
                                 o.host,
                                 "ftpUser",
                                 o.user,
                                 "ftpPass",
                                 o.password,
                                 "ftpDestDir",
                                 o.dest);
        if (body != NULL && o.ftp_port != NULL) {
            json_object_set_new(body, "ftpPort", json_integer(ftp_port));
        }
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/strace", o.uuid);
        err = ctl_cli_run(&cfg, "PUT", path, body, 0, "diagnostics strace-ftp-post");
        json_decref(body);
        return err;
    }
    if (strcmp(action, "image-snapshot-create") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/image-snapshot", o.uuid);
        return ctl_cli_run(&cfg, "POST", path, NULL, 0, "diagnostics image-snapshot-create");
    }
    if (strcmp(action, "image-snapshot-get") == 0) {
        char out[128];
        (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/image-snapshot", o.uuid);
        (void)snprintf(out, sizeof out, "%s.tar.gz", o.uuid);
        return ctl_cli_download(&cfg, path, out);
    }
    fprintf(stderr, "iofog-controller diagnostics: unknown action '%s'\n\n", action);
    usage(stderr);
    return IOF_EINVAL;
}
