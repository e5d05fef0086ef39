/* Tests of upload routes over loopback: a 64 MiB body streamed to a file with the server's memory
 * measured, multipart part extraction, the 413 answers (Content-Length and chunked), admission
 * before the body is read (Expect: 100-continue), naming the file, answering from a file, a
 * client leaving half-way, and normal routes unchanged on the same server. */
#include "common/error.h"
#include "common/json.h"
#include "http/client.h"
#include "http/server.h"
#include "http/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#define BIG ((uint64_t)64 << 20)

struct fixture {
    struct iof_http_server *srv;
    struct iof_http_client *cli;
    uint16_t port;
    char dir[64];
    _Atomic int calls;
    _Atomic long handler_rss_kb; /* VmRSS seen by the last upload handler */
};

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "re");
    long kb = -1;
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

/* The test body: a deterministic pseudo-random stream, and FNV-1a over bytes. */
static void fill(uint8_t *p, size_t n, uint64_t off) {
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (off + i) * 0x9E3779B97F4A7C15ull;
        p[i] = (uint8_t)(x >> 56);
    }
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

#define FNV0 0xcbf29ce484222325ull

/* Answers {size, hash, kept} for the received file; keeps it as <dir>/<name> when ?keep=1. */
static iof_err h_upload(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct fixture *f = ctx;
    f->calls++;
    int fd;
    uint64_t size;
    iof_err err = iof_http_upload_file(req, &fd, &size, d);
    if (err != IOF_OK) {
        return err;
    }
    f->handler_rss_kb = rss_kb();
    static uint8_t buf[65536];
    uint64_t h = FNV0;
    for (uint64_t off = 0; off < size;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n <= 0) {
            return iof_fail(d, IOF_EIO, "short read");
        }
        h = fnv(h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    const char *name = iof_http_param(req, "name");
    if (iof_http_query(req, "keep") != NULL && name != NULL) {
        char path[128];
        (void)snprintf(path, sizeof path, "%s/%s", f->dir, name);
        if ((err = iof_http_upload_keep(req, path, d)) != IOF_OK) {
            return err;
        }
        assert_int_equal(iof_http_upload_keep(req, path, NULL), IOF_ECONFLICT);
    }
    char hex[17];
    (void)snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return iof_http_respond_json(
        req, 200, json_pack("{s:I, s:s}", "size", (json_int_t)size, "hash", hex));
}

/* Refuses uploads without "X-Allow: yes". */
static iof_err h_admit(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    const char *v = iof_http_header(req, "X-Allow");
    if (v == NULL || strcmp(v, "yes") != 0) {
        return iof_fail(d, IOF_EAUTH, "not allowed to upload");
    }
    return IOF_OK;
}

static iof_err h_echo_len(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)d;
    struct fixture *f = ctx;
    f->calls++;
    size_t len;
    (void)iof_http_body(req, &len);
    return iof_http_respond_json(req, 200, json_pack("{s:I}", "len", (json_int_t)len));
}

