/* Query results as JSON, for the REST handlers: each row becomes an object whose keys are the
 * column names (write them as the API's camelCase keys with SQL aliases). A column name may end in
 * a type tag that is removed from the key:
 *   "isPublic:bool"   an integer 0/1 -> false/true
 *   "tags:json"       text holding JSON -> that JSON value (text that does not parse stays text)
 *   "createdAt:iso"   ms since the epoch -> ISO-8601 UTC text ("...Z")
 * Untagged columns map by SQL type: integer, real, text, NULL -> null (blobs become null). */
#ifndef CTL_STORE_DB_JSON_H
#define CTL_STORE_DB_JSON_H

#include "controller/store/db.h"

#include <jansson.h>

/* All rows as a new JSON array (caller releases with json_decref). */
IOF_NODISCARD iof_err ctl_db_query_json(struct ctl_db *db,
                                        const char *sql,
                                        const struct ctl_db_value *params,
                                        size_t n_params,
                                        json_t **out,
                                        struct iof_diag *d);

/* The first row as a new JSON object; IOF_ENOENT (with not_found as the message) when there is
 * none. */
IOF_NODISCARD iof_err ctl_db_query_json_one(struct ctl_db *db,
                                            const char *sql,
                                            const struct ctl_db_value *params,
                                            size_t n_params,
                                            const char *not_found,
                                            json_t **out,
                                            struct iof_diag *d);

#endif
