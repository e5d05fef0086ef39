/* /api/v3/edgeResource(s): versioned descriptions of devices or services at the edge and their
 * links to nodes (controller.md §3.10).
 *
 * A resource is identified by (name, semver version) per user; users see only their own (the
 * admin credential sees all, and for name lookups prefers the resources of the user it acts
 * for). Object shape: {id, name, version, description, interfaceProtocol, display{name,icon,
 * color}, custom{}, orchestrationTags[], interface{endpoints[]}}. Input endpoints are accepted at
 * the top level (classic schema) or inside interface. Linking a resource to a node also gives the
 * node the resource's orchestration tags (as classic); unlinking removes those the node does not
 * get from another linked resource. Link, unlink, and also update and delete of a linked resource,
 * raise `linkedEdgeResources` on the affected nodes in the same transaction (the classic
 * Controller forgets the last two, leaving agents with stale copies). */
#include "controller/api/api.h"
#include "controller/api/substitute.h"

#include "common/clock.h"
#include "common/json.h"
#include "controller/domain/changes.h"
#include "controller/store/db_json.h"
#include "controller/domain/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES_SELECT                                                                                 \
    "SELECT er.id AS id, er.name AS name, er.version AS version, er.description AS description,"   \
    " er.interface_protocol AS \"interfaceProtocol\", er.display_name AS \"dName\","               \
    " er.display_icon AS \"dIcon\", er.display_color AS \"dColor\", er.custom AS \"custom:json\""  \
    " FROM edge_resources er"
#define EP_SELECT                                                                                  \
    "SELECT e.edge_resource_id AS rid, e.name AS name, e.description AS description,"              \
    " e.method AS method, e.url AS url, e.request_type AS \"requestType\","                        \
    " e.response_type AS \"responseType\", e.request_payload_example AS "                          \
    "\"requestPayloadExample\","                                                                   \
    " e.response_payload_example AS \"responsePayloadExample\" FROM edge_resource_endpoints e"     \
    " JOIN edge_resources er ON er.id = e.edge_resource_id"
#define TAG_SELECT                                                                                 \
    "SELECT ert.edge_resource_id AS rid, t.name AS name FROM edge_resource_tags ert"               \
    " JOIN tags t ON t.id = ert.tag_id JOIN edge_resources er ON er.id = ert.edge_resource_id"
/* Parameters: admin flag, user id (then name for the _NAME variants). */
#define OWNED      " WHERE (? <> 0 OR er.user_id = ?)"
#define OWNED_NAME OWNED " AND er.name = ?"
#define BY_ID      " WHERE er.id = ?"

static const char *const SQL_ALL[3] = {
    RES_SELECT OWNED " ORDER BY er.id",
    EP_SELECT OWNED " ORDER BY e.edge_resource_id, e.id",
    TAG_SELECT OWNED " ORDER BY ert.edge_resource_id, t.name",
};
static const char *const SQL_NAME[3] = {
    RES_SELECT OWNED_NAME " ORDER BY er.id",
    EP_SELECT OWNED_NAME " ORDER BY e.edge_resource_id, e.id",
    TAG_SELECT OWNED_NAME " ORDER BY ert.edge_resource_id, t.name",
};
static const char *const SQL_ID[3] = {
    RES_SELECT BY_ID,
    EP_SELECT BY_ID " ORDER BY e.id",
    TAG_SELECT BY_ID " ORDER BY t.name",
};

static const char SQL_FIND[] =
    "SELECT er.id AS id, er.user_id AS \"userId\" FROM edge_resources er"
    " WHERE (? <> 0 OR er.user_id = ?) AND er.name = ? AND er.version = ?"
    " ORDER BY CASE WHEN er.user_id = ? THEN 0 ELSE 1 END, er.id";
static const char SQL_EXISTS[] =
    "SELECT count(*) AS n FROM edge_resources WHERE user_id = ? AND name = ? AND version = ?";
