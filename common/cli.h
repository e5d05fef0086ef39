/* Command-line plumbing shared by iofog-controller and iofog-agent: a subcommand table, help text
 * and the one table that turns error categories into process exit codes. */
#ifndef IOF_COMMON_CLI_H
#define IOF_COMMON_CLI_H

#include "common/error.h"

#include <stdio.h>

/* One subcommand. run gets the arguments after the subcommand name (argv[0] is the name) and
 * returns IOF_OK or the category of the failure, having printed what went wrong. */
struct iof_cli_command {
    const char *name;
    const char *summary;
    iof_err (*run)(int argc, char **argv, void *ctx);
};

/* Exit code for a category: 0 ok, 1 internal, 2 invalid usage or input, 3 not found,
 * 4 exists or conflict, 5 authentication or permission, 6 timeout, 7 unavailable (I/O, busy,
 * remote), 8 too large or unsupported. */
int iof_cli_exit_code(iof_err err);

/* Prints "Usage: <program> <command> [options]" and the command list to out. */
void iof_cli_usage(FILE *out,
                   const char *program,
                   const char *about,
                   const struct iof_cli_command *cmds,
                   size_t n);

/* Runs the subcommand named by argv[1]. "help", "-h", "--help" or no argument print the usage
 * (exit 0 for an explicit request, 2 when the command is missing); an unknown command prints the
 * usage to stderr and gives 2. Returns the process exit code. */
int iof_cli_dispatch(const char *program,
                     const char *about,
                     const struct iof_cli_command *cmds,
                     size_t n,
                     int argc,
                     char **argv,
                     void *ctx);

/* The body of a "version" subcommand: prints "<label> version: <version>" or, with --help, its
 * usage. Any other argument is IOF_EINVAL. */
iof_err iof_cli_version(const char *program, const char *label, int argc, char **argv);

#endif
