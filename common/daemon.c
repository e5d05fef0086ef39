/* The background start shared by the Controller and the Agent; see daemon.h. */
#include "common/daemon.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

iof_err iof_daemonize(const char *log_path,
                      const char *pid_path,
                      iof_daemon_serve serve,
                      void *ctx,
                      struct iof_diag *d) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        return iof_fail(d, IOF_EIO, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return iof_fail(d, IOF_EIO, "fork: %s", strerror(errno));
    }
    if (pid > 0) {
        close(pipefd[1]);
        char c;
        ssize_t n = read(pipefd[0], &c, 1); /* EOF without a byte: the daemon failed */
        close(pipefd[0]);
        (void)waitpid(pid, NULL, 0);
        return n == 1 ? IOF_OK : iof_fail(d, IOF_EIO, "it did not start; see %s", log_path);
    }
    close(pipefd[0]);
    if (setsid() < 0 || fork() != 0) {
        _exit(0); /* the first child exits; the grandchild is the daemon */
    }
    int null_fd = open("/dev/null", O_RDWR);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
    }
    if (log_fd >= 0) {
        dup2(log_fd, STDERR_FILENO);
    }
    struct iof_diag dd = {{0}};
    iof_err err = IOF_OK;
    FILE *f = fopen(pid_path, "we");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        err = iof_fail(&dd, IOF_EIO, "cannot write %s", pid_path);
    } else {
        err = serve(ctx, pipefd[1], &dd);
        (void)unlink(pid_path);
    }
    if (err != IOF_OK) {
        IOF_ERROR("daemon", "start_failed error=\"%s\"", iof_diag_text(&dd, err));
    }
    _exit(err == IOF_OK ? 0 : 1);
}
