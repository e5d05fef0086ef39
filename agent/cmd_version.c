/* iofog-agent version */
#include "agent/commands.h"

#include "common/cli.h"

iof_err agent_cmd_version(int argc, char **argv, void *ctx) {
    (void)ctx;
    return iof_cli_version("iofog-agent", "Agent", argc, argv);
}
