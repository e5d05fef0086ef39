/* Subcommands of iofog-controller, one file each (cmd_<name>.c). */
#ifndef CTL_COMMANDS_H
#define CTL_COMMANDS_H

#include "common/error.h"

iof_err ctl_cmd_version(int argc, char **argv, void *ctx);
iof_err ctl_cmd_start(int argc, char **argv, void *ctx);
iof_err ctl_cmd_stop(int argc, char **argv, void *ctx);
iof_err ctl_cmd_controller(int argc, char **argv, void *ctx);
iof_err ctl_cmd_user(int argc, char **argv, void *ctx);
iof_err ctl_cmd_diagnostics(int argc, char **argv, void *ctx);
iof_err ctl_cmd_catalog(int argc, char **argv, void *ctx);
iof_err ctl_cmd_registry(int argc, char **argv, void *ctx);
iof_err ctl_cmd_config(int argc, char **argv, void *ctx);
iof_err ctl_cmd_application(int argc, char **argv, void *ctx);
iof_err ctl_cmd_iofog(int argc, char **argv, void *ctx);
iof_err ctl_cmd_tunnel(int argc, char **argv, void *ctx);
iof_err ctl_cmd_microservice(int argc, char **argv, void *ctx);
iof_err ctl_cmd_login(int argc, char **argv, void *ctx);

/* Actions shared by several commands (cmd_observe.c); argv[0] is the action. */
iof_err ctl_cli_logs(const char *resource /* "microservice" or "iofog" */, int argc, char **argv);
iof_err ctl_cli_describe(int argc, char **argv);
iof_err ctl_cmd_logout(int argc, char **argv, void *ctx);

#endif
