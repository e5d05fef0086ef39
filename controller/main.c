/* iofog-controller: the Controller's command line. Each subcommand lives in its own cli/cmd_*.c
 * file and is listed in the table below. */
#include "controller/cli/commands.h"

#include "common/cli.h"
#include "controller/cli/cli_client.h"

int main(int argc, char **argv) {
    if (ctl_cli_take_global_options(&argc, argv) != IOF_OK) {
        return iof_cli_exit_code(IOF_EINVAL);
    }
    static const struct iof_cli_command commands[] = {
        {"start", "run the Controller (--foreground to stay attached)", ctl_cmd_start},
        {"stop", "stop a Controller started in the background", ctl_cmd_stop},
        {"controller", "status, email-activation, fog-types, version", ctl_cmd_controller},
        {"user", "add, update, remove, list users; generate-token", ctl_cmd_user},
        {"catalog", "add, update, remove, list, info catalog items", ctl_cmd_catalog},
        {"registry", "add, remove, update, list container registries", ctl_cmd_registry},
        {"config", "list or change the configuration file", ctl_cmd_config},
        {"microservice",
         "add, update, remove, list, info, routes, port/volume mappings",
         ctl_cmd_microservice},
        {"application", "add, update, remove, list, info applications", ctl_cmd_application},
        {"flow", "legacy name of the application command", ctl_cmd_application},
        {"iofog", "edge nodes: add, update, remove, list, info, keys, commands", ctl_cmd_iofog},
        {"tunnel", "open or close a node's SSH tunnel settings, list tunnels", ctl_cmd_tunnel},
        {"diagnostics", "strace and image snapshots of a microservice", ctl_cmd_diagnostics},
        {"version", "print the Controller version", ctl_cmd_version},
    };
    return iof_cli_dispatch("iofog-controller",
                            "The ioFog-compatible Controller: catalog, nodes and applications.\n"
                            "Options for every command: --output json|table, --controller-url URL\n"
                            "(env IOFOG_CONTROLLER_URL; default http://127.0.0.1:<port>), and\n"
                            "--data-dir DIR, where the admin credential is read.",
                            commands,
                            sizeof commands / sizeof commands[0],
                            argc,
                            argv,
                            NULL);
}
