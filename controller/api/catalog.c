/* /api/v3/catalog/microservices: the catalog of microservice types (controller.md §3.4, §5.1).
 *
 * Visibility: a user sees the items seeded by the Controller (user_id NULL) and their own; the
 * classic owner-filter leak (every user's items listed) is not reproduced, and another user's item
 * is 404 as if absent. Lists hide the SYSTEM category. SYSTEM items can be read by id but never
 * changed or deleted; seeded items can be changed only with the admin credential. Answers have the
 * classic shape: images [{containerImage, fogTypeId}], inputType/outputType objects (null when the
 * item has none), no userId. Catalog changes raise no change flags (the classic Controller raises
 * none either: microservices keep the images they were created with until they are rebuilt). */
#include "controller/api/api.h"

#include "common/json.h"
#include "controller/store/db_json.h"
#include "controller/domain/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEM_SELECT                                                                                \
    "SELECT ci.id AS id, ci.name AS name, ci.description AS description,"                          \
    " ci.category AS category, ci.config_example AS \"configExample\", ci.publisher AS publisher," \
    " ci.disk_required AS \"diskRequired\", ci.ram_required AS \"ramRequired\", ci.picture AS "    \
    "picture,"                                                                                     \
    " ci.is_public AS \"isPublic:bool\", ci.registry_id AS \"registryId\","                        \
    " it.id AS \"inId\", it.info_type AS \"inType\", it.info_format AS \"inFormat\","              \
    " ot.id AS \"outId\", ot.info_type AS \"outType\", ot.info_format AS \"outFormat\""            \
    " FROM catalog_items ci"                                                                       \
    " LEFT JOIN catalog_item_input_types it ON it.catalog_item_id = ci.id"                         \
    " LEFT JOIN catalog_item_output_types ot ON ot.catalog_item_id = ci.id"
#define IMAGE_SELECT                                                                               \
    "SELECT img.catalog_item_id AS \"itemId\", img.container_image AS \"containerImage\","         \
    " img.fog_type_id AS \"fogTypeId\" FROM catalog_item_images img"                               \
    " JOIN catalog_items ci ON ci.id = img.catalog_item_id"
/* Parameters: admin flag, user id. */
#define VISIBLE    " (? <> 0 OR ci.user_id = ? OR ci.user_id IS NULL)"
#define NOT_SYSTEM " (ci.category IS NULL OR ci.category <> 'SYSTEM')"

static const char SQL_LIST[] = ITEM_SELECT " WHERE" NOT_SYSTEM " AND" VISIBLE " ORDER BY ci.id";
static const char SQL_LIST_IMAGES[] = IMAGE_SELECT " WHERE" NOT_SYSTEM " AND" VISIBLE
                                                   " ORDER BY img.catalog_item_id, img.fog_type_id";
static const char SQL_GET[] = ITEM_SELECT " WHERE ci.id = ? AND" VISIBLE;
static const char SQL_GET_IMAGES[] =
    IMAGE_SELECT " WHERE ci.id = ? AND" VISIBLE " ORDER BY img.fog_type_id";

static const char SQL_FIND[] =
    "SELECT ci.id AS id, ci.category AS category, ci.user_id AS \"userId\" FROM catalog_items ci"
    " WHERE ci.id = ? AND" VISIBLE;
static const char SQL_DUPLICATE[] =
    "SELECT count(*) AS n FROM catalog_items WHERE name = ? AND id <> ?"
    " AND (user_id = ? OR user_id IS NULL)";
static const char SQL_REGISTRY_VISIBLE[] =
    "SELECT count(*) AS n FROM registries WHERE id = ?"
    " AND (? <> 0 OR is_public = 1 OR user_id = ? OR user_id IS NULL)";
static const char SQL_INSERT[] =
    "INSERT INTO catalog_items (name, description, category, config_example, publisher,"
    " disk_required, ram_required, picture, is_public, registry_id, user_id)"
    " VALUES (?, ?, ?, COALESCE(?, '{}'), ?, COALESCE(?, 0), COALESCE(?, 0),"
    " COALESCE(?, 'images/shared/default.png'), COALESCE(?, 0), ?, ?) RETURNING id";
