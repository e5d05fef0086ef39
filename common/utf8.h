/* UTF-8 validation for text that crosses a boundary (ioMessage strings, JSON strings). */
#ifndef IOF_COMMON_UTF8_H
#define IOF_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) and contains no NUL byte. */
bool iof_utf8_valid(const char *s, size_t n);

#endif
