/* Reference data of the store: fog types, registries, catalog items with their images and message
 * types. */
#include "controller/store/store.h"

#include "controller/store/store_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- fog types ---- */

static const char SQL_FOG_TYPES[] =
    "SELECT id, name, image, description FROM fog_types ORDER BY id";

struct fog_type_list {
    struct ctl_store_fog_type *v;
    size_t n, cap;
};

static void fog_type_clear(struct ctl_store_fog_type *t) {
    free(t->name);
    free(t->image);
    free(t->description);
    memset(t, 0, sizeof *t);
}

static iof_err collect_fog_type(void *ctx, const struct ctl_db_row *row) {
    struct fog_type_list *l = ctx;
    void *grown;
    if (ctl_store_grow(l->v, &l->cap, l->n, sizeof *l->v, &grown) != IOF_OK) {
        return IOF_ENOMEM;
    }
    l->v = grown;
    struct ctl_store_reader r = {.row = row};
    struct ctl_store_fog_type t = {
        .id = ctl_db_row_int(row, 0),
        .name = ctl_store_read_text(&r, 1),
        .image = ctl_store_read_text(&r, 2),
        .description = ctl_store_read_text(&r, 3),
    };
    if (r.oom) {
        fog_type_clear(&t);
        return IOF_ENOMEM;
    }
    l->v[l->n++] = t;
    return IOF_OK;
}

void ctl_store_fog_types_free(struct ctl_store_fog_type *types, size_t n) {
    if (types == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fog_type_clear(&types[i]);
    }
    free(types);
}

iof_err ctl_store_fog_types_list(struct ctl_store *store,
                                 struct ctl_store_fog_type **out,
                                 size_t *n,
                                 struct iof_diag *d) {
    struct fog_type_list l = {0};
    iof_err err = ctl_db_exec(store->db, SQL_FOG_TYPES, NULL, 0, collect_fog_type, &l, NULL, d);
    if (err != IOF_OK) {
        ctl_store_fog_types_free(l.v, l.n);
        return err == IOF_ENOMEM ? iof_fail(d, err, "store: out of memory") : err;
    }
    *out = l.v;
    *n = l.n;
    return IOF_OK;
}

/* ---- registries ---- */

#define REGISTRY_COLUMNS                                                                           \
    "SELECT id, url, is_public, secure, certificate, requires_cert, user_name, password,"          \
    " user_email, user_id FROM registries"

static const char SQL_REGISTRY_GET[] = REGISTRY_COLUMNS " WHERE id = ?";
static const char SQL_REGISTRIES_LIST[] = REGISTRY_COLUMNS " ORDER BY id";

struct registry_list {
    struct ctl_store_registry *v;
    size_t n, cap;
};

void ctl_store_registry_clear(struct ctl_store_registry *reg) {
    if (reg == NULL) {
        return;
    }
    free(reg->url);
    free(reg->certificate);
    free(reg->username);
    free(reg->password);
    free(reg->user_email);
    memset(reg, 0, sizeof *reg);
}

void ctl_store_registries_free(struct ctl_store_registry *regs, size_t n) {
    if (regs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ctl_store_registry_clear(&regs[i]);
    }
    free(regs);
}

static iof_err collect_registry(void *ctx, const struct ctl_db_row *row) {
    struct registry_list *l = ctx;
    void *grown;
    if (ctl_store_grow(l->v, &l->cap, l->n, sizeof *l->v, &grown) != IOF_OK) {
        return IOF_ENOMEM;
    }
    l->v = grown;
    struct ctl_store_reader r = {.row = row};
    struct ctl_store_registry reg = {
        .id = ctl_db_row_int(row, 0),
        .url = ctl_store_read_text(&r, 1),
        .is_public = ctl_db_row_bool(row, 2),
        .is_secure = ctl_db_row_bool(row, 3),
        .certificate = ctl_store_read_text(&r, 4),
        .requires_cert = ctl_db_row_bool(row, 5),
        .username = ctl_store_read_text(&r, 6),
        .password = ctl_store_read_text(&r, 7),
        .user_email = ctl_store_read_text(&r, 8),
        .user_id = ctl_db_row_int(row, 9),
    };
    if (r.oom) {
        ctl_store_registry_clear(&reg);
        return IOF_ENOMEM;
    }
    l->v[l->n++] = reg;
    return IOF_OK;
}

