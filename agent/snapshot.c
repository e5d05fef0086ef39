/* Image snapshots (agent.md §3, isImageSnapshot): when the Controller asks for the image of one of
 * this node's microservices, the agent exports the image its container runs (docker save),
 * gzips it into a temporary file and uploads it as the multipart part "upstream" of
 * PUT agent/image-snapshot, as the classic agent does. The work runs on a thread of its own so
 * that a big image never holds up the sync of configuration changes. */
#include "agent/snapshot.h"

#include "agent/engine/docker.h"
#include "agent/upstream.h"
#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Requests served in one run of the thread at most; a Controller that keeps the request pending
 * after a successful upload cannot keep it busy forever. */
#define MAX_PER_RUN 16

struct agent_snapshot {
    struct agent_snapshot_deps deps;
    pthread_mutex_t mu; /* guards the fields below */
    bool stopping;
    pthread_t thread; /* valid while started */
    bool started, running, again;
};

/* Shutdown asked, by the daemon (cancel) or by agent_snapshot_free. */
static bool stopping(struct agent_snapshot *s) {
    pthread_mutex_lock(&s->mu);
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return stop || atomic_load(s->deps.cancel);
}

struct gz_sink {
    struct agent_snapshot *s;
    gzFile gz;
    uint64_t in_bytes;
    bool write_failed;
};

static bool on_tar_chunk(void *ctx, const char *data, size_t len) {
    struct gz_sink *g = ctx;
    if (stopping(g->s)) {
        return false;
    }
    while (len > 0) {
        unsigned part = len > (1u << 20) ? 1u << 20 : (unsigned)len;
        if (gzwrite(g->gz, data, part) != (int)part) {
            g->write_failed = true;
            return false;
        }
        data += part;
        len -= part;
        g->in_bytes += part;
    }
    return true;
}

/* The image reference the container of uuid was created from. */
static iof_err container_image(
    struct agent_docker *k, const char *uuid, char *ref, size_t size, struct iof_diag *d) {
    char name[96];
    (void)snprintf(name, sizeof name, "iofog_%s", uuid);
    json_t *info = NULL;
    iof_err err = agent_docker_inspect(k, name, &info, d);
    if (err == IOF_ENOENT) {
        return iof_fail(d, IOF_ENOENT, "microservice %s has no container on this node", uuid);
    }
    if (err != IOF_OK) {
        return err;
    }
    const char *image =
        json_string_value(json_object_get(json_object_get(info, "Config"), "Image"));
    if (image == NULL || image[0] == '\0') {
        image = json_string_value(json_object_get(info, "Image"));
    }
    if (image == NULL || strlen(image) >= size) {
        json_decref(info);
        return iof_fail(d, IOF_EPROTO, "container %s names no usable image", name);
    }
    memcpy(ref, image, strlen(image) + 1);
    json_decref(info);
    return IOF_OK;
}

/* Exports the image of uuid's container into a new file under dir; *path gets its name. */
static iof_err export_image(struct agent_snapshot *s,
                            struct agent_docker *k,
                            const char *dir,
                            const char *uuid,
                            char *path,
                            size_t path_size,
                            uint64_t *tar_bytes,
                            struct iof_diag *d) {
    char ref[512];
    iof_err err = container_image(k, uuid, ref, sizeof ref, d);
    if (err != IOF_OK) {
        return err;
    }
    if (snprintf(path, path_size, "%s/image-snapshot-XXXXXX", dir) >= (int)path_size) {
        return iof_fail(d, IOF_EINVAL, "config directory path too long");
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        return iof_fail(d, IOF_EIO, "cannot create a file in %s: %s", dir, strerror(errno));
    }
    (void)fchmod(fd, 0600);
    /* Level 6 as gzip's default: the export is I/O bound at lower levels and gains little at
     * higher ones on layer tarballs. */
    gzFile gz = gzdopen(fd, "wb6");
    if (gz == NULL) {
        close(fd);
        (void)unlink(path);
        return iof_fail(d, IOF_ENOMEM, "cannot start gzip");
    }
    struct gz_sink sink = {.s = s, .gz = gz};
    err = agent_docker_image_save(k, ref, on_tar_chunk, &sink, d);
    int zrc = gzclose(gz);
    if (err == IOF_OK && zrc != Z_OK) {
        err = iof_fail(d, IOF_EIO, "cannot write the snapshot file %s", path);
    } else if (err != IOF_OK && sink.write_failed) {
        err = iof_fail(d, IOF_EIO, "cannot write the snapshot file %s (disk full?)", path);
    }
    if (err != IOF_OK) {
        (void)unlink(path);
        return err;
    }
    *tar_bytes = sink.in_bytes;
    return IOF_OK;
}