/* Serves <dir>/<name> from the file. */
static iof_err h_file(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    struct fixture *f = ctx;
    char path[128];
    (void)snprintf(path, sizeof path, "%s/%s", f->dir, iof_http_param(req, "name"));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return iof_fail(d, IOF_ENOENT, "no such file");
    }
    return iof_http_respond_fd(req, 200, "application/octet-stream", fd, (uint64_t)st.st_size);
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    (void)snprintf(f->dir, sizeof f->dir, "/tmp/iofog-upload-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct iof_http_config cfg = {.bind_addr = "127.0.0.1", .max_body = 1024};
    assert_int_equal(iof_http_server_new(&cfg, &f->srv), IOF_OK);
    struct iof_http_upload_opts raw = {.max_bytes = 2 * BIG, .dir = f->dir};
    struct iof_http_upload_opts mp = {
        .max_bytes = 1 << 20, .dir = f->dir, .multipart_field = "upstream"};
    struct iof_http_upload_opts gated = {.max_bytes = 1 << 20, .dir = f->dir, .admit = h_admit};
    assert_int_equal(iof_http_server_route_upload(f->srv, "PUT", "/raw/:name", &raw, h_upload, f),
                     IOF_OK);
    assert_int_equal(iof_http_server_route_upload(f->srv, "POST", "/mp", &mp, h_upload, f), IOF_OK);
    assert_int_equal(iof_http_server_route_upload(f->srv, "PUT", "/gated", &gated, h_upload, f),
                     IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "POST", "/echo", h_echo_len, f), IOF_OK);
    assert_int_equal(iof_http_server_route(f->srv, "GET", "/file/:name", h_file, f), IOF_OK);
    assert_int_equal(iof_http_server_route_upload(f->srv, "PUT", "/x", NULL, h_upload, f),
                     IOF_EINVAL);
    assert_int_equal(iof_http_server_start(f->srv), IOF_OK);
    f->port = iof_http_server_port(f->srv);
    struct iof_http_client_opts co = {.timeout_ms = 20000, .max_response = 4 << 20};
    assert_int_equal(iof_http_client_new(&co, &f->cli), IOF_OK);
    *state = f;
    return 0;
}

/* Names in the test directory (hidden ones included); n returned. */
static size_t dir_entries(const char *dir, char names[][64], size_t max) {
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            if (n < max) {
                (void)snprintf(names[n], 64, "%.63s", e->d_name);
            }
            n++;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    iof_http_client_free(f->cli);
    iof_http_server_free(f->srv);
    char names[16][64];
    size_t n = dir_entries(f->dir, names, 16);
    for (size_t i = 0; i < n && i < 16; i++) {
        char p[160];
        (void)snprintf(p, sizeof p, "%s/%.63s", f->dir, names[i]);
        (void)unlink(p);
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* Sends a raw PUT of `total` generated bytes with Content-Length to path; returns the response
 * (caller frees) and the hash of what was sent; samples the process RSS while sending. */
static struct raw_resp *
put_generated(struct fixture *f, const char *path, uint64_t total, uint64_t *hash, long *peak_kb) {
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    char head[256];
    (void)snprintf(head,
                   sizeof head,
                   "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %llu\r\n"
                   "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                   path,
                   (unsigned long long)total);
    assert_true(raw_send_str(fd, head));
    static uint8_t chunk[65536];
    uint64_t h = FNV0;
    for (uint64_t off = 0; off < total; off += sizeof chunk) {
        size_t n = total - off < sizeof chunk ? (size_t)(total - off) : sizeof chunk;
        fill(chunk, n, off);
        h = fnv(h, chunk, n);
        assert_true(raw_send(fd, chunk, n));
        if (peak_kb != NULL && off % (8u << 20) == 0) {
            long kb = rss_kb();
            *peak_kb = kb > *peak_kb ? kb : *peak_kb;
        }
    }
    struct raw_resp *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_true(raw_read_response(fd, r));
    close(fd);
    *hash = h;
    return r;
}

static void assert_json_field(const struct raw_resp *r, const char *key, const char *want) {
    json_t *v = json_loadb(r->body, r->body_len, 0, NULL);
    assert_non_null(v);
    const json_t *x = json_object_get(v, key);
    assert_non_null(x);
    if (json_is_string(x)) {
        assert_string_equal(json_string_value(x), want);
    } else {
        char buf[32];
        (void)snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(x));
        assert_string_equal(buf, want);
    }
    json_decref(v);
}

static void test_big_upload_memory(void **state) {
    struct fixture *f = *state;
    uint64_t h;
    /* Warm up: the first request initialises what the server allocates once. */
    struct raw_resp *r = put_generated(f, "/raw/warm", 1 << 20, &h, NULL);
    assert_int_equal(r->status, 200);
    free(r);
    long before = rss_kb();
    long peak = before;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = put_generated(f, "/raw/big?keep=1", BIG, &h, &peak);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r->status, 200);
    char hex[17], size[32];
    (void)snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    (void)snprintf(size, sizeof size, "%llu", (unsigned long long)BIG);
    assert_json_field(r, "hash", hex);
    assert_json_field(r, "size", size);
    free(r);
    long in_handler = f->handler_rss_kb;
    peak = in_handler > peak ? in_handler : peak;
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("upload 64 MiB: %.2f s (%.0f MiB/s), RSS before %ld KiB, peak %ld KiB, growth %ld KiB\n",
           secs,
           64.0 / secs,
           before,
           peak,
           peak - before);
    /* The body is never in memory: growth stays far below its 65536 KiB. */
    assert_true(peak - before < 8 * 1024);

    /* Kept under its name, mode 0600; nothing else left in the directory. */
    char path[128];
    (void)snprintf(path, sizeof path, "%s/big", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, BIG);
    assert_int_equal(st.st_mode & 0777, 0600);
    char names[8][64];
    assert_int_equal(dir_entries(f->dir, names, 8), 1);
    assert_string_equal(names[0], "big");

    /* Keeping again replaces the file atomically. */
    r = put_generated(f, "/raw/big?keep=1", 12345, &h, NULL);
    assert_int_equal(r->status, 200);
    free(r);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 12345);
    assert_int_equal(dir_entries(f->dir, names, 8), 1);

    /* Answering from the file. */
    struct iof_http_response resp;
    struct iof_diag d;
    char u[128];
    (void)snprintf(u, sizeof u, "http://127.0.0.1:%u/file/big", (unsigned)f->port);
    assert_int_equal(iof_http_client_request(f->cli, "GET", u, NULL, NULL, 0, &resp, &d), IOF_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body.len, 12345);
    assert_int_equal(fnv(FNV0, resp.body.data, resp.body.len), h);
    assert_string_equal(resp.content_type, "application/octet-stream");
    iof_http_response_free(&resp);
}

