/* Stand-in for application_deploy.c.in until the microservice service (controller/msvc.h) is
 * merged: applications can be created, changed and deleted, but creating or reconciling the
 * microservices and routes inside them answers 501. At merge time this file is deleted and
 * application_deploy.c.in renamed to application_deploy.c (see its header comment). */
#include "controller/api/application.h"

#include "controller/store/db_json.h"

static bool non_empty(const json_t *body, const char *key) {
    return json_array_size(json_object_get(body, key)) > 0;
}

bool ctl_app_body_has_content(const json_t *body) {
    return non_empty(body, "microservices") || non_empty(body, "routes");
}

iof_err
ctl_app_deploy(struct ctl_call *call, const struct ctl_app *app, const json_t *spec, bool replace) {
    bool existing = false;
    if (replace) {
        static const char sql[] = "SELECT (SELECT count(*) FROM microservices WHERE "
                                  "application_id = ?) + (SELECT count(*) FROM routings WHERE "
                                  "application_id = ?) AS n";
        const struct ctl_db_value p[] = {CTL_DB_INT(app->id), CTL_DB_INT(app->id)};
        json_t *row = NULL;
        iof_err err =
            ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, 2, NULL, &row, call->d);
        if (err != IOF_OK) {
            return err;
        }
        existing = json_integer_value(json_object_get(row, "n")) > 0;
        json_decref(row);
    }
    if (!ctl_app_body_has_content(spec) && !existing) {
        return IOF_OK; /* nothing to create, nothing to reconcile */
    }
    return iof_fail(call->d,
                    IOF_EUNSUPPORTED,
                    "Deploying microservices and routes inside an application is not available "
                    "in this build");
}
