/* GET /api/v3/agent/microservices and /microservices/:uuid: the agent's view of the microservices
 * placed on its node (controller.md §4.3). Only microservices of activated applications that have
 * an image for the node's fog type are sent; `rebuild` is cleared on those sent. A microservice
 * stopped with PATCH /microservices/:uuid/stop is left out, so every agent, classic ones
 * included, stops its container; /start brings it back. An agent that can stop a container
 * without removing it asks with ?includeStopped=true and gets stopped ones too; every item carries
 * our added keys desiredState (RUNNING or STOPPED), name and application (as the newest ioFog
 * line sends them) and publishers (the microservices routed to it). The children
 * (ports, volumes, env, cmd, extra hosts, routes) are read with one query per table for the whole
 * node and attached in memory, so the number of queries does not grow with the microservices. */
#include "controller/api/agent_api.h"

#include "controller/store/db_json.h"

#include <string.h>

#define IMAGE_EXPR                                                                                 \
    "(SELECT i.container_image FROM catalog_item_images i WHERE i.fog_type_id = f.fog_type_id"     \
    " AND (i.microservice_uuid = m.uuid OR i.catalog_item_id = m.catalog_item_id)"                 \
    " ORDER BY i.microservice_uuid IS NULL LIMIT 1)"

static const char SQL_MAIN[] =
    "SELECT * FROM (SELECT m.uuid, " IMAGE_EXPR " AS \"imageId\", m.config,"
    " m.rebuild AS \"rebuild:bool\", m.root_host_access AS \"rootHostAccess:bool\","
    " m.log_size AS \"logSize\", m.registry_id AS \"registryId\", m.image_snapshot AS "
    "\"imageSnapshot\","
    " m.marked_for_delete AS \"delete:bool\", m.delete_with_cleanup AS \"deleteWithCleanup:bool\","
    " m.desired_state AS \"desiredState\", m.name, a.name AS application,"
    " a.id AS \"applicationId\","
    " EXISTS (SELECT 1 FROM routings r WHERE r.dest_microservice_uuid = m.uuid)"
    " AS \"isConsumer:bool\""
    " FROM microservices m JOIN fogs f ON f.uuid = m.fog_uuid"
    " JOIN applications a ON a.id = m.application_id AND a.is_activated = 1"
    " WHERE m.fog_uuid = ?1 AND (m.desired_state = 'RUNNING' OR ?3 = 1)"
    " AND (CAST(?2 AS TEXT) IS NULL OR m.uuid = ?2) ORDER BY m.created_at, m.uuid)"
    " AS t WHERE \"imageId\" IS NOT NULL";

static const struct {
    const char *key;   /* array attached to each microservice */
    const char *sql;   /* rows with the microservice's uuid in column "uuid" */
    const char *value; /* NULL: the row minus "uuid"; else that single column */
} children[] = {
    {"portMappings",
     "SELECT p.microservice_uuid AS uuid, p.port_internal AS \"portInternal\","
     " p.port_external AS \"portExternal\", p.protocol = 'udp' AS \"isUdp:bool\""
     " FROM microservice_ports p JOIN microservices m ON m.uuid = p.microservice_uuid"
     " WHERE m.fog_uuid = ? ORDER BY p.id",
     NULL},
    {"volumeMappings",
     "SELECT v.microservice_uuid AS uuid, v.host_destination AS \"hostDestination\","
     " v.container_destination AS \"containerDestination\", v.access_mode AS \"accessMode\", v.type"
     " FROM volume_mappings v JOIN microservices m ON m.uuid = v.microservice_uuid"
     " WHERE m.fog_uuid = ? ORDER BY v.id",
     NULL},
    {"env",
     "SELECT e.microservice_uuid AS uuid, e.key, e.value FROM microservice_envs e"
     " JOIN microservices m ON m.uuid = e.microservice_uuid WHERE m.fog_uuid = ? ORDER BY e.id",
     NULL},
    {"extraHosts",
     "SELECT h.microservice_uuid AS uuid, h.name || ':' || coalesce(h.value, '') AS v"
     " FROM microservice_extra_hosts h JOIN microservices m ON m.uuid = h.microservice_uuid"
     " WHERE m.fog_uuid = ? ORDER BY h.id",
     "v"},
    {"cmd",
     "SELECT a.microservice_uuid AS uuid, a.cmd AS v FROM microservice_args a"
     " JOIN microservices m ON m.uuid = a.microservice_uuid WHERE m.fog_uuid = ? ORDER BY a.id",
     "v"},
    {"routes",
     "SELECT r.source_microservice_uuid AS uuid, r.dest_microservice_uuid AS v FROM routings r"
     " JOIN microservices m ON m.uuid = r.source_microservice_uuid WHERE m.fog_uuid = ?"
     " ORDER BY r.id",
     "v"},
    /* Ours: the publishers routed to this microservice, wherever they run; the Agent drops a
     * message from NATS whose publisher is not one of them. */
    {"publishers",
     "SELECT r.dest_microservice_uuid AS uuid, r.source_microservice_uuid AS v FROM routings r"
     " JOIN microservices m ON m.uuid = r.dest_microservice_uuid WHERE m.fog_uuid = ?"
     " ORDER BY r.id",
     "v"},
};

