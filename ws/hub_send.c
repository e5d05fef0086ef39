/* The hub's thread-safe side: sending, pinging and closing by connection id. Each call checks the
 * id and the per-connection queue bound under the hub lock and leaves a command for the hub
 * thread, which alone touches sockets and sessions. */
#include "ws/hub_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool iof_ws_hub_push_locked(struct iof_ws_hub *hub, struct iof_ws_hub_cmd *cmd) {
    bool was_empty = hub->cmd_head == NULL;
    cmd->next = NULL;
    if (hub->cmd_tail != NULL) {
        hub->cmd_tail->next = cmd;
    } else {
        hub->cmd_head = cmd;
    }
    hub->cmd_tail = cmd;
    return was_empty;
}

void iof_ws_hub_wake(struct iof_ws_hub *hub) {
    uint64_t one = 1;
    (void)!write(hub->evfd, &one, sizeof one);
}

/* The slot conn_id names, or NULL when it is unknown, stale or not accepting. Caller holds mu. */
static struct iof_ws_hub_slot *open_slot_locked(struct iof_ws_hub *hub, uint64_t conn_id) {
    uint32_t index = (uint32_t)(conn_id & 0xffffffffu);
    uint32_t gen = (uint32_t)(conn_id >> 32);
    if (index >= hub->nslots) {
        return NULL;
    }
    struct iof_ws_hub_slot *slot = &hub->slots[index];
    if (!slot->used || !slot->open || slot->gen != gen || hub->stopping) {
        return NULL;
    }
    return slot;
}

/* Copies data into a command for conn_id and queues it. counted: the payload counts against
 * max_queued. */
static iof_err enqueue(struct iof_ws_hub *hub,
                       uint64_t conn_id,
                       enum iof_ws_hub_cmd_kind kind,
                       enum iof_ws_opcode opcode,
                       uint16_t status,
                       const void *data,
                       size_t len) {
    struct iof_ws_hub_cmd *cmd = malloc(sizeof *cmd + len + 1);
    if (cmd == NULL) {
        return IOF_ENOMEM;
    }
    memset(cmd, 0, sizeof *cmd);
    cmd->kind = kind;
    cmd->opcode = opcode;
    cmd->status = status;
    cmd->fd = -1;
    cmd->len = len;
    if (len > 0) {
        memcpy(cmd->data, data, len);
    }
    cmd->data[len] = '\0';
    pthread_mutex_lock(&hub->mu);
    struct iof_ws_hub_slot *slot = open_slot_locked(hub, conn_id);
    if (slot == NULL) {
        pthread_mutex_unlock(&hub->mu);
        free(cmd);
        return IOF_ENOENT;
    }
    if (kind == IOF_WS_HUB_SEND) {
        size_t queued = slot->in_cmds + slot->in_wire;
        if (queued > hub->cfg.max_queued || len > hub->cfg.max_queued - queued) {
            pthread_mutex_unlock(&hub->mu);
            free(cmd);
            return IOF_EBUSY;
        }
        slot->in_cmds += len;
    } else {
        slot->open = false;
    }
    cmd->index = (uint32_t)(conn_id & 0xffffffffu);
    cmd->gen = slot->gen;
    bool wake = iof_ws_hub_push_locked(hub, cmd);
    pthread_mutex_unlock(&hub->mu);
    /* The hub thread (a handler) runs its commands later in the same loop turn. */
    if (wake && !pthread_equal(pthread_self(), hub->thread)) {
        iof_ws_hub_wake(hub);
    }
    return IOF_OK;
}

iof_err iof_ws_send(struct iof_ws_hub *hub,
                    uint64_t conn_id,
                    enum iof_ws_opcode opcode,
                    const void *data,
                    size_t len) {
    if (opcode != IOF_WS_TEXT && opcode != IOF_WS_BINARY) {
        return IOF_EINVAL;
    }
    if (len > hub->cfg.max_queued) {
        return IOF_E2BIG;
    }
    return enqueue(hub, conn_id, IOF_WS_HUB_SEND, opcode, 0, data, len);
}

iof_err iof_ws_ping(struct iof_ws_hub *hub, uint64_t conn_id, const void *payload, size_t len) {
    if (len > IOF_WS_MAX_CONTROL) {
        return IOF_E2BIG;
    }
    return enqueue(hub, conn_id, IOF_WS_HUB_SEND, IOF_WS_PING, 0, payload, len);
}

iof_err iof_ws_pong(struct iof_ws_hub *hub, uint64_t conn_id, const void *payload, size_t len) {
    if (len > IOF_WS_MAX_CONTROL) {
        return IOF_E2BIG;
    }
    return enqueue(hub, conn_id, IOF_WS_HUB_SEND, IOF_WS_PONG, 0, payload, len);
}

iof_err
iof_ws_close(struct iof_ws_hub *hub, uint64_t conn_id, uint16_t status, const char *reason) {
    size_t rlen = reason != NULL ? strlen(reason) : 0;
    if (!iof_ws_status_sendable(status) || rlen > IOF_WS_MAX_REASON) {
        return IOF_EINVAL;
    }
    return enqueue(hub, conn_id, IOF_WS_HUB_CLOSE, IOF_WS_CLOSE, status, reason, rlen);
}
