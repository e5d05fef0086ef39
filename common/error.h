/* Error categories shared by every module: one enum, returned by every fallible function.
 *
 * A function that can fail returns iof_err and hands its values back through out-parameters, which
 * are written only on success. The category says what kind of failure it was; the detail travels in
 * an optional struct iof_diag filled by the function that saw the failure, so the place that
 * handles the error can log it once or put it in a response. */
#ifndef IOF_COMMON_ERROR_H
#define IOF_COMMON_ERROR_H

#include <stddef.h>

#define IOF_NODISCARD         __attribute__((warn_unused_result))
#define IOF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

typedef enum iof_err {
    IOF_OK = 0,
    IOF_EINVAL,       /* input from a caller or a peer is malformed or out of range */
    IOF_ENOENT,       /* the thing asked for does not exist */
    IOF_EEXIST,       /* it exists already (duplicate name, key, id) */
    IOF_ECONFLICT,    /* the current state does not allow the operation */
    IOF_EAUTH,        /* not authenticated: missing, wrong or expired credentials */
    IOF_EPERM,        /* authenticated but not allowed */
    IOF_ETIMEOUT,     /* a deadline passed */
    IOF_EBUSY,        /* temporarily unavailable; retrying later may work */
    IOF_ENOMEM,       /* an allocation failed */
    IOF_E2BIG,        /* input or output over a configured size limit */
    IOF_EIO,          /* the operating system or the network failed */
    IOF_EPROTO,       /* a peer broke the protocol (bad frame, bad handshake) */
    IOF_EREMOTE,      /* a remote service answered with an error */
    IOF_EUNSUPPORTED, /* valid but not supported (method, version, feature) */
    IOF_EINTERNAL,    /* a bug or an impossible state */
    IOF_ERR_COUNT
} iof_err;

/* Short human text for a category ("not found"). Never NULL; static storage. */
const char *iof_strerror(iof_err err);

/* Machine name of a category as used in JSON error bodies ("NotFoundError"), following the classic
 * Controller's error classes where one exists. Never NULL; static storage. */
const char *iof_err_name(iof_err err);

/* Detail of a failure, filled by the function that saw it. Fixed size: no allocation on error
 * paths. A NULL struct iof_diag pointer is accepted everywhere and means "caller does not care". */
struct iof_diag {
    char msg[256];
};

/* Formats the detail into d (truncating) and returns err, so a failure reads
 * `return iof_fail(d, IOF_EINVAL, "Invalid format for field '%s'", key);`. */
iof_err iof_fail(struct iof_diag *d, iof_err err, const char *fmt, ...) IOF_PRINTF(3, 4);

/* Clears d (NULL accepted). */
void iof_diag_clear(struct iof_diag *d);

/* The detail text of d, or the category text when d is NULL or empty. Never NULL. */
const char *iof_diag_text(const struct iof_diag *d, iof_err err);

#endif
