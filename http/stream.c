/* Streamed (chunked) responses fed by a producer thread; see server.h.
 *
 * A stream has two owners: MHD's response (released by its free callback when the connection is
 * done with it, including when the client goes away or the server stops) and the producer
 * (released by iof_http_stream_end). The buffer is a ring of fixed size. When the reader finds it
 * empty it suspends the connection and the next write resumes it, so an idle follower costs no
 * thread. Lock order: srv->mu, then s->mu. */
#include "common/log.h"
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>

struct iof_http_stream {
    pthread_mutex_t mu;
    struct iof_http_server *srv;  /* NULL once MHD released the response */
    struct MHD_Connection *conn;  /* NULL once MHD released the response */
    struct iof_http_stream *next; /* in srv->streams, under srv->mu */
    unsigned char *ring;
    size_t cap, head, len;
    bool suspended; /* the reader suspended the connection; the next write or end resumes it */
    bool ended;     /* the producer has no more bytes */
    bool gone;      /* the client went away or the server stopped */
    int refs;
};

static void stream_unref_locked(struct iof_http_stream *s, bool *free_it) {
    *free_it = --s->refs == 0;
}

static void stream_free(struct iof_http_stream *s) {
    pthread_mutex_destroy(&s->mu);
    free(s->ring);
    free(s);
}

/* Wakes the connection if the reader parked it; with s->mu held. */
static void wake_locked(struct iof_http_stream *s) {
    if (s->suspended && s->conn != NULL) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct iof_http_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    ssize_t n;
    if (s->len > 0) {
        size_t take = s->len < max ? s->len : max;
        size_t first = s->cap - s->head < take ? s->cap - s->head : take;
        memcpy(buf, s->ring + s->head, first);
        memcpy(buf + first, s->ring, take - first);
        s->head = (s->head + take) % s->cap;
        s->len -= take;
        n = (ssize_t)take;
    } else if (s->ended || s->gone) {
        n = (ssize_t)MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send yet: park the connection until the producer writes or ends. */
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void release_from_mhd(void *cls) {
    struct iof_http_stream *s = cls;
    struct iof_http_server *srv = s->srv;
    if (srv != NULL) {
        pthread_mutex_lock(&srv->mu);
        for (struct iof_http_stream **p = &srv->streams; *p != NULL; p = &(*p)->next) {
            if (*p == s) {
                *p = s->next;
                break;
            }
        }
        pthread_mutex_unlock(&srv->mu);
    }
    pthread_mutex_lock(&s->mu);
    s->gone = true;
    s->conn = NULL;
    s->srv = NULL;
    s->suspended = false;
    bool free_it;
    stream_unref_locked(s, &free_it);
    pthread_mutex_unlock(&s->mu);
    if (free_it) {
        stream_free(s);
    }
}

iof_err iof_http_respond_stream(struct iof_http_request *req,
                                int status,
                                const char *content_type,
                                size_t max_buffer,
                                struct iof_http_stream **out) {
    if (req->answered || req->hold != IOF_HTTP_HOLD_NONE || !req->in_handler) {
        return IOF_ECONFLICT;
    }
    if (status < 200 || status > 999 || max_buffer == 0 ||
        (content_type != NULL && strpbrk(content_type, "\r\n") != NULL)) {
        return IOF_EINVAL;
    }
    struct iof_http_stream *s = calloc(1, sizeof *s);
    if (s == NULL || (s->ring = malloc(max_buffer)) == NULL) {
        free(s);
        return IOF_ENOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->ring);
        free(s);
        return IOF_ENOMEM;
    }
    s->cap = max_buffer;
    s->srv = req->srv;
    s->conn = req->conn;
    s->refs = 2;
    /* 16 KiB blocks: MHD asks for at most this much per call. */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, s, release_from_mhd);
    if (resp == NULL) {
        stream_free(s);
        return IOF_ENOMEM;
    }
    iof_err err = IOF_OK;
    if (content_type != NULL &&
        MHD_add_response_header(resp, "Content-Type", content_type) != MHD_YES) {
        err = IOF_EINVAL;
    }
    if (err == IOF_OK) {
        pthread_mutex_lock(&req->srv->mu);
        s->next = req->srv->streams;
        req->srv->streams = s;
        pthread_mutex_unlock(&req->srv->mu);
        /* On failure MHD destroys the response, which runs release_from_mhd (one reference). */
        err = iof_http_queue(req, status, resp);
    } else {
        MHD_destroy_response(resp);
    }
    if (err != IOF_OK) {
        iof_http_stream_end(s);
        return err;
    }
    *out = s;
    return IOF_OK;
}

iof_err iof_http_stream_write(struct iof_http_stream *s, const void *data, size_t len) {
    if (len > s->cap) {
        return IOF_E2BIG;
    }
    pthread_mutex_lock(&s->mu);
    iof_err err = IOF_OK;
    if (s->gone || s->ended) {
        err = IOF_EIO;
    } else if (s->cap - s->len < len) {
        err = IOF_EBUSY;
    } else {
        size_t tail = (s->head + s->len) % s->cap;
        size_t first = s->cap - tail < len ? s->cap - tail : len;
        memcpy(s->ring + tail, data, first);
        memcpy(s->ring, (const unsigned char *)data + first, len - first);
        s->len += len;
        wake_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

size_t iof_http_stream_buffered(struct iof_http_stream *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->len;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool iof_http_stream_gone(struct iof_http_stream *s) {
    pthread_mutex_lock(&s->mu);
    bool gone = s->gone;
    pthread_mutex_unlock(&s->mu);
    return gone;
}

void iof_http_stream_end(struct iof_http_stream *s) {
    pthread_mutex_lock(&s->mu);
    s->ended = true;
    wake_locked(s);
    bool free_it;
    stream_unref_locked(s, &free_it);
    pthread_mutex_unlock(&s->mu);
    if (free_it) {
        stream_free(s);
    }
}

void iof_http_stream_stop(struct iof_http_server *srv) {
    pthread_mutex_lock(&srv->mu);
    for (struct iof_http_stream *s = srv->streams; s != NULL; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->gone = true;
        wake_locked(s);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&srv->mu);
}
