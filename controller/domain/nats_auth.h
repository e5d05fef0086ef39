/* Per-node NATS identity (docs/design/nats-security.md): every provisioned node has its own NATS
 * user (its uuid) and password, issued at provisioning, of which the Controller keeps only a
 * bcrypt hash (table fog_nats_credentials). When the Controller is given an authorization file
 * (--nats-auth-file), it writes there, for nats-server to include, one user per node allowed to
 * publish only to the subjects of the receivers its microservices are routed to and to subscribe
 * only to the subjects of the receivers it hosts, and makes nats-server reload it (SIGHUP to the
 * pid in --nats-pid-file) whenever the text changes. The file is rebuilt from the database when
 * a transaction raised change flags, at provisioning and deprovisioning, and once a second in any
 * case (which also picks up what other Controllers sharing the database changed). */
#ifndef CTL_NATS_AUTH_H
#define CTL_NATS_AUTH_H

#include "controller/server/server.h"

#include <jansson.h>

/* Longest NATS password handed to an agent (without the NUL). */
#define CTL_NATS_PASSWORD_LEN 40

struct ctl_nats_auth;

/* Issues a new credential for node fog_uuid inside the caller's transaction on db, replacing
 * (so revoking) the previous one: user = fog_uuid, password = CTL_NATS_PASSWORD_LEN random
 * letters and digits written to password[CTL_NATS_PASSWORD_LEN + 1]; only the hash is stored. */
IOF_NODISCARD iof_err ctl_nats_credential_issue(struct ctl_db *db,
                                                const char *fog_uuid,
                                                char *password,
                                                struct iof_diag *d);

/* Removes node fog_uuid's credential (inside the caller's transaction, if any). */
IOF_NODISCARD iof_err ctl_nats_credential_revoke(struct ctl_db *db,
                                                 const char *fog_uuid,
                                                 struct iof_diag *d);

/* The authorization file's text for the database's current state: `authorization { users = [...]
 * }` with one user per node credential and a locked placeholder user (password hash
 * placeholder_hash), so that nats-server asks for credentials even before any node exists.
 * *out is malloc'd. */
IOF_NODISCARD iof_err ctl_nats_auth_render(struct ctl_db *db,
                                           const char *placeholder_hash,
                                           char **out,
                                           struct iof_diag *d);

/* Writes the file now (atomically, mode 0600), signals nats-server when the text changed, and
 * starts the thread that keeps it current. *out = NULL (nothing started) when
 * srv->cfg.nats_auth_file is empty. */
IOF_NODISCARD iof_err ctl_nats_auth_start(struct ctl_server *srv,
                                          struct ctl_nats_auth **out,
                                          struct iof_diag *d);

/* Asks the thread to rebuild the file soon (coalesced). NULL is a no-op. Never blocks long. */
void ctl_nats_auth_kick(struct ctl_nats_auth *a);

/* Stops and joins the thread. NULL is a no-op. */
void ctl_nats_auth_stop(struct ctl_nats_auth *a);

#endif
