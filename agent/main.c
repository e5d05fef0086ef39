/* iofog-agent: the Agent's command line. Each subcommand lives in its own cmd_*.c file and is
 * listed in the table below. */
#include "agent/commands.h"

#include "common/cli.h"

int main(int argc, char **argv) {
    static const struct iof_cli_command commands[] = {
        {"version", "print the Agent version", agent_cmd_version},
    };
    return iof_cli_dispatch("iofog-agent",
                            "The ioFog-compatible Agent: runs microservices on this edge node.",
                            commands,
                            sizeof commands / sizeof commands[0],
                            argc,
                            argv,
                            NULL);
}
