/* /api/v3/applicationTemplate(s) (controller.md §3.7): named application descriptions with
 * {{ variable }} placeholders, their variables with defaults, JSON and YAML (multipart field
 * "template") input, and the rendering used when POST/PUT /application names a template.
 * Templates belong to their user; another user's template is 404. */
#include "controller/api/application.h"

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

#define MAX_RENDERED (1024 * 1024)

/* ---- substitution ---- */

static iof_err oom(struct iof_diag *d) {
    return iof_fail(d, IOF_ENOMEM, "out of memory");
}

static void trim(const char **s, const char **e) {
    while (*s < *e && isspace((unsigned char)**s)) {
        (*s)++;
    }
    while (*e > *s && isspace((unsigned char)(*e)[-1])) {
        (*e)--;
    }
}

/* Applies one filter to v (stolen); *out is a new value. */
static iof_err apply_filter(const char *f, size_t n, json_t *v, json_t **out, struct iof_diag *d) {
    json_t *r = NULL;
    if (n == 8 && memcmp(f, "toNumber", 8) == 0) {
        if (json_is_number(v)) {
            r = json_incref(v);
        } else if (json_is_string(v)) {
            const char *s = json_string_value(v);
            char *end = NULL;
            double x = strtod(s, &end);
            if (end != s && *end == '\0' && isfinite(x)) {
                r = x == floor(x) && fabs(x) < 9e15 ? json_integer((json_int_t)x) : json_real(x);
            }
        } else if (json_is_boolean(v)) {
            r = json_integer(json_is_true(v) ? 1 : 0);
        }
    } else if (n == 9 && memcmp(f, "toBoolean", 9) == 0) {
        const char *s = json_string_value(v);
        if (json_is_boolean(v)) {
            r = json_incref(v);
        } else if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
            r = json_boolean(strcmp(s, "true") == 0);
        } else if (json_is_number(v)) {
            r = json_boolean(json_number_value(v) != 0);
        }
    } else if (n == 8 && memcmp(f, "toString", 8) == 0) {
        if (json_is_string(v)) {
            r = json_incref(v);
        } else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            r = s != NULL ? json_string(s) : NULL;
            free(s);
        }
    } else {
        json_decref(v);
        return iof_fail(d, IOF_EINVAL, "Unknown template filter '%.*s'", (int)n, f);
    }
    json_decref(v);
    if (r == NULL) {
        return iof_fail(
            d, IOF_EINVAL, "Template filter '%.*s' cannot convert the value", (int)n, f);
    }
    *out = r;
    return IOF_OK;
}

/* Evaluates the inside of one {{ ... }}: a variable name and optional "| filter"s. */
static iof_err
evaluate(const char *s, const char *e, const json_t *values, json_t **out, struct iof_diag *d) {
    const char *bar = memchr(s, '|', (size_t)(e - s));
    const char *ne = bar != NULL ? bar : e;
    const char *ns = s;
    trim(&ns, &ne);
    char name[128];
    if (ne == ns || (size_t)(ne - ns) >= sizeof name) {
        return iof_fail(d, IOF_EINVAL, "Invalid template placeholder '{{%.*s}}'", (int)(e - s), s);
    }
    memcpy(name, ns, (size_t)(ne - ns));
    name[ne - ns] = '\0';
    json_t *v = json_object_get(values, name);
    if (v == NULL) {
        return iof_fail(d, IOF_EINVAL, "Unknown template variable '%s'", name);
    }
    v = json_incref(v);
    while (bar != NULL) {
        const char *fs = bar + 1;
        bar = memchr(fs, '|', (size_t)(e - fs));
        const char *fe = bar != NULL ? bar : e;
        trim(&fs, &fe);
        json_t *next = NULL;
        iof_err err = apply_filter(fs, (size_t)(fe - fs), v, &next, d);
        if (err != IOF_OK) {
            return err;
        }
        v = next;
    }
    *out = v;
    return IOF_OK;
}

