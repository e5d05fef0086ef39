/* Subcommands of iofog-controller, one file each. */
#ifndef CTL_COMMANDS_H
#define CTL_COMMANDS_H

#include "common/error.h"

iof_err ctl_cmd_version(int argc, char **argv, void *ctx);

#endif
