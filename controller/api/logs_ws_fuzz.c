/* libFuzzer target: log bytes from a node (untrusted) turned into WebSocket text
 * (ctl_logs_ws_utf8). The output must be well-formed UTF-8 (sanitizing it again changes nothing),
 * at most three bytes per input byte, and keep valid input as it is. Seeds:
 * controller/fuzz-corpus/logs_ws/. */
#include "controller/api/logs_ws.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *out = malloc(3 * size + 1), *again = malloc(9 * size + 1);
    if (out == NULL || again == NULL) {
        free(out);
        free(again);
        return 0;
    }
    size_t n = ctl_logs_ws_utf8(data, size, out);
    if (n > 3 * size) {
        abort();
    }
    size_t m = ctl_logs_ws_utf8(out, n, again);
    if (m != n || memcmp(out, again, n) != 0) {
        abort(); /* the first pass left something that is not UTF-8 */
    }
    bool replaced = memmem(out, n, "\xEF\xBF\xBD", 3) != NULL;
    if (!replaced && (n != size || memcmp(out, data, size) != 0)) {
        abort(); /* valid input changed */
    }
    free(out);
    free(again);
    return 0;
}
