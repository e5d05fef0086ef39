/* How CLI subcommands reach a running Controller: over its REST API on the loopback address,
 * presenting the local admin credential from the data directory (full rights, acting for the user
 * given with -u/--user-id or else the first user). */
#ifndef CTL_CLI_CLIENT_H
#define CTL_CLI_CLIENT_H

#include "common/error.h"
#include "controller/server/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Sends method path (relative to http://127.0.0.1:<port>) with an optional JSON body.
 * user_id > 0 adds X-Iofog-User-Id. On success *status is the HTTP status and *out the parsed
 * JSON answer or NULL for an empty one (caller releases with json_decref). IOF_EIO with a hint
 * when the Controller is not running, IOF_ENOENT when there is no admin credential. */
IOF_NODISCARD iof_err ctl_cli_request(const struct ctl_config *cfg,
                                      const char *method,
                                      const char *path,
                                      const json_t *body,
                                      long user_id,
                                      long *status,
                                      json_t **out,
                                      struct iof_diag *d);

/* Configuration for a CLI command: defaults, file and environment, then the --port and --data-dir
 * values the command parsed (NULL when not given). */
IOF_NODISCARD iof_err ctl_cli_config(const char *port,
                                     const char *data_dir,
                                     struct ctl_config *cfg,
                                     struct iof_diag *d);

/* The base URL (no trailing /api/v3) commands talk to: --controller-url, else
 * IOFOG_CONTROLLER_URL, else http://127.0.0.1:<cfg->port>. IOF_EINVAL for a URL that is not
 * http(s). */
IOF_NODISCARD iof_err ctl_cli_target_url(const struct ctl_config *cfg,
                                         char *out,
                                         size_t size,
                                         struct iof_diag *d);

/* The uuid of the node ref names, by uuid or else by name (the classic CLI takes either where it
 * takes a node), looked up in GET /api/v3/iofog-list as user_id (0: the default). IOF_ENOENT
 * (printed) when no node has that uuid or name, IOF_ECONFLICT when several share the name; when
 * the list cannot be had, ref is passed on as it is and the Controller judges it. */
IOF_NODISCARD iof_err ctl_cli_node_uuid(
    const struct ctl_config *cfg, long user_id, const char *ref, char *out, size_t size);

/* The uuid of the microservice ref names, by uuid or else by name, among the caller's
 * (GET /api/v3/microservices). IOF_ENOENT / IOF_ECONFLICT (printed) as ctl_cli_node_uuid; when
 * the list cannot be had, ref is passed on as it is. */
IOF_NODISCARD iof_err ctl_cli_msvc_uuid(
    const struct ctl_config *cfg, long user_id, const char *ref, char *out, size_t size);

/* GETs path and copies the body to stdout as it arrives (a log stream), with no overall time
 * limit. Error answers are reported like ctl_cli_check. Returns the category. */
iof_err ctl_cli_follow(const struct ctl_config *cfg, const char *path);

/* Runs one request and prints the answer (JSON) or the error; returns the category. */
iof_err ctl_cli_run(const struct ctl_config *cfg,
                    const char *method,
                    const char *path,
                    const json_t *body,
                    long user_id,
                    const char *what);

/* GETs path and writes the body to the file out_path (created or replaced) when the answer is
 * 2xx; other answers are reported like ctl_cli_check. Returns the category. */
iof_err ctl_cli_download(const struct ctl_config *cfg, const char *path, const char *out_path);

/* Takes the options every subcommand shares out of argv (shifting the rest down, updating *argc):
 * --output json|table (also --output=...) and --controller-url URL (env IOFOG_CONTROLLER_URL),
 * the Controller to talk to instead of http(s)://127.0.0.1:<port>; a trailing /api/v3 is accepted;
 * --ca-cert FILE (env IOFOG_CONTROLLER_CA_CERT), the PEM CA bundle that verifies an https
 * Controller instead of the system's store.
 * IOF_EINVAL with a message on stderr for a bad value. Process-wide: the CLI runs one command. */
IOF_NODISCARD iof_err ctl_cli_take_global_options(int *argc, char **argv);

/* The CA bundle that verifies an https Controller: --ca-cert, else IOFOG_CONTROLLER_CA_CERT, else
 * NULL (the system's store). */
const char *ctl_cli_ca_file(void);

/* A column of a table view: its title and either a dotted path into the row ("status.status",
 * "images.0.containerImage") or a render function that writes the cell text into out. */
struct ctl_cli_column {
    const char *title;
    const char *path;
    void (*render)(const json_t *row, char *out, size_t size);
};

/* Whether --output table, or --output json, was asked for explicitly. */
bool ctl_cli_output_table(void);
bool ctl_cli_output_json(void);

/* Chooses the columns --output table shows for the rows of the next answer printed (a list
 * command's own view); cols must outlive the printing. Without a view the table shows the first
 * scalar keys of the rows. */
void ctl_cli_set_table_view(const struct ctl_cli_column *cols, size_t n);

/* Prints an answer on stdout: indented JSON, or with --output table a table (the rows of the
 * answer's list, else its fields as key/value lines). */
void ctl_cli_print_json(const json_t *value);

/* Turns an error answer ({"name","message"}) into a category and prints the message on stderr.
 * Returns IOF_OK for a 2xx status. */
iof_err ctl_cli_check(long status, const json_t *answer);

#endif
