/* Log streams the Controller asks for (controller/domain/logs.h): a microservice's container log
 * or the Agent's own log file, sent outward to the Controller chunk by chunk (POST
 * agent/logs/:id), so that a node behind NAT needs no inbound port. Each stream runs on a thread
 * of its own, at most AGENT_LOGS_MAX at once; it ends when the log ends (container stopped or
 * removed, file read without follow), when the Controller says the session is over (its client
 * left, or a bound was reached), or at shutdown. Does not depend on the daemon: the sync thread
 * hands it what it needs. */
#ifndef AGENT_LOGS_H
#define AGENT_LOGS_H

#include "common/error.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_LOGS_MAX 8

struct agent_logs;

/* Where the streams read from and send to; copied by agent_logs_serve. */
struct agent_logs_target {
    const char *controller_url; /* ".../api/v3/" */
    const char *access_token;
    const char *controller_cert; /* CA file or "" */
    const char *docker_url;
    const char *log_file; /* the Agent's own log file ("" when it logs to stderr) */
};

/* cancel: set at shutdown (must outlive the registry); every stream ends within about a second. */
IOF_NODISCARD iof_err agent_logs_new(const atomic_bool *cancel, struct agent_logs **out);

/* Serves the sessions the Controller handed out (its GET agent/logs answer "logs": array of
 * {"id","microserviceUuid","tail","since","follow"}), each on a thread; sessions over the limit
 * are ended at once with a reason. Returns at once. */
void agent_logs_serve(struct agent_logs *l,
                      const struct agent_logs_target *t,
                      const json_t *sessions);

/* Streams running now. */
size_t agent_logs_running(struct agent_logs *l);

/* Waits for every stream to end (after cancel was set) and frees l. NULL is a no-op. */
void agent_logs_free(struct agent_logs *l);

/* Docker's multiplexed log frames (8-byte header: stream, 0, 0, 0, big-endian length; then the
 * payload) turned back into the text the container printed. A stream whose first byte is not a
 * stream number (a container with a TTY) passes through as it is. Exposed for tests and for
 * `iofog-agent logs`. */
struct agent_logs_demux {
    unsigned char head[8];
    size_t head_len;
    uint32_t left; /* payload bytes of the current frame still to come */
    bool started, raw;
};

/* Writes the payload bytes of data (len bytes) into out, which holds at least len bytes, keeping a
 * partial header in *state for the next call. Returns the bytes written. */
size_t agent_logs_demux(struct agent_logs_demux *state, const char *data, size_t len, char *out);

#endif
