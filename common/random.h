/* Random ids and secrets from the kernel's CSPRNG (getrandom). Never rand(). */
#ifndef IOF_COMMON_RANDOM_H
#define IOF_COMMON_RANDOM_H

#include "common/error.h"

#include <stddef.h>

/* Alphabets in use on the wire. */
#define IOF_ALPHABET_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define IOF_ALPHABET_HEX   "0123456789abcdef"
/* The classic Controller's agent tokens and provisioning keys avoid look-alike characters. */
#define IOF_ALPHABET_FOG_TOKEN "2346789bcdfghjkmnpqrtvwxyzBCDFGHJKLMNPQRTVWXYZ"

/* Fills buf with n random bytes. IOF_EIO if the kernel cannot supply them. */
IOF_NODISCARD iof_err iof_random_bytes(void *buf, size_t n);

/* Writes len characters drawn uniformly (rejection sampling, no modulo bias) from alphabet, then a
 * NUL, into out, which must hold len + 1 bytes. alphabet must have 2 to 256 distinct characters. */
IOF_NODISCARD iof_err iof_random_string(char *out, size_t len, const char *alphabet);

/* Writes a random RFC 4122 version-4 UUID, lowercase with dashes, into out[37]. */
IOF_NODISCARD iof_err iof_random_uuid(char out[37]);

#endif
