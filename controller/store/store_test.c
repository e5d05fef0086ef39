/* Unit tests of the store on a SQLite file, or on PostgreSQL with IOFOG_TEST_DB=postgres
 * (controller/store/test_db.h): migrations (fresh, repeated, refused when newer), the
 * schema's constraints and cascades, the seed data, and the change-flag protocol. */
#include "controller/store/store.h"

#include "common/clock.h"
#include "common/log.h"
#include "controller/store/db.h"
#include "controller/store/test_db.h"
#include "controller/store/test_tmpdir.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Every table of 0001_schema.sql, plus the migration bookkeeping. */
static const char *const expected_tables[] = {
    "users",
    "email_activation_codes",
    "access_tokens",
    "registries",
    "catalog_items",
    "catalog_item_input_types",
    "catalog_item_output_types",
    "fog_types",
    "fogs",
    "tags",
    "fog_tags",
    "fog_provision_keys",
    "fog_access_tokens",
    "fog_nats_credentials",
    "fog_version_commands",
    "fog_changes",
    "hw_infos",
    "usb_infos",
    "tunnels",
    "applications",
    "application_templates",
    "application_template_variables",
    "microservices",
    "catalog_item_images",
    "microservice_ports",
    "microservice_public_ports",
    "microservice_envs",
    "microservice_args",
    "microservice_extra_hosts",
    "volume_mappings",
    "microservice_statuses",
    "strace_diagnostics",
    "routings",
    "routers",
    "router_connections",
    "edge_resources",
    "edge_resource_endpoints",
    "edge_resource_tags",
    "fog_edge_resources",
    "config",
    "schema_migrations",
};
#define N_TABLES (sizeof expected_tables / sizeof expected_tables[0])
/* Migration files per back end (controller/sql/<backend>/). */
#define N_MIGRATIONS 5

