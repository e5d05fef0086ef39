/* /api/v3/applicationTemplate(s) (controller.md §3.7): named application descriptions with
 * {{ variable }} placeholders, their variables with defaults, JSON and YAML (multipart field
 * "template") input, and the rendering used when POST/PUT /application names a template.
 * Templates belong to their user; another user's template is 404. */
#include "controller/api/application.h"

#include "controller/api/substitute.h"
#include "template/tpl.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "controller/store/db_json.h"
#include "controller/domain/validate.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- substitution ---- */

static iof_err oom(struct iof_diag *d) {
    return iof_fail(d, IOF_ENOMEM, "out of memory");
}

iof_err
ctl_template_substitute(const json_t *in, const json_t *values, json_t **out, struct iof_diag *d) {
    json_t *doc = json_deep_copy(in);
    json_t *globals = values != NULL ? json_copy((json_t *)(uintptr_t)values) : json_object();
    iof_err err = IOF_OK;
    if (doc == NULL || globals == NULL || json_object_set(globals, "self", doc) != 0) {
        err = oom(d);
    }
    struct iof_tpl_env env = {
        .globals = globals, .limits = IOF_TPL_LIMITS_DEFAULT, .keep_output_type = true};
    if (err == IOF_OK && json_is_string(doc)) {
        json_t *res = NULL;
        err = iof_tpl_render(&env, json_string_value(doc), json_string_length(doc), &res, d);
        json_decref(doc);
        doc = res != NULL ? res : json_null();
    } else if (err == IOF_OK) {
        err = iof_tpl_render_tree(&env, doc, d);
    }
    json_decref(globals);
    if (err == IOF_E2BIG) {
        err = IOF_EINVAL;
    }
    if (err != IOF_OK) {
        json_decref(doc);
        return err;
    }
    *out = doc;
    return IOF_OK;
}

/* ---- store ---- */

static const char tpl_cols[] =
    "SELECT id, name, description, schema_version AS \"schemaVersion\", user_id AS \"userId\", "
    "application_json AS \"application:json\" FROM application_templates ";

/* The caller's template called name as JSON with its variables; IOF_ENOENT when not visible. */
static iof_err tpl_json(struct ctl_call *call, const char *name, json_t **out) {
    char sql[400];
    (void)snprintf(sql,
                   sizeof sql,
                   "%sWHERE name = ? AND (? = 1 OR user_id = ?) ORDER BY (user_id = ?) DESC, id "
                   "LIMIT 1",
                   tpl_cols);
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(name),
        CTL_DB_BOOL(call->admin),
        CTL_DB_INT(call->user_id),
        CTL_DB_INT(call->user_id),
    };
    char nf[320];
    (void)snprintf(nf, sizeof nf, "Invalid application template name '%s'", name);
    json_t *tpl = NULL;
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, 4, nf, &tpl, call->d);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value v[] = {CTL_DB_INT(json_integer_value(json_object_get(tpl, "id")))};
    json_t *vars = NULL;
    err = ctl_db_query_json(ctl_store_db(call->srv->store),
                            "SELECT key, description, default_value AS \"defaultValue:json\" "
                            "FROM application_template_variables "
                            "WHERE application_template_id = ? ORDER BY id",
                            v,
                            1,
                            &vars,
                            call->d);
    if (err == IOF_OK && json_object_set_new(tpl, "variables", vars) != 0) {
        err = oom(call->d);
    }
    if (err != IOF_OK) {
        json_decref(tpl);
        return err;
    }
    *out = tpl;
    return IOF_OK;
}

