/* GET /api/v3/status, /api/v3/email-activation, /api/v3/fog-types and the capability probes
 * (controller.md §3.1). */
#include "controller/api/api.h"

#include "common/clock.h"
#include "controller/server/viewer.h"

/* versions.ecnViewer: classic answers the version of the ECN Viewer package it ships
 * (@iofog/ecn-viewer 3.0.2 in Controller 3.0.4). With a console configured (--viewer-dir) the
 * served package's version; without, this one: the release the API is kept compatible with
 * (login, nodes, applications, microservices, routes, catalog). */
#define CTL_ECN_VIEWER_VERSION "3.0.2"

static iof_err get_status(struct ctl_call *call) {
    int64_t up_ms = iof_time_mono_ms() - call->srv->started_ms;
    json_t *body = json_pack("{s:s, s:I, s:I, s:{s:s, s:s}}",
                             "status",
                             "online",
                             "timestamp",
                             (json_int_t)iof_time_now_ms(),
                             "uptimeSec",
                             (json_int_t)(up_ms / 1000),
                             "versions",
                             "controller",
                             IOFOG_VERSION,
                             "ecnViewer",
                             call->srv->viewer != NULL ? ctl_viewer_version(call->srv->viewer)
                                                       : CTL_ECN_VIEWER_VERSION);
    return ctl_reply(call, 200, body);
}

static iof_err get_email_activation(struct ctl_call *call) {
    /* E-mail activation is not offered: accounts are active on signup. */
    return ctl_reply(call, 200, json_pack("{s:b}", "isEmailActivationEnabled", 0));
}

static iof_err get_fog_types(struct ctl_call *call) {
    struct ctl_store_fog_type *types = NULL;
    size_t n = 0;
    iof_err err = ctl_store_fog_types_list(call->srv->store, &types, &n, call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        json_t *t = json_pack("{s:I, s:s, s:s?, s:s?}",
                              "id",
                              (json_int_t)types[i].id,
                              "name",
                              types[i].name,
                              "image",
                              types[i].image,
                              "description",
                              types[i].description);
        if (t == NULL || json_array_append_new(list, t) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    ctl_store_fog_types_free(types, n);
    if (list == NULL) {
        return iof_fail(call->d, IOF_ENOMEM, "out of memory");
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "fogTypes", list));
}

static iof_err head_capability(struct ctl_call *call) {
    return ctl_reply(call, 204, NULL);
}

const struct ctl_route ctl_routes_status[] = {
    {"GET", "/api/v3/status", get_status, CTL_AUTH_NONE},
    {"GET", "/api/v3/email-activation", get_email_activation, CTL_AUTH_NONE},
    {"GET", "/api/v3/fog-types", get_fog_types, CTL_AUTH_NONE},
    {"HEAD", "/api/v3/capabilities/edgeResources", head_capability, CTL_AUTH_NONE},
    {"HEAD", "/api/v3/capabilities/applicationTemplates", head_capability, CTL_AUTH_NONE},
};
const size_t ctl_routes_status_count = sizeof ctl_routes_status / sizeof ctl_routes_status[0];