struct fixture {
    char dir[512];
    char path[600];
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || test_tmpdir_make(f->dir, sizeof f->dir) != 0) {
        free(f);
        return -1;
    }
    if (test_db_make(f->dir, "controller.db", f->path, sizeof f->path) != 0) {
        (void)test_tmpdir_remove(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    test_db_drop(f->path);
    int rc = test_tmpdir_remove(f->dir);
    free(f);
    return rc;
}

static struct ctl_store *store_ok(const char *path) {
    struct ctl_store *s = NULL;
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = ctl_store_open(path, &s, &d);
    if (err != IOF_OK) {
        fail_msg("store open %s: %s", path, iof_diag_text(&d, err));
    }
    return s;
}

static void exec_ok(struct ctl_db *db, const char *sql) {
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = ctl_db_exec(db, sql, NULL, 0, NULL, NULL, NULL, &d);
    if (err != IOF_OK) {
        fail_msg("%s: %s", sql, iof_diag_text(&d, err));
    }
}

/* Runs sql and returns its category (for statements expected to fail). */
static iof_err exec_err(struct ctl_db *db, const char *sql) {
    return ctl_db_exec(db, sql, NULL, 0, NULL, NULL, NULL, NULL);
}

static iof_err read_int(void *ctx, const struct ctl_db_row *row) {
    *(int64_t *)ctx = ctl_db_row_int(row, 0);
    return IOF_OK;
}

static int64_t query_int(struct ctl_db *db, const char *sql) {
    int64_t v = -1;
    struct iof_diag d;
    iof_diag_clear(&d);
    iof_err err = ctl_db_exec(db, sql, NULL, 0, read_int, &v, NULL, &d);
    if (err != IOF_OK) {
        fail_msg("%s: %s", sql, iof_diag_text(&d, err));
    }
    return v;
}

/* Counts the tables of the database (the back end's catalog differs). */
#define SQL_TABLES_SQLITE "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"
#define SQL_TABLES_PG                                                                              \
    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"         \
    " AND table_type = 'BASE TABLE'"

static bool table_exists(struct ctl_db *db, const char *name) {
    int64_t n = -1;
    const struct ctl_db_value p[] = {CTL_DB_TEXT(name)};
    assert_int_equal(ctl_db_exec(db,
                                 test_db_is_pg() ? SQL_TABLES_PG " AND table_name = ?"
                                                 : SQL_TABLES_SQLITE " AND name = ?",
                                 p,
                                 1,
                                 read_int,
                                 &n,
                                 NULL,
                                 NULL),
                     IOF_OK);
    return n == 1;
}

struct migration_row {
    int64_t version;
    char name[32];
    int64_t applied_at;
};

struct migration_rows {
    struct migration_row rows[8];
    size_t n;
};

static iof_err read_migration(void *ctx, const struct ctl_db_row *row) {
    struct migration_rows *m = ctx;
    if (m->n == 8) {
        return IOF_E2BIG;
    }
    struct migration_row *r = &m->rows[m->n++];
    r->version = ctl_db_row_int(row, 0);
    (void)snprintf(r->name, sizeof r->name, "%s", ctl_db_row_text(row, 1));
    r->applied_at = ctl_db_row_int(row, 2);
    return IOF_OK;
}

static struct migration_rows read_migrations(struct ctl_db *db) {
    struct migration_rows m = {0};
    assert_int_equal(ctl_db_exec(db,
                                 "SELECT version, name, applied_at FROM schema_migrations"
                                 " ORDER BY version",
                                 NULL,
                                 0,
                                 read_migration,
                                 &m,
                                 NULL,
                                 NULL),
                     IOF_OK);
    return m;
}

/* ---- migrations ---- */

static void test_fresh_migration(void **state) {
    struct fixture *f = *state;
    int64_t before = iof_time_now_ms();
    struct ctl_store *s = store_ok(f->path);
    int64_t after = iof_time_now_ms();
    struct ctl_db *db = ctl_store_db(s);

    for (size_t i = 0; i < N_TABLES; i++) {
        if (!table_exists(db, expected_tables[i])) {
            fail_msg("table %s missing", expected_tables[i]);
        }
    }
    /* ... and no table beyond those (sqlite_sequence is SQLite's AUTOINCREMENT bookkeeping). */
    assert_int_equal(query_int(db,
                               test_db_is_pg() ? SQL_TABLES_PG
                                               : SQL_TABLES_SQLITE
                                   " AND name <> 'sqlite_sequence'"),
                     (int64_t)N_TABLES);

    struct migration_rows m = read_migrations(db);
    assert_int_equal(m.n, N_MIGRATIONS);
    assert_int_equal(m.rows[0].version, 1);
    assert_string_equal(m.rows[0].name, "schema");
    assert_int_equal(m.rows[1].version, 2);
    assert_string_equal(m.rows[1].name, "seed");
    assert_int_equal(m.rows[2].version, 3);
    assert_string_equal(m.rows[2].name, "nats_credentials");
    assert_int_equal(m.rows[3].version, 4);
    assert_string_equal(m.rows[3].name, "microservice_events");
    assert_int_equal(m.rows[4].version, 5);
    assert_string_equal(m.rows[4].name, "microservice_restarts");
    for (size_t i = 0; i < m.n; i++) {
        assert_true(m.rows[i].applied_at >= before && m.rows[i].applied_at <= after);
    }
    int64_t recorded = -1;
    int64_t known = -1;
    assert_int_equal(ctl_db_schema_version(db, &recorded, &known, NULL), IOF_OK);
    assert_int_equal(recorded, N_MIGRATIONS);
    assert_int_equal(known, N_MIGRATIONS);

    /* A bare database reports version 0 without creating anything. */
    struct ctl_db *bare = NULL;
    char bare_url[600] = ":memory:";
    assert_int_equal(test_db_is_pg() ? test_db_make(f->dir, "", bare_url, sizeof bare_url) : 0, 0);
    assert_int_equal(ctl_db_open(bare_url, &bare, NULL), IOF_OK);
    assert_int_equal(ctl_db_schema_version(bare, &recorded, &known, NULL), IOF_OK);
    assert_int_equal(recorded, 0);
    assert_int_equal(known, N_MIGRATIONS);
    assert_false(table_exists(bare, "schema_migrations"));
    ctl_db_close(bare);
    test_db_drop(bare_url);
    ctl_store_close(s);
}

static int64_t seed_rows(struct ctl_db *db) {
    return query_int(db,
                     "SELECT (SELECT COUNT(*) FROM catalog_items) * 1000000"
                     " + (SELECT COUNT(*) FROM catalog_item_images) * 1000"
                     " + (SELECT COUNT(*) FROM registries) * 10"
                     " + (SELECT COUNT(*) FROM fog_types)");
}

static void test_reopen_does_not_reapply(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);
    struct ctl_db *db = ctl_store_db(s);
    int64_t seeded = seed_rows(db);
    assert_int_equal(seeded, 17 * 1000000 + 34 * 1000 + 2 * 10 + 3);
    struct migration_rows first = read_migrations(db);
    ctl_store_close(s);

    for (int round = 0; round < 2; round++) {
        s = store_ok(f->path);
        db = ctl_store_db(s);
        assert_int_equal(seed_rows(db), seeded);
        struct migration_rows again = read_migrations(db);
        assert_int_equal(again.n, N_MIGRATIONS);
        for (size_t i = 0; i < again.n; i++) {
            assert_int_equal(again.rows[i].version, first.rows[i].version);
            assert_int_equal(again.rows[i].applied_at, first.rows[i].applied_at);
        }
        /* Migrating an up-to-date database again changes nothing either. */
        assert_int_equal(ctl_db_migrate(db, NULL), IOF_OK);
        assert_int_equal(seed_rows(db), seeded);
        ctl_store_close(s);
    }
}