static const char SQL_UPDATE[] =
    "UPDATE catalog_items SET name = COALESCE(?, name), description = COALESCE(?, description),"
    " category = COALESCE(?, category), config_example = COALESCE(?, config_example),"
    " publisher = COALESCE(?, publisher), disk_required = COALESCE(?, disk_required),"
    " ram_required = COALESCE(?, ram_required), picture = COALESCE(?, picture),"
    " is_public = COALESCE(?, is_public), registry_id = COALESCE(?, registry_id) WHERE id = ?";
static const char SQL_UPSERT_IMAGE[] =
    "INSERT INTO catalog_item_images (catalog_item_id, fog_type_id, container_image)"
    " VALUES (?, ?, ?) ON CONFLICT (catalog_item_id, fog_type_id)"
    " DO UPDATE SET container_image = excluded.container_image";
static const char SQL_UPSERT_INPUT[] =
    "INSERT INTO catalog_item_input_types (catalog_item_id, info_type, info_format)"
    " VALUES (?, ?, ?) ON CONFLICT (catalog_item_id) DO UPDATE SET"
    " info_type = COALESCE(excluded.info_type, catalog_item_input_types.info_type),"
    " info_format = COALESCE(excluded.info_format, catalog_item_input_types.info_format)";
static const char SQL_UPSERT_OUTPUT[] =
    "INSERT INTO catalog_item_output_types (catalog_item_id, info_type, info_format)"
    " VALUES (?, ?, ?) ON CONFLICT (catalog_item_id) DO UPDATE SET"
    " info_type = COALESCE(excluded.info_type, catalog_item_output_types.info_type),"
    " info_format = COALESCE(excluded.info_format, catalog_item_output_types.info_format)";
static const char SQL_RUNNING[] = "SELECT count(*) AS n FROM microservices m"
                                  " JOIN microservice_statuses s ON s.microservice_uuid = m.uuid"
                                  " WHERE m.catalog_item_id = ? AND s.status = 'RUNNING'";
static const char SQL_USED[] = "SELECT count(*) AS n FROM microservices WHERE catalog_item_id = ?";
static const char SQL_DELETE[] = "DELETE FROM catalog_items WHERE id = ?";

#define RESTRICTED_PUBLISHER "Eclipse ioFog"

/* The fields of a create or update body; NULL / has_* false = not given. */
struct item_fields {
    const char *name, *description, *category, *config_example, *publisher, *picture;
    bool has_disk, has_ram, has_public, has_registry;
    int64_t disk, ram, registry_id;
    bool is_public;
    struct {
        int64_t fog_type_id;
        const char *image;
    } images[2];
    size_t n_images;
    bool has_images;
    const json_t *input_type, *output_type;
    const char *in_type, *in_format, *out_type, *out_format;
};

static iof_err need_user(struct ctl_call *call) {
    if (call->user_id == 0) {
        return iof_fail(call->d, IOF_ENOENT, "No user exists yet");
    }
    return IOF_OK;
}

static iof_err item_id(struct ctl_call *call, int64_t *out) {
    const char *text = iof_http_param(call->req, "id");
    char *end = NULL;
    long long id = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || end == text || *end != '\0' || id <= 0) {
        return iof_fail(
            call->d, IOF_ENOENT, "Invalid catalog item id '%s'", text != NULL ? text : "");
    }
    *out = id;
    return IOF_OK;
}

static int64_t count_of(const json_t *row) {
    return (int64_t)json_integer_value(json_object_get(row, "n"));
}

/* SELECT count(*) AS n ... into *n. */
static iof_err count_rows(
    struct ctl_call *call, const char *sql, const struct ctl_db_value *p, size_t np, int64_t *n) {
    json_t *row = NULL;
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), sql, p, np, NULL, &row, call->d);
    if (err == IOF_OK) {
        *n = count_of(row);
        json_decref(row);
    }
    return err;
}

