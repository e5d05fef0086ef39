/* iofog-controller user <add|update|remove|list|generate-token|activate|suspend>: user management
 * through the running Controller with the local admin credential (controller.md §7). */
#include "controller/cli/commands.h"

#include "controller/cli/cli_client.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller user <action> [options]\n\n"
            "Actions:\n"
            "  add             -f/--first-name -l/--last-name -e/--email -p/--password\n"
            "  update          -e/--email [-f/--first-name] [-l/--last-name] [-p/--password]\n"
            "  remove          -e/--email [-F/--force]\n"
            "  list\n"
            "  generate-token  -e/--email   (prints a new access token for the user)\n"
            "  activate        -e/--email   (accounts are active from signup: no change)\n"
            "  suspend         -e/--email   (not supported)\n\n"
            "Common options: --port N, --data-dir DIR (where the running Controller keeps its\n"
            "admin credential)\n");
}

struct user_opts {
    const char *first, *last, *email, *password, *port, *data_dir;
    bool force;
};

static iof_err parse(int argc, char **argv, struct user_opts *o) {
    static const struct option longs[] = {
        {"first-name", required_argument, NULL, 'f'},
        {"last-name", required_argument, NULL, 'l'},
        {"email", required_argument, NULL, 'e'},
        {"password", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'F'},
        {"port", required_argument, NULL, 'P'},
        {"data-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:l:e:p:Fh", longs, NULL)) != -1) {
        switch (c) {
            case 'f': o->first = optarg; break;
            case 'l': o->last = optarg; break;
            case 'e': o->email = optarg; break;
            case 'p': o->password = optarg; break;
            case 'F': o->force = true; break;
            case 'P': o->port = optarg; break;
            case 'D': o->data_dir = optarg; break;
            case 'h': usage(stdout); return IOF_ECONFLICT; /* handled: stop with success */
            default:
                fprintf(stderr, "iofog-controller user: bad option '%s'\n\n", argv[optind - 1]);
                usage(stderr);
                return IOF_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iofog-controller user: unexpected argument '%s'\n", argv[optind]);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

static iof_err need(const char *value, const char *flag) {
    if (value == NULL) {
        fprintf(stderr, "iofog-controller user: %s is required\n", flag);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

/* "/api/v3/admin/users/<escaped email><suffix>" */
static void user_path(char *out, size_t size, const char *email, const char *suffix) {
    char *esc = curl_easy_escape(NULL, email, 0);
    (void)snprintf(out, size, "/api/v3/admin/users/%s%s", esc != NULL ? esc : "", suffix);
    curl_free(esc);
}

iof_err ctl_cmd_user(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? IOF_EINVAL : IOF_OK;
    }
    const char *action = argv[1];
    struct user_opts o = {0};
    iof_err err = parse(argc - 1, argv + 1, &o);
    if (err != IOF_OK) {
        return err == IOF_ECONFLICT ? IOF_OK : err;
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    if ((err = ctl_cli_config(o.port, o.data_dir, &cfg, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-controller user: %s\n", d.msg);
        return err;
    }
    char path[512];
    json_t *body = NULL;
    if (strcmp(action, "add") == 0) {
        if ((err = need(o.first, "-f/--first-name")) || (err = need(o.last, "-l/--last-name")) ||
            (err = need(o.email, "-e/--email")) || (err = need(o.password, "-p/--password"))) {
            return err;
        }
        body = json_pack("{s:s, s:s, s:s, s:s}",
                         "firstName",
                         o.first,
                         "lastName",
                         o.last,
                         "email",
                         o.email,
                         "password",
                         o.password);
        err = ctl_cli_run(&cfg, "POST", "/api/v3/user/signup", body, 0, "user add");
    } else if (strcmp(action, "list") == 0) {
        err = ctl_cli_run(&cfg, "GET", "/api/v3/admin/users", NULL, 0, "user list");
    } else if (strcmp(action, "update") == 0) {
        if ((err = need(o.email, "-e/--email")) != IOF_OK) {
            return err;
        }
        body = json_object();
        if (o.first != NULL) {
            json_object_set_new(body, "firstName", json_string(o.first));
        }
        if (o.last != NULL) {
            json_object_set_new(body, "lastName", json_string(o.last));
        }
        if (o.password != NULL) {
            json_object_set_new(body, "password", json_string(o.password));
        }
        user_path(path, sizeof path, o.email, "");
        err = ctl_cli_run(&cfg, "PATCH", path, body, 0, "user update");
    } else if (strcmp(action, "remove") == 0) {
        if ((err = need(o.email, "-e/--email")) != IOF_OK) {
            return err;
        }
        user_path(path, sizeof path, o.email, o.force ? "?force=true" : "");
        err = ctl_cli_run(&cfg, "DELETE", path, NULL, 0, "user remove");
    } else if (strcmp(action, "generate-token") == 0) {
        if ((err = need(o.email, "-e/--email")) != IOF_OK) {
            return err;
        }
        user_path(path, sizeof path, o.email, "/token");
        err = ctl_cli_run(&cfg, "POST", path, NULL, 0, "user generate-token");
    } else if (strcmp(action, "activate") == 0) {
        printf("Accounts are active from signup on this Controller: nothing to do.\n");
    } else if (strcmp(action, "suspend") == 0) {
        fprintf(stderr, "iofog-controller user suspend: not supported by this Controller\n");
        err = IOF_EUNSUPPORTED;
    } else {
        fprintf(stderr, "iofog-controller user: unknown action '%s'\n\n", action);
        usage(stderr);
        err = IOF_EINVAL;
    }
    json_decref(body);
    return err;
}
