/* /api/v3/application and the legacy /api/v3/flow routes (controller.md §3.6): applications are
 * named groups of microservices, unique per user. Metadata lives here; the microservices and
 * routes inside an application are created through ctl_app_deploy (application_deploy_*.c).
 *
 * Better than classic, on purpose: every lookup is filtered by owner (another user's application
 * is 404); a duplicate name is 409 DuplicatePropertyError (classic: the same error class, which
 * its route table leaves unmapped, so a 500); change flags are raised only when isActivated
 * really changes (classic: whenever the PATCH body lacks isActivated too); every change is one
 * transaction. */
#include "controller/api/application.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "controller/store/db_json.h"
#include "controller/domain/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APP_FLAGS (CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG | CTL_FLAG_ROUTING)

/* ---- lookups ---- */

static iof_err app_row(void *ctx, const struct ctl_db_row *row) {
    struct ctl_app *a = ctx;
    a->id = ctl_db_row_int(row, 0);
    const char *name = ctl_db_row_text(row, 1);
    (void)snprintf(a->name, sizeof a->name, "%s", name != NULL ? name : "");
    a->is_activated = ctl_db_row_bool(row, 2);
    a->is_system = ctl_db_row_bool(row, 3);
    a->user_id = ctl_db_row_int(row, 4);
    return IOF_OK;
}

static iof_err find(struct ctl_call *call,
                    const char *where,
                    struct ctl_db_value key,
                    bool with_system,
                    struct ctl_app *out) {
    char sql[400];
    (void)snprintf(sql,
                   sizeof sql,
                   "SELECT id, name, is_activated, is_system, user_id FROM applications "
                   "WHERE %s AND (? = 1 OR user_id = ?) AND (? = 1 OR is_system = 0) "
                   "ORDER BY (user_id = ?) DESC, id LIMIT 1",
                   where);
    const struct ctl_db_value p[] = {
        key,
        CTL_DB_BOOL(call->admin),
        CTL_DB_INT(call->user_id),
        CTL_DB_BOOL(with_system),
        CTL_DB_INT(call->user_id),
    };
    struct ctl_app a = {.id = 0};
    iof_err err =
        ctl_db_exec(ctl_store_db(call->srv->store), sql, p, 5, app_row, &a, NULL, call->d);
    if (err != IOF_OK) {
        return err;
    }
    if (a.id == 0) {
        return IOF_ENOENT;
    }
    *out = a;
    return IOF_OK;
}

iof_err
ctl_app_find(struct ctl_call *call, const char *name, bool with_system, struct ctl_app *out) {
    iof_err err = find(call, "name = ?", CTL_DB_TEXT(name), with_system, out);
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid application id '%s'", name);
    }
    return err;
}

iof_err ctl_app_find_id(struct ctl_call *call, int64_t id, bool with_system, struct ctl_app *out) {
    iof_err err = find(call, "id = ?", CTL_DB_INT(id), with_system, out);
    if (err == IOF_ENOENT) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid flow id '%lld'", (long long)id);
    }
    return err;
}

static iof_err flow_id_param(struct ctl_call *call, int64_t *out) {
    const char *s = iof_http_param(call->req, "id");
    char *end = NULL;
    long long id = s != NULL ? strtoll(s, &end, 10) : 0;
    if (s == NULL || end == s || *end != '\0' || id <= 0) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid flow id '%s'", s != NULL ? s : "");
    }
    *out = id;
    return IOF_OK;
}

/* ---- JSON ---- */

static const char app_cols[] =
    "SELECT id, name, description, is_activated AS \"isActivated:bool\", "
    "is_system AS \"isSystem:bool\", user_id AS \"userId\", created_at AS \"createdAt:iso\", "
    "updated_at AS \"updatedAt:iso\" FROM applications ";

