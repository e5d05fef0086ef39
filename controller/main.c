/* iofog-controller: the Controller's command line. Each subcommand lives in its own cli/cmd_*.c
 * file and is listed in the table below. */
#include "controller/cli/commands.h"

#include "common/cli.h"
#include "controller/cli/cli_client.h"

#include <stdio.h>
#include <string.h>

/* --help or -h after a subcommand asks for that subcommand's usage, wherever it stands. -h is
 * also a classic short option with a value in `config` (--home-url) and `diagnostics` (--host):
 * there it means help only as the last argument. */
static bool wants_help(int argc, char **argv) {
    bool h_has_value = strcmp(argv[1], "config") == 0 || strcmp(argv[1], "diagnostics") == 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 ||
            (strcmp(argv[i], "-h") == 0 && (!h_has_value || i + 1 == argc))) {
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
        printf("Controller version: %s\n", IOFOG_VERSION);
        return 0;
    }
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
        {"version", "print the Controller version (also --version, -v)", ctl_cmd_version},
        {"login", "log in to a Controller and store the session", ctl_cmd_login},
        {"logout", "revoke and remove the stored session", ctl_cmd_logout},
    };
    char help_flag[] = "--help";
    char *help_argv[] = {argv[0], argv[argc > 1 ? 1 : 0], help_flag, NULL};
    if (argc >= 3 && wants_help(argc, argv)) {
        argv = help_argv;
        argc = 3;
    }
    return iof_cli_dispatch("iofog-controller",
                            "The ioFog-compatible Controller: catalog, nodes and applications.\n"
                            "Options for every command: --output json|table, --controller-url URL\n"
                            "(env IOFOG_CONTROLLER_URL; default http://127.0.0.1:<port>, https\n"
                            "when the Controller has --tls-cert), --ca-cert FILE (env\n"
                            "IOFOG_CONTROLLER_CA_CERT; the CA that verifies an https Controller,\n"
                            "default the system's store),\n"
                            "--token T (env IOFOG_CONTROLLER_TOKEN), a user access token, and\n"
                            "--data-dir DIR (env IOFOG_CONTROLLER_DATA_DIR), where a local\n"
                            "Controller's admin credential is read. Without --token or --data-dir\n"
                            "the session stored by `iofog-controller login` is used, if any.\n"
                            "--help after any command prints its usage.",
                            commands,
                            sizeof commands / sizeof commands[0],
                            argc,
                            argv,
                            NULL);
}