/* The microservice whose snapshot the Controller wants next. IOF_ENOENT when none is pending. */
static iof_err next_request(struct agent_upstream *u,
                            const struct agent_config *c,
                            char uuid[65],
                            struct iof_diag *d) {
    json_t *answer = NULL;
    iof_err err = agent_upstream_call(
        u, c->controller_url, c->access_token, "GET", "agent/image-snapshot", NULL, &answer, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *id = json_string_value(json_object_get(answer, "uuid"));
    if (id == NULL || strlen(id) > 64) {
        err = iof_fail(d, IOF_EPROTO, "image-snapshot answer without a microservice uuid");
    } else {
        memcpy(uuid, id, strlen(id) + 1);
    }
    json_decref(answer);
    return err;
}

/* Exports the image of uuid's container and uploads it. */
static iof_err serve_one(struct agent_snapshot *s,
                         struct agent_upstream *u,
                         struct agent_docker *k,
                         const struct agent_config *c,
                         const char *uuid,
                         struct iof_diag *d) {
    int64_t t0 = iof_time_mono_ms();
    char path[600];
    uint64_t tar_bytes = 0;
    iof_err err = export_image(s, k, c->config_dir, uuid, path, sizeof path, &tar_bytes, d);
    if (err != IOF_OK) {
        return err;
    }
    struct stat st;
    uint64_t gz_bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    char filename[80];
    (void)snprintf(filename, sizeof filename, "%s.tar.gz", uuid);
    err = agent_upstream_upload(u,
                                c->controller_url,
                                c->access_token,
                                "PUT",
                                "agent/image-snapshot",
                                "upstream",
                                path,
                                filename,
                                "application/zip",
                                d);
    (void)unlink(path);
    if (err == IOF_OK) {
        IOF_INFO("agent",
                 "image_snapshot_uploaded microservice=%s tar_bytes=%llu gz_bytes=%llu ms=%lld",
                 uuid,
                 (unsigned long long)tar_bytes,
                 (unsigned long long)gz_bytes,
                 (long long)(iof_time_mono_ms() - t0));
    }
    return err;
}

static void serve_all(struct agent_snapshot *s) {
    struct agent_config c;
    s->deps.config(s->deps.ctx, &c);
    struct agent_upstream *u = NULL;
    struct agent_docker *k = NULL;
    struct iof_diag d = {{0}};
    /* No whole-request limit: an image of some hundred MB takes a while to upload. */
    if (agent_upstream_new_cancellable(0, c.controller_cert, s->deps.cancel, &u) != IOF_OK ||
        agent_docker_new(c.docker_url, 0, &k, &d) != IOF_OK) {
        IOF_ERROR("agent", "image_snapshot_failed reason=\"cannot create clients\"");
        agent_upstream_free(u);
        return;
    }
    for (int i = 0; i < MAX_PER_RUN; i++) {
        char uuid[65];
        memset(&d, 0, sizeof d);
        iof_err err = next_request(u, &c, uuid, &d);
        if (err == IOF_ENOENT) {
            break;
        }
        if (err != IOF_OK) { /* the Controller is unreachable, or we are stopping */
            IOF_ERROR("agent", "image_snapshot_failed reason=\"%s\"", iof_diag_text(&d, err));
            break;
        }
        err = serve_one(s, u, k, &c, uuid, &d);
        if (err != IOF_OK) {
            /* It stays pending in the Controller, which would name it again at once: the run
             * ends here rather than trying it over and over. */
            IOF_ERROR("agent",
                      "image_snapshot_failed microservice=%s reason=\"%s\"",
                      uuid,
                      iof_diag_text(&d, err));
            break;
        }
    }
    agent_docker_free(k);
    agent_upstream_free(u);
}

static void *snapshot_main(void *arg) {
    struct agent_snapshot *s = arg;
    for (;;) {
        serve_all(s);
        pthread_mutex_lock(&s->mu);
        bool again = s->again && !s->stopping && !atomic_load(s->deps.cancel);
        s->again = false;
        if (!again) {
            s->running = false;
        }
        pthread_mutex_unlock(&s->mu);
        if (!again) {
            return NULL;
        }
    }
}

iof_err agent_snapshot_new(const struct agent_snapshot_deps *deps, struct agent_snapshot **out) {
    struct agent_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return IOF_ENOMEM;
    }
    s->deps = *deps;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return IOF_OK;
}

void agent_snapshot_request(struct agent_snapshot *s) {
    if (stopping(s)) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->running) {
        s->again = true; /* the running thread looks once more before it ends */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    bool join = s->started;
    pthread_t old = s->thread;
    s->running = true;
    s->started = false;
    pthread_mutex_unlock(&s->mu);
    if (join) {
        pthread_join(old, NULL); /* finished: it cleared running as its last step */
    }
    pthread_t t;
    bool ok = pthread_create(&t, NULL, snapshot_main, s) == 0;
    pthread_mutex_lock(&s->mu);
    if (ok) {
        s->thread = t;
        s->started = true;
    } else {
        s->running = false;
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        IOF_ERROR("agent", "image_snapshot_failed reason=\"cannot start a thread\"");
    }
}

void agent_snapshot_free(struct agent_snapshot *s) {
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    bool join = s->started;
    s->started = false;
    pthread_t t = s->thread;
    pthread_mutex_unlock(&s->mu);
    if (join) {
        pthread_join(t, NULL);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}
