/* WebSocket opening handshake: accept key, request and response checks. */
#include "ws/handshake.h"

#include "common/base64.h"
#include "common/random.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#define MAX_CLIENT_KEY 64

iof_err iof_ws_accept_key(const char *client_key, char out[IOF_WS_ACCEPT_LEN + 1]) {
    if (client_key == NULL) {
        return IOF_EINVAL;
    }
    size_t klen = strlen(client_key);
    if (klen > MAX_CLIENT_KEY) {
        return IOF_EINVAL;
    }
    char buf[MAX_CLIENT_KEY + sizeof ws_guid];
    memcpy(buf, client_key, klen);
    memcpy(buf + klen, ws_guid, sizeof ws_guid - 1);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_Digest(buf, klen + sizeof ws_guid - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
        mdlen != 20) {
        return IOF_EINTERNAL;
    }
    char tmp[IOF_WS_ACCEPT_LEN + 1];
    iof_err err = iof_base64_encode(md, mdlen, tmp, sizeof tmp);
    if (err != IOF_OK) {
        return IOF_EINTERNAL;
    }
    memcpy(out, tmp, sizeof tmp);
    return IOF_OK;
}

static bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

/* Compares a[0..alen) with the NUL-terminated b, ignoring case. */
static bool span_equals(const char *a, size_t alen, const char *b) {
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

bool iof_ws_header_has_token(const char *list, const char *token) {
    if (list == NULL) {
        return false;
    }
    const char *p = list;
    for (;;) {
        while (is_ows(*p)) {
            p++;
        }
        const char *start = p;
        while (*p != '\0' && *p != ',') {
            p++;
        }
        const char *end = p;
        while (end > start && is_ows(end[-1])) {
            end--;
        }
        if (span_equals(start, (size_t)(end - start), token)) {
            return true;
        }
        if (*p == '\0') {
            return false;
        }
        p++;
    }
}

iof_err iof_ws_handshake_check_request(const struct iof_ws_upgrade_request *r,
                                       char accept[IOF_WS_ACCEPT_LEN + 1],
                                       struct iof_diag *d) {
    if (r->method == NULL || strcmp(r->method, "GET") != 0) {
        return iof_fail(d, IOF_EINVAL, "WebSocket upgrade requires GET");
    }
    if (!iof_ws_header_has_token(r->upgrade, "websocket")) {
        return iof_fail(d, IOF_EINVAL, "Header 'Upgrade' must contain 'websocket'");
    }
    if (!iof_ws_header_has_token(r->connection, "upgrade")) {
        return iof_fail(d, IOF_EINVAL, "Header 'Connection' must contain 'Upgrade'");
    }
    if (r->version == NULL || strcmp(r->version, "13") != 0) {
        return iof_fail(d, IOF_EUNSUPPORTED, "Header 'Sec-WebSocket-Version' must be 13");
    }
    if (r->key == NULL) {
        return iof_fail(d, IOF_EINVAL, "Header 'Sec-WebSocket-Key' is missing");
    }
    size_t klen = strlen(r->key);
    uint8_t raw[18];
    size_t rawlen = 0;
    if (klen != IOF_WS_KEY_LEN ||
        iof_base64_decode(r->key, klen, raw, sizeof raw, &rawlen) != IOF_OK || rawlen != 16) {
        return iof_fail(d, IOF_EINVAL, "Header 'Sec-WebSocket-Key' must be base64 of 16 bytes");
    }
    return iof_ws_accept_key(r->key, accept);
}

unsigned iof_ws_handshake_http_status(iof_err err) {
    switch (err) {
        case IOF_EUNSUPPORTED: return 426;
        case IOF_EINVAL: return 400;
        default: return 500;
    }
}

iof_err iof_ws_client_key(char key[IOF_WS_KEY_LEN + 1]) {
    uint8_t raw[16];
    iof_err err = iof_random_bytes(raw, sizeof raw);
    if (err != IOF_OK) {
        return err;
    }
    char tmp[IOF_WS_KEY_LEN + 1];
    if (iof_base64_encode(raw, sizeof raw, tmp, sizeof tmp) != IOF_OK) {
        return IOF_EINTERNAL;
    }
    memcpy(key, tmp, sizeof tmp);
    return IOF_OK;
}

bool iof_ws_find_head_end(const char *buf, size_t len, size_t *head_len) {
    for (size_t i = 0; i + 4 <= len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            *head_len = i + 4;
            return true;
        }
    }
    return false;
}