static long
post_multipart(struct fixture *f, const char *ct, const void *body, size_t len, json_t **out) {
    char u[128], cth[200];
    (void)snprintf(u, sizeof u, "http://127.0.0.1:%u/mp", (unsigned)f->port);
    (void)snprintf(cth, sizeof cth, "Content-Type: %s", ct);
    const char *headers[] = {cth, NULL};
    struct iof_http_response resp;
    struct iof_diag d;
    assert_int_equal(iof_http_client_request(f->cli, "POST", u, headers, body, len, &resp, &d),
                     IOF_OK);
    *out = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
    long status = resp.status;
    iof_http_response_free(&resp);
    return status;
}

static void test_multipart(void **state) {
    struct fixture *f = *state;
    const size_t part_len = 300000;
    uint8_t *part = malloc(part_len);
    assert_non_null(part);
    fill(part, part_len, 7);
    static const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n"
                               "zzz\r\n--XyZ\r\nContent-Disposition: form-data; name=\"upstream\";"
                               " filename=\"snap.tar.gz\"\r\nContent-Type: application/zip\r\n\r\n";
    static const char tail[] = "\r\n--XyZ--\r\n";
    size_t len = sizeof head - 1 + part_len + sizeof tail - 1;
    uint8_t *body = malloc(len);
    assert_non_null(body);
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof head - 1, part, part_len);
    memcpy(body + sizeof head - 1 + part_len, tail, sizeof tail - 1);
    const char *ct = "multipart/form-data; boundary=XyZ";
    json_t *v = NULL;
    assert_int_equal(post_multipart(f, ct, body, len, &v), 200);
    char hex[17];
    (void)snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv(FNV0, part, part_len));
    assert_string_equal(json_string_value(json_object_get(v, "hash")), hex);
    assert_int_equal(json_integer_value(json_object_get(v, "size")), part_len);
    json_decref(v);

    /* No such part: the handler gets IOF_ENOENT with the classic text. */
    static const char other[] = "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n"
                                "zzz\r\n--XyZ--\r\n";
    assert_int_equal(post_multipart(f, ct, other, sizeof other - 1, &v), 404);
    assert_string_equal(json_string_value(json_object_get(v, "message")),
                        "Required field 'upstream' is missing");
    json_decref(v);
    /* Malformed (no closing delimiter) and not multipart at all: 400. */
    assert_int_equal(post_multipart(f, ct, body, len - sizeof tail + 1, &v), 400);
    assert_string_equal(json_string_value(json_object_get(v, "message")),
                        "Invalid multipart body: no closing boundary");
    json_decref(v);
    assert_int_equal(post_multipart(f, "application/zip", part, 100, &v), 400);
    json_decref(v);
    /* Over the route's 1 MiB (the framing counts too). */
    uint8_t *big = calloc(1, (1 << 20) + 1);
    assert_non_null(big);
    assert_int_equal(post_multipart(f, ct, big, (1 << 20) + 1, &v), 413);
    assert_string_equal(json_string_value(json_object_get(v, "name")), "PayloadTooLargeError");
    json_decref(v);
    free(big);
    assert_int_equal(f->calls, 3); /* 413 and the bad Content-Type never reach the handler */
    char names[8][64];
    assert_int_equal(dir_entries(f->dir, names, 8), 0);
    free(body);
    free(part);
}

