/* libFuzzer target: the input is what a WebSocket client sent to the server. It goes through a
 * server-side session (wslay framing, masking rules, this module's reassembly and limits, the
 * closing handshake) over an in-memory stream that hands it out in uneven pieces and sometimes
 * would block, with a handler that echoes every message, as the hub's echo route does.
 * Checked: every delivered message respects the limit, text is valid UTF-8, close codes are
 * legal, and nothing leaks or overflows. Seeds: ws/fuzz-corpus/ws_frame/. */
#include "ws/session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Small, so inputs of a few KiB reach the message limit. */
#define FUZZ_MAX_MESSAGE ((size_t)4096)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_stream {
    const uint8_t *data;
    size_t size;
    size_t off;
    bool eof;
    unsigned reads;
    unsigned writes;
    struct iof_ws_session *s;
};

static ssize_t fuzz_read(void *ctx, uint8_t *buf, size_t len) {
    static const size_t pieces[] = {4096, 1, 5, 2, 100, 3, 14};
    struct fuzz_stream *st = ctx;
    st->reads++;
    if (st->off == st->size) {
        return st->eof ? IOF_WS_IO_FAIL : IOF_WS_IO_AGAIN;
    }
    if (st->reads % 3 == 0) {
        return IOF_WS_IO_AGAIN;
    }
    size_t n = pieces[st->reads % (sizeof pieces / sizeof pieces[0])];
    if (n > len) {
        n = len;
    }
    if (n > st->size - st->off) {
        n = st->size - st->off;
    }
    for (size_t i = 0; i < n; i++) {
        buf[i] = st->data[st->off + i];
    }
    st->off += n;
    return (ssize_t)n;
}

static ssize_t fuzz_write(void *ctx, const uint8_t *buf, size_t len) {
    (void)buf;
    struct fuzz_stream *st = ctx;
    st->writes++;
    if (st->writes % 4 == 0) {
        return IOF_WS_IO_AGAIN;
    }
    return (ssize_t)(len > 1000 ? 1000 : len);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i <= extra) {
            return false;
        }
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

static void fuzz_event(void *ctx, const struct iof_ws_event *ev) {
    struct fuzz_stream *st = ctx;
    if (ev->data == NULL) {
        abort();
    }
    switch (ev->opcode) {
        case IOF_WS_TEXT:
        case IOF_WS_BINARY:
            if (ev->opcode == IOF_WS_TEXT && !utf8_valid(ev->data, ev->len)) {
                abort();
            }
            if (ev->len > FUZZ_MAX_MESSAGE) {
                abort();
            }
            (void)!iof_ws_session_queue(st->s, ev->opcode, ev->data, ev->len);
            return;
        case IOF_WS_PING:
        case IOF_WS_PONG:
            if (ev->len > IOF_WS_MAX_CONTROL) {
                abort();
            }
            return;
        case IOF_WS_CLOSE:
            if (ev->status != IOF_WS_STATUS_NO_STATUS && !iof_ws_status_sendable(ev->status)) {
                abort();
            }
            return;
        default: abort();
    }
}

static const struct iof_ws_session_ops fuzz_ops = {fuzz_read, fuzz_write, fuzz_event};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_stream st = {.data = data, .size = size};
    struct iof_ws_session_config cfg = {
        .server = true,
        .max_message = FUZZ_MAX_MESSAGE,
        .ops = &fuzz_ops,
        .ctx = &st,
        .read_ahead = true, /* as the hub's sessions */
    };
    if (iof_ws_session_new(&cfg, NULL, 0, &st.s) != IOF_OK) {
        return 0;
    }
    size_t rounds = 4 * size + 16;
    for (size_t r = 0; r < rounds && !iof_ws_session_finished(st.s); r++) {
        if (st.off == st.size) {
            st.eof = true;
        }
        if (iof_ws_session_read(st.s) != IOF_OK) {
            break;
        }
        if (iof_ws_session_want_write(st.s) && iof_ws_session_write(st.s) != IOF_OK) {
            break;
        }
    }
    (void)iof_ws_session_status(st.s);
    (void)iof_ws_session_queued_bytes(st.s);
    iof_ws_session_free(st.s);
    return 0;
}