static const char SQL_INSERT[] =
    "INSERT INTO edge_resources (name, version, description, display_name, display_icon,"
    " display_color, interface_protocol, custom, user_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, '{}'), ?) RETURNING id";
static const char SQL_UPDATE[] =
    "UPDATE edge_resources SET name = COALESCE(?, name), description = COALESCE(?, description),"
    " display_name = COALESCE(?, display_name), display_icon = COALESCE(?, display_icon),"
    " display_color = COALESCE(?, display_color),"
    " interface_protocol = COALESCE(?, interface_protocol), custom = COALESCE(?, custom),"
    " updated_at = ? WHERE id = ?";
static const char SQL_INSERT_ENDPOINT[] =
    "INSERT INTO edge_resource_endpoints (edge_resource_id, name, description, method, url,"
    " request_type, response_type, request_payload_example, response_payload_example)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CLEAR_ENDPOINTS[] =
    "DELETE FROM edge_resource_endpoints WHERE edge_resource_id = ?";
static const char SQL_INSERT_TAG[] =
    "INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING";
static const char SQL_LINK_TAG[] = "INSERT INTO edge_resource_tags (edge_resource_id, tag_id)"
                                   " SELECT ?, id FROM tags WHERE name = ? ON CONFLICT DO NOTHING";
static const char SQL_CLEAR_TAGS[] = "DELETE FROM edge_resource_tags WHERE edge_resource_id = ?";
static const char SQL_DELETE[] = "DELETE FROM edge_resources WHERE id = ?";
static const char SQL_LINKED_NODES[] =
    "SELECT fog_uuid AS uuid FROM fog_edge_resources WHERE edge_resource_id = ?";
static const char SQL_FIND_NODE[] =
    "SELECT uuid FROM fogs WHERE uuid = ? AND (? <> 0 OR user_id = ?)";
static const char SQL_LINK[] =
    "INSERT INTO fog_edge_resources (fog_uuid, edge_resource_id) VALUES (?, ?)"
    " ON CONFLICT DO NOTHING";
static const char SQL_LINK_NODE_TAGS[] =
    "INSERT INTO fog_tags (fog_uuid, tag_id) SELECT ?, tag_id FROM edge_resource_tags"
    " WHERE edge_resource_id = ? ON CONFLICT DO NOTHING";
static const char SQL_UNLINK[] =
    "DELETE FROM fog_edge_resources WHERE fog_uuid = ? AND edge_resource_id = ?";
static const char SQL_UNLINK_NODE_TAGS[] =
    "DELETE FROM fog_tags WHERE fog_uuid = ? AND tag_id IN"
    " (SELECT tag_id FROM edge_resource_tags WHERE edge_resource_id = ?) AND tag_id NOT IN"
    " (SELECT ert.tag_id FROM edge_resource_tags ert JOIN fog_edge_resources fer"
    " ON fer.edge_resource_id = ert.edge_resource_id WHERE fer.fog_uuid = ?)";

/* ---- validation ---- */

/* A numeric identifier: digits, no leading zero unless it is "0". Advances *p. */
static bool semver_number(const char **p) {
    const char *s = *p;
    if (!isdigit((unsigned char)*s)) {
        return false;
    }
    if (*s == '0' && isdigit((unsigned char)s[1])) {
        return false;
    }
    while (isdigit((unsigned char)*s)) {
        s++;
    }
    *p = s;
    return true;
}

/* Dot-separated non-empty identifiers of [0-9A-Za-z-]. Advances *p. */
static bool semver_idents(const char **p) {
    const char *s = *p;
    for (;;) {
        const char *start = s;
        while (isalnum((unsigned char)*s) || *s == '-') {
            s++;
        }
        if (s == start) {
            return false;
        }
        if (*s != '.') {
            break;
        }
        s++;
    }
    *p = s;
    return true;
}

