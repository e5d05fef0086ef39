/* iofog-controller version */
#include "controller/cli/commands.h"

#include "common/cli.h"

iof_err ctl_cmd_version(int argc, char **argv, void *ctx) {
    (void)ctx;
    return iof_cli_version("iofog-controller", "Controller", argc, argv);
}
