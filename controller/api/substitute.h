/* Template rendering of request bodies (classic "supportSubstitution"): every string value of the
 * JSON body of a POST/PUT/PATCH route of the application, flow, microservices, catalog, iofog,
 * registries, edge resource, routing, router and config groups is rendered as a Liquid template
 * (template/tpl.h, keepOutputType) with `self` = the body, before the handler reads it. YAML
 * uploads and template deployments render their converted documents the same way.
 *
 * Besides the standard filters, templates get ioFog's findAgent, findApplication,
 * findMicroserviceAgent and findEdgeResource, which see only what call->user_id owns (also when
 * the admin credential acts for that user). A body without "{{" or "{%" costs one memchr scan. */
#ifndef CTL_API_SUBSTITUTE_H
#define CTL_API_SUBSTITUTE_H

#include "controller/api/api.h"

#include <stdbool.h>

/* Whether the route's bodies are rendered (decided once, when the route is registered). */
bool ctl_subst_route(const struct ctl_route *route);

/* Renders the request's JSON body in place when it has markup (the handler then reads the
 * rendered body through ctl_body). A body that is not a JSON object is left for the handler to
 * refuse. IOF_EINVAL "Invalid template in field '<path>': <reason>" on a template error or an
 * exceeded limit (400). */
IOF_NODISCARD iof_err ctl_subst_request(struct ctl_call *call);

/* Renders every string of doc in place with self = doc and the members of vars (may be NULL;
 * borrowed) as further variables; self always wins over a variable called self. Errors as
 * ctl_subst_request. */
IOF_NODISCARD iof_err ctl_subst_render(struct ctl_call *call, json_t *doc, const json_t *vars);

/* For the findEdgeResource filter (edge_resource.c): name/version as call->user_id owns it, in
 * the shape of GET /edgeResource/:name/:version, or *out NULL. */
IOF_NODISCARD iof_err ctl_edge_resource_template_json(struct ctl_call *call,
                                                      const char *name,
                                                      const char *version,
                                                      json_t **out);

#endif
