/* Shared validation rules. */
#include "controller/domain/validate.h"

#include "common/random.h"

#include <string.h>

static bool alnum_lower(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool ctl_name_valid(const char *name) {
    if (name == NULL || *name == '\0') {
        return false;
    }
    /* Dot-separated labels; each starts and ends with [a-z0-9] and holds [-a-z0-9] inside. */
    const char *p = name;
    for (;;) {
        const char *end = strchr(p, '.');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 0 || !alnum_lower(p[0]) || !alnum_lower(p[n - 1])) {
            return false;
        }
        for (size_t i = 1; i + 1 < n; i++) {
            if (!alnum_lower(p[i]) && p[i] != '-') {
                return false;
            }
        }
        if (end == NULL) {
            return true;
        }
        p = end + 1;
    }
}

iof_err ctl_name_check(const char *field, const char *name, struct iof_diag *d) {
    if (!ctl_name_valid(name)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': lowercase letters, digits, '-' and '.'; "
                        "must start and end with a letter or digit",
                        field);
    }
    return IOF_OK;
}

iof_err ctl_uuid_new(char out[CTL_UUID_LEN + 1]) {
    return iof_random_string(out, CTL_UUID_LEN, IOF_ALPHABET_FOG_TOKEN);
}