static iof_err pick_string(json_t *item, const char *key, json_t **out) {
    json_t *v = json_object_get(item, key);
    *out = v != NULL ? json_incref(v) : json_null();
    return json_object_del(item, key) == 0 ? IOF_OK : IOF_EINTERNAL;
}

/* Replaces the flat in/out columns of item by an {infoType, infoFormat} object (null without
 * a row). */
static iof_err shape_type(json_t *item,
                          const char *id_key,
                          const char *type_key,
                          const char *format_key,
                          const char *out_key) {
    json_t *type = NULL, *format = NULL;
    bool present = !json_is_null(json_object_get(item, id_key));
    (void)json_object_del(item, id_key);
    if (pick_string(item, type_key, &type) != IOF_OK ||
        pick_string(item, format_key, &format) != IOF_OK) {
        json_decref(type);
        json_decref(format);
        return IOF_EINTERNAL;
    }
    json_t *obj;
    if (present) {
        obj = json_pack("{s:o, s:o}", "infoType", type, "infoFormat", format);
    } else {
        json_decref(type);
        json_decref(format);
        obj = json_null();
    }
    if (obj == NULL || json_object_set_new(item, out_key, obj) != 0) {
        return IOF_ENOMEM;
    }
    return IOF_OK;
}

/* Gives every item of items (ordered by id) its images (rows of images ordered by itemId) and
 * the classic nested shape. */
static iof_err shape_items(json_t *items, json_t *images) {
    size_t j = 0;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        json_int_t id = json_integer_value(json_object_get(item, "id"));
        json_t *list = json_array();
        if (list == NULL || json_object_set_new(item, "images", list) != 0) {
            return IOF_ENOMEM;
        }
        for (; j < json_array_size(images); j++) {
            json_t *img = json_array_get(images, j);
            json_int_t owner = json_integer_value(json_object_get(img, "itemId"));
            if (owner > id) {
                break;
            }
            if (owner == id) {
                json_t *copy = json_pack("{s:O, s:O}",
                                         "containerImage",
                                         json_object_get(img, "containerImage"),
                                         "fogTypeId",
                                         json_object_get(img, "fogTypeId"));
                if (copy == NULL || json_array_append_new(list, copy) != 0) {
                    return IOF_ENOMEM;
                }
            }
        }
        iof_err err = shape_type(item, "inId", "inType", "inFormat", "inputType");
        if (err == IOF_OK) {
            err = shape_type(item, "outId", "outType", "outFormat", "outputType");
        }
        if (err != IOF_OK) {
            return err;
        }
    }
    return IOF_OK;
}

/* Runs an item query and its image query (same parameters, plus a leading id for one item) and
 * shapes the result. */
static iof_err query_items(struct ctl_call *call,
                           const char *sql_items,
                           const char *sql_images,
                           const struct ctl_db_value *p,
                           size_t np,
                           json_t **out) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    json_t *items = NULL, *images = NULL;
    iof_err err = ctl_db_query_json(db, sql_items, p, np, &items, call->d);
    if (err == IOF_OK) {
        err = ctl_db_query_json(db, sql_images, p, np, &images, call->d);
    }
    if (err == IOF_OK && (err = shape_items(items, images)) != IOF_OK) {
        err = iof_fail(call->d, err, "cannot build the catalog answer");
    }
    json_decref(images);
    if (err != IOF_OK) {
        json_decref(items);
        return err;
    }
    *out = items;
    return IOF_OK;
}

static iof_err list_items(struct ctl_call *call) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *items = NULL;
    iof_err err = query_items(call, SQL_LIST, SQL_LIST_IMAGES, p, 2, &items);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "catalogItems", items));
}

