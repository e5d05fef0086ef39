/* Time helpers: wall-clock milliseconds since the epoch (what ioMessages and the Controller use),
 * a monotonic clock for deadlines, and ISO-8601 UTC text as the classic Controller prints it. */
#ifndef IOF_COMMON_CLOCK_H
#define IOF_COMMON_CLOCK_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

/* Wall clock, ms since 1970-01-01 UTC. */
int64_t iof_time_now_ms(void);

/* Monotonic clock in ms, for timeouts and intervals; unrelated to the wall clock. */
int64_t iof_time_mono_ms(void);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL). IOF_E2BIG when size < 25, IOF_EINVAL when
 * ms is outside the years 0..9999. */
IOF_NODISCARD iof_err iof_time_format_iso8601(int64_t ms, char *out, size_t size);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]" followed by "Z" or "+HH:MM"/"-HH:MM" into ms since the epoch.
 * The fraction may have 1 to 9 digits (truncated to ms). IOF_EINVAL on anything else. */
IOF_NODISCARD iof_err iof_time_parse_iso8601(const char *text, int64_t *out_ms);

#endif
