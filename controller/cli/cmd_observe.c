/* iofog-controller microservice logs|describe and iofog logs: what an operator asks first when a
 * microservice misbehaves, answered through the Controller from any machine: the container's
 * log (followed live with -f), the Agent's own log, and the journal of what happened to the
 * microservice (pulled, started, exited with code, restarting, failed and why). */
#include "controller/cli/commands.h"

#include "controller/cli/cli_client.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void logs_usage(FILE *out, const char *resource) {
    bool node = strcmp(resource, "iofog") == 0;
    fprintf(out,
            "Usage: iofog-controller %s logs %s [-f] [--tail N|all] [--since TIME]\n\n"
            "Shows %s, through the node's own connection to the Controller\n"
            "(no inbound port on the node). Lines carry Docker's timestamps.\n\n"
            "Options:\n"
            "  -f, --follow       keep printing new lines until the %s or this command ends\n"
            "  -n, --tail N       the last N lines first (default 100; all: everything)\n"
            "  -s, --since TIME   only lines since TIME (Unix seconds or ISO 8601)\n"
            "  -u, --user-id ID   act for this user (with the local admin credential)\n"
            "  --port N, --data-dir DIR   a local Controller\n",
            resource,
            node ? "NODE" : "NAME|UUID",
            node ? "the log of the node's Agent (NODE: uuid or name)"
                 : "the log (stdout and stderr) of a microservice's container",
            node ? "Agent stops" : "container stops or is removed");
}

static void describe_usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller microservice describe NAME|UUID\n\n"
            "Shows where a microservice runs, its state, and the events its Agent reported\n"
            "(pulling, pulled, created, started, exited with code, restarting with back-off,\n"
            "failed and why, configuration changed, stopped), newest last; for a node that is\n"
            "offline now, what it reported last.\n\n"
            "Options:\n"
            "  -u, --user-id ID   act for this user (with the local admin credential)\n"
            "  --port N, --data-dir DIR   a local Controller\n");
}

struct observe_opts {
    const char *ref, *tail, *since, *port, *data_dir, *user;
    bool follow;
};

/* Parses argv (argv[0] is the action). IOF_ECONFLICT: help was printed. */
static iof_err parse(int argc, char **argv, const char *label, bool logs, struct observe_opts *o) {
    static const struct option longs[] = {
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, 'n'},
        {"since", required_argument, NULL, 's'},
        {"user-id", required_argument, NULL, 'u'},
        {"port", required_argument, NULL, 'P'},
        {"data-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, logs ? "fn:s:u:h" : "u:h", longs, NULL)) != -1) {
        bool logs_only = c == 'f' || c == 'n' || c == 's';
        if (logs_only && !logs) {
            c = '?';
        }
        switch (c) {
            case 'f': o->follow = true; break;
            case 'n': o->tail = optarg; break;
            case 's': o->since = optarg; break;
            case 'u': o->user = optarg; break;
            case 'P': o->port = optarg; break;
            case 'D': o->data_dir = optarg; break;
            case 'h': return IOF_ECONFLICT;
            default:
                fprintf(stderr, "%s: unknown option '%s'\n", label, argv[optind - 1]);
                return IOF_EINVAL;
        }
    }
    if (optind < argc) {
        o->ref = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", label, argv[optind]);
        return IOF_EINVAL;
    }
    if (o->ref == NULL || o->ref[0] == '\0') {
        fprintf(stderr, "%s: name which one (name or uuid)\n", label);
        return IOF_EINVAL;
    }
    return IOF_OK;
}

