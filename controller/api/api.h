/* The REST API's plumbing: route tables per resource (one file each under controller/api/), the
 * call context handlers receive, authentication and reply helpers.
 *
 * A handler returns an iof_err; an error it did not answer itself is answered by the HTTP server
 * from the error table with {"name","message"} (message = call->d). Authentication happens before
 * the handler runs: for CTL_AUTH_USER routes a missing or unknown token is answered 401
 * {"name":"AuthenticationError","message":"authorization failed"} as the classic Controller does.
 */
#ifndef CTL_API_H
#define CTL_API_H

#include "controller/server/server.h"

#include <jansson.h>

struct ctl_call {
    struct ctl_server *srv;
    struct iof_http_request *req;
    struct iof_diag *d;
    int64_t user_id;     /* the authenticated user, or whom the admin acts for; 0 if none */
    bool admin;          /* the local admin credential was presented: ownership is not checked */
    char fog_uuid[64];   /* CTL_AUTH_AGENT routes: the node whose agent token was presented */
    char token_hash[65]; /* CTL_AUTH_USER routes: digest of the user token presented ("" for the
                            admin credential); logout revokes this one only */
};

typedef iof_err (*ctl_handler)(struct ctl_call *call);

enum ctl_auth {
    CTL_AUTH_NONE = 0,
    CTL_AUTH_USER,  /* a user token, or the admin credential */
    CTL_AUTH_AGENT, /* a node's agent token (classic: "fog token") */
};

struct ctl_route {
    const char *method;
    const char *path; /* http/server.h pattern, e.g. "/api/v3/iofog/:uuid" */
    ctl_handler handler;
    enum ctl_auth auth;
};

/* Controller-wide settings (PUT /config, PUT /router) belong to the Controller's administrator:
 * the local admin credential, or the first user (lowest id, the one who signed up first). Anyone
 * else gets IOF_EPERM (403) with a message in call->d. */
IOF_NODISCARD iof_err ctl_need_operator(struct ctl_call *call);

/* Registers routes on srv->http; the table must outlive the server (use static tables). */
IOF_NODISCARD iof_err ctl_api_register(struct ctl_server *srv,
                                       const struct ctl_route *routes,
                                       size_t n,
                                       struct iof_diag *d);

/* Registers an upload route (http/server.h "Uploads"): the body is streamed to a file in
 * opts->dir. Authentication runs when the request head arrives, then admit (may be NULL; it
 * accepts by returning IOF_OK without answering), both before any body byte is read; the handler
 * authenticates again once the body is in and finds the file with iof_http_upload_file.
 * opts->admit is ignored. route must outlive the server. */
IOF_NODISCARD iof_err ctl_api_register_upload(struct ctl_server *srv,
                                              const struct ctl_route *route,
                                              ctl_handler admit,
                                              const struct iof_http_upload_opts *opts,
                                              struct iof_diag *d);

/* The agent's image snapshot upload, PUT /api/v3/agent/image-snapshot (agent_misc.c): creates
 * <data-dir>/image-snapshots and registers the upload route. */
IOF_NODISCARD iof_err ctl_api_register_agent_uploads(struct ctl_server *srv, struct iof_diag *d);

/* Frees what ctl_api_register allocated. */
void ctl_api_release(struct ctl_server *srv);

/* Answers with a JSON body (stolen; NULL for an empty body). */
IOF_NODISCARD iof_err ctl_reply(struct ctl_call *call, int status, json_t *body);

/* Answers status with {"name": name, "message": message}, for error classes the category table
 * does not name (e.g. InvalidCredentialsError). */
IOF_NODISCARD iof_err ctl_reply_error(struct ctl_call *call,
                                      int status,
                                      const char *name,
                                      const char *message);

/* The request body as a JSON object (owned by the request). IOF_EINVAL otherwise. */
IOF_NODISCARD iof_err ctl_body(struct ctl_call *call, json_t **out);

/* Route tables, one per resource file. */
extern const struct ctl_route ctl_routes_status[];
extern const size_t ctl_routes_status_count;
extern const struct ctl_route ctl_routes_user[];
extern const size_t ctl_routes_user_count;
extern const struct ctl_route ctl_routes_admin[];
extern const size_t ctl_routes_admin_count;
extern const struct ctl_route ctl_routes_agent[];
extern const size_t ctl_routes_agent_count;
extern const struct ctl_route ctl_routes_agent_misc[];
extern const size_t ctl_routes_agent_misc_count;
extern const struct ctl_route ctl_routes_catalog[];
extern const size_t ctl_routes_catalog_count;
extern const struct ctl_route ctl_routes_registries[];
extern const size_t ctl_routes_registries_count;
extern const struct ctl_route ctl_routes_edge_resource[];
extern const size_t ctl_routes_edge_resource_count;
extern const struct ctl_route ctl_routes_router[];
extern const size_t ctl_routes_router_count;
extern const struct ctl_route ctl_routes_config[];
extern const size_t ctl_routes_config_count;
extern const struct ctl_route ctl_routes_application[];
extern const size_t ctl_routes_application_count;
extern const struct ctl_route ctl_routes_application_template[];
extern const size_t ctl_routes_application_template_count;
extern const struct ctl_route ctl_routes_iofog[];
extern const size_t ctl_routes_iofog_count;
extern const struct ctl_route ctl_routes_tunnel[];
extern const size_t ctl_routes_tunnel_count;
extern const struct ctl_route ctl_routes_microservices[];
extern const size_t ctl_routes_microservices_count;
extern const struct ctl_route ctl_routes_diagnostics[];
extern const size_t ctl_routes_diagnostics_count;
extern const struct ctl_route ctl_routes_routing[];
extern const size_t ctl_routes_routing_count;
extern const struct ctl_route ctl_routes_logs[];
extern const size_t ctl_routes_logs_count;

#endif
