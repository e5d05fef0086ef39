/* A microservice configuration: the raw JSON text the Controller stored and its parsed form, with
 * typed getters for top-level keys. */
#include "sdk/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct iofog_config {
    char *raw;   /* owned, NUL-terminated */
    json_t *obj; /* owned reference, always an object */
};

IOFOG_API int iofog_config_parse(const char *text, size_t len, struct iofog_config **out) {
    iofog_sdk_clear_error();
    if (text == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "text and out are required");
    }
    struct iofog_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    cfg->raw = malloc(len + 1);
    if (cfg->raw == NULL) {
        free(cfg);
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    memcpy(cfg->raw, text, len);
    cfg->raw[len] = '\0';
    /* The Controller stores "{}" for a microservice without configuration; an empty text is
     * treated the same way. */
    if (len == 0) {
        cfg->obj = json_object();
    } else {
        json_error_t jerr;
        cfg->obj = json_loadb(text, len, 0, &jerr); /* a duplicate key: the last wins */
        if (cfg->obj == NULL) {
            iofog_config_free(cfg);
            return iofog_sdk_fail(IOFOG_EPROTO, 0, "configuration is not JSON: %s", jerr.text);
        }
    }
    if (cfg->obj == NULL) {
        iofog_config_free(cfg);
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    if (!json_is_object(cfg->obj)) {
        iofog_config_free(cfg);
        return iofog_sdk_fail(IOFOG_EPROTO, 0, "configuration is not a JSON object");
    }
    *out = cfg;
    return IOFOG_OK;
}

IOFOG_API void iofog_config_free(struct iofog_config *cfg) {
    if (cfg == NULL) {
        return;
    }
    json_decref(cfg->obj);
    free(cfg->raw);
    free(cfg);
}

IOFOG_API const char *iofog_config_raw(const struct iofog_config *cfg) {
    return cfg != NULL ? cfg->raw : "";
}

IOFOG_API void *iofog_config_json(const struct iofog_config *cfg) {
    return cfg != NULL ? cfg->obj : NULL;
}

/* The value of key, or IOFOG_ENOENT when absent or null. */
static int lookup(const struct iofog_config *cfg, const char *key, void *out, json_t **v) {
    iofog_sdk_clear_error();
    if (cfg == NULL || key == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "cfg, key and out are required");
    }
    *v = json_object_get(cfg->obj, key);
    if (*v == NULL || json_is_null(*v)) {
        return iofog_sdk_fail(IOFOG_ENOENT, 0, "no configuration key '%s'", key);
    }
    return IOFOG_OK;
}

IOFOG_API int
iofog_config_get_string(const struct iofog_config *cfg, const char *key, const char **out) {
    json_t *v = NULL;
    int rc = lookup(cfg, key, out, &v);
    if (rc != IOFOG_OK) {
        return rc;
    }
    if (!json_is_string(v)) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "configuration key '%s' is not a string", key);
    }
    *out = json_string_value(v);
    return IOFOG_OK;
}

IOFOG_API int iofog_config_get_int(const struct iofog_config *cfg, const char *key, int64_t *out) {
    json_t *v = NULL;
    int rc = lookup(cfg, key, out, &v);
    if (rc != IOFOG_OK) {
        return rc;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return IOFOG_OK;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        /* 2^63 is exactly representable; everything below it converts without overflow. */
        if (x == floor(x) && x >= -9223372036854775808.0 && x < 9223372036854775808.0) {
            *out = (int64_t)x;
            return IOFOG_OK;
        }
    }
    return iofog_sdk_fail(IOFOG_EINVAL, 0, "configuration key '%s' is not an integer", key);
}

IOFOG_API int
iofog_config_get_number(const struct iofog_config *cfg, const char *key, double *out) {
    json_t *v = NULL;
    int rc = lookup(cfg, key, out, &v);
    if (rc != IOFOG_OK) {
        return rc;
    }
    if (!json_is_number(v)) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "configuration key '%s' is not a number", key);
    }
    *out = json_number_value(v);
    return IOFOG_OK;
}

IOFOG_API int iofog_config_get_bool(const struct iofog_config *cfg, const char *key, int *out) {
    json_t *v = NULL;
    int rc = lookup(cfg, key, out, &v);
    if (rc != IOFOG_OK) {
        return rc;
    }
    if (!json_is_boolean(v)) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "configuration key '%s' is not a boolean", key);
    }
    *out = json_is_true(v) ? 1 : 0;
    return IOFOG_OK;
}