/* MAJOR.MINOR.PATCH[-prerelease][+build] (semver.org 2.0). */
static bool semver_valid(const char *v) {
    const char *p = v;
    if (!semver_number(&p) || *p++ != '.' || !semver_number(&p) || *p++ != '.' ||
        !semver_number(&p)) {
        return false;
    }
    if (*p == '-') {
        p++;
        if (!semver_idents(&p)) {
            return false;
        }
    }
    if (*p == '+') {
        p++;
        if (!semver_idents(&p)) {
            return false;
        }
    }
    return *p == '\0';
}

struct resource_fields {
    const char *name, *version, *description, *protocol;
    const char *display_name, *display_icon, *display_color;
    char *custom; /* serialised, owned */
    const json_t *tags, *endpoints;
};

static bool one_of(const char *s, const char *const *set) {
    for (size_t i = 0; set[i] != NULL; i++) {
        if (strcmp(s, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

static iof_err parse_endpoints(struct ctl_call *call, const json_t *arr) {
    static const char *const methods[] = {
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", NULL};
    static const char *const text_keys[] = {"description",
                                            "url",
                                            "requestType",
                                            "responseType",
                                            "requestPayloadExample",
                                            "responsePayloadExample",
                                            NULL};
    size_t i;
    const json_t *ep;
    json_array_foreach(arr, i, ep) {
        const char *name = NULL, *method = NULL, *text = NULL;
        iof_err err;
        if (!json_is_object(ep)) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'endpoints'");
        }
        if ((err = iof_json_get_string(ep, "name", IOF_JSON_OPTIONAL, &name, call->d)) ||
            (err = iof_json_get_string(ep, "method", IOF_JSON_OPTIONAL, &method, call->d))) {
            return err;
        }
        for (size_t k = 0; text_keys[k] != NULL; k++) {
            if ((err = iof_json_get_string(ep, text_keys[k], IOF_JSON_OPTIONAL, &text, call->d))) {
                return err;
            }
        }
        if (name != NULL && (err = ctl_name_check("name", name, call->d)) != IOF_OK) {
            return err;
        }
        if (method != NULL && !one_of(method, methods)) {
            return iof_fail(call->d, IOF_EINVAL, "Invalid format for field 'method'");
        }
    }
    return IOF_OK;
}

static iof_err parse_display(struct ctl_call *call, const json_t *body, struct resource_fields *f) {
    const json_t *display = NULL;
    iof_err err = iof_json_get_object(body, "display", IOF_JSON_OPTIONAL, &display, call->d);
    if (err != IOF_OK || display == NULL) {
        return err;
    }
    if ((err =
             iof_json_get_string(display, "name", IOF_JSON_OPTIONAL, &f->display_name, call->d)) ||
        (err =
             iof_json_get_string(display, "icon", IOF_JSON_OPTIONAL, &f->display_icon, call->d)) ||
        (err = iof_json_get_string(
             display, "color", IOF_JSON_OPTIONAL, &f->display_color, call->d))) {
        return err;
    }
    return IOF_OK;
}

/* Parses a create (names required) or update body. On success f->custom may be owned. */
static iof_err
parse_fields(struct ctl_call *call, const json_t *body, bool create, struct resource_fields *f) {
    static const char *const protocols[] = {"http", "https", "ws", "wss", NULL};
    enum iof_json_need need = create ? IOF_JSON_REQUIRED : IOF_JSON_OPTIONAL;
    struct iof_diag *d = call->d;
    const json_t *custom = NULL, *iface = NULL;
    iof_err err;
    if ((err = iof_json_get_string(body, "name", need, &f->name, d)) ||
        (err = iof_json_get_string(body, "version", need, &f->version, d)) ||
        (err = iof_json_get_string(body, "description", IOF_JSON_OPTIONAL, &f->description, d)) ||
        (err =
             iof_json_get_string(body, "interfaceProtocol", IOF_JSON_OPTIONAL, &f->protocol, d)) ||
        (err = iof_json_get_object(body, "custom", IOF_JSON_OPTIONAL, &custom, d)) ||
        (err = iof_json_get_array(body, "orchestrationTags", IOF_JSON_OPTIONAL, &f->tags, d)) ||
        (err = iof_json_get_array(body, "endpoints", IOF_JSON_OPTIONAL, &f->endpoints, d)) ||
        (err = iof_json_get_object(body, "interface", IOF_JSON_OPTIONAL, &iface, d)) ||
        (err = parse_display(call, body, f))) {
        return err;
    }
    if (f->endpoints == NULL && iface != NULL &&
        (err = iof_json_get_array(iface, "endpoints", IOF_JSON_OPTIONAL, &f->endpoints, d))) {
        return err;
    }
    if (f->name != NULL && (err = ctl_name_check("name", f->name, d)) != IOF_OK) {
        return err;
    }
    if (f->version != NULL && !semver_valid(f->version)) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'version': semver expected");
    }
    if (f->protocol != NULL && !one_of(f->protocol, protocols)) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'interfaceProtocol'");
    }
    size_t i;
    const json_t *tag;
    json_array_foreach(f->tags, i, tag) {
        if (!json_is_string(tag) || json_string_length(tag) == 0) {
            return iof_fail(d, IOF_EINVAL, "Invalid format for field 'orchestrationTags'");
        }
    }
    if (f->endpoints != NULL && (err = parse_endpoints(call, f->endpoints)) != IOF_OK) {
        return err;
    }
    if (custom != NULL && iof_json_dump(custom, &f->custom, NULL) != IOF_OK) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    return IOF_OK;
}

/* ---- reading ---- */

static iof_err shape_one(json_t *res, json_t *endpoints, size_t *ei, json_t *tags, size_t *ti) {
    json_int_t id = json_integer_value(json_object_get(res, "id"));
    json_t *display = json_pack("{s:O, s:O, s:O}",
                                "name",
                                json_object_get(res, "dName"),
                                "icon",
                                json_object_get(res, "dIcon"),
                                "color",
                                json_object_get(res, "dColor"));
    json_t *eps = json_array(), *names = json_array();
    if (display == NULL || eps == NULL || names == NULL ||
        json_object_set_new(res, "display", display) != 0) {
        json_decref(eps);
        json_decref(names);
        return IOF_ENOMEM;
    }
    (void)json_object_del(res, "dName");
    (void)json_object_del(res, "dIcon");
    (void)json_object_del(res, "dColor");
    if (json_object_set_new(res, "orchestrationTags", names) != 0 ||
        json_object_set_new(res, "interface", json_pack("{s:o}", "endpoints", eps)) != 0) {
        return IOF_ENOMEM;
    }
    for (; *ei < json_array_size(endpoints); ++*ei) {
        json_t *ep = json_array_get(endpoints, *ei);
        json_int_t rid = json_integer_value(json_object_get(ep, "rid"));
        if (rid > id) {
            break;
        }
        if (rid == id) {
            (void)json_object_del(ep, "rid");
            if (json_array_append(eps, ep) != 0) {
                return IOF_ENOMEM;
            }
        }
    }
    for (; *ti < json_array_size(tags); ++*ti) {
        json_t *t = json_array_get(tags, *ti);
        json_int_t rid = json_integer_value(json_object_get(t, "rid"));
        if (rid > id) {
            break;
        }
        if (rid == id && json_array_append(names, json_object_get(t, "name")) != 0) {
            return IOF_ENOMEM;
        }
    }
    return IOF_OK;
}

/* The resources selected by sql[0..2] (resources, endpoints, tags; all ordered by resource id)
 * with parameters p, in the API shape. */
static iof_err query_resources(struct ctl_call *call,
                               const char *const sql[3],
                               const struct ctl_db_value *p,
                               size_t np,
                               json_t **out) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    json_t *res = NULL, *eps = NULL, *tags = NULL;
    iof_err err = ctl_db_query_json(db, sql[0], p, np, &res, call->d);
    if (err == IOF_OK) {
        err = ctl_db_query_json(db, sql[1], p, np, &eps, call->d);
    }
    if (err == IOF_OK) {
        err = ctl_db_query_json(db, sql[2], p, np, &tags, call->d);
    }
    size_t ei = 0, ti = 0, i;
    json_t *r;
    json_array_foreach(res, i, r) {
        if (err == IOF_OK && (err = shape_one(r, eps, &ei, tags, &ti)) != IOF_OK) {
            err = iof_fail(call->d, err, "out of memory");
        }
    }
    json_decref(eps);
    json_decref(tags);
    if (err != IOF_OK) {
        json_decref(res);
        return err;
    }
    *out = res;
    return IOF_OK;
}

static iof_err get_by_id(struct ctl_call *call, int64_t id, json_t **out) {
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    json_t *list = NULL;
    iof_err err = query_resources(call, SQL_ID, p, 1, &list);
    if (err != IOF_OK) {
        return err;
    }
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    if (one == NULL) {
        return iof_fail(call->d, IOF_ENOENT, "Edge resource %lld not found", (long long)id);
    }
    *out = one;
    return IOF_OK;
}

/* The id (and owner) of name/version as the caller sees it. */
static iof_err find_resource(
    struct ctl_call *call, const char *name, const char *version, int64_t *id, int64_t *owner) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin),
                                     CTL_DB_INT(call->user_id),
                                     CTL_DB_TEXT(name),
                                     CTL_DB_TEXT(version),
                                     CTL_DB_INT(call->user_id)};
    char nf[200];
    (void)snprintf(nf,
                   sizeof nf,
                   "Edge resource '%.80s' with version '%.40s' not found",
                   name != NULL ? name : "",
                   version != NULL ? version : "");
    json_t *row = NULL;
    iof_err err =
        ctl_db_query_json_one(ctl_store_db(call->srv->store), SQL_FIND, p, 5, nf, &row, call->d);
    if (err == IOF_OK) {
        *id = (int64_t)json_integer_value(json_object_get(row, "id"));
        *owner = (int64_t)json_integer_value(json_object_get(row, "userId"));
        json_decref(row);
    }
    return err;
}

