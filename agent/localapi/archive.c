/* The on-disk message archive: segment and index files per publisher (format in archive.h). */
#include "agent/localapi/archive.h"

#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define NAME_MAX_LEN   200
#define MAX_WRITERS    64
#define MAX_INDEX_READ ((size_t)16 * 1024 * 1024)
/* Group commit: records (and their index entries) wait in the writer's buffers until
 * agent_archive_flush or until this much is gathered; a record at least this big is written on
 * its own. */
#define GROUP_BYTES ((size_t)32 * 1024)

static const uint8_t magic[4] = {'I', 'O', 'F', 'C'};     /* written: CRC-32C checksum */
static const uint8_t magic_fnv[4] = {'I', 'O', 'F', 'R'}; /* read too: FNV-1a checksum */

struct seg {
    char pub[NAME_MAX_LEN + 1];
    uint64_t seq;
    uint64_t bytes; /* segment + index */
};

/* A publisher's segment open for appending. */
struct writer {
    char pub[NAME_MAX_LEN + 1];
    uint64_t seq;
    int seg_fd;
    int idx_fd;
    uint64_t seg_size;
    uint8_t *seg_buf; /* records not yet written, GROUP_BYTES when allocated */
    size_t seg_len;
    uint8_t *idx_buf; /* their index entries, GROUP_BYTES when allocated */
    size_t idx_len;
    struct writer *next;
};

struct agent_archive {
    pthread_mutex_t mu;
    char *dir;
    uint64_t max_bytes;
    uint64_t segment_bytes;
    struct seg *segs; /* sorted by seq, oldest first */
    size_t nsegs;
    size_t cap;
    uint64_t total;
    uint64_t next_seq;
    struct writer *writers; /* most recently created first */
    size_t nwriters;
};

/* ---- record format ---- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v) {
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p) {
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t fnv_check(const uint8_t *head, const uint8_t *payload, size_t len) {
    uint32_t h = fnv1a(2166136261u, head + 4, 12);
    return fnv1a(h, payload, len);
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78), eight bytes per step ("slicing-by-8"): about six
 * times faster than the byte-serial FNV-1a the first format used, which was the largest cost of
 * publishing left (docs/design/bus-performance.md). */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
              crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
              crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    }
    return ~crc;
}

static uint32_t record_check(const uint8_t *head, const uint8_t *payload, size_t len) {
    (void)pthread_once(&crc_once, crc_init);
    return crc32c(crc32c(0, head + 4, 12), payload, len);
}

void agent_archive_record_header(int64_t timestamp,
                                 const uint8_t *payload,
                                 size_t payload_len,
                                 uint8_t out[AGENT_ARCHIVE_RECORD_HEADER]) {
    memcpy(out, magic, 4);
    put_be32(out + 4, (uint32_t)payload_len);
    put_be64(out + 8, (uint64_t)timestamp);
    put_be32(out + 16, record_check(out, payload, payload_len));
}

iof_err agent_archive_record_parse(const uint8_t *data,
                                   size_t len,
                                   struct agent_archive_record *out,
                                   struct iof_diag *d) {
    if (len < AGENT_ARCHIVE_RECORD_HEADER) {
        return iof_fail(d, IOF_EINVAL, "truncated record header (%zu bytes)", len);
    }
    bool fnv = memcmp(data, magic_fnv, 4) == 0;
    if (!fnv && memcmp(data, magic, 4) != 0) {
        return iof_fail(d, IOF_EINVAL, "bad record magic");
    }
    size_t plen = get_be32(data + 4);
    if (plen > AGENT_ARCHIVE_MAX_PAYLOAD) {
        return iof_fail(d, IOF_EINVAL, "record length %zu over the maximum", plen);
    }
    if (len - AGENT_ARCHIVE_RECORD_HEADER < plen) {
        return iof_fail(d,
                        IOF_EINVAL,
                        "truncated record (%zu of %zu payload bytes)",
                        len - AGENT_ARCHIVE_RECORD_HEADER,
                        plen);
    }
    const uint8_t *payload = data + AGENT_ARCHIVE_RECORD_HEADER;
    uint32_t check = fnv ? fnv_check(data, payload, plen) : record_check(data, payload, plen);
    if (check != get_be32(data + 16)) {
        return iof_fail(d, IOF_EINVAL, "record checksum mismatch");
    }
    out->timestamp = (int64_t)get_be64(data + 8);
    out->payload = payload;
    out->payload_len = plen;
    out->size = AGENT_ARCHIVE_RECORD_HEADER + plen;
    return IOF_OK;
}

