/* The web console: serves the ECN Viewer bundle (npm package @iofog/ecn-viewer, unpacked: the
 * directory holding its package.json and build/) on the viewer port, as classic does on 8008.
 * GET /controller-config.js is generated from the Controller's own port (the bundle's copy is never
 * served): the viewer then calls the REST API on the host it was loaded from. Every other path is
 * a regular file under build/ (no "..", no hidden segments, no symbolic link followed out of it),
 * and a path that names no file and has no extension gets index.html (the viewer's own routes). */
#ifndef CTL_VIEWER_H
#define CTL_VIEWER_H

#include "common/error.h"

#include <stdint.h>

struct ctl_viewer;

/* Checks dir (package.json with a "version", build/index.html), then listens on bind:port
 * (port 0: an ephemeral port) and serves it; the generated controller-config.js names api_port.
 * IOF_ENOENT naming what is missing, IOF_EINVAL on a package.json without a version, IOF_EBUSY
 * when the port is in use ("viewer port 8008 is in use ... --viewer-port 0 turns it off"), IOF_EIO
 * when it cannot listen otherwise. On success *out is freed with ctl_viewer_free(). */
IOF_NODISCARD iof_err ctl_viewer_start(const char *dir,
                                       const char *bind,
                                       uint16_t port,
                                       uint16_t api_port,
                                       struct ctl_viewer **out,
                                       struct iof_diag *d);

/* The bundle's version (package.json), owned by v. */
const char *ctl_viewer_version(const struct ctl_viewer *v);

/* The port it listens on. */
uint16_t ctl_viewer_port(const struct ctl_viewer *v);

/* Stops listening and frees. NULL is a no-op. */
void ctl_viewer_free(struct ctl_viewer *v);

#endif