iof_err ctl_cli_logs(const char *resource, int argc, char **argv) {
    char label[64];
    (void)snprintf(label, sizeof label, "iofog-controller %s logs", resource);
    struct observe_opts o = {0};
    iof_err err = parse(argc, argv, label, true, &o);
    if (err != IOF_OK) {
        logs_usage(err == IOF_ECONFLICT ? stdout : stderr, resource);
        return err == IOF_ECONFLICT ? IOF_OK : err;
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    if ((err = ctl_cli_config(o.port, o.data_dir, &cfg, &d)) != IOF_OK) {
        fprintf(stderr, "%s: %s\n", label, d.msg);
        return err;
    }
    long user = o.user != NULL ? strtol(o.user, NULL, 10) : 0;
    char uuid[128];
    bool node = strcmp(resource, "iofog") == 0;
    err = node ? ctl_cli_node_uuid(&cfg, user, o.ref, uuid, sizeof uuid)
               : ctl_cli_msvc_uuid(&cfg, user, o.ref, uuid, sizeof uuid);
    if (err != IOF_OK) {
        return err;
    }
    char *tail = curl_easy_escape(NULL, o.tail != NULL ? o.tail : "100", 0);
    char *since = curl_easy_escape(NULL, o.since != NULL ? o.since : "", 0);
    char path[768];
    (void)snprintf(path,
                   sizeof path,
                   "/api/v3/%s/%s/logs?tail=%s%s%s%s",
                   node ? "iofog" : "microservices",
                   uuid,
                   tail != NULL ? tail : "100",
                   o.since != NULL ? "&since=" : "",
                   o.since != NULL && since != NULL ? since : "",
                   o.follow ? "&follow=true" : "");
    curl_free(tail);
    curl_free(since);
    return ctl_cli_follow(&cfg, path);
}

static void print_event(const json_t *e) {
    const char *time = json_string_value(json_object_get(e, "time"));
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    printf("  %-24s  %-18s  %s\n",
           time != NULL ? time : "-",
           type != NULL ? type : "-",
           msg != NULL ? msg : "");
}

iof_err ctl_cli_describe(int argc, char **argv) {
    const char *label = "iofog-controller microservice describe";
    struct observe_opts o = {0};
    iof_err err = parse(argc, argv, label, false, &o);
    if (err != IOF_OK) {
        describe_usage(err == IOF_ECONFLICT ? stdout : stderr);
        return err == IOF_ECONFLICT ? IOF_OK : err;
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    if ((err = ctl_cli_config(o.port, o.data_dir, &cfg, &d)) != IOF_OK) {
        fprintf(stderr, "%s: %s\n", label, d.msg);
        return err;
    }
    long user = o.user != NULL ? strtol(o.user, NULL, 10) : 0;
    char uuid[128], path[256];
    if ((err = ctl_cli_msvc_uuid(&cfg, user, o.ref, uuid, sizeof uuid)) != IOF_OK) {
        return err;
    }
    long status = 0;
    json_t *m = NULL, *ev = NULL;
    (void)snprintf(path, sizeof path, "/api/v3/microservices/%s", uuid);
    if ((err = ctl_cli_request(&cfg, "GET", path, NULL, user, &status, &m, &d)) != IOF_OK) {
        fprintf(stderr, "%s: %s\n", label, iof_diag_text(&d, err));
        return err;
    }
    if ((err = ctl_cli_check(status, m)) != IOF_OK) {
        json_decref(m);
        return err;
    }
    (void)snprintf(path, sizeof path, "/api/v3/microservices/%s/events", uuid);
    if ((err = ctl_cli_request(&cfg, "GET", path, NULL, user, &status, &ev, &d)) != IOF_OK ||
        (err = ctl_cli_check(status, ev)) != IOF_OK) {
        if (err != IOF_OK && d.msg[0] != '\0') {
            fprintf(stderr, "%s: %s\n", label, d.msg);
        }
        json_decref(m);
        json_decref(ev);
        return err;
    }
    if (!ctl_cli_output_table() && ctl_cli_output_json()) {
        json_object_set(m, "events", json_object_get(ev, "events"));
        ctl_cli_print_json(m);
    } else {
        const json_t *st = json_object_get(m, "status");
        const char *image = json_string_value(
            json_object_get(json_array_get(json_object_get(m, "images"), 0), "containerImage"));
        printf("Name:         %s\n", json_string_value(json_object_get(m, "name")));
        printf("UUID:         %s\n", uuid);
        printf("Application:  %s\n", json_string_value(json_object_get(m, "application")));
        const char *fog = json_string_value(json_object_get(m, "iofogUuid"));
        printf("Node:         %s\n", fog != NULL ? fog : "-");
        printf("Image:        %s\n", image != NULL ? image : "-");
        printf("Desired:      %s\n", json_string_value(json_object_get(m, "desiredState")) ?: "-");
        printf("Status:       %s\n", json_string_value(json_object_get(st, "status")) ?: "-");
        const char *error = json_string_value(json_object_get(st, "errorMessage"));
        if (error != NULL && error[0] != '\0') {
            printf("Error:        %s\n", error);
        }
        const json_t *events = json_object_get(ev, "events");
        printf("Events (newest last):\n");
        if (json_array_size(events) == 0) {
            printf("  (none reported yet)\n");
        }
        size_t i;
        const json_t *e;
        json_array_foreach(events, i, e) {
            print_event(e);
        }
    }
    json_decref(m);
    json_decref(ev);
    return IOF_OK;
}
