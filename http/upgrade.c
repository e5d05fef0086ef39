/* HTTP/1.1 upgrade (101 Switching Protocols) for the WebSocket module: queues the 101, hands the
 * socket over once it is sent, and keeps MHD's rule that every upgraded handle is closed through
 * MHD_upgrade_action(CLOSE) before the daemon stops.
 *
 * The owner gets a dup() of MHD's socket, so the descriptor number stays theirs until they call
 * iof_http_upgraded_close, even if a stop made MHD close its own copy earlier. One process-wide
 * lock guards the handles, because a handle may outlive its server. */
#include "common/log.h"
#include "http/internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t upgrade_mu = PTHREAD_MUTEX_INITIALIZER;

iof_err iof_http_respond_upgrade(struct iof_http_request *req,
                                 const char *const *headers,
                                 iof_http_upgrade_cb cb,
                                 void *ctx) {
    if (req->answered || req->hold != IOF_HTTP_HOLD_NONE || !req->in_handler) {
        return IOF_ECONFLICT;
    }
    const char *upgrade = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
    if (cb == NULL || upgrade == NULL || req->version == NULL ||
        strcmp(req->version, MHD_HTTP_VERSION_1_1) != 0) {
        return IOF_EINVAL;
    }
    size_t n = 0;
    if (headers != NULL) {
        while (headers[n] != NULL) {
            n++;
        }
    }
    if (n % 2 != 0) {
        return IOF_EINVAL;
    }
    struct MHD_Response *resp = MHD_create_response_for_upgrade(iof_http_upgrade_on_mhd, req->srv);
    if (resp == NULL) {
        return IOF_ENOMEM;
    }
    for (size_t i = 0; i < n; i += 2) {
        if (strpbrk(headers[i + 1], "\r\n") != NULL ||
            MHD_add_response_header(resp, headers[i], headers[i + 1]) != MHD_YES) {
            MHD_destroy_response(resp);
            return IOF_EINVAL;
        }
    }
    req->upgrade_cb = cb;
    req->upgrade_ctx = ctx;
    return iof_http_queue(req, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

/* Tells MHD the application is done with the socket; upgrade_mu held. */
static void close_mhd_locked(struct iof_http_upgraded *u) {
    if (u->urh != NULL) {
        (void)MHD_upgrade_action(u->urh, MHD_UPGRADE_ACTION_CLOSE);
        u->urh = NULL;
    }
}

static void unlink_locked(struct iof_http_upgraded *u) {
    if (u->srv == NULL) {
        return;
    }
    if (u->prev != NULL) {
        u->prev->next = u->next;
    } else {
        u->srv->upgraded = u->next;
    }
    if (u->next != NULL) {
        u->next->prev = u->prev;
    }
    u->prev = u->next = NULL;
    u->srv = NULL;
}

void iof_http_upgrade_on_mhd(void *cls,
                             struct MHD_Connection *connection,
                             void *con_cls,
                             const char *extra_in,
                             size_t extra_in_size,
                             MHD_socket sock,
                             struct MHD_UpgradeResponseHandle *urh) {
    struct iof_http_server *srv = cls;
    iof_http_guard_exempt(srv, connection);
    struct iof_http_request *req = con_cls;
    struct iof_http_upgraded *u = calloc(1, sizeof *u);
    int fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
    if (u == NULL || fd < 0 || req == NULL || req->upgrade_cb == NULL) {
        IOF_ERROR(
            "http", "upgrade_failed reason=%s", u == NULL ? "\"no memory\"" : "\"no descriptor\"");
        if (fd >= 0) {
            close(fd);
        }
        free(u);
        (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        if (req != NULL) {
            iof_http_upgrade_abandon(req);
        }
        return;
    }
    req->upgrade_called = true;
    u->urh = urh;
    u->mhd_fd = sock;
    u->fd = fd;
    pthread_mutex_lock(&upgrade_mu);
    if (srv->upgrades_closed) {
        (void)shutdown(sock, SHUT_RDWR);
        close_mhd_locked(u);
    } else {
        u->srv = srv;
        u->next = srv->upgraded;
        if (u->next != NULL) {
            u->next->prev = u;
        }
        srv->upgraded = u;
    }
    pthread_mutex_unlock(&upgrade_mu);
    IOF_DEBUG("http", "upgraded id=%s extra_bytes=%zu", req->id, extra_in_size);
    req->upgrade_cb(req->upgrade_ctx, fd, extra_in != NULL ? extra_in : "", extra_in_size, u);
}

void iof_http_upgrade_abandon(struct iof_http_request *req) {
    if (req->upgrade_cb == NULL || req->upgrade_called) {
        return;
    }
    req->upgrade_called = true;
    IOF_DEBUG("http", "upgrade_abandoned id=%s", req->id);
    req->upgrade_cb(req->upgrade_ctx, -1, "", 0, NULL);
}

void iof_http_upgraded_close(struct iof_http_upgraded *u) {
    if (u == NULL) {
        return;
    }
    pthread_mutex_lock(&upgrade_mu);
    unlink_locked(u);
    close_mhd_locked(u);
    pthread_mutex_unlock(&upgrade_mu);
    close(u->fd);
    free(u);
}

void iof_http_upgrade_stop(struct iof_http_server *srv) {
    size_t n = 0;
    pthread_mutex_lock(&upgrade_mu);
    srv->upgrades_closed = true;
    while (srv->upgraded != NULL) {
        struct iof_http_upgraded *u = srv->upgraded;
        /* The owner's dup shares the connection: shutting it down makes their reads end. */
        (void)shutdown(u->mhd_fd, SHUT_RDWR);
        close_mhd_locked(u);
        unlink_locked(u);
        n++;
    }
    pthread_mutex_unlock(&upgrade_mu);
    if (n > 0) {
        IOF_INFO("http", "upgraded_connections_closed count=%zu", n);
    }
}
