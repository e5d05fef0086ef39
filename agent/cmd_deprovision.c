/* iofog-agent deprovision: detaches this node from its Controller. */
#include "agent/cli_client.h"
#include "agent/commands.h"

iof_err agent_cmd_deprovision(int argc, char **argv, void *ctx) {
    (void)ctx;
    return agent_cli_remote(argc,
                            argv,
                            "Usage: iofog-agent deprovision [--config-dir DIR]\n\n"
                            "Detaches this Agent from its Controller and stops its "
                            "microservices.\n",
                            false);
}