/* Adds microservices and routes to an application object. */
static iof_err add_children(struct ctl_call *call, json_t *app) {
    int64_t id = (int64_t)json_integer_value(json_object_get(app, "id"));
    json_t *ms = NULL, *routes = NULL;
    iof_err err = ctl_app_msvcs_json(call, id, &ms);
    if (err == IOF_OK) {
        err = ctl_app_routes_json(call, id, &routes);
    }
    if (err == IOF_OK && (json_object_set_new(app, "microservices", ms) != 0 ||
                          json_object_set_new(app, "routes", routes) != 0)) {
        return iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    if (err != IOF_OK) {
        json_decref(ms);
    }
    return err;
}

static iof_err app_json(struct ctl_call *call, int64_t id, bool children, json_t **out) {
    char sql[300];
    (void)snprintf(sql, sizeof sql, "%sWHERE id = ?", app_cols);
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    json_t *app = NULL;
    iof_err err = ctl_db_query_json_one(
        ctl_store_db(call->srv->store), sql, p, 1, "Invalid application id", &app, call->d);
    if (err == IOF_OK && children) {
        err = add_children(call, app);
    }
    if (err != IOF_OK) {
        json_decref(app);
        return err;
    }
    *out = app;
    return IOF_OK;
}

iof_err ctl_app_template_json(struct ctl_call *call, const char *name, json_t **out) {
    char sql[300];
    (void)snprintf(
        sql, sizeof sql, "%sWHERE name = ? AND user_id = ? ORDER BY id LIMIT 1", app_cols);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(name), CTL_DB_INT(call->user_id)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, 2, &rows, call->d);
    json_t *app = err == IOF_OK ? json_incref(json_array_get(rows, 0)) : NULL;
    json_decref(rows);
    if (err == IOF_OK && app != NULL) {
        err = add_children(call, app);
    }
    if (err != IOF_OK) {
        json_decref(app);
        return err;
    }
    *out = app;
    return IOF_OK;
}

static iof_err list_json(struct ctl_call *call, bool children, json_t **out) {
    char sql[400];
    (void)snprintf(
        sql, sizeof sql, "%sWHERE is_system = 0 AND (? = 1 OR user_id = ?) ORDER BY id", app_cols);
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *list = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, 2, &list, call->d);
    size_t i;
    json_t *app;
    json_array_foreach(list, i, app) {
        if (err == IOF_OK && children) {
            err = add_children(call, app);
        }
    }
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    *out = list;
    return IOF_OK;
}

/* ---- transactions ---- */

static iof_err tx_begin(struct ctl_call *call) {
    return ctl_db_begin(ctl_store_db(call->srv->store), call->d);
}

/* Commits on success, rolls back otherwise; returns the first error. */
static iof_err tx_end(struct ctl_call *call, iof_err err) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if (err == IOF_OK) {
        return ctl_db_commit(db, call->d);
    }
    struct iof_diag ignored = {{0}};
    iof_err rb = ctl_db_rollback(db, &ignored);
    if (rb != IOF_OK) {
        IOF_WARN("application", "rollback_failed reason=%s", ignored.msg);
    }
    return err;
}

/* ---- writes ---- */

struct app_meta {
    const char *name;
    const char *description;
    bool has_activated, is_activated;
    bool has_system, is_system;
};

static iof_err
read_meta(struct ctl_call *call, const json_t *body, bool name_required, struct app_meta *m) {
    iof_err err;
    if ((err = iof_json_get_string(body,
                                   "name",
                                   name_required ? IOF_JSON_REQUIRED : IOF_JSON_OPTIONAL,
                                   &m->name,
                                   call->d)) ||
        (m->name != NULL && (err = ctl_name_check("name", m->name, call->d))) ||
        (err = iof_json_get_string(
             body, "description", IOF_JSON_OPTIONAL, &m->description, call->d))) {
        return err;
    }
    m->has_activated = json_is_boolean(json_object_get(body, "isActivated"));
    m->has_system = json_is_boolean(json_object_get(body, "isSystem"));
    if ((err = iof_json_get_bool(
             body, "isActivated", IOF_JSON_OPTIONAL, &m->is_activated, call->d)) ||
        (err = iof_json_get_bool(body, "isSystem", IOF_JSON_OPTIONAL, &m->is_system, call->d))) {
        return err;
    }
    if (m->name != NULL && strlen(m->name) >= sizeof((struct ctl_app *)0)->name) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'name'");
    }
    const json_t *arr = NULL, *tpl = NULL;
    if ((err = iof_json_get_array(body, "microservices", IOF_JSON_OPTIONAL, &arr, call->d)) ||
        (err = iof_json_get_array(body, "routes", IOF_JSON_OPTIONAL, &arr, call->d)) ||
        (err = iof_json_get_object(body, "template", IOF_JSON_OPTIONAL, &tpl, call->d))) {
        return err;
    }
    return IOF_OK;
}