/* What the response check collects while walking the header lines. */
struct response_fields {
    bool upgrade;
    bool connection;
    bool accept;
};

/* Checks one "Name: value" line (without CRLF) of a response head. */
static iof_err check_response_line(const char *line,
                                   size_t len,
                                   const char *expected_accept,
                                   struct response_fields *f,
                                   struct iof_diag *d) {
    if (len == 0 || is_ows(line[0])) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: folded or empty header line");
    }
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: malformed header line");
    }
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    const char *end = line + len;
    while (v < end && is_ows(*v)) {
        v++;
    }
    while (end > v && is_ows(end[-1])) {
        end--;
    }
    size_t vlen = (size_t)(end - v);
    char value[IOF_WS_MAX_RESPONSE_HEAD + 1];
    memcpy(value, v, vlen);
    value[vlen] = '\0';
    if (memchr(value, '\0', vlen) != NULL) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: NUL in a header");
    }
    if (span_equals(line, nlen, "Upgrade")) {
        f->upgrade = f->upgrade || iof_ws_header_has_token(value, "websocket");
    } else if (span_equals(line, nlen, "Connection")) {
        f->connection = f->connection || iof_ws_header_has_token(value, "upgrade");
    } else if (span_equals(line, nlen, "Sec-WebSocket-Accept")) {
        if (f->accept || strcmp(value, expected_accept) != 0) {
            return iof_fail(d, IOF_EPROTO, "WebSocket handshake: wrong Sec-WebSocket-Accept");
        }
        f->accept = true;
    } else if (span_equals(line, nlen, "Sec-WebSocket-Extensions") ||
               span_equals(line, nlen, "Sec-WebSocket-Protocol")) {
        if (vlen > 0) {
            return iof_fail(
                d, IOF_EPROTO, "WebSocket handshake: unrequested %.*s", (int)nlen, line);
        }
    }
    return IOF_OK;
}

iof_err iof_ws_handshake_check_response(const char *head,
                                        size_t len,
                                        const char *expected_accept,
                                        struct iof_diag *d) {
    if (len > IOF_WS_MAX_RESPONSE_HEAD) {
        return iof_fail(d,
                        IOF_E2BIG,
                        "WebSocket handshake: response head over %d bytes",
                        IOF_WS_MAX_RESPONSE_HEAD);
    }
    size_t head_len = 0;
    if (!iof_ws_find_head_end(head, len, &head_len) || head_len != len) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: incomplete response head");
    }
    const char *p = head;
    const char *limit = head + len - 2; /* the final CRLF ends the head */
    const char *eol = memchr(p, '\r', (size_t)(limit - p));
    if (eol == NULL || eol[1] != '\n') {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: malformed status line");
    }
    size_t slen = (size_t)(eol - p);
    if (slen < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0 || (slen > 12 && p[12] != ' ')) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: malformed status line");
    }
    if (memcmp(p + 9, "101", 3) != 0) {
        int shown = slen > 80 ? 80 : (int)slen;
        return iof_fail(d, IOF_EREMOTE, "WebSocket handshake refused: %.*s", shown, p);
    }
    struct response_fields f = {false, false, false};
    p = eol + 2;
    while (p < limit) {
        eol = memchr(p, '\r', (size_t)(limit - p));
        if (eol == NULL || eol[1] != '\n') {
            return iof_fail(d, IOF_EPROTO, "WebSocket handshake: bare CR in a header");
        }
        if (memchr(p, '\n', (size_t)(eol - p)) != NULL) {
            return iof_fail(d, IOF_EPROTO, "WebSocket handshake: bare LF in a header");
        }
        iof_err err = check_response_line(p, (size_t)(eol - p), expected_accept, &f, d);
        if (err != IOF_OK) {
            return err;
        }
        p = eol + 2;
    }
    if (!f.upgrade) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: no 'Upgrade: websocket'");
    }
    if (!f.connection) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: no 'Connection: Upgrade'");
    }
    if (!f.accept) {
        return iof_fail(d, IOF_EPROTO, "WebSocket handshake: no Sec-WebSocket-Accept");
    }
    return IOF_OK;
}
