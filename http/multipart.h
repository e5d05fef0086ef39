/* multipart/form-data (RFC 7578) request bodies: finds one named part of an upload, as the YAML
 * upload routes of the Controller need (POST /application/yaml, field "application", ...), either
 * in a body held in memory or, for uploads too large for memory (image snapshots), in a body fed
 * piece by piece with the part's bytes passed on to a sink as they arrive.
 *
 * The parser is bounded and copies nothing: it scans the body once for delimiter lines, reads at
 * most IOF_MULTIPART_MAX_PARTS parts whose header blocks are at most IOF_MULTIPART_MAX_HEADER
 * bytes, and hands back a pointer into the body. Delimiters must be CRLF-framed as RFC 2046 says;
 * header lines may end in CRLF or a bare LF. */
#ifndef IOF_HTTP_MULTIPART_H
#define IOF_HTTP_MULTIPART_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

#define IOF_MULTIPART_MAX_PARTS  64
#define IOF_MULTIPART_MAX_HEADER 8192

/* Finds the first part whose Content-Disposition is form-data with name="field_name".
 * content_type is the request's Content-Type header (it must be multipart/form-data with a
 * boundary parameter, quoted or not). On success *part points into body (borrowed: valid as long
 * as body) and *part_len is its length (the part's bytes exactly, without the CRLF that precedes
 * the next delimiter). IOF_ENOENT when the body is well formed but has no such part, IOF_EINVAL
 * (message "Invalid multipart body: ...") when the content type or the body is malformed or over
 * the bounds above. */
IOF_NODISCARD iof_err iof_http_multipart_part(const char *content_type,
                                              const uint8_t *body,
                                              size_t len,
                                              const char *field_name,
                                              const uint8_t **part,
                                              size_t *part_len,
                                              struct iof_diag *d);

/* ---- Streaming ------------------------------------------------------------------------------
 * The same grammar, bounds and answers as iof_http_multipart_part, for a body that arrives in
 * pieces of any size: feeding the pieces of a body gives the same result (and the sink the same
 * bytes) as the one-shot parser on the whole body (the fuzz target checks this). Memory is fixed
 * whatever the body's size: about IOF_MULTIPART_MAX_HEADER plus IOF_MULTIPART_STREAM_OUT bytes. */

#define IOF_MULTIPART_STREAM_OUT 65536 /* part bytes are handed to the sink in pieces this big */

/* Receives the named part's bytes in order, in pieces of at most IOF_MULTIPART_STREAM_OUT bytes
 * (data borrowed for the call). An error stops the parse and is what feed/finish return. */
typedef iof_err (*iof_http_multipart_sink)(void *ctx,
                                           const uint8_t *data,
                                           size_t len,
                                           struct iof_diag *d);

struct iof_http_multipart_stream;

/* Starts a parse for the part named field_name (copied) of a body of type content_type.
 * IOF_EINVAL when content_type is not multipart/form-data with a boundary, IOF_ENOMEM. Free *out
 * with iof_http_multipart_stream_free. */
IOF_NODISCARD iof_err iof_http_multipart_stream_new(const char *content_type,
                                                    const char *field_name,
                                                    iof_http_multipart_sink sink,
                                                    void *sink_ctx,
                                                    struct iof_http_multipart_stream **out,
                                                    struct iof_diag *d);

/* Parses the next len bytes of the body. Once the named part has ended (or the closing delimiter
 * was seen) the rest of the body is ignored. After an error every later call returns it again. */
IOF_NODISCARD iof_err iof_http_multipart_stream_feed(struct iof_http_multipart_stream *s,
                                                     const uint8_t *data,
                                                     size_t len,
                                                     struct iof_diag *d);

/* The body has ended: IOF_OK when the named part was complete (the sink has had all of it),
 * IOF_ENOENT ("Required field 'x' is missing") or IOF_EINVAL as iof_http_multipart_part, or the
 * error that stopped the parse earlier. */
IOF_NODISCARD iof_err iof_http_multipart_stream_finish(struct iof_http_multipart_stream *s,
                                                       struct iof_diag *d);

/* Bytes of the named part passed to the sink so far. */
uint64_t iof_http_multipart_stream_part_len(const struct iof_http_multipart_stream *s);

/* NULL is a no-op. */
void iof_http_multipart_stream_free(struct iof_http_multipart_stream *s);

#endif