/* 409 when owner already has another application called name. */
static iof_err
check_duplicate(struct ctl_call *call, int64_t owner, const char *name, int64_t except_id) {
    static const char sql[] =
        "SELECT count(*) AS n FROM applications WHERE user_id = ? AND name = ? AND id <> ?";
    const struct ctl_db_value p[] = {CTL_DB_INT(owner), CTL_DB_TEXT(name), CTL_DB_INT(except_id)};
    json_t *row = NULL;
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, 3, NULL, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_int_t n = json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    if (n > 0) {
        return iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", name);
    }
    return IOF_OK;
}

/* The spec to deploy: the rendered template when the body names one, else the body itself.
 * *spec is a new reference. */
static iof_err deploy_spec(struct ctl_call *call, const json_t *body, json_t **spec) {
    const json_t *tpl = json_object_get(body, "template");
    if (json_is_object(tpl) && json_object_get(tpl, "name") != NULL) {
        return ctl_template_render(call, tpl, spec);
    }
    *spec = json_incref((json_t *)(uintptr_t)body);
    return IOF_OK;
}

static iof_err unsupported_reply(struct ctl_call *call, iof_err err) {
    if (err == IOF_EUNSUPPORTED) {
        return ctl_reply_error(call, 501, "NotImplementedError", call->d->msg);
    }
    return err;
}

/* Creates an application from a POST /application (or /flow, or YAML) body; answers 201. */
static iof_err create_app(struct ctl_call *call, const json_t *body) {
    struct app_meta m = {0};
    iof_err err = read_meta(call, body, true, &m);
    if (err != IOF_OK) {
        return err;
    }
    if (call->user_id == 0) {
        return iof_fail(call->d, IOF_ENOENT, "No user exists yet");
    }
    json_t *spec = NULL;
    if ((err = deploy_spec(call, body, &spec)) != IOF_OK || (err = tx_begin(call)) != IOF_OK) {
        json_decref(spec);
        return err;
    }
    struct ctl_app app = {
        .user_id = call->user_id, .is_activated = m.is_activated, .is_system = m.is_system};
    (void)snprintf(app.name, sizeof app.name, "%s", m.name);
    err = check_duplicate(call, call->user_id, m.name, 0);
    if (err == IOF_OK) {
        static const char sql[] = "INSERT INTO applications "
                                  "(name, description, is_activated, is_system, user_id) "
                                  "VALUES (?, ?, ?, ?, ?) RETURNING id";
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(m.name),
            CTL_DB_TEXT(m.description != NULL ? m.description : ""),
            CTL_DB_BOOL(m.is_activated),
            CTL_DB_BOOL(m.is_system),
            CTL_DB_INT(call->user_id),
        };
        json_t *row = NULL;
        err = ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, 5, NULL, &row, call->d);
        app.id = (int64_t)json_integer_value(json_object_get(row, "id"));
        json_decref(row);
        if (err == IOF_EEXIST) {
            err = iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", m.name);
        }
    }
    if (err == IOF_OK && ctl_app_body_has_content(spec)) {
        err = ctl_app_deploy(call, &app, spec, false);
    }
    json_decref(spec);
    if ((err = tx_end(call, err)) != IOF_OK) {
        return unsupported_reply(call, err);
    }
    IOF_INFO("application", "created id=%lld user=%lld", (long long)app.id, (long long)app.user_id);
    return ctl_reply(
        call, 201, json_pack("{s:I, s:s}", "id", (json_int_t)app.id, "name", app.name));
}

