/* /api/v3/registries: container registries agents pull from (controller.md §3.5, §5.2).
 *
 * A user sees their own registries and the public ones; passwords are kept for the agents but
 * never returned here: the classic shape's "password" key is always "". Registries 1 (Docker Hub)
 * and 2 (the agent's local cache) belong to the system and cannot be changed or deleted. A registry
 * still used by a catalog item or a microservice cannot be deleted (409, instead of the classic
 * silent cascade). Every write raises the `registries` change flag on every node of the registry's
 * owner, in the same transaction. */
#include "controller/api/api.h"

#include "common/json.h"
#include "controller/domain/changes.h"
#include "controller/store/db_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_LIST[] =
    "SELECT id, url, is_public AS \"isPublic:bool\", secure AS \"isSecure:bool\", certificate,"
    " requires_cert AS \"requiresCert:bool\", user_name AS username, '' AS password,"
    " user_email AS \"userEmail\", user_id AS \"userId\" FROM registries"
    " WHERE ? <> 0 OR is_public = 1 OR user_id = ? ORDER BY id";
static const char SQL_FIND[] = "SELECT id, user_id AS \"userId\", requires_cert AS "
                               "\"requiresCert\", certificate FROM registries"
                               " WHERE id = ? AND (? <> 0 OR user_id = ? OR user_id IS NULL)";
static const char SQL_INSERT[] =
    "INSERT INTO registries (url, is_public, user_name, password, user_email, requires_cert,"
    " certificate, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id";
static const char SQL_UPDATE[] =
    "UPDATE registries SET url = COALESCE(?, url), is_public = COALESCE(?, is_public),"
    " user_name = COALESCE(?, user_name), password = COALESCE(?, password),"
    " user_email = COALESCE(?, user_email), requires_cert = COALESCE(?, requires_cert),"
    " certificate = COALESCE(?, certificate) WHERE id = ?";
static const char SQL_USED[] =
    "SELECT (SELECT count(*) FROM catalog_items WHERE registry_id = ?) AS items,"
    " (SELECT count(*) FROM microservices WHERE registry_id = ?) AS microservices";
static const char SQL_DELETE[] = "DELETE FROM registries WHERE id = ?";

#define CERT_REQUIRED                                                                              \
    "Property \"certificate\" is required if property \"requiresCert\" is set to true"

struct registry_fields {
    const char *url, *username, *password, *email, *certificate;
    bool is_public, requires_cert;
    bool has_public, has_requires_cert;
};

static bool present(const json_t *body, const char *key) {
    const json_t *v = json_object_get(body, key);
    return v != NULL && !json_is_null(v);
}

static iof_err
parse_fields(struct ctl_call *call, const json_t *body, bool create, struct registry_fields *f) {
    enum iof_json_need need = create ? IOF_JSON_REQUIRED : IOF_JSON_OPTIONAL;
    struct iof_diag *d = call->d;
    iof_err err;
    if ((err = iof_json_get_string(body, "url", need, &f->url, d)) ||
        (err = iof_json_get_bool(body, "isPublic", need, &f->is_public, d)) ||
        (err = iof_json_get_string(body, "username", need, &f->username, d)) ||
        (err = iof_json_get_string(body, "password", need, &f->password, d)) ||
        (err = iof_json_get_string(body, "email", need, &f->email, d)) ||
        (err = iof_json_get_bool(body, "requiresCert", IOF_JSON_OPTIONAL, &f->requires_cert, d)) ||
        (err = iof_json_get_string(body, "certificate", IOF_JSON_OPTIONAL, &f->certificate, d))) {
        return err;
    }
    f->has_public = present(body, "isPublic");
    f->has_requires_cert = present(body, "requiresCert");
    if (f->url != NULL && *f->url == '\0') {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'url'");
    }
    if (f->has_requires_cert && f->requires_cert &&
        (f->certificate == NULL || *f->certificate == '\0') && create) {
        return iof_fail(d, IOF_EINVAL, CERT_REQUIRED);
    }
    return IOF_OK;
}

static iof_err registry_id(struct ctl_call *call, int64_t *out) {
    const char *text = iof_http_param(call->req, "id");
    char *end = NULL;
    long long id = text != NULL ? strtoll(text, &end, 10) : 0;
    if (text == NULL || end == text || *end != '\0' || id <= 0) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid Registry Id '%s'", text != NULL ? text : "");
    }
    *out = id;
    return IOF_OK;
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

static iof_err list_registries(struct ctl_call *call) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *rows = NULL;
    iof_err err = ctl_db_query_json(ctl_store_db(call->srv->store), SQL_LIST, p, 2, &rows, call->d);
    if (err != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "registries", rows));
}

static iof_err create_in_tx(struct ctl_call *call, const struct registry_fields *f, int64_t *id) {
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(f->url),
        CTL_DB_BOOL(f->is_public),
        CTL_DB_TEXT(f->username),
        CTL_DB_TEXT(f->password),
        CTL_DB_TEXT(f->email),
        CTL_DB_BOOL(f->requires_cert),
        CTL_DB_TEXT(f->certificate != NULL ? f->certificate : ""),
        CTL_DB_INT(call->user_id),
    };
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(
        ctl_store_db(call->srv->store), SQL_INSERT, p, 8, NULL, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t new_id = (int64_t)json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    err = ctl_changes_raise_user_nodes(call->srv, call->user_id, CTL_FLAG_REGISTRIES, call->d);
    if (err == IOF_OK) {
        *id = new_id;
    }
    return err;
}

