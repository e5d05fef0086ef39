/* Image snapshot files: where they live and their removal with their microservice. */
#include "controller/domain/snapshot.h"

#include "common/log.h"
#include "controller/store/db_json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".tar.gz"

iof_err ctl_snapshot_dir(const struct ctl_config *cfg, char *out, size_t size, struct iof_diag *d) {
    int n = snprintf(out, size, "%s/" CTL_SNAPSHOT_DIR, cfg->data_dir);
    if (n < 0 || (size_t)n >= size) {
        return iof_fail(d, IOF_EINVAL, "data directory path too long");
    }
    return IOF_OK;
}

static bool plain_name(const char *s, size_t n) {
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

iof_err ctl_snapshot_path(
    const struct ctl_config *cfg, const char *uuid, char *out, size_t size, struct iof_diag *d) {
    if (uuid == NULL || !plain_name(uuid, strlen(uuid))) {
        return iof_fail(d, IOF_EINVAL, "Invalid microservice UUID");
    }
    int n = snprintf(out, size, "%s/" CTL_SNAPSHOT_DIR "/%s" SUFFIX, cfg->data_dir, uuid);
    if (n < 0 || (size_t)n >= size) {
        return iof_fail(d, IOF_EINVAL, "data directory path too long");
    }
    return IOF_OK;
}

iof_err ctl_snapshot_make_dir(const struct ctl_config *cfg, struct iof_diag *d) {
    char dir[1100];
    iof_err err = ctl_snapshot_dir(cfg, dir, sizeof dir, d);
    if (err != IOF_OK) {
        return err;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return iof_fail(d, IOF_EIO, "cannot create %s: %s", dir, strerror(errno));
    }
    return IOF_OK;
}

iof_err ctl_snapshot_sweep(struct ctl_server *srv, int *removed, struct iof_diag *d) {
    char dir[1100];
    iof_err err = ctl_snapshot_dir(&srv->cfg, dir, sizeof dir, d);
    if (err != IOF_OK) {
        return err;
    }
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        return errno == ENOENT ? IOF_OK
                               : iof_fail(d, IOF_EIO, "cannot read %s: %s", dir, strerror(errno));
    }
    int count = 0;
    struct dirent *e;
    while (err == IOF_OK && (e = readdir(dh)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= sizeof SUFFIX - 1 ||
            strcmp(e->d_name + len - (sizeof SUFFIX - 1), SUFFIX) != 0) {
            continue;
        }
        char uuid[65];
        size_t ulen = len - (sizeof SUFFIX - 1);
        if (!plain_name(e->d_name, ulen)) {
            continue;
        }
        memcpy(uuid, e->d_name, ulen);
        uuid[ulen] = '\0';
        json_t *row = NULL;
        const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid)};
        err = ctl_db_query_json_one(ctl_store_db(srv->store),
                                    "SELECT uuid FROM microservices WHERE uuid = ?",
                                    p,
                                    1,
                                    NULL,
                                    &row,
                                    d);
        json_decref(row);
        if (err == IOF_ENOENT) {
            err = IOF_OK;
            if (unlinkat(dirfd(dh), e->d_name, 0) == 0) {
                count++;
                IOF_INFO("controller", "image_snapshot_removed microservice=%s", uuid);
            } else if (errno != ENOENT) {
                IOF_WARN("controller",
                         "image_snapshot_remove_failed microservice=%s error=%s",
                         uuid,
                         strerror(errno));
            }
        }
    }
    closedir(dh);
    if (err == IOF_OK && removed != NULL) {
        *removed = count;
    }
    return err;
}
