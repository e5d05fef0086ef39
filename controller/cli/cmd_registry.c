/* iofog-controller registry <add|remove|update|list>: manages container registries through the
 * running Controller's REST API (controller.md §7) with the admin credential. Passwords are sent
 * to the Controller but never printed (the API does not return them). */
#include "controller/cli/commands.h"

#include "controller/cli/cli_resource.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define LABEL "iofog-controller registry"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller registry <add|remove|update|list> [options]\n\n"
            "Options:\n"
            "  -i, --item-id ID               registry id (remove, update)\n"
            "  -U, --uri URL                  registry address\n"
            "  -b, --public | -r, --private   visibility to other users (add: private)\n"
            "  -l, --username NAME            -p, --password PASSWORD\n"
            "  -e, --email EMAIL\n"
            "  -c, --requires-certificate     -C, --certificate PEM\n"
            "%s",
            ctl_cli_resource_help);
}

struct registry_opts {
    const char *item_id, *uri, *username, *password, *email, *certificate, *user_id, *port,
        *data_dir;
    bool public_, private_, requires_cert, help;
};

static iof_err parse_opts(int argc, char **argv, struct registry_opts *o) {
    static const struct option longs[] = {
        {"item-id", required_argument, NULL, 'i'},
        {"uri", required_argument, NULL, 'U'},
        {"public", no_argument, NULL, 'b'},
        {"private", no_argument, NULL, 'r'},
        {"username", required_argument, NULL, 'l'},
        {"password", required_argument, NULL, 'p'},
        {"email", required_argument, NULL, 'e'},
        {"requires-certificate", no_argument, NULL, 'c'},
        {"certificate", required_argument, NULL, 'C'},
        {"user-id", required_argument, NULL, 'u'},
        {"port", required_argument, NULL, 1},
        {"data-dir", required_argument, NULL, 2},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "i:U:brl:p:e:cC:u:h", longs, NULL)) != -1) {
        switch (ch) {
            case 'i': o->item_id = optarg; break;
            case 'U': o->uri = optarg; break;
            case 'b': o->public_ = true; break;
            case 'r': o->private_ = true; break;
            case 'l': o->username = optarg; break;
            case 'p': o->password = optarg; break;
            case 'e': o->email = optarg; break;
            case 'c': o->requires_cert = true; break;
            case 'C': o->certificate = optarg; break;
            case 'u': o->user_id = optarg; break;
            case 1: o->port = optarg; break;
            case 2: o->data_dir = optarg; break;
            case 'h': o->help = true; break;
            default: return IOF_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, LABEL ": unexpected argument '%s'\n", argv[optind]);
        return IOF_EINVAL;
    }
    if (o->public_ && o->private_) {
        fprintf(stderr, LABEL ": --public and --private exclude each other\n");
        return IOF_EINVAL;
    }
    return IOF_OK;
}

static iof_err set_str(json_t *obj, const char *key, const char *value) {
    return value == NULL ? IOF_OK : ctl_cli_set(obj, key, json_string(value));
}

/* The REST body from the flags; for add, visibility defaults to private. */
static json_t *build_body(const struct registry_opts *o, bool add) {
    json_t *body = json_object();
    if (body == NULL || set_str(body, "url", o->uri) || set_str(body, "username", o->username) ||
        set_str(body, "password", o->password) || set_str(body, "email", o->email) ||
        set_str(body, "certificate", o->certificate) ||
        ((add || o->public_ || o->private_) &&
         ctl_cli_set(body, "isPublic", json_boolean(o->public_))) ||
        ((add || o->requires_cert) &&
         ctl_cli_set(body, "requiresCert", json_boolean(o->requires_cert)))) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static iof_err run(const char *action, const struct registry_opts *o, struct ctl_cli_conn *c) {
    struct iof_diag d = {{0}};
    long long id = 0;
    iof_err err = IOF_OK;
    if (strcmp(action, "list") == 0) {
        return ctl_cli_send(c, LABEL, "GET", "/api/v3/registries", NULL, true, NULL);
    }
    bool add = strcmp(action, "add") == 0;
    if (!add) {
        if (o->item_id == NULL) {
            fprintf(stderr, LABEL " %s: -i/--item-id is required\n", action);
            return IOF_EINVAL;
        }
        if ((err = ctl_cli_parse_int(o->item_id, "--item-id", 1, INT64_MAX, &id, &d))) {
            fprintf(stderr, LABEL " %s: %s\n", action, d.msg);
            return err;
        }
    }
    char path[96];
    (void)snprintf(path, sizeof path, "/api/v3/registries/%lld", id);
    if (strcmp(action, "remove") == 0) {
        err = ctl_cli_send(c, LABEL, "DELETE", path, NULL, false, NULL);
        if (err == IOF_OK) {
            printf("Registry %lld removed\n", id);
        }
        return err;
    }
    json_t *body = build_body(o, add);
    if (body == NULL) {
        fprintf(stderr, LABEL " %s: out of memory\n", action);
        return IOF_ENOMEM;
    }
    if (add) {
        err = ctl_cli_send(c, LABEL, "POST", "/api/v3/registries", body, true, NULL);
    } else if (json_object_size(body) == 0) {
        fprintf(stderr, LABEL " update: Add some parameters which should be updated.\n");
        err = IOF_EINVAL;
    } else if ((err = ctl_cli_send(c, LABEL, "PATCH", path, body, false, NULL)) == IOF_OK) {
        printf("Registry %lld updated\n", id);
    }
    json_decref(body);
    return err;
}

iof_err ctl_cmd_registry(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0 &&
        strcmp(action, "update") != 0 && strcmp(action, "list") != 0) {
        fprintf(stderr, LABEL ": unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    struct registry_opts o = {0};
    iof_err err = parse_opts(argc - 1, argv + 1, &o);
    if (err != IOF_OK || o.help) {
        usage(err != IOF_OK ? stderr : stdout);
        return err;
    }
    struct ctl_cli_conn c = {0};
    struct iof_diag d = {{0}};
    long long uid = 0;
    if ((err = ctl_cli_conn_init(&c, o.port, o.data_dir, &d)) != IOF_OK ||
        (o.user_id != NULL &&
         (err = ctl_cli_parse_int(o.user_id, "--user-id", 1, INT32_MAX, &uid, &d)) != IOF_OK)) {
        fprintf(stderr, LABEL " %s: %s\n", action, d.msg);
        return err;
    }
    c.user_id = (long)uid;
    return run(action, &o, &c);
}