static iof_err registries_query(struct ctl_store *store,
                                const char *sql,
                                const struct ctl_db_value *params,
                                size_t n_params,
                                struct registry_list *l,
                                struct iof_diag *d) {
    iof_err err = ctl_db_exec(store->db, sql, params, n_params, collect_registry, l, NULL, d);
    if (err != IOF_OK) {
        ctl_store_registries_free(l->v, l->n);
        return err == IOF_ENOMEM ? iof_fail(d, err, "store: out of memory") : err;
    }
    return IOF_OK;
}

iof_err ctl_store_registry_get(struct ctl_store *store,
                               int64_t id,
                               struct ctl_store_registry *out,
                               struct iof_diag *d) {
    struct registry_list l = {0};
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    iof_err err = registries_query(store, SQL_REGISTRY_GET, p, 1, &l, d);
    if (err != IOF_OK) {
        return err;
    }
    if (l.n == 0) {
        free(l.v);
        return iof_fail(d, IOF_ENOENT, "Invalid Registry Id %lld", (long long)id);
    }
    *out = l.v[0];
    free(l.v);
    return IOF_OK;
}

iof_err ctl_store_registries_list(struct ctl_store *store,
                                  struct ctl_store_registry **out,
                                  size_t *n,
                                  struct iof_diag *d) {
    struct registry_list l = {0};
    iof_err err = registries_query(store, SQL_REGISTRIES_LIST, NULL, 0, &l, d);
    if (err != IOF_OK) {
        return err;
    }
    *out = l.v;
    *n = l.n;
    return IOF_OK;
}

/* ---- catalog items ---- */

/* One row per (item, image); items without images give one row with NULL image columns. */
#define CATALOG_COLUMNS                                                                            \
    "SELECT ci.id, ci.name, ci.description, ci.category, ci.config_example, ci.publisher,"         \
    " ci.disk_required, ci.ram_required, ci.picture, ci.is_public, ci.registry_id, ci.user_id,"    \
    " it.id, it.info_type, it.info_format, ot.id, ot.info_type, ot.info_format,"                   \
    " img.fog_type_id, img.container_image"                                                        \
    " FROM catalog_items ci"                                                                       \
    " LEFT JOIN catalog_item_input_types it ON it.catalog_item_id = ci.id"                         \
    " LEFT JOIN catalog_item_output_types ot ON ot.catalog_item_id = ci.id"                        \
    " LEFT JOIN catalog_item_images img ON img.catalog_item_id = ci.id"

static const char SQL_CATALOG_GET[] =
    CATALOG_COLUMNS " WHERE ci.id = ? ORDER BY ci.id, img.fog_type_id";
static const char SQL_CATALOG_LIST[] = CATALOG_COLUMNS " ORDER BY ci.id, img.fog_type_id";

struct catalog_list {
    struct ctl_store_catalog_item *v;
    size_t n, cap;
    size_t image_cap; /* capacity of v[n - 1].images */
};

void ctl_store_catalog_item_clear(struct ctl_store_catalog_item *item) {
    if (item == NULL) {
        return;
    }
    free(item->name);
    free(item->description);
    free(item->category);
    free(item->config_example);
    free(item->publisher);
    free(item->picture);
    for (size_t i = 0; i < item->n_images; i++) {
        free(item->images[i].container_image);
    }
    free(item->images);
    free(item->input_info_type);
    free(item->input_info_format);
    free(item->output_info_type);
    free(item->output_info_format);
    memset(item, 0, sizeof *item);
}

void ctl_store_catalog_items_free(struct ctl_store_catalog_item *items, size_t n) {
    if (items == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ctl_store_catalog_item_clear(&items[i]);
    }
    free(items);
}