static void test_newer_database_refused(void **state) {
    struct fixture *f = *state;
    ctl_store_close(store_ok(f->path));

    struct ctl_db *db = NULL;
    assert_int_equal(ctl_db_open(f->path, &db, NULL), IOF_OK);
    exec_ok(db,
            "INSERT INTO schema_migrations (version, name, applied_at)"
            " VALUES (7, 'from_the_future', 0)");
    ctl_db_close(db);

    struct ctl_store *s = NULL;
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_int_equal(ctl_store_open(f->path, &s, &d), IOF_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(d.msg, "version 7"));
    assert_non_null(strstr(d.msg, "newer"));

    /* Left untouched. */
    assert_int_equal(ctl_db_open(f->path, &db, NULL), IOF_OK);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM schema_migrations"), N_MIGRATIONS + 1);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM catalog_items"), 17);
    assert_int_equal(ctl_db_migrate(db, &d), IOF_EUNSUPPORTED);
    ctl_db_close(db);
}

/* A database at version 1 (schema only) gets the seed on the next start, once. */
static void test_partial_database_completed(void **state) {
    struct fixture *f = *state;
    ctl_store_close(store_ok(f->path));
    struct ctl_db *db = NULL;
    assert_int_equal(ctl_db_open(f->path, &db, NULL), IOF_OK);
    exec_ok(db, "DELETE FROM catalog_item_images");
    exec_ok(db, "DELETE FROM fog_types");
    exec_ok(db, "DELETE FROM catalog_items");
    exec_ok(db, "DELETE FROM registries");
    exec_ok(db, "DROP TABLE fog_nats_credentials");                      /* what migration 3 made */
    exec_ok(db, "ALTER TABLE microservice_statuses DROP COLUMN events"); /* migration 4 */
    exec_ok(db, "ALTER TABLE microservice_statuses DROP COLUMN restarts"); /* migration 5 */
    exec_ok(db, "DELETE FROM schema_migrations WHERE version >= 2");
    ctl_db_close(db);

    struct ctl_store *s = store_ok(f->path);
    db = ctl_store_db(s);
    assert_int_equal(seed_rows(db), 17 * 1000000 + 34 * 1000 + 2 * 10 + 3);
    assert_int_equal(read_migrations(db).n, N_MIGRATIONS);
    ctl_store_close(s);
}

/* ---- seed data ---- */

static void test_seed_registries_and_fog_types(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);

    struct ctl_store_registry *regs = NULL;
    size_t n = 0;
    assert_int_equal(ctl_store_registries_list(s, &regs, &n, NULL), IOF_OK);
    assert_int_equal(n, 2);
    assert_int_equal(regs[0].id, 1);
    assert_string_equal(regs[0].url, "registry.hub.docker.com");
    assert_true(regs[0].is_public);
    assert_true(regs[0].is_secure);
    assert_false(regs[0].requires_cert);
    assert_string_equal(regs[0].username, "");
    assert_string_equal(regs[0].password, "");
    assert_int_equal(regs[0].user_id, 0);
    assert_int_equal(regs[1].id, 2);
    assert_string_equal(regs[1].url, "from_cache");
    assert_true(regs[1].is_public);
    ctl_store_registries_free(regs, n);

    struct ctl_store_registry reg;
    assert_int_equal(ctl_store_registry_get(s, 2, &reg, NULL), IOF_OK);
    assert_string_equal(reg.url, "from_cache");
    ctl_store_registry_clear(&reg);
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_int_equal(ctl_store_registry_get(s, 3, &reg, &d), IOF_ENOENT);
    assert_non_null(strstr(d.msg, "3"));

    struct ctl_store_fog_type *types = NULL;
    assert_int_equal(ctl_store_fog_types_list(s, &types, &n, NULL), IOF_OK);
    assert_int_equal(n, 3);
    assert_int_equal(types[0].id, 0);
    assert_string_equal(types[0].name, "Unspecified");
    assert_string_equal(types[0].image, "iointegrator0.png");
    assert_string_equal(types[0].description,
                        "Unspecified device. Fog Type will be selected on provision");
    assert_int_equal(types[1].id, 1);
    assert_string_equal(types[1].name, "Standard Linux (x86)");
    assert_string_equal(types[1].image, "iointegrator1.png");
    assert_non_null(strstr(types[1].description, "Ubuntu, Red Hat, and CentOS."));
    assert_int_equal(types[2].id, 2);
    assert_string_equal(types[2].name, "ARM Linux");
    assert_string_equal(types[2].image, "iointegrator2.png");
    ctl_store_fog_types_free(types, n);
    assert_int_equal(query_int(ctl_store_db(s),
                               "SELECT COUNT(*) FROM fog_types WHERE network_catalog_item_id = 1"
                               " AND hal_catalog_item_id = 3 AND bluetooth_catalog_item_id = 2"),
                     3);
    ctl_store_close(s);
}

struct expected_item {
    int64_t id;
    const char *name;
    const char *category;
    bool is_public;
    const char *x86;
    const char *arm;
    const char *picture;
};

