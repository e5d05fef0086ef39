/* CSPRNG helpers on getrandom(2). */
#include "common/random.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

iof_err iof_random_bytes(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return IOF_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return IOF_OK;
}

iof_err iof_random_string(char *out, size_t len, const char *alphabet) {
    size_t k = alphabet != NULL ? strlen(alphabet) : 0;
    if (k < 2 || k > 256) {
        return IOF_EINVAL;
    }
    /* Accept bytes below the largest multiple of k that fits in 256, so every symbol is equally
     * likely. */
    unsigned limit = 256u - (256u % (unsigned)k);
    uint8_t pool[64];
    size_t used = sizeof pool;
    for (size_t i = 0; i < len;) {
        if (used == sizeof pool) {
            iof_err err = iof_random_bytes(pool, sizeof pool);
            if (err != IOF_OK) {
                return err;
            }
            used = 0;
        }
        uint8_t b = pool[used++];
        if (b < limit) {
            out[i++] = alphabet[b % k];
        }
    }
    out[len] = '\0';
    return IOF_OK;
}

iof_err iof_random_uuid(char out[37]) {
    uint8_t b[16];
    iof_err err = iof_random_bytes(b, sizeof b);
    if (err != IOF_OK) {
        return err;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    (void)snprintf(out,
                   37,
                   "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                   b[0],
                   b[1],
                   b[2],
                   b[3],
                   b[4],
                   b[5],
                   b[6],
                   b[7],
                   b[8],
                   b[9],
                   b[10],
                   b[11],
                   b[12],
                   b[13],
                   b[14],
                   b[15]);
    return IOF_OK;
}
