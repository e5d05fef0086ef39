/* iofog-agent provision <key>: attaches this node to the Controller named by `config -a`. */
#include "agent/cli_client.h"
#include "agent/commands.h"

iof_err agent_cmd_provision(int argc, char **argv, void *ctx) {
    (void)ctx;
    return agent_cli_remote(argc,
                            argv,
                            "Usage: iofog-agent provision <provisioning key> [--config-dir DIR]\n\n"
                            "Provisions this Agent with a key from the Controller\n"
                            "(iofog-controller iofog provisioning-key -i <node uuid>).\n",
                            false);
}
