/* iofog-controller config <add|list|dev-mode|email-activation>: shows and edits the Controller's
 * configuration file <data-dir>/controller.json (controller.md §7; keys as config.h reads them).
 * Works on the file directly, without a running Controller; changes apply at the next start.
 * Classic options for features this Controller does not have (TLS, e-mail, log files, kubelet,
 * dev mode) are refused with an explanation rather than silently stored. */
#include "controller/cli/commands.h"

#include "common/json.h"
#include "controller/cli/cli_client.h"
#include "controller/cli/cli_resource.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LABEL "iofog-controller config"

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: iofog-controller config <add|list> [options]\n\n"
        "  list                      the configuration in effect (file, environment, defaults)\n"
        "  add                       writes the given keys into <data-dir>/controller.json\n\n"
        "Options of add:\n"
        "  -p, --port N              REST API port (file key \"port\")\n"
        "  --bind ADDR               listen address (\"bind\")\n"
        "  -L, --log-level LEVEL     debug, info, warn or error (\"logLevel\")\n"
        "  --http-threads N          HTTP polling threads, 1-64 (\"httpThreads\")\n"
        "  --token-expiration S      user token lifetime in seconds, >= 60\n"
        "                            (\"userTokenExpirationSeconds\")\n"
        "  --data-dir DIR            the Controller's data directory\n\n"
        "Not supported here: TLS (-c, -k, -i), e-mail (-h, -a, -w, -s), log files (-d, -z, -g),\n"
        "kubelet (-t), and the dev-mode and email-activation actions.\n");
}

static const char *level_name(enum iof_log_level l) {
    switch (l) {
        case IOF_LOG_DEBUG: return "debug";
        case IOF_LOG_INFO: return "info";
        case IOF_LOG_WARN: return "warn";
        case IOF_LOG_ERROR: return "error";
        default: return "off";
    }
}

struct config_opts {
    const char *port, *bind, *log_level, *threads, *ttl, *data_dir;
    const char *refused; /* the first unsupported option given */
    char refused_why[160];
    bool help;
};

static void refuse(struct config_opts *o, const char *flag, const char *why) {
    if (o->refused == NULL) {
        o->refused = flag;
        (void)snprintf(o->refused_why, sizeof o->refused_why, "%s", why);
    }
}