/* ---- names and files ---- */

/* Publisher id -> directory name; false when it would be empty or too long. */
static bool encode_name(const char *pub, char out[NAME_MAX_LEN + 1]) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)pub; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        size_t need = plain ? 1 : 3;
        if (n + need > NAME_MAX_LEN) {
            return false;
        }
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return n > 0;
}

static void seg_path(const struct agent_archive *a,
                     const char *pub,
                     uint64_t seq,
                     const char *ext,
                     char *out,
                     size_t size) {
    (void)snprintf(out, size, "%s/%s/%016" PRIx64 ".%s", a->dir, pub, seq, ext);
}

/* mkdir -p; the directories it makes are private (0700): the archive holds the messages of every
 * microservice of the node. */
static iof_err make_dirs(const char *path, struct iof_diag *d) {
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        return iof_fail(d, IOF_EINVAL, "bad archive directory");
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return iof_fail(d, IOF_EIO, "mkdir %s: %s", tmp, strerror(errno));
            }
            tmp[i] = c;
        }
    }
    return IOF_OK;
}

static iof_err add_seg(struct agent_archive *a, const char *pub, uint64_t seq, uint64_t bytes) {
    if (a->nsegs == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        struct seg *s = realloc(a->segs, cap * sizeof *s);
        if (s == NULL) {
            return IOF_ENOMEM;
        }
        a->segs = s;
        a->cap = cap;
    }
    struct seg *s = &a->segs[a->nsegs++];
    (void)snprintf(s->pub, sizeof s->pub, "%s", pub);
    s->seq = seq;
    s->bytes = bytes;
    a->total += bytes;
    return IOF_OK;
}

static int seg_cmp(const void *x, const void *y) {
    const struct seg *a = x;
    const struct seg *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

/* Parses "<16 hex>.seg". */
static bool parse_seg_name(const char *name, uint64_t *seq) {
    if (strlen(name) != 20 || strcmp(name + 16, ".seg") != 0) {
        return false;
    }
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = (unsigned)(c - 'a' + 10);
        } else {
            return false;
        }
        v = v << 4 | digit;
    }
    *seq = v;
    return true;
}

static iof_err scan_publisher(struct agent_archive *a, const char *pub) {
    char path[PATH_MAX];
    (void)snprintf(path, sizeof path, "%s/%s", a->dir, pub);
    DIR *dir = opendir(path);
    if (dir == NULL) {
        return IOF_OK;
    }
    iof_err err = IOF_OK;
    struct dirent *e;
    while (err == IOF_OK && (e = readdir(dir)) != NULL) {
        uint64_t seq;
        if (!parse_seg_name(e->d_name, &seq)) {
            continue;
        }
        char seg[PATH_MAX];
        char idx[PATH_MAX];
        seg_path(a, pub, seq, "seg", seg, sizeof seg);
        seg_path(a, pub, seq, "idx", idx, sizeof idx);
        err = add_seg(a, pub, seq, file_size(seg) + file_size(idx));
        if (seq >= a->next_seq) {
            a->next_seq = seq + 1;
        }
    }
    closedir(dir);
    return err;
}

static iof_err scan(struct agent_archive *a, struct iof_diag *d) {
    DIR *dir = opendir(a->dir);
    if (dir == NULL) {
        return iof_fail(d, IOF_EIO, "opendir %s: %s", a->dir, strerror(errno));
    }
    iof_err err = IOF_OK;
    struct dirent *e;
    while (err == IOF_OK && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) > NAME_MAX_LEN) {
            continue;
        }
        err = scan_publisher(a, e->d_name);
    }
    closedir(dir);
    if (err == IOF_OK && a->nsegs > 1) {
        qsort(a->segs, a->nsegs, sizeof *a->segs, seg_cmp);
    }
    return err;
}