/* iof_http_client_upload streams a file as the multipart part the route keeps. */
static void test_client_upload(void **state) {
    struct fixture *f = *state;
    const size_t n = 700000;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    fill(data, n, 11);
    char path[128];
    (void)snprintf(path, sizeof path, "%s.src", f->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    char u[128];
    (void)snprintf(u, sizeof u, "http://127.0.0.1:%u/mp", (unsigned)f->port);
    struct iof_http_response resp;
    struct iof_diag d = {{0}};
    assert_int_equal(
        iof_http_client_upload(
            f->cli, "POST", u, NULL, "upstream", path, "snap.tar.gz", "application/zip", &resp, &d),
        IOF_OK);
    assert_int_equal(resp.status, 200);
    json_t *v = json_loads((const char *)resp.body.data, 0, NULL);
    assert_non_null(v);
    char hex[17];
    (void)snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv(FNV0, data, n));
    assert_string_equal(json_string_value(json_object_get(v, "hash")), hex);
    assert_int_equal(json_integer_value(json_object_get(v, "size")), n);
    json_decref(v);
    iof_http_response_free(&resp);
    /* A part under another name is not the one the route wants. */
    assert_int_equal(iof_http_client_upload(
                         f->cli, "POST", u, NULL, "other", path, "x", "text/plain", &resp, &d),
                     IOF_OK);
    assert_int_equal(resp.status, 404);
    iof_http_response_free(&resp);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(iof_http_client_upload(
                         f->cli, "POST", u, NULL, "upstream", path, "x", "text/plain", &resp, &d),
                     IOF_ENOENT);
    free(data);
}