iof_err ctl_template_render(struct ctl_call *call, const json_t *deploy, json_t **out) {
    const char *name = NULL;
    const json_t *given = NULL;
    iof_err err;
    if ((err = iof_json_get_string(deploy, "name", IOF_JSON_REQUIRED, &name, call->d)) ||
        (err = iof_json_get_array(deploy, "variables", IOF_JSON_OPTIONAL, &given, call->d))) {
        return err;
    }
    json_t *tpl = NULL;
    if ((err = tpl_json(call, name, &tpl)) != IOF_OK) {
        return err;
    }
    json_t *values = json_object();
    json_t *declared = json_object_get(tpl, "variables");
    size_t i;
    json_t *v;
    json_array_foreach(declared, i, v) {
        json_t *def = json_object_get(v, "defaultValue");
        if (values != NULL && def != NULL && !json_is_null(def) &&
            json_object_set(values, json_string_value(json_object_get(v, "key")), def) != 0) {
            err = oom(call->d);
        }
    }
    json_array_foreach(given, i, v) {
        const char *key = NULL;
        if (err != IOF_OK ||
            (err = iof_json_get_string(v, "key", IOF_JSON_REQUIRED, &key, call->d)) != IOF_OK) {
            break;
        }
        /* supplied values override defaults; the template may use variables it does not
         * declare, and a declared one without value renders as nil, as in the classic */
        json_t *val = json_object_get(v, "value");
        if (json_object_set(values, key, val != NULL ? val : json_null()) != 0) {
            err = oom(call->d);
        }
    }
    json_t *app = json_object_get(tpl, "application");
    if (err == IOF_OK && !json_is_object(app)) {
        err = iof_fail(call->d, IOF_EINVAL, "Application template '%s' is invalid", name);
    }
    json_t *rendered = NULL;
    if (err == IOF_OK && values == NULL) {
        err = oom(call->d);
    }
    if (err == IOF_OK && (rendered = json_deep_copy(app)) == NULL) {
        err = oom(call->d);
    }
    if (err == IOF_OK) {
        err = ctl_subst_render(call, rendered, values);
    }
    json_decref(values);
    json_decref(tpl);
    if (err != IOF_OK) {
        json_decref(rendered);
        return err;
    }
    json_object_del(rendered, "variables");
    *out = rendered;
    return IOF_OK;
}

/* ---- writes ---- */

static iof_err tx_end(struct ctl_call *call, iof_err err) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if (err == IOF_OK) {
        return ctl_db_commit(db, call->d);
    }
    struct iof_diag ignored = {{0}};
    iof_err rb = ctl_db_rollback(db, &ignored);
    if (rb != IOF_OK) {
        IOF_WARN("application_template", "rollback_failed reason=%s", ignored.msg);
    }
    return err;
}

/* Checks the variables list: keys follow the name rule and are unique. */
static iof_err check_variables(struct ctl_call *call, const json_t *vars) {
    size_t i;
    json_t *v;
    json_array_foreach(vars, i, v) {
        const char *key = NULL, *desc = NULL;
        iof_err err;
        if (!json_is_object(v)) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'variables'");
        }
        if ((err = iof_json_get_string(v, "key", IOF_JSON_REQUIRED, &key, call->d)) ||
            (err = ctl_name_check("key", key, call->d)) ||
            (err = iof_json_get_string(v, "description", IOF_JSON_OPTIONAL, &desc, call->d))) {
            return err;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(vars, j), "key")), key) ==
                0) {
                return iof_fail(call->d, IOF_EINVAL, "Duplicate template variable '%s'", key);
            }
        }
    }
    return IOF_OK;
}

static iof_err insert_variables(struct ctl_call *call, int64_t tpl_id, const json_t *vars) {
    size_t i;
    json_t *v;
    iof_err err = IOF_OK;
    json_array_foreach(vars, i, v) {
        json_t *def = json_object_get(v, "defaultValue");
        char *text = def != NULL && !json_is_null(def)
                         ? json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY)
                         : NULL;
        const char *desc = json_string_value(json_object_get(v, "description"));
        const struct ctl_db_value p[] = {
            CTL_DB_INT(tpl_id),
            CTL_DB_TEXT(json_string_value(json_object_get(v, "key"))),
            CTL_DB_TEXT(desc != NULL ? desc : ""),
            CTL_DB_TEXT(text),
        };
        err = ctl_db_exec(ctl_store_db(call->srv->store),
                          "INSERT INTO application_template_variables "
                          "(application_template_id, key, description, default_value) "
                          "VALUES (?, ?, ?, ?)",
                          p,
                          4,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
        free(text);
        if (err != IOF_OK) {
            break;
        }
    }
    return err;
}

