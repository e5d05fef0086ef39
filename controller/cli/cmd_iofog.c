/* iofog-controller iofog <add|update|remove|list|info|provisioning-key|reboot|version|hal-hw|
 * hal-usb|prune>: manages edge nodes through the running Controller's REST API (controller.md §7),
 * with the classic flags in their long and short forms, and prints the JSON answers. */
#include "controller/cli/commands.h"

#include "controller/cli/cli_client.h"
#include "controller/cli/views.h"
#include "controller/cli/cmd_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ctl_cli_opt opts[] = {
    {'f', "file", NULL, CTL_OPT_FILE},
    {'i', "iofog-uuid", NULL, CTL_OPT_META},
    {'u', "user-id", NULL, CTL_OPT_META},
    {'v', "version-command", NULL, CTL_OPT_META},
    {'o', "reboot", NULL, CTL_OPT_FLAG},
    {'e', "prune", NULL, CTL_OPT_FLAG},
    {'n', "name", "name", CTL_OPT_STR},
    {'l', "location", "location", CTL_OPT_STR},
    {'t', "latitude", "latitude", CTL_OPT_NUM},
    {'g', "longitude", "longitude", CTL_OPT_NUM},
    {'d', "description", "description", CTL_OPT_STR},
    {'D', "docker-url", "dockerUrl", CTL_OPT_STR},
    {'M', "disk-limit", "diskLimit", CTL_OPT_INT},
    {'T', "disk-directory", "diskDirectory", CTL_OPT_STR},
    {'m', "memory-limit", "memoryLimit", CTL_OPT_INT},
    {'c', "cpu-limit", "cpuLimit", CTL_OPT_INT},
    {'G', "log-limit", "logLimit", CTL_OPT_INT},
    {'Y', "log-directory", "logDirectory", CTL_OPT_STR},
    {'C', "log-file-count", "logFileCount", CTL_OPT_INT},
    {'s', "status-frequency", "statusFrequency", CTL_OPT_INT},
    {'F', "change-frequency", "changeFrequency", CTL_OPT_INT},
    {'Q', "device-frequency", "deviceScanFrequency", CTL_OPT_INT},
    {'B', "bluetooth-enable", "bluetoothEnabled", CTL_OPT_TRUE},
    {'b', "bluetooth-disable", "bluetoothEnabled", CTL_OPT_FALSE},
    {'W', "watchdog-enable", "watchdogEnabled", CTL_OPT_TRUE},
    {'w', "watchdog-disable", "watchdogEnabled", CTL_OPT_FALSE},
    {'A', "abs-hw-enable", "abstractedHardwareEnabled", CTL_OPT_TRUE},
    {'a', "abs-hw-disable", "abstractedHardwareEnabled", CTL_OPT_FALSE},
    {'y', "fog-type", "fogType", CTL_OPT_INT},
    {'L', "log-level", "logLevel", CTL_OPT_STR},
    {'p', "docker-pruning-frequency", "dockerPruningFrequency", CTL_OPT_INT},
    {'k', "available-disk-threshold", "availableDiskThreshold", CTL_OPT_INT},
    /* long-only: settings of the REST schema the classic CLI has no flag for */
    {0, "host", "host", CTL_OPT_STR},
    {0, "time-zone", "timeZone", CTL_OPT_STR},
    {0, "tags", "tags", CTL_OPT_LIST},
    {0, "system", "isSystem", CTL_OPT_TRUE},
    {0, "router-mode", "routerMode", CTL_OPT_STR},
    {0, "messaging-port", "messagingPort", CTL_OPT_INT},
    {0, "inter-router-port", "interRouterPort", CTL_OPT_INT},
    {0, "edge-router-port", "edgeRouterPort", CTL_OPT_INT},
    {0, "upstream-routers", "upstreamRouters", CTL_OPT_LIST},
    {0, "network-router", "networkRouter", CTL_OPT_STR},
};

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: iofog-controller iofog <action> [options] [--port N] [--data-dir DIR]\n\n"
        "Actions:\n"
        "  add               create a node (-n name, -y fog type, settings below, or -f "
        "file.json)\n"
        "  update            change a node (-i uuid and the settings to change)\n"
        "  remove            delete a node (-i)\n"
        "  list              list the nodes\n"
        "  info              show a node (-i)\n"
        "  provisioning-key  issue a provisioning key (-i)\n"
        "  reboot            reboot a node (-i)\n"
        "  version           upgrade or roll back the agent (-i, -v upgrade|rollback)\n"
        "  hal-hw, hal-usb   hardware and USB info reported by the node's HAL (-i)\n"
        "  prune             prune unused Docker images on a node (-i)\n"
        "  logs              the node's Agent log: NODE [-f] [--tail N] (iofog logs --help)\n\n"
        "Options:\n"
        "  -f, --file FILE                 JSON body (flags override its keys)\n"
        "  -i, --iofog-uuid UUID|NAME      the node, by uuid or name\n"
        "  -u, --user-id ID                act for this user (default: the first user)\n"
        "  -n, --name NAME                 -l, --location TEXT\n"
        "  -t, --latitude NUM              -g, --longitude NUM\n"
        "  -d, --description TEXT          -D, --docker-url URL\n"
        "  -M, --disk-limit GB             -T, --disk-directory DIR\n"
        "  -m, --memory-limit MB           -c, --cpu-limit PERCENT\n"
        "  -G, --log-limit GB              -Y, --log-directory DIR\n"
        "  -C, --log-file-count N          -s, --status-frequency SEC\n"
        "  -F, --change-frequency SEC      -Q, --device-frequency SEC\n"
        "  -B/-b, --bluetooth-enable/--bluetooth-disable\n"
        "  -W/-w, --watchdog-enable/--watchdog-disable\n"
        "  -A/-a, --abs-hw-enable/--abs-hw-disable\n"
        "  -y, --fog-type 0|1|2            -L, --log-level LEVEL\n"
        "  -p, --docker-pruning-frequency HOURS\n"
        "  -k, --available-disk-threshold PERCENT\n"
        "  -v, --version-command upgrade|rollback\n"
        "  -o, --reboot                    with update: also reboot the node\n"
        "  -e, --prune                     with update: also prune the node\n"
        "  --host HOST  --time-zone TZ  --tags a,b  --system  --router-mode none|edge|interior\n"
        "  --messaging-port N  --inter-router-port N  --edge-router-port N\n"
        "  --upstream-routers uuid,...  --network-router uuid\n\n%s",
        ctl_config_flags_help);
}

