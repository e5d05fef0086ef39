/* The Agent's configuration: the settings of agent.md §5.2 (same CLI flags, same validation texts
 * as the classic agent), our own additions (Local API port and address, long-poll wait), and the
 * credentials the Controller issued at provisioning.
 *
 * Files, all in the config directory (default /etc/iofog-agent, env IOFOG_AGENT_CONFIG_DIR,
 * flag --config-dir):
 *   config.json       the settings, one JSON object keyed by the names in docs/agent.md (camelCase,
 *                     as the Controller's agent config uses them where it has them); written
 *                     atomically (temp file + rename), mode 0644;
 *   credentials.json  {"iofogUuid","accessToken"} from provisioning, with "natsUser" and
 *                     "natsPassword" when the Controller issued a NATS credential, mode 0600;
 *   local-api         the admin token the CLI sends to the daemon, mode 0600;
 *   cache/            the last microservices, registries and edge resources (agent/cache.h).
 *
 * A struct agent_config is a plain value: copy it freely. Not thread-safe by itself; the daemon
 * guards its copy with a mutex. */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define AGENT_DEFAULT_CONFIG_DIR     "/etc/iofog-agent"
#define AGENT_DEFAULT_LOCAL_API_PORT 54321

struct agent_config {
    char config_dir[512];
    /* agent.md §5.2 */
    char controller_url[512]; /* ends with "/api/v3/" */
    char controller_cert[512];
    char docker_url[256];
    char network_interface[64];
    double disk_limit; /* GiB, message archive */
    char disk_directory[512];
    double memory_limit; /* MiB */
    double cpu_limit;    /* % */
    double log_limit;    /* GiB */
    char log_directory[512];
    int log_file_count;
    char log_level[16];
    int status_frequency;      /* s */
    int change_frequency;      /* s, classic polling interval when long-poll is unavailable */
    int diagnostics_frequency; /* s */
    int device_scan_frequency; /* s */
    bool watchdog_enabled;
    char gps_mode[16];        /* auto | off | manual | dynamic */
    char gps_coordinates[64]; /* "lat,lon" */
    char fog_type[16];        /* auto | intel_amd | arm */
    bool secure_mode;
    int docker_pruning_frequency; /* h */
    int available_disk_threshold; /* % */
    int upgrade_scan_frequency;   /* h */
    bool dev_mode;
    char time_zone[64];
    /* ours */
    uint16_t local_api_port;
    char local_api_bind[64]; /* "127.0.0.1"; the Docker bridge gateway is added automatically */
    bool local_api_strict;   /* localApiStrict: callers from the node itself (loopback, host
                                addresses) only for host-network microservices' ids */
    int long_poll_wait;      /* s for config/changes?wait=, 0: classic polling only */
    int ack_timeout_ms;      /* un-ACKed WebSocket deliveries are sent again after this (classic
                                20000) */
    char nats_url[512];      /* NATS server(s) for messages across nodes, from the Controller's
                                agent config (natsUrl); "" : none */
    /* credentials.json */
    char iofog_uuid[64];
    char access_token[256];
    char nats_user[128]; /* this node's NATS identity (ours); "" : connect without one */
    char nats_password[128];
};

/* Fills c with the defaults for config_dir (NULL: the default directory). */
void agent_config_defaults(struct agent_config *c, const char *config_dir);

/* Loads <config_dir>/config.json and credentials.json over the defaults. Missing files are not an
 * error (first start). IOF_EINVAL with the file name and the problem on a malformed file or a
 * value that fails validation. */
IOF_NODISCARD iof_err agent_config_load(struct agent_config *c,
                                        const char *config_dir,
                                        struct iof_diag *d);

/* Writes config.json (settings only) atomically; creates the directory when missing. */
IOF_NODISCARD iof_err agent_config_save(const struct agent_config *c, struct iof_diag *d);

/* Writes or removes (uuid and token empty) credentials.json, mode 0600, with the NATS credential
 * when nats_user is set. */
IOF_NODISCARD iof_err agent_config_save_credentials(const struct agent_config *c,
                                                    struct iof_diag *d);

/* Sets one setting from a CLI flag without its dash ("d", "sf", "a", ...) or from a config.json
 * key, with the classic validation. On a bad value returns IOF_EINVAL and writes the classic
 * message ("Option -sf has invalid value: x", "Status update frequency must be greater than 1",
 * ...) to d; c is unchanged then. IOF_ENOENT for an unknown flag. */
IOF_NODISCARD iof_err agent_config_set(struct agent_config *c,
                                       const char *flag,
                                       const char *value,
                                       struct iof_diag *d);

/* Applies `iofog-agent config` arguments ("-d", "10", "-sf", "5", ... or "defaults"): every valid
 * flag is applied, every invalid one adds "<flag>: <message>" to *messages (a JSON object, new
 * reference, empty when all went well). IOF_EINVAL when the arguments are malformed (a value
 * missing), with a message in d. */
IOF_NODISCARD iof_err agent_config_apply_args(struct agent_config *c,
                                              int argc,
                                              const char *const *argv,
                                              json_t **messages,
                                              struct iof_diag *d);

/* Applies the Controller's GET /api/v3/agent/config answer (keys of agent.md §3.2; unknown keys
 * ignored, invalid values skipped and logged). Sets *changed when something differs. */
void agent_config_apply_controller(struct agent_config *c, const json_t *cfg, bool *changed);

/* The body of PATCH /api/v3/agent/config: this agent's settings in the Controller's key names.
 * New reference. */
json_t *agent_config_controller_json(const struct agent_config *c);

/* Every setting as "Label : value" lines for `iofog-agent info`, in a JSON object keyed like the
 * classic /v2/info (lower-case label, spaces as '-'). New reference. */
json_t *agent_config_info_json(const struct agent_config *c);

/* The help text of the config flags. */
extern const char agent_config_flags_help[];

/* Architecture code for provisioning: 1 intel_amd, 2 arm, 0 unknown (fog_type auto: from
 * uname). */
int agent_config_fog_type_code(const struct agent_config *c);

/* The admin token of <config_dir>/local-api, created (32 random letters and digits, mode 0600)
 * when missing. tok holds at least 64 bytes. */
IOF_NODISCARD iof_err agent_config_admin_token(
    const char *config_dir, bool create, char *tok, size_t len, struct iof_diag *d);

/* Writes data to path atomically (temp file in the same directory, fsync, rename) with mode. */
IOF_NODISCARD iof_err agent_write_file_atomic(
    const char *path, const void *data, size_t len, unsigned mode, struct iof_diag *d);

#endif
