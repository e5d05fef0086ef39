/* iofog-agent status: the daemon's state and its connection to the Controller. */
#include "agent/cli_client.h"
#include "agent/commands.h"

iof_err agent_cmd_status(int argc, char **argv, void *ctx) {
    (void)ctx;
    return agent_cli_remote(argc,
                            argv,
                            "Usage: iofog-agent status [--config-dir DIR]\n\n"
                            "Shows the daemon's state, its resource use, the running "
                            "microservices\nand the connection to the Controller.\n",
                            false);
}
