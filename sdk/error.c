/* Public error codes and the per-thread detail of the last failure. */
#include "sdk/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Detail of the last failure of a public call on this thread. */
static _Thread_local char last_msg[256];
static _Thread_local long last_status;

void iofog_sdk_clear_error(void) {
    last_msg[0] = '\0';
    last_status = 0;
}

int iofog_sdk_fail(int err, long http_status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_status = http_status;
    return err;
}

static int map_err(iof_err err) {
    switch (err) {
        case IOF_OK: return IOFOG_OK;
        case IOF_ENOMEM: return IOFOG_ENOMEM;
        case IOF_EIO: return IOFOG_EIO;
        case IOF_ETIMEOUT: return IOFOG_ETIMEOUT;
        case IOF_EPROTO: return IOFOG_EPROTO;
        case IOF_EREMOTE: return IOFOG_EREMOTE;
        case IOF_E2BIG: return IOFOG_E2BIG;
        case IOF_ENOENT: return IOFOG_ENOENT;
        case IOF_ECONFLICT: return IOFOG_ESTATE;
        case IOF_EBUSY: return IOFOG_EBUSY;
        case IOF_EUNSUPPORTED: return IOFOG_EUNSUPPORTED;
        case IOF_EINVAL: return IOFOG_EINVAL;
        default: return IOFOG_EPROTO;
    }
}

int iofog_sdk_fail_iof(iof_err err, const struct iof_diag *d) {
    if (err == IOF_OK) {
        return IOFOG_OK;
    }
    /* The HTTP status, when there was one, has been recorded by the caller already. */
    long status = last_status;
    return iofog_sdk_fail(map_err(err), status, "%s", iof_diag_text(d, err));
}

IOFOG_API const char *iofog_strerror(int err) {
    switch (err) {
        case IOFOG_OK: return "ok";
        case IOFOG_EINVAL: return "invalid argument or data";
        case IOFOG_ENOMEM: return "out of memory";
        case IOFOG_EIO: return "agent unreachable or connection lost";
        case IOFOG_ETIMEOUT: return "timed out";
        case IOFOG_EPROTO: return "protocol error";
        case IOFOG_EREMOTE: return "agent answered with an error";
        case IOFOG_E2BIG: return "over a size limit";
        case IOFOG_ENOENT: return "not found";
        case IOFOG_ESTATE: return "not allowed in this state";
        case IOFOG_EBUSY: return "busy, try again";
        case IOFOG_EUNSUPPORTED: return "not supported";
        default: return "unknown error";
    }
}

IOFOG_API const char *iofog_last_error(void) {
    return last_msg;
}

IOFOG_API long iofog_last_http_status(void) {
    return last_status;
}

IOFOG_API const char *iofog_version_string(void) {
    return IOFOG_SDK_VERSION_STRING;
}

IOFOG_API void iofog_free(void *p) {
    free(p);
}
