/* Microservice descriptors (agent.md §3.5) turned into Docker container specifications.
 *
 * agent_spec_parse validates one item of GET /api/v3/agent/microservices against the registries of
 * GET /api/v3/agent/registries and keeps everything the engine needs; agent_spec_body then builds
 * the body of POST /containers/create for a given agent, host address and time zone, with a label
 * holding a hash of that body so a changed specification is detected and an unchanged container is
 * adopted after an agent restart. */
#ifndef AGENT_ENGINE_SPEC_H
#define AGENT_ENGINE_SPEC_H

#include "common/imageref.h"
#include "common/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define AGENT_LABEL_AGENT        "iofog-uuid"
#define AGENT_LABEL_MICROSERVICE "iofog-microservice"
#define AGENT_LABEL_HASH         "iofog-spec-hash"
#define AGENT_CONTAINER_PREFIX   "iofog_"
#define AGENT_REGISTRY_CACHE_URL "from_cache"
#define AGENT_UUID_MAX           128

struct agent_spec {
    char uuid[AGENT_UUID_MAX];
    char image[IOF_IMAGEREF_MAX]; /* canonical reference, "host:5000/img:tag" */
    struct iof_imageref ref;
    bool from_cache;      /* registry url "from_cache": never pull */
    char *registry_auth;  /* owned; X-Registry-Auth value for a private registry, else NULL */
    bool desired_running; /* desiredState RUNNING (or absent) */
    bool rebuild;         /* recreate even when nothing changed */
    bool remove;          /* "delete": remove the container */
    bool remove_image;    /* "deleteWithCleanup": remove the image too */
    json_t *base;         /* owned; create body without SELFNAME/TZ/iofog host/labels */
};

/* Validates item. On success *out is a new spec the caller frees with agent_spec_free. IOF_EINVAL
 * with a text fit for a status errorMessage when item is not an object, lacks uuid or imageId,
 * names an unknown registry, has an invalid image reference, port, volume, env entry or
 * desiredState, or a field of the wrong JSON type. registries may be NULL (no registries known). */
IOF_NODISCARD iof_err agent_spec_parse(const json_t *item,
                                       const json_t *registries,
                                       struct agent_spec **out,
                                       struct iof_diag *d);

void agent_spec_free(struct agent_spec *s);

/* What a container depends on besides its descriptor. */
struct agent_spec_host {
    const char *agent_uuid;   /* label iofog-uuid */
    const char *host_address; /* extra host "iofog:<addr>" in bridge mode; NULL/"": none */
    const char *time_zone;    /* TZ env unless the descriptor sets TZ; NULL/"": none */
    uint16_t local_api_port;  /* env IOFOG_AGENT_PORT unless 0, 54321 or set by the descriptor */
};

/* Builds the body of POST /containers/create: NetworkMode host for rootHostAccess or
 * hostNetworkMode, else bridge; Privileged only for rootHostAccess or isPrivileged; restart policy
 * "no"; json-file logs totalling logSize MB; env SELFNAME first, TZ, then the descriptor's env;
 * extra hosts with iofog:<addr> unless one names iofog already; labels iofog-uuid,
 * iofog-microservice and iofog-spec-hash. *out_body is a new reference; hash (17 bytes) receives
 * the hex hash stored in the label. */
IOF_NODISCARD iof_err agent_spec_body(const struct agent_spec *s,
                                      const struct agent_spec_host *host,
                                      json_t **out_body,
                                      char hash[17]);

/* X-Registry-Auth value: base64url of {"username","password","email","serveraddress"}.
 * *out is owned by the caller (free()). */
IOF_NODISCARD iof_err agent_spec_registry_auth(
    const char *username, const char *password, const char *email, const char *server, char **out);

#endif
