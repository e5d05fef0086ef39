/* Test helper for the store tests: a private temporary directory (mkdtemp under $TMPDIR or /tmp)
 * and its removal with the files in it (database, -wal, -shm). Header-only; tests only. */
#ifndef CTL_STORE_TEST_TMPDIR_H
#define CTL_STORE_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates the directory; its path goes into dir[size]. Returns 0 on success. */
static inline int test_tmpdir_make(char *dir, size_t size) {
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    if ((size_t)snprintf(dir, size, "%s/iofog-store-test.XXXXXX", base) >= size) {
        return -1;
    }
    return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Writes "<dir>/<name>" into out[size]. */
static inline const char *
test_tmpdir_path(char *out, size_t size, const char *dir, const char *name) {
    (void)snprintf(out, size, "%s/%s", dir, name);
    return out;
}

/* Removes the files directly in dir, then dir. Returns 0 when dir is gone. */
static inline int test_tmpdir_remove(const char *dir) {
    DIR *dp = opendir(dir);
    if (dp != NULL) {
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char path[4096];
            (void)snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            (void)unlink(path);
        }
        closedir(dp);
    }
    return rmdir(dir);
}

#endif
