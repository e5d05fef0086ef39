/* The HTTP side of the hub: checks the handshake in a route handler, answers 101 (or 400/426) and
 * hands the upgraded socket to the hub thread from the server's upgrade callback. */
#include "common/log.h"
#include "ws/handshake.h"
#include "ws/hub_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Answers a failed handshake: 426 with the version we speak, or 400. */
static void reject(struct iof_http_request *req, iof_err err, const struct iof_diag *d) {
    const char *text = iof_diag_text(d, err);
    iof_err rerr;
    if (err == IOF_EUNSUPPORTED) {
        json_t *body = json_pack("{s:s,s:s}", "name", iof_err_name(err), "message", text);
        rerr = iof_http_set_header(req, "Sec-WebSocket-Version", "13");
        if (rerr == IOF_OK && body != NULL) {
            rerr = iof_http_respond_json(req, 426, body);
        } else {
            json_decref(body);
        }
    } else {
        rerr = iof_http_respond_error(req, IOF_EINVAL, text);
    }
    if (rerr != IOF_OK) {
        IOF_WARN("ws", "handshake_reject_failed error=%s", iof_strerror(rerr));
    }
}

static void unlink_pending_locked(struct iof_ws_hub *hub, struct iof_ws_hub_pending *p) {
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        hub->pending = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    hub->npending--;
}

/* Runs on a server thread once the 101 is out: moves the socket to the hub thread. */
static void
upgrade_cb(void *ctx, int fd, const char *extra_in, size_t extra_len, struct iof_http_upgraded *u) {
    struct iof_ws_hub_pending *p = ctx;
    struct iof_ws_hub *hub = p->hub;
    if (fd < 0) {
        /* The upgrade never happened (client gone before the 101): forget the pending record. */
        pthread_mutex_lock(&hub->mu);
        unlink_pending_locked(hub, p);
        pthread_mutex_unlock(&hub->mu);
        free(p);
        return;
    }
    struct iof_ws_hub_cmd *cmd = calloc(1, sizeof *cmd + extra_len);
    bool wake = false;
    pthread_mutex_lock(&hub->mu);
    unlink_pending_locked(hub, p);
    if (cmd != NULL) {
        cmd->kind = IOF_WS_HUB_ADOPT;
        cmd->fd = fd;
        cmd->u = u;
        cmd->h = p->h;
        cmd->ctx = p->ctx;
        cmd->len = extra_len;
        if (extra_len > 0) {
            memcpy(cmd->data, extra_in, extra_len);
        }
        wake = iof_ws_hub_push_locked(hub, cmd);
    }
    pthread_mutex_unlock(&hub->mu);
    free(p);
    if (cmd == NULL) {
        IOF_ERROR("ws", "adopt_failed reason=\"no memory\"");
        iof_http_upgraded_close(u);
        return;
    }
    if (wake) {
        iof_ws_hub_wake(hub);
    }
}

iof_err iof_ws_hub_accept(struct iof_ws_hub *hub,
                          struct iof_http_request *req,
                          const struct iof_ws_handlers *h,
                          void *ctx,
                          struct iof_diag *d) {
    struct iof_ws_upgrade_request r = {
        .method = iof_http_method(req),
        .upgrade = iof_http_header(req, "Upgrade"),
        .connection = iof_http_header(req, "Connection"),
        .version = iof_http_header(req, "Sec-WebSocket-Version"),
        .key = iof_http_header(req, "Sec-WebSocket-Key"),
    };
    char accept[IOF_WS_ACCEPT_LEN + 1];
    iof_err err = iof_ws_handshake_check_request(&r, accept, d);
    if (err != IOF_OK) {
        reject(req, err, d);
        return err;
    }
    struct iof_ws_hub_pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return iof_fail(d, IOF_ENOMEM, "WebSocket upgrade: out of memory");
    }
    p->hub = hub;
    if (h != NULL) {
        p->h = *h;
    }
    p->ctx = ctx;
    pthread_mutex_lock(&hub->mu);
    /* Pending upgrades count: the HTTP server resolves each one exactly once (adopted, or
     * abandoned with fd -1 when the client leaves before the 101). */
    if (hub->stopping || hub->nused + hub->npending >= hub->cfg.max_connections) {
        bool stopping = hub->stopping;
        pthread_mutex_unlock(&hub->mu);
        free(p);
        return iof_fail(d, IOF_EBUSY, "WebSocket hub %s", stopping ? "stopping" : "full");
    }
    p->next = hub->pending;
    if (p->next != NULL) {
        p->next->prev = p;
    }
    hub->pending = p;
    hub->npending++;
    pthread_mutex_unlock(&hub->mu);

    const char *const headers[] = {"Upgrade", "websocket", "Sec-WebSocket-Accept", accept, NULL};
    err = iof_http_respond_upgrade(req, headers, upgrade_cb, p);
    if (err != IOF_OK) {
        pthread_mutex_lock(&hub->mu);
        unlink_pending_locked(hub, p);
        pthread_mutex_unlock(&hub->mu);
        free(p);
        return iof_fail(d, err, "WebSocket upgrade refused by the HTTP server");
    }
    return IOF_OK;
}

void iof_ws_hub_drop_pending_locked(struct iof_ws_hub *hub) {
    while (hub->pending != NULL) {
        struct iof_ws_hub_pending *p = hub->pending;
        unlink_pending_locked(hub, p);
        free(p);
    }
}
