/* The Agent's offline caches: the last microservices, registries and edge resources the Controller
 * sent, kept so that an Agent started while the Controller is unreachable runs what it ran before.
 *
 * Format (classic, agent.md §3.3): {"checksum": <SHA-1 hex of base64(data as JSON text)>,
 * "timestamp": <ms>, "data": <the array>}, written atomically into <config-dir>/cache/<name>.json.
 * A file whose checksum does not match is treated as absent. */
#ifndef AGENT_CACHE_H
#define AGENT_CACHE_H

#include "common/error.h"

#include <jansson.h>

/* Writes data (borrowed) as cache <name> ("microservices", "registries", "edge_resources"). */
IOF_NODISCARD iof_err agent_cache_write(const char *config_dir,
                                        const char *name,
                                        json_t *data,
                                        struct iof_diag *d);

/* Reads cache <name>: *out is a new reference to the data. IOF_ENOENT when the file is absent,
 * IOF_EPROTO when it is malformed or its checksum does not match. */
IOF_NODISCARD iof_err agent_cache_read(const char *config_dir,
                                       const char *name,
                                       json_t **out,
                                       struct iof_diag *d);

/* Deletes cache <name> (deprovisioning). IOF_OK also when it was absent; IOF_EIO otherwise. */
IOF_NODISCARD iof_err agent_cache_remove(const char *config_dir, const char *name);

#endif
