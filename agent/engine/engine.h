/* The Agent's container engine: runs the microservices the Controller assigns to this node as
 * Docker containers and reports their status.
 *
 * The caller hands it the desired state (the microservice descriptors and registries from the
 * Controller); a reconcile thread compares it with the containers carrying this agent's label and
 * pulls, creates, starts, stops, recreates and removes until they match, and an events thread
 * follows Docker's event stream so a crashed container is noticed at once and restarted with an
 * exponential backoff (1 s doubling to 30 s; 5 crashes within 10 minutes make it STUCK_IN_RESTART
 * until its descriptor changes). Containers without this agent's label are never touched.
 *
 * Containers are named iofog_<microservice uuid> and labelled iofog-uuid=<agent uuid>,
 * iofog-microservice=<microservice uuid> and iofog-spec-hash=<hash of the create body>, so an agent
 * restart adopts unchanged containers instead of recreating them.
 *
 * Status fields: startTime/operatingDuration come from the container's State.StartedAt; cpuUsage
 * (percent of one CPU, from two one-shot stats samples) and memoryUsage (bytes) are sampled at most
 * every 10 s per running container, "0" until the first sample.
 *
 * All functions are thread-safe. None of them waits for Docker except agent_engine_stop_all,
 * agent_engine_remove_all, agent_engine_prune (which wait, bounded, for the engine thread to do the
 * work) and agent_engine_bridge_gateway (one bounded request). */
#ifndef AGENT_ENGINE_ENGINE_H
#define AGENT_ENGINE_ENGINE_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct agent_engine;

struct agent_engine_config {
    const char *docker_url; /* "unix:///var/run/docker.sock" (default when NULL) */
    const char *agent_uuid; /* value of label iofog-uuid; may be "" before provisioning */
    const char
        *host_address; /* address for extra host "iofog:<addr>"; NULL: the docker bridge gateway */
    const char *time_zone;        /* TZ for containers; NULL/"": do not add TZ */
    void (*on_change)(void *ctx); /* called (from an engine thread, must not block) whenever a
                                     microservice status changes, so the caller can report sooner */
    void *ctx;
    int stop_timeout_s;      /* seconds between SIGTERM and SIGKILL when stopping; 0: 10 */
    long restart_backoff_ms; /* delay before the first restart after a crash, doubling up to
                                30 s; 0: 1000 */
    uint16_t local_api_port; /* the Agent's Local API port: when not the classic 54321 (or 0),
                                containers get env IOFOG_AGENT_PORT=<port> (read by our SDK) */
    const char *pulled_file; /* where the references of the images this engine pulled are kept
                                (a JSON array, rewritten atomically): prune removes only those.
                                NULL: nothing is recorded and prune removes nothing */
};

/* Creates an engine (no thread yet, no Docker call). cfg strings are copied. *out is freed with
 * agent_engine_free. IOF_EINVAL for a docker_url that is not unix:///path or tcp://host:port, or an
 * agent uuid too long. */
IOF_NODISCARD iof_err agent_engine_new(const struct agent_engine_config *cfg,
                                       struct agent_engine **out);

/* Starts its threads: reconcile and events. IOF_ECONFLICT when already started. */
IOF_NODISCARD iof_err agent_engine_start(struct agent_engine *e);

/* Stops the threads (an ongoing pull is aborted) and frees; leaves containers running. NULL: no-op.
 */
void agent_engine_free(struct agent_engine *e);

/* Changes the label value that marks this agent's containers ("" before provisioning). */
IOF_NODISCARD iof_err agent_engine_set_agent_uuid(struct agent_engine *e, const char *uuid);

/* Desired state: `microservices` is the array of GET /api/v3/agent/microservices (descriptor of
 * agent.md §3.5, plus an optional key "desiredState": "RUNNING" | "STOPPED", absent = RUNNING);
 * `registries` the array of GET /api/v3/agent/registries ({id,url,isPublic,username,password,
 * userEmail}). Borrowed; the engine copies what it needs. Returns quickly; work happens on the
 * engine thread. Items it cannot understand (bad JSON shape, unknown registry id, invalid port)
 * become FAILED with a clear errorMessage; the rest proceeds. Items without a string uuid cannot be
 * reported and are logged and skipped. IOF_EINVAL when microservices is not an array. */
IOF_NODISCARD iof_err agent_engine_set_desired(struct agent_engine *e,
                                               const json_t *microservices,
                                               const json_t *registries);

/* Entries a microservice's journal keeps (the newest). */
#define AGENT_ENGINE_EVENTS 20

/* microserviceStatus array for PUT /api/v3/agent/status: [{id,status,percentage,containerId,
 * startTime,operatingDuration,cpuUsage,memoryUsage,errorMessage,restarts}], new reference owned by
 * caller. restarts (ours): how often the engine restarted the container after it exited, since the
 * Agent started or the microservice came to this node.
 * A microservice whose journal changed since it was last reported also carries "events"
 * ([{time (ms), type, message, count}], oldest first) and "eventsSeq"; pass the array to
 * agent_engine_events_sent once the Controller accepted it. */
IOF_NODISCARD iof_err agent_engine_status_json(struct agent_engine *e, json_t **out);

/* Marks the journals in report (from agent_engine_status_json) as reported. */
void agent_engine_events_sent(struct agent_engine *e, const json_t *report);

/* Adds an entry to the journal of microservice uuid (no-op when unknown), e.g. a configuration
 * change the daemon applied. */
void agent_engine_note(struct agent_engine *e, const char *uuid, const char *type, const char *msg);

/* The journal of microservice uuid as above (new array). IOF_ENOENT when unknown. */
IOF_NODISCARD iof_err agent_engine_events_json(struct agent_engine *e,
                                               const char *uuid,
                                               json_t **out);

/* true while some desired microservice has not reached its desired state (caller reports every 1 s
 * then). FAILED and STUCK_IN_RESTART count as settled. */
bool agent_engine_converging(struct agent_engine *e);

unsigned agent_engine_running_count(struct agent_engine *e);

/* Deprovision: stops (does not remove) this agent's containers and forgets the desired state; the
 * engine then does nothing until the next agent_engine_set_desired. */
IOF_NODISCARD iof_err agent_engine_stop_all(struct agent_engine *e);

/* `iofog-agent stop`/cleanup: like agent_engine_stop_all, and removes the containers. */
IOF_NODISCARD iof_err agent_engine_remove_all(struct agent_engine *e);

/* Removes the images this engine pulled (see pulled_file) that no container uses; images pulled
 * or built by anything else on the same Docker Engine are never touched. A reference removed (or
 * found gone) leaves the record; one still used by a container stays in it. */
IOF_NODISCARD iof_err agent_engine_prune(struct agent_engine *e);

/* The Local API's caller check. Which of this agent's running microservices has the container
 * address addr (dotted quad or IPv6 text) on one of its networks: its uuid into uuid[len], IOF_OK,
 * or IOF_ENOENT. The table follows every reconcile pass; an address it does not know makes one
 * bounded Docker request (at most every 200 ms), so a container that calls the Local API right
 * after it started is known. May block for that request: not from an engine callback. */
IOF_NODISCARD iof_err agent_engine_caller(struct agent_engine *e,
                                          const char *addr,
                                          char *uuid,
                                          size_t len);

/* True when uuid is a running host-network microservice of this agent (as of the last pass). */
bool agent_engine_host_network(struct agent_engine *e, const char *uuid);

/* The default bridge network's gateway, e.g. "172.17.0.1". */
IOF_NODISCARD iof_err agent_engine_bridge_gateway(struct agent_engine *e, char *buf, size_t len);

#endif
