/* Change tracking in its bounded form: one fog_changes row per node with a version counter and,
 * per classic change flag, the version at which it was last raised (see store.h). Each operation
 * is a single statement, so it is atomic without a transaction of its own. */
#include "controller/store/store.h"

#include "common/clock.h"
#include "controller/store/store_internal.h"

#include <stdio.h>

/* Column i of fog_changes holds the flag of bit i; flag_keys[i] is its classic JSON key. */
static const char *const flag_keys[CTL_FLAG_COUNT] = {
    "config",
    "version",
    "reboot",
    "deleteNode",
    "microserviceList",
    "microserviceConfig",
    "routing",
    "registries",
    "tunnel",
    "diagnostics",
    "isImageSnapshot",
    "prune",
    "linkedEdgeResources",
    "routerChanged",
};

/* On a raise, a flag whose inserted value is 1 takes the new version; the others keep theirs. */
static const char SQL_RAISE[] =
    "INSERT INTO fog_changes (fog_uuid, version, raised_at,"
    " flag_config, flag_version, flag_reboot, flag_delete_node, flag_microservice_list,"
    " flag_microservice_config, flag_routing, flag_registries, flag_tunnel, flag_diagnostics,"
    " flag_image_snapshot, flag_prune, flag_linked_edge_resources, flag_router_changed)"
    " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (fog_uuid) DO UPDATE SET"
    " version = fog_changes.version + 1,"
    " raised_at = excluded.raised_at,"
    " flag_config = CASE WHEN excluded.flag_config <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_config END,"
    " flag_version = CASE WHEN excluded.flag_version <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_version END,"
    " flag_reboot = CASE WHEN excluded.flag_reboot <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_reboot END,"
    " flag_delete_node = CASE WHEN excluded.flag_delete_node <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_delete_node END,"
    " flag_microservice_list = CASE WHEN excluded.flag_microservice_list <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_microservice_list END,"
    " flag_microservice_config = CASE WHEN excluded.flag_microservice_config <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_microservice_config END,"
    " flag_routing = CASE WHEN excluded.flag_routing <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_routing END,"
    " flag_registries = CASE WHEN excluded.flag_registries <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_registries END,"
    " flag_tunnel = CASE WHEN excluded.flag_tunnel <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_tunnel END,"
    " flag_diagnostics = CASE WHEN excluded.flag_diagnostics <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_diagnostics END,"
    " flag_image_snapshot = CASE WHEN excluded.flag_image_snapshot <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_image_snapshot END,"
    " flag_prune = CASE WHEN excluded.flag_prune <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_prune END,"
    " flag_linked_edge_resources = CASE WHEN excluded.flag_linked_edge_resources <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_linked_edge_resources END,"
    " flag_router_changed = CASE WHEN excluded.flag_router_changed <> 0"
    " THEN fog_changes.version + 1 ELSE fog_changes.flag_router_changed END"
    " RETURNING version";

static const char SQL_GET[] =
    "SELECT c.version,"
    " c.flag_config, c.flag_version, c.flag_reboot, c.flag_delete_node,"
    " c.flag_microservice_list, c.flag_microservice_config, c.flag_routing, c.flag_registries,"
    " c.flag_tunnel, c.flag_diagnostics, c.flag_image_snapshot, c.flag_prune,"
    " c.flag_linked_edge_resources, c.flag_router_changed"
    " FROM fogs f LEFT JOIN fog_changes c ON c.fog_uuid = f.uuid WHERE f.uuid = ?";

/* A flag raised at or before the acknowledged version (each ? is that version) is cleared. */
static const char SQL_ACK[] =
    "UPDATE fog_changes SET"
    " flag_config = CASE WHEN flag_config <= ? THEN 0 ELSE flag_config END,"
    " flag_version = CASE WHEN flag_version <= ? THEN 0 ELSE flag_version END,"
    " flag_reboot = CASE WHEN flag_reboot <= ? THEN 0 ELSE flag_reboot END,"
    " flag_delete_node = CASE WHEN flag_delete_node <= ? THEN 0 ELSE flag_delete_node END,"
    " flag_microservice_list = CASE WHEN flag_microservice_list <= ? THEN 0 ELSE "
    "flag_microservice_list END,"
    " flag_microservice_config = CASE WHEN flag_microservice_config <= ? THEN 0 ELSE "
    "flag_microservice_config END,"
    " flag_routing = CASE WHEN flag_routing <= ? THEN 0 ELSE flag_routing END,"
    " flag_registries = CASE WHEN flag_registries <= ? THEN 0 ELSE flag_registries END,"
    " flag_tunnel = CASE WHEN flag_tunnel <= ? THEN 0 ELSE flag_tunnel END,"
    " flag_diagnostics = CASE WHEN flag_diagnostics <= ? THEN 0 ELSE flag_diagnostics END,"
    " flag_image_snapshot = CASE WHEN flag_image_snapshot <= ? THEN 0 ELSE flag_image_snapshot END,"
    " flag_prune = CASE WHEN flag_prune <= ? THEN 0 ELSE flag_prune END,"
    " flag_linked_edge_resources = CASE WHEN flag_linked_edge_resources <= ? THEN 0 ELSE "
    "flag_linked_edge_resources END,"
    " flag_router_changed = CASE WHEN flag_router_changed <= ? THEN 0 ELSE flag_router_changed END"
    " WHERE fog_uuid = ?";

