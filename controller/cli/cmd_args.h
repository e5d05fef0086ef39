/* Option parsing shared by the iofog-controller subcommands that turn classic CLI flags into a
 * REST request body (cmd_iofog.c, cmd_tunnel.c): a table of long and short options, each either a
 * body key with a type or a "meta" value the command uses itself; the Controller's own flags
 * (--port, --data-dir, --bind, --log-level) are passed on to ctl_config_load. */
#ifndef CTL_CMD_ARGS_H
#define CTL_CMD_ARGS_H

#include "common/error.h"
#include "controller/server/config.h"

#include <jansson.h>
#include <stdbool.h>

enum ctl_opt_type {
    CTL_OPT_STR,   /* body[key] = value */
    CTL_OPT_INT,   /* body[key] = integer value */
    CTL_OPT_NUM,   /* body[key] = number value */
    CTL_OPT_TRUE,  /* body[key] = true (no value) */
    CTL_OPT_FALSE, /* body[key] = false (no value) */
    CTL_OPT_LIST,  /* body[key] = value split at commas, as an array of strings */
    CTL_OPT_META,  /* meta[short] = value, for the command itself */
    CTL_OPT_FLAG,  /* flag[short] = true (no value) */
    CTL_OPT_FILE,  /* a JSON object file merged under the body (flags win) */
};

struct ctl_cli_opt {
    char short_name; /* 0: long form only (then not usable as META or FLAG) */
    const char *long_name;
    const char *key; /* body key */
    enum ctl_opt_type type;
};

struct ctl_cli_args {
    struct ctl_config cfg;
    json_t *body;          /* owned: the request body built from the flags (an object) */
    const char *meta[128]; /* META values by short name, borrowed from argv; NULL if absent */
    bool flag[128];        /* FLAG options seen, by short name */
    long user_id;          /* -u/--user-id when the table names "user-id" as META, else 0 */
};

/* Parses argv (argv[0] is the action name) for subcommand cmd. Prints what is wrong and returns
 * IOF_EINVAL on an unknown option or a bad value, IOF_EIO when the file cannot be read. On success
 * *out is filled; release it with ctl_cli_args_clear. */
IOF_NODISCARD iof_err ctl_cli_args_parse(const char *cmd,
                                         const struct ctl_cli_opt *opts,
                                         size_t n_opts,
                                         int argc,
                                         char **argv,
                                         struct ctl_cli_args *out);

void ctl_cli_args_clear(struct ctl_cli_args *a);

#endif