iof_err ctl_edge_resource_template_json(struct ctl_call *call,
                                        const char *name,
                                        const char *version,
                                        json_t **out) {
    struct ctl_call own = *call;
    own.admin = false; /* templates see their user's resources only */
    int64_t id = 0, owner = 0;
    iof_err err = find_resource(&own, name, version, &id, &owner);
    if (err == IOF_ENOENT) {
        iof_diag_clear(call->d);
        *out = NULL;
        return IOF_OK;
    }
    return err != IOF_OK ? err : get_by_id(&own, id, out);
}

static iof_err list_resources(struct ctl_call *call) {
    const struct ctl_db_value p[] = {CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    json_t *list = NULL;
    iof_err err = query_resources(call, SQL_ALL, p, 2, &list);
    return err != IOF_OK ? err : ctl_reply(call, 200, json_pack("{s:o}", "edgeResources", list));
}

static iof_err get_by_name(struct ctl_call *call) {
    const char *name = iof_http_param(call->req, "name");
    const struct ctl_db_value p[] = {
        CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id), CTL_DB_TEXT(name)};
    json_t *list = NULL;
    iof_err err = query_resources(call, SQL_NAME, p, 3, &list);
    if (err != IOF_OK) {
        return err;
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return iof_fail(call->d, IOF_ENOENT, "Edge resource '%.100s' not found", name);
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "edgeResources", list));
}

