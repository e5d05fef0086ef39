/* Tests of the message archive on a real temporary directory: the record format, rotation and the
 * size limit, reopening, and files damaged as a crash mid-write leaves them. */
#include "agent/localapi/archive.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
    char dir[64];
};

static int setup(void **state) {
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    (void)snprintf(f->dir, sizeof f->dir, "/tmp/iofog-archive-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state) {
    struct fx *f = *state;
    (void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct agent_archive *open_archive(struct fx *f, uint64_t max, uint64_t seg) {
    struct agent_archive_config cfg = {.dir = f->dir, .max_bytes = max, .segment_bytes = seg};
    struct agent_archive *a = NULL;
    struct iof_diag d = {{0}};
    if (agent_archive_open(&cfg, &a, &d) != IOF_OK) {
        fail_msg("open: %s", d.msg);
    }
    return a;
}

/* Payload i: "msg-<i>" padded with 'x' to size bytes. */
static void payload(int i, uint8_t *buf, size_t size) {
    memset(buf, 'x', size);
    int n = snprintf((char *)buf, size, "msg-%d", i);
    buf[n] = '.';
}

static void append(struct agent_archive *a, const char *pub, int i, size_t size) {
    uint8_t buf[1024];
    assert_true(size <= sizeof buf);
    payload(i, buf, size);
    assert_int_equal(agent_archive_append(a, pub, 1000 + i, buf, size, NULL), IOF_OK);
}

struct seen {
    int64_t ts[4096];
    size_t n;
    size_t stop_after;
};

static bool visit(void *ctx, int64_t timestamp, const uint8_t *data, size_t len) {
    struct seen *s = ctx;
    uint8_t want[1024];
    assert_true(len <= sizeof want);
    payload((int)(timestamp - 1000), want, len);
    assert_memory_equal(data, want, len);
    if (s->n < 4096) {
        s->ts[s->n++] = timestamp;
    }
    return s->stop_after == 0 || s->n < s->stop_after;
}

static size_t
query(struct agent_archive *a, const char *pub, int64_t from, int64_t to, struct seen *s) {
    memset(s, 0, sizeof *s);
    assert_int_equal(agent_archive_query(a, pub, from, to, visit, s, NULL), IOF_OK);
    return s->n;
}

/* CRC-32C bit by bit: the reference for the archive's table-driven one. */
static uint32_t crc32c_ref(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
    }
    return ~c;
}

/* Longer payloads (every length mod 8, the eight-byte steps) agree with the reference, and a
 * record of the first format (FNV-1a, magic "IOFR") is still read. */
static void test_record_checksums(void **state) {
    (void)state;
    assert_int_equal(crc32c_ref((const uint8_t *)"123456789", 9), 0xE3069283u);
    uint8_t rec[AGENT_ARCHIVE_RECORD_HEADER + 100];
    for (size_t n = 0; n <= 100; n++) {
        for (size_t i = 0; i < n; i++) {
            rec[AGENT_ARCHIVE_RECORD_HEADER + i] = (uint8_t)(i * 131 + n);
        }
        agent_archive_record_header((int64_t)n * 977, rec + AGENT_ARCHIVE_RECORD_HEADER, n, rec);
        uint32_t got = ((uint32_t)rec[16] << 24) | ((uint32_t)rec[17] << 16) |
                       ((uint32_t)rec[18] << 8) | rec[19];
        uint8_t covered[12 + 100];
        memcpy(covered, rec + 4, 12);
        memcpy(covered + 12, rec + AGENT_ARCHIVE_RECORD_HEADER, n);
        assert_int_equal(got, crc32c_ref(covered, 12 + n));
        struct agent_archive_record r;
        assert_int_equal(agent_archive_record_parse(rec, AGENT_ARCHIVE_RECORD_HEADER + n, &r, NULL),
                         IOF_OK);
        assert_int_equal(r.payload_len, n);
    }
    /* first format: "IOFR", FNV-1a 32 over the same bytes */
    uint8_t old[AGENT_ARCHIVE_RECORD_HEADER + 5] = {
        'I', 'O', 'F', 'R', 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 42};
    memcpy(old + AGENT_ARCHIVE_RECORD_HEADER, "hello", 5);
    uint32_t h = 2166136261u;
    for (size_t i = 4; i < 16; i++) {
        h = (h ^ old[i]) * 16777619u;
    }
    for (size_t i = 0; i < 5; i++) {
        h = (h ^ old[AGENT_ARCHIVE_RECORD_HEADER + i]) * 16777619u;
    }
    old[16] = (uint8_t)(h >> 24);
    old[17] = (uint8_t)(h >> 16);
    old[18] = (uint8_t)(h >> 8);
    old[19] = (uint8_t)h;
    struct agent_archive_record r;
    assert_int_equal(agent_archive_record_parse(old, sizeof old, &r, NULL), IOF_OK);
    assert_int_equal(r.timestamp, 42);
    assert_memory_equal(r.payload, "hello", 5);
    old[AGENT_ARCHIVE_RECORD_HEADER] ^= 1; /* and its checksum is checked */
    assert_int_equal(agent_archive_record_parse(old, sizeof old, &r, NULL), IOF_EINVAL);
}

static void test_record_format(void **state) {
    (void)state;
    uint8_t rec[AGENT_ARCHIVE_RECORD_HEADER + 5];
    agent_archive_record_header(1452214777495, (const uint8_t *)"hello", 5, rec);
    memcpy(rec + AGENT_ARCHIVE_RECORD_HEADER, "hello", 5);
    assert_memory_equal(rec, "IOFC\0\0\0\5", 8);
    /* the checksum is CRC-32C of bytes 4..15 and the payload (bitwise reference below) */
    uint8_t covered[12 + 5];
    memcpy(covered, rec + 4, 12);
    memcpy(covered + 12, "hello", 5);
    uint32_t want = crc32c_ref(covered, sizeof covered);
    assert_int_equal(((uint32_t)rec[16] << 24) | ((uint32_t)rec[17] << 16) |
                         ((uint32_t)rec[18] << 8) | rec[19],
                     want);
    struct agent_archive_record r;
    assert_int_equal(agent_archive_record_parse(rec, sizeof rec, &r, NULL), IOF_OK);
    assert_int_equal(r.timestamp, 1452214777495);
    assert_int_equal(r.payload_len, 5);
    assert_int_equal(r.size, sizeof rec);
    assert_memory_equal(r.payload, "hello", 5);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n < sizeof rec; n++) {
        struct iof_diag d = {{0}};
        assert_int_equal(agent_archive_record_parse(rec, n, &r, &d), IOF_EINVAL);
        assert_true(d.msg[0] != '\0');
    }
    /* any flipped byte is caught */
    for (size_t i = 0; i < sizeof rec; i++) {
        uint8_t bad[sizeof rec];
        memcpy(bad, rec, sizeof rec);
        bad[i] ^= 0x40;
        assert_int_equal(agent_archive_record_parse(bad, sizeof bad, &r, NULL), IOF_EINVAL);
    }
    /* an absurd length */
    uint8_t big[AGENT_ARCHIVE_RECORD_HEADER];
    memcpy(big, rec, sizeof big);
    big[4] = 0xff;
    assert_int_equal(agent_archive_record_parse(big, sizeof big, &r, NULL), IOF_EINVAL);
}

static void test_query_and_reopen(void **state) {
    struct fx *f = *state;
    struct agent_archive *a = open_archive(f, 0, 0);
    for (int i = 0; i < 10; i++) {
        append(a, "pub", i, 100);
        append(a, "other/../x", i, 50); /* odd ids are stored under an escaped name */
    }
    struct seen s;
    assert_int_equal(query(a, "pub", 1003, 1006, &s), 4);
    assert_int_equal(s.ts[0], 1003);
    assert_int_equal(s.ts[3], 1006);
    assert_int_equal(query(a, "other/../x", 0, INT64_MAX, &s), 10);
    assert_int_equal(query(a, "nobody", 0, INT64_MAX, &s), 0);
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    assert_int_equal(agent_archive_query(a, "pub", 0, INT64_MAX, visit, &s, NULL), IOF_OK);
    assert_int_equal(s.n, 2);
    size_t segs = agent_archive_segments(a);
    uint64_t bytes = agent_archive_bytes(a);
    assert_int_equal(segs, 2);
    assert_int_equal(bytes, 10 * (20 + 100 + 16) + 10 * (20 + 50 + 16));
    agent_archive_close(a);

    /* reopened: the same content, appends go to a new segment */
    a = open_archive(f, 0, 0);
    assert_int_equal(agent_archive_segments(a), 2);
    assert_int_equal(agent_archive_bytes(a), bytes);
    append(a, "pub", 10, 100);
    assert_int_equal(agent_archive_segments(a), 3);
    assert_int_equal(query(a, "pub", 0, INT64_MAX, &s), 11);
    for (size_t i = 0; i < 11; i++) {
        assert_int_equal(s.ts[i], 1000 + (int64_t)i);
    }
    agent_archive_close(a);
    struct stat st;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/other%%2F%%2E%%2E%%2Fx", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_rotation_and_limit(void **state) {
    struct fx *f = *state;
    /* 136 bytes per message; 4 KiB segments; 32 KiB in all */
    struct agent_archive *a = open_archive(f, 32 * 1024, 4096);
    for (int i = 0; i < 2000; i++) {
        append(a, i % 2 == 0 ? "even" : "odd", i, 100);
        assert_true(agent_archive_bytes(a) <= 32 * 1024);
    }
    size_t segs = agent_archive_segments(a);
    uint64_t bytes = agent_archive_bytes(a);
    print_message("2000 messages: %zu segments, %llu bytes kept (limit 32768)\n",
                  segs,
                  (unsigned long long)bytes);
    assert_true(segs > 4);
    assert_true(bytes > 32 * 1024 / 2);
    /* what is kept is the newest, contiguous and in order */
    struct seen s;
    size_t n = query(a, "even", 0, INT64_MAX, &s);
    assert_true(n > 50 && n < 1000);
    assert_int_equal(s.ts[n - 1], 1000 + 1998);
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(s.ts[i], s.ts[i - 1] + 2);
    }
    agent_archive_close(a);
    /* the files on disk match the accounting after a reopen */
    a = open_archive(f, 32 * 1024, 4096);
    assert_int_equal(agent_archive_segments(a), segs);
    assert_int_equal(agent_archive_bytes(a), bytes);
    agent_archive_close(a);
}