/* Sends one request and prints a JSON answer; IOF_OK only for a 2xx status. */
static iof_err
call(const struct ctl_cli_args *a, const char *method, const char *path, json_t *body) {
    long status = 0;
    json_t *answer = NULL;
    struct iof_diag d = {{0}};
    iof_err err = ctl_cli_request(&a->cfg, method, path, body, a->user_id, &status, &answer, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller iofog: %s\n", iof_diag_text(&d, err));
        return err;
    }
    err = ctl_cli_check(status, answer);
    if (err == IOF_OK && answer != NULL) {
        ctl_cli_print_json(answer);
    }
    json_decref(answer);
    return err;
}

static iof_err need_uuid(const struct ctl_cli_args *a, const char *action) {
    if (a->meta['i'] == NULL || *a->meta['i'] == '\0') {
        fprintf(stderr, "iofog-controller iofog %s: -i/--iofog-uuid is required\n", action);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

iof_err ctl_cmd_iofog(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    if (strcmp(action, "logs") == 0) {
        return ctl_cli_logs("iofog", argc - 1, argv + 1);
    }
    struct ctl_cli_args a;
    iof_err err =
        ctl_cli_args_parse("iofog", opts, sizeof opts / sizeof opts[0], argc - 1, argv + 1, &a);
    if (err != IOF_OK) {
        return err;
    }
    char path[256], node[128];
    const char *uuid = a.meta['i'];
    if (uuid != NULL && *uuid != '\0' && strcmp(action, "add") != 0 &&
        strcmp(action, "list") != 0) {
        /* -i takes the node's uuid or its name, as the classic CLI does */
        if ((err = ctl_cli_node_uuid(&a.cfg, a.user_id, uuid, node, sizeof node)) != IOF_OK) {
            ctl_cli_args_clear(&a);
            return err;
        }
        uuid = node;
    }
    if (strcmp(action, "add") == 0) {
        err = call(&a, "POST", "/api/v3/iofog", a.body);
    } else if (strcmp(action, "list") == 0) {
        ctl_cli_view_nodes();
        err = call(&a, "GET", "/api/v3/iofog-list", NULL);
    } else if ((err = need_uuid(&a, action)) != IOF_OK) {
        /* reported */
    } else if (strlen(uuid) > 128) {
        fprintf(stderr, "iofog-controller iofog: invalid node uuid\n");
        err = IOF_EINVAL;
    } else if (strcmp(action, "update") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", uuid);
        err = call(&a, "PATCH", path, a.body);
        if (err == IOF_OK && a.flag['o']) {
            (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/reboot", uuid);
            err = call(&a, "POST", path, NULL);
        }
        if (err == IOF_OK && a.flag['e']) {
            (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/prune", uuid);
            err = call(&a, "POST", path, NULL);
        }
        if (err == IOF_OK) {
            printf("ioFog node %s has been updated.\n", uuid);
        }
    } else if (strcmp(action, "remove") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", uuid);
        err = call(&a, "DELETE", path, NULL);
        if (err == IOF_OK) {
            printf("ioFog node %s has been removed.\n", uuid);
        }
    } else if (strcmp(action, "info") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s", uuid);
        err = call(&a, "GET", path, NULL);
    } else if (strcmp(action, "provisioning-key") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/provisioning-key", uuid);
        err = call(&a, "GET", path, NULL);
    } else if (strcmp(action, "reboot") == 0 || strcmp(action, "prune") == 0) {
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/%s", uuid, action);
        err = call(&a, "POST", path, NULL);
        if (err == IOF_OK) {
            printf("ioFog node %s: %s requested.\n", uuid, action);
        }
    } else if (strcmp(action, "version") == 0) {
        const char *cmd = a.meta['v'];
        if (cmd == NULL || (strcmp(cmd, "upgrade") != 0 && strcmp(cmd, "rollback") != 0)) {
            fprintf(stderr, "iofog-controller iofog version: -v upgrade|rollback is required\n");
            err = IOF_EINVAL;
        } else {
            (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/version/%s", uuid, cmd);
            err = call(&a, "POST", path, NULL);
            if (err == IOF_OK) {
                printf("ioFog node %s: %s requested.\n", uuid, cmd);
            }
        }
    } else if (strcmp(action, "hal-hw") == 0 || strcmp(action, "hal-usb") == 0) {
        (void)snprintf(path,
                       sizeof path,
                       "/api/v3/iofog/%s/hal/%s",
                       uuid,
                       strcmp(action, "hal-hw") == 0 ? "hw" : "usb");
        err = call(&a, "GET", path, NULL);
    } else {
        fprintf(stderr, "iofog-controller iofog: unknown action '%s'\n\n", action);
        usage(stderr);
        err = IOF_EINVAL;
    }
    ctl_cli_args_clear(&a);
    return err;
}