static const struct expected_item expected_items[] = {
    {1,
     "Networking Tool",
     "SYSTEM",
     false,
     "iofog/core-networking",
     "iofog/core-networking-arm",
     "none.png"},
    {2, "RESTBlue", "SYSTEM", false, "iofog/restblue", "iofog/restblue-arm", "none.png"},
    {3, "HAL", "SYSTEM", false, "iofog/hal", "iofog/hal-arm", "none.png"},
    {4,
     "Diagnostics",
     "UTILITIES",
     true,
     "iofog/diagnostics",
     "iofog/diagnostics-arm",
     "images/build/580.png"},
    {5,
     "Hello Web Demo",
     "UTILITIES",
     true,
     "iofog/hello-web",
     "iofog/hello-web-arm",
     "images/build/4.png"},
    {6,
     "Open Weather Map Data",
     "SENSORS",
     true,
     "iofog/open-weather-map",
     "iofog/open-weather-map-arm",
     "images/build/8.png"},
    {7,
     "JSON REST API",
     "UTILITIES",
     true,
     "iofog/json-rest-api",
     "iofog/json-rest-api-arm",
     "images/build/49.png"},
    {8,
     "Temperature Converter",
     "UTILITIES",
     true,
     "iofog/temperature-conversion",
     "iofog/temperature-conversion-arm",
     "images/build/58.png"},
    {9,
     "JSON Sub-Select",
     "UTILITIES",
     true,
     "iofog/json-subselect",
     "iofog/json-subselect-arm",
     "images/build/59.png"},
    {10,
     "Humidity Sensor Simulator",
     "SIMULATOR",
     true,
     "iofog/humidity-sensor-simulator",
     "iofog/humidity-sensor-simulator-arm",
     "images/build/simulator.png"},
    {11,
     "Seismic Sensor Simulator",
     "SIMULATOR",
     true,
     "iofog/seismic-sensor-simulator",
     "iofog/seismic-sensor-simulator-arm",
     "images/build/simulator.png"},
    {12,
     "Temperature Sensor Simulator",
     "SIMULATOR",
     true,
     "iofog/temperature-sensor-simulator",
     "iofog/temperature-sensor-simulator-arm",
     "images/build/simulator.png"},
    {13,
     "Common Logging",
     "UTILITIES",
     true,
     "iofog/common-logging",
     "iofog/common-logging-arm",
     "none.png"},
    {14,
     "JSON Generator",
     "UTILITIES",
     true,
     "iofog/json-generator",
     "iofog/json-generator-arm",
     "none.png"},
    {15, "Router", "SYSTEM", false, "iofog/router:latest", "iofog/router-arm:latest", "none.png"},
    {16, "Proxy", "SYSTEM", false, "iofog/proxy:latest", "iofog/proxy-arm:latest", "none.png"},
    {17,
     "PortRouter",
     "SYSTEM",
     false,
     "iofog/port-router:latest",
     "iofog/port-router:latest",
     "none.png"},
};
#define N_ITEMS (sizeof expected_items / sizeof expected_items[0])

static void check_item(const struct ctl_store_catalog_item *it, const struct expected_item *e) {
    assert_int_equal(it->id, e->id);
    assert_string_equal(it->name, e->name);
    assert_string_equal(it->category, e->category);
    assert_int_equal(it->is_public, e->is_public);
    assert_string_equal(it->publisher, "Eclipse ioFog");
    assert_string_equal(it->picture, e->picture);
    assert_int_equal(it->registry_id, 1);
    assert_int_equal(it->user_id, 0);
    assert_int_equal(it->disk_required, 0);
    assert_int_equal(it->ram_required, 0);
    assert_non_null(it->description);
    assert_int_equal(it->n_images, 2);
    assert_int_equal(it->images[0].fog_type_id, 1);
    assert_string_equal(it->images[0].container_image, e->x86);
    assert_int_equal(it->images[1].fog_type_id, 2);
    assert_string_equal(it->images[1].container_image, e->arm);
    assert_false(it->has_input_type); /* the classic seeders define no message types */
    assert_false(it->has_output_type);
}