/* The segment and index files of the only segment of pub. */
static void only_segment(struct fx *f, const char *pub, char *seg, char *idx, size_t size) {
    char dir[256];
    (void)snprintf(dir, sizeof dir, "%s/%s", f->dir, pub);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".seg") == 0) {
            (void)snprintf(seg, size, "%s/%s", dir, e->d_name);
            (void)snprintf(idx, size, "%s/%.*s.idx", dir, (int)(len - 4), e->d_name);
            found++;
        }
    }
    closedir(d);
    assert_int_equal(found, 1);
}

static void test_truncated_files(void **state) {
    struct fx *f = *state;
    struct agent_archive *a = open_archive(f, 0, 0);
    for (int i = 0; i < 10; i++) {
        append(a, "pub", i, 100);
    }
    agent_archive_close(a);
    char seg[512];
    char idx[512];
    only_segment(f, "pub", seg, idx, sizeof seg);
    /* a crash in the middle of the last record, and half an index entry after it */
    assert_int_equal(truncate(seg, 9 * 120 + 57), 0);
    int fd = open(idx, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\0\0\0\0\0\0", 6), 6);
    close(fd);
    /* and one damaged byte inside record 4 */
    fd = open(seg, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "#", 1, 4 * 120 + 30), 1);
    close(fd);

    a = open_archive(f, 0, 0);
    struct seen s;
    assert_int_equal(query(a, "pub", 0, INT64_MAX, &s), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(s.ts[i], 1000 + (int64_t)(i < 4 ? i : i + 1));
    }
    /* writing goes on in a fresh segment */
    append(a, "pub", 10, 100);
    assert_int_equal(query(a, "pub", 0, INT64_MAX, &s), 9);
    agent_archive_close(a);
}

