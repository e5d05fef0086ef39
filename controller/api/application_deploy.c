/* Deploying an application's microservices and routes through the microservice service
 * (controller/msvc.h): create on POST /application (and its YAML and
 * template forms), reconcile by name on PUT /application/:name and PUT /application/yaml/:name.
 *
 * It runs inside the transaction the application handler opened: the microservice functions
 * (controller/msvc.h) join it and raise their own change flags.
 *
 * Semantics (controller.md §3.6):
 *   - create: every microservice of spec.microservices is created in the application (its
 *     "application" forced to the application's name), then every route {name?, from, to}
 *     (name defaults to r-<from>-<to>);
 *   - reconcile (replace): when spec has "routes", existing routes that are not wanted, or whose
 *     ends changed, are deleted first; when spec has "microservices", existing ones missing from
 *     it are deleted, the others updated with their new description, new names created; then the
 *     wanted routes that do not exist are created. Classic 3.0.4 called the route delete with
 *     wrong arguments here (controller.md §9.7); we delete by (application, name). A
 *     microservice whose deletion still waits for its agent is not "existing" unless wanted
 *     again: then it is taken back (same uuid, no longer marked) and updated, where classic
 *     answered 404 "Invalid microservice UUID".
 * Any failure leaves the caller's transaction to roll back, so a deployment is all or nothing. */
#include "controller/api/application.h"

#include "common/json.h"
#include "controller/domain/msvc.h"
#include "controller/store/db_json.h"

#include <stdio.h>
#include <string.h>

static bool non_empty(const json_t *body, const char *key) {
    return json_array_size(json_object_get(body, key)) > 0;
}

bool ctl_app_body_has_content(const json_t *body) {
    return non_empty(body, "microservices") || non_empty(body, "routes");
}

/* Checks the shapes the loops below rely on: microservices are objects with a name, routes
 * objects with from and to. */
static iof_err check_spec(struct ctl_call *call, const json_t *ms, const json_t *routes) {
    size_t i;
    json_t *v;
    iof_err err = IOF_OK;
    json_array_foreach(ms, i, v) {
        const char *name = NULL;
        if (!json_is_object(v)) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'microservices'");
        }
        if ((err = iof_json_get_string(v, "name", IOF_JSON_REQUIRED, &name, call->d)) != IOF_OK) {
            return err;
        }
    }
    json_array_foreach(routes, i, v) {
        const char *s = NULL;
        if (!json_is_object(v)) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'routes'");
        }
        if ((err = iof_json_get_string(v, "from", IOF_JSON_REQUIRED, &s, call->d)) ||
            (err = iof_json_get_string(v, "to", IOF_JSON_REQUIRED, &s, call->d)) ||
            (err = iof_json_get_string(v, "name", IOF_JSON_OPTIONAL, &s, call->d))) {
            return err;
        }
    }
    return IOF_OK;
}

/* The route's name, or r-<from>-<to>. */
static void route_name(const json_t *r, char *out, size_t cap) {
    const char *name = json_string_value(json_object_get(r, "name"));
    if (name != NULL) {
        (void)snprintf(out, cap, "%s", name);
    } else {
        (void)snprintf(out,
                       cap,
                       "r-%s-%s",
                       json_string_value(json_object_get(r, "from")),
                       json_string_value(json_object_get(r, "to")));
    }
}

/* A copy of a microservice body with "application" set to the application's name. */
static iof_err
msvc_body(struct ctl_call *call, const struct ctl_app *app, const json_t *m, json_t **out) {
    json_t *b = json_deep_copy(m);
    if (b == NULL || json_object_set_new(b, "application", json_string(app->name)) != 0) {
        json_decref(b);
        return iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    json_object_del(b, "flowId");
    *out = b;
    return IOF_OK;
}

static const json_t *find_by(const json_t *list, const char *key, const char *value) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(json_object_get(v, key));
        if (s != NULL && strcmp(s, value) == 0) {
            return v;
        }
    }
    return NULL;
}

static iof_err create_all(struct ctl_call *call,
                          const struct ctl_app *app,
                          const json_t *ms,
                          const json_t *routes,
                          const json_t *existing_routes) {
    size_t i;
    json_t *v;
    iof_err err = IOF_OK;
    json_array_foreach(ms, i, v) {
        json_t *b = NULL;
        char uuid[33];
        if ((err = msvc_body(call, app, v, &b)) != IOF_OK) {
            return err;
        }
        err = ctl_msvc_create(call, app->id, b, uuid);
        json_decref(b);
        if (err != IOF_OK) {
            return err;
        }
    }
    json_array_foreach(routes, i, v) {
        char name[300];
        route_name(v, name, sizeof name);
        if (existing_routes != NULL && find_by(existing_routes, "name", name) != NULL) {
            continue; /* kept by reconcile */
        }
        err = ctl_route_create(call,
                               app->id,
                               name,
                               json_string_value(json_object_get(v, "from")),
                               json_string_value(json_object_get(v, "to")));
        if (err != IOF_OK) {
            return err;
        }
    }
    return IOF_OK;
}

