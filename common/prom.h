/* Helpers for the Prometheus text exposition format (version 0.0.4): a fixed set of latency
 * buckets with lock-free counters, label value escaping and the process's resident memory. */
#ifndef IOF_PROM_H
#define IOF_PROM_H

#include "common/buf.h"
#include "common/error.h"

#include <stdatomic.h>
#include <stdint.h>

#define IOF_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of the latency buckets, in seconds; +Inf follows. */
#define IOF_PROM_NBUCKETS 15
extern const double iof_prom_bucket_le[IOF_PROM_NBUCKETS];

/* A histogram of durations: buckets[i] counts observations <= bound i and > bound i-1 (not
 * cumulative; cumulated when written), buckets[NBUCKETS] the rest. Zero-initialised is empty. */
struct iof_prom_hist {
    _Atomic uint64_t buckets[IOF_PROM_NBUCKETS + 1];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

/* Records one duration (relaxed atomics, no lock). Negative counts as 0. */
void iof_prom_hist_observe(struct iof_prom_hist *h, int64_t us);

/* Writes name_bucket{labels,le=...} lines, name_sum and name_count. labels is the text inside the
 * braces without the le label ("" for none), already escaped. */
IOF_NODISCARD iof_err iof_prom_hist_write(struct iof_buf *b,
                                          const char *name,
                                          const char *labels,
                                          const struct iof_prom_hist *h);

/* Appends value escaped for a label value (backslash, double quote and newline escaped). */
IOF_NODISCARD iof_err iof_prom_escape(struct iof_buf *b, const char *value);

/* The process's resident set size in bytes (from /proc/self/statm); 0 when unreadable. */
uint64_t iof_prom_rss_bytes(void);

#endif
