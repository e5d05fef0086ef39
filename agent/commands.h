/* Subcommands of iofog-agent, one file each. */
#ifndef AGENT_COMMANDS_H
#define AGENT_COMMANDS_H

#include "common/error.h"

iof_err agent_cmd_version(int argc, char **argv, void *ctx);
iof_err agent_cmd_start(int argc, char **argv, void *ctx);
iof_err agent_cmd_stop(int argc, char **argv, void *ctx);
iof_err agent_cmd_status(int argc, char **argv, void *ctx);
iof_err agent_cmd_info(int argc, char **argv, void *ctx);
iof_err agent_cmd_provision(int argc, char **argv, void *ctx);
iof_err agent_cmd_deprovision(int argc, char **argv, void *ctx);
iof_err agent_cmd_config(int argc, char **argv, void *ctx);
iof_err agent_cmd_prune(int argc, char **argv, void *ctx);
iof_err agent_cmd_logs(int argc, char **argv, void *ctx);

#endif
