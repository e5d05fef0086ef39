/* Base64 codec. */
#include "common/base64.h"

#include <stdbool.h>

static const char enc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t iof_base64_encoded_len(size_t n) {
    return (n + 2) / 3 * 4;
}

size_t iof_base64_decoded_max(size_t n) {
    return n / 4 * 3;
}

iof_err iof_base64_encode(const uint8_t *in, size_t n, char *out, size_t size) {
    if (n > (SIZE_MAX - 3) / 4 * 3 || size < iof_base64_encoded_len(n) + 1) {
        return IOF_E2BIG;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = enc[v >> 18 & 63];
        out[o++] = enc[v >> 12 & 63];
        out[o++] = enc[v >> 6 & 63];
        out[o++] = enc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = enc[v >> 18 & 63];
        out[o++] = enc[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = enc[v >> 18 & 63];
        out[o++] = enc[v >> 12 & 63];
        out[o++] = enc[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return IOF_OK;
}

static int dec(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

iof_err iof_base64_decode(const char *text, size_t n, uint8_t *out, size_t size, size_t *out_len) {
    if (n % 4 != 0) {
        return IOF_EINVAL;
    }
    size_t pad = 0;
    if (n >= 4 && text[n - 1] == '=') {
        pad = text[n - 2] == '=' ? 2 : 1;
    }
    size_t total = n / 4 * 3 - pad;
    if (total > size) {
        return IOF_E2BIG;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int a = dec(text[i]);
        int b = dec(text[i + 1]);
        int c = last && pad == 2 ? 0 : dec(text[i + 2]);
        int d = last && pad >= 1 ? 0 : dec(text[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0) {
            return IOF_EINVAL;
        }
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        if (!(last && pad == 2)) {
            out[o++] = (uint8_t)(v >> 8);
        }
        if (!(last && pad >= 1)) {
            out[o++] = (uint8_t)v;
        }
    }
    *out_len = o;
    return IOF_OK;
}
