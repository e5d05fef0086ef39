/* Request-body templates (substitute.h): route selection, the ioFog filters, error wording. */
#include "controller/api/substitute.h"

#include "controller/api/application.h"
#include "controller/api/iofog.h"
#include "template/tpl.h"

#include <string.h>

/* Path groups whose POST/PUT/PATCH bodies the classic Controller renders (the route files whose
 * routes carry supportSubstitution). Application templates are not among them: their
 * placeholders are rendered when the template is deployed. */
static const char *const groups[] = {
    "/api/v3/application",
    "/api/v3/flow",
    "/api/v3/microservices",
    "/api/v3/catalog",
    "/api/v3/iofog",
    "/api/v3/registries",
    "/api/v3/edgeResource",
    "/api/v3/routes",
    "/api/v3/router",
    "/api/v3/config",
};

bool ctl_subst_route(const struct ctl_route *route) {
    if (route->auth != CTL_AUTH_USER ||
        (strcmp(route->method, "POST") != 0 && strcmp(route->method, "PUT") != 0 &&
         strcmp(route->method, "PATCH") != 0) ||
        strstr(route->path, "/yaml") != NULL) {
        return false; /* YAML uploads render their converted document instead */
    }
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        size_t n = strlen(groups[i]);
        if (strncmp(route->path, groups[i], n) == 0 &&
            (route->path[n] == '\0' || route->path[n] == '/')) {
            return true;
        }
    }
    return false;
}

static const char *str_arg(json_t *v) {
    return v != NULL ? json_string_value(v) : NULL;
}

/* Database lookups one body may make through the filters: a loop calling findAgent must not turn
 * one request into thousands of queries. */
#define MAX_LOOKUPS 256

struct lookup_ctx {
    struct ctl_call call; /* the caller's call acting as its user, without admin rights */
    size_t lookups;
};

/* The ioFog filters. Lookups that find nothing give nil (the classic filters give undefined or
 * fail the field). */
static iof_err iofog_filter(void *ctx,
                            const char *name,
                            json_t *in,
                            json_t *const *args,
                            size_t n,
                            json_t **out,
                            struct iof_diag *d) {
    struct lookup_ctx *lc = ctx;
    struct ctl_call *call = &lc->call;
    call->d = d;
    *out = NULL;
    if (strncmp(name, "find", 4) == 0 && ++lc->lookups > MAX_LOOKUPS) {
        return iof_fail(d, IOF_E2BIG, "template lookup limit exceeded (%d)", MAX_LOOKUPS);
    }
    if (strcmp(name, "findAgent") == 0) {
        const char *agent = str_arg(in);
        if (agent == NULL) {
            return IOF_OK;
        }
        return ctl_iofog_template_json(call, agent[0] != '\0' ? agent : NULL, NULL, out);
    }
    if (strcmp(name, "findMicroserviceAgent") == 0) {
        const char *uuid = in != NULL ? json_string_value(json_object_get(in, "iofogUuid")) : NULL;
        return uuid != NULL ? ctl_iofog_template_json(call, NULL, uuid, out) : IOF_OK;
    }
    if (strcmp(name, "findApplication") == 0) {
        const char *app = str_arg(in);
        return app != NULL ? ctl_app_template_json(call, app, out) : IOF_OK;
    }
    if (strcmp(name, "findEdgeResource") == 0) {
        const char *res = str_arg(in), *version = n > 0 ? str_arg(args[0]) : NULL;
        return res != NULL && version != NULL
                   ? ctl_edge_resource_template_json(call, res, version, out)
                   : IOF_OK;
    }
    return IOF_ENOENT;
}

iof_err ctl_subst_render(struct ctl_call *call, json_t *doc, const json_t *vars) {
    json_t *globals = vars != NULL ? json_copy((json_t *)(uintptr_t)vars) : json_object();
    if (globals == NULL || json_object_set(globals, "self", doc) != 0) {
        json_decref(globals);
        return iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    struct lookup_ctx as_user = {.call = *call};
    as_user.call.admin = false;
    struct iof_tpl_env env = {
        .globals = globals,
        .filter = iofog_filter,
        .filter_ctx = &as_user,
        .limits = IOF_TPL_LIMITS_DEFAULT,
        .keep_output_type = true,
    };
    struct iof_diag d = {0};
    iof_err err = iof_tpl_render_tree(&env, doc, &d);
    /* self refers to doc: drop it before doc can be freed by its owner */
    json_decref(globals);
    if (err == IOF_EINVAL || err == IOF_E2BIG) {
        return iof_fail(call->d, IOF_EINVAL, "Invalid template in field %s", d.msg);
    }
    if (err != IOF_OK) {
        return iof_fail(call->d, err, "%s", iof_diag_text(&d, err));
    }
    return IOF_OK;
}

iof_err ctl_subst_request(struct ctl_call *call) {
    size_t len = 0;
    const uint8_t *body = iof_http_body(call->req, &len);
    if (!iof_tpl_has_markup((const char *)body, len)) {
        return IOF_OK;
    }
    json_t *doc = NULL;
    if (iof_http_body_json(call->req, &doc, NULL) != IOF_OK || !json_is_object(doc)) {
        return IOF_OK; /* the handler answers the malformed body */
    }
    return ctl_subst_render(call, doc, NULL);
}
