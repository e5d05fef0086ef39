/* Image snapshots requested by the Controller (isImageSnapshot): export and upload on a thread
 * of the daemon's own. Internal to the daemon. */
#ifndef AGENT_SNAPSHOT_H
#define AGENT_SNAPSHOT_H

struct agent_daemon;

/* Serves every pending image-snapshot request of this node in the background: for each, the
 * image of the microservice's container is exported (docker save), gzipped into a temporary file
 * in the config directory (mode 0600, removed afterwards) and uploaded with PUT
 * agent/image-snapshot, multipart part "upstream". Returns at once. While a run is going on, a
 * new call makes it look for requests once more before it ends. Failures are logged; a request
 * that failed stays pending in the Controller until it is asked for again. Called by the sync
 * thread only. */
void agent_snapshot_request(struct agent_daemon *a);

/* Waits for the snapshot thread, if any (after `stopping` is set, which ends it soon). */
void agent_snapshot_join(struct agent_daemon *a);

#endif
