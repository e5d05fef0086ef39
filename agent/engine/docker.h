/* A small Docker Engine API client (API version pinned to AGENT_DOCKER_API) on http/client.h:
 * the container, image, network and event calls the engine makes. One struct agent_docker per
 * thread (the HTTP client under it is not thread-safe). Every response body is bounded; errors
 * carry Docker's own "message" text in the diag. */
#ifndef AGENT_ENGINE_DOCKER_H
#define AGENT_ENGINE_DOCKER_H

#include "common/error.h"
#include "http/client.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_DOCKER_API         "v1.41"
#define AGENT_DOCKER_ID_MAX      72
#define AGENT_DOCKER_URL_DEFAULT "unix:///var/run/docker.sock"

struct agent_docker;

/* docker_url: "unix:///path" or "tcp://host:port" (NULL: the default socket). timeout_ms bounds
 * every plain request (0: none); streams (pull, events) are bound by their own means. */
IOF_NODISCARD iof_err agent_docker_new(const char *docker_url,
                                       long timeout_ms,
                                       struct agent_docker **out,
                                       struct iof_diag *d);
/* As agent_docker_new; a request in flight ends (IOF_ECONFLICT) within about a second once
 * *cancel becomes true (cancel must outlive the client). */
IOF_NODISCARD iof_err agent_docker_new_cancellable(const char *docker_url,
                                                   long timeout_ms,
                                                   const atomic_bool *cancel,
                                                   struct agent_docker **out,
                                                   struct iof_diag *d);
void agent_docker_free(struct agent_docker *k);

/* Any call: path below the version prefix ("/containers/json?all=1"), optional JSON body and extra
 * headers (NULL-terminated). *status gets the HTTP status; *out (may be NULL) the parsed body or
 * NULL when it is empty or not JSON. For callers and tests that need a call not wrapped below. */
IOF_NODISCARD iof_err agent_docker_call(struct agent_docker *k,
                                        const char *method,
                                        const char *path,
                                        const json_t *body,
                                        const char *const *headers,
                                        long *status,
                                        json_t **out,
                                        struct iof_diag *d);

/* Appends the percent-encoding of text to dst (size bytes, NUL-terminated). IOF_E2BIG if short. */
IOF_NODISCARD iof_err agent_docker_escape(const char *text, char *dst, size_t size);

/* Containers (all states) carrying label iofog-uuid=<agent_uuid>; *out: new JSON array. */
IOF_NODISCARD iof_err agent_docker_list(struct agent_docker *k,
                                        const char *agent_uuid,
                                        json_t **out,
                                        struct iof_diag *d);

/* GET /containers/{id}/json. IOF_ENOENT when there is no such container. */
IOF_NODISCARD iof_err agent_docker_inspect(struct agent_docker *k,
                                           const char *id,
                                           json_t **out,
                                           struct iof_diag *d);

/* POST /containers/create?name=. IOF_EEXIST when the name is taken; id gets the new id. */
IOF_NODISCARD iof_err agent_docker_create(struct agent_docker *k,
                                          const char *name,
                                          const json_t *body,
                                          char id[AGENT_DOCKER_ID_MAX],
                                          struct iof_diag *d);

IOF_NODISCARD iof_err agent_docker_start(struct agent_docker *k,
                                         const char *id,
                                         struct iof_diag *d);

/* Stops with SIGTERM, then SIGKILL after timeout_s. A stopped container is fine. */
IOF_NODISCARD iof_err agent_docker_stop(struct agent_docker *k,
                                        const char *id,
                                        int timeout_s,
                                        struct iof_diag *d);

/* Removes (force: kills a running one first). A missing container is fine. */
IOF_NODISCARD iof_err agent_docker_remove(struct agent_docker *k,
                                          const char *id,
                                          bool force,
                                          struct iof_diag *d);

IOF_NODISCARD iof_err agent_docker_image_exists(struct agent_docker *k,
                                                const char *ref,
                                                bool *out,
                                                struct iof_diag *d);

/* The image id ("sha256:...") of ref into buf. IOF_ENOENT when there is no such image. */
IOF_NODISCARD iof_err agent_docker_image_id(
    struct agent_docker *k, const char *ref, char *buf, size_t len, struct iof_diag *d);

/* DELETE /images/{ref}. A missing image is fine; one in use is IOF_ECONFLICT. */
IOF_NODISCARD iof_err agent_docker_image_remove(struct agent_docker *k,
                                                const char *ref,
                                                struct iof_diag *d);

/* GET /images/{ref}/get (docker save): the image as a tar stream, handed to cb piece by piece
 * (on a 200 answer only the body, never an error text). Returning false from cb stops the export
 * with IOF_EIO (the caller knows why). IOF_ENOENT for an unknown image. The client's timeout_ms
 * bounds the whole export: use a client made with 0 for big images. */
IOF_NODISCARD iof_err agent_docker_image_save(
    struct agent_docker *k, const char *ref, iof_http_chunk_cb cb, void *ctx, struct iof_diag *d);

