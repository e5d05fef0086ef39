/* Runs the iofog-controller binary from tests against a server started with api_testutil.h
 * (tests only, header-only): fork + exec with --port and --data-dir of the fixture appended,
 * stdout captured (bounded), exit status returned. */
#ifndef CTL_CLI_TESTUTIL_H
#define CTL_CLI_TESTUTIL_H

#include "common/clock.h"
#include "controller/api/api_testutil.h"

#include <signal.h>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLI_BINARY IOFOG_BINARY_DIR "/controller/iofog-controller"

/* Runs CLI_BINARY args... (NULL-terminated) plus "--port P --data-dir D" when with_target.
 * out[size] receives stdout (NUL-terminated, truncated). Returns the exit code, -1 on failure
 * to run, -2 on a 20 s timeout (the child is killed). */
static inline int cli_run(struct api_fixture *f, bool with_target, char *out, size_t size, ...) {
    char *argv[40];
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t)CLI_BINARY;
    va_list ap;
    va_start(ap, size);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 34) {
        argv[argc++] = (char *)(uintptr_t)a;
    }
    va_end(ap);
    char port[16];
    (void)snprintf(port, sizeof port, "%u", (unsigned)f->port);
    char p_flag[] = "--port", d_flag[] = "--data-dir";
    if (with_target) {
        argv[argc++] = p_flag;
        argv[argc++] = port;
        argv[argc++] = d_flag;
        argv[argc++] = f->dir;
    }
    argv[argc] = NULL;
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t used = 0;
    int64_t deadline = iof_time_mono_ms() + 20000;
    for (;;) {
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int64_t left = deadline - iof_time_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            (void)waitpid(pid, NULL, 0);
            close(pipefd[0]);
            return -2;
        }
        char buf[4096];
        ssize_t n = read(pipefd[0], buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        size_t take = (size_t)n < size - 1 - used ? (size_t)n : size - 1 - used;
        memcpy(out + used, buf, take);
        used += take;
    }
    out[used] = '\0';
    close(pipefd[0]);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
