/* Raising change flags for nodes: the one entry point every REST handler uses when something an
 * agent must learn about changed (controller.md §4.1). Today it records the flags in the store;
 * the agent-facing API hooks in here to wake long-polls of the node. Callable inside a
 * transaction: the flags become visible when it commits. */
#ifndef CTL_CHANGES_H
#define CTL_CHANGES_H

#include "controller/server.h"

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

#endif
