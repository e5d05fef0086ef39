/* The WebSocket opening handshake (RFC 6455 §4) for both ends, without any I/O: the accept key,
 * the server's check of an upgrade request, the client's key and the client's check of the
 * server's 101 response. Pure functions; thread-safe. */
#ifndef IOF_WS_HANDSHAKE_H
#define IOF_WS_HANDSHAKE_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Largest response head (status line + headers + blank line) a client accepts from a server. */
#define IOF_WS_MAX_RESPONSE_HEAD 8192

/* Length of a Sec-WebSocket-Key (base64 of 16 bytes) and of a Sec-WebSocket-Accept (base64 of a
 * SHA-1), without the NUL. */
#define IOF_WS_KEY_LEN    24
#define IOF_WS_ACCEPT_LEN 28

/* Computes Sec-WebSocket-Accept for client_key: base64(SHA-1(client_key + the RFC's GUID)),
 * NUL-terminated in out. The key is taken as given (no trimming, no validation beyond a length of
 * at most 64 characters: IOF_EINVAL otherwise). */
IOF_NODISCARD iof_err iof_ws_accept_key(const char *client_key, char out[IOF_WS_ACCEPT_LEN + 1]);

/* The request fields a server looks at; each is the header's value or NULL when it is absent. */
struct iof_ws_upgrade_request {
    const char *method;
    const char *upgrade;    /* Upgrade */
    const char *connection; /* Connection */
    const char *version;    /* Sec-WebSocket-Version */
    const char *key;        /* Sec-WebSocket-Key */
};

/* Checks an upgrade request and, when it is acceptable, writes the Sec-WebSocket-Accept value for
 * it into accept. Rules: the method is GET; Upgrade lists the token "websocket" and Connection the
 * token "Upgrade" (comma-separated lists, case-insensitive); Sec-WebSocket-Version is exactly "13";
 * Sec-WebSocket-Key is base64 of exactly 16 bytes.
 * Errors, and the HTTP answer the caller gives for them (see iof_ws_handshake_http_status):
 * IOF_EUNSUPPORTED when the version is missing or not 13 (426 with "Sec-WebSocket-Version: 13"),
 * IOF_EINVAL for anything else (400). d names the offending header. */
IOF_NODISCARD iof_err iof_ws_handshake_check_request(const struct iof_ws_upgrade_request *r,
                                                     char accept[IOF_WS_ACCEPT_LEN + 1],
                                                     struct iof_diag *d);

/* The HTTP status a server answers a failed iof_ws_handshake_check_request with: 426 for
 * IOF_EUNSUPPORTED, 400 for IOF_EINVAL, 500 for anything else. */
unsigned iof_ws_handshake_http_status(iof_err err);

/* Writes a fresh random Sec-WebSocket-Key (16 bytes from the CSPRNG, base64) into key. IOF_EIO if
 * the kernel has no randomness to give. */
IOF_NODISCARD iof_err iof_ws_client_key(char key[IOF_WS_KEY_LEN + 1]);

/* Finds the end of an HTTP head in buf[0..len): on true, *head_len is the length of the head up to
 * and including its blank line ("\r\n\r\n"); false while the head is incomplete. */
bool iof_ws_find_head_end(const char *buf, size_t len, size_t *head_len);

/* Checks a server's response head (head[0..len), the bytes up to and including "\r\n\r\n", as found
 * by iof_ws_find_head_end) against the key the client sent, whose accept value is expected_accept:
 * the status line is "HTTP/1.1 101 ...", Upgrade lists "websocket", Connection lists "Upgrade",
 * Sec-WebSocket-Accept equals expected_accept, and no extension or subprotocol was selected (the
 * client asks for none). IOF_E2BIG when len exceeds IOF_WS_MAX_RESPONSE_HEAD, IOF_EREMOTE when the
 * status is not 101 (d holds the status line), IOF_EPROTO for any other violation. */
IOF_NODISCARD iof_err iof_ws_handshake_check_response(const char *head,
                                                      size_t len,
                                                      const char *expected_accept,
                                                      struct iof_diag *d);

/* True when the comma-separated header value list contains token (case-insensitive; optional
 * whitespace around elements is ignored). NULL list: false. Exposed for the tests. */
bool iof_ws_header_has_token(const char *list, const char *token);

#endif
