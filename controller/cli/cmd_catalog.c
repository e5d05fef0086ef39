/* iofog-controller catalog <add|update|remove|list|info>: manages catalog items through the
 * running Controller's REST API (controller.md §7) with the admin credential. -f/--file takes a
 * JSON catalog item (the REST body); flags given on the command line override its fields. */
#include "controller/cli/commands.h"

#include "controller/cli/cli_resource.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define LABEL "iofog-controller catalog"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller catalog <add|update|remove|list|info> [options]\n\n"
            "Options:\n"
            "  -f, --file PATH             JSON catalog item (REST body)\n"
            "  -i, --item-id ID            catalog item id (update, remove, info)\n"
            "  -n, --name NAME             -d, --description TEXT\n"
            "  -c, --category TEXT         -p, --publisher TEXT\n"
            "  -x, --x86-image IMAGE       -a, --arm-image IMAGE\n"
            "  -s, --disk-required MB      -r, --ram-required MB\n"
            "  -t, --picture PATH          -P, --public | -V, --private\n"
            "  -g, --registry-id ID        -X, --config-example JSON\n"
            "  -I, --input-type TYPE       -F, --input-format FORMAT\n"
            "  -O, --output-type TYPE      -T, --output-format FORMAT\n"
            "%s",
            ctl_cli_resource_help);
}

struct catalog_opts {
    const char *file, *item_id, *port, *data_dir, *user_id;
    const char *name, *description, *category, *x86, *arm, *publisher, *disk, *ram, *picture,
        *registry, *in_type, *in_format, *out_type, *out_format, *config_example;
    bool public_, private_, help;
};

