/* iofog-agent: the Agent's command line. Each subcommand lives in its own cmd_*.c file and is
 * listed in the table below. */
#include "agent/commands.h"

#include "common/cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
        printf("Agent version: %s\n", IOFOG_VERSION);
        return 0;
    }
    static const struct iof_cli_command commands[] = {
        {"start", "start the Agent daemon (--foreground to stay attached)", agent_cmd_start},
        {"stop", "stop the daemon and remove its microservices", agent_cmd_stop},
        {"status", "show the daemon's state and the Controller connection", agent_cmd_status},
        {"info", "show every setting and the node's uuid", agent_cmd_info},
        {"provision", "provision this node with a key from the Controller", agent_cmd_provision},
        {"deprovision", "detach this node from its Controller", agent_cmd_deprovision},
        {"config",
         "change settings (-a <controller url>, -sf, ...; `config defaults`)",
         agent_cmd_config},
        {"prune", "remove unused Docker images", agent_cmd_prune},
        {"logs", "a microservice's container log on this node", agent_cmd_logs},
        {"version", "print the Agent version (also --version, -v)", agent_cmd_version},
    };
    return iof_cli_dispatch("iofog-agent",
                            "The ioFog-compatible Agent: runs microservices on this edge node.",
                            commands,
                            sizeof commands / sizeof commands[0],
                            argc,
                            argv,
                            NULL);
}