static iof_err get_item(struct ctl_call *call) {
    int64_t id = 0;
    iof_err err = item_id(call, &id);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {
        CTL_DB_INT(id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *items = NULL;
    if ((err = query_items(call, SQL_GET, SQL_GET_IMAGES, p, 3, &items)) != IOF_OK) {
        return err;
    }
    if (json_array_size(items) == 0) {
        json_decref(items);
        return iof_fail(call->d, IOF_ENOENT, "Invalid catalog item id '%lld'", (long long)id);
    }
    json_t *item = json_incref(json_array_get(items, 0));
    json_decref(items);
    return ctl_reply(call, 200, item);
}

/* ---- body parsing ---- */

static iof_err parse_type(struct ctl_call *call,
                          const json_t *body,
                          const char *key,
                          const json_t **obj,
                          const char **type,
                          const char **format) {
    iof_err err = iof_json_get_object(body, key, IOF_JSON_OPTIONAL, obj, call->d);
    if (err == IOF_OK && *obj != NULL &&
        ((err = iof_json_get_string(*obj, "infoType", IOF_JSON_OPTIONAL, type, call->d)) ||
         (err = iof_json_get_string(*obj, "infoFormat", IOF_JSON_OPTIONAL, format, call->d)))) {
        return iof_fail(call->d, err, "Invalid format for field '%s'", key);
    }
    return err;
}

static iof_err parse_images(struct ctl_call *call, const json_t *arr, struct item_fields *f) {
    size_t n = json_array_size(arr);
    if (n < 1 || n > 2) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Invalid format for field 'images': one or two images are required");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *img = json_array_get(arr, i);
        const char *image = NULL;
        int64_t fog_type = 0;
        iof_err err;
        if (!json_is_object(img)) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'images'");
        }
        if ((err =
                 iof_json_get_string(img, "containerImage", IOF_JSON_REQUIRED, &image, call->d)) ||
            (err = iof_json_get_int(img, "fogTypeId", IOF_JSON_REQUIRED, &fog_type, call->d))) {
            return err;
        }
        if (*image == '\0') {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'containerImage'");
        }
        char field[48];
        (void)snprintf(field, sizeof field, "images[%zu].containerImage", i);
        if ((err = ctl_image_check(field, image, call->d)) != IOF_OK) {
            return err;
        }
        if (fog_type != 1 && fog_type != 2) {
            return iof_fail(call->d,
                            IOF_EINVAL,
                            "Invalid format for field 'fogTypeId': 1 (x86) or 2 (ARM) expected");
        }
        if (i == 1 && f->images[0].fog_type_id == fog_type) {
            return iof_fail(
                call->d, IOF_EINVAL, "Duplicate image for fogTypeId %lld", (long long)fog_type);
        }
        f->images[i].fog_type_id = fog_type;
        f->images[i].image = image;
    }
    f->n_images = n;
    f->has_images = true;
    return IOF_OK;
}

