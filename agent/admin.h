/* The token-protected admin routes of the Local API (agent.md §1.3), used by the iofog-agent CLI:
 * /v2/commandline, /v2/config, /v2/provision, /v2/deprovision, /v2/status, /v2/info, /v2/version.
 *
 * Does not depend on the daemon: the daemon hands it the operations behind the routes as
 * callbacks, each called on an HTTP thread. */
#ifndef AGENT_ADMIN_H
#define AGENT_ADMIN_H

#include "agent/config.h"
#include "common/error.h"
#include "http/server.h"

#include <jansson.h>
#include <stdbool.h>

/* What the admin routes do; every member is required. ctx is passed to each. */
struct agent_admin_ops {
    void *ctx;
    const char *token; /* the admin token (first line of <config-dir>/local-api) */
    /* `iofog-agent status` lines as a flat object of strings. New reference. */
    json_t *(*status_lines)(void *ctx);
    /* A copy of the configuration. */
    void (*config)(void *ctx, struct agent_config *out);
    /* *result: {"status","uuid"} on success. */
    iof_err (*provision)(void *ctx, const char *key, json_t **result, struct iof_diag *d);
    /* Tells the Controller, then forgets the node. */
    iof_err (*deprovision)(void *ctx, struct iof_diag *d);
    /* Classic option arguments; *messages: {option: refusal} for options not applied. */
    iof_err (*configure)(
        void *ctx, int argc, const char *const *argv, json_t **messages, struct iof_diag *d);
    iof_err (*prune)(void *ctx);
    /* Stops the Agent soon, removing its microservices. */
    void (*request_stop)(void *ctx);
};

/* Adds the admin routes to srv (before it starts). ops (and what it points to) must outlive srv's
 * handlers. */
IOF_NODISCARD iof_err agent_admin_register(struct agent_admin_ops *ops,
                                           struct iof_http_server *srv);

#endif
