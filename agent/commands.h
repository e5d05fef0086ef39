/* Subcommands of iofog-agent, one file each. */
#ifndef AGENT_COMMANDS_H
#define AGENT_COMMANDS_H

#include "common/error.h"

iof_err agent_cmd_version(int argc, char **argv, void *ctx);

#endif