static iof_err parse_opts(int argc, char **argv, struct catalog_opts *o) {
    static const struct option longs[] = {
        {"file", required_argument, NULL, 'f'},
        {"item-id", required_argument, NULL, 'i'},
        {"name", required_argument, NULL, 'n'},
        {"description", required_argument, NULL, 'd'},
        {"category", required_argument, NULL, 'c'},
        {"x86-image", required_argument, NULL, 'x'},
        {"arm-image", required_argument, NULL, 'a'},
        {"publisher", required_argument, NULL, 'p'},
        {"disk-required", required_argument, NULL, 's'},
        {"ram-required", required_argument, NULL, 'r'},
        {"picture", required_argument, NULL, 't'},
        {"public", no_argument, NULL, 'P'},
        {"private", no_argument, NULL, 'V'},
        {"registry-id", required_argument, NULL, 'g'},
        {"input-type", required_argument, NULL, 'I'},
        {"input-format", required_argument, NULL, 'F'},
        {"output-type", required_argument, NULL, 'O'},
        {"output-format", required_argument, NULL, 'T'},
        {"config-example", required_argument, NULL, 'X'},
        {"user-id", required_argument, NULL, 'u'},
        {"port", required_argument, NULL, 1},
        {"data-dir", required_argument, NULL, 2},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "f:i:n:d:c:x:a:p:s:r:t:PVg:I:F:O:T:X:u:h", longs, NULL)) !=
           -1) {
        switch (ch) {
            case 'f': o->file = optarg; break;
            case 'i': o->item_id = optarg; break;
            case 'n': o->name = optarg; break;
            case 'd': o->description = optarg; break;
            case 'c': o->category = optarg; break;
            case 'x': o->x86 = optarg; break;
            case 'a': o->arm = optarg; break;
            case 'p': o->publisher = optarg; break;
            case 's': o->disk = optarg; break;
            case 'r': o->ram = optarg; break;
            case 't': o->picture = optarg; break;
            case 'P': o->public_ = true; break;
            case 'V': o->private_ = true; break;
            case 'g': o->registry = optarg; break;
            case 'I': o->in_type = optarg; break;
            case 'F': o->in_format = optarg; break;
            case 'O': o->out_type = optarg; break;
            case 'T': o->out_format = optarg; break;
            case 'X': o->config_example = optarg; break;
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

static iof_err set_num(json_t *obj, const char *key, const char *value, struct iof_diag *d) {
    long long v = 0;
    if (value == NULL) {
        return IOF_OK;
    }
    iof_err err = ctl_cli_parse_int(value, key, 0, INT32_MAX, &v, d);
    return err != IOF_OK ? err : ctl_cli_set(obj, key, json_integer((json_int_t)v));
}

/* The type object key of body gets info_type / info_format (kept fields of a file merged). */
static iof_err set_type(json_t *body, const char *key, const char *type, const char *format) {
    if (type == NULL && format == NULL) {
        return IOF_OK;
    }
    json_t *obj = json_object_get(body, key);
    if (!json_is_object(obj)) {
        obj = json_object();
        if (ctl_cli_set(body, key, obj) != IOF_OK) {
            return IOF_ENOMEM;
        }
    }
    iof_err err = set_str(obj, "infoType", type);
    return err != IOF_OK ? err : set_str(obj, "infoFormat", format);
}

static iof_err build_body(const struct catalog_opts *o, json_t **out, struct iof_diag *d) {
    json_t *body = NULL;
    iof_err err = o->file != NULL ? ctl_cli_read_json_file(o->file, &body, d) : IOF_OK;
    if (err != IOF_OK) {
        return err;
    }
    if (body == NULL && (body = json_object()) == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    if ((err = set_str(body, "name", o->name)) ||
        (err = set_str(body, "description", o->description)) ||
        (err = set_str(body, "category", o->category)) ||
        (err = set_str(body, "publisher", o->publisher)) ||
        (err = set_str(body, "picture", o->picture)) ||
        (err = set_str(body, "configExample", o->config_example)) ||
        (err = set_num(body, "diskRequired", o->disk, d)) ||
        (err = set_num(body, "ramRequired", o->ram, d)) ||
        (err = set_num(body, "registryId", o->registry, d)) ||
        (err = set_type(body, "inputType", o->in_type, o->in_format)) ||
        (err = set_type(body, "outputType", o->out_type, o->out_format))) {
        json_decref(body);
        return err == IOF_ENOMEM ? iof_fail(d, err, "out of memory") : err;
    }
    if ((o->public_ || o->private_) &&
        ctl_cli_set(body, "isPublic", json_boolean(o->public_)) != IOF_OK) {
        json_decref(body);
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    if (o->x86 != NULL || o->arm != NULL) {
        json_t *images = json_array();
        if (o->x86 != NULL) {
            (void)json_array_append_new(
                images, json_pack("{s:s, s:i}", "containerImage", o->x86, "fogTypeId", 1));
        }
        if (o->arm != NULL) {
            (void)json_array_append_new(
                images, json_pack("{s:s, s:i}", "containerImage", o->arm, "fogTypeId", 2));
        }
        if (ctl_cli_set(body, "images", images) != IOF_OK) {
            json_decref(body);
            return iof_fail(d, IOF_ENOMEM, "out of memory");
        }
    }
    *out = body;
    return IOF_OK;
}

static iof_err run(const char *action, const struct catalog_opts *o, struct ctl_cli_conn *c) {
    struct iof_diag d = {{0}};
    iof_err err = IOF_OK;
    char path[128];
    long long id = 0;
    bool needs_id = strcmp(action, "update") == 0 || strcmp(action, "remove") == 0 ||
                    strcmp(action, "info") == 0;
    if (needs_id) {
        if (o->item_id == NULL) {
            fprintf(stderr, LABEL " %s: -i/--item-id is required\n", action);
            return IOF_EINVAL;
        }
        if ((err = ctl_cli_parse_int(o->item_id, "--item-id", 1, INT64_MAX, &id, &d))) {
            fprintf(stderr, LABEL " %s: %s\n", action, d.msg);
            return err;
        }
    }
    (void)snprintf(path, sizeof path, "/api/v3/catalog/microservices/%lld", id);
    if (strcmp(action, "list") == 0) {
        return ctl_cli_send(c, LABEL, "GET", "/api/v3/catalog/microservices", NULL, true, NULL);
    }
    if (strcmp(action, "info") == 0) {
        return ctl_cli_send(c, LABEL, "GET", path, NULL, true, NULL);
    }
    if (strcmp(action, "remove") == 0) {
        err = ctl_cli_send(c, LABEL, "DELETE", path, NULL, false, NULL);
        if (err == IOF_OK) {
            printf("Catalog item %lld removed\n", id);
        }
        return err;
    }
    json_t *body = NULL;
    if ((err = build_body(o, &body, &d)) != IOF_OK) {
        fprintf(stderr, LABEL " %s: %s\n", action, d.msg);
        return err;
    }
    if (strcmp(action, "add") == 0) {
        err = ctl_cli_send(c, LABEL, "POST", "/api/v3/catalog/microservices", body, true, NULL);
    } else if (json_object_size(body) == 0) {
        fprintf(stderr, LABEL " update: Add some parameters which should be updated.\n");
        err = IOF_EINVAL;
    } else {
        err = ctl_cli_send(c, LABEL, "PATCH", path, body, false, NULL);
        if (err == IOF_OK) {
            printf("Catalog item %lld updated\n", id);
        }
    }
    json_decref(body);
    return err;
}

iof_err ctl_cmd_catalog(int argc, char **argv, void *ctx) {
    (void)ctx;
    static const char *const actions[] = {"add", "update", "remove", "list", "info", NULL};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    bool known = false;
    for (size_t i = 0; actions[i] != NULL; i++) {
        known = known || strcmp(action, actions[i]) == 0;
    }
    if (!known) {
        fprintf(stderr, LABEL ": unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    struct catalog_opts o = {0};
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