static iof_err
parse_fields(struct ctl_call *call, const json_t *body, bool create, struct item_fields *f) {
    enum iof_json_need need = create ? IOF_JSON_REQUIRED : IOF_JSON_OPTIONAL;
    const json_t *images = NULL;
    struct iof_diag *d = call->d;
    iof_err err;
    if ((err = iof_json_get_string(body, "name", need, &f->name, d)) ||
        (err = iof_json_get_int(body, "registryId", need, &f->registry_id, d)) ||
        (err = iof_json_get_array(body, "images", need, &images, d)) ||
        (err = iof_json_get_string(body, "description", IOF_JSON_OPTIONAL, &f->description, d)) ||
        (err = iof_json_get_string(body, "category", IOF_JSON_OPTIONAL, &f->category, d)) ||
        (err = iof_json_get_string(
             body, "configExample", IOF_JSON_OPTIONAL, &f->config_example, d)) ||
        (err = iof_json_get_string(body, "publisher", IOF_JSON_OPTIONAL, &f->publisher, d)) ||
        (err = iof_json_get_string(body, "picture", IOF_JSON_OPTIONAL, &f->picture, d)) ||
        (err = ctl_text_check("name", f->name, d))) {
        return err;
    }
    f->has_registry = json_object_get(body, "registryId") != NULL &&
                      !json_is_null(json_object_get(body, "registryId"));
    f->has_disk = json_object_get(body, "diskRequired") != NULL &&
                  !json_is_null(json_object_get(body, "diskRequired"));
    f->has_ram = json_object_get(body, "ramRequired") != NULL &&
                 !json_is_null(json_object_get(body, "ramRequired"));
    f->has_public = json_object_get(body, "isPublic") != NULL &&
                    !json_is_null(json_object_get(body, "isPublic"));
    if ((err = iof_json_get_int(body, "diskRequired", IOF_JSON_OPTIONAL, &f->disk, d)) ||
        (err = iof_json_get_int(body, "ramRequired", IOF_JSON_OPTIONAL, &f->ram, d)) ||
        (err = iof_json_get_bool(body, "isPublic", IOF_JSON_OPTIONAL, &f->is_public, d)) ||
        (err = parse_type(call, body, "inputType", &f->input_type, &f->in_type, &f->in_format)) ||
        (err =
             parse_type(call, body, "outputType", &f->output_type, &f->out_type, &f->out_format))) {
        return err;
    }
    if (f->name != NULL && *f->name == '\0') {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'name'");
    }
    if ((f->has_disk && f->disk < 0) || (f->has_ram && f->ram < 0)) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "Invalid format for field '%s': must not be negative",
                        f->has_disk && f->disk < 0 ? "diskRequired" : "ramRequired");
    }
    if (f->publisher != NULL && strcmp(f->publisher, RESTRICTED_PUBLISHER) == 0) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "You are not allowed to add catalog item as '" RESTRICTED_PUBLISHER
                        "' publisher");
    }
    if (f->category != NULL && strcmp(f->category, "SYSTEM") == 0) {
        return iof_fail(d, IOF_EINVAL, "The category 'SYSTEM' is reserved for system items");
    }
    if (images != NULL) {
        return parse_images(call, images, f);
    }
    return IOF_OK;
}

/* ---- writes (inside a transaction) ---- */