static void test_limits_and_admission(void **state) {
    struct fixture *f = *state;
    struct raw_resp *r = malloc(sizeof *r);
    assert_non_null(r);
    /* Content-Length over the limit: 413 before any body byte is sent. */
    int fd = raw_connect(f->port);
    assert_true(raw_send_str(fd,
                             "POST /mp HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
                             "Content-Type: multipart/form-data; boundary=a\r\n"
                             "Expect: 100-continue\r\n\r\n"));
    assert_true(raw_read_response(fd, r));
    close(fd);
    assert_int_equal(r->status, 413);

    /* Chunked over the limit: the file is dropped, 413 at the end. */
    fd = raw_connect(f->port);
    assert_true(
        raw_send_str(fd,
                     "PUT /gated HTTP/1.1\r\nHost: x\r\nX-Allow: yes\r\nConnection: close\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"));
    static char chunk[0x10000];
    for (int i = 0; i < 20; i++) { /* 1.25 MiB > 1 MiB */
        assert_true(raw_send_str(fd, "10000\r\n"));
        assert_true(raw_send(fd, chunk, sizeof chunk));
        assert_true(raw_send_str(fd, "\r\n"));
    }
    assert_true(raw_send_str(fd, "0\r\n\r\n"));
    assert_true(raw_read_response(fd, r));
    close(fd);
    assert_int_equal(r->status, 413);

    /* Refused by admit: answered at the head; the client never sends its body. */
    fd = raw_connect(f->port);
    assert_true(raw_send_str(fd,
                             "PUT /gated HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n"
                             "Expect: 100-continue\r\n\r\n"));
    assert_true(raw_read_response(fd, r));
    close(fd);
    assert_int_equal(r->status, 401);
    assert_non_null(strstr(r->body, "not allowed to upload"));

    /* Admitted: 100 Continue, then the body, then the handler's answer. */
    fd = raw_connect(f->port);
    assert_true(
        raw_send_str(fd,
                     "PUT /gated HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Allow: yes\r\n"
                     "Expect: 100-continue\r\n\r\n"));
    assert_true(raw_read_response_ex(fd, r, true));
    assert_int_equal(r->status, 100);
    assert_true(raw_send_str(fd, "hello"));
    assert_true(raw_read_response(fd, r));
    close(fd);
    assert_int_equal(r->status, 200);
    assert_json_field(r, "size", "5");
    assert_int_equal(f->calls, 1);

    /* A client that leaves half-way leaves nothing behind and the server carries on. */
    fd = raw_connect(f->port);
    assert_true(
        raw_send_str(fd, "PUT /raw/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n"));
    for (int i = 0; i < 16; i++) {
        assert_true(raw_send(fd, chunk, sizeof chunk));
    }
    close(fd);
    uint64_t h;
    free(r);
    r = put_generated(f, "/raw/after", 1000, &h, NULL);
    assert_int_equal(r->status, 200);
    free(r);
    char names[8][64];
    assert_int_equal(dir_entries(f->dir, names, 8), 0);
}

static void test_normal_routes_unchanged(void **state) {
    struct fixture *f = *state;
    char u[128];
    (void)snprintf(u, sizeof u, "http://127.0.0.1:%u/echo", (unsigned)f->port);
    static char body[4096];
    struct iof_http_response resp;
    struct iof_diag d;
    assert_int_equal(iof_http_client_request(f->cli, "POST", u, NULL, body, 1024, &resp, &d),
                     IOF_OK);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr((const char *)resp.body.data, "\"len\":1024"));
    iof_http_response_free(&resp);
    assert_int_equal(iof_http_client_request(f->cli, "POST", u, NULL, body, 1025, &resp, &d),
                     IOF_OK);
    assert_int_equal(resp.status, 413);
    iof_http_response_free(&resp);
    /* 404 and 405 as before, also next to upload routes. */
    (void)snprintf(u, sizeof u, "http://127.0.0.1:%u/raw/x", (unsigned)f->port);
    assert_int_equal(iof_http_client_request(f->cli, "GET", u, NULL, NULL, 0, &resp, &d), IOF_OK);
    assert_int_equal(resp.status, 405);
    iof_http_response_free(&resp);
    (void)snprintf(u, sizeof u, "http://127.0.0.1:%u/nothing", (unsigned)f->port);
    assert_int_equal(iof_http_client_request(f->cli, "PUT", u, NULL, body, 10, &resp, &d), IOF_OK);
    assert_int_equal(resp.status, 404);
    iof_http_response_free(&resp);
    assert_int_equal(f->calls, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_upload_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_upload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_admission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normal_routes_unchanged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
