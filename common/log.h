/* Logging: one logfmt line per event on stderr, so journald or a container runtime collects it.
 *
 * A line reads `ts=2026-11-27T22:10:40.123Z level=info module=http event=listening port=51121`.
 * The format string of the macros starts with the event name; the rest of it is key=value pairs.
 * Values that may hold spaces, quotes or control characters (user input, error texts) go through
 * iof_log_quote(). Control characters left in a line are replaced, so one event is always one line.
 * The level is process-wide: set it from configuration with iof_log_set_level() or from the
 * environment variable IOFOG_LOG_LEVEL with iof_log_init_from_env(). Thread-safe. */
#ifndef IOF_COMMON_LOG_H
#define IOF_COMMON_LOG_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>

enum iof_log_level {
    IOF_LOG_DEBUG = 0,
    IOF_LOG_INFO,
    IOF_LOG_WARN,
    IOF_LOG_ERROR,
    IOF_LOG_OFF,
};

void iof_log_set_level(enum iof_log_level level);
enum iof_log_level iof_log_get_level(void);
bool iof_log_enabled(enum iof_log_level level);

/* Parses "debug", "info", "warn"/"warning", "error", "off" (case-insensitive). */
IOF_NODISCARD iof_err iof_log_level_parse(const char *text, enum iof_log_level *out);

/* Sets the level from IOFOG_LOG_LEVEL when it is set and valid; returns IOF_EINVAL (and keeps
 * the level) when it is set to something else. */
IOF_NODISCARD iof_err iof_log_init_from_env(void);

/* Writes one event. Prefer the macros. */
void iof_log_write(enum iof_log_level level, const char *module, const char *fmt, ...)
    IOF_PRINTF(3, 4);

/* Writes `"text"` into buf with \" \\ \n \t escaped, truncated to fit (always NUL-terminated and
 * still quoted); returns buf, so it can be used as a printf argument. */
const char *iof_log_quote(char *buf, size_t size, const char *text);

#define IOF_LOG_AT(level, module, ...)                                                             \
    do {                                                                                           \
        if (iof_log_enabled(level)) {                                                              \
            iof_log_write(level, module, __VA_ARGS__);                                             \
        }                                                                                          \
    } while (0)
#define IOF_DEBUG(module, ...) IOF_LOG_AT(IOF_LOG_DEBUG, module, __VA_ARGS__)
#define IOF_INFO(module, ...)  IOF_LOG_AT(IOF_LOG_INFO, module, __VA_ARGS__)
#define IOF_WARN(module, ...)  IOF_LOG_AT(IOF_LOG_WARN, module, __VA_ARGS__)
#define IOF_ERROR(module, ...) IOF_LOG_AT(IOF_LOG_ERROR, module, __VA_ARGS__)

#endif