/* Applies metadata changes (and, with content true, the desired microservices and routes) to app
 * in one transaction, raising flags when isActivated changes. */
static iof_err
update_app(struct ctl_call *call, const struct ctl_app *app, const json_t *body, bool content) {
    struct app_meta m = {0};
    iof_err err = read_meta(call, body, false, &m);
    if (err != IOF_OK) {
        return err;
    }
    json_t *spec = NULL;
    bool deploy = content && (json_object_get(body, "microservices") != NULL ||
                              json_object_get(body, "routes") != NULL ||
                              json_object_get(body, "template") != NULL);
    if ((deploy && (err = deploy_spec(call, body, &spec)) != IOF_OK) ||
        (err = tx_begin(call)) != IOF_OK) {
        json_decref(spec);
        return err;
    }
    if (m.name != NULL && strcmp(m.name, app->name) != 0) {
        err = check_duplicate(call, app->user_id, m.name, app->id);
    }
    if (err == IOF_OK) {
        static const char sql[] =
            "UPDATE applications SET name = COALESCE(?, name), "
            "description = COALESCE(?, description), is_activated = COALESCE(?, is_activated), "
            "is_system = COALESCE(?, is_system), updated_at = ? WHERE id = ?";
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(m.name),
            CTL_DB_TEXT(m.description),
            m.has_activated ? CTL_DB_BOOL(m.is_activated) : CTL_DB_NULLV,
            m.has_system ? CTL_DB_BOOL(m.is_system) : CTL_DB_NULLV,
            CTL_DB_INT(iof_time_now_ms()),
            CTL_DB_INT(app->id),
        };
        err = ctl_db_exec(ctl_store_db(call->srv->store), sql, p, 6, NULL, NULL, NULL, call->d);
        if (err == IOF_EEXIST) {
            err = iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", m.name);
        }
    }
    struct ctl_app now = *app;
    if (m.name != NULL) {
        (void)snprintf(now.name, sizeof now.name, "%s", m.name);
    }
    if (m.has_activated) {
        now.is_activated = m.is_activated;
    }
    if (err == IOF_OK && deploy) {
        err = ctl_app_deploy(call, &now, spec, true);
    }
    if (err == IOF_OK && m.has_activated && m.is_activated != app->is_activated) {
        err = ctl_app_raise_nodes(call, app->id, APP_FLAGS);
    }
    json_decref(spec);
    if ((err = tx_end(call, err)) != IOF_OK) {
        return unsupported_reply(call, err);
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err delete_app(struct ctl_call *call, const struct ctl_app *app) {
    /* isSystem only hides an application from its owner's list (classic); the owner may still
     * read, change and delete it. */
    iof_err err = tx_begin(call);
    if (err != IOF_OK) {
        return err;
    }
    /* Flags first, while the microservices still say where they run; the delete cascades to the
     * application's microservices (and their ports, volumes, env, ...) and routes. */
    err = ctl_app_raise_nodes(call, app->id, APP_FLAGS);
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_INT(app->id)};
        err = ctl_db_exec(ctl_store_db(call->srv->store),
                          "DELETE FROM applications WHERE id = ?",
                          p,
                          1,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    IOF_INFO("application", "deleted id=%lld", (long long)app->id);
    return ctl_reply(call, 204, NULL);
}

/* ---- /application ---- */

static iof_err list_apps(struct ctl_call *call) {
    json_t *list = NULL;
    iof_err err = list_json(call, true, &list);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "applications", list));
}

static iof_err post_app(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    return err != IOF_OK ? err : create_app(call, body);
}

static iof_err get_app(struct ctl_call *call) {
    struct ctl_app app = {0};
    json_t *out = NULL;
    iof_err err = ctl_app_find(call, iof_http_param(call->req, "name"), true, &app);
    if (err == IOF_OK) {
        err = app_json(call, app.id, true, &out);
    }
    return err != IOF_OK ? err : ctl_reply(call, 200, out);
}

static iof_err patch_app(struct ctl_call *call) {
    struct ctl_app app = {0};
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK) {
        err = ctl_app_find(call, iof_http_param(call->req, "name"), true, &app);
    }
    return err != IOF_OK ? err : update_app(call, &app, body, false);
}

