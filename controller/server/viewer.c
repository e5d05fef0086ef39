/* The web console's file server (viewer.h). */
#include "controller/server/viewer.h"

#include "common/json.h"
#include "common/log.h"
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIEWER_MAX_PATH 512 /* longest request path served; the bundle's are under 100 */

struct ctl_viewer {
    struct iof_http_server *http;
    int build_fd; /* <dir>/build, O_PATH directory */
    char version[64];
    char config_js[512]; /* the generated controller-config.js */
    size_t config_js_len;
};

static const char *content_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "application/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* Opens the regular file at rel (segments separated by '/') under dir_fd without following a
 * symbolic link or leaving the directory: -1 with errno ENOENT for anything else. */
static int open_beneath(int dir_fd, const char *rel) {
    char buf[VIEWER_MAX_PATH + 1];
    size_t n = strlen(rel);
    if (n == 0 || n > VIEWER_MAX_PATH) {
        errno = ENOENT;
        return -1;
    }
    memcpy(buf, rel, n + 1);
    int fd = dup(dir_fd);
    char *save = NULL;
    char *seg = strtok_r(buf, "/", &save);
    while (fd >= 0 && seg != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        int nfd = -1;
        if (seg[0] == '.' || strchr(seg, '\\') != NULL) { /* ".", "..", hidden files */
            errno = ENOENT;
        } else if (next != NULL) {
            nfd = openat(fd, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            nfd = openat(fd, seg, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        }
        close(fd);
        fd = nfd;
        seg = next;
    }
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = ENOENT;
    }
    return fd;
}

static iof_err send_file(struct iof_http_request *req, int fd, const char *name) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return IOF_EIO;
    }
    return iof_http_respond_fd(req, 200, content_type(name), fd, (uint64_t)st.st_size);
}

static iof_err h_get(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct ctl_viewer *v = ctx;
    const char *rel = iof_http_param(req, "*");
    if (rel == NULL || *rel == '\0') {
        rel = "index.html";
    }
    if (strcmp(rel, "controller-config.js") == 0) {
        iof_err err = iof_http_set_header(req, "Cache-Control", "no-store");
        return err != IOF_OK ? err
                             : iof_http_respond(req,
                                                200,
                                                "application/javascript; charset=utf-8",
                                                v->config_js,
                                                v->config_js_len);
    }
    int fd = open_beneath(v->build_fd, rel);
    if (fd >= 0) {
        return send_file(req, fd, rel);
    }
    const char *last = strrchr(rel, '/');
    if (strchr(last != NULL ? last : rel, '.') == NULL) { /* a route of the single-page app */
        fd = open_beneath(v->build_fd, "index.html");
        if (fd >= 0) {
            return send_file(req, fd, "index.html");
        }
    }
    return iof_fail(d, IOF_ENOENT, "Not found");
}

/* Reads <dir>/package.json's "version" into v. */
static iof_err read_version(const char *dir, struct ctl_viewer *v, struct iof_diag *d) {
    char path[1100];
    int n = snprintf(path, sizeof path, "%s/package.json", dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        return iof_fail(d, IOF_EINVAL, "viewer directory: path too long");
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return iof_fail(d, IOF_ENOENT, "web console: cannot read %s: %s", path, strerror(errno));
    }
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (len == sizeof buf) {
        return iof_fail(d, IOF_E2BIG, "web console: %s is larger than 64 KiB", path);
    }
    json_t *j = NULL;
    struct iof_diag jd = {{0}};
    const char *version = NULL;
    if (iof_json_parse_object(buf, len, &j, &jd) != IOF_OK ||
        iof_json_get_string(j, "version", IOF_JSON_REQUIRED, &version, &jd) != IOF_OK ||
        strlen(version) >= sizeof v->version) {
        json_decref(j);
        return iof_fail(d, IOF_EINVAL, "web console: %s has no usable version", path);
    }
    memcpy(v->version, version, strlen(version) + 1);
    json_decref(j);
    return IOF_OK;
}

iof_err ctl_viewer_start(const char *dir,
                         const char *bind,
                         uint16_t port,
                         uint16_t api_port,
                         struct ctl_viewer **out,
                         struct iof_diag *d) {
    struct ctl_viewer *v = calloc(1, sizeof *v);
    if (v == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    v->build_fd = -1;
    iof_err err = read_version(dir, v, d);
    char path[1100];
    if (err == IOF_OK) {
        (void)snprintf(path, sizeof path, "%s/build", dir);
        v->build_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int index = v->build_fd >= 0 ? open_beneath(v->build_fd, "index.html") : -1;
        if (index < 0) {
            err = iof_fail(d, IOF_ENOENT, "web console: no %s/index.html", path);
        } else {
            close(index);
        }
    }
    if (err == IOF_OK) {
        /* What the bundle's own controller-config.js holds, with the Controller's port: the
         * viewer calls <page protocol>//<page host>:<port>/api/v3. */
        int n = snprintf(v->config_js,
                         sizeof v->config_js,
                         "window.controllerConfig = {\n"
                         "  port: '%u',\n"
                         "  refresh: 3000,\n"
                         "  user: {\n"
                         "    email: '',\n"
                         "    password: ''\n"
                         "  }\n"
                         "}\n",
                         (unsigned)api_port);
        v->config_js_len = n > 0 ? (size_t)n : 0;
        struct iof_http_config hc = {
            .bind_addr = bind,
            .port = port,
            .threads = 1,
            .connection_timeout_s = 30,
            .max_connections = 256,
            .cors_origin = "", /* pages of its own only */
            .plain_errors = true,
        };
        err = iof_http_server_new(&hc, &v->http);
        if (err == IOF_OK) {
            err = iof_http_server_route(v->http, "GET", "/*", h_get, v);
        }
        if (err == IOF_OK) {
            err = iof_http_server_route(v->http, "HEAD", "/*", h_get, v);
        }
        if (err == IOF_OK) {
            err = iof_http_server_start(v->http);
            if (err == IOF_EBUSY) {
                err = iof_fail(d,
                               err,
                               "web console: port %s:%u is in use (--viewer-port picks another, "
                               "--viewer-port 0 turns the console off)",
                               bind,
                               (unsigned)port);
            } else if (err != IOF_OK) {
                err = iof_fail(d, err, "web console: cannot listen on %s:%u", bind, (unsigned)port);
            }
        } else {
            err = iof_fail(d, err, "web console: cannot create its server");
        }
    }
    if (err != IOF_OK) {
        ctl_viewer_free(v);
        return err;
    }
    IOF_INFO("controller",
             "console bind=%s port=%u version=%s dir=%s",
             bind,
             (unsigned)iof_http_server_port(v->http),
             v->version,
             dir);
    *out = v;
    return IOF_OK;
}

const char *ctl_viewer_version(const struct ctl_viewer *v) {
    return v->version;
}

uint16_t ctl_viewer_port(const struct ctl_viewer *v) {
    return iof_http_server_port(v->http);
}

void ctl_viewer_free(struct ctl_viewer *v) {
    if (v == NULL) {
        return;
    }
    if (v->http != NULL) {
        iof_http_server_stop(v->http);
        iof_http_server_free(v->http);
    }
    if (v->build_fd >= 0) {
        close(v->build_fd);
    }
    free(v);
}