/* The node's microservices in the agent shape (only uuid when not NULL); a new array. */
static iof_err load(struct ctl_call *call, const char *only, json_t **out) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    json_t *list = NULL;
    const char *stopped = iof_http_query(call->req, "includeStopped");
    const struct ctl_db_value p[] = {
        CTL_DB_TEXT(call->fog_uuid),
        CTL_DB_TEXT(only),
        CTL_DB_INT(stopped != NULL && strcmp(stopped, "true") == 0 ? 1 : 0)};
    iof_err err = ctl_db_query_json(db, SQL_MAIN, p, 3, &list, call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *by_uuid = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        for (size_t c = 0; c < sizeof children / sizeof children[0]; c++) {
            json_object_set_new(m, children[c].key, json_array());
        }
        json_object_set(by_uuid, json_string_value(json_object_get(m, "uuid")), m);
    }
    for (size_t c = 0; err == IOF_OK && c < sizeof children / sizeof children[0]; c++) {
        json_t *rows = NULL;
        err = ctl_db_query_json(db, children[c].sql, p, 1, &rows, call->d);
        json_t *row;
        json_array_foreach(rows, i, row) {
            json_t *owner =
                json_object_get(by_uuid, json_string_value(json_object_get(row, "uuid")));
            if (owner == NULL) {
                continue; /* not sent: inactive application or no image */
            }
            json_object_del(row, "uuid");
            json_t *item = children[c].value != NULL
                               ? json_incref(json_object_get(row, children[c].value))
                               : json_incref(row);
            json_array_append_new(json_object_get(owner, children[c].key), item);
        }
        json_decref(rows);
    }
    json_decref(by_uuid);
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    *out = list;
    return IOF_OK;
}

/* What was sent with rebuild=true has been seen: clear it. */
static iof_err clear_rebuild(struct ctl_call *call, const json_t *list) {
    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m) {
        if (json_is_true(json_object_get(m, "rebuild"))) {
            const struct ctl_db_value p[] = {
                CTL_DB_TEXT(json_string_value(json_object_get(m, "uuid")))};
            iof_err err = ctl_db_exec(ctl_store_db(call->srv->store),
                                      "UPDATE microservices SET rebuild = 0 WHERE uuid = ?",
                                      p,
                                      1,
                                      NULL,
                                      NULL,
                                      NULL,
                                      call->d);
            if (err != IOF_OK) {
                return err;
            }
        }
    }
    return IOF_OK;
}

static iof_err serve(struct ctl_call *call, const char *only) {
    struct ctl_db *db = ctl_store_db(call->srv->store);
    iof_err err = ctl_db_begin(db, call->d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *list = NULL;
    if ((err = load(call, only, &list)) != IOF_OK || (err = clear_rebuild(call, list)) != IOF_OK) {
        json_decref(list);
        ctl_db_abort(db);
        return err;
    }
    if ((err = ctl_db_commit(db, call->d)) != IOF_OK) {
        json_decref(list);
        return err;
    }
    if (only == NULL) {
        return ctl_reply(call, 200, json_pack("{s:o}", "microservices", list));
    }
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    if (one == NULL) {
        return iof_fail(call->d, IOF_ENOENT, "Invalid microservice UUID '%s'", only);
    }
    return ctl_reply(call, 200, json_pack("{s:o}", "microservice", one));
}

iof_err ctl_agent_get_microservices(struct ctl_call *call) {
    return serve(call, NULL);
}

iof_err ctl_agent_get_microservice(struct ctl_call *call) {
    return serve(call, iof_http_param(call->req, "uuid"));
}
