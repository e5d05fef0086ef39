/* Docker image references: "img", "img:tag", "ns/img:tag", "host:5000/ns/img:tag", "img@sha256:..."
 * split into registry host, repository, tag and digest the way the Docker CLI reads them, so a
 * registry host with a port is never mistaken for a tag. */
#ifndef IOF_COMMON_IMAGEREF_H
#define IOF_COMMON_IMAGEREF_H

#include "common/error.h"

#include <stddef.h>

#define IOF_IMAGEREF_MAX 512

struct iof_imageref {
    char host[256];              /* "host:5000", "" when the reference names none (Docker Hub) */
    char repo[IOF_IMAGEREF_MAX]; /* with the host: "host:5000/ns/img", "ns/img", "img" */
    char tag[128];               /* "latest" when neither tag nor digest is given; "" with a
                                    digest and no tag */
    char digest[160];            /* "sha256:<hex>" or "" */
};

/* Parses text (at most IOF_IMAGEREF_MAX - 1 bytes). IOF_EINVAL with the reason in d for an empty
 * reference, upper-case letters or other characters Docker rejects in a repository, an empty path
 * component, a bad tag or a bad digest. */
IOF_NODISCARD iof_err iof_imageref_parse(const char *text,
                                         struct iof_imageref *out,
                                         struct iof_diag *d);

/* Writes the canonical text: repo, ":tag" when there is a tag, "@digest" when there is a digest.
 * IOF_E2BIG when size is too small. */
IOF_NODISCARD iof_err iof_imageref_format(const struct iof_imageref *r, char *buf, size_t size);

/* The value of the "tag" query parameter of a pull: the digest when there is one, else the tag. */
const char *iof_imageref_pull_tag(const struct iof_imageref *r);

#endif
