/* A growable byte buffer with a hard maximum, for anything fed by the network: appending past the
 * maximum fails with IOF_E2BIG instead of growing. The data is always followed by a NUL byte (not
 * counted in len) so text can be handed to C string functions. */
#ifndef IOF_COMMON_BUF_H
#define IOF_COMMON_BUF_H

#include "common/error.h"

#include <stddef.h>
#include <stdint.h>

struct iof_buf {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* len never exceeds this */
};

/* Starts an empty buffer that may grow to max bytes. Allocates nothing. */
void iof_buf_init(struct iof_buf *b, size_t max);

/* Appends n bytes. IOF_E2BIG when len + n would exceed max (the buffer is unchanged),
 * IOF_ENOMEM when growing fails. */
IOF_NODISCARD iof_err iof_buf_append(struct iof_buf *b, const void *data, size_t n);

/* Appends formatted text (without its NUL). Same errors as iof_buf_append. */
IOF_NODISCARD iof_err iof_buf_printf(struct iof_buf *b, const char *fmt, ...) IOF_PRINTF(2, 3);

/* Forgets the content, keeps the memory. */
void iof_buf_reset(struct iof_buf *b);

/* Releases the memory; the buffer is empty afterwards and may be reused. */
void iof_buf_free(struct iof_buf *b);

/* Hands the data to the caller (caller frees with free()); the buffer is empty afterwards.
 * Returns a valid empty string when nothing was appended, or NULL if that allocation fails. */
uint8_t *iof_buf_steal(struct iof_buf *b, size_t *len);

#endif