iof_err agent_archive_open(const struct agent_archive_config *cfg,
                           struct agent_archive **out,
                           struct iof_diag *d) {
    if (cfg == NULL || cfg->dir == NULL) {
        return iof_fail(d, IOF_EINVAL, "no archive directory");
    }
    struct agent_archive *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return IOF_ENOMEM;
    }
    a->dir = strdup(cfg->dir);
    if (a->dir == NULL) {
        free(a);
        return IOF_ENOMEM;
    }
    a->max_bytes = cfg->max_bytes != 0 ? cfg->max_bytes : (uint64_t)1 << 30;
    a->segment_bytes = cfg->segment_bytes != 0 ? cfg->segment_bytes : (uint64_t)1 << 20;
    a->next_seq = 1;
    pthread_mutex_init(&a->mu, NULL);
    iof_err err = make_dirs(a->dir, d);
    /* An archive left readable by an older version: closing its root closes everything in it. */
    if (err == IOF_OK && chmod(a->dir, 0700) != 0) {
        err = iof_fail(d, IOF_EIO, "chmod %s: %s", a->dir, strerror(errno));
    }
    if (err == IOF_OK) {
        err = scan(a, d);
    }
    if (err != IOF_OK) {
        agent_archive_close(a);
        return err;
    }
    *out = a;
    return IOF_OK;
}

static void writer_close(struct writer *w) {
    free(w->seg_buf);
    free(w->idx_buf);
    if (w->seg_fd >= 0) {
        close(w->seg_fd);
    }
    if (w->idx_fd >= 0) {
        close(w->idx_fd);
    }
    free(w);
}

static bool write_all(int fd, const struct iovec *iov, int n);
static struct seg *find_seg(struct agent_archive *a, uint64_t seq);

/* Writes what w gathered: the records first, then their index entries, so a crash between the
 * two leaves records without entries (ignored), never entries without records. When a write
 * fails, what it held is taken off the accounting and false is returned (the caller drops the
 * writer: later records go to a fresh segment). Caller holds mu. */
static bool writer_flush(struct agent_archive *a, struct writer *w) {
    bool ok = true;
    size_t lost = 0;
    if (w->seg_len > 0) {
        struct iovec v = {w->seg_buf, w->seg_len};
        if (!write_all(w->seg_fd, &v, 1)) {
            ok = false;
            lost = w->seg_len + w->idx_len;
        } else if (w->idx_len > 0) {
            struct iovec e = {w->idx_buf, w->idx_len};
            if (!write_all(w->idx_fd, &e, 1)) {
                ok = false;
                lost = w->idx_len;
            }
        }
    }
    if (!ok) {
        IOF_WARN("archive", "write_failed seq=%" PRIu64 " errno=%d", w->seq, errno);
        struct seg *s = find_seg(a, w->seq);
        if (s != NULL) {
            s->bytes -= lost < s->bytes ? lost : s->bytes;
        }
        a->total -= lost < a->total ? lost : a->total;
    }
    w->seg_len = w->idx_len = 0;
    return ok;
}

/* Unlinks w from the list, writes what it gathered and closes it. */
static void drop_writer(struct agent_archive *a, struct writer *w) {
    (void)writer_flush(a, w);
    for (struct writer **p = &a->writers; *p != NULL; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            a->nwriters--;
            writer_close(w);
            return;
        }
    }
}

void agent_archive_close(struct agent_archive *a) {
    if (a == NULL) {
        return;
    }
    while (a->writers != NULL) {
        drop_writer(a, a->writers);
    }
    pthread_mutex_destroy(&a->mu);
    free(a->segs);
    free(a->dir);
    free(a);
}

static struct writer *find_writer(struct agent_archive *a, const char *pub) {
    for (struct writer *w = a->writers; w != NULL; w = w->next) {
        if (strcmp(w->pub, pub) == 0) {
            return w;
        }
    }
    return NULL;
}