static iof_err get_by_version(struct ctl_call *call) {
    int64_t id = 0, owner = 0;
    json_t *res = NULL;
    iof_err err = find_resource(
        call, iof_http_param(call->req, "name"), iof_http_param(call->req, "version"), &id, &owner);
    if (err != IOF_OK || (err = get_by_id(call, id, &res)) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 200, res);
}

/* ---- writing (inside a transaction) ---- */

static iof_err write_endpoints(struct ctl_call *call, int64_t id, const json_t *endpoints) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    const struct ctl_db_value pid[] = {CTL_DB_INT(id)};
    iof_err err = ctl_db_exec(db, SQL_CLEAR_ENDPOINTS, pid, 1, NULL, NULL, NULL, call->d);
    size_t i;
    const json_t *ep;
    json_array_foreach(endpoints, i, ep) {
        if (err != IOF_OK) {
            break;
        }
#define EP_TEXT(k) CTL_DB_TEXT(json_string_value(json_object_get(ep, k)))
        const struct ctl_db_value p[] = {CTL_DB_INT(id),
                                         EP_TEXT("name"),
                                         EP_TEXT("description"),
                                         EP_TEXT("method"),
                                         EP_TEXT("url"),
                                         EP_TEXT("requestType"),
                                         EP_TEXT("responseType"),
                                         EP_TEXT("requestPayloadExample"),
                                         EP_TEXT("responsePayloadExample")};
#undef EP_TEXT
        err = ctl_db_exec(db, SQL_INSERT_ENDPOINT, p, 9, NULL, NULL, NULL, call->d);
    }
    return err;
}