/* Reads name, description, application and variables of a create/replace body. */
struct tpl_body {
    const char *name;
    const char *description;
    const json_t *application;
    const json_t *variables;
};

static iof_err
read_body(struct ctl_call *call, const json_t *body, bool name_required, struct tpl_body *t) {
    iof_err err;
    if ((err = iof_json_get_string(body,
                                   "name",
                                   name_required ? IOF_JSON_REQUIRED : IOF_JSON_OPTIONAL,
                                   &t->name,
                                   call->d)) ||
        (t->name != NULL && (err = ctl_name_check("name", t->name, call->d))) ||
        (err = iof_json_get_string(
             body, "description", IOF_JSON_OPTIONAL, &t->description, call->d)) ||
        (err = iof_json_get_object(
             body, "application", IOF_JSON_OPTIONAL, &t->application, call->d)) ||
        (err = iof_json_get_array(body, "variables", IOF_JSON_OPTIONAL, &t->variables, call->d)) ||
        (err = check_variables(call, t->variables))) {
        return err;
    }
    const json_t *x = NULL;
    if (t->application != NULL &&
        ((err = iof_json_get_array(
              t->application, "microservices", IOF_JSON_OPTIONAL, &x, call->d)) ||
         (err = iof_json_get_array(t->application, "routes", IOF_JSON_OPTIONAL, &x, call->d)))) {
        return err;
    }
    return IOF_OK;
}