static iof_err
new_writer(struct agent_archive *a, const char *pub, struct writer **out, struct iof_diag *d) {
    if (a->nwriters >= MAX_WRITERS) {
        struct writer *last = a->writers;
        while (last->next != NULL) {
            last = last->next;
        }
        drop_writer(a, last);
    }
    char path[PATH_MAX];
    (void)snprintf(path, sizeof path, "%s/%s", a->dir, pub);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return iof_fail(d, IOF_EIO, "mkdir %s: %s", path, strerror(errno));
    }
    struct writer *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return IOF_ENOMEM;
    }
    (void)snprintf(w->pub, sizeof w->pub, "%s", pub);
    w->seq = a->next_seq++;
    char seg[PATH_MAX];
    char idx[PATH_MAX];
    seg_path(a, pub, w->seq, "seg", seg, sizeof seg);
    seg_path(a, pub, w->seq, "idx", idx, sizeof idx);
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC;
    w->seg_fd = open(seg, flags, 0600);
    w->idx_fd = w->seg_fd >= 0 ? open(idx, flags, 0600) : -1;
    if (w->seg_fd < 0 || w->idx_fd < 0) {
        iof_err err = iof_fail(d, IOF_EIO, "open %s: %s", seg, strerror(errno));
        writer_close(w);
        (void)unlink(seg);
        return err;
    }
    iof_err err = add_seg(a, pub, w->seq, 0);
    if (err != IOF_OK) {
        writer_close(w);
        (void)unlink(seg);
        (void)unlink(idx);
        return err;
    }
    w->next = a->writers;
    a->writers = w;
    a->nwriters++;
    *out = w;
    return IOF_OK;
}

static struct seg *find_seg(struct agent_archive *a, uint64_t seq) {
    for (size_t i = a->nsegs; i > 0; i--) {
        if (a->segs[i - 1].seq == seq) {
            return &a->segs[i - 1];
        }
    }
    return NULL;
}

static bool write_all(int fd, const struct iovec *iov, int n) {
    size_t want = 0;
    for (int i = 0; i < n; i++) {
        want += iov[i].iov_len;
    }
    ssize_t got;
    do {
        got = writev(fd, iov, n);
    } while (got < 0 && errno == EINTR);
    return got >= 0 && (size_t)got == want;
}

/* Deletes the oldest segments (except keep) down to 3/4 of the limit. */
static void trim(struct agent_archive *a, uint64_t keep) {
    if (a->total <= a->max_bytes) {
        return;
    }
    uint64_t target = a->max_bytes / 4 * 3;
    size_t i = 0;
    while (a->total > target && i < a->nsegs) {
        struct seg *s = &a->segs[i];
        if (s->seq == keep) {
            i++;
            continue;
        }
        for (struct writer *w = a->writers; w != NULL; w = w->next) {
            if (w->seq == s->seq) {
                drop_writer(a, w);
                break;
            }
        }
        char path[PATH_MAX];
        seg_path(a, s->pub, s->seq, "seg", path, sizeof path);
        (void)unlink(path);
        seg_path(a, s->pub, s->seq, "idx", path, sizeof path);
        (void)unlink(path);
        IOF_DEBUG("archive", "segment_deleted seq=%" PRIu64 " bytes=%" PRIu64, s->seq, s->bytes);
        a->total -= s->bytes;
        memmove(s, s + 1, (a->nsegs - i - 1) * sizeof *s);
        a->nsegs--;
    }
}

