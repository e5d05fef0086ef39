/* Configuration loading. */
#include "controller/server/config.h"

#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char ctl_config_flags_help[] =
    "  --port N           REST API port (default 51121; env IOFOG_CONTROLLER_PORT)\n"
    "  --bind ADDR        address to listen on (default 0.0.0.0; env IOFOG_CONTROLLER_BIND)\n"
    "  --data-dir DIR     database, credentials and files (default /var/lib/iofog-controller;\n"
    "                     env IOFOG_CONTROLLER_DATA_DIR); DIR/controller.json may hold\n"
    "                     port, bind, logLevel, httpThreads, userTokenExpirationSeconds,\n"
    "                     imageSnapshotMaxBytes\n"
    "  --log-level LEVEL  debug, info, warn or error (default info; env IOFOG_LOG_LEVEL)\n"
    "  --nats-url URL     NATS server(s) agents use across nodes, comma-separated\n"
    "                     (default nats://127.0.0.1:4222; env IOFOG_CONTROLLER_NATS_URL)\n"
    "  --nats-auth-file PATH  write per-node NATS users there for nats-server to include\n"
    "                     (env IOFOG_CONTROLLER_NATS_AUTH_FILE; file \"natsAuthFile\")\n"
    "  --nats-pid-file PATH   nats-server's pid file: SIGHUP after each new auth file\n"
    "                     (env IOFOG_CONTROLLER_NATS_PID_FILE; file \"natsPidFile\")\n"
    "  --db URL           database: a SQLite file or sqlite:// URL (default\n"
    "                     DIR/controller.sqlite) or postgres://user:pass@host:port/db, which\n"
    "                     several Controllers may share (env IOFOG_CONTROLLER_DB; file \"db\")\n"
    "  --tls-cert FILE    serve HTTPS with this PEM certificate (chain); with --tls-key\n"
    "                     (env IOFOG_CONTROLLER_TLS_CERT; file \"tlsCert\")\n"
    "  --tls-key FILE     the certificate's PEM private key (env IOFOG_CONTROLLER_TLS_KEY;\n"
    "                     file \"tlsKey\")\n"
    "  --viewer-dir DIR   serve the web console (ECN Viewer package: package.json, build/)\n"
    "                     from DIR (env IOFOG_CONTROLLER_VIEWER_DIR; file \"viewerDir\")\n"
    "  --viewer-port N    the console's port (default 8008, 0: off; env\n"
    "                     IOFOG_CONTROLLER_VIEWER_PORT; file \"viewerPort\")\n";

void ctl_config_defaults(struct ctl_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    (void)snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", CTL_DEFAULT_DATA_DIR);
    (void)snprintf(cfg->bind, sizeof cfg->bind, "0.0.0.0");
    cfg->port = CTL_DEFAULT_PORT;
    cfg->log_level = IOF_LOG_INFO;
    cfg->http_threads = 2;
    cfg->max_connections = 16384;
    cfg->connection_memory = 8192;
    cfg->max_connections_per_address = 256;
    cfg->user_token_ttl_s = 3600;
    cfg->user_token_max_lifetime_s = 7 * 24 * 3600;
    (void)snprintf(cfg->nats_url, sizeof cfg->nats_url, "nats://127.0.0.1:4222");
    cfg->liveness_interval_ms = 2000;
    cfg->image_snapshot_max_bytes = (uint64_t)2 << 30;
    cfg->viewer_port = CTL_DEFAULT_VIEWER_PORT;
}

/* A port where 0 is allowed (it turns the service off). */
static iof_err
parse_port_or_off(const char *text, const char *what, uint16_t *out, struct iof_diag *d) {
    if (strcmp(text, "0") == 0) {
        *out = 0;
        return IOF_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 65535) {
        return iof_fail(d, IOF_EINVAL, "%s: invalid port '%s' (0-65535)", what, text);
    }
    *out = (uint16_t)v;
    return IOF_OK;
}

static iof_err parse_port(const char *text, const char *what, uint16_t *out, struct iof_diag *d) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 65535) {
        return iof_fail(d, IOF_EINVAL, "%s: invalid port '%s' (1-65535)", what, text);
    }
    *out = (uint16_t)v;
    return IOF_OK;
}

