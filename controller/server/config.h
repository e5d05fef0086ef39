/* The Controller's configuration: built-in defaults, then the file <data-dir>/controller.json,
 * then environment variables, then command-line flags, each overriding the one before. */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include "common/error.h"
#include "common/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_DEFAULT_PORT        51121
#define CTL_DEFAULT_DATA_DIR    "/var/lib/iofog-controller"
#define CTL_DEFAULT_VIEWER_PORT 8008 /* classic's ECN Viewer port */

struct ctl_config {
    char data_dir[1024];          /* --data-dir, IOFOG_CONTROLLER_DATA_DIR */
    char bind[64];                /* --bind, IOFOG_CONTROLLER_BIND, file "bind"; default 0.0.0.0 */
    uint16_t port;                /* --port, IOFOG_CONTROLLER_PORT, file "port"; default 51121 */
    enum iof_log_level log_level; /* --log-level, IOFOG_LOG_LEVEL, file "logLevel"; default info */
    unsigned http_threads;        /* file "httpThreads"; default 2 */
    size_t connection_memory;     /* per-connection request-head memory: file
                                     "connectionMemoryBytes"; default 8192 (heads up to ~4 KiB).
                                     4096 holds 10,000 long-polls in ~83 MB but limits heads
                                     to ~1.5 KiB */
    unsigned max_connections;     /* file "maxConnections"; default 16384 (agents' long-polls
                                     hold one each); the soft fd limit is raised to fit. Over
                                     it, requests get 503 with Retry-After */
    unsigned max_connections_per_address; /* file "maxConnectionsPerAddress"; default 256 */
    int64_t user_token_ttl_s; /* file "userTokenExpirationSeconds"; default 3600 (sliding) */
    int64_t user_token_max_lifetime_s; /* cap on sliding: file "userTokenMaxLifetimeSeconds";
                                          default 7 days */
    char nats_url[512];                /* handed to agents as natsUrl: --nats-url,
                                          IOFOG_CONTROLLER_NATS_URL, file "natsUrl";
                                          default nats://127.0.0.1:4222 */
    char nats_auth_file[1024]; /* nats-server authorization file the Controller writes (per-node
                                  users, docs/design/nats-security.md): --nats-auth-file,
                                  IOFOG_CONTROLLER_NATS_AUTH_FILE, file "natsAuthFile"; "" = none */
    char nats_pid_file[1024];  /* nats-server's pid file: SIGHUP after each new authorization file
                                  (--nats-pid-file, IOFOG_CONTROLLER_NATS_PID_FILE, file
                                  "natsPidFile"); "" = nats-server reloads by other means */
    int64_t liveness_interval_ms;      /* node liveness check period; file "livenessIntervalMs";
                                          default 2000 */
    uint64_t image_snapshot_max_bytes; /* largest image snapshot upload (whole request body);
                                          file "imageSnapshotMaxBytes"; default 2 GiB */
    char tls_cert[1024];               /* HTTPS: PEM certificate (chain) file: --tls-cert,
                                          IOFOG_CONTROLLER_TLS_CERT, file "tlsCert"; "" = plain HTTP */
    char tls_key[1024]; /* its PEM private key: --tls-key, IOFOG_CONTROLLER_TLS_KEY, "tlsKey" */
    char db[1024];      /* database: --db, IOFOG_CONTROLLER_DB, file "db"; a SQLite path or URL or a
                           postgres:// URL; empty (default) = <data-dir>/controller.sqlite */
    char viewer_dir[1024]; /* the web console (ECN Viewer package directory: package.json and
                              build/): --viewer-dir, IOFOG_CONTROLLER_VIEWER_DIR, file
                              "viewerDir"; "" (default) = no console */
    uint16_t viewer_port;  /* its port: --viewer-port, IOFOG_CONTROLLER_VIEWER_PORT, file
                              "viewerPort"; default 8008; 0 = no console */
};

/* The database the configuration names (cfg->db, or the default SQLite file) into out[size]. */
void ctl_config_db_url(const struct ctl_config *cfg, char *out, size_t size);

/* Fills cfg with the built-in defaults. */
void ctl_config_defaults(struct ctl_config *cfg);

/* Applies the command-line flags of argv (argv[0] is the command name) on top of defaults, file
 * and environment. Recognised: --port N, --data-dir DIR, --bind ADDR, --log-level LEVEL, --nats-url
 * URL, --nats-auth-file PATH, --nats-pid-file PATH, --db URL, --tls-cert FILE, --tls-key FILE
 * (both or neither), --viewer-dir DIR, --viewer-port N (0: off), and the
 * flags named in extra_flags (NULL-terminated, e.g. "--foreground"), which are reported through
 * extra_seen (same order). IOF_EINVAL naming the flag on anything else or a bad value. */
IOF_NODISCARD iof_err ctl_config_load(struct ctl_config *cfg,
                                      int argc,
                                      char **argv,
                                      const char *const *extra_flags,
                                      bool *extra_seen,
                                      struct iof_diag *d);

/* Creates the data directory (and missing parents) with mode 0700 when it does not exist. */
IOF_NODISCARD iof_err ctl_config_make_data_dir(const struct ctl_config *cfg, struct iof_diag *d);

/* Help text for the flags ctl_config_load understands. */
extern const char ctl_config_flags_help[];

#endif
