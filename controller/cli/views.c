/* Table views of the list commands; see views.h. */
#include "controller/cli/views.h"

#include "common/clock.h"
#include "controller/cli/cli_client.h"

#include <stdio.h>
#include <string.h>

/* The node list fetched for the microservice view (owned; lives until the process exits). */
static json_t *nodes;

static void msvc_node(const json_t *row, char *out, size_t size) {
    const char *uuid = json_string_value(json_object_get(row, "iofogUuid"));
    if (uuid == NULL) {
        (void)snprintf(out, size, "-");
        return;
    }
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(nodes, "fogs"), i, n) {
        const char *u = json_string_value(json_object_get(n, "uuid"));
        const char *name = json_string_value(json_object_get(n, "name"));
        if (u != NULL && name != NULL && strcmp(u, uuid) == 0) {
            (void)snprintf(out, size, "%s", name);
            return;
        }
    }
    (void)snprintf(out, size, "%s", uuid);
}

static void msvc_image(const json_t *row, char *out, size_t size) {
    const json_t *images = json_object_get(row, "images");
    const char *first =
        json_string_value(json_object_get(json_array_get(images, 0), "containerImage"));
    const json_t *catalog = json_object_get(row, "catalogItemId");
    if (first != NULL) {
        (void)snprintf(out, size, "%s", first);
    } else if (json_is_integer(catalog)) {
        (void)snprintf(out, size, "catalog #%lld", (long long)json_integer_value(catalog));
    } else {
        (void)snprintf(out, size, "-");
    }
}

/* Container restarts the node's Agent reported (0 from Agents that do not count them); "-" when
 * the status carries none (an older Controller). */
static void msvc_restarts(const json_t *row, char *out, size_t size) {
    const json_t *r = json_object_get(json_object_get(row, "status"), "restarts");
    if (json_is_integer(r)) {
        (void)snprintf(out, size, "%lld", (long long)json_integer_value(r));
    } else {
        (void)snprintf(out, size, "-");
    }
}

void ctl_cli_view_microservices(const struct ctl_config *cfg) {
    static const struct ctl_cli_column cols[] = {
        {"NAME", "name", NULL},
        {"UUID", "uuid", NULL},
        {"APPLICATION", "application", NULL},
        {"NODE", NULL, msvc_node},
        {"STATUS", "status.status", NULL},
        {"IMAGE", NULL, msvc_image},
        {"RESTARTS", NULL, msvc_restarts},
    };
    if (!ctl_cli_output_table()) {
        return;
    }
    struct iof_diag d = {{0}};
    long status = 0;
    json_t *answer = NULL;
    if (ctl_cli_request(cfg, "GET", "/api/v3/iofog-list", NULL, 0, &status, &answer, &d) ==
            IOF_OK &&
        status == 200) {
        json_decref(nodes);
        nodes = answer;
    } else {
        json_decref(answer);
    }
    ctl_cli_set_table_view(cols, sizeof cols / sizeof cols[0]);
}

static void node_last_seen(const json_t *row, char *out, size_t size) {
    const json_t *t = json_object_get(row, "lastStatusTime");
    if (!json_is_integer(t) && !json_is_real(t)) {
        (void)snprintf(out, size, "never");
        return;
    }
    double ms = json_number_value(t);
    double ago = ((double)iof_time_now_ms() - ms) / 1000.0;
    if (ago < 0) {
        ago = 0;
    }
    if (ago < 120) {
        (void)snprintf(out, size, "%.0fs ago", ago);
    } else if (ago < 7200) {
        (void)snprintf(out, size, "%.0fm ago", ago / 60);
    } else if (ago < 172800) {
        (void)snprintf(out, size, "%.0fh ago", ago / 3600);
    } else {
        (void)snprintf(out, size, "%.0fd ago", ago / 86400);
    }
}

void ctl_cli_view_nodes(void) {
    static const struct ctl_cli_column cols[] = {
        {"NAME", "name", NULL},
        {"UUID", "uuid", NULL},
        {"STATUS", "daemonStatus", NULL},
        {"LAST SEEN", NULL, node_last_seen},
        {"VERSION", "version", NULL},
        {"ADDRESS", "ipAddress", NULL},
    };
    ctl_cli_set_table_view(cols, sizeof cols / sizeof cols[0]);
}

static void app_running(const json_t *row, char *out, size_t size) {
    size_t i, running = 0;
    const json_t *m;
    const json_t *list = json_object_get(row, "microservices");
    json_array_foreach(list, i, m) {
        const char *st = json_string_value(json_object_get(json_object_get(m, "status"), "status"));
        running += st != NULL && strcmp(st, "RUNNING") == 0;
    }
    (void)snprintf(out, size, "%zu/%zu", running, json_array_size(list));
}

static void app_status(const json_t *row, char *out, size_t size) {
    (void)snprintf(
        out, size, "%s", json_is_true(json_object_get(row, "isActivated")) ? "active" : "inactive");
}

void ctl_cli_view_applications(void) {
    static const struct ctl_cli_column cols[] = {
        {"NAME", "name", NULL},
        {"RUNNING", NULL, app_running},
        {"STATUS", NULL, app_status},
        {"DESCRIPTION", "description", NULL},
    };
    ctl_cli_set_table_view(cols, sizeof cols / sizeof cols[0]);
}
