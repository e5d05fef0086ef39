/* Subcommand dispatch and exit codes. */
#include "common/cli.h"

#include <string.h>

int iof_cli_exit_code(iof_err err) {
    switch (err) {
        case IOF_OK: return 0;
        case IOF_EINVAL: return 2;
        case IOF_ENOENT: return 3;
        case IOF_EEXIST:
        case IOF_ECONFLICT: return 4;
        case IOF_EAUTH:
        case IOF_EPERM: return 5;
        case IOF_ETIMEOUT: return 6;
        case IOF_EBUSY:
        case IOF_EIO:
        case IOF_EPROTO:
        case IOF_EREMOTE: return 7;
        case IOF_E2BIG:
        case IOF_EUNSUPPORTED: return 8;
        case IOF_ENOMEM:
        case IOF_EINTERNAL:
        default: return 1;
    }
}

void iof_cli_usage(FILE *out,
                   const char *program,
                   const char *about,
                   const struct iof_cli_command *cmds,
                   size_t n) {
    fprintf(out, "Usage: %s <command> [options]\n\n%s\n\nCommands:\n", program, about);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  %-14s %s\n", cmds[i].name, cmds[i].summary);
    }
    fprintf(out, "\nRun '%s <command> --help' for the options of a command.\n", program);
}

static int is_help(const char *arg) {
    return strcmp(arg, "help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int iof_cli_dispatch(const char *program,
                     const char *about,
                     const struct iof_cli_command *cmds,
                     size_t n,
                     int argc,
                     char **argv,
                     void *ctx) {
    if (argc < 2) {
        iof_cli_usage(stderr, program, about, cmds, n);
        return 2;
    }
    if (is_help(argv[1])) {
        iof_cli_usage(stdout, program, about, cmds, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) {
            return iof_cli_exit_code(cmds[i].run(argc - 1, argv + 1, ctx));
        }
    }
    fprintf(stderr, "%s: unknown command '%s'\n\n", program, argv[1]);
    iof_cli_usage(stderr, program, about, cmds, n);
    return 2;
}

iof_err iof_cli_version(const char *program, const char *label, int argc, char **argv) {
    if (argc > 1 && is_help(argv[1])) {
        printf("Usage: %s version\n\nPrints the %s version.\n", program, label);
        return IOF_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "%s version: unexpected argument '%s'\n", program, argv[1]);
        return IOF_EINVAL;
    }
    printf("%s version: %s\n", label, IOFOG_VERSION);
    return IOF_OK;
}
