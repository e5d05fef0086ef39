/* Upload routes: a request body streamed to an anonymous file (optionally only one part of a
 * multipart/form-data body), the handler's access to that file, and giving it a name. */
#include "common/log.h"
#include "common/random.h"
#include "http/internal.h"
#include "http/multipart.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct iof_http_upload_state {
    int fd;
    char *tmp_name;    /* mkstemp fallback: the file's name until kept or removed; NULL otherwise */
    uint64_t received; /* body bytes, counted against the route's limit */
    uint64_t size;     /* bytes written to the file */
    struct iof_http_multipart_stream *mp; /* NULL for raw bodies */
    iof_err err;                          /* first failure; later bytes are ignored */
    struct iof_diag diag;
    bool kept;
};

static iof_err
write_all(struct iof_http_upload_state *u, const uint8_t *p, size_t n, struct iof_diag *d) {
    while (n > 0) {
        ssize_t w = write(u->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return iof_fail(d, IOF_EIO, "cannot store the upload: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
        u->size += (uint64_t)w;
    }
    return IOF_OK;
}

static iof_err part_sink(void *ctx, const uint8_t *data, size_t len, struct iof_diag *d) {
    return write_all(ctx, data, len, d);
}

/* Gives the disk space back once the file's content can no longer be used. */
static void discard_content(struct iof_http_upload_state *u) {
    if (ftruncate(u->fd, 0) != 0) {
        IOF_WARN("http", "upload_truncate_failed error=%s", strerror(errno));
    }
    u->size = 0;
}

static int open_anonymous(const char *dir, char **tmp_name) {
    *tmp_name = NULL;
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) {
        return fd;
    }
#endif
    size_t n = strlen(dir) + sizeof "/.upload-XXXXXX";
    char *name = malloc(n);
    if (name == NULL) {
        errno = ENOMEM;
        return -1;
    }
    (void)snprintf(name, n, "%s/.upload-XXXXXX", dir);
    int tfd = mkostemp(name, O_CLOEXEC);
    if (tfd < 0) {
        free(name);
        return -1;
    }
    *tmp_name = name;
    return tfd;
}

iof_err iof_http_upload_begin(struct iof_http_request *req, struct iof_diag *d) {
    const struct iof_http_route *rt = req->upload_route;
    struct iof_http_upload_state *u = calloc(1, sizeof *u);
    if (u == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    u->fd = -1;
    if (rt->upload_field != NULL) {
        iof_err err = iof_http_multipart_stream_new(
            iof_http_header(req, "Content-Type"), rt->upload_field, part_sink, u, &u->mp, d);
        if (err != IOF_OK) {
            free(u);
            return err;
        }
    }
    u->fd = open_anonymous(rt->upload_dir, &u->tmp_name);
    if (u->fd < 0) {
        int e = errno;
        iof_http_multipart_stream_free(u->mp);
        free(u);
        char q[300];
        IOF_ERROR("http",
                  "upload_file_failed dir=%s error=%s",
                  iof_log_quote(q, sizeof q, rt->upload_dir),
                  strerror(e));
        return iof_fail(d, IOF_EIO, "cannot store the upload: %s", strerror(e));
    }
    req->upload = u;
    return IOF_OK;
}

bool iof_http_upload_data(struct iof_http_request *req, const void *data, size_t len) {
    struct iof_http_upload_state *u = req->upload;
    u->received += len;
    if (u->received > req->upload_route->upload_max) {
        discard_content(u);
        return false;
    }
    if (u->err != IOF_OK) {
        return true;
    }
    u->err = u->mp != NULL ? iof_http_multipart_stream_feed(u->mp, data, len, &u->diag)
                           : write_all(u, data, len, &u->diag);
    if (u->err != IOF_OK) {
        discard_content(u);
    }
    return true;
}

void iof_http_upload_end(struct iof_http_request *req) {
    struct iof_http_upload_state *u = req->upload;
    if (u->err == IOF_OK && u->mp != NULL) {
        u->err = iof_http_multipart_stream_finish(u->mp, &u->diag);
        if (u->err != IOF_OK) {
            discard_content(u);
        }
    }
}

void iof_http_upload_free(struct iof_http_request *req) {
    struct iof_http_upload_state *u = req->upload;
    if (u == NULL) {
        return;
    }
    if (u->fd >= 0) {
        (void)close(u->fd);
    }
    if (u->tmp_name != NULL) {
        (void)unlink(u->tmp_name);
        free(u->tmp_name);
    }
    iof_http_multipart_stream_free(u->mp);
    free(u);
    req->upload = NULL;
}

iof_err
iof_http_upload_file(struct iof_http_request *req, int *fd, uint64_t *size, struct iof_diag *d) {
    struct iof_http_upload_state *u = req->upload;
    if (u == NULL) {
        return iof_fail(d, IOF_ECONFLICT, "not an upload");
    }
    if (u->err != IOF_OK) {
        if (d != NULL) {
            *d = u->diag;
        }
        return u->err;
    }
    *fd = u->fd;
    *size = u->size;
    return IOF_OK;
}

iof_err iof_http_upload_keep(struct iof_http_request *req, const char *path, struct iof_diag *d) {
    struct iof_http_upload_state *u = req->upload;
    if (u == NULL || u->err != IOF_OK || u->kept) {
        return iof_fail(d, IOF_ECONFLICT, "no upload to keep");
    }
    if (u->tmp_name != NULL) {
        if (rename(u->tmp_name, path) != 0) {
            return iof_fail(d, IOF_EIO, "cannot store the upload as %s: %s", path, strerror(errno));
        }
        free(u->tmp_name);
        u->tmp_name = NULL;
        u->kept = true;
        return IOF_OK;
    }
    /* An O_TMPFILE file gets a name through /proc (linkat with AT_EMPTY_PATH would need
     * CAP_DAC_READ_SEARCH); linkat never replaces, so it is linked under a fresh name first and
     * renamed over path. */
    char proc[64], tmp[4200];
    (void)snprintf(proc, sizeof proc, "/proc/self/fd/%d", u->fd);
    for (int attempt = 0; attempt < 4; attempt++) {
        char suffix[17];
        if (iof_random_string(suffix, 16, IOF_ALPHABET_ALNUM) != IOF_OK) {
            return iof_fail(d, IOF_EIO, "no randomness for a file name");
        }
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.%s.tmp", path, suffix) >= sizeof tmp) {
            return iof_fail(d, IOF_EINVAL, "path too long");
        }
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) {
            if (rename(tmp, path) != 0) {
                int e = errno;
                (void)unlink(tmp);
                return iof_fail(d, IOF_EIO, "cannot store the upload as %s: %s", path, strerror(e));
            }
            u->kept = true;
            return IOF_OK;
        }
        if (errno != EEXIST) {
            return iof_fail(d, IOF_EIO, "cannot store the upload as %s: %s", path, strerror(errno));
        }
    }
    return iof_fail(d, IOF_EIO, "cannot store the upload as %s: no free temporary name", path);
}
