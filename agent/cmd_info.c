/* iofog-agent info: every setting plus the node's uuid. */
#include "agent/cli_client.h"
#include "agent/commands.h"

iof_err agent_cmd_info(int argc, char **argv, void *ctx) {
    (void)ctx;
    return agent_cli_remote(argc,
                            argv,
                            "Usage: iofog-agent info [--config-dir DIR]\n\n"
                            "Shows every configuration item and the node's uuid.\n",
                            false);
}