static const char SQL_FOG_EXISTS[] = "SELECT 1 FROM fogs WHERE uuid = ?";

const char *ctl_store_flag_key(unsigned i) {
    return i < CTL_FLAG_COUNT ? flag_keys[i] : NULL;
}

static iof_err read_version(void *ctx, const struct ctl_db_row *row) {
    *(int64_t *)ctx = ctl_db_row_int(row, 0);
    return IOF_OK;
}

iof_err ctl_store_flags_raise(struct ctl_store *store,
                              const char *fog_uuid,
                              uint32_t mask,
                              int64_t *new_version,
                              struct iof_diag *d) {
    if (fog_uuid == NULL || mask == 0 || (mask & ~CTL_FLAG_ALL) != 0) {
        return iof_fail(d, IOF_EINVAL, "store: no node or an invalid flag mask 0x%x", mask);
    }
    struct ctl_db_value p[2 + CTL_FLAG_COUNT];
    p[0] = CTL_DB_TEXT(fog_uuid);
    p[1] = CTL_DB_INT(iof_time_now_ms());
    for (unsigned i = 0; i < CTL_FLAG_COUNT; i++) {
        p[2 + i] = CTL_DB_BOOL(mask & (1u << i));
    }
    int64_t version = 0;
    struct iof_diag inner;
    iof_diag_clear(&inner);
    iof_err err = ctl_db_exec(
        store->db, SQL_RAISE, p, 2 + CTL_FLAG_COUNT, read_version, &version, NULL, &inner);
    if (err == IOF_ECONFLICT) {
        return iof_fail(d, IOF_ENOENT, "Invalid ioFog UUID %s", fog_uuid);
    }
    if (err != IOF_OK) {
        return iof_fail(d, err, "%s", iof_diag_text(&inner, err));
    }
    if (new_version != NULL) {
        *new_version = version;
    }
    return IOF_OK;
}

struct flags_read {
    bool found;
    int64_t version;
    uint32_t mask;
};

static iof_err read_flags(void *ctx, const struct ctl_db_row *row) {
    struct flags_read *f = ctx;
    f->found = true;
    f->version = ctl_db_row_int(row, 0);
    for (unsigned i = 0; i < CTL_FLAG_COUNT; i++) {
        if (ctl_db_row_int(row, 1 + i) > 0) {
            f->mask |= 1u << i;
        }
    }
    return IOF_OK;
}

iof_err ctl_store_flags_get(struct ctl_store *store,
                            const char *fog_uuid,
                            uint32_t *mask,
                            int64_t *version,
                            struct iof_diag *d) {
    if (fog_uuid == NULL) {
        return iof_fail(d, IOF_EINVAL, "store: no node given");
    }
    struct flags_read f = {0};
    const struct ctl_db_value p[] = {CTL_DB_TEXT(fog_uuid)};
    iof_err err = ctl_db_exec(store->db, SQL_GET, p, 1, read_flags, &f, NULL, d);
    if (err != IOF_OK) {
        return err;
    }
    if (!f.found) {
        return iof_fail(d, IOF_ENOENT, "Invalid ioFog UUID %s", fog_uuid);
    }
    *mask = f.mask;
    *version = f.version;
    return IOF_OK;
}

static iof_err read_exists(void *ctx, const struct ctl_db_row *row) {
    (void)row;
    *(bool *)ctx = true;
    return IOF_OK;
}

iof_err ctl_store_flags_ack(struct ctl_store *store,
                            const char *fog_uuid,
                            int64_t acked_version,
                            struct iof_diag *d) {
    if (fog_uuid == NULL || acked_version < 0) {
        return iof_fail(d, IOF_EINVAL, "store: no node or a negative version");
    }
    struct ctl_db_value p[CTL_FLAG_COUNT + 1];
    for (unsigned i = 0; i < CTL_FLAG_COUNT; i++) {
        p[i] = CTL_DB_INT(acked_version);
    }
    p[CTL_FLAG_COUNT] = CTL_DB_TEXT(fog_uuid);
    int64_t changes = 0;
    iof_err err = ctl_db_exec(store->db, SQL_ACK, p, CTL_FLAG_COUNT + 1, NULL, NULL, &changes, d);
    if (err != IOF_OK || changes > 0) {
        return err;
    }
    /* Nothing updated: a node nothing was raised for, or no node at all. */
    bool exists = false;
    err = ctl_db_exec(
        store->db, SQL_FOG_EXISTS, p + CTL_FLAG_COUNT, 1, read_exists, &exists, NULL, d);
    if (err == IOF_OK && !exists) {
        err = iof_fail(d, IOF_ENOENT, "Invalid ioFog UUID %s", fog_uuid);
    }
    return err;
}