static void test_seed_catalog(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);

    struct ctl_store_catalog_item *items = NULL;
    size_t n = 0;
    assert_int_equal(ctl_store_catalog_items_list(s, &items, &n, NULL), IOF_OK);
    assert_int_equal(n, N_ITEMS);
    for (size_t i = 0; i < n; i++) {
        check_item(&items[i], &expected_items[i]);
    }
    /* Items 1-14: the ARM image is the x86 one plus "-arm". */
    for (size_t i = 0; i < 14; i++) {
        char arm[128];
        (void)snprintf(arm, sizeof arm, "%s-arm", items[i].images[0].container_image);
        assert_string_equal(items[i].images[1].container_image, arm);
    }
    assert_string_equal(items[0].description, "The built-in networking tool for Eclipse ioFog.");
    assert_null(items[0].config_example);
    assert_string_equal(items[5].config_example,
                        "{\"citycode\":\"5391997\",\"apikey\":\"6141811a6136148a00133488eadff0fb\","
                        "\"frequency\":1000}");
    assert_non_null(strstr(items[6].config_example, "\"outputfields\":{\"publisher\":\"source\""));
    assert_string_equal(items[8].config_example, "{}");
    assert_string_equal(items[12].config_example,
                        "{\"access_tokens\": [\"Some_Access_Token\"], \"cleanfrequency\": "
                        "\"1h40m\", \"ttl\": \"24h\"}");
    assert_string_equal(items[13].description,
                        "Container generates ioMessages with contentdata as complex JSON object.");
    ctl_store_catalog_items_free(items, n);

    struct ctl_store_catalog_item it;
    assert_int_equal(ctl_store_catalog_item_get(s, 3, &it, NULL), IOF_OK);
    check_item(&it, &expected_items[2]);
    assert_string_equal(it.description, "REST API for Hardware Abstraction layer.");
    ctl_store_catalog_item_clear(&it);
    assert_int_equal(ctl_store_catalog_item_get(s, 15, &it, NULL), IOF_OK);
    assert_string_equal(it.name, "Router");
    ctl_store_catalog_item_clear(&it);
    assert_int_equal(ctl_store_catalog_item_get(s, 999, &it, NULL), IOF_ENOENT);

    /* Message types and an item without images come back too; new ids continue after 17. */
    struct ctl_db *db = ctl_store_db(s);
    int64_t id = 0;
    assert_int_equal(ctl_db_exec(db,
                                 "INSERT INTO catalog_items (name, category) VALUES ('mine', 'X')"
                                 " RETURNING id",
                                 NULL,
                                 0,
                                 read_int,
                                 &id,
                                 NULL,
                                 NULL),
                     IOF_OK);
    assert_int_equal(id, 18);
    exec_ok(db,
            "INSERT INTO catalog_item_input_types (catalog_item_id, info_type, info_format)"
            " VALUES (18, 'temperature', 'decimal/celsius')");
    assert_int_equal(ctl_store_catalog_item_get(s, 18, &it, NULL), IOF_OK);
    assert_int_equal(it.n_images, 0);
    assert_null(it.images);
    assert_true(it.has_input_type);
    assert_string_equal(it.input_info_type, "temperature");
    assert_string_equal(it.input_info_format, "decimal/celsius");
    assert_false(it.has_output_type);
    assert_string_equal(it.config_example, "{}");
    assert_string_equal(it.picture, "images/shared/default.png");
    ctl_store_catalog_item_clear(&it);
    ctl_store_close(s);
}

/* ---- constraints of the schema ---- */

static void insert_owner_fixture(struct ctl_db *db) {
    exec_ok(db,
            "INSERT INTO users (id, first_name, last_name, email, password_hash)"
            " VALUES (1, 'Ada', 'Lovelace', 'ada@example.com', '$argon2id$x'),"
            " (2, 'Bob', 'Builder', 'bob@example.com', '$argon2id$y')");
    exec_ok(db, "INSERT INTO fogs (uuid, name, user_id, fog_type_id) VALUES ('fog-a', 'a', 1, 1)");
    exec_ok(db, "INSERT INTO fogs (uuid, name, user_id) VALUES ('fog-b', 'b', 2)");
    exec_ok(db,
            "INSERT INTO applications (id, name, user_id, is_activated) VALUES (1, 'app', 1, 1)");
    exec_ok(db,
            "INSERT INTO microservices (uuid, name, fog_uuid, application_id, user_id,"
            " catalog_item_id) VALUES ('ms-1', 'one', 'fog-a', 1, 1, 5),"
            " ('ms-2', 'two', 'fog-a', 1, 1, NULL)");
    exec_ok(db,
            "INSERT INTO microservice_ports (microservice_uuid, port_internal, port_external)"
            " VALUES ('ms-1', 80, 8080)");
    exec_ok(db,
            "INSERT INTO microservice_public_ports (port_id, host_fog_uuid, public_port)"
            " VALUES (1, 'fog-b', 6001)");
    exec_ok(
        db,
        "INSERT INTO microservice_envs (microservice_uuid, key, value) VALUES ('ms-1', 'A', 'b')");
    exec_ok(db, "INSERT INTO microservice_args (microservice_uuid, cmd) VALUES ('ms-1', '--x')");
    exec_ok(db,
            "INSERT INTO volume_mappings (microservice_uuid, host_destination,"
            " container_destination, access_mode) VALUES ('ms-1', '/h', '/c', 'ro')");
    exec_ok(db, "INSERT INTO microservice_statuses (microservice_uuid) VALUES ('ms-1')");
    exec_ok(db,
            "INSERT INTO catalog_item_images (microservice_uuid, fog_type_id, container_image)"
            " VALUES ('ms-2', 1, 'me/two')");
    exec_ok(db,
            "INSERT INTO routings (name, application_id, source_microservice_uuid,"
            " dest_microservice_uuid) VALUES ('r', 1, 'ms-1', 'ms-2')");
    exec_ok(db, "INSERT INTO fog_changes (fog_uuid, version, flag_config) VALUES ('fog-a', 1, 1)");
    exec_ok(db,
            "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
            " VALUES ('fog-a', 'h1', 1)");
}

