/* iofog-controller controller <status|email-activation|fog-types|version>: asks the running
 * Controller and prints its answer. */
#include "controller/cli/commands.h"

#include "common/cli.h"
#include "controller/cli/cli_client.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller controller <action> [--port N] [--data-dir DIR]\n\n"
            "Actions:\n"
            "  status            the running Controller's status\n"
            "  email-activation  whether signup needs e-mail activation\n"
            "  fog-types         the node types\n"
            "  version           this program's version\n");
}

iof_err ctl_cmd_controller(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    if (strcmp(action, "version") == 0) {
        return iof_cli_version("iofog-controller", "Controller", argc - 1, argv + 1);
    }
    const char *path = strcmp(action, "status") == 0             ? "/api/v3/status"
                       : strcmp(action, "email-activation") == 0 ? "/api/v3/email-activation"
                       : strcmp(action, "fog-types") == 0        ? "/api/v3/fog-types"
                                                                 : NULL;
    if (path == NULL) {
        fprintf(stderr, "iofog-controller controller: unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    iof_err err = ctl_config_load(&cfg, argc - 1, argv + 1, NULL, NULL, &d);
    long status = 0;
    json_t *answer = NULL;
    if (err == IOF_OK) {
        err = ctl_cli_request(&cfg, "GET", path, NULL, 0, &status, &answer, &d);
    }
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller controller %s: %s\n", action, iof_diag_text(&d, err));
        return err;
    }
    err = ctl_cli_check(status, answer);
    if (err == IOF_OK) {
        ctl_cli_print_json(answer);
    }
    json_decref(answer);
    return err;
}