static iof_err
set_text(char *dst, size_t size, const char *value, const char *what, struct iof_diag *d) {
    if (value == NULL || *value == '\0' || strlen(value) >= size) {
        return iof_fail(d, IOF_EINVAL, "%s: invalid value", what);
    }
    memcpy(dst, value, strlen(value) + 1);
    return IOF_OK;
}

static iof_err apply_file(struct ctl_config *cfg, struct iof_diag *d) {
    char path[1100];
    (void)snprintf(path, sizeof path, "%s/controller.json", cfg->data_dir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return errno == ENOENT ? IOF_OK : iof_fail(d, IOF_EIO, "%s: %s", path, strerror(errno));
    }
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool too_big = n == sizeof buf;
    fclose(f);
    if (too_big) {
        return iof_fail(d, IOF_E2BIG, "%s: larger than %zu bytes", path, sizeof buf - 1);
    }
    json_t *j = NULL;
    struct iof_diag jd;
    if (iof_json_parse_object(buf, n, &j, &jd) != IOF_OK) {
        return iof_fail(d, IOF_EINVAL, "%s: %s", path, jd.msg);
    }
    iof_err err = IOF_OK;
    int64_t port = 0, threads = 0, ttl = 0, live = 0, max_life = 0, max_conn = 0, conn_mem = 0;
    int64_t snap_max = 0, per_addr = 0, viewer_port = -1;
    const char *viewer_dir = NULL;
    const char *bind = NULL, *level = NULL, *nats = NULL, *db = NULL;
    const char *nats_auth = NULL, *nats_pid = NULL, *cert = NULL, *key = NULL;
    if ((err = iof_json_get_int(j, "port", IOF_JSON_OPTIONAL, &port, d)) != IOF_OK ||
        (err = iof_json_get_int(j, "httpThreads", IOF_JSON_OPTIONAL, &threads, d)) != IOF_OK ||
        (err = iof_json_get_int(j, "userTokenExpirationSeconds", IOF_JSON_OPTIONAL, &ttl, d)) !=
            IOF_OK ||
        (err = iof_json_get_string(j, "bind", IOF_JSON_OPTIONAL, &bind, d)) != IOF_OK ||
        (err = iof_json_get_string(j, "logLevel", IOF_JSON_OPTIONAL, &level, d)) != IOF_OK ||
        (err = iof_json_get_string(j, "natsUrl", IOF_JSON_OPTIONAL, &nats, d)) != IOF_OK ||
        (err = iof_json_get_string(j, "db", IOF_JSON_OPTIONAL, &db, d)) != IOF_OK ||
        (err = iof_json_get_string(j, "natsAuthFile", IOF_JSON_OPTIONAL, &nats_auth, d)) !=
            IOF_OK ||
        (err = iof_json_get_string(j, "natsPidFile", IOF_JSON_OPTIONAL, &nats_pid, d)) != IOF_OK ||
        (err = iof_json_get_string(j, "tlsCert", IOF_JSON_OPTIONAL, &cert, d)) != IOF_OK ||
        (err = iof_json_get_string(j, "tlsKey", IOF_JSON_OPTIONAL, &key, d)) != IOF_OK ||
        (err = iof_json_get_int(j, "livenessIntervalMs", IOF_JSON_OPTIONAL, &live, d)) != IOF_OK ||
        (err = iof_json_get_int(
             j, "userTokenMaxLifetimeSeconds", IOF_JSON_OPTIONAL, &max_life, d)) != IOF_OK ||
        (err = iof_json_get_int(j, "maxConnections", IOF_JSON_OPTIONAL, &max_conn, d)) != IOF_OK ||
        (err = iof_json_get_int(j, "connectionMemoryBytes", IOF_JSON_OPTIONAL, &conn_mem, d)) !=
            IOF_OK ||
        (err = iof_json_get_int(j, "imageSnapshotMaxBytes", IOF_JSON_OPTIONAL, &snap_max, d)) !=
            IOF_OK ||
        (err = iof_json_get_int(j, "maxConnectionsPerAddress", IOF_JSON_OPTIONAL, &per_addr, d)) !=
            IOF_OK ||
        (err = iof_json_get_string(j, "viewerDir", IOF_JSON_OPTIONAL, &viewer_dir, d)) != IOF_OK ||
        (err = iof_json_get_int(j, "viewerPort", IOF_JSON_OPTIONAL, &viewer_port, d)) != IOF_OK) {
        json_decref(j);
        return err;
    }
    if (port != 0) {
        if (port < 1 || port > 65535) {
            err = iof_fail(d, IOF_EINVAL, "%s: port out of range", path);
        } else {
            cfg->port = (uint16_t)port;
        }
    }
    if (err == IOF_OK && threads != 0) {
        if (threads < 1 || threads > 64) {
            err = iof_fail(d, IOF_EINVAL, "%s: httpThreads must be 1-64", path);
        } else {
            cfg->http_threads = (unsigned)threads;
        }
    }
    if (err == IOF_OK && ttl != 0) {
        if (ttl < 60) {
            err = iof_fail(d, IOF_EINVAL, "%s: userTokenExpirationSeconds must be >= 60", path);
        } else {
            cfg->user_token_ttl_s = ttl;
        }
    }
    if (err == IOF_OK && conn_mem != 0) {
        if (conn_mem < 2048 || conn_mem > 1048576) {
            err = iof_fail(d, IOF_EINVAL, "%s: connectionMemoryBytes must be 2048-1048576", path);
        } else {
            cfg->connection_memory = (size_t)conn_mem;
        }
    }
    if (err == IOF_OK && max_conn != 0) {
        if (max_conn < 16 || max_conn > 1000000) {
            err = iof_fail(d, IOF_EINVAL, "%s: maxConnections must be 16-1000000", path);
        } else {
            cfg->max_connections = (unsigned)max_conn;
        }
    }
    if (err == IOF_OK && per_addr != 0) {
        if (per_addr < 1 || per_addr > 1000000) {
            err = iof_fail(d, IOF_EINVAL, "%s: maxConnectionsPerAddress must be 1-1000000", path);
        } else {
            cfg->max_connections_per_address = (unsigned)per_addr;
        }
    }
    if (err == IOF_OK && max_life != 0) {
        if (max_life < 60) {
            err = iof_fail(d, IOF_EINVAL, "%s: userTokenMaxLifetimeSeconds must be >= 60", path);
        } else {
            cfg->user_token_max_lifetime_s = max_life;
        }
    }
    if (err == IOF_OK && nats != NULL) {
        err = set_text(cfg->nats_url, sizeof cfg->nats_url, nats, "natsUrl", d);
    }
    if (err == IOF_OK && db != NULL) {
        err = set_text(cfg->db, sizeof cfg->db, db, "db", d);
    }
    if (err == IOF_OK && nats_auth != NULL) {
        err =
            set_text(cfg->nats_auth_file, sizeof cfg->nats_auth_file, nats_auth, "natsAuthFile", d);
    }
    if (err == IOF_OK && nats_pid != NULL) {
        err = set_text(cfg->nats_pid_file, sizeof cfg->nats_pid_file, nats_pid, "natsPidFile", d);
    }
    if (err == IOF_OK && cert != NULL) {
        err = set_text(cfg->tls_cert, sizeof cfg->tls_cert, cert, "tlsCert", d);
    }
    if (err == IOF_OK && key != NULL) {
        err = set_text(cfg->tls_key, sizeof cfg->tls_key, key, "tlsKey", d);
    }
    if (err == IOF_OK && live != 0) {
        if (live < 50 || live > 600000) {
            err = iof_fail(d, IOF_EINVAL, "%s: livenessIntervalMs must be 50-600000", path);
        } else {
            cfg->liveness_interval_ms = live;
        }
    }
    if (err == IOF_OK && snap_max != 0) {
        if (snap_max < 1024 || snap_max > ((int64_t)1 << 40)) {
            err = iof_fail(d, IOF_EINVAL, "%s: imageSnapshotMaxBytes must be 1024-2^40", path);
        } else {
            cfg->image_snapshot_max_bytes = (uint64_t)snap_max;
        }
    }
    if (err == IOF_OK && bind != NULL) {
        err = set_text(cfg->bind, sizeof cfg->bind, bind, "bind", d);
    }
    if (err == IOF_OK && viewer_dir != NULL) {
        err = set_text(cfg->viewer_dir, sizeof cfg->viewer_dir, viewer_dir, "viewerDir", d);
    }
    if (err == IOF_OK && json_object_get(j, "viewerPort") != NULL) {
        if (viewer_port < 0 || viewer_port > 65535) {
            err = iof_fail(d, IOF_EINVAL, "%s: viewerPort must be 0-65535", path);
        } else {
            cfg->viewer_port = (uint16_t)viewer_port;
        }
    }
    if (err == IOF_OK && level != NULL && iof_log_level_parse(level, &cfg->log_level) != IOF_OK) {
        err = iof_fail(d, IOF_EINVAL, "%s: invalid logLevel '%s'", path, level);
    }
    json_decref(j);
    return err;
}

