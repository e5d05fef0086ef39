/* Test helper (tests only, header-only): runs a program with extra environment variables, its
 * stdout and stderr captured together (bounded), its exit code and wall time returned. Bounded in
 * time: a program that runs longer than the limit is killed. */
#ifndef IOF_COMMON_TEST_CMD_H
#define IOF_COMMON_TEST_CMD_H

#include "common/clock.h"

#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_CMD_LIMIT_MS 30000

/* argv: NULL-terminated, argv[0] a path. env: NULL or NULL-terminated "NAME=value" (value "" is
 * set as empty; "NAME" alone unsets NAME). out[size] gets stdout+stderr (NUL-terminated,
 * truncated). *ms (may be NULL) the wall time from fork to exit. Returns the exit code, 128+signal
 * when killed by one, -1 when it could not run, -2 when it outlived TEST_CMD_LIMIT_MS (killed). */
static inline int
test_cmd_run(const char *const *env, char *out, size_t size, int64_t *ms, const char *const *argv) {
    int pipefd[2];
    if (size == 0 || pipe(pipefd) != 0) {
        return -1;
    }
    int64_t start = iof_time_mono_ms();
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq == NULL) {
                (void)unsetenv(env[i]);
            } else {
                char name[128];
                (void)snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
                (void)setenv(name, eq + 1, 1);
            }
        }
        dup2(pipefd[1], STDOUT_FILENO);
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t used = 0;
    int64_t deadline = start + TEST_CMD_LIMIT_MS;
    int rc = 0;
    for (;;) {
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int64_t left = deadline - iof_time_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            rc = -2;
            break;
        }
        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0) {
            break; /* EOF: every writer (a daemon too) closed its end */
        }
        size_t take = (size_t)n < size - 1 - used ? (size_t)n : size - 1 - used;
        memcpy(out + used, buf, take);
        used += take;
    }
    out[used] = '\0';
    close(pipefd[0]);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    if (ms != NULL) {
        *ms = iof_time_mono_ms() - start;
    }
    if (rc != 0) {
        return rc;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline int
test_cmd_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb;
    (void)f;
    (void)(flag == FTW_DP ? rmdir(path) : unlink(path)); /* best effort: go on with the rest */
    return 0;
}

/* Removes dir and everything below it (symbolic links not followed). 0 when dir is gone. */
static inline int test_cmd_rmtree(const char *dir) {
    (void)nftw(dir, test_cmd_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return access(dir, F_OK) == 0 ? -1 : 0;
}

#endif
