/* logfmt writer. Each event is formatted into one buffer and written with a single write(2), so
 * lines from several threads never interleave. */
#include "common/log.h"

#include "common/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int current_level = IOF_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void iof_log_set_level(enum iof_log_level level) {
    atomic_store(&current_level, (int)level);
}

enum iof_log_level iof_log_get_level(void) {
    return (enum iof_log_level)atomic_load(&current_level);
}

bool iof_log_enabled(enum iof_log_level level) {
    return level != IOF_LOG_OFF && (int)level >= atomic_load(&current_level);
}

iof_err iof_log_level_parse(const char *text, enum iof_log_level *out) {
    if (text == NULL) {
        return IOF_EINVAL;
    }
    for (int i = IOF_LOG_DEBUG; i <= IOF_LOG_OFF; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (enum iof_log_level)i;
            return IOF_OK;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = IOF_LOG_WARN;
        return IOF_OK;
    }
    return IOF_EINVAL;
}

iof_err iof_log_init_from_env(void) {
    const char *v = getenv("IOFOG_LOG_LEVEL");
    if (v == NULL || *v == '\0') {
        return IOF_OK;
    }
    enum iof_log_level level;
    iof_err err = iof_log_level_parse(v, &level);
    if (err == IOF_OK) {
        iof_log_set_level(level);
    }
    return err;
}

const char *iof_log_quote(char *buf, size_t size, const char *text) {
    if (size < 3) {
        if (size > 0) {
            buf[0] = '\0';
        }
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
        char esc = 0;
        switch (*p) {
            case '"': esc = '"'; break;
            case '\\': esc = '\\'; break;
            case '\n': esc = 'n'; break;
            case '\r': esc = 'r'; break;
            case '\t': esc = 't'; break;
            default: break;
        }
        size_t need = esc != 0 ? 2 : 1;
        if (o + need + 2 > size) {
            break;
        }
        if (esc != 0) {
            buf[o++] = '\\';
            buf[o++] = esc;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void iof_log_write(enum iof_log_level level, const char *module, const char *fmt, ...) {
    char line[2048];
    char ts[32];
    if (iof_time_format_iso8601(iof_time_now_ms(), ts, sizeof ts) != IOF_OK) {
        (void)snprintf(ts, sizeof ts, "unknown");
    }
    int head = snprintf(line,
                        sizeof line,
                        "ts=%s level=%s module=%s event=",
                        ts,
                        level_names[level <= IOF_LOG_OFF ? level : IOF_LOG_ERROR],
                        module != NULL ? module : "-");
    if (head < 0) {
        return;
    }
    size_t len = (size_t)head < sizeof line ? (size_t)head : sizeof line - 1;
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    if (body > 0) {
        len += (size_t)body < sizeof line - len ? (size_t)body : sizeof line - len - 1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20) {
            line[i] = ' ';
        }
    }
    if (len >= sizeof line - 1) {
        len = sizeof line - 2;
    }
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}