static iof_err parse_opts(int argc, char **argv, struct config_opts *o) {
    static const char no_tls[] = "TLS is not supported by this Controller; put a TLS-terminating "
                                 "proxy in front of it";
    static const char no_mail[] = "e-mail is not supported by this Controller (accounts are active "
                                  "at signup)";
    static const char no_logs[] = "log files are not configurable: the Controller logs to stderr, "
                                  "or to <data-dir>/controller.log when started in the background";
    static const struct option longs[] = {
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 1},
        {"log-level", required_argument, NULL, 'L'},
        {"http-threads", required_argument, NULL, 2},
        {"token-expiration", required_argument, NULL, 3},
        {"data-dir", required_argument, NULL, 4},
        {"help", no_argument, NULL, 5},
        {"ssl-cert", required_argument, NULL, 'c'},
        {"ssl-key", required_argument, NULL, 'k'},
        {"intermediate-cert", required_argument, NULL, 'i'},
        {"home-url", required_argument, NULL, 'h'},
        {"email-address", required_argument, NULL, 'a'},
        {"email-password", required_argument, NULL, 'w'},
        {"email-service", required_argument, NULL, 's'},
        {"log-dir", required_argument, NULL, 'd'},
        {"log-size", required_argument, NULL, 'z'},
        {"log-file-count", required_argument, NULL, 'g'},
        {"kubelet", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "p:L:c:k:i:h:a:w:s:d:z:g:t:", longs, NULL)) != -1) {
        switch (ch) {
            case 'p': o->port = optarg; break;
            case 1: o->bind = optarg; break;
            case 'L': o->log_level = optarg; break;
            case 2: o->threads = optarg; break;
            case 3: o->ttl = optarg; break;
            case 4: o->data_dir = optarg; break;
            case 5: o->help = true; break;
            case 'c': refuse(o, "--ssl-cert", no_tls); break;
            case 'k': refuse(o, "--ssl-key", no_tls); break;
            case 'i': refuse(o, "--intermediate-cert", no_tls); break;
            case 'h': refuse(o, "--home-url", no_mail); break;
            case 'a': refuse(o, "--email-address", no_mail); break;
            case 'w': refuse(o, "--email-password", no_mail); break;
            case 's': refuse(o, "--email-service", no_mail); break;
            case 'd': refuse(o, "--log-dir", no_logs); break;
            case 'z': refuse(o, "--log-size", no_logs); break;
            case 'g': refuse(o, "--log-file-count", no_logs); break;
            case 't':
                refuse(o, "--kubelet", "the legacy iofog-kubelet integration is not supported");
                break;
            default: return IOF_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, LABEL ": unexpected argument '%s'\n", argv[optind]);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

static iof_err load(const struct config_opts *o, struct ctl_config *cfg, struct iof_diag *d) {
    char name[] = "config", flag[] = "--data-dir";
    char *argv[3] = {name, flag, (char *)(uintptr_t)o->data_dir};
    return ctl_config_load(cfg, o->data_dir != NULL ? 3 : 1, argv, NULL, NULL, d);
}

static iof_err list(const struct config_opts *o) {
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    iof_err err = load(o, &cfg, &d);
    if (err != IOF_OK) {
        fprintf(stderr, LABEL " list: %s\n", d.msg);
        return err;
    }
    char file[1100];
    (void)snprintf(file, sizeof file, "%s/controller.json", cfg.data_dir);
    json_t *out = json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:I}",
                            "file",
                            file,
                            "dataDir",
                            cfg.data_dir,
                            "port",
                            (int)cfg.port,
                            "bind",
                            cfg.bind,
                            "logLevel",
                            level_name(cfg.log_level),
                            "httpThreads",
                            (int)cfg.http_threads,
                            "userTokenExpirationSeconds",
                            (json_int_t)cfg.user_token_ttl_s);
    if (out == NULL) {
        return IOF_ENOMEM;
    }
    ctl_cli_print_json(out);
    json_decref(out);
    return IOF_OK;
}

/* Validates the given values and sets them in file. */
static iof_err apply(const struct config_opts *o, json_t *file, struct iof_diag *d) {
    long long v = 0;
    iof_err err = IOF_OK;
    enum iof_log_level level;
    if (o->port != NULL && ((err = ctl_cli_parse_int(o->port, "--port", 1, 65535, &v, d)) ||
                            (err = ctl_cli_set(file, "port", json_integer(v))))) {
        return err;
    }
    if (o->threads != NULL &&
        ((err = ctl_cli_parse_int(o->threads, "--http-threads", 1, 64, &v, d)) ||
         (err = ctl_cli_set(file, "httpThreads", json_integer(v))))) {
        return err;
    }
    if (o->ttl != NULL &&
        ((err = ctl_cli_parse_int(o->ttl, "--token-expiration", 60, INT32_MAX, &v, d)) ||
         (err = ctl_cli_set(file, "userTokenExpirationSeconds", json_integer(v))))) {
        return err;
    }
    if (o->bind != NULL) {
        if (*o->bind == '\0' || strlen(o->bind) >= 64) {
            return iof_fail(d, IOF_EINVAL, "--bind: invalid address '%s'", o->bind);
        }
        if ((err = ctl_cli_set(file, "bind", json_string(o->bind))) != IOF_OK) {
            return err;
        }
    }
    if (o->log_level != NULL) {
        if (iof_log_level_parse(o->log_level, &level) != IOF_OK) {
            return iof_fail(d, IOF_EINVAL, "--log-level: invalid level '%s'", o->log_level);
        }
        err = ctl_cli_set(file, "logLevel", json_string(level_name(level)));
    }
    return err == IOF_ENOMEM ? iof_fail(d, err, "out of memory") : err;
}

