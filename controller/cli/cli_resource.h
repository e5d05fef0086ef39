/* Shared pieces of the CLI subcommands that manage a REST resource of the running Controller
 * (catalog, registry, ...): the connection options every one of them takes, sending a request
 * and printing its answer, reading a JSON file given with -f, and number flags. */
#ifndef CTL_CLI_RESOURCE_H
#define CTL_CLI_RESOURCE_H

#include "common/error.h"
#include "controller/server/config.h"

#include <jansson.h>

/* Help text for the connection options (--port, --data-dir) and -u/--user-id. */
extern const char ctl_cli_resource_help[];

/* Where the Controller is and whom to act for. */
struct ctl_cli_conn {
    struct ctl_config cfg;
    long user_id; /* 0: the first user */
};

/* Loads the configuration with optional --port and --data-dir values (NULL: not given). */
IOF_NODISCARD iof_err ctl_cli_conn_init(struct ctl_cli_conn *c,
                                        const char *port,
                                        const char *data_dir,
                                        struct iof_diag *d);

/* Sends the request and checks the status (printing the server's message on failure). On
 * success prints a non-empty answer as JSON when print is set, and hands it over through *out
 * when out is not NULL (caller releases it; NULL for an empty answer). label prefixes errors
 * ("iofog-controller catalog add"). */
IOF_NODISCARD iof_err ctl_cli_send(const struct ctl_cli_conn *c,
                                   const char *label,
                                   const char *method,
                                   const char *path,
                                   const json_t *body,
                                   bool print,
                                   json_t **out);

/* Reads a JSON object from a file (at most 1 MiB). *out is released by the caller. */
IOF_NODISCARD iof_err ctl_cli_read_json_file(const char *path, json_t **out, struct iof_diag *d);

/* Parses a whole decimal integer in [min, max]; the error names the flag. */
IOF_NODISCARD iof_err ctl_cli_parse_int(const char *text,
                                        const char *flag,
                                        long long min,
                                        long long max,
                                        long long *out,
                                        struct iof_diag *d);

/* Sets key of obj to value (stolen; NULL value means out of memory). */
IOF_NODISCARD iof_err ctl_cli_set(json_t *obj, const char *key, json_t *value);

#endif
