/* The microservice service layer: create, update, delete and read microservices and the ioMessage
 * routes between them (controller.md §3.8, §3.9, §5.3, §7.1). The REST routes of
 * controller/api/microservices.c and routing.c, the application service (POST/PUT /application
 * with microservices[] and routes[]) and the CLI all go through these functions, so validation,
 * ownership and change flags are the same everywhere.
 *
 * All functions run inside the caller's transaction when one is open on the store's db (same
 * thread), raise the change flags the classic Controller raises, and check ownership with call.
 *
 * Transactions: when the calling thread holds no transaction, each function opens one and commits
 * or rolls it back itself. When the caller holds one, the function works inside it and never ends
 * it; after an error the caller must roll back (a half-done change may be in the transaction).
 *
 * Ownership: unless call->admin, only objects of call->user_id are seen; another user's object is
 * IOF_ENOENT as if absent. Errors carry the classic message in call->d: IOF_EINVAL (400
 * ValidationError), IOF_ENOENT (404), IOF_EEXIST (409 DuplicatePropertyError).
 *
 * Change flags (ctl_changes_raise, inside the transaction): creating a microservice raises
 * microserviceList+microserviceConfig on its node (+routing when it gets routes); updating raises
 * microserviceList+microserviceConfig+routing on the old and the new node; deleting raises
 * microserviceList+microserviceConfig on its node and routing on the nodes of routes removed with
 * it; creating, changing or deleting a route raises microserviceList+microserviceConfig+routing on
 * the nodes of both ends. `rebuild` is set on the microservice only when its images, catalog item,
 * registry, rootHostAccess, env, cmd, volume mappings, ports or extra hosts change. */
#ifndef CTL_MSVC_H
#define CTL_MSVC_H

#include "controller/api/api.h"
#include "controller/domain/validate.h"

#include <jansson.h>
#include <stdint.h>

/* Creates a microservice from body (MsvcCreate: name*, config, catalogItemId | images[],
 * registryId, application | flowId, iofogUuid | agentName, rootHostAccess, logSize, volumeMappings,
 * ports, extraHosts, routes (destination uuids), env, cmd). application_id > 0 places it in that
 * application (which must be the caller's) and the body's application/flowId are ignored; 0 takes
 * the application from the body (required there). The new uuid goes to uuid_out. Status QUEUED. */
IOF_NODISCARD iof_err
ctl_msvc_create(struct ctl_call *call,
                int64_t application_id /* 0: from body 'application'/'flowId' */,
                const json_t *body /* MsvcCreate */,
                char uuid_out[33]);

/* Updates a microservice (MsvcUpdate: the MsvcCreate keys except application; absent keys are
 * unchanged, present lists replace the stored ones; "rebuild": true forces a rebuild). Moving it to
 * another node resets its status to QUEUED. */
IOF_NODISCARD iof_err ctl_msvc_update(struct ctl_call *call,
                                      const char *uuid,
                                      const json_t *body /* MsvcUpdate: absent keys unchanged */);

/* Deletes a microservice and its routes. One placed on a node whose agent is running is marked for
 * deletion (hidden from the user API; the agent-facing API removes the row once the agent reports
 * the container gone); otherwise the row goes at once. */
IOF_NODISCARD iof_err ctl_msvc_delete(struct ctl_call *call, const char *uuid);

/* The user API GET shape of one microservice (§5.3). *out is a new reference. */
IOF_NODISCARD iof_err ctl_msvc_get_json(struct ctl_call *call,
                                        const char *uuid,
                                        json_t **out /* the user API GET shape */);

/* The GET shapes of the caller's microservices that belong to an application, ordered by
 * application and name; only those of application_id when > 0. *out is a new array. */
IOF_NODISCARD iof_err ctl_msvc_list_json(struct ctl_call *call,
                                         int64_t application_id /* 0: all of the user's */,
                                         json_t **out /* array */);

/* Creates the route name in application_id from the microservice named from_name to the one named
 * to_name (both of that application). IOF_EEXIST when the name or the pair exists already. */
IOF_NODISCARD iof_err ctl_route_create(struct ctl_call *call,
                                       int64_t application_id,
                                       const char *name /* NULL: r-<from>-<to> */,
                                       const char *from_name,
                                       const char *to_name);

/* Creates a route between two microservices given by uuid (legacy POST /routes with
 * sourceMicroserviceUuid/destMicroserviceUuid and POST /microservices/:uuid/routes/:receiverUuid):
 * both must be the caller's and of the same application. name NULL: r-<from name>-<to name>. */
IOF_NODISCARD iof_err ctl_route_create_uuids(struct ctl_call *call,
                                             const char *name,
                                             const char *src_uuid,
                                             const char *dst_uuid);

/* Deletes the route from src_uuid to dst_uuid. IOF_ENOENT when there is none. */
IOF_NODISCARD iof_err ctl_route_delete_uuids(struct ctl_call *call,
                                             const char *src_uuid,
                                             const char *dst_uuid);

/* Changes the route name of application_id (body: name, from, to, or sourceMicroserviceUuid,
 * destMicroserviceUuid; absent keys unchanged). */
IOF_NODISCARD iof_err ctl_route_update(struct ctl_call *call,
                                       int64_t application_id,
                                       const char *name,
                                       const json_t *body);

/* Deletes the route name of application_id. IOF_ENOENT when there is none. */
IOF_NODISCARD iof_err ctl_route_delete(struct ctl_call *call,
                                       int64_t application_id,
                                       const char *name);

/* ---- the per-microservice sub-resources of §3.8 (msvc_extra.c) ---- */

/* Adds a port mapping {internal*, external*, protocol: tcp|udp}; sets rebuild. */
IOF_NODISCARD iof_err ctl_msvc_port_add(struct ctl_call *call,
                                        const char *uuid,
                                        const json_t *body);

/* Removes the mappings of internal port (only that protocol when protocol is not NULL).
 * IOF_ENOENT when there is none. Sets rebuild. */
IOF_NODISCARD iof_err ctl_msvc_port_remove(struct ctl_call *call,
                                           const char *uuid,
                                           int64_t internal,
                                           const char *protocol);

/* Adds a volume mapping {hostDestination*, containerDestination*, accessMode*, type}; its id goes
 * to *id_out. Sets rebuild. */
IOF_NODISCARD iof_err ctl_msvc_volume_add(struct ctl_call *call,
                                          const char *uuid,
                                          const json_t *body,
                                          int64_t *id_out);

/* Removes volume mapping id of the microservice. IOF_ENOENT when there is none. Sets rebuild. */
IOF_NODISCARD iof_err ctl_msvc_volume_remove(struct ctl_call *call, const char *uuid, int64_t id);

/* Lifecycle: "start", "stop" or "restart" (restart = run again with a rebuild of the container).
 * Records the desired state, raises microserviceList+microserviceConfig on its node. */
IOF_NODISCARD iof_err ctl_msvc_lifecycle(struct ctl_call *call,
                                         const char *uuid,
                                         const char *action);

/* Turns strace on or off (diagnostics flag on its node). */
IOF_NODISCARD iof_err ctl_msvc_strace_set(struct ctl_call *call, const char *uuid, bool enable);

/* Asks the agent for an image snapshot (isImageSnapshot flag). IOF_EINVAL when not placed. */
IOF_NODISCARD iof_err ctl_msvc_snapshot_request(struct ctl_call *call, const char *uuid);

/* Like ctl_msvc_delete, recording withCleanup for the agent. */
IOF_NODISCARD iof_err ctl_msvc_delete_ex(struct ctl_call *call,
                                         const char *uuid,
                                         bool with_cleanup);

#endif
