/* iofog-controller tunnel <update|list>: opens or closes the SSH tunnel settings of a node and
 * lists the nodes' tunnels, through the running Controller's REST API (controller.md §7). There is
 * no tunnel server in this system: these commands record the classic settings and state. */
#include "controller/cli/commands.h"

#include "controller/cli/cli_client.h"
#include "controller/cli/cmd_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ctl_cli_opt opts[] = {
    {'i', "iofog-uuid", NULL, CTL_OPT_META},
    {'a', "action", "action", CTL_OPT_STR},
    {'u', "username", "username", CTL_OPT_STR},
    {'p', "password", "password", CTL_OPT_STR},
    {'s', "host", "host", CTL_OPT_STR},
    {'k', "rsa-key", NULL, CTL_OPT_META},
    {'o', "port", "lport", CTL_OPT_INT},
};

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller tunnel <action> [options] [--port N] [--data-dir DIR]\n\n"
            "Actions:\n"
            "  update  -i UUID -a open|close [-u USER -p PASSWORD -s HOST -k RSA_KEY|FILE -o "
            "PORT]\n"
            "  list    the tunnels of every node\n\n"
            "Note: -o/--port is the tunnel's local (SSH) port, as in the classic CLI; give the "
            "Controller's port with IOFOG_CONTROLLER_PORT or its controller.json.\n\n%s",
            ctl_config_flags_help);
}

static iof_err request(const struct ctl_cli_args *a,
                       const char *method,
                       const char *path,
                       const json_t *body,
                       long *status,
                       json_t **answer) {
    struct iof_diag d = {{0}};
    iof_err err = ctl_cli_request(&a->cfg, method, path, body, 0, status, answer, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller tunnel: %s\n", iof_diag_text(&d, err));
    }
    return err;
}

/* The RSA key: the content of the file it names, else the text itself. */
static iof_err set_rsa_key(const char *v, json_t *body) {
    FILE *fp = fopen(v, "rb");
    if (fp == NULL) {
        (void)json_object_set_new(body, "rsakey", json_string(v));
        return IOF_OK;
    }
    char buf[16384];
    size_t len = fread(buf, 1, sizeof buf, fp);
    (void)fclose(fp);
    if (len == sizeof buf) {
        fprintf(stderr, "iofog-controller tunnel: %s is too large for a key\n", v);
        return IOF_E2BIG;
    }
    (void)json_object_set_new(body, "rsakey", json_stringn(buf, len));
    return IOF_OK;
}

static iof_err list(const struct ctl_cli_args *a) {
    long status = 0;
    json_t *fogs = NULL;
    iof_err err = request(a, "GET", "/api/v3/iofog-list", NULL, &status, &fogs);
    if (err != IOF_OK || (err = ctl_cli_check(status, fogs)) != IOF_OK) {
        json_decref(fogs);
        return err;
    }
    json_t *tunnels = json_array();
    size_t i;
    json_t *fog;
    json_array_foreach(json_object_get(fogs, "fogs"), i, fog) {
        const char *uuid = json_string_value(json_object_get(fog, "uuid"));
        char path[256];
        (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/tunnel", uuid != NULL ? uuid : "");
        json_t *t = NULL;
        if (err == IOF_OK && (err = request(a, "GET", path, NULL, &status, &t)) == IOF_OK &&
            status == 200 && json_is_object(t)) {
            (void)json_object_set_new(t, "iofogUuid", json_string(uuid));
            (void)json_array_append(tunnels, t);
        }
        json_decref(t);
    }
    json_decref(fogs);
    if (err == IOF_OK) {
        json_t *out = json_pack("{s:o}", "tunnels", tunnels);
        ctl_cli_print_json(out);
        json_decref(out);
    } else {
        json_decref(tunnels);
    }
    return err;
}

iof_err ctl_cmd_tunnel(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    struct ctl_cli_args a;
    iof_err err =
        ctl_cli_args_parse("tunnel", opts, sizeof opts / sizeof opts[0], argc - 1, argv + 1, &a);
    if (err != IOF_OK) {
        return err;
    }
    if (strcmp(action, "list") == 0) {
        err = list(&a);
    } else if (strcmp(action, "update") == 0) {
        const char *uuid = a.meta['i'];
        if (uuid == NULL || *uuid == '\0' || strlen(uuid) > 128 ||
            json_object_get(a.body, "action") == NULL) {
            fprintf(stderr,
                    "iofog-controller tunnel update: -i UUID and -a open|close are required\n");
            err = IOF_EINVAL;
        } else if (a.meta['k'] != NULL) {
            err = set_rsa_key(a.meta['k'], a.body);
        }
        if (err == IOF_OK) {
            char path[256];
            long status = 0;
            json_t *answer = NULL;
            (void)snprintf(path, sizeof path, "/api/v3/iofog/%s/tunnel", uuid);
            err = request(&a, "PATCH", path, a.body, &status, &answer);
            if (err == IOF_OK && (err = ctl_cli_check(status, answer)) == IOF_OK) {
                printf("Tunnel of ioFog node %s: %s.\n",
                       uuid,
                       json_string_value(json_object_get(a.body, "action")));
            }
            json_decref(answer);
        }
    } else {
        fprintf(stderr, "iofog-controller tunnel: unknown action '%s'\n\n", action);
        usage(stderr);
        err = IOF_EINVAL;
    }
    ctl_cli_args_clear(&a);
    return err;
}