static off_t size_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Group commit: appends wait in memory until a flush (or a query, or 32 KiB gathered), records
 * reach the segment before their entries reach the index, and a record too big to gather is
 * written at once after what was gathered before it. */
static void test_group_commit(void **state) {
    struct fx *f = *state;
    struct agent_archive *a = open_archive(f, 0, 0);
    for (int i = 0; i < 5; i++) {
        append(a, "pub", i, 100);
    }
    char seg[512];
    char idx[512];
    only_segment(f, "pub", seg, idx, sizeof seg);
    assert_int_equal(size_of(seg), 0);
    assert_int_equal(size_of(idx), 0);
    assert_int_equal(agent_archive_flush(a, NULL), IOF_OK);
    assert_int_equal(size_of(seg), 5 * 120);
    assert_int_equal(size_of(idx), 5 * 16);

    /* a query sees what is still gathered */
    append(a, "pub", 5, 100);
    struct seen s;
    assert_int_equal(query(a, "pub", 0, INT64_MAX, &s), 6);
    assert_int_equal(size_of(seg), 6 * 120);

    /* 32 KiB gathered are written without a flush; nothing is written before then */
    for (int i = 6; i < 6 + 300; i++) {
        append(a, "pub", i, 100);
    }
    off_t written = size_of(seg);
    assert_true(written > 6 * 120);
    assert_true(written < 306 * 120);
    assert_int_equal(written % 120, 0);
    assert_int_equal(size_of(idx), written / 120 * 16);

    /* too big to gather: written at once, after everything before it */
    static uint8_t big[40000];
    memset(big, 'b', sizeof big);
    assert_int_equal(agent_archive_append(a, "pub", 5000, big, sizeof big, NULL), IOF_OK);
    assert_int_equal(size_of(seg), 306 * 120 + 20 + (off_t)sizeof big);
    assert_int_equal(size_of(idx), 307 * 16);

    agent_archive_release_idle(a);
    append(a, "pub", 306, 100); /* gathers again after the buffers were released */
    agent_archive_close(a);     /* and closing writes it */
    assert_int_equal(size_of(seg), 307 * 120 + 20 + (off_t)sizeof big);
}

