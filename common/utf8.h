/* UTF-8 validation for text that crosses a boundary (ioMessage strings, JSON strings). */
#ifndef IOF_COMMON_UTF8_H
#define IOF_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) and contains no NUL byte. */
bool iof_utf8_valid(const char *s, size_t n);

/* Copies s[0..n) with every ill-formed sequence replaced by U+FFFD (one per maximal ill-formed
 * subpart, as Java's `new String(bytes, UTF_8)` and JavaScript's TextDecoder do), so text sent
 * as Latin-1 by a classic client is kept the way the classic Agent and Controller keep it. NUL
 * bytes are copied as they are (they are well-formed; callers that refuse NUL still do).
 * Returns a NUL-terminated string the caller frees, its length in *out_len, and the number of
 * replacements in *replaced (either may be NULL); NULL when out of memory. */
char *iof_utf8_repair(const char *s, size_t n, size_t *out_len, size_t *replaced);

#endif
