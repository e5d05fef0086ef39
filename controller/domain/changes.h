/* Raising change flags for nodes: the one entry point every REST handler uses when something an
 * agent must learn about changed (controller.md §4.1). Today it records the flags in the store;
 * the agent-facing API hooks in here to wake long-polls of the node. Callable inside a
 * transaction: the flags become visible when it commits. */
#ifndef CTL_CHANGES_H
#define CTL_CHANGES_H

#include "controller/server/server.h"

#include <jansson.h>

/* Raises mask (enum ctl_flag bits) for the node. IOF_ENOENT when the node does not exist. */
IOF_NODISCARD iof_err ctl_changes_raise(struct ctl_server *srv,
                                        const char *fog_uuid,
                                        uint32_t mask,
                                        struct iof_diag *d);

/* Raises mask for every node owned by user_id (registry changes reach all of a user's nodes). */
IOF_NODISCARD iof_err ctl_changes_raise_user_nodes(struct ctl_server *srv,
                                                   int64_t user_id,
                                                   uint32_t mask,
                                                   struct iof_diag *d);

/* The classic GET /api/v3/agent/config/changes body for the node: every flag as a boolean and
 * `lastUpdated`, the node's change version as a decimal string, which the agent hands back in
 * PATCH config/changes to acknowledge exactly what it saw (classic agents treat it as opaque).
 * A new reference, or NULL with d set. */
json_t *ctl_changes_json(struct ctl_server *srv, const char *fog_uuid, struct iof_diag *d);

/* The transaction hook the server registers on its database (see ctl_db_set_tx_hook). */
void ctl_changes_tx_hook(void *ctx, bool committed);

/* Replicas. On a database several Controllers share (ctl_db_shared), every raise also sends the
 * node's uuid on this channel, delivered when the raising transaction commits; each Controller
 * listens (ctl_changes_listen) and wakes its own held long-poll of that node. */
#define CTL_CHANGES_CHANNEL "iofog_changes"

/* Starts listening for other Controllers' raises (srv->changes_listener; nothing on SQLite). */
IOF_NODISCARD iof_err ctl_changes_listen(struct ctl_server *srv, struct iof_diag *d);

#endif
