/* Held requests (long poll): a table of generational ids mapping to suspended requests, answers
 * given from any thread, and the 503 sweep at stop.
 *
 * A request is held in two steps so MHD's rule "resume only what is suspended" always holds:
 * iof_http_hold registers the id while the handler still runs (state HELD); when the handler
 * returns, the connection is suspended (SUSPENDED) unless an answer already came in. An answer
 * stores the response data in the request and resumes a SUSPENDED connection; the connection's
 * own thread then queues it. Everything here runs under srv->mu. */
#include "common/json.h"
#include "common/log.h"
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STOP_DRAIN_MS 2000 /* how long stop waits for held requests to be answered and sent */

static void pending_free(struct iof_http_pending *p) {
    free(p->content_type);
    free(p->body);
    memset(p, 0, sizeof *p);
}

/* Makes room for more slots; called with srv->mu held. */
static iof_err grow_slots(struct iof_http_server *srv) {
    uint32_t n = srv->nslots != 0 ? srv->nslots * 2 : 64;
    if (srv->nslots >= UINT32_MAX / 2) {
        return IOF_ENOMEM;
    }
    struct iof_http_slot *s = realloc(srv->slots, (size_t)n * sizeof *s);
    if (s == NULL) {
        return IOF_ENOMEM;
    }
    for (uint32_t i = srv->nslots; i < n; i++) {
        s[i].req = NULL;
        s[i].gen = 1;
        s[i].next_free = i + 1 < n ? i + 2 : srv->free_head;
    }
    srv->free_head = srv->nslots + 1;
    srv->slots = s;
    srv->nslots = n;
    return IOF_OK;
}

/* Releases a slot; its generation moves on so the old id goes stale. */
static void slot_release(struct iof_http_server *srv, uint32_t idx) {
    struct iof_http_slot *s = &srv->slots[idx];
    s->req = NULL;
    s->gen = s->gen == UINT32_MAX ? 1 : s->gen + 1;
    s->next_free = srv->free_head;
    srv->free_head = idx + 1;
}

/* The request an id refers to, or NULL when stale. */
static struct iof_http_request *slot_lookup(struct iof_http_server *srv, uint64_t id) {
    uint32_t idx = (uint32_t)(id & UINT32_MAX);
    uint32_t gen = (uint32_t)(id >> 32);
    if (idx >= srv->nslots || srv->slots[idx].req == NULL || srv->slots[idx].gen != gen) {
        return NULL;
    }
    return srv->slots[idx].req;
}

iof_err iof_http_hold(struct iof_http_request *req, uint64_t *out_id) {
    struct iof_http_server *srv = req->srv;
    if (req->answered || req->hold != IOF_HTTP_HOLD_NONE || !req->in_handler) {
        return IOF_ECONFLICT;
    }
    pthread_mutex_lock(&srv->mu);
    iof_err err = srv->stopping ? IOF_EBUSY : IOF_OK;
    if (err == IOF_OK && srv->free_head == 0) {
        err = grow_slots(srv);
    }
    if (err != IOF_OK) {
        pthread_mutex_unlock(&srv->mu);
        return err;
    }
    uint32_t idx = srv->free_head - 1;
    struct iof_http_slot *s = &srv->slots[idx];
    srv->free_head = s->next_free;
    s->req = req;
    uint64_t id = (uint64_t)s->gen << 32 | idx;
    req->hold = IOF_HTTP_HOLD_HELD;
    req->hold_id = id;
    srv->held_live++;
    pthread_mutex_unlock(&srv->mu);
    *out_id = id;
    return IOF_OK;
}

/* Hands p (owned) to the request behind id; called with srv->mu held. */
static iof_err
deliver_locked(struct iof_http_server *srv, uint64_t id, struct iof_http_pending *p) {
    struct iof_http_request *req = slot_lookup(srv, id);
    if (req == NULL) {
        return IOF_ENOENT;
    }
    slot_release(srv, (uint32_t)(id & UINT32_MAX));
    req->pending = *p;
    memset(p, 0, sizeof *p);
    req->has_pending = true;
    if (req->hold == IOF_HTTP_HOLD_SUSPENDED) {
        req->hold = IOF_HTTP_HOLD_RESUMING;
        MHD_resume_connection(req->conn);
    }
    /* HELD: the handler is still running; iof_http_hold_after_handler queues the answer. */
    return IOF_OK;
}

iof_err iof_http_answer_raw(struct iof_http_server *srv,
                            uint64_t id,
                            int status,
                            const char *content_type,
                            const void *body,
                            size_t len) {
    if (status < 100 || status > 999 || status == 101 || (body == NULL && len > 0)) {
        return IOF_EINVAL;
    }
    struct iof_http_pending p = {.status = status, .len = len};
    if (content_type != NULL) {
        if (strpbrk(content_type, "\r\n") != NULL) {
            return IOF_EINVAL;
        }
        p.content_type = strdup(content_type);
    }
    if (len > 0) {
        p.body = malloc(len);
        if (p.body != NULL) {
            memcpy(p.body, body, len);
        }
    }
    if ((content_type != NULL && p.content_type == NULL) || (len > 0 && p.body == NULL)) {
        pending_free(&p);
        return IOF_ENOMEM;
    }
    pthread_mutex_lock(&srv->mu);
    iof_err err = deliver_locked(srv, id, &p);
    pthread_mutex_unlock(&srv->mu);
    pending_free(&p);
    return err;
}

