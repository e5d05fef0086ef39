/* Node ("fog") lookups shared by the route files of the iofog group (iofog.c, tunnel.c): one place
 * decides which nodes a caller may see or change, so every route answers a node the caller does
 * not own exactly as if it did not exist. */
#ifndef CTL_API_IOFOG_H
#define CTL_API_IOFOG_H

#include "controller/api/api.h"

enum ctl_iofog_access {
    CTL_IOFOG_READ =
        0,           /* own nodes and the system node (visible to every user), or any for admin */
    CTL_IOFOG_WRITE, /* own nodes only, or any for admin */
};

/* Finds node uuid as the caller may use it for access. On success *out (if not NULL) is a new
 * JSON object with the node's stored columns under their classic keys (no tags, router links or
 * edge resources); the caller releases it with json_decref. IOF_ENOENT with the classic message
 * "Invalid ioFog UUID '<uuid>'" when the node does not exist or is not the caller's. */
IOF_NODISCARD iof_err ctl_iofog_find(struct ctl_call *call,
                                     const char *uuid,
                                     enum ctl_iofog_access access,
                                     json_t **out);

/* For template filters (findAgent, findMicroserviceAgent): with name or uuid given, the caller's
 * own node so called as GET /iofog/:uuid shows it, *out NULL when there is none; with both NULL
 * the caller's nodes as GET /iofog/list shows them (a new array). Ownership is call->user_id's,
 * whatever call->admin says. */
IOF_NODISCARD iof_err ctl_iofog_template_json(struct ctl_call *call,
                                              const char *name,
                                              const char *uuid,
                                              json_t **out);

#endif