/* Writes value to path through a temporary file and a rename (mode 0600 for a new file). A
 * symbolic link is followed, so the file it names is replaced, not the link (the Debian package
 * links <data-dir>/controller.json to the conffile in /etc), and a replaced file keeps its mode and
 * owner (the service user must still read it). */
static iof_err write_file(const char *link, const json_t *value, struct iof_diag *d) {
    char path[PATH_MAX];
    if (realpath(link, path) == NULL) {
        (void)snprintf(path, sizeof path, "%s", link);
    }
    struct stat old;
    bool had = stat(path, &old) == 0;
    char tmp[PATH_MAX + 8];
    (void)snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    iof_err err = IOF_OK;
    if (fd < 0) {
        err = iof_fail(d, IOF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        size_t len = strlen(text);
        bool ok = !had || (fchmod(fd, old.st_mode & 07777) == 0 &&
                           (fchown(fd, old.st_uid, old.st_gid) == 0 || geteuid() != 0));
        ok =
            ok && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            err = iof_fail(d, IOF_EIO, "cannot write %s: %s", path, strerror(errno));
            (void)unlink(tmp);
        }
    }
    free(text);
    return err;
}

static iof_err add(const struct config_opts *o) {
    struct iof_diag d = {{0}};
    if (o->refused != NULL) {
        fprintf(stderr, LABEL " add: %s is not supported: %s\n", o->refused, o->refused_why);
        return IOF_EUNSUPPORTED;
    }
    if (o->port == NULL && o->bind == NULL && o->log_level == NULL && o->threads == NULL &&
        o->ttl == NULL) {
        fprintf(stderr, LABEL " add: give at least one setting (see --help)\n");
        return IOF_EINVAL;
    }
    struct ctl_config cfg;
    iof_err err = load(o, &cfg, &d);
    if (err == IOF_OK) {
        err = ctl_config_make_data_dir(&cfg, &d);
    }
    char path[1100];
    (void)snprintf(path, sizeof path, "%s/controller.json", cfg.data_dir);
    json_t *file = NULL;
    if (err == IOF_OK) {
        err = ctl_cli_read_json_file(path, &file, &d);
        if (err == IOF_ENOENT) {
            file = json_object();
            err = file != NULL ? IOF_OK : iof_fail(&d, IOF_ENOMEM, "out of memory");
        }
    }
    if (err == IOF_OK) {
        err = apply(o, file, &d);
    }
    if (err == IOF_OK) {
        err = write_file(path, file, &d);
    }
    json_decref(file);
    if (err != IOF_OK) {
        fprintf(stderr, LABEL " add: %s\n", d.msg);
        return err;
    }
    printf("Configuration saved to %s; restart the Controller to apply it\n", path);
    return IOF_OK;
}

iof_err ctl_cmd_config(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    if (strcmp(action, "dev-mode") == 0) {
        fprintf(stderr,
                LABEL " dev-mode: not supported: this Controller serves plain HTTP and has no "
                      "dev mode to switch\n");
        return IOF_EUNSUPPORTED;
    }
    if (strcmp(action, "email-activation") == 0) {
        fprintf(stderr,
                LABEL " email-activation: not supported: this Controller sends no e-mail; "
                      "accounts are active at signup\n");
        return IOF_EUNSUPPORTED;
    }
    if (strcmp(action, "add") != 0 && strcmp(action, "list") != 0) {
        fprintf(stderr, LABEL ": unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    struct config_opts o = {0};
    iof_err err = parse_opts(argc - 1, argv + 1, &o);
    if (err != IOF_OK || o.help) {
        usage(err != IOF_OK ? stderr : stdout);
        return err;
    }
    return strcmp(action, "list") == 0 ? list(&o) : add(&o);
}