static void test_foreign_keys_and_cascades(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);
    struct ctl_db *db = ctl_store_db(s);
    insert_owner_fixture(db);

    /* Missing parents are refused. */
    assert_int_equal(exec_err(db,
                              "INSERT INTO microservices (uuid, name, fog_uuid)"
                              " VALUES ('ms-x', 'x', 'no-such-fog')"),
                     IOF_ECONFLICT);
    assert_int_equal(exec_err(db,
                              "INSERT INTO microservice_ports (microservice_uuid, port_internal,"
                              " port_external) VALUES ('no-such-ms', 1, 1)"),
                     IOF_ECONFLICT);
    assert_int_equal(
        exec_err(db, "INSERT INTO fogs (uuid, name, fog_type_id) VALUES ('f', 'f', 9)"),
        IOF_ECONFLICT);
    /* A registry or fog type still in use cannot go. */
    assert_int_equal(exec_err(db, "DELETE FROM registries WHERE id = 1"), IOF_ECONFLICT);
    assert_int_equal(exec_err(db, "DELETE FROM fog_types WHERE id = 1"), IOF_ECONFLICT);

    /* Deleting the node takes its microservices and everything hanging off them. */
    exec_ok(db, "DELETE FROM fogs WHERE uuid = 'fog-a'");
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM microservices"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM microservice_ports"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM microservice_public_ports"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM microservice_envs"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM microservice_args"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM volume_mappings"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM microservice_statuses"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM routings"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM fog_changes"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM fog_provision_keys"), 0);
    assert_int_equal(
        query_int(db,
                  "SELECT COUNT(*) FROM catalog_item_images WHERE microservice_uuid IS NOT NULL"),
        0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM catalog_item_images"), 34); /* seeded */
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM applications"), 1);

    /* Deleting a user takes their nodes, applications and tokens. */
    exec_ok(db,
            "INSERT INTO access_tokens (user_id, token_hash, expiration_time) VALUES (2, 't', 1)");
    exec_ok(db, "DELETE FROM users WHERE id = 1");
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM applications"), 0);
    exec_ok(db, "DELETE FROM users WHERE id = 2");
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM fogs"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM access_tokens"), 0);
    assert_int_equal(query_int(db, "SELECT COUNT(*) FROM catalog_items"), 17); /* system items */
    ctl_store_close(s);
}

static void test_unique_and_checks(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);
    struct ctl_db *db = ctl_store_db(s);
    insert_owner_fixture(db);

    /* Application names are unique per user. */
    assert_int_equal(exec_err(db, "INSERT INTO applications (name, user_id) VALUES ('app', 1)"),
                     IOF_EEXIST);
    exec_ok(db, "INSERT INTO applications (name, user_id) VALUES ('app', 2)");
    /* E-mail addresses are unique whatever their case. */
    assert_int_equal(exec_err(db,
                              "INSERT INTO users (email, password_hash)"
                              " VALUES ('ADA@example.com', 'h')"),
                     IOF_EEXIST);
    /* One route per source/destination pair, route names unique per application. */
    assert_int_equal(
        exec_err(db,
                 "INSERT INTO routings (name, application_id, source_microservice_uuid,"
                 " dest_microservice_uuid) VALUES ('r2', 1, 'ms-1', 'ms-2')"),
        IOF_EEXIST);
    assert_int_equal(
        exec_err(db,
                 "INSERT INTO routings (name, application_id, source_microservice_uuid,"
                 " dest_microservice_uuid) VALUES ('r', 1, 'ms-2', 'ms-1')"),
        IOF_EEXIST);
    /* Microservice names unique per application; one system node; hashed keys unique. */
    assert_int_equal(exec_err(db,
                              "INSERT INTO microservices (uuid, name, application_id)"
                              " VALUES ('ms-3', 'one', 1)"),
                     IOF_EEXIST);
    exec_ok(db, "UPDATE fogs SET is_system = 1 WHERE uuid = 'fog-a'");
    assert_int_equal(exec_err(db, "UPDATE fogs SET is_system = 1 WHERE uuid = 'fog-b'"),
                     IOF_EEXIST);
    assert_int_equal(exec_err(db,
                              "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
                              " VALUES ('fog-b', 'h1', 1)"),
                     IOF_EEXIST);

    /* Enumerations, ranges and types. */
    assert_int_equal(exec_err(db,
                              "INSERT INTO volume_mappings (microservice_uuid, host_destination,"
                              " container_destination, access_mode) VALUES ('ms-1', '/h', '/c', "
                              "'rx')"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db,
                              "INSERT INTO microservice_ports (microservice_uuid, port_internal,"
                              " port_external, protocol) VALUES ('ms-1', 81, 8081, 'sctp')"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db,
                              "INSERT INTO microservice_ports (microservice_uuid, port_internal,"
                              " port_external) VALUES ('ms-1', 81, 70000)"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db, "UPDATE fogs SET router_mode = 'mesh' WHERE uuid = 'fog-a'"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db, "UPDATE fogs SET bluetooth_enabled = 2 WHERE uuid = 'fog-a'"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db, "UPDATE fogs SET memory_limit = 'lots' WHERE uuid = 'fog-a'"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db,
                              "INSERT INTO catalog_item_images (catalog_item_id, microservice_uuid,"
                              " fog_type_id, container_image) VALUES (5, 'ms-1', 1, 'both')"),
                     IOF_EINVAL);
    assert_int_equal(exec_err(db, "INSERT INTO users (email) VALUES ('nopass@example.com')"),
                     IOF_EINVAL);

    /* Defaults of a new node are the classic agent configuration. */
    assert_int_equal(query_int(db,
                               "SELECT COUNT(*) FROM fogs WHERE uuid = 'fog-b'"
                               " AND network_interface = 'eth0'"
                               " AND docker_url = 'unix:///var/run/docker.sock'"
                               " AND disk_limit = 50 AND memory_limit = 4096 AND cpu_limit = 80"
                               " AND log_limit = 10 AND log_file_count = 10"
                               " AND status_frequency = 10 AND change_frequency = 20"
                               " AND device_scan_frequency = 20 AND watchdog_enabled = 1"
                               " AND docker_pruning_frequency = 1 AND available_disk_threshold = 20"
                               " AND log_level = 'INFO' AND daemon_status = 'UNKNOWN'"
                               " AND router_mode = 'edge' AND fog_type_id = 0"
                               " AND ip_address_external = '0.0.0.0' AND created_at > 0"),
                     1);
    ctl_store_close(s);
}