static iof_err
subst_string(const json_t *str, const json_t *values, json_t **out, struct iof_diag *d) {
    const char *s = json_string_value(str);
    size_t n = json_string_length(str);
    const char *open = strstr(s, "{{");
    if (open == NULL) {
        *out = json_incref((json_t *)(uintptr_t)str);
        return IOF_OK;
    }
    const char *end = s + n;
    struct iof_buf b;
    iof_buf_init(&b, MAX_RENDERED);
    iof_err err = IOF_OK;
    const char *p = s;
    json_t *only = NULL; /* the value when the whole string is one placeholder */
    while (err == IOF_OK && open != NULL) {
        const char *close = strstr(open + 2, "}}");
        if (close == NULL) {
            err = iof_fail(d, IOF_EINVAL, "Unterminated template placeholder in '%.100s'", s);
            break;
        }
        json_t *v = NULL;
        err = evaluate(open + 2, close, values, &v, d);
        if (err != IOF_OK) {
            break;
        }
        if (open == s && close + 2 == end) {
            only = v;
            break;
        }
        err = iof_buf_append(&b, p, (size_t)(open - p));
        if (err == IOF_OK && json_is_string(v)) {
            err = iof_buf_append(&b, json_string_value(v), json_string_length(v));
        } else if (err == IOF_OK) {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            err = t != NULL ? iof_buf_append(&b, t, strlen(t)) : IOF_ENOMEM;
            free(t);
        }
        json_decref(v);
        p = close + 2;
        open = strstr(p, "{{");
    }
    if (err == IOF_OK && only == NULL) {
        err = iof_buf_append(&b, p, (size_t)(end - p));
        if (err == IOF_OK) {
            only = json_stringn(b.data != NULL ? (const char *)b.data : "", b.len);
            if (only == NULL) {
                err = IOF_ENOMEM;
            }
        }
        if (err == IOF_E2BIG || err == IOF_ENOMEM) {
            err = iof_fail(d, err, "rendered template value too large");
        }
    }
    iof_buf_free(&b);
    if (err != IOF_OK) {
        return err;
    }
    *out = only;
    return IOF_OK;
}

static iof_err
subst(const json_t *in, const json_t *values, size_t depth, json_t **out, struct iof_diag *d) {
    if (depth > CTL_APP_MAX_DEPTH) {
        return iof_fail(d, IOF_EINVAL, "template nested too deeply");
    }
    if (json_is_string(in)) {
        return subst_string(in, values, out, d);
    }
    json_t *copy = NULL;
    iof_err err = IOF_OK;
    if (json_is_object(in)) {
        copy = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)in, k, v) {
            json_t *nv = NULL;
            if (copy == NULL || (err = subst(v, values, depth + 1, &nv, d)) != IOF_OK) {
                break;
            }
            if (json_object_set_new(copy, k, nv) != 0) {
                err = oom(d);
                break;
            }
        }
    } else if (json_is_array(in)) {
        copy = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(in, i, v) {
            json_t *nv = NULL;
            if (copy == NULL || (err = subst(v, values, depth + 1, &nv, d)) != IOF_OK) {
                break;
            }
            if (json_array_append_new(copy, nv) != 0) {
                err = oom(d);
                break;
            }
        }
    } else {
        copy = json_incref((json_t *)(uintptr_t)in);
    }
    if (err == IOF_OK && copy == NULL) {
        err = oom(d);
    }
    if (err != IOF_OK) {
        json_decref(copy);
        return err;
    }
    *out = copy;
    return IOF_OK;
}

iof_err
ctl_template_substitute(const json_t *in, const json_t *values, json_t **out, struct iof_diag *d) {
    return subst(in, values, 0, out, d);
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
        bool known = false;
        size_t j;
        json_t *dv;
        json_array_foreach(declared, j, dv) {
            known = known || strcmp(json_string_value(json_object_get(dv, "key")), key) == 0;
        }
        if (!known) {
            err = iof_fail(call->d, IOF_EINVAL, "Unknown template variable '%s'", key);
            break;
        }
        json_t *val = json_object_get(v, "value");
        if (json_object_set(values, key, val != NULL ? val : json_null()) != 0) {
            err = oom(call->d);
        }
    }
    json_array_foreach(declared, i, v) {
        const char *key = json_string_value(json_object_get(v, "key"));
        if (err == IOF_OK && json_object_get(values, key) == NULL) {
            err = iof_fail(call->d, IOF_EINVAL, "Missing value for template variable '%s'", key);
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
    if (err == IOF_OK) {
        err = ctl_template_substitute(app, values, &rendered, call->d);
    }
    json_decref(values);
    json_decref(tpl);
    if (err != IOF_OK) {
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