static iof_err duplicate(struct ctl_call *call, int64_t owner, const char *name, int64_t except) {
    const struct ctl_db_value p[] = {CTL_DB_INT(owner), CTL_DB_TEXT(name), CTL_DB_INT(except)};
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(ctl_store_db(call->srv->store),
                                        "SELECT count(*) AS n FROM application_templates "
                                        "WHERE user_id = ? AND name = ? AND id <> ?",
                                        p,
                                        3,
                                        NULL,
                                        &row,
                                        call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_int_t n = json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return n > 0 ? iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", name) : IOF_OK;
}

/* Creates (existing_id 0) or replaces a template; *id gets its id. Runs its own transaction. */
static iof_err store_template(struct ctl_call *call,
                              const struct tpl_body *t,
                              const char *name,
                              int64_t owner,
                              int64_t existing_id,
                              int64_t *id) {
    char *app_text = NULL;
    if (t->application != NULL) {
        app_text = json_dumps(t->application, JSON_COMPACT);
    } else {
        app_text = strdup("{}");
    }
    if (app_text == NULL) {
        return oom(call->d);
    }
    struct ctl_db *db = ctl_store_db(call->srv->store);
    iof_err err = ctl_db_begin(db, call->d);
    if (err != IOF_OK) {
        free(app_text);
        return err;
    }
    err = duplicate(call, owner, name, existing_id);
    int64_t new_id = existing_id;
    if (err == IOF_OK && existing_id == 0) {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(name),
            CTL_DB_TEXT(t->description != NULL ? t->description : ""),
            CTL_DB_TEXT(app_text),
            CTL_DB_INT(owner),
        };
        json_t *row = NULL;
        err = ctl_db_query_json_one(db,
                                    "INSERT INTO application_templates "
                                    "(name, description, application_json, user_id) "
                                    "VALUES (?, ?, ?, ?) RETURNING id",
                                    p,
                                    4,
                                    NULL,
                                    &row,
                                    call->d);
        new_id = (int64_t)json_integer_value(json_object_get(row, "id"));
        json_decref(row);
    } else if (err == IOF_OK) {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(name),
            CTL_DB_TEXT(t->description),
            CTL_DB_TEXT(app_text),
            CTL_DB_INT(iof_time_now_ms()),
            CTL_DB_INT(existing_id),
        };
        err = ctl_db_exec(db,
                          "UPDATE application_templates SET name = ?, "
                          "description = COALESCE(?, description), application_json = ?, "
                          "updated_at = ? WHERE id = ?",
                          p,
                          5,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
        if (err == IOF_OK && t->variables != NULL) {
            const struct ctl_db_value q[] = {CTL_DB_INT(existing_id)};
            err = ctl_db_exec(db,
                              "DELETE FROM application_template_variables "
                              "WHERE application_template_id = ?",
                              q,
                              1,
                              NULL,
                              NULL,
                              NULL,
                              call->d);
        }
    }
    if (err == IOF_OK) {
        err = insert_variables(call, new_id, t->variables);
    }
    free(app_text);
    if (err == IOF_EEXIST && strstr(call->d->msg, "Duplicate") == NULL) {
        err = iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", name);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    *id = new_id;
    return IOF_OK;
}

static iof_err need_user(struct ctl_call *call) {
    return call->user_id == 0 ? iof_fail(call->d, IOF_ENOENT, "No user exists yet") : IOF_OK;
}

static iof_err create(struct ctl_call *call, const json_t *body) {
    struct tpl_body t = {0};
    int64_t id = 0;
    iof_err err = need_user(call);
    if (err == IOF_OK) {
        err = read_body(call, body, true, &t);
    }
    if (err == IOF_OK) {
        err = store_template(call, &t, t.name, call->user_id, 0, &id);
    }
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 201, json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", t.name));
}

/* PUT: replaces the template called by the path, or creates it when missing (as classic). */
static iof_err replace(struct ctl_call *call, const json_t *body) {
    const char *path_name = iof_http_param(call->req, "name");
    struct tpl_body t = {0};
    iof_err err = need_user(call);
    if (err == IOF_OK) {
        err = read_body(call, body, false, &t);
    }
    json_t *old = NULL;
    if (err == IOF_OK) {
        err = tpl_json(call, path_name, &old);
        if (err == IOF_ENOENT) {
            err = IOF_OK;
        }
    }
    if (err != IOF_OK) {
        return err;
    }
    int64_t old_id = old != NULL ? (int64_t)json_integer_value(json_object_get(old, "id")) : 0;
    int64_t owner =
        old != NULL ? (int64_t)json_integer_value(json_object_get(old, "userId")) : call->user_id;
    json_decref(old);
    const char *name = t.name != NULL ? t.name : path_name;
    if (t.name == NULL && (err = ctl_name_check("name", name, call->d)) != IOF_OK) {
        return err;
    }
    int64_t id = 0;
    if ((err = store_template(call, &t, name, owner, old_id, &id)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name));
}

/* ---- handlers ---- */

static iof_err list_templates(struct ctl_call *call) {
    char sql[400];
    (void)snprintf(sql, sizeof sql, "%sWHERE (? = 1 OR user_id = ?) ORDER BY id", tpl_cols);
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *list = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), sql, p, 2, &list, call->d);
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        const struct ctl_db_value v[] = {CTL_DB_INT(json_integer_value(json_object_get(t, "id")))};
        json_t *vars = NULL;
        if (err == IOF_OK) {
            err = ctl_db_query_json(ctl_store_db(call->srv->store),
                                    "SELECT key, description, default_value AS "
                                    "\"defaultValue:json\" FROM application_template_variables "
                                    "WHERE application_template_id = ? ORDER BY id",
                                    v,
                                    1,
                                    &vars,
                                    call->d);
        }
        if (err == IOF_OK && json_object_set_new(t, "variables", vars) != 0) {
            err = oom(call->d);
        }
    }
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "applicationTemplates", list));
}

static iof_err post_template(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    return err != IOF_OK ? err : create(call, body);
}

static iof_err post_template_yaml(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err =
        ctl_app_upload_body(call, "template", "ApplicationTemplate", ctl_yaml_template_body, &body);
    if (err == IOF_OK) {
        err = create(call, body);
    }
    json_decref(body);
    return err;
}

