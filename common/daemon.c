/* The background start shared by the Controller and the Agent; see daemon.h. */
#include "common/daemon.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The readiness pipe carries one of: READY_BYTE (serve is up); FAIL_BYTE, the iof_err as one
 * byte, then the reason's text (serve failed); nothing (the daemon died first). */
#define READY_BYTE '1'
#define FAIL_BYTE  'E'

/* The command name of a process ("" when /proc does not say). */
static void comm_of(const char *pid, char *out, size_t size) {
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/%s/comm", pid);
    FILE *f = fopen(path, "re");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)size, f) == NULL) {
            out[0] = '\0';
        }
        out[strcspn(out, "\n")] = '\0';
        fclose(f);
    }
}

/* The pid in pid_path when that process is alive and runs this program (a pid file left by a
 * crash may name a pid reused by something else), else 0. */
static long live_pid(const char *pid_path) {
    FILE *f = fopen(pid_path, "re");
    long pid = 0;
    if (f == NULL) {
        return 0;
    }
    bool ok =
        fscanf(f, "%ld", &pid) == 1 && pid > 1 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    fclose(f);
    if (ok) {
        char num[32], theirs[64], ours[64];
        (void)snprintf(num, sizeof num, "%ld", pid);
        comm_of(num, theirs, sizeof theirs);
        comm_of("self", ours, sizeof ours);
        ok = theirs[0] == '\0' || ours[0] == '\0' || strcmp(theirs, ours) == 0;
    }
    return ok ? pid : 0;
}

/* In the calling process: waits for the daemon's word on fd. */
static iof_err read_outcome(int fd, const char *log_path, struct iof_diag *d) {
    char buf[2 + sizeof d->msg];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
        if (buf[0] == READY_BYTE) {
            return IOF_OK; /* the daemon keeps its end open while it runs: do not wait for EOF */
        }
    }
    buf[n] = '\0';
    if (n >= 2 && buf[0] == FAIL_BYTE && buf[1] > IOF_OK && buf[1] < IOF_ERR_COUNT) {
        iof_err err = (iof_err)buf[1];
        return n > 2 ? iof_fail(d, err, "%s", buf + 2)
                     : iof_fail(d, err, "it did not start; see %s", log_path);
    }
    return iof_fail(d, IOF_EIO, "it did not start; see %s", log_path);
}

iof_err iof_daemonize(const char *log_path,
                      const char *pid_path,
                      iof_daemon_serve serve,
                      void *ctx,
                      struct iof_diag *d) {
    long running = live_pid(pid_path);
    if (running != 0) {
        return iof_fail(d, IOF_EEXIST, "already running as pid %ld (%s)", running, pid_path);
    }
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
        iof_err err = read_outcome(pipefd[0], log_path, d);
        close(pipefd[0]);
        (void)waitpid(pid, NULL, 0);
        return err;
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
    /* serve gets its own descriptor for the ready byte (and may close it); this one stays for the
     * failure report, written after serve returned. */
    int ready_fd = fcntl(pipefd[1], F_DUPFD_CLOEXEC, 0);
    FILE *f = ready_fd >= 0 ? fopen(pid_path, "we") : NULL;
    if (ready_fd < 0) {
        err = iof_fail(&dd, IOF_EIO, "cannot duplicate the readiness pipe: %s", strerror(errno));
    } else if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        err = iof_fail(&dd, IOF_EIO, "cannot write %s", pid_path);
    } else {
        err = serve(ctx, ready_fd, &dd);
        (void)unlink(pid_path);
    }
    if (err != IOF_OK) {
        IOF_ERROR("daemon", "start_failed error=\"%s\"", iof_diag_text(&dd, err));
        /* Nobody reads once the daemon reported readiness: ignore EPIPE then. */
        signal(SIGPIPE, SIG_IGN);
        char report[2 + sizeof dd.msg];
        int n = snprintf(report, sizeof report, "%c%c%s", FAIL_BYTE, (char)err, dd.msg);
        if (n > 0) {
            (void)!write(pipefd[1], report, (size_t)n < sizeof report ? (size_t)n : sizeof report);
        }
    }
    _exit(err == IOF_OK ? 0 : 1);
}
