/* Running a server in the background: the classic double fork shared by `iofog-controller start`
 * and `iofog-agent start`, with a readiness pipe so the parent reports whether the server came up.
 */
#ifndef IOF_COMMON_DAEMON_H
#define IOF_COMMON_DAEMON_H

#include "common/error.h"

/* Runs the server; writes one byte to ready_fd (then closes it) once it serves, or returns an error
 * without writing. Returns when the server has stopped. */
typedef iof_err (*iof_daemon_serve)(void *ctx, int ready_fd, struct iof_diag *d);

/* Detaches (fork, setsid, fork), sends stdin/stdout to /dev/null and stderr to log_path (appended,
 * mode 0600), writes the daemon's pid to pid_path and runs serve; the daemon removes pid_path and
 * exits when serve returns (status 1, the reason logged, when it failed). In the calling process it
 * returns IOF_OK once serve reported readiness; serve's own error and text when serve failed before
 * that (e.g. IOF_EBUSY "address ... is already in use ..."), so the caller reports the real cause;
 * IOF_EIO (with where to look in d) when the daemon died without a word. IOF_EEXIST without
 * starting anything when pid_path names a live process ("already running as pid N (path)"): a
 * second start never takes over the first one's pid file. */
IOF_NODISCARD iof_err iof_daemonize(const char *log_path,
                                    const char *pid_path,
                                    iof_daemon_serve serve,
                                    void *ctx,
                                    struct iof_diag *d);

#endif