static iof_err get_template(struct ctl_call *call) {
    json_t *tpl = NULL;
    iof_err err = tpl_json(call, iof_http_param(call->req, "name"), &tpl);
    return err != IOF_OK ? err : ctl_reply(call, 200, tpl);
}

static iof_err patch_template(struct ctl_call *call) {
    json_t *body = NULL, *old = NULL;
    const char *name = NULL, *desc = NULL;
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK &&
        ((err = iof_json_get_string(body, "name", IOF_JSON_OPTIONAL, &name, call->d)) ||
         (name != NULL && (err = ctl_name_check("name", name, call->d))) ||
         (err = iof_json_get_string(body, "description", IOF_JSON_OPTIONAL, &desc, call->d)))) {
        return err;
    }
    if (err == IOF_OK) {
        err = tpl_json(call, iof_http_param(call->req, "name"), &old);
    }
    if (err != IOF_OK) {
        return err;
    }
    int64_t id = (int64_t)json_integer_value(json_object_get(old, "id"));
    int64_t owner = (int64_t)json_integer_value(json_object_get(old, "userId"));
    json_decref(old);
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_begin(db, call->d)) != IOF_OK) {
        return err;
    }
    if (name != NULL) {
        err = duplicate(call, owner, name, id);
    }
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {
            CTL_DB_TEXT(name), CTL_DB_TEXT(desc), CTL_DB_INT(iof_time_now_ms()), CTL_DB_INT(id)};
        err = ctl_db_exec(db,
                          "UPDATE application_templates SET name = COALESCE(?, name), "
                          "description = COALESCE(?, description), updated_at = ? WHERE id = ?",
                          p,
                          4,
                          NULL,
                          NULL,
                          NULL,
                          call->d);
    }
    if ((err = tx_end(call, err)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err put_template(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err = ctl_body(call, &body);
    return err != IOF_OK ? err : replace(call, body);
}

static iof_err put_template_yaml(struct ctl_call *call) {
    json_t *body = NULL;
    iof_err err =
        ctl_app_upload_body(call, "template", "ApplicationTemplate", ctl_yaml_template_body, &body);
    if (err == IOF_OK) {
        err = replace(call, body);
    }
    json_decref(body);
    return err;
}

static iof_err delete_template(struct ctl_call *call) {
    json_t *old = NULL;
    iof_err err = tpl_json(call, iof_http_param(call->req, "name"), &old);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_INT(json_integer_value(json_object_get(old, "id")))};
    json_decref(old);
    err = ctl_db_exec(ctl_store_db(call->srv->store),
                      "DELETE FROM application_templates WHERE id = ?",
                      p,
                      1,
                      NULL,
                      NULL,
                      NULL,
                      call->d);
    return err != IOF_OK ? err : ctl_reply(call, 204, NULL);
}

const struct ctl_route ctl_routes_application_template[] = {
    {"GET", "/api/v3/applicationTemplates", list_templates, CTL_AUTH_USER},
    {"POST", "/api/v3/applicationTemplate", post_template, CTL_AUTH_USER},
    {"POST", "/api/v3/applicationTemplate/yaml", post_template_yaml, CTL_AUTH_USER},
    {"PUT", "/api/v3/applicationTemplate/yaml/:name", put_template_yaml, CTL_AUTH_USER},
    {"GET", "/api/v3/applicationTemplate/:name", get_template, CTL_AUTH_USER},
    {"PATCH", "/api/v3/applicationTemplate/:name", patch_template, CTL_AUTH_USER},
    {"PUT", "/api/v3/applicationTemplate/:name", put_template, CTL_AUTH_USER},
    {"DELETE", "/api/v3/applicationTemplate/:name", delete_template, CTL_AUTH_USER},
};
const size_t ctl_routes_application_template_count =
    sizeof ctl_routes_application_template / sizeof ctl_routes_application_template[0];
