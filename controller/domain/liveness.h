/* Node liveness by the Controller's own receive time (spec README "Node liveness"): a RUNNING
 * node whose last request arrived more than 3 x statusFrequency seconds ago becomes UNKNOWN,
 * with its microservices, and microservices marked for deletion on it are removed. The same
 * thread removes the image snapshot files of deleted microservices (controller/snapshot.h). */
#ifndef CTL_LIVENESS_H
#define CTL_LIVENESS_H

#include "controller/server/server.h"

struct ctl_liveness;

/* Starts the job thread, checking every srv->cfg.liveness_interval_ms. */
IOF_NODISCARD iof_err ctl_liveness_start(struct ctl_server *srv, struct ctl_liveness **out);

/* The ctl_db_try_lead key of the job: of several Controllers sharing a PostgreSQL database, only
 * the one holding it runs the job; another takes over when that one stops. */
#define CTL_LIVENESS_LOCK_KEY 0x696f666f67303033LL /* "iofog003" */

/* One check now; *changed (may be NULL) gets the number of nodes turned UNKNOWN, or -1 when
 * another Controller sharing the database runs the job (nothing was checked here). */
IOF_NODISCARD iof_err ctl_liveness_check(struct ctl_server *srv,
                                         int64_t *changed,
                                         struct iof_diag *d);

/* Stops and joins the thread. NULL is a no-op. */
void ctl_liveness_stop(struct ctl_liveness *l);

#endif
