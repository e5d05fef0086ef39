/* Error category names and the diagnostic helper. */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *text;
    const char *name;
} errs[IOF_ERR_COUNT] = {
    [IOF_OK] = {"ok", "Ok"},
    [IOF_EINVAL] = {"invalid input", "ValidationError"},
    [IOF_ENOENT] = {"not found", "NotFoundError"},
    [IOF_EEXIST] = {"already exists", "DuplicatePropertyError"},
    [IOF_ECONFLICT] = {"conflict with current state", "ConflictError"},
    [IOF_EAUTH] = {"authentication failed", "AuthenticationError"},
    [IOF_EPERM] = {"permission denied", "ForbiddenError"},
    [IOF_ETIMEOUT] = {"timed out", "TimeoutError"},
    [IOF_EBUSY] = {"temporarily unavailable", "ServiceUnavailableError"},
    [IOF_ENOMEM] = {"out of memory", "InternalServerError"},
    [IOF_E2BIG] = {"too large", "PayloadTooLargeError"},
    [IOF_EIO] = {"input/output error", "InternalServerError"},
    [IOF_EPROTO] = {"protocol error", "ProtocolError"},
    [IOF_EREMOTE] = {"remote error", "RemoteError"},
    [IOF_EUNSUPPORTED] = {"not supported", "NotSupportedError"},
    [IOF_EINTERNAL] = {"internal error", "InternalServerError"},
};

const char *iof_strerror(iof_err err) {
    if ((unsigned)err >= IOF_ERR_COUNT) {
        return "unknown error";
    }
    return errs[err].text;
}

const char *iof_err_name(iof_err err) {
    if ((unsigned)err >= IOF_ERR_COUNT) {
        return "InternalServerError";
    }
    return errs[err].name;
}

iof_err iof_fail(struct iof_diag *d, iof_err err, const char *fmt, ...) {
    if (d != NULL) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

void iof_diag_clear(struct iof_diag *d) {
    if (d != NULL) {
        d->msg[0] = '\0';
    }
}

const char *iof_diag_text(const struct iof_diag *d, iof_err err) {
    if (d != NULL && d->msg[0] != '\0') {
        return d->msg;
    }
    return iof_strerror(err);
}