/* ---- change tracking ---- */

static void add_fog(struct ctl_store *s, const char *uuid) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_TEXT(uuid)};
    assert_int_equal(ctl_db_exec(ctl_store_db(s),
                                 "INSERT INTO fogs (uuid, name) VALUES (?, ?)",
                                 p,
                                 2,
                                 NULL,
                                 NULL,
                                 NULL,
                                 NULL),
                     IOF_OK);
}

static void expect_flags(struct ctl_store *s, const char *uuid, uint32_t mask, int64_t version) {
    uint32_t m = 0xffffffffu;
    int64_t v = -1;
    assert_int_equal(ctl_store_flags_get(s, uuid, &m, &v, NULL), IOF_OK);
    assert_int_equal(m, mask);
    assert_int_equal(v, version);
}

static void test_change_flags(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);
    add_fog(s, "fog-1");
    add_fog(s, "fog-2");
    expect_flags(s, "fog-1", 0, 0);

    int64_t v = 0;
    const uint32_t A = CTL_FLAG_MICROSERVICE_CONFIG;
    const uint32_t B = CTL_FLAG_ROUTING;
    assert_int_equal(ctl_store_flags_raise(s, "fog-1", A, &v, NULL), IOF_OK);
    assert_int_equal(v, 1);
    assert_int_equal(ctl_store_flags_raise(s, "fog-1", B, &v, NULL), IOF_OK);
    assert_int_equal(v, 2);
    expect_flags(s, "fog-1", A | B, 2);

    /* The agent handled what it saw at version 1: only B stays. */
    assert_int_equal(ctl_store_flags_ack(s, "fog-1", 1, NULL), IOF_OK);
    expect_flags(s, "fog-1", B, 2);

    /* A raised again while the agent works on version 2; acking 2 keeps it. */
    assert_int_equal(ctl_store_flags_raise(s, "fog-1", A, &v, NULL), IOF_OK);
    assert_int_equal(v, 3);
    assert_int_equal(ctl_store_flags_ack(s, "fog-1", 2, NULL), IOF_OK);
    expect_flags(s, "fog-1", A, 3);
    assert_int_equal(ctl_store_flags_ack(s, "fog-1", 3, NULL), IOF_OK);
    expect_flags(s, "fog-1", 0, 3);

    /* Several flags at once; other nodes are not affected; acking 0 clears nothing. */
    assert_int_equal(
        ctl_store_flags_raise(
            s, "fog-1", CTL_FLAG_CONFIG | CTL_FLAG_REBOOT | CTL_FLAG_ROUTER_CHANGED, &v, NULL),
        IOF_OK);
    assert_int_equal(v, 4);
    assert_int_equal(ctl_store_flags_ack(s, "fog-1", 0, NULL), IOF_OK);
    expect_flags(s, "fog-1", CTL_FLAG_CONFIG | CTL_FLAG_REBOOT | CTL_FLAG_ROUTER_CHANGED, 4);
    expect_flags(s, "fog-2", 0, 0);
    assert_int_equal(ctl_store_flags_ack(s, "fog-2", 5, NULL), IOF_OK); /* nothing to clear */
    assert_int_equal(ctl_store_flags_raise(s, "fog-2", CTL_FLAG_ALL, NULL, NULL), IOF_OK);
    expect_flags(s, "fog-2", CTL_FLAG_ALL, 1);
    /* Acking beyond the current version clears everything but never moves the version. */
    assert_int_equal(ctl_store_flags_ack(s, "fog-2", 100, NULL), IOF_OK);
    expect_flags(s, "fog-2", 0, 1);

    /* Errors. */
    struct iof_diag d;
    iof_diag_clear(&d);
    assert_int_equal(ctl_store_flags_raise(s, "no-such-fog", A, &v, &d), IOF_ENOENT);
    assert_non_null(strstr(d.msg, "no-such-fog"));
    assert_int_equal(ctl_store_flags_get(s, "no-such-fog", &(uint32_t){0}, &v, NULL), IOF_ENOENT);
    assert_int_equal(ctl_store_flags_ack(s, "no-such-fog", 1, NULL), IOF_ENOENT);
    assert_int_equal(ctl_store_flags_raise(s, "fog-1", 0, &v, NULL), IOF_EINVAL);
    assert_int_equal(ctl_store_flags_raise(s, "fog-1", 1u << CTL_FLAG_COUNT, &v, NULL), IOF_EINVAL);
    assert_int_equal(ctl_store_flags_ack(s, "fog-1", -1, NULL), IOF_EINVAL);
    assert_int_equal(v, 4); /* untouched by the failures */
    expect_flags(s, "fog-1", CTL_FLAG_CONFIG | CTL_FLAG_REBOOT | CTL_FLAG_ROUTER_CHANGED, 4);

    /* The classic JSON keys. */
    assert_string_equal(ctl_store_flag_key(0), "config");
    assert_string_equal(ctl_store_flag_key(3), "deleteNode");
    assert_string_equal(ctl_store_flag_key(10), "isImageSnapshot");
    assert_string_equal(ctl_store_flag_key(12), "linkedEdgeResources");
    assert_string_equal(ctl_store_flag_key(13), "routerChanged");
    assert_null(ctl_store_flag_key(CTL_FLAG_COUNT));

    /* Raising inside a caller's transaction is part of it: a rollback undoes it. */
    struct ctl_db *db = ctl_store_db(s);
    assert_int_equal(ctl_db_begin(db, NULL), IOF_OK);
    assert_int_equal(ctl_store_flags_raise(s, "fog-2", CTL_FLAG_PRUNE, &v, NULL), IOF_OK);
    assert_int_equal(v, 2);
    assert_int_equal(ctl_db_rollback(db, NULL), IOF_OK);
    expect_flags(s, "fog-2", 0, 1);
    ctl_store_close(s);
}

