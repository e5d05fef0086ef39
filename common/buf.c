/* Bounded buffer. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void iof_buf_init(struct iof_buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static iof_err reserve(struct iof_buf *b, size_t n) {
    if (n > b->max || b->len > b->max - n) {
        return IOF_E2BIG;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return IOF_OK;
    }
    size_t cap = b->cap != 0 ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
        return IOF_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return IOF_OK;
}

iof_err iof_buf_append(struct iof_buf *b, const void *data, size_t n) {
    iof_err err = reserve(b, n);
    if (err != IOF_OK) {
        return err;
    }
    if (n > 0) {
        memcpy(b->data + b->len, data, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return IOF_OK;
}

iof_err iof_buf_printf(struct iof_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return IOF_EINVAL;
    }
    iof_err err = reserve(b, (size_t)n);
    if (err != IOF_OK) {
        return err;
    }
    va_start(ap, fmt);
    (void)vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return IOF_OK;
}

void iof_buf_reset(struct iof_buf *b) {
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void iof_buf_free(struct iof_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

uint8_t *iof_buf_steal(struct iof_buf *b, size_t *len) {
    uint8_t *p = b->data;
    if (p == NULL) {
        p = calloc(1, 1);
    }
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
