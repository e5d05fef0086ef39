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

#endif