static iof_err put_app(struct ctl_call *call) {
    struct ctl_app app = {0};
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK) {
        err = ctl_app_find(call, iof_http_param(call->req, "name"), true, &app);
    }
    return err != IOF_OK ? err : update_app(call, &app, body, true);
}

static iof_err del_app(struct ctl_call *call) {
    struct ctl_app app = {0};
    iof_err err = ctl_app_find(call, iof_http_param(call->req, "name"), true, &app);
    return err != IOF_OK ? err : delete_app(call, &app);
}

static iof_err post_app_yaml(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err =
        ctl_app_upload_body(call, "application", "Application", ctl_yaml_application_body, &body);
    if (err == IOF_OK) {
        err = create_app(call, body);
    }
    json_decref(body);
    return err;
}

static iof_err put_app_yaml(struct ctl_call *call) {
    struct ctl_app app = {0};
    json_t *body = NULL;
    iof_err err = ctl_app_find(call, iof_http_param(call->req, "name"), true, &app);
    if (err == IOF_OK) {
        err = ctl_app_upload_body(
            call, "application", "Application", ctl_yaml_application_body, &body);
    }
    if (err == IOF_OK) {
        err = update_app(call, &app, body, true);
    }
    json_decref(body);
    return err;
}

/* ---- legacy /flow ---- */

static iof_err list_flows(struct ctl_call *call) {
    json_t *list = NULL;
    iof_err err = list_json(call, false, &list);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "flows", list));
}

static iof_err get_flow(struct ctl_call *call) {
    int64_t id = 0;
    struct ctl_app app = {0};
    json_t *out = NULL;
    iof_err err = flow_id_param(call, &id);
    if (err == IOF_OK) {
        err = ctl_app_find_id(call, id, false, &app);
    }
    if (err == IOF_OK) {
        err = app_json(call, app.id, false, &out);
    }
    return err != IOF_OK ? err : ctl_reply(call, 200, out);
}

static iof_err patch_flow(struct ctl_call *call) {
    int64_t id = 0;
    struct ctl_app app = {0};
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK) {
        err = flow_id_param(call, &id);
    }
    if (err == IOF_OK) {
        err = ctl_app_find_id(call, id, true, &app);
    }
    return err != IOF_OK ? err : update_app(call, &app, body, false);
}

static iof_err del_flow(struct ctl_call *call) {
    int64_t id = 0;
    struct ctl_app app = {0};
    iof_err err = flow_id_param(call, &id);
    if (err == IOF_OK) {
        err = ctl_app_find_id(call, id, true, &app);
    }
    return err != IOF_OK ? err : delete_app(call, &app);
}

const struct ctl_route ctl_routes_application[] = {
    {"GET", "/api/v3/application", list_apps, CTL_AUTH_USER},
    {"POST", "/api/v3/application", post_app, CTL_AUTH_USER},
    {"POST", "/api/v3/application/yaml", post_app_yaml, CTL_AUTH_USER},
    {"PUT", "/api/v3/application/yaml/:name", put_app_yaml, CTL_AUTH_USER},
    {"GET", "/api/v3/application/:name", get_app, CTL_AUTH_USER},
    {"PATCH", "/api/v3/application/:name", patch_app, CTL_AUTH_USER},
    {"PUT", "/api/v3/application/:name", put_app, CTL_AUTH_USER},
    {"DELETE", "/api/v3/application/:name", del_app, CTL_AUTH_USER},
    {"GET", "/api/v3/flow", list_flows, CTL_AUTH_USER},
    {"POST", "/api/v3/flow", post_app, CTL_AUTH_USER},
    {"GET", "/api/v3/flow/:id", get_flow, CTL_AUTH_USER},
    {"PATCH", "/api/v3/flow/:id", patch_flow, CTL_AUTH_USER},
    {"DELETE", "/api/v3/flow/:id", del_flow, CTL_AUTH_USER},
};
const size_t ctl_routes_application_count =
    sizeof ctl_routes_application / sizeof ctl_routes_application[0];
