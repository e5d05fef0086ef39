/* Helpers shared by the microservice service files (msvc.c, msvc_route.c, msvc_extra.c): joining
 * or opening a transaction, finding a microservice the caller may see, and raising flags. Not for
 * use outside the service layer. */
#ifndef CTL_MSVC_INTERNAL_H
#define CTL_MSVC_INTERNAL_H

#include "controller/domain/msvc.h"
#include "controller/store/db_json.h"

/* Flags a change of a microservice raises on its node (classic "microserviceCommon"), and the
 * same with routing ("microserviceFull"). */
#define CTL_MSVC_FLAGS_COMMON (CTL_FLAG_MICROSERVICE_LIST | CTL_FLAG_MICROSERVICE_CONFIG)
#define CTL_MSVC_FLAGS_FULL   (CTL_MSVC_FLAGS_COMMON | CTL_FLAG_ROUTING)

/* A microservice the caller may see. Strings are borrowed from row, released by
 * ctl_msvc_ref_clear(). */
struct ctl_msvc_ref {
    json_t *row;
    const char *uuid;
    const char *name;
    const char *fog; /* NULL when not placed */
    int64_t app_id;  /* 0 when in no application */
    int64_t user_id;
    int64_t catalog_id; /* 0 when it has its own images */
    int64_t registry_id;
    bool system; /* its catalog item is a SYSTEM one */
};

void ctl_msvc_ref_clear(struct ctl_msvc_ref *ref);

/* Finds a microservice not marked for deletion that the caller owns (any with call->admin).
 * IOF_ENOENT "Invalid microservice UUID '<uuid>'" otherwise. */
IOF_NODISCARD iof_err ctl_msvc_find(struct ctl_call *call,
                                    const char *uuid,
                                    struct ctl_msvc_ref *out);

/* Joins the calling thread's open transaction (*owned = false) or opens one (*owned = true). */
IOF_NODISCARD iof_err ctl_msvc_tx_begin(struct ctl_call *call, bool *owned);

/* Ends what ctl_msvc_tx_begin opened: commits when err is IOF_OK, else rolls back. Returns err or
 * the commit's failure. Does nothing but return err when the transaction was the caller's. */
IOF_NODISCARD iof_err ctl_msvc_tx_end(struct ctl_call *call, bool owned, iof_err err);

/* Raises mask on the node fog (NULL or "": nothing). */
IOF_NODISCARD iof_err ctl_msvc_raise(struct ctl_call *call, const char *fog, uint32_t mask);

/* Runs one statement with params (rows ignored); *changes as ctl_db_exec (may be NULL). */
IOF_NODISCARD iof_err ctl_msvc_exec(struct ctl_call *call,
                                    const char *sql,
                                    const struct ctl_db_value *params,
                                    size_t n,
                                    int64_t *changes);

/* Finds the caller's application (any with call->admin) by id. IOF_ENOENT
 * "Invalid application id <id>". *out gets {id, name, userId}. */
IOF_NODISCARD iof_err ctl_msvc_app_by_id(struct ctl_call *call, int64_t id, json_t **out);

/* Same by name (the caller's first; with call->admin any user's). */
IOF_NODISCARD iof_err ctl_msvc_app_by_name(struct ctl_call *call, const char *name, json_t **out);

/* Inserts one port mapping object (item i of the 'ports' list, for messages) for user_id. */
IOF_NODISCARD iof_err ctl_msvc_port_insert(
    struct ctl_call *call, const char *uuid, int64_t user_id, const json_t *it, size_t i);

/* Inserts one volume mapping object; its id goes to *id_out (may be NULL). */
IOF_NODISCARD iof_err ctl_msvc_volume_insert(
    struct ctl_call *call, const char *uuid, const json_t *it, size_t i, int64_t *id_out);

/* IOF_EINVAL when an external port of the microservice is used twice on its node. */
IOF_NODISCARD iof_err ctl_msvc_check_ports(struct ctl_call *call, const char *uuid);

/* The integer at key of a JSON row, 0 for null or absent. */
int64_t ctl_msvc_jint(const json_t *row, const char *key);

#endif
