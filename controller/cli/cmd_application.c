/* iofog-controller application <add|update|remove|list|info> (controller.md §7; `flow` is an
 * alias): builds the REST request from flags and/or a YAML or JSON file and sends it to the
 * running Controller with the admin credential (acting for -u/--user-id, else the first user). */
#include "controller/cli/commands.h"

#include "common/cli.h"
#include "controller/api/application.h"
#include "controller/cli/cli_client.h"
#include "controller/cli/views.h"
#include "yaml/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (4 * 1024 * 1024)

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller application <action> [options]\n\n"
            "Actions:\n"
            "  add      create an application (-f FILE, or -n NAME)\n"
            "  update   change an application (-n NAME; with -f FILE its full desired state)\n"
            "  remove   delete an application and its microservices (-n NAME)\n"
            "  list     the applications\n"
            "  info     one application (-n NAME)\n\n"
            "Options:\n"
            "  -f, --file FILE        YAML (kind Application) or JSON application description\n"
            "  -n, --name NAME        application name\n"
            "  -d, --description TEXT description\n"
            "  -a, --activate         activate (its microservices run)\n"
            "  -D, --deactivate       deactivate\n"
            "  -u, --user-id ID       act for this user (default: the first user)\n"
            "%s",
            ctl_config_flags_help);
}

struct opts {
    const char *file, *name, *description;
    bool activate, deactivate;
    long user_id;
};

/* Splits argv (after the action) into our options and the configuration flags left for
 * ctl_config_load (rest[0] is the action). */
static iof_err parse(int argc, char **argv, struct opts *o, char **rest, int *n_rest) {
    *n_rest = 0;
    rest[(*n_rest)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            target = &o->file;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--name") == 0) {
            target = &o->name;
        } else if (strcmp(a, "-d") == 0 || strcmp(a, "--description") == 0) {
            target = &o->description;
        } else if (strcmp(a, "-a") == 0 || strcmp(a, "--activate") == 0) {
            o->activate = true;
            continue;
        } else if (strcmp(a, "-D") == 0 || strcmp(a, "--deactivate") == 0) {
            o->deactivate = true;
            continue;
        } else if (strcmp(a, "-u") == 0 || strcmp(a, "--user-id") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "iofog-controller application: %s needs a value\n", a);
                return IOF_EINVAL;
            }
            char *end = NULL;
            errno = 0;
            o->user_id = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || o->user_id <= 0) {
                fprintf(stderr, "iofog-controller application: invalid user id '%s'\n", argv[i]);
                return IOF_EINVAL;
            }
            continue;
        } else {
            rest[(*n_rest)++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "iofog-controller application: %s needs a value\n", a);
            return IOF_EINVAL;
        }
        *target = argv[++i];
    }
    if (o->activate && o->deactivate) {
        fprintf(stderr, "iofog-controller application: -a and -D exclude each other\n");
        return IOF_EINVAL;
    }
    return IOF_OK;
}

/* The file as a request body: JSON as it is, YAML of kind Application mapped like an upload. */
static iof_err read_file(const char *path, json_t **out) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(
            stderr, "iofog-controller application: cannot open %s: %s\n", path, strerror(errno));
        return IOF_ENOENT;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_FILE + 1, fp) : 0;
    fclose(fp);
    if (buf == NULL || n > MAX_FILE) {
        free(buf);
        fprintf(stderr, "iofog-controller application: %s is too large\n", path);
        return IOF_E2BIG;
    }
    struct iof_diag d = {{0}};
    json_t *doc = NULL;
    iof_err err = iof_yaml_to_json(buf, n, CTL_APP_MAX_DEPTH, &doc, &d); /* JSON is YAML too */
    free(buf);
    if (err == IOF_OK && !json_is_object(doc)) {
        err = iof_fail(&d, IOF_EINVAL, "the file holds no application description");
    }
    if (err == IOF_OK && json_object_get(doc, "kind") != NULL) {
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        json_t *body = NULL;
        if (kind == NULL || strcmp(kind, "Application") != 0) {
            err = iof_fail(&d, IOF_EINVAL, "Invalid kind %s", kind != NULL ? kind : "");
        } else {
            err = ctl_yaml_application_body(doc, &body, &d);
        }
        json_decref(doc);
        doc = body;
    }
    if (err != IOF_OK) {
        json_decref(doc);
        fprintf(stderr, "iofog-controller application: %s: %s\n", path, iof_diag_text(&d, err));
        return err;
    }
    *out = doc;
    return IOF_OK;
}

