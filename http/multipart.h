/* multipart/form-data (RFC 7578) request bodies: finds one named part of an upload, as the YAML
 * upload routes of the Controller need (POST /application/yaml, field "application", ...).
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

#endif