iof_err iof_http_answer(struct iof_http_server *srv, uint64_t id, int status, json_t *value) {
    if (value == NULL) {
        return iof_http_answer_raw(srv, id, status, NULL, NULL, 0);
    }
    char *text;
    size_t len;
    iof_err err = iof_json_dump(value, &text, &len);
    json_decref(value);
    if (err != IOF_OK) {
        return err;
    }
    err = iof_http_answer_raw(srv, id, status, "application/json", text, len);
    free(text);
    return err;
}

void iof_http_hold_after_handler(struct iof_http_request *req) {
    struct iof_http_server *srv = req->srv;
    pthread_mutex_lock(&srv->mu);
    if (req->has_pending) {
        req->hold = IOF_HTTP_HOLD_RESUMING;
        pthread_mutex_unlock(&srv->mu);
        iof_http_hold_deliver(req);
        return;
    }
    /* Suspending under the lock: an answer either came before (handled above) or finds the
     * connection suspended and resumes it. */
    MHD_suspend_connection(req->conn);
    req->hold = IOF_HTTP_HOLD_SUSPENDED;
    pthread_mutex_unlock(&srv->mu);
}

void iof_http_hold_deliver(struct iof_http_request *req) {
    struct iof_http_server *srv = req->srv;
    pthread_mutex_lock(&srv->mu);
    struct iof_http_pending p = req->pending;
    bool have = req->has_pending;
    memset(&req->pending, 0, sizeof req->pending);
    req->has_pending = false;
    req->hold = IOF_HTTP_HOLD_DONE;
    pthread_mutex_unlock(&srv->mu);
    if (!have) {
        IOF_ERROR("http", "bug_resumed_without_answer id=%s", req->id);
        p.status = 500;
    }
    struct MHD_Response *resp;
    if (p.len > 0) {
        resp = MHD_create_response_from_buffer(p.len, p.body, MHD_RESPMEM_MUST_FREE);
        if (resp != NULL) {
            p.body = NULL; /* MHD frees it now */
        }
    } else {
        static char empty[1];
        resp = MHD_create_response_from_buffer(0, empty, MHD_RESPMEM_PERSISTENT);
    }
    if (resp != NULL && p.content_type != NULL &&
        MHD_add_response_header(resp, "Content-Type", p.content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    if (resp == NULL || iof_http_queue(req, p.status, resp) != IOF_OK) {
        IOF_ERROR("http", "answer_failed id=%s status=%d", req->id, p.status);
    }
    pending_free(&p);
}

void iof_http_hold_forget(struct iof_http_request *req) {
    struct iof_http_server *srv = req->srv;
    pthread_mutex_lock(&srv->mu);
    if (req->hold == IOF_HTTP_HOLD_NONE) {
        pthread_mutex_unlock(&srv->mu);
        return; /* never held: nothing of it is shared */
    }
    if (slot_lookup(srv, req->hold_id) == req) {
        slot_release(srv, (uint32_t)(req->hold_id & UINT32_MAX));
    }
    req->hold = IOF_HTTP_HOLD_DONE;
    srv->held_live--;
    pthread_cond_broadcast(&srv->drained);
    pthread_mutex_unlock(&srv->mu);
}

void iof_http_hold_stop(struct iof_http_server *srv) {
    char *body = NULL;
    size_t len = 0;
    if (iof_http_error_body(IOF_EBUSY, "The server is shutting down", &body, &len) != IOF_OK) {
        body = NULL;
        len = 0;
    }
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    size_t answered = 0;
    for (uint32_t i = 0; i < srv->nslots; i++) {
        struct iof_http_request *req = srv->slots[i].req;
        if (req == NULL) {
            continue;
        }
        struct iof_http_pending p = {.status = 503};
        if (body != NULL) {
            p.body = malloc(len);
            p.content_type = strdup("application/json");
            if (p.body == NULL || p.content_type == NULL) {
                pending_free(&p);
                p.status = 503;
            } else {
                memcpy(p.body, body, len);
                p.len = len;
            }
        }
        uint64_t id = (uint64_t)srv->slots[i].gen << 32 | i;
        if (deliver_locked(srv, id, &p) == IOF_OK) {
            answered++;
        }
        pending_free(&p);
    }
    /* Wait for every held request to complete: the 503s just given and answers given earlier
     * that may still be on their way out. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STOP_DRAIN_MS / 1000;
    while (srv->held_live > 0) {
        if (pthread_cond_timedwait(&srv->drained, &srv->mu, &deadline) != 0) {
            break;
        }
    }
    size_t left = srv->held_live;
    pthread_mutex_unlock(&srv->mu);
    free(body);
    if (answered > 0) {
        IOF_INFO("http", "held_requests_answered count=%zu unsent=%zu", answered, left);
    }
}
