/* The stored CLI session; see session.h. */
#include "controller/cli/session.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_FILE "controller-session.json"

static iof_err session_dir(char *out, size_t size, struct iof_diag *d) {
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(out, size, "%s/iofog", xdg);
    } else if (home != NULL && home[0] != '\0') {
        n = snprintf(out, size, "%s/.config/iofog", home);
    } else {
        return iof_fail(d, IOF_ENOENT, "neither XDG_CONFIG_HOME nor HOME is set");
    }
    if (n < 0 || (size_t)n >= size) {
        return iof_fail(d, IOF_E2BIG, "the configuration directory's path is too long");
    }
    return IOF_OK;
}

iof_err ctl_cli_session_path(char *out, size_t size, struct iof_diag *d) {
    char dir[900];
    iof_err err = session_dir(dir, sizeof dir, d);
    if (err != IOF_OK) {
        return err;
    }
    int n = snprintf(out, size, "%s/" SESSION_FILE, dir);
    if (n < 0 || (size_t)n >= size) {
        return iof_fail(d, IOF_E2BIG, "the session file's path is too long");
    }
    return IOF_OK;
}

iof_err ctl_cli_url_base(const char *url, char *out, size_t size, struct iof_diag *d) {
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        return iof_fail(d, IOF_EINVAL, "the Controller URL must start with http:// or https://");
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    if (n >= 7 && strncmp(url + n - 7, "/api/v3", 7) == 0) {
        n -= 7;
    }
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    if (n >= size) {
        return iof_fail(d, IOF_E2BIG, "the Controller URL is too long");
    }
    memcpy(out, url, n);
    out[n] = '\0';
    return IOF_OK;
}

static iof_err copy_field(const json_t *root, const char *key, char *out, size_t size) {
    const char *v = json_string_value(json_object_get(root, key));
    if (v == NULL || strlen(v) >= size) {
        return IOF_EINVAL;
    }
    memcpy(out, v, strlen(v) + 1);
    return IOF_OK;
}

iof_err ctl_cli_session_load(struct ctl_cli_session *s, struct iof_diag *d) {
    char path[1024];
    iof_err err = ctl_cli_session_path(path, sizeof path, d);
    if (err != IOF_OK) {
        return err;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (access(path, F_OK) != 0) {
            return iof_fail(d, IOF_ENOENT, "no stored session (%s)", path);
        }
        return iof_fail(d, IOF_EINVAL, "%s is not a session file: %s", path, je.text);
    }
    struct ctl_cli_session tmp;
    memset(&tmp, 0, sizeof tmp);
    if (copy_field(root, "url", tmp.url, sizeof tmp.url) != IOF_OK ||
        copy_field(root, "token", tmp.token, sizeof tmp.token) != IOF_OK ||
        copy_field(root, "email", tmp.email, sizeof tmp.email) != IOF_OK) {
        json_decref(root);
        return iof_fail(d, IOF_EINVAL, "%s lacks url, token or email", path);
    }
    json_decref(root);
    *s = tmp;
    return IOF_OK;
}

iof_err ctl_cli_session_save(const struct ctl_cli_session *s, struct iof_diag *d) {
    char dir[900], path[1024], tmp[1100];
    iof_err err = session_dir(dir, sizeof dir, d);
    if (err != IOF_OK) {
        return err;
    }
    /* ~/.config may not exist yet: create the parent first (0700 as well). */
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            return iof_fail(d, IOF_EIO, "cannot create %s: %s", dir, strerror(errno));
        }
        *slash = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return iof_fail(d, IOF_EIO, "cannot create %s: %s", dir, strerror(errno));
    }
    (void)snprintf(path, sizeof path, "%s/" SESSION_FILE, dir);
    (void)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    json_t *root =
        json_pack("{s:s, s:s, s:s}", "url", s->url, "token", s->token, "email", s->email);
    char *text = root != NULL ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    if (text == NULL) {
        return iof_fail(d, IOF_ENOMEM, "cannot encode the session");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(text);
        return iof_fail(d, IOF_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    free(text);
    if (w != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0) {
        (void)unlink(tmp);
        return iof_fail(d, IOF_EIO, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        (void)unlink(tmp);
        return iof_fail(d, IOF_EIO, "cannot replace %s: %s", path, strerror(errno));
    }
    return IOF_OK;
}

iof_err ctl_cli_session_remove(struct iof_diag *d) {
    char path[1024];
    iof_err err = ctl_cli_session_path(path, sizeof path, d);
    if (err != IOF_OK) {
        return err;
    }
    if (unlink(path) != 0) {
        return errno == ENOENT
                   ? iof_fail(d, IOF_ENOENT, "no stored session (%s)", path)
                   : iof_fail(d, IOF_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    return IOF_OK;
}
