/* The Agent daemon: owns the configuration, the container engine, the Local API server, and the
 * threads that keep this node in step with the Controller (sync) and report its status.
 *
 * Threads: agent_daemon_start starts the sync thread (changes long-poll, fetches, acks), the status
 * thread (PUT /agent/status), the engine's threads and the HTTP server's. The calls below are
 * thread-safe unless stated; new/start/free belong to one controlling thread. */
#ifndef AGENT_DAEMON_H
#define AGENT_DAEMON_H

#include "agent/config.h"
#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>

struct agent_daemon;

/* Creates a stopped daemon with a copy of cfg. */
IOF_NODISCARD iof_err agent_daemon_new(const struct agent_config *cfg,
                                       struct agent_daemon **out,
                                       struct iof_diag *d);

/* Loads the offline caches, starts the engine, the Local API (on cfg's bind address and, when
 * that is loopback, on the Docker bridge gateway too) and the threads. IOF_EBUSY when another
 * process listens on either address ("address 127.0.0.1:54321 is already in use (is another Agent
 * running? iofog-agent stop --config-dir DIR)"), checked first so that it fails at once;
 * IOF_EIO when the port cannot be bound otherwise. A gateway address that cannot be bound for
 * another reason (not on this host) is only logged; one that is unknown because Docker does not
 * answer yet is looked for again by the status thread. */
IOF_NODISCARD iof_err agent_daemon_start(struct agent_daemon *a, struct iof_diag *d);

/* Blocks until SIGTERM/SIGINT or a `stop` command; each SIGHUP meanwhile reloads the
 * configuration (agent_daemon_reload). The caller blocks those three signals in every thread
 * first (they are taken with sigwait). */
void agent_daemon_wait(struct agent_daemon *a);

/* SIGHUP: reads <config-dir>/config.json again and adopts its settings as `iofog-agent config`
 * would (status and change frequencies, limits, controller URL, log level, ...; the Controller is
 * told). Settings bound at start (localApiPort, localApiBind, dockerUrl, diskDirectory,
 * logDirectory) keep their running values and are named in a warning: restart to apply them.
 * Credentials stay the daemon's. A file that no longer loads is reported and changes nothing. */
void agent_daemon_reload(struct agent_daemon *a);

/* Stops threads and servers and frees. Containers keep running (they are adopted at the next
 * start) unless a `stop` command asked for their removal. NULL is a no-op. */
void agent_daemon_free(struct agent_daemon *a);

#endif
