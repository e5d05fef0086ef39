/* Image snapshots end to end against the real iofog-controller binary, this test playing the
 * agent over HTTP: the user asks for a snapshot, the agent learns which microservice, uploads the
 * image as multipart field "upstream" (several MB of random bytes), the user downloads the same
 * bytes (twice), ownership, the classic errors, the upload limit from controller.json
 * (imageSnapshotMaxBytes, 413) and the file's removal with its microservice. */
#include "controller/api/msvc_testutil.h"

#include "common/clock.h"
#include "common/random.h"
#include "http/testutil.h"

#include <dirent.h>
#include <sys/stat.h>

#define BOUNDARY "----iofogSnapshotBoundary93af"

struct snap_fx {
    struct msvc_fx x;
    char agent[65]; /* agent token of fog-x86b */
    char uuid[33];  /* a microservice on fog-x86b */
};

static int setup(void **state) {
    void *inner = NULL;
    if (fx_setup(&inner) != 0) {
        return -1;
    }
    struct snap_fx *s = calloc(1, sizeof *s);
    s->x = *(struct msvc_fx *)inner;
    free(inner);
    struct api_fixture *f = s->x.f;
    /* fog-x86b is not RUNNING, so deleting its microservices removes them at once. */
    char hash[65], text[300];
    ctl_token_hash("SNAPKEY2", hash);
    (void)snprintf(text,
                   sizeof text,
                   "INSERT INTO fog_provision_keys (fog_uuid, key_hash, expiration_time)"
                   " VALUES ('fog-x86b', '%s', %lld)",
                   hash,
                   (long long)(iof_time_now_ms() + 600000));
    fx_sql(f, text);
    json_t *a = NULL;
    if (api_call(
            f, "POST", "/api/v3/agent/provision", NULL, "{\"key\":\"SNAPKEY2\",\"type\":1}", &a) !=
            200 ||
        jstr(a, "token") == NULL) {
        json_decref(a);
        return -1;
    }
    (void)snprintf(s->agent, sizeof s->agent, "%s", jstr(a, "token"));
    json_decref(a);
    fx_create(f,
              s->x.t1,
              "{\"name\":\"snap\",\"application\":\"app1\",\"iofogUuid\":\"fog-x86b\","
              "\"images\":[{\"containerImage\":\"busybox\",\"fogTypeId\":1}]}",
              s->uuid);
    *state = s;
    return 0;
}

static int teardown(void **state) {
    struct snap_fx *s = *state;
    api_stop(s->x.f);
    free(s);
    return 0;
}

/* PUT /api/v3/agent/image-snapshot with a multipart body whose `field` part holds data. */
static long
agent_put(struct snap_fx *s, const char *field, const uint8_t *data, size_t len, json_t **out) {
    struct api_fixture *f = s->x.f;
    char head[300];
    int hn = snprintf(head,
                      sizeof head,
                      "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\";"
                      " filename=\"image.tar.gz\"\r\nContent-Type: application/zip\r\n\r\n",
                      field);
    static const char tail[] = "\r\n--" BOUNDARY "--\r\n";
    size_t total = (size_t)hn + len + sizeof tail - 1;
    uint8_t *body = malloc(total);
    assert_non_null(body);
    memcpy(body, head, (size_t)hn);
    memcpy(body + hn, data, len);
    memcpy(body + (size_t)hn + len, tail, sizeof tail - 1);
    char url[160], auth[120];
    (void)snprintf(
        url, sizeof url, "http://127.0.0.1:%u/api/v3/agent/image-snapshot", (unsigned)f->port);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", s->agent);
    const char *headers[] = {"Content-Type: multipart/form-data; boundary=" BOUNDARY, auth, NULL};
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    iof_err err = iof_http_client_request(f->http, "PUT", url, headers, body, total, &r, &d);
    free(body);
    if (err != IOF_OK) {
        fprintf(stderr, "agent_put: %s\n", d.msg);
        return -1;
    }
    if (out != NULL) {
        *out = r.body.len > 0 ? json_loadb((const char *)r.body.data, r.body.len, 0, NULL) : NULL;
    }
    long st = r.status;
    iof_http_response_free(&r);
    return st;
}

