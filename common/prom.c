/* Prometheus text format helpers; see prom.h. */
#include "common/prom.h"

#include <stdio.h>
#include <unistd.h>

const double iof_prom_bucket_le[IOF_PROM_NBUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void iof_prom_hist_observe(struct iof_prom_hist *h, int64_t us) {
    if (us < 0) {
        us = 0;
    }
    size_t i = 0;
    while (i < IOF_PROM_NBUCKETS && (double)us > iof_prom_bucket_le[i] * 1e6) {
        i++;
    }
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

iof_err iof_prom_hist_write(struct iof_buf *b,
                            const char *name,
                            const char *labels,
                            const struct iof_prom_hist *h) {
    const char *sep = labels[0] != '\0' ? "," : "";
    uint64_t cum = 0;
    iof_err err = IOF_OK;
    for (size_t i = 0; i <= IOF_PROM_NBUCKETS && err == IOF_OK; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < IOF_PROM_NBUCKETS) {
            err = iof_buf_printf(b,
                                 "%s_bucket{%s%sle=\"%g\"} %llu\n",
                                 name,
                                 labels,
                                 sep,
                                 iof_prom_bucket_le[i],
                                 (unsigned long long)cum);
        } else {
            err = iof_buf_printf(
                b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
        }
    }
    uint64_t sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    /* count written as the +Inf bucket's value, so the two always agree within one scrape */
    if (err == IOF_OK) {
        err = iof_buf_printf(b,
                             "%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
                             name,
                             labels,
                             (double)sum / 1e6,
                             name,
                             labels,
                             (unsigned long long)cum);
    }
    return err;
}

iof_err iof_prom_escape(struct iof_buf *b, const char *value) {
    iof_err err = IOF_OK;
    for (const char *p = value; *p != '\0' && err == IOF_OK; p++) {
        if (*p == '\\') {
            err = iof_buf_append(b, "\\\\", 2);
        } else if (*p == '"') {
            err = iof_buf_append(b, "\\\"", 2);
        } else if (*p == '\n') {
            err = iof_buf_append(b, "\\n", 2);
        } else {
            err = iof_buf_append(b, p, 1);
        }
    }
    return err;
}

uint64_t iof_prom_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL) {
        return 0;
    }
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}
