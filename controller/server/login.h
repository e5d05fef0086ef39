/* Password checks off the HTTP threads, with throttling.
 *
 * argon2id costs tens of milliseconds of CPU and 19 MiB per check; on the HTTP threads a login
 * flood used to delay every other request (agents' included). Here a login request is held
 * (http/server.h "Holding") and a small pool of low-priority worker threads checks the password
 * and answers it. An unknown e-mail is checked against a dummy hash, so both failures cost the
 * same time and get the same answer (401 InvalidCredentialsError "Invalid credentials").
 *
 * Throttling: every attempt counts against its source address and its e-mail (a success clears
 * its e-mail's count and takes itself off its address's; it counts while in flight).
 * Past a free allowance (20 per address, 5 per e-mail) each further attempt must wait 1, 2, 4 ...
 * seconds (at most 60) after the previous one; sooner it is answered 429 with Retry-After,
 * without hashing. Counts are forgotten 15 minutes after an address's or e-mail's last attempt.
 * The table is bounded (4096 entries, the least recently
 * used replaced). When the queue of waiting checks is full the answer is 503 with Retry-After. */
#ifndef CTL_LOGIN_H
#define CTL_LOGIN_H

#include "common/error.h"
#include "http/server.h"

#include <stdint.h>

struct ctl_server;
struct ctl_login;

/* Starts the workers. The login keeps srv (its store, HTTP server, token lifetime) borrowed.
 * IOF_ENOMEM, IOF_EIO (thread), IOF_EINTERNAL (dummy hash). */
IOF_NODISCARD iof_err ctl_login_new(struct ctl_server *srv, struct ctl_login **out);

/* Joins the workers; checks still queued are dropped (their requests were answered 503 when the
 * HTTP server stopped, which must happen first). NULL is a no-op. */
void ctl_login_free(struct ctl_login *l);

/* Seconds the caller must wait before another attempt from addr or for email (0: go ahead). */
int64_t ctl_login_wait_s(struct ctl_login *l, const char *addr, const char *email);

/* Holds req and queues the check of email/password (both copied); the worker answers it: 200
 * {"accessToken"}, 401 InvalidCredentialsError, or 500. IOF_EBUSY when the queue is full (not
 * held), IOF_ENOMEM, or the error of iof_http_hold. */
IOF_NODISCARD iof_err ctl_login_submit(struct ctl_login *l,
                                       struct iof_http_request *req,
                                       const char *email,
                                       const char *password);

/* Attempts answered, and refused by the throttle, since start (for tests and logs). */
void ctl_login_counts(struct ctl_login *l, uint64_t *checked, uint64_t *throttled);

#endif