static iof_err write_tags(struct ctl_call *call, int64_t id, const json_t *tags) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    const struct ctl_db_value pid[] = {CTL_DB_INT(id)};
    iof_err err = ctl_db_exec(db, SQL_CLEAR_TAGS, pid, 1, NULL, NULL, NULL, call->d);
    size_t i;
    const json_t *tag;
    json_array_foreach(tags, i, tag) {
        const struct ctl_db_value pt[] = {CTL_DB_TEXT(json_string_value(tag))};
        const struct ctl_db_value pl[] = {CTL_DB_INT(id), CTL_DB_TEXT(json_string_value(tag))};
        if (err == IOF_OK) {
            err = ctl_db_exec(db, SQL_INSERT_TAG, pt, 1, NULL, NULL, NULL, call->d);
        }
        if (err == IOF_OK) {
            err = ctl_db_exec(db, SQL_LINK_TAG, pl, 2, NULL, NULL, NULL, call->d);
        }
    }
    return err;
}

static iof_err raise_linked(struct ctl_call *call, int64_t id) {
    const struct ctl_db_value p[] = {CTL_DB_INT(id)};
    json_t *rows = NULL;
    iof_err err =
        ctl_db_query_json(ctl_store_db(call->srv->store), SQL_LINKED_NODES, p, 1, &rows, call->d);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (err == IOF_OK) {
            err = ctl_changes_raise(call->srv,
                                    json_string_value(json_object_get(row, "uuid")),
                                    CTL_FLAG_LINKED_EDGE_RESOURCES,
                                    call->d);
        }
    }
    json_decref(rows);
    return err;
}

static iof_err
check_free(struct ctl_call *call, int64_t owner, const char *name, const char *version) {
    const struct ctl_db_value p[] = {CTL_DB_INT(owner), CTL_DB_TEXT(name), CTL_DB_TEXT(version)};
    json_t *row = NULL;
    iof_err err = ctl_db_query_json_one(
        ctl_store_db(call->srv->store), SQL_EXISTS, p, 3, NULL, &row, call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_int_t n = json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    if (n > 0) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "Edge resource '%.80s' with version '%.40s' already exists",
                        name,
                        version);
    }
    return IOF_OK;
}