/* Starts a new item from the item columns of row. */
static iof_err catalog_start_item(struct catalog_list *l, const struct ctl_db_row *row) {
    void *grown;
    if (ctl_store_grow(l->v, &l->cap, l->n, sizeof *l->v, &grown) != IOF_OK) {
        return IOF_ENOMEM;
    }
    l->v = grown;
    struct ctl_store_reader r = {.row = row};
    struct ctl_store_catalog_item it = {
        .id = ctl_db_row_int(row, 0),
        .name = ctl_store_read_text(&r, 1),
        .description = ctl_store_read_text(&r, 2),
        .category = ctl_store_read_text(&r, 3),
        .config_example = ctl_store_read_text(&r, 4),
        .publisher = ctl_store_read_text(&r, 5),
        .disk_required = ctl_db_row_int(row, 6),
        .ram_required = ctl_db_row_int(row, 7),
        .picture = ctl_store_read_text(&r, 8),
        .is_public = ctl_db_row_bool(row, 9),
        .registry_id = ctl_db_row_int(row, 10),
        .user_id = ctl_db_row_int(row, 11),
        .has_input_type = !ctl_db_row_is_null(row, 12),
        .input_info_type = ctl_store_read_text(&r, 13),
        .input_info_format = ctl_store_read_text(&r, 14),
        .has_output_type = !ctl_db_row_is_null(row, 15),
        .output_info_type = ctl_store_read_text(&r, 16),
        .output_info_format = ctl_store_read_text(&r, 17),
    };
    if (r.oom) {
        ctl_store_catalog_item_clear(&it);
        return IOF_ENOMEM;
    }
    l->v[l->n++] = it;
    l->image_cap = 0;
    return IOF_OK;
}

static iof_err collect_catalog_row(void *ctx, const struct ctl_db_row *row) {
    struct catalog_list *l = ctx;
    int64_t id = ctl_db_row_int(row, 0);
    if (l->n == 0 || l->v[l->n - 1].id != id) {
        iof_err err = catalog_start_item(l, row);
        if (err != IOF_OK) {
            return err;
        }
    }
    if (ctl_db_row_is_null(row, 19)) {
        return IOF_OK; /* no image on this row */
    }
    struct ctl_store_catalog_item *it = &l->v[l->n - 1];
    void *grown;
    if (ctl_store_grow(it->images, &l->image_cap, it->n_images, sizeof *it->images, &grown) !=
        IOF_OK) {
        return IOF_ENOMEM;
    }
    it->images = grown;
    struct ctl_store_reader r = {.row = row};
    char *image = ctl_store_read_text(&r, 19);
    if (r.oom) {
        return IOF_ENOMEM;
    }
    it->images[it->n_images++] = (struct ctl_store_catalog_image){
        .fog_type_id = ctl_db_row_int(row, 18),
        .container_image = image,
    };
    return IOF_OK;
}

static iof_err catalog_query(struct ctl_store *store,
                             const char *sql,
                             const struct ctl_db_value *params,
                             size_t n_params,
                             struct catalog_list *l,
                             struct iof_diag *d) {
    iof_err err = ctl_db_exec(store->db, sql, params, n_params, collect_catalog_row, l, NULL, d);
    if (err != IOF_OK) {
        ctl_store_catalog_items_free(l->v, l->n);
        return err == IOF_ENOMEM ? iof_fail(d, err, "store: out of memory") : err;
    }
    return IOF_OK;
}

iof_err ctl_store_catalog_item_get(struct ctl_store *store,
                                   int64_t id,
                                   struct ctl_store_catalog_item *out,
                                   struct iof_diag *d) {
    struct catalog_list l = {0};
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    iof_err err = catalog_query(store, SQL_CATALOG_GET, p, 1, &l, d);
    if (err != IOF_OK) {
        return err;
    }
    if (l.n == 0) {
        free(l.v);
        return iof_fail(d, IOF_ENOENT, "Invalid Catalog Item Id %lld", (long long)id);
    }
    *out = l.v[0];
    free(l.v);
    return IOF_OK;
}

iof_err ctl_store_catalog_items_list(struct ctl_store *store,
                                     struct ctl_store_catalog_item **out,
                                     size_t *n,
                                     struct iof_diag *d) {
    struct catalog_list l = {0};
    iof_err err = catalog_query(store, SQL_CATALOG_LIST, NULL, 0, &l, d);
    if (err != IOF_OK) {
        return err;
    }
    *out = l.v;
    *n = l.n;
    return IOF_OK;
}