/* GET the snapshot as token; *body (when not NULL and 200) gets the bytes (caller frees). */
static long user_get(struct snap_fx *s, const char *token, uint8_t **body, size_t *len) {
    struct api_fixture *f = s->x.f;
    char url[200], auth[120];
    (void)snprintf(url,
                   sizeof url,
                   "http://127.0.0.1:%u/api/v3/microservices/%s/image-snapshot",
                   (unsigned)f->port,
                   s->uuid);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", token);
    const char *headers[] = {auth, NULL};
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    assert_int_equal(iof_http_client_request(f->http, "GET", url, headers, NULL, 0, &r, &d),
                     IOF_OK);
    long st = r.status;
    if (body != NULL && st == 200) {
        *body = malloc(r.body.len + 1);
        assert_non_null(*body);
        memcpy(*body, r.body.data, r.body.len);
        *len = r.body.len;
    }
    iof_http_response_free(&r);
    return st;
}

static void column(struct snap_fx *s, char *out, size_t n) {
    char q[200];
    (void)snprintf(
        q, sizeof q, "SELECT image_snapshot FROM microservices WHERE uuid = '%s'", s->uuid);
    (void)fx_value(s->x.f, q, out, n);
}

static long request_snapshot(struct snap_fx *s) {
    return api_callf(
        s->x.f, "POST", s->x.t1, NULL, NULL, "/api/v3/microservices/%s/image-snapshot", s->uuid);
}