static iof_err create_in_tx(struct ctl_call *call, const struct resource_fields *f, json_t **out) {
    iof_err err = check_free(call, call->user_id, f->name, f->version);
    if (err != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(f->name),
                                     CTL_DB_TEXT(f->version),
                                     CTL_DB_TEXT(f->description),
                                     CTL_DB_TEXT(f->display_name),
                                     CTL_DB_TEXT(f->display_icon),
                                     CTL_DB_TEXT(f->display_color),
                                     CTL_DB_TEXT(f->protocol),
                                     CTL_DB_TEXT(f->custom),
                                     CTL_DB_INT(call->user_id)};
    json_t *row = NULL;
    if ((err = ctl_db_query_json_one(
             ctl_store_db(call->srv->store), SQL_INSERT, p, 9, NULL, &row, call->d)) != IOF_OK) {
        return err;
    }
    int64_t id = (int64_t)json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    if ((err = write_endpoints(call, id, f->endpoints)) == IOF_OK &&
        (err = write_tags(call, id, f->tags)) == IOF_OK) {
        err = get_by_id(call, id, out);
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

static iof_err create_resource(struct ctl_call *call) {
    json_t *body = NULL, *res = NULL;
    struct resource_fields f = {0};
    iof_err err = IOF_OK;
    if (call->user_id == 0) {
        return iof_fail(call->d, IOF_ENOENT, "No user exists yet");
    }
    if ((err = ctl_body(call, &body)) == IOF_OK &&
        (err = parse_fields(call, body, true, &f)) == IOF_OK &&
        (err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) == IOF_OK) {
        err = finish(call, create_in_tx(call, &f, &res));
    }
    free(f.custom);
    return err != IOF_OK ? err : ctl_reply(call, 200, res);
}

static iof_err update_in_tx(struct ctl_call *call, const struct resource_fields *f, json_t **out) {
    const char *name = iof_http_param(call->req, "name");
    const char *version = iof_http_param(call->req, "version");
    int64_t id = 0, owner = 0;
    iof_err err = find_resource(call, name, version, &id, &owner);
    if (err != IOF_OK) {
        return err;
    }
    if (f->version != NULL && strcmp(f->version, version) != 0) {
        return iof_fail(call->d,
                        IOF_EINVAL,
                        "The version of an edge resource can't be changed: create a new version");
    }
    if (f->name != NULL && strcmp(f->name, name) != 0 &&
        (err = check_free(call, owner, f->name, version)) != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(f->name),
                                     CTL_DB_TEXT(f->description),
                                     CTL_DB_TEXT(f->display_name),
                                     CTL_DB_TEXT(f->display_icon),
                                     CTL_DB_TEXT(f->display_color),
                                     CTL_DB_TEXT(f->protocol),
                                     CTL_DB_TEXT(f->custom),
                                     CTL_DB_INT(iof_time_now_ms()),
                                     CTL_DB_INT(id)};
    err = ctl_db_exec(ctl_store_db(call->srv->store), SQL_UPDATE, p, 9, NULL, NULL, NULL, call->d);
    if (err == IOF_OK && f->endpoints != NULL) {
        err = write_endpoints(call, id, f->endpoints);
    }
    if (err == IOF_OK && f->tags != NULL) {
        err = write_tags(call, id, f->tags);
    }
    if (err == IOF_OK) {
        err = raise_linked(call, id);
    }
    return err != IOF_OK ? err : get_by_id(call, id, out);
}

static iof_err update_resource(struct ctl_call *call) {
    json_t *body = NULL, *res = NULL;
    struct resource_fields f = {0};
    iof_err err = ctl_body(call, &body);
    if (err == IOF_OK && (err = parse_fields(call, body, false, &f)) == IOF_OK &&
        (err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) == IOF_OK) {
        err = finish(call, update_in_tx(call, &f, &res));
    }
    free(f.custom);
    return err != IOF_OK ? err : ctl_reply(call, 200, res);
}

static iof_err delete_in_tx(struct ctl_call *call) {
    int64_t id = 0, owner = 0;
    iof_err err = find_resource(
        call, iof_http_param(call->req, "name"), iof_http_param(call->req, "version"), &id, &owner);
    if (err == IOF_OK) {
        err = raise_linked(call, id); /* before the links go with the row */
    }
    if (err == IOF_OK) {
        const struct ctl_db_value p[] = {CTL_DB_INT(id)};
        err = ctl_db_exec(
            ctl_store_db(call->srv->store), SQL_DELETE, p, 1, NULL, NULL, NULL, call->d);
    }
    return err;
}

static iof_err delete_resource(struct ctl_call *call) {
    iof_err err = ctl_db_begin(ctl_store_db(call->srv->store), call->d);
    if (err != IOF_OK || (err = finish(call, delete_in_tx(call))) != IOF_OK) {
        return err;
    }
    return ctl_reply(call, 202, NULL);
}

static iof_err link_in_tx(struct ctl_call *call, const char *uuid, bool link) {
    int64_t id = 0, owner = 0;
    iof_err err = find_resource(
        call, iof_http_param(call->req, "name"), iof_http_param(call->req, "version"), &id, &owner);
    if (err != IOF_OK) {
        return err;
    }
    struct ctl_db *db = ctl_store_db(call->srv->store);
    const struct ctl_db_value pn[] = {
        CTL_DB_TEXT(uuid), CTL_DB_BOOL(call->admin), CTL_DB_INT(call->user_id)};
    char nf[120];
    (void)snprintf(nf, sizeof nf, "Invalid ioFog UUID '%.64s'", uuid);
    json_t *row = NULL;
    if ((err = ctl_db_query_json_one(db, SQL_FIND_NODE, pn, 3, nf, &row, call->d)) != IOF_OK) {
        return err;
    }
    json_decref(row);
    const struct ctl_db_value p[] = {CTL_DB_TEXT(uuid), CTL_DB_INT(id)};
    const struct ctl_db_value p3[] = {CTL_DB_TEXT(uuid), CTL_DB_INT(id), CTL_DB_TEXT(uuid)};
    int64_t changed = 0;
    if (link) {
        err = ctl_db_exec(db, SQL_LINK, p, 2, NULL, NULL, &changed, call->d);
        if (err == IOF_OK) {
            err = ctl_db_exec(db, SQL_LINK_NODE_TAGS, p, 2, NULL, NULL, NULL, call->d);
        }
    } else {
        err = ctl_db_exec(db, SQL_UNLINK, p, 2, NULL, NULL, &changed, call->d);
        if (err == IOF_OK) {
            err = ctl_db_exec(db, SQL_UNLINK_NODE_TAGS, p3, 3, NULL, NULL, NULL, call->d);
        }
    }
    if (err == IOF_OK && changed > 0) {
        err = ctl_changes_raise(call->srv, uuid, CTL_FLAG_LINKED_EDGE_RESOURCES, call->d);
    }
    return err;
}

static iof_err link_common(struct ctl_call *call, bool link) {
    json_t *body = NULL;
    const char *uuid = NULL;
    iof_err err = ctl_body(call, &body);
    if (err != IOF_OK ||
        (err = iof_json_get_string(body, "uuid", IOF_JSON_REQUIRED, &uuid, call->d)) ||
        (err = ctl_db_begin(ctl_store_db(call->srv->store), call->d)) ||
        (err = finish(call, link_in_tx(call, uuid, link)))) {
        return err;
    }
    return ctl_reply(call, 200, NULL);
}

static iof_err link_resource(struct ctl_call *call) {
    return link_common(call, true);
}

static iof_err unlink_resource(struct ctl_call *call) {
    return link_common(call, false);
}

const struct ctl_route ctl_routes_edge_resource[] = {
    {"GET", "/api/v3/edgeResources", list_resources, CTL_AUTH_USER},
    {"GET", "/api/v3/edgeResource/:name/:version", get_by_version, CTL_AUTH_USER},
    {"GET", "/api/v3/edgeResource/:name", get_by_name, CTL_AUTH_USER},
    {"PUT", "/api/v3/edgeResource/:name/:version", update_resource, CTL_AUTH_USER},
    {"DELETE", "/api/v3/edgeResource/:name/:version", delete_resource, CTL_AUTH_USER},
    {"POST", "/api/v3/edgeResource", create_resource, CTL_AUTH_USER},
    {"POST", "/api/v3/edgeResource/:name/:version/link", link_resource, CTL_AUTH_USER},
    {"DELETE", "/api/v3/edgeResource/:name/:version/link", unlink_resource, CTL_AUTH_USER},
};
const size_t ctl_routes_edge_resource_count =
    sizeof ctl_routes_edge_resource / sizeof ctl_routes_edge_resource[0];
