/* Image snapshots requested by the Controller (isImageSnapshot): export and upload on a thread
 * of the module's own. Does not depend on the daemon: it hands over what the uploads need. */
#ifndef AGENT_SNAPSHOT_H
#define AGENT_SNAPSHOT_H

#include "agent/config.h"
#include "common/error.h"

#include <stdatomic.h>

struct agent_snapshot;

struct agent_snapshot_deps {
    void *ctx;
    /* A copy of the configuration (Controller URL, token, certificate, Docker URL, config dir);
     * called on the snapshot thread. */
    void (*config)(void *ctx, struct agent_config *out);
    const atomic_bool *cancel; /* set at shutdown: ends uploads and exports soon */
};

/* deps is copied; deps->cancel must outlive *out. */
IOF_NODISCARD iof_err agent_snapshot_new(const struct agent_snapshot_deps *deps,
                                         struct agent_snapshot **out);

/* Serves every pending image-snapshot request of this node in the background: for each, the
 * image of the microservice's container is exported (docker save), gzipped into a temporary file
 * in the config directory (mode 0600, removed afterwards) and uploaded with PUT
 * agent/image-snapshot, multipart part "upstream". Returns at once. While a run is going on, a
 * new call makes it look for requests once more before it ends. Failures are logged; a request
 * that failed stays pending in the Controller until it is asked for again. Called by one thread
 * (the daemon's sync thread). */
void agent_snapshot_request(struct agent_snapshot *s);

/* Ends a run soon (the export stops at its next chunk), waits for the thread and frees s. NULL is
 * a no-op. */
void agent_snapshot_free(struct agent_snapshot *s);

#endif