static iof_err create_registry(struct ctl_call *call) {
    json_t *body = NULL;
    struct registry_fields f = {0};
    iof_err err = IOF_OK;
    if (call->user_id == 0) {
        return iof_fail(call->d, IOF_ENOENT, "No user exists yet");
    }
    if ((err = ctl_body(call, &body)) || (err = parse_fields(call, body, true, &f))) {
        return err;
    }
    int64_t id = 0;
    if ((err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) != IOF_OK ||
        (err = finish(call, create_in_tx(call, &f, &id))) != IOF_OK) {
        return err;
    }
    IOF_INFO("registries", "created id=%lld user=%lld", (long long)id, (long long)call->user_id);
    return ctl_reply(call, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

/* The caller's registry id (ENOENT if absent or another user's, EINVAL for a system one);
 * *owner, *requires_cert and *has_cert describe it. */
static iof_err find_own(struct ctl_call *call,
                        int64_t id,
                        const char *verb,
                        int64_t *owner,
                        bool *requires_cert,
                        bool *has_cert) {
    const struct ctl_db_value p[] = {
        CTL_DB_INT(id), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *row = NULL;
    char nf[64];
    (void)snprintf(nf, sizeof nf, "Invalid Registry Id '%lld'", (long long)id);
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), SQL_FIND, p, 3, nf, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    int64_t uid = (int64_t)json_integer_value(json_object_get(row, "userId"));
    *requires_cert = json_integer_value(json_object_get(row, "requiresCert")) != 0;
    const char *cert = json_string_value(json_object_get(row, "certificate"));
    *has_cert = cert != NULL && *cert != '\0';
    json_decref(row);
    if (uid == 0) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Registry %lld is a system registry and can't be %s",
                        (long long)id,
                        verb);
    }
    *owner = uid;
    return IOF_OK;
}

static iof_err update_in_tx(struct ctl_call *call, int64_t id, const struct registry_fields *f) {
    int64_t owner = 0;
    bool requires_cert = false, has_cert = false;
    iof_err err = find_own(call, id, "changed", &owner, &requires_cert, &has_cert);
    if (err != IOF_OK) {
        return err;
    }
    bool will_require = f->has_requires_cert ? f->requires_cert : requires_cert;
    bool will_have = f->certificate != NULL ? *f->certificate != '\0' : has_cert;
    if (will_require && !will_have) {
        return iof_fail(call->d, IOF_EINVAL, CERT_REQUIRED);
    }
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(f->url),
        f->has_public ? CTL_DB_BOOL(f->is_public) : CTL_DB_NULLV,
        CTL_DB_TEXT(f->username),
        CTL_DB_TEXT(f->password),
        CTL_DB_TEXT(f->email),
        f->has_requires_cert ? CTL_DB_BOOL(f->requires_cert) : CTL_DB_NULLV,
        CTL_DB_TEXT(f->certificate),
        CTL_DB_INT(id),
    };
    err = ctl_db_exec(ctl_store_db(call->srv->store), SQL_UPDATE, p, 8, NULL, NULL, NULL, call->d);
    if (err == IOF_OK) {
        err = ctl_changes_raise_user_nodes(call->srv, owner, CTL_FLAG_REGISTRIES, call->d);
    }
    return err;
}

static iof_err update_registry(struct ctl_call *call) {
    json_t *body = NULL;
    struct registry_fields f = {0};
    int64_t id = 0;
    iof_err err = registry_id(call, &id);
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

static iof_err delete_in_tx(struct ctl_call *call, int64_t id) {
    int64_t owner = 0;
    bool requires_cert = false, has_cert = false;
    iof_err err = find_own(call, id, "deleted", &owner, &requires_cert, &has_cert);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_INT(id), CTL_DB_INT(id)};
    json_t *row = NULL;
    struct ctl_db *db = ctl_store_db(call->srv->store);
    if ((err = ctl_db_query_json_one(db, SQL_USED, p, 2, NULL, &row, call->d)) != IOF_OK) {
        return err;
    }
    json_int_t items = json_integer_value(json_object_get(row, "items"));
    json_int_t msvcs = json_integer_value(json_object_get(row, "microservices"));
    json_decref(row);
    if (items > 0 || msvcs > 0) {
        return iof_fail(call->d,
                        IOF_ECONFLICT,
                        "Registry %lld is still used by %lld catalog item(s) and %lld "
                        "microservice(s)",
                        (long long)id,
                        (long long)items,
                        (long long)msvcs);
    }
    err = ctl_db_exec(db, SQL_DELETE, p, 1, NULL, NULL, NULL, call->d);
    if (err == IOF_OK) {
        err = ctl_changes_raise_user_nodes(call->srv, owner, CTL_FLAG_REGISTRIES, call->d);
    }
    return err;
}

static iof_err delete_registry(struct ctl_call *call) {
    int64_t id = 0;
    iof_err err = registry_id(call, &id);
    if (err != IOF_OK || (err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) ||
        (err = finish(call, delete_in_tx(call, id)))) {
        return err;
    }
    IOF_INFO("registries", "deleted id=%lld", (long long)id);
    return ctl_reply(call, 204, NULL);
}

const struct ctl_route ctl_routes_registries[] = {
    {"POST", "/api/v3/registries", create_registry, CTL_AUTH_USER},
    {"GET", "/api/v3/registries", list_registries, CTL_AUTH_USER},
    {"PATCH", "/api/v3/registries/:id", update_registry, CTL_AUTH_USER},
    {"DELETE", "/api/v3/registries/:id", delete_registry, CTL_AUTH_USER},
};
const size_t ctl_routes_registries_count =
    sizeof ctl_routes_registries / sizeof ctl_routes_registries[0];
