/* Change flags. */
#include "controller/changes.h"

#include "controller/store/db_json.h"

#include <jansson.h>

iof_err
ctl_changes_raise(struct ctl_server *srv, const char *fog_uuid, uint32_t mask, struct iof_diag *d) {
    if (fog_uuid == NULL || *fog_uuid == '\0' || mask == 0) {
        return IOF_OK; /* nothing placed, nothing to tell */
    }
    return ctl_store_flags_raise(srv->store, fog_uuid, mask, NULL, d);
}

iof_err ctl_changes_raise_user_nodes(struct ctl_server *srv,
                                     int64_t user_id,
                                     uint32_t mask,
                                     struct iof_diag *d) {
    json_t *rows = NULL;
    const struct ctl_db_value p[] = {CTL_DB_INT(user_id)};
    iof_err err = ctl_db_query_json(
        ctl_store_db(srv->store), "SELECT uuid FROM fogs WHERE user_id = ?", p, 1, &rows, d);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (err == IOF_OK) {
            err = ctl_changes_raise(srv, json_string_value(json_object_get(row, "uuid")), mask, d);
        }
    }
    json_decref(rows);
    return err;
}