static iof_err check_registry(struct ctl_call *call, const struct item_fields *f, iof_err missing) {
    if (!f->has_registry) {
        return IOF_OK;
    }
    const struct ctl_db_value p[] = {
        CTL_DB_INT(f->registry_id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    int64_t n = 0;
    iof_err err = count_rows(call, SQL_REGISTRY_VISIBLE, p, 3, &n);
    if (err == IOF_OK && n == 0) {
        err = iof_fail(call->d, missing, "Invalid registry id '%lld'", (long long)f->registry_id);
    }
    return err;
}

static iof_err check_duplicate(struct ctl_call *call, const char *name, int64_t id, int64_t owner) {
    if (name == NULL) {
        return IOF_OK;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(name), CTL_DB_INT(id), CTL_DB_INT(owner)};
    int64_t n = 0;
    iof_err err = count_rows(call, SQL_DUPLICATE, p, 3, &n);
    if (err == IOF_OK && n > 0) {
        err = iof_fail(call->d, IOF_EEXIST, "Duplicate name '%s'", name);
    }
    return err;
}

static iof_err
write_children(struct ctl_call *call, int64_t id, const struct item_fields *f, bool create) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    iof_err err = IOF_OK;
    for (size_t i = 0; err == IOF_OK && i < f->n_images; i++) {
        const struct ctl_db_value p[] = {
            CTL_DB_INT(id), CTL_DB_INT(f->images[i].fog_type_id), CTL_DB_TEXT(f->images[i].image)};
        err = ctl_db_exec(db, SQL_UPSERT_IMAGE, p, 3, NULL, NULL, NULL, call->d);
    }
    /* As the classic Controller, a created item always gets both message-type rows. */
    if (err == IOF_OK && (create || f->input_type != NULL)) {
        const struct ctl_db_value p[] = {
            CTL_DB_INT(id), CTL_DB_TEXT(f->in_type), CTL_DB_TEXT(f->in_format)};
        err = ctl_db_exec(db, SQL_UPSERT_INPUT, p, 3, NULL, NULL, NULL, call->d);
    }
    if (err == IOF_OK && (create || f->output_type != NULL)) {
        const struct ctl_db_value p[] = {
            CTL_DB_INT(id), CTL_DB_TEXT(f->out_type), CTL_DB_TEXT(f->out_format)};
        err = ctl_db_exec(db, SQL_UPSERT_OUTPUT, p, 3, NULL, NULL, NULL, call->d);
    }
    return err;
}

static iof_err create_in_tx(struct ctl_call *call, const struct item_fields *f, int64_t *id) {
    iof_err err = check_registry(call, f, IOF_EINVAL);
    if (err == IOF_OK) {
        err = check_duplicate(call, f->name, 0, call->user_id);
    }
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(f->name),
        CTL_DB_TEXT(f->description),
        CTL_DB_TEXT(f->category),
        CTL_DB_TEXT(f->config_example),
        CTL_DB_TEXT(f->publisher),
        f->has_disk ? CTL_DB_INT(f->disk) : CTL_DB_NULLV,
        f->has_ram ? CTL_DB_INT(f->ram) : CTL_DB_NULLV,
        CTL_DB_TEXT(f->picture),
        f->has_public ? CTL_DB_BOOL(f->is_public) : CTL_DB_NULLV,
        CTL_DB_INT(f->registry_id),
        CTL_DB_INT(call->user_id),
    };
    json_t *row = NULL;
    err = ctl_db_query_json_one(
        ctl_store_db(call->srv->store), SQL_INSERT, p, 11, NULL, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t new_id = (int64_t)json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    if ((err = write_children(call, new_id, f, true)) == IOF_OK) {
        *id = new_id;
    }
    return err;
}

/* The item id as seen by the caller: IOF_ENOENT when absent or another user's; IOF_EINVAL for
 * SYSTEM items, and for seeded ones unless the caller is the admin. *owner gets the owner id (0
 * for seeded items). */
static iof_err
find_changeable(struct ctl_call *call, int64_t id, const char *verb, int64_t *owner) {
    const struct ctl_db_value p[] = {
        CTL_DB_INT(id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *row = NULL;
    char nf[64];
    (void)snprintf(nf, sizeof nf, "Invalid catalog item id '%lld'", (long long)id);
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), SQL_FIND, p, 3, nf, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    const char *category = json_string_value(json_object_get(row, "category"));
    bool system = category != NULL && strcmp(category, "SYSTEM") == 0;
    int64_t uid = (int64_t)json_integer_value(json_object_get(row, "userId"));
    json_decref(row);
    if (system) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Catalog item id %lld is systemic and can't be %s",
                        (long long)id,
                        verb);
    }
    if (uid == 0 && !call->admin) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Catalog item id %lld is provided by the Controller and can't be %s",
                        (long long)id,
                        verb);
    }
    *owner = uid;
    return IOF_OK;
}

