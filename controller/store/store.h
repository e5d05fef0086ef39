/* The Controller's typed store: opens the database, brings its schema up to date, and offers typed
 * reads and writes of the data model on top of the SQL layer (db.h). It grows with the REST API;
 * today it covers the seeded reference data and the change-flag protocol.
 *
 * Threads: a struct ctl_store may be shared by several threads (it inherits the rules of its
 * struct ctl_db, see db.h). Every function here makes its change in one statement, so it is atomic
 * on its own without opening a transaction; it may also be called by the thread that holds a
 * transaction opened with ctl_db_begin() on ctl_store_db(), and then runs inside it.
 *
 * Ownership: structs filled by this API own their strings (heap, NUL-terminated); release them
 * with the matching _clear or _free function. Ids that are SQL NULL read as 0 (real ids start at
 * 1, except fog type 0 "Unspecified"). Out-parameters are written only on success. */
#ifndef CTL_STORE_STORE_H
#define CTL_STORE_STORE_H

#include "common/error.h"
#include "controller/store/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_store;

/* Opens the database (see ctl_db_open() for url_or_path) and migrates it (ctl_db_migrate()).
 * On success *out is a store the caller closes with ctl_store_close(). */
IOF_NODISCARD iof_err ctl_store_open(const char *url_or_path,
                                     struct ctl_store **out,
                                     struct iof_diag *d);

/* Closes the store and its database handle. NULL is a no-op. */
void ctl_store_close(struct ctl_store *store);

/* The store's database handle, for transactions and queries the typed API does not cover yet.
 * Borrowed: valid until ctl_store_close(). */
struct ctl_db *ctl_store_db(struct ctl_store *store);

/* ---- fog types ---- */

struct ctl_store_fog_type {
    int64_t id; /* 0 unspecified, 1 x86, 2 ARM */
    char *name;
    char *image;       /* may be NULL */
    char *description; /* may be NULL */
};

/* All fog types, ordered by id. On success *out is an array of *n entries (NULL when 0), freed
 * with ctl_store_fog_types_free(). */
IOF_NODISCARD iof_err ctl_store_fog_types_list(struct ctl_store *store,
                                               struct ctl_store_fog_type **out,
                                               size_t *n,
                                               struct iof_diag *d);
void ctl_store_fog_types_free(struct ctl_store_fog_type *types, size_t n);

/* ---- registries ---- */

struct ctl_store_registry {
    int64_t id;
    char *url;
    bool is_public;
    bool is_secure;
    char *certificate;
    bool requires_cert;
    char *username;
    char *password; /* for agents only: never put it in a user API answer */
    char *user_email;
    int64_t user_id; /* 0 = system registry */
};

/* IOF_ENOENT when there is no registry with that id. *out is cleared with
 * ctl_store_registry_clear(). */
IOF_NODISCARD iof_err ctl_store_registry_get(struct ctl_store *store,
                                             int64_t id,
                                             struct ctl_store_registry *out,
                                             struct iof_diag *d);

/* All registries, ordered by id (owner filtering is the caller's job for now). */
IOF_NODISCARD iof_err ctl_store_registries_list(struct ctl_store *store,
                                                struct ctl_store_registry **out,
                                                size_t *n,
                                                struct iof_diag *d);
void ctl_store_registry_clear(struct ctl_store_registry *reg);
void ctl_store_registries_free(struct ctl_store_registry *regs, size_t n);

/* ---- catalog ---- */

struct ctl_store_catalog_image {
    int64_t fog_type_id;
    char *container_image;
};

struct ctl_store_catalog_item {
    int64_t id;
    char *name;
    char *description;    /* may be NULL */
    char *category;       /* may be NULL */
    char *config_example; /* may be NULL */
    char *publisher;      /* may be NULL */
    int64_t disk_required;
    int64_t ram_required;
    char *picture;
    bool is_public;
    int64_t registry_id;
    int64_t user_id;                        /* 0 = seeded by the system */
    struct ctl_store_catalog_image *images; /* ordered by fog type */
    size_t n_images;
    bool has_input_type;
    char *input_info_type; /* may be NULL, also when has_input_type */
    char *input_info_format;
    bool has_output_type;
    char *output_info_type;
    char *output_info_format;
};

