/* iofog-agent prune: removes unused Docker images. */
#include "agent/cli_client.h"
#include "agent/commands.h"

iof_err agent_cmd_prune(int argc, char **argv, void *ctx) {
    (void)ctx;
    return agent_cli_remote(argc,
                            argv,
                            "Usage: iofog-agent prune [--config-dir DIR]\n\n"
                            "Removes Docker images no container uses.\n",
                            false);
}