/* Adds the flag values to body (they win over the file). */
static iof_err apply_flags(const struct opts *o, json_t *body) {
    if ((o->name != NULL && json_object_set_new(body, "name", json_string(o->name)) != 0) ||
        (o->description != NULL &&
         json_object_set_new(body, "description", json_string(o->description)) != 0) ||
        ((o->activate || o->deactivate) &&
         json_object_set_new(body, "isActivated", json_boolean(o->activate)) != 0)) {
        return IOF_ENOMEM;
    }
    return IOF_OK;
}

/* Path-safe name: the name rule allows [a-z0-9.-] only, so it needs no escaping. */
static iof_err need_name(const struct opts *o, const char *action) {
    if (o->name == NULL) {
        fprintf(stderr, "iofog-controller application %s: -n/--name is required\n", action);
        return IOF_EINVAL;
    }
    if (strspn(o->name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(o->name)) {
        fprintf(stderr, "iofog-controller application %s: invalid name '%s'\n", action, o->name);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

iof_err ctl_cmd_application(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    struct opts o = {0};
    char **rest = calloc((size_t)argc, sizeof *rest);
    int n_rest = 0;
    if (rest == NULL) {
        return IOF_ENOMEM;
    }
    iof_err err = parse(argc - 1, argv + 1, &o, rest, &n_rest);
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    if (err == IOF_OK) {
        err = ctl_config_load(&cfg, n_rest, rest, NULL, NULL, &d);
        if (err != IOF_OK) {
            fprintf(stderr, "iofog-controller application: %s\n", iof_diag_text(&d, err));
        }
    }
    free(rest);
    if (err != IOF_OK) {
        return err;
    }
    const char *method = NULL;
    char path[400];
    json_t *body = NULL;
    if (strcmp(action, "list") == 0) {
        ctl_cli_view_applications();
        method = "GET";
        (void)snprintf(path, sizeof path, "/api/v3/application");
    } else if (strcmp(action, "info") == 0 || strcmp(action, "remove") == 0) {
        if ((err = need_name(&o, action)) != IOF_OK) {
            return err;
        }
        method = action[0] == 'i' ? "GET" : "DELETE";
        (void)snprintf(path, sizeof path, "/api/v3/application/%s", o.name);
    } else if (strcmp(action, "add") == 0) {
        method = "POST";
        (void)snprintf(path, sizeof path, "/api/v3/application");
        err = o.file != NULL ? read_file(o.file, &body) : IOF_OK;
        if (err == IOF_OK && body == NULL && (body = json_object()) == NULL) {
            err = IOF_ENOMEM;
        }
        if (err == IOF_OK) {
            err = apply_flags(&o, body);
        }
    } else if (strcmp(action, "update") == 0) {
        if ((err = need_name(&o, action)) != IOF_OK) {
            return err;
        }
        /* With a file: the full desired state (PUT); else the metadata flags (PATCH). */
        method = o.file != NULL ? "PUT" : "PATCH";
        (void)snprintf(path, sizeof path, "/api/v3/application/%s", o.name);
        err = o.file != NULL ? read_file(o.file, &body) : IOF_OK;
        if (err == IOF_OK && body == NULL && (body = json_object()) == NULL) {
            err = IOF_ENOMEM;
        }
        struct opts meta = o;
        meta.name = NULL; /* -n names the application to update */
        if (err == IOF_OK) {
            err = apply_flags(&meta, body);
        }
    } else {
        fprintf(stderr, "iofog-controller application: unknown action '%s'\n\n", action);
        usage(stderr);
        return IOF_EINVAL;
    }
    if (err != IOF_OK) {
        json_decref(body);
        return err;
    }
    long status = 0;
    json_t *answer = NULL;
    err = ctl_cli_request(&cfg, method, path, body, o.user_id, &status, &answer, &d);
    json_decref(body);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller application %s: %s\n", action, iof_diag_text(&d, err));
        return err;
    }
    err = ctl_cli_check(status, answer);
    if (err == IOF_OK && answer != NULL) {
        ctl_cli_print_json(answer);
    } else if (err == IOF_OK) {
        printf("ok\n");
    }
    json_decref(answer);
    return err;
}