static iof_err update_in_tx(struct ctl_call *call, int64_t id, const struct item_fields *f) {
    int64_t owner = 0;
    iof_err err = find_changeable(call, id, "updated", &owner);
    if (err == IOF_OK) {
        err = check_registry(call, f, IOF_ENOENT);
    }
    if (err == IOF_OK) {
        err = check_duplicate(call, f->name, id, owner);
    }
    if (err == IOF_OK && f->has_images) {
        const struct ctl_db_value p[] = {CTL_DB_INT(id)};
        int64_t running = 0;
        err = count_rows(call, SQL_RUNNING, p, 1, &running);
        if (err == IOF_OK && running > 0) {
            err = iof_fail(call->d,
                           IOF_EINVAL,
                           "Can't update catalog item images for item used for running "
                           "microservices");
        }
    }
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(f->name),
        CTL_DB_TEXT(f->description),
        CTL_DB_TEXT(f->category),
        CTL_DB_TEXT(f->config_example),
        CTL_DB_TEXT(f->publisher),
        f->has_disk ? CTL_DB_INT(f->disk) : CTL_DB_NULLV,
        f->has_ram ? CTL_DB_INT(f->ram) : CTL_DB_NULLV,
        CTL_DB_TEXT(f->picture),
        f->has_public ? CTL_DB_BOOL(f->is_public) : CTL_DB_NULLV,
        f->has_registry ? CTL_DB_INT(f->registry_id) : CTL_DB_NULLV,
        CTL_DB_INT(id),
    };
    err = ctl_db_exec(ctl_store_db(call->srv->store), SQL_UPDATE, p, 11, NULL, NULL, NULL, call->d);
    return err != IOF_OK ? err : write_children(call, id, f, false);
}

static iof_err delete_in_tx(struct ctl_call *call, int64_t id) {
    int64_t owner = 0;
    iof_err err = find_changeable(call, id, "deleted", &owner);
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    int64_t used = 0;
    if (err == IOF_OK && (err = count_rows(call, SQL_USED, p, 1, &used)) == IOF_OK && used > 0) {
        /* The schema would delete them with the item, behind their nodes' backs. */
        err = iof_fail(call->d,
                       IOF_ECONFLICT,
                       "Catalog item id %lld is used by %lld microservice(s): remove them first",
                       (long long)id,
                       (long long)used);
    }
    if (err == IOF_OK) {
        err = ctl_db_exec(
            ctl_store_db(call->srv->store), SQL_DELETE, p, 1, NULL, NULL, NULL, call->d);
    }
    return err;
}

/* Ends the transaction: commit when err is IOF_OK, else roll back keeping err and its text. */
static iof_err finish(struct ctl_call *call, iof_err err) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if (err == IOF_OK) {
        return ctl_db_commit(db, call->d);
    }
    struct iof_diag ignored;
    (void)!ctl_db_rollback(db, &ignored);
    return err;
}

static iof_err create_item(struct ctl_call *call) {
    json_t *body = NULL;
    struct item_fields f = {0};
    iof_err err = need_user(call);
    if (err != IOF_OK || (err = ctl_body(call, &body)) ||
        (err = parse_fields(call, body, true, &f))) {
        return err;
    }
    int64_t id = 0;
    if ((err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) != IOF_OK ||
        (err = finish(call, create_in_tx(call, &f, &id))) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

static iof_err update_item(struct ctl_call *call) {
    json_t *body = NULL;
    struct item_fields f = {0};
    int64_t id = 0;
    iof_err err = item_id(call, &id);
    if (err != IOF_OK || (err = ctl_body(call, &body)) ||
        (err = parse_fields(call, body, false, &f))) {
        return err;
    }
    if ((err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) != IOF_OK ||
        (err = finish(call, update_in_tx(call, id, &f))) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

static iof_err delete_item(struct ctl_call *call) {
    int64_t id = 0;
    iof_err err = item_id(call, &id);
    if (err != IOF_OK || (err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) ||
        (err = finish(call, delete_in_tx(call, id)))) {
        return err;
    }
    return ctl_reply(call, 204, NULL);
}

const struct ctl_route ctl_routes_catalog[] = {
    {"GET", "/api/v3/catalog/microservices", list_items, CTL_AUTH_USER},
    {"POST", "/api/v3/catalog/microservices", create_item, CTL_AUTH_USER},
    {"GET", "/api/v3/catalog/microservices/:id", get_item, CTL_AUTH_USER},
    {"PATCH", "/api/v3/catalog/microservices/:id", update_item, CTL_AUTH_USER},
    {"DELETE", "/api/v3/catalog/microservices/:id", delete_item, CTL_AUTH_USER},
};
const size_t ctl_routes_catalog_count = sizeof ctl_routes_catalog / sizeof ctl_routes_catalog[0];