#define RAISES_PER_THREAD 100

struct raiser {
    struct ctl_store *store;
    uint32_t flag;
    int64_t versions[RAISES_PER_THREAD];
    int done;
    iof_err err;
};

static void *raiser_main(void *arg) {
    struct raiser *r = arg;
    for (int i = 0; i < RAISES_PER_THREAD; i++) {
        int64_t v = 0;
        uint32_t mask = 0;
        int64_t now = 0;
        iof_err err = ctl_store_flags_raise(r->store, "fog-c", r->flag, &v, NULL);
        if (err == IOF_OK) {
            err = ctl_store_flags_get(r->store, "fog-c", &mask, &now, NULL);
        }
        if (err == IOF_OK && ((mask & r->flag) == 0 || now < v)) {
            err = IOF_EINTERNAL; /* our raise must be visible at once */
        }
        if (err != IOF_OK) {
            r->err = err;
            return NULL;
        }
        r->versions[r->done++] = v;
    }
    return NULL;
}

static void test_change_flags_concurrent(void **state) {
    struct fixture *f = *state;
    struct ctl_store *s = store_ok(f->path);
    add_fog(s, "fog-c");
    static struct raiser r[2];
    memset(r, 0, sizeof r);
    r[0].store = r[1].store = s;
    r[0].flag = CTL_FLAG_CONFIG;
    r[1].flag = CTL_FLAG_TUNNEL;
    pthread_t t[2];
    alarm(60);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, raiser_main, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    alarm(0);
    /* Every raise got its own version: together they are exactly 1 .. 2N, each increasing. */
    bool seen[2 * RAISES_PER_THREAD + 1] = {false};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].err, IOF_OK);
        assert_int_equal(r[i].done, RAISES_PER_THREAD);
        for (int k = 0; k < RAISES_PER_THREAD; k++) {
            int64_t v = r[i].versions[k];
            assert_true(v >= 1 && v <= 2 * RAISES_PER_THREAD);
            assert_false(seen[v]);
            seen[v] = true;
            if (k > 0) {
                assert_true(v > r[i].versions[k - 1]);
            }
        }
    }
    expect_flags(s, "fog-c", CTL_FLAG_CONFIG | CTL_FLAG_TUNNEL, 2 * RAISES_PER_THREAD);
    /* Acking the older thread's last raise keeps the newer one's flag. */
    int newer = r[0].versions[RAISES_PER_THREAD - 1] > r[1].versions[RAISES_PER_THREAD - 1] ? 0 : 1;
    int older = 1 - newer;
    assert_int_equal(
        ctl_store_flags_ack(s, "fog-c", r[older].versions[RAISES_PER_THREAD - 1], NULL), IOF_OK);
    expect_flags(s, "fog-c", r[newer].flag, 2 * RAISES_PER_THREAD);
    assert_int_equal(ctl_store_flags_ack(s, "fog-c", 2 * RAISES_PER_THREAD, NULL), IOF_OK);
    expect_flags(s, "fog-c", 0, 2 * RAISES_PER_THREAD);
    ctl_store_close(s);
}

int main(void) {
    iof_log_set_level(IOF_LOG_WARN); /* no migration chatter */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_does_not_reapply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_database_completed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_registries_and_fog_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys_and_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_and_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_flags_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