/* Called for every line of the pull stream with the aggregated percentage (0..100) so far.
 * Returning false aborts the pull (it then fails with IOF_EBUSY). */
typedef bool (*agent_docker_progress_cb)(void *ctx, int percentage);

/* POST /images/create?fromImage=<repo>&tag=<tag>, with X-Registry-Auth when auth is not NULL.
 * An error line in the stream (or an error status) is IOF_EREMOTE with Docker's text in d. */
IOF_NODISCARD iof_err agent_docker_pull(struct agent_docker *k,
                                        const char *repo,
                                        const char *tag,
                                        const char *auth,
                                        agent_docker_progress_cb cb,
                                        void *ctx,
                                        struct iof_diag *d);

/* The IPv4 gateway of the default "bridge" network, e.g. "172.17.0.1": GET /networks/bridge, then
 * agent_docker_gateway_of with the host's interfaces (agent_docker_ifaddr). Logs the address and
 * where it came from. IOF_ENOENT when none of the three sources gives one. */
IOF_NODISCARD iof_err agent_docker_bridge_gateway(struct agent_docker *k,
                                                  char *buf,
                                                  size_t len,
                                                  struct iof_diag *d);

/* Where a bridge gateway was found. A Docker Engine on its very first start reports the default
 * bridge as {"IPAM":{"Config":[{"Subnet":"172.17.0.0/16"}]}}, without "Gateway" (it appears only
 * after a restart), so the IPAM answer alone is not enough. */
enum agent_docker_gw_source {
    AGENT_DOCKER_GW_IPAM,      /* IPAM.Config[].Gateway, the IPv4 one */
    AGENT_DOCKER_GW_INTERFACE, /* the IPv4 address of the bridge's interface (getifaddrs) */
    AGENT_DOCKER_GW_SUBNET,    /* the first host address of the IPv4 IPAM.Config[].Subnet */
};

/* "ipam", "interface" or "subnet". Never NULL; static storage. */
const char *agent_docker_gw_source_name(enum agent_docker_gw_source src);

/* Writes the first IPv4 address of the interface named ifname into buf (dotted quad) and returns
 * true; false when there is no such interface or it has no IPv4 address. */
typedef bool (*agent_docker_ifaddr_fn)(void *ctx, const char *ifname, char *buf, size_t len);

/* The host's interfaces, read with getifaddrs; ctx is unused. */
bool agent_docker_ifaddr(void *ctx, const char *ifname, char *buf, size_t len);

/* The IPv4 gateway of a bridge network from its inspection (network: the body of
 * GET /networks/{id}, borrowed), in this order: an IPv4 IPAM Gateway; the IPv4 address of the
 * bridge's interface (network option com.docker.network.bridge.name, "docker0" when absent),
 * looked up with ifaddr(ifaddr_ctx, ...); the first host address of the first IPv4 IPAM Subnet
 * (network + 1; the address itself for /31 and /32). buf gets the address, *src (may be NULL) the
 * source. IOF_ENOENT when there is none, IOF_E2BIG when buf is too short. */
IOF_NODISCARD iof_err agent_docker_gateway_of(const json_t *network,
                                              agent_docker_ifaddr_fn ifaddr,
                                              void *ifaddr_ctx,
                                              char *buf,
                                              size_t len,
                                              enum agent_docker_gw_source *src,
                                              struct iof_diag *d);

/* Receives one event object (borrowed). Returning false ends the stream early. */
typedef bool (*agent_docker_event_cb)(void *ctx, const json_t *event);

/* GET /events for containers labelled iofog-uuid=<agent_uuid> between since and until (Unix
 * seconds with fractions as Docker takes them, "1700000000.000000000"). Returns when until has
 * passed, cb returned false, or the connection failed. */
IOF_NODISCARD iof_err agent_docker_events(struct agent_docker *k,
                                          const char *agent_uuid,
                                          const char *since,
                                          const char *until,
                                          agent_docker_event_cb cb,
                                          void *ctx,
                                          struct iof_diag *d);

/* Receives raw bytes of a stream as they arrive. Returning false ends the stream early. */
typedef bool (*agent_docker_bytes_cb)(void *ctx, const char *data, size_t len);

/* GET /containers/{container}/logs with stdout, stderr and timestamps: the last `tail` lines
 * (< 0: all), only those since since_s (Unix seconds, 0: from the start), and with follow the
 * lines printed afterwards until the container stops or is removed, or cb returns false. The
 * bytes are Docker's: for a container without a TTY, frames of an 8-byte header (stream 1 or 2,
 * 3 zero bytes, big-endian length) and the payload. IOF_ENOENT: no such container. Use a client
 * made with timeout 0 for follow: its timeout bounds the whole stream. */
IOF_NODISCARD iof_err agent_docker_logs(struct agent_docker *k,
                                        const char *container,
                                        long tail,
                                        int64_t since_s,
                                        bool follow,
                                        agent_docker_bytes_cb cb,
                                        void *ctx,
                                        struct iof_diag *d);

#endif