/* One catalog item with its images and message types. IOF_ENOENT when there is none with that id.
 * *out is cleared with ctl_store_catalog_item_clear(). */
IOF_NODISCARD iof_err ctl_store_catalog_item_get(struct ctl_store *store,
                                                 int64_t id,
                                                 struct ctl_store_catalog_item *out,
                                                 struct iof_diag *d);

/* Every catalog item with its images and message types, ordered by id (no owner or category
 * filtering yet). One statement, so items and images are read consistently. */
IOF_NODISCARD iof_err ctl_store_catalog_items_list(struct ctl_store *store,
                                                   struct ctl_store_catalog_item **out,
                                                   size_t *n,
                                                   struct iof_diag *d);
void ctl_store_catalog_item_clear(struct ctl_store_catalog_item *item);
void ctl_store_catalog_items_free(struct ctl_store_catalog_item *items, size_t n);

/* ---- change tracking (controller.md §4.1, bounded form) ----
 *
 * Each node has one pending-flags record: a version that grows by one at every raise, and for each
 * flag the version at which it was last raised. An agent reads the flags with their version and
 * acknowledges "up to version V" once it has handled them: flags raised at or before V are
 * cleared, flags raised after V (while the agent was working) stay. */
enum ctl_flag {
    CTL_FLAG_CONFIG = 1u << 0,                 /* "config" */
    CTL_FLAG_VERSION = 1u << 1,                /* "version" */
    CTL_FLAG_REBOOT = 1u << 2,                 /* "reboot" */
    CTL_FLAG_DELETE_NODE = 1u << 3,            /* "deleteNode" */
    CTL_FLAG_MICROSERVICE_LIST = 1u << 4,      /* "microserviceList" */
    CTL_FLAG_MICROSERVICE_CONFIG = 1u << 5,    /* "microserviceConfig" */
    CTL_FLAG_ROUTING = 1u << 6,                /* "routing" */
    CTL_FLAG_REGISTRIES = 1u << 7,             /* "registries" */
    CTL_FLAG_TUNNEL = 1u << 8,                 /* "tunnel" */
    CTL_FLAG_DIAGNOSTICS = 1u << 9,            /* "diagnostics" */
    CTL_FLAG_IMAGE_SNAPSHOT = 1u << 10,        /* "isImageSnapshot" */
    CTL_FLAG_PRUNE = 1u << 11,                 /* "prune" */
    CTL_FLAG_LINKED_EDGE_RESOURCES = 1u << 12, /* "linkedEdgeResources" */
    CTL_FLAG_ROUTER_CHANGED = 1u << 13,        /* "routerChanged" */
};
#define CTL_FLAG_COUNT 14
#define CTL_FLAG_ALL   ((uint32_t)((1u << CTL_FLAG_COUNT) - 1u))

/* The classic JSON key of flag bit i (0 <= i < CTL_FLAG_COUNT), e.g. "isImageSnapshot" for 10;
 * NULL otherwise. Static storage. */
const char *ctl_store_flag_key(unsigned i);

/* Raises the flags in mask (a non-empty subset of CTL_FLAG_ALL, else IOF_EINVAL) for the node and
 * returns the node's new version in *new_version (may be NULL). One statement: atomic on its own.
 * IOF_ENOENT when there is no such node. */
IOF_NODISCARD iof_err ctl_store_flags_raise(struct ctl_store *store,
                                            const char *fog_uuid,
                                            uint32_t mask,
                                            int64_t *new_version,
                                            struct iof_diag *d);

/* The node's pending flags and its current version (0 and 0 for a node nothing was raised for).
 * IOF_ENOENT when there is no such node. */
IOF_NODISCARD iof_err ctl_store_flags_get(struct ctl_store *store,
                                          const char *fog_uuid,
                                          uint32_t *mask,
                                          int64_t *version,
                                          struct iof_diag *d);

/* Clears the node's flags raised at or before acked_version (>= 0, else IOF_EINVAL); later ones
 * stay. The version itself never goes back. IOF_ENOENT when there is no such node. */
IOF_NODISCARD iof_err ctl_store_flags_ack(struct ctl_store *store,
                                          const char *fog_uuid,
                                          int64_t acked_version,
                                          struct iof_diag *d);

#endif