static void test_missing_and_odd_files(void **state) {
    struct fx *f = *state;
    struct agent_archive *a = open_archive(f, 0, 0);
    for (int i = 0; i < 3; i++) {
        append(a, "pub", i, 100);
    }
    agent_archive_close(a);
    char seg[512];
    char idx[512];
    only_segment(f, "pub", seg, idx, sizeof seg);
    assert_int_equal(truncate(seg, 0), 0); /* index entries point past the end */
    char stray[512];
    (void)snprintf(stray, sizeof stray, "%s/pub/notes.txt", f->dir);
    FILE *fp = fopen(stray, "w");
    assert_non_null(fp);
    fclose(fp);
    a = open_archive(f, 0, 0);
    struct seen s;
    assert_int_equal(query(a, "pub", 0, INT64_MAX, &s), 0);
    assert_int_equal(unlink(idx), 0);
    assert_int_equal(query(a, "pub", 0, INT64_MAX, &s), 0);
    assert_int_equal(agent_archive_append(a, "", 1, (const uint8_t *)"x", 1, NULL), IOF_EINVAL);
    agent_archive_close(a);
}

static int check_private(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DP) {
        if ((st->st_mode & 0777) != 0700) {
            fail_msg("directory %s has mode %o", path, (unsigned)(st->st_mode & 0777));
        }
    } else if ((st->st_mode & 0777) != 0600) {
        fail_msg("file %s has mode %o", path, (unsigned)(st->st_mode & 0777));
    }
    return 0;
}

/* Archived messages are private: files 0600 in 0700 directories, also when the archive directory
 * already existed world-readable and the umask is the usual 022. */
static void test_files_private(void **state) {
    struct fx *f = *state;
    assert_int_equal(chmod(f->dir, 0755), 0);
    mode_t old = umask(022);
    struct agent_archive *a = open_archive(f, 0, 0);
    append(a, "pubA", 1, 100);
    append(a, "pubB", 2, 100);
    agent_archive_close(a);
    (void)umask(old);
    int files = 0;
    DIR *dir = opendir(f->dir);
    assert_non_null(dir);
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        files += e->d_name[0] != '.';
    }
    (void)closedir(dir);
    assert_int_equal(files, 2);
    assert_int_equal(nftw(f->dir, check_private, 16, FTW_PHYS), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_format),
        cmocka_unit_test(test_record_checksums),
        cmocka_unit_test_setup_teardown(test_query_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_odd_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