static const char *flag_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

iof_err ctl_config_load(struct ctl_config *cfg,
                        int argc,
                        char **argv,
                        const char *const *extra_flags,
                        bool *extra_seen,
                        struct iof_diag *d) {
    ctl_config_defaults(cfg);
    /* The data directory decides where the file is, so it is settled first. */
    const char *dir = getenv("IOFOG_CONTROLLER_DATA_DIR");
    for (int i = 1; i < argc; i++) {
        const char *v = flag_value(argc, argv, &i, "--data-dir");
        if (v != NULL) {
            dir = v;
        }
    }
    iof_err err = IOF_OK;
    if (dir != NULL &&
        (err = set_text(cfg->data_dir, sizeof cfg->data_dir, dir, "--data-dir", d)) != IOF_OK) {
        return err;
    }
    if ((err = apply_file(cfg, d)) != IOF_OK) {
        return err;
    }
    const char *env;
    if ((env = getenv("IOFOG_CONTROLLER_PORT")) != NULL &&
        (err = parse_port(env, "IOFOG_CONTROLLER_PORT", &cfg->port, d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_BIND")) != NULL &&
        (err = set_text(cfg->bind, sizeof cfg->bind, env, "IOFOG_CONTROLLER_BIND", d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_NATS_URL")) != NULL &&
        (err = set_text(
             cfg->nats_url, sizeof cfg->nats_url, env, "IOFOG_CONTROLLER_NATS_URL", d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_NATS_AUTH_FILE")) != NULL && *env != '\0' &&
        (err = set_text(cfg->nats_auth_file,
                        sizeof cfg->nats_auth_file,
                        env,
                        "IOFOG_CONTROLLER_NATS_AUTH_FILE",
                        d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_NATS_PID_FILE")) != NULL && *env != '\0' &&
        (err = set_text(cfg->nats_pid_file,
                        sizeof cfg->nats_pid_file,
                        env,
                        "IOFOG_CONTROLLER_NATS_PID_FILE",
                        d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_DB")) != NULL && *env != '\0' &&
        (err = set_text(cfg->db, sizeof cfg->db, env, "IOFOG_CONTROLLER_DB", d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_TLS_CERT")) != NULL && *env != '\0' &&
        (err = set_text(
             cfg->tls_cert, sizeof cfg->tls_cert, env, "IOFOG_CONTROLLER_TLS_CERT", d)) != IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_TLS_KEY")) != NULL && *env != '\0' &&
        (err = set_text(cfg->tls_key, sizeof cfg->tls_key, env, "IOFOG_CONTROLLER_TLS_KEY", d)) !=
            IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_VIEWER_DIR")) != NULL && *env != '\0' &&
        (err = set_text(
             cfg->viewer_dir, sizeof cfg->viewer_dir, env, "IOFOG_CONTROLLER_VIEWER_DIR", d)) !=
            IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_CONTROLLER_VIEWER_PORT")) != NULL && *env != '\0' &&
        (err = parse_port_or_off(env, "IOFOG_CONTROLLER_VIEWER_PORT", &cfg->viewer_port, d)) !=
            IOF_OK) {
        return err;
    }
    if ((env = getenv("IOFOG_LOG_LEVEL")) != NULL && *env != '\0' &&
        iof_log_level_parse(env, &cfg->log_level) != IOF_OK) {
        return iof_fail(d, IOF_EINVAL, "IOFOG_LOG_LEVEL: invalid level '%s'", env);
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = flag_value(argc, argv, &i, "--data-dir")) != NULL) {
            continue;
        }
        if ((v = flag_value(argc, argv, &i, "--port")) != NULL) {
            err = parse_port(v, "--port", &cfg->port, d);
        } else if ((v = flag_value(argc, argv, &i, "--nats-url")) != NULL) {
            err = set_text(cfg->nats_url, sizeof cfg->nats_url, v, "--nats-url", d);
        } else if ((v = flag_value(argc, argv, &i, "--nats-auth-file")) != NULL) {
            err =
                set_text(cfg->nats_auth_file, sizeof cfg->nats_auth_file, v, "--nats-auth-file", d);
        } else if ((v = flag_value(argc, argv, &i, "--nats-pid-file")) != NULL) {
            err = set_text(cfg->nats_pid_file, sizeof cfg->nats_pid_file, v, "--nats-pid-file", d);
        } else if ((v = flag_value(argc, argv, &i, "--db")) != NULL) {
            err = set_text(cfg->db, sizeof cfg->db, v, "--db", d);
        } else if ((v = flag_value(argc, argv, &i, "--tls-cert")) != NULL) {
            err = set_text(cfg->tls_cert, sizeof cfg->tls_cert, v, "--tls-cert", d);
        } else if ((v = flag_value(argc, argv, &i, "--tls-key")) != NULL) {
            err = set_text(cfg->tls_key, sizeof cfg->tls_key, v, "--tls-key", d);
        } else if ((v = flag_value(argc, argv, &i, "--viewer-dir")) != NULL) {
            err = set_text(cfg->viewer_dir, sizeof cfg->viewer_dir, v, "--viewer-dir", d);
        } else if ((v = flag_value(argc, argv, &i, "--viewer-port")) != NULL) {
            err = parse_port_or_off(v, "--viewer-port", &cfg->viewer_port, d);
        } else if ((v = flag_value(argc, argv, &i, "--bind")) != NULL) {
            err = set_text(cfg->bind, sizeof cfg->bind, v, "--bind", d);
        } else if ((v = flag_value(argc, argv, &i, "--log-level")) != NULL) {
            if (iof_log_level_parse(v, &cfg->log_level) != IOF_OK) {
                err = iof_fail(d, IOF_EINVAL, "--log-level: invalid level '%s'", v);
            }
        } else {
            bool known = false;
            for (size_t k = 0; extra_flags != NULL && extra_flags[k] != NULL; k++) {
                if (strcmp(argv[i], extra_flags[k]) == 0) {
                    extra_seen[k] = true;
                    known = true;
                }
            }
            if (!known) {
                err = iof_fail(d, IOF_EINVAL, "unknown option '%s'", argv[i]);
            }
        }
        if (err != IOF_OK) {
            return err;
        }
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        return iof_fail(d, IOF_EINVAL, "--tls-cert and --tls-key go together (HTTPS needs both)");
    }
    return IOF_OK;
}

void ctl_config_db_url(const struct ctl_config *cfg, char *out, size_t size) {
    if (cfg->db[0] != '\0') {
        (void)snprintf(out, size, "%s", cfg->db);
    } else {
        (void)snprintf(out, size, "%s/controller.sqlite", cfg->data_dir);
    }
}

iof_err ctl_config_make_data_dir(const struct ctl_config *cfg, struct iof_diag *d) {
    const char *path = cfg->data_dir;
    char tmp[1024];
    if (strlen(path) >= sizeof tmp) {
        return iof_fail(d, IOF_EINVAL, "data directory path too long");
    }
    memcpy(tmp, path, strlen(path) + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return iof_fail(d, IOF_EIO, "cannot create %s: %s", tmp, strerror(errno));
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return iof_fail(d, IOF_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    return IOF_OK;
}
