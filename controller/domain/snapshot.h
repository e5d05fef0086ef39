/* Image snapshot files (controller.md §3.8 diagnostics, §4 agent API): an agent uploads the
 * exported container image of a microservice, which is kept as
 * <data-dir>/image-snapshots/<uuid>.tar.gz (mode 0600) until the microservice is deleted; the
 * microservice's image_snapshot column holds that absolute path once the upload is complete. */
#ifndef CTL_SNAPSHOT_H
#define CTL_SNAPSHOT_H

#include "controller/server/server.h"

#include <stddef.h>

#define CTL_SNAPSHOT_DIR "image-snapshots"

/* <data-dir>/image-snapshots. IOF_EINVAL when it does not fit in size bytes. */
IOF_NODISCARD iof_err ctl_snapshot_dir(const struct ctl_config *cfg,
                                       char *out,
                                       size_t size,
                                       struct iof_diag *d);

/* <data-dir>/image-snapshots/<uuid>.tar.gz. IOF_EINVAL when it does not fit or uuid is not a
 * plain name (letters and digits). */
IOF_NODISCARD iof_err ctl_snapshot_path(
    const struct ctl_config *cfg, const char *uuid, char *out, size_t size, struct iof_diag *d);

/* Creates the directory (mode 0700) when it does not exist. */
IOF_NODISCARD iof_err ctl_snapshot_make_dir(const struct ctl_config *cfg, struct iof_diag *d);

/* Removes the snapshot files whose microservice no longer exists, however it was deleted (user
 * request, application or node deletion, purge after the agent removed it). Other files in the
 * directory are left alone. *removed (may be NULL) gets how many went. */
IOF_NODISCARD iof_err ctl_snapshot_sweep(struct ctl_server *srv, int *removed, struct iof_diag *d);

#endif