iof_err agent_archive_append(struct agent_archive *a,
                             const char *publisher,
                             int64_t timestamp,
                             const uint8_t *payload,
                             size_t len,
                             struct iof_diag *d) {
    char name[NAME_MAX_LEN + 1];
    if (publisher == NULL || !encode_name(publisher, name)) {
        return iof_fail(d, IOF_EINVAL, "publisher cannot name an archive");
    }
    if (len > AGENT_ARCHIVE_MAX_PAYLOAD) {
        return iof_fail(d, IOF_EINVAL, "message too large to archive");
    }
    uint64_t rec_size = AGENT_ARCHIVE_RECORD_HEADER + (uint64_t)len;
    pthread_mutex_lock(&a->mu);
    struct writer *w = find_writer(a, name);
    if (w != NULL && w->seg_size > 0 && w->seg_size + rec_size > a->segment_bytes) {
        drop_writer(a, w);
        w = NULL;
    }
    iof_err err = IOF_OK;
    if (w == NULL) {
        err = new_writer(a, name, &w, d);
    }
    if (err == IOF_OK && (w->seg_len + rec_size > GROUP_BYTES ||
                          w->idx_len + AGENT_ARCHIVE_INDEX_ENTRY > GROUP_BYTES)) {
        if (!writer_flush(a, w)) {
            err = iof_fail(d, IOF_EIO, "archive write: %s", strerror(errno));
            drop_writer(a, w);
            w = NULL;
        }
    }
    if (err == IOF_OK && w->seg_buf == NULL && rec_size <= GROUP_BYTES) {
        w->seg_buf = malloc(GROUP_BYTES);
        w->idx_buf = malloc(GROUP_BYTES);
        if (w->seg_buf == NULL || w->idx_buf == NULL) {
            free(w->seg_buf);
            free(w->idx_buf);
            w->seg_buf = w->idx_buf = NULL;
        }
    }
    if (err == IOF_OK) {
        uint8_t head[AGENT_ARCHIVE_RECORD_HEADER];
        agent_archive_record_header(timestamp, payload, len, head);
        uint8_t entry[AGENT_ARCHIVE_INDEX_ENTRY];
        put_be64(entry, (uint64_t)timestamp);
        put_be64(entry + 8, w->seg_size);
        bool ok = true;
        if (w->seg_buf != NULL && rec_size <= GROUP_BYTES) {
            /* Gathered; written by agent_archive_flush (or when the buffer is full). */
            memcpy(w->seg_buf + w->seg_len, head, sizeof head);
            memcpy(w->seg_buf + w->seg_len + sizeof head, payload, len);
            w->seg_len += rec_size;
            memcpy(w->idx_buf + w->idx_len, entry, sizeof entry);
            w->idx_len += sizeof entry;
        } else {
            /* Too big to gather (or no memory for it): everything before it, then it. */
            struct iovec rec[2] = {{head, sizeof head}, {(void *)(uintptr_t)payload, len}};
            struct iovec ent[1] = {{entry, sizeof entry}};
            ok = writer_flush(a, w) && write_all(w->seg_fd, rec, 2) && write_all(w->idx_fd, ent, 1);
        }
        struct seg *s = find_seg(a, w->seq);
        if (ok) {
            w->seg_size += rec_size;
            if (s != NULL) {
                s->bytes += rec_size + AGENT_ARCHIVE_INDEX_ENTRY;
            }
            a->total += rec_size + AGENT_ARCHIVE_INDEX_ENTRY;
        }
        if (!ok) {
            /* A torn write stays unindexed; later records go to a fresh segment. */
            err = iof_fail(d, IOF_EIO, "archive write: %s", strerror(errno));
            drop_writer(a, w);
        } else {
            trim(a, w->seq);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

/* Writes what every writer gathered; a writer whose write failed is dropped. false when one
 * failed. Caller holds mu. */
static bool flush_locked(struct agent_archive *a) {
    bool ok = true;
    struct writer *next;
    for (struct writer *w = a->writers; w != NULL; w = next) {
        next = w->next;
        if (w->seg_len > 0 && !writer_flush(a, w)) {
            ok = false;
            drop_writer(a, w);
        }
    }
    return ok;
}

iof_err agent_archive_flush(struct agent_archive *a, struct iof_diag *d) {
    pthread_mutex_lock(&a->mu);
    bool ok = flush_locked(a);
    pthread_mutex_unlock(&a->mu);
    return ok ? IOF_OK : iof_fail(d, IOF_EIO, "archive write failed");
}

void agent_archive_release_idle(struct agent_archive *a) {
    pthread_mutex_lock(&a->mu);
    for (struct writer *w = a->writers; w != NULL; w = w->next) {
        if (w->seg_len == 0) {
            free(w->seg_buf);
            free(w->idx_buf);
            w->seg_buf = w->idx_buf = NULL;
        }
    }
    pthread_mutex_unlock(&a->mu);
}

static bool read_file(const char *path, uint8_t **out, size_t *out_len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0) {
        close(fd);
        return false;
    }
    size_t size = (size_t)st.st_size;
    if (size > MAX_INDEX_READ) {
        size = MAX_INDEX_READ;
    }
    uint8_t *buf = malloc(size + 1);
    size_t got = 0;
    while (buf != NULL && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL) {
        return false;
    }
    *out = buf;
    *out_len = got;
    return true;
}

static bool pread_all(int fd, uint8_t *buf, size_t len, uint64_t off) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

/* Visits the matching records of one segment; false when the visitor asked to stop. */
static bool query_segment(struct agent_archive *a,
                          const struct seg *s,
                          int64_t from,
                          int64_t to,
                          agent_archive_visit_fn fn,
                          void *ctx,
                          uint8_t **buf,
                          size_t *buf_cap,
                          iof_err *err) {
    char path[PATH_MAX];
    seg_path(a, s->pub, s->seq, "idx", path, sizeof path);
    uint8_t *idx = NULL;
    size_t idx_len = 0;
    if (!read_file(path, &idx, &idx_len)) {
        return true;
    }
    seg_path(a, s->pub, s->seq, "seg", path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool go_on = true;
    for (size_t i = 0; fd >= 0 && go_on && i + AGENT_ARCHIVE_INDEX_ENTRY <= idx_len;
         i += AGENT_ARCHIVE_INDEX_ENTRY) {
        int64_t ts = (int64_t)get_be64(idx + i);
        uint64_t off = get_be64(idx + i + 8);
        if (ts < from || ts > to) {
            continue;
        }
        uint8_t head[AGENT_ARCHIVE_RECORD_HEADER];
        if (!pread_all(fd, head, sizeof head, off)) {
            IOF_WARN("archive", "index_past_end seq=%" PRIu64 " offset=%" PRIu64, s->seq, off);
            continue;
        }
        size_t plen = get_be32(head + 4);
        if (memcmp(head, magic, 4) != 0 || plen > AGENT_ARCHIVE_MAX_PAYLOAD) {
            IOF_WARN("archive", "bad_record seq=%" PRIu64 " offset=%" PRIu64, s->seq, off);
            continue;
        }
        size_t need = AGENT_ARCHIVE_RECORD_HEADER + plen;
        if (need > *buf_cap) {
            uint8_t *nb = realloc(*buf, need);
            if (nb == NULL) {
                *err = IOF_ENOMEM;
                go_on = false;
                break;
            }
            *buf = nb;
            *buf_cap = need;
        }
        struct agent_archive_record rec;
        if (!pread_all(fd, *buf, need, off) ||
            agent_archive_record_parse(*buf, need, &rec, NULL) != IOF_OK || rec.timestamp != ts) {
            IOF_WARN("archive", "bad_record seq=%" PRIu64 " offset=%" PRIu64, s->seq, off);
            continue;
        }
        go_on = fn(ctx, rec.timestamp, rec.payload, rec.payload_len);
    }
    if (fd >= 0) {
        close(fd);
    }
    free(idx);
    return go_on;
}

iof_err agent_archive_query(struct agent_archive *a,
                            const char *publisher,
                            int64_t from,
                            int64_t to,
                            agent_archive_visit_fn fn,
                            void *ctx,
                            struct iof_diag *d) {
    (void)d;
    char name[NAME_MAX_LEN + 1];
    if (publisher == NULL || !encode_name(publisher, name)) {
        return IOF_OK;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    iof_err err = IOF_OK;
    pthread_mutex_lock(&a->mu);
    flush_locked(a); /* a query sees every message published before it */
    for (size_t i = 0; i < a->nsegs; i++) {
        if (strcmp(a->segs[i].pub, name) != 0) {
            continue;
        }
        if (!query_segment(a, &a->segs[i], from, to, fn, ctx, &buf, &cap, &err)) {
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    free(buf);
    return err;
}

uint64_t agent_archive_bytes(struct agent_archive *a) {
    pthread_mutex_lock(&a->mu);
    uint64_t v = a->total;
    pthread_mutex_unlock(&a->mu);
    return v;
}

size_t agent_archive_segments(struct agent_archive *a) {
    pthread_mutex_lock(&a->mu);
    size_t v = a->nsegs;
    pthread_mutex_unlock(&a->mu);
    return v;
}