static void test_roundtrip(void **state) {
    struct snap_fx *s = *state;
    struct api_fixture *f = s->x.f;
    json_t *a = NULL;
    const size_t len = 6u << 20;
    uint8_t *image = malloc(len);
    assert_non_null(image);
    assert_int_equal(iof_random_bytes(image, len), IOF_OK);

    /* Nothing asked for yet: GET 404, and an upload is refused before its body is read. */
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/image-snapshot", s->agent, NULL, NULL), 404);
    assert_int_equal(agent_put(s, "upstream", image, len, &a), 400);
    assert_string_equal(jstr(a, "name"), "ValidationError");
    json_decref(a);
    assert_int_equal(agent_put(s, "upstream", image, 10, NULL), 400);

    fx_ack_all(f);
    assert_int_equal(request_snapshot(s), 201);
    assert_true((fx_flags(f, "fog-x86b") & CTL_FLAG_IMAGE_SNAPSHOT) != 0);
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/image-snapshot", s->agent, NULL, &a), 200);
    assert_string_equal(jstr(a, "uuid"), s->uuid);
    json_decref(a);
    assert_int_equal(user_get(s, s->x.t1, NULL, NULL), 404); /* requested, not uploaded */

    /* A wrong token is refused at the head; a body without "upstream" is a ValidationError. */
    char saved[65];
    memcpy(saved, s->agent, sizeof saved);
    memcpy(s->agent, "nope", 5);
    assert_int_equal(agent_put(s, "upstream", image, 1000, NULL), 401);
    memcpy(s->agent, saved, sizeof saved);
    assert_int_equal(agent_put(s, "other", image, 1000, &a), 400);
    assert_string_equal(jstr(a, "message"), "Uploaded image snapshot file not found");
    json_decref(a);
    char v[1200];
    column(s, v, sizeof v);
    assert_string_equal(v, "get_image");

    /* The upload. */
    int64_t t0 = iof_time_mono_ms();
    assert_int_equal(agent_put(s, "upstream", image, len, &a), 200);
    int64_t t1 = iof_time_mono_ms();
    assert_true(json_is_object(a) && json_object_size(a) == 0);
    json_decref(a);
    char want[1200];
    (void)snprintf(want, sizeof want, "%s/image-snapshots/%s.tar.gz", f->dir, s->uuid);
    column(s, v, sizeof v);
    assert_string_equal(v, want);
    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal((size_t)st.st_size, len);

    /* Downloaded twice, the same bytes; headers as the classic Controller sends them. */
    for (int i = 0; i < 2; i++) {
        uint8_t *got = NULL;
        size_t got_len = 0;
        assert_int_equal(user_get(s, s->x.t1, &got, &got_len), 200);
        assert_int_equal(got_len, len);
        assert_memory_equal(got, image, len);
        free(got);
    }
    int64_t t2 = iof_time_mono_ms();
    printf("snapshot of %zu MiB: upload %lld ms, two downloads %lld ms\n",
           len >> 20,
           (long long)(t1 - t0),
           (long long)(t2 - t1));
    char req[400];
    (void)snprintf(req,
                   sizeof req,
                   "HEAD /api/v3/microservices/%s/image-snapshot HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: %s\r\nConnection: close\r\n\r\n",
                   s->uuid,
                   s->x.t1);
    struct raw_resp *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_true(raw_request(f->port, req, r));
    assert_int_equal(r->status, 200);
    char h[200], exp[120];
    assert_true(raw_header(r, "Content-Disposition", h, sizeof h));
    (void)snprintf(exp, sizeof exp, "attachment; filename=\"%s.tar.gz\"", s->uuid);
    assert_string_equal(h, exp);
    assert_true(raw_header(r, "Content-Type", h, sizeof h));
    assert_string_equal(h, "application/gzip");
    assert_true(raw_header(r, "Content-Length", h, sizeof h));
    assert_int_equal(strtoull(h, NULL, 10), len);
    free(r);

    /* Another user's microservice does not exist for them. */
    assert_int_equal(user_get(s, s->x.t2, NULL, NULL), 404);
    /* The request was served: a second upload is not expected. */
    assert_int_equal(api_call(f, "GET", "/api/v3/agent/image-snapshot", s->agent, NULL, NULL), 404);
    assert_int_equal(agent_put(s, "upstream", image, 100, NULL), 400);

    /* Deleting the microservice removes the file. */
    assert_int_equal(
        api_callf(f, "DELETE", s->x.t1, NULL, NULL, "/api/v3/microservices/%s", s->uuid), 204);
    assert_int_equal(stat(want, &st), -1);
    free(image);
}

/* imageSnapshotMaxBytes from controller.json: a larger upload gets 413 and changes nothing. */
static void test_limit(void **state) {
    struct snap_fx *s = *state;
    struct api_fixture *f = s->x.f;
    char path[300];
    (void)snprintf(path, sizeof path, "%s/controller.json", f->dir);
    FILE *cf = fopen(path, "w");
    assert_non_null(cf);
    fputs("{\"imageSnapshotMaxBytes\": 1048576}\n", cf);
    fclose(cf);
    api_kill9(f);
    assert_int_equal(api_spawn(f), 0);

    assert_int_equal(request_snapshot(s), 201);
    const size_t big = 2u << 20;
    uint8_t *image = calloc(1, big);
    assert_non_null(image);
    json_t *a = NULL;
    assert_int_equal(agent_put(s, "upstream", image, big, &a), 413);
    assert_string_equal(jstr(a, "name"), "PayloadTooLargeError");
    json_decref(a);
    char v[1200];
    column(s, v, sizeof v);
    assert_string_equal(v, "get_image");
    /* Within the limit (framing included) it is accepted. */
    assert_int_equal(agent_put(s, "upstream", image, 1000000, NULL), 200);
    column(s, v, sizeof v);
    assert_non_null(strstr(v, "/image-snapshots/"));
    /* Only the kept file is in the directory: no temporary files (hidden ones included). */
    char dir[300];
    (void)snprintf(dir, sizeof dir, "%s/image-snapshots", f->dir);
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(dh);
    assert_int_equal(n, 1);
    free(image);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
