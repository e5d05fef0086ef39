/* libFuzzer target: the input is a server's answer to the client's upgrade request (what
 * iof_ws_client_connect reads before it trusts the connection), checked against a fixed expected
 * accept key; the same bytes also go through the token-list and request checks the server side
 * uses. Seeds: ws/fuzz-corpus/ws_handshake/. */
#include "ws/handshake.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    size_t head_len = 0;
    if (iof_ws_find_head_end(text, size, &head_len)) {
        if (head_len > size || memcmp(text + head_len - 4, "\r\n\r\n", 4) != 0) {
            abort();
        }
        struct iof_diag d;
        (void)!iof_ws_handshake_check_response(text, head_len, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &d);
    }
    /* As NUL-separated request fields: method, Upgrade, Connection, version, key. */
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *fields[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t nf = 0;
    for (size_t i = 0; i <= size && nf < 5; i++) {
        if (i == 0 || copy[i - 1] == '\0') {
            fields[nf++] = copy + i;
        }
    }
    struct iof_ws_upgrade_request r = {fields[0], fields[1], fields[2], fields[3], fields[4]};
    char accept[IOF_WS_ACCEPT_LEN + 1];
    if (iof_ws_handshake_check_request(&r, accept, NULL) == IOF_OK && strlen(accept) != 28) {
        abort();
    }
    (void)iof_ws_header_has_token(copy, "upgrade");
    free(copy);
    return 0;
}
