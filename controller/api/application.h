/* Shared pieces of the application, legacy flow and application template routes (controller.md
 * §3.6, §3.7): owner-filtered lookups, the JSON of an application's microservices and routes,
 * change flags for an application's nodes, YAML upload decoding, template rendering, and the hook
 * that deploys an application's microservices and routes.
 *
 * All functions take the call of the handler that uses them: ownership follows call->user_id
 * unless call->admin, errors carry the classic message in call->d. Functions that write may run
 * inside a transaction the caller opened on ctl_store_db(call->srv->store). */
#ifndef CTL_API_APPLICATION_H
#define CTL_API_APPLICATION_H

#include "controller/api/api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Bound on the nesting of uploaded YAML documents and template application JSON. */
#define CTL_APP_MAX_DEPTH 32

struct ctl_app {
    int64_t id;
    char name[256];
    bool is_activated;
    bool is_system;
    int64_t user_id;
};

/* The caller's application called name (any user's for the admin, the acting user's first).
 * with_system false hides system applications (as GET does). IOF_ENOENT "Invalid application id
 * '<name>'" when there is none visible. */
IOF_NODISCARD iof_err ctl_app_find(struct ctl_call *call,
                                   const char *name,
                                   bool with_system,
                                   struct ctl_app *out);

/* Same by numeric id (legacy /flow routes); IOF_ENOENT "Invalid flow id '<id>'". */
IOF_NODISCARD iof_err ctl_app_find_id(struct ctl_call *call,
                                      int64_t id,
                                      bool with_system,
                                      struct ctl_app *out);

/* For the findApplication template filter: the application called name that call->user_id owns,
 * as GET /application/:name shows it (with microservices and routes), or *out NULL. */
IOF_NODISCARD iof_err ctl_app_template_json(struct ctl_call *call, const char *name, json_t **out);

/* The microservices of an application in the shape of GET /microservices/:uuid, ordered by
 * creation (application_msvc.c; read straight from the tables until the microservice service
 * takes over). *out is a new array. */
IOF_NODISCARD iof_err ctl_app_msvcs_json(struct ctl_call *call, int64_t app_id, json_t **out);

/* The routes of an application as [{name, from, to}] (microservice names). *out is a new array. */
IOF_NODISCARD iof_err ctl_app_routes_json(struct ctl_call *call, int64_t app_id, json_t **out);

/* Raises mask on every node that runs a microservice of the application (each node once). */
IOF_NODISCARD iof_err ctl_app_raise_nodes(struct ctl_call *call, int64_t app_id, uint32_t mask);

/* ---- deploying content (application_deploy_*.c) ---- */

/* Whether a create/update body asks for microservices, routes or a template. */
bool ctl_app_body_has_content(const json_t *body);

/* Makes the application's microservices and routes what spec says ({microservices:[MsvcCreate],
 * routes:[{name?, from, to}]}, a template already rendered): with replace false the application
 * is new and everything is created; with replace true existing microservices and routes are
 * reconciled by name (created, updated, deleted). Runs inside the caller's transaction.
 * IOF_EUNSUPPORTED while the microservice service is not linked in (see
 * application_deploy.c.in). */
IOF_NODISCARD iof_err ctl_app_deploy(struct ctl_call *call,
                                     const struct ctl_app *app,
                                     const json_t *spec,
                                     bool replace);

/* ---- uploads (application_yaml.c) ---- */

/* The YAML document of the multipart field `field` of the request, as JSON, after checking that
 * its kind is `kind` (apiVersion is not checked, as in the classic Controller). IOF_EINVAL with
 * the classic texts otherwise. *out is a new reference. */
IOF_NODISCARD iof_err ctl_app_upload_yaml(struct ctl_call *call,
                                          const char *field,
                                          const char *kind,
                                          json_t **out);

/* ctl_app_upload_yaml followed by convert (ctl_yaml_application_body or ctl_yaml_template_body):
 * the request body of an upload route. *out is a new reference. */
IOF_NODISCARD iof_err ctl_app_upload_body(struct ctl_call *call,
                                          const char *field,
                                          const char *kind,
                                          iof_err (*convert)(const json_t *doc,
                                                             json_t **out,
                                                             struct iof_diag *d),
                                          json_t **out);

/* An iofogctl Microservice spec (ecosystem.md §2.1: name, agent.name, images{x86, arm, registry,
 * catalogId}, container{...}, config, application) as the body of POST /microservices
 * (MsvcCreate). application_name (may be NULL) is set as "application" when the spec has none.
 * *out is a new object. IOF_EINVAL naming the field on a malformed spec. */
IOF_NODISCARD iof_err ctl_yaml_microservice_body(const json_t *spec,
                                                 const char *application_name,
                                                 json_t **out,
                                                 struct iof_diag *d);

/* A kind Application document as the body of POST /application: {name, description?,
 * isActivated: true, microservices:[MsvcCreate], routes, template?}. *out is a new object. */
IOF_NODISCARD iof_err ctl_yaml_application_body(const json_t *doc,
                                                json_t **out,
                                                struct iof_diag *d);

/* A kind ApplicationTemplate document as the body of POST /applicationTemplate. */
IOF_NODISCARD iof_err ctl_yaml_template_body(const json_t *doc, json_t **out, struct iof_diag *d);

/* ---- templates (application_template.c) ---- */

/* Renders every string of in (keys are left alone) as a Liquid template (template/tpl.h, keeping
 * the type of a lone {{ value }}) with the members of values as variables and self = the copy
 * being rendered; no ioFog lookup filters (ctl_subst_render has them). A missing variable is nil;
 * a syntax error or an exceeded limit is IOF_EINVAL naming the field. *out is a new value. */
IOF_NODISCARD iof_err ctl_template_substitute(const json_t *in,
                                              const json_t *values,
                                              json_t **out,
                                              struct iof_diag *d);

/* Renders the template named by deploy ({name*, variables:[{key*, value}]}) of the caller: values
 * are the template's defaults overridden by the given ones. A given key the template does not
 * declare, or a declared variable left without any value, is IOF_EINVAL; an unknown template
 * IOF_ENOENT. *out is the rendered application ({microservices, routes, ...}), a new object. */
IOF_NODISCARD iof_err ctl_template_render(struct ctl_call *call,
                                          const json_t *deploy,
                                          json_t **out);

#endif
