/* JSON helpers on jansson: parsing as classic ioFog parses, and field access whose errors name
 * the field.
 *
 * Parsing keeps the last value of a duplicate key (as JavaScript's JSON.parse does: classic
 * clients send such bodies), replaces ill-formed UTF-8 with U+FFFD (as the classic servers'
 * decoders do) and rejects NUL characters in strings and trailing garbage. Field getters
 * produce the classic Controller's validation texts ("Required field 'name' is missing",
 * "Invalid format for field 'name'") so those can go straight into an error response. A JSON null
 * counts as absent. Values returned through `const json_t **`/`const char **` are borrowed from
 * the object and live as long as it does. */
#ifndef IOF_COMMON_JSON_H
#define IOF_COMMON_JSON_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iof_json_need {
    IOF_JSON_OPTIONAL = 0, /* absent or null: IOF_OK and *out untouched */
    IOF_JSON_REQUIRED = 1, /* absent or null: IOF_EINVAL */
};

/* Parses len bytes. On success *out is a new reference the caller releases with json_decref.
 * IOF_EINVAL with a message naming the line and column on malformed input. */
IOF_NODISCARD iof_err iof_json_parse(const char *data,
                                     size_t len,
                                     json_t **out,
                                     struct iof_diag *d);

/* Like iof_json_parse; *replaced (may be NULL) is the number of ill-formed UTF-8 sequences
 * replaced with U+FFFD, for callers that count such input. */
IOF_NODISCARD iof_err iof_json_parse_repair(
    const char *data, size_t len, json_t **out, size_t *replaced, struct iof_diag *d);

/* Like iof_json_parse, and the top level must be an object. */
IOF_NODISCARD iof_err iof_json_parse_object(const char *data,
                                            size_t len,
                                            json_t **out,
                                            struct iof_diag *d);

IOF_NODISCARD iof_err iof_json_get_string(const json_t *obj,
                                          const char *key,
                                          enum iof_json_need need,
                                          const char **out,
                                          struct iof_diag *d);

/* Integers; a real with an integral value (3.0) is accepted, as JavaScript clients send those. */
IOF_NODISCARD iof_err iof_json_get_int(
    const json_t *obj, const char *key, enum iof_json_need need, int64_t *out, struct iof_diag *d);

IOF_NODISCARD iof_err iof_json_get_number(
    const json_t *obj, const char *key, enum iof_json_need need, double *out, struct iof_diag *d);

IOF_NODISCARD iof_err iof_json_get_bool(
    const json_t *obj, const char *key, enum iof_json_need need, bool *out, struct iof_diag *d);

IOF_NODISCARD iof_err iof_json_get_object(const json_t *obj,
                                          const char *key,
                                          enum iof_json_need need,
                                          const json_t **out,
                                          struct iof_diag *d);

IOF_NODISCARD iof_err iof_json_get_array(const json_t *obj,
                                         const char *key,
                                         enum iof_json_need need,
                                         const json_t **out,
                                         struct iof_diag *d);

/* Serialises compactly. On success *out is a NUL-terminated string the caller frees with free(),
 * and *len (if not NULL) its length. IOF_ENOMEM on failure. */
IOF_NODISCARD iof_err iof_json_dump(const json_t *value, char **out, size_t *len);

#endif