static iof_err reconcile(struct ctl_call *call,
                         const struct ctl_app *app,
                         const json_t *ms,
                         const json_t *routes) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    const struct ctl_db_value p[] = {CTL_DB_INT(app->id)};
    json_t *old_ms = NULL, *old_routes = NULL, *kept_routes = json_array(), *new_ms = json_array();
    iof_err err = ctl_db_query_json(db,
                                    "SELECT uuid, name, marked_for_delete AS pending"
                                    " FROM microservices WHERE application_id = ?"
                                    " ORDER BY created_at, uuid",
                                    p,
                                    1,
                                    &old_ms,
                                    call->d);
    if (err == IOF_OK) {
        err = ctl_app_routes_json(call, app->id, &old_routes);
    }
    if (err == IOF_OK && (kept_routes == NULL || new_ms == NULL)) {
        err = iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *v;
    /* 1. routes: delete the unwanted or changed ones (before microservices go away). */
    json_array_foreach(old_routes, i, v) {
        if (err != IOF_OK || routes == NULL) {
            break;
        }
        const char *name = json_string_value(json_object_get(v, "name"));
        const json_t *want = NULL;
        size_t j;
        json_t *r;
        json_array_foreach(routes, j, r) {
            char n[300];
            route_name(r, n, sizeof n);
            if (strcmp(n, name) == 0) {
                want = r;
            }
        }
        bool same = want != NULL &&
                    json_equal(json_object_get(want, "from"), json_object_get(v, "from")) &&
                    json_equal(json_object_get(want, "to"), json_object_get(v, "to"));
        if (same) {
            err = json_array_append(kept_routes, v) == 0 ? IOF_OK : IOF_ENOMEM;
        } else {
            err = ctl_route_delete(call, app->id, name);
        }
    }
    /* 2. microservices: delete, update, collect the new ones. */
    if (err == IOF_OK && ms != NULL) {
        json_array_foreach(old_ms, i, v) {
            const char *name = json_string_value(json_object_get(v, "name"));
            const char *uuid = json_string_value(json_object_get(v, "uuid"));
            const json_t *want = find_by(ms, "name", name);
            bool pending = json_integer_value(json_object_get(v, "pending")) != 0;
            if (want == NULL) {
                err = pending ? IOF_OK : ctl_msvc_delete(call, uuid);
            } else {
                /* Wanted again while its deletion waits for the agent: it is taken back (same
                 * uuid) and updated, so the agent keeps or recreates its container. */
                if (pending) {
                    const struct ctl_db_value id[] = {CTL_DB_TEXT(uuid)};
                    err = ctl_db_exec(db,
                                      "UPDATE microservices SET marked_for_delete = 0,"
                                      " delete_with_cleanup = 0 WHERE uuid = ?",
                                      id,
                                      1,
                                      NULL,
                                      NULL,
                                      NULL,
                                      call->d);
                    if (err != IOF_OK) {
                        break;
                    }
                }
                json_t *b = NULL;
                if ((err = msvc_body(call, app, want, &b)) == IOF_OK) {
                    err = ctl_msvc_update(call, uuid, b);
                    json_decref(b);
                }
            }
            if (err != IOF_OK) {
                break;
            }
        }
        json_array_foreach(ms, i, v) {
            if (err == IOF_OK &&
                find_by(old_ms, "name", json_string_value(json_object_get(v, "name"))) == NULL &&
                json_array_append(new_ms, v) != 0) {
                err = iof_fail(call->d, IOF_ENOMEM, "out of memory");
            }
        }
    }
    /* 3. create the new microservices and the missing routes. */
    if (err == IOF_OK) {
        err = create_all(call, app, new_ms, routes, kept_routes);
    }
    json_decref(old_ms);
    json_decref(old_routes);
    json_decref(kept_routes);
    json_decref(new_ms);
    return err;
}

iof_err
ctl_app_deploy(struct ctl_call *call, const struct ctl_app *app, const json_t *spec, bool replace) {
    const json_t *ms = NULL, *routes = NULL;
    iof_err err;
    if ((err = iof_json_get_array(spec, "microservices", IOF_JSON_OPTIONAL, &ms, call->d)) ||
        (err = iof_json_get_array(spec, "routes", IOF_JSON_OPTIONAL, &routes, call->d)) ||
        (err = check_spec(call, ms, routes))) {
        return err;
    }
    if (!replace) {
        return create_all(call, app, ms, routes, NULL);
    }
    return reconcile(call, app, ms, routes);
}
