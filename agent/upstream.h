/* The Agent's client of the Controller's agent API (/api/v3/agent/..., agent.md §3): one
 * connection, the agent token, classic JSON bodies, and the mapping of answers to error
 * categories. Not thread-safe: each thread that talks to the Controller owns one. */
#ifndef AGENT_UPSTREAM_H
#define AGENT_UPSTREAM_H

#include "common/error.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

struct agent_upstream;

/* timeout_ms bounds each request (a long-poll client needs wait + a margin). ca_file: PEM bundle
 * trusted besides the system's for https, NULL or a missing file: the system's only. */
IOF_NODISCARD iof_err agent_upstream_new(long timeout_ms,
                                         const char *ca_file,
                                         struct agent_upstream **out);
/* As agent_upstream_new; a request in flight ends (IOF_ECONFLICT) once *cancel becomes true. */
IOF_NODISCARD iof_err agent_upstream_new_cancellable(long timeout_ms,
                                                     const char *ca_file,
                                                     const atomic_bool *cancel,
                                                     struct agent_upstream **out);
void agent_upstream_free(struct agent_upstream *u);

/* method + base_url (ending "/api/v3/") + path ("agent/config", "status"); token "" sends no
 * Authorization. body NULL sends "{}" on methods with a body. On success (2xx) *out is the
 * answer (new reference, {} for an empty body) when out is not NULL.
 * Errors: IOF_EIO / IOF_ETIMEOUT the Controller is unreachable; IOF_EAUTH 401 or 403 (token
 * rejected); IOF_ENOENT 404; IOF_EINVAL 400; IOF_EREMOTE other statuses (the Controller's
 * message in d). */
IOF_NODISCARD iof_err agent_upstream_call(struct agent_upstream *u,
                                          const char *base_url,
                                          const char *token,
                                          const char *method,
                                          const char *path,
                                          const json_t *body,
                                          json_t **out,
                                          struct iof_diag *d);

/* Sends the file at `file` (streamed from disk) as the multipart/form-data part `field` with the
 * given file name and content type, e.g. PUT agent/image-snapshot. Errors as agent_upstream_call,
 * plus IOF_ENOENT when the file cannot be read. Use a client made with timeout_ms 0 for big files:
 * its timeout bounds the whole upload. */
IOF_NODISCARD iof_err agent_upstream_upload(struct agent_upstream *u,
                                            const char *base_url,
                                            const char *token,
                                            const char *method,
                                            const char *path,
                                            const char *field,
                                            const char *file,
                                            const char *filename,
                                            const char *content_type,
                                            struct iof_diag *d);

/* Sends len raw bytes (application/octet-stream) as the body of method path. Errors as
 * agent_upstream_call, plus IOF_EBUSY for 429 (slow down and send again). */
IOF_NODISCARD iof_err agent_upstream_send(struct agent_upstream *u,
                                          const char *base_url,
                                          const char *token,
                                          const char *method,
                                          const char *path,
                                          const void *data,
                                          size_t len,
                                          struct iof_diag *d);

#endif
