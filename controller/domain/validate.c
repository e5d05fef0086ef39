/* Shared validation rules. */
#include "controller/domain/validate.h"

#include "common/imageref.h"
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

bool ctl_has_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return true;
        }
    }
    return false;
}

iof_err ctl_text_check(const char *field, const char *s, struct iof_diag *d) {
    if (s != NULL && ctl_has_control(s)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': control characters are not allowed",
                        field);
    }
    return IOF_OK;
}

iof_err ctl_list_check(const char *field, const json_t *list, struct iof_diag *d) {
    if (list != NULL && json_array_size(list) > CTL_MAX_LIST_ITEMS) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': at most %d entries",
                        field,
                        CTL_MAX_LIST_ITEMS);
    }
    return IOF_OK;
}

iof_err ctl_image_check(const char *field, const char *image, struct iof_diag *d) {
    struct iof_imageref ref;
    struct iof_diag why;
    iof_diag_clear(&why);
    if (iof_imageref_parse(image, &ref, &why) != IOF_OK) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': not a Docker image reference (%s)",
                        field,
                        why.msg);
    }
    return IOF_OK;
}

iof_err ctl_env_key_check(const char *field, const char *key, struct iof_diag *d) {
    if (key == NULL || *key == '\0' || strchr(key, '=') != NULL || ctl_has_control(key)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': an environment variable name must not be "
                        "empty or hold '=' or control characters",
                        field);
    }
    return IOF_OK;
}

iof_err ctl_abs_path_check(const char *field, const char *path, struct iof_diag *d) {
    if (path == NULL || path[0] != '/' || strchr(path, ':') != NULL || ctl_has_control(path) ||
        strlen(path) > CTL_MAX_PATH_LEN) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': an absolute path ('/...') without ':' or "
                        "control characters expected",
                        field);
    }
    return IOF_OK;
}

iof_err ctl_volume_name_check(const char *field, const char *name, struct iof_diag *d) {
    size_t n = name != NULL ? strlen(name) : 0;
    bool ok = n > 0 && n <= 255;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
    }
    if (!ok) {
        return iof_fail(
            d,
            IOF_EINVAL,
            "Invalid format for field '%s': a volume name is [A-Za-z0-9][A-Za-z0-9_.-]*",
            field);
    }
    return IOF_OK;
}

static bool has_space(const char *s) {
    return strpbrk(s, " ") != NULL || ctl_has_control(s);
}

iof_err
ctl_extra_host_check(const char *field, const char *name, const char *address, struct iof_diag *d) {
    if (strchr(name, ':') != NULL || has_space(name)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s.name': a host name without ':', spaces or "
                        "control characters expected",
                        field);
    }
    if (has_space(address)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s.address': an address without spaces or "
                        "control characters expected",
                        field);
    }
    return IOF_OK;
}
