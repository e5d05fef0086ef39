/* Standard base64 (RFC 4648 §4, with padding, no line breaks): the encoding of ioMessage
 * contextdata/contentdata in JSON. The decoder is strict the way the classic Java agent's basic
 * decoder is: no whitespace, no URL-safe alphabet, padding only at the end. */
#ifndef IOF_COMMON_BASE64_H
#define IOF_COMMON_BASE64_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, without the NUL. */
size_t iof_base64_encoded_len(size_t n);

/* Upper bound of bytes decoded from text of length n. */
size_t iof_base64_decoded_max(size_t n);

/* Encodes n bytes into out, NUL-terminated. IOF_E2BIG if size < encoded_len(n) + 1. */
IOF_NODISCARD iof_err iof_base64_encode(const uint8_t *in, size_t n, char *out, size_t size);

/* Decodes text[0..n) into out (capacity size) and stores the byte count in *out_len.
 * IOF_EINVAL on any character outside the alphabet, bad padding or a length not a multiple of 4;
 * IOF_E2BIG if out is too small. */
IOF_NODISCARD iof_err
iof_base64_decode(const char *text, size_t n, uint8_t *out, size_t size, size_t *out_len);

#endif
