/* A stored CLI session: the Controller URL and a user token that `iofog-controller login` obtained,
 * kept in $XDG_CONFIG_HOME/iofog/controller-session.json (else ~/.config/iofog/...), mode 0600 in a
 * 0700 directory, so that every later command works from any machine that reaches the Controller.
 * The token is a bearer credential: whoever reads the file acts as the user until it expires or
 * `iofog-controller logout` revokes it. */
#ifndef CTL_CLI_SESSION_H
#define CTL_CLI_SESSION_H

#include "common/error.h"

#include <stddef.h>

struct ctl_cli_session {
    char url[512];   /* base URL, without a trailing slash or /api/v3 */
    char token[256]; /* the user's access token */
    char email[256]; /* who logged in, for messages */
};

/* The session file's path into out. IOF_ENOENT when neither XDG_CONFIG_HOME nor HOME is set,
 * IOF_E2BIG when the path does not fit. */
IOF_NODISCARD iof_err ctl_cli_session_path(char *out, size_t size, struct iof_diag *d);

/* Reads the stored session into *s. IOF_ENOENT when there is none; IOF_EINVAL when the file is
 * not a session (its path is named in d). */
IOF_NODISCARD iof_err ctl_cli_session_load(struct ctl_cli_session *s, struct iof_diag *d);

/* Writes *s atomically (temporary file + rename), creating the directory 0700 and the file 0600. */
IOF_NODISCARD iof_err ctl_cli_session_save(const struct ctl_cli_session *s, struct iof_diag *d);

/* Removes the stored session. IOF_ENOENT when there was none. */
IOF_NODISCARD iof_err ctl_cli_session_remove(struct iof_diag *d);

/* Copies url into out without trailing slashes and without a trailing /api/v3. IOF_EINVAL when it
 * is not an http:// or https:// URL, IOF_E2BIG when it does not fit. */
IOF_NODISCARD iof_err ctl_cli_url_base(const char *url, char *out, size_t size, struct iof_diag *d);

#endif
