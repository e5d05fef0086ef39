/* The Local API's REST calls over libcurl: one easy handle per connection, bounded answers, the
 * host list tried in order on connection failures, and the microservice endpoints of agent.md §1.2
 * (double-encoded config and edgeResources, plain-text error bodies). */
#include "sdk/internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct iofog_sdk_rest {
    CURL *curl;
};

/* curl_global_init is not guaranteed thread-safe on every libcurl build: run it once. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

iof_err iofog_sdk_rest_new(struct iofog_sdk_rest **out) {
    if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK) {
        return IOF_ENOMEM;
    }
    struct iofog_sdk_rest *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return IOF_ENOMEM;
    }
    r->curl = curl_easy_init();
    if (r->curl == NULL) {
        free(r);
        return IOF_ENOMEM;
    }
    *out = r;
    return IOF_OK;
}

void iofog_sdk_rest_free(struct iofog_sdk_rest *r) {
    if (r != NULL) {
        curl_easy_cleanup(r->curl);
        free(r);
    }
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ctx) {
    struct iof_buf *b = ctx;
    size_t n = size * nmemb;
    /* Returning less than n makes curl fail the transfer with CURLE_WRITE_ERROR. */
    return iof_buf_append(b, ptr, n) == IOF_OK ? n : 0;
}

/* Whether curl failed before anything reached the host, so another host may be tried. */
static bool connect_failure(CURLcode rc) {
    return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT;
}

/* One attempt against one host. */
static iof_err attempt(struct iofog_client *c,
                       struct iofog_sdk_rest *conn,
                       const char *host,
                       const char *method,
                       const char *path,
                       const char *body,
                       struct iof_buf *answer,
                       long *status,
                       CURLcode *curl_rc,
                       struct iof_diag *d) {
    struct iof_buf url;
    iof_buf_init(&url, 8192);
    iof_err err = iofog_sdk_base_url(&url, c->ssl, host, c->port);
    if (err == IOF_OK) {
        err = iof_buf_append(&url, path, strlen(path));
    }
    if (err != IOF_OK) {
        iof_buf_free(&url);
        return err == IOF_E2BIG ? iof_fail(d, IOF_EINVAL, "URL too long") : err;
    }
    CURL *h = conn->curl;
    curl_easy_reset(h);
    struct curl_slist *headers = NULL;
    struct curl_slist *tmp = curl_slist_append(NULL, "Content-Type: application/json");
    if (tmp != NULL) {
        headers = tmp;
        tmp = curl_slist_append(headers, "Accept: application/json");
    }
    if (tmp == NULL) {
        curl_slist_free_all(headers);
        iof_buf_free(&url);
        return IOF_ENOMEM;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    iof_buf_reset(answer);
    CURLcode rc = CURLE_OK;
    /* Options are checked together: a failing setopt is out of memory or an old libcurl. */
    if (curl_easy_setopt(h, CURLOPT_URL, (const char *)url.data) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->request_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, answer) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
        rc = CURLE_OUT_OF_MEMORY;
    }
    if (rc == CURLE_OK && body != NULL) {
        if (curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) !=
                CURLE_OK) {
            rc = CURLE_OUT_OF_MEMORY;
        }
    }
    if (rc == CURLE_OK) {
        rc = curl_easy_perform(h);
    }
    *curl_rc = rc;
    if (rc == CURLE_OK) {
        long code = 0;
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        *status = code;
        err = IOF_OK;
    } else if (rc == CURLE_OUT_OF_MEMORY) {
        err = IOF_ENOMEM;
    } else if (rc == CURLE_WRITE_ERROR && answer->len + CURL_MAX_WRITE_SIZE > answer->max) {
        err = iof_fail(d, IOF_E2BIG, "answer of %s over %zu bytes", path, answer->max);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = iof_fail(d, IOF_ETIMEOUT, "%s %s: %s", method, (const char *)url.data, errbuf);
    } else {
        err = iof_fail(d,
                       IOF_EIO,
                       "%s %s: %s",
                       method,
                       (const char *)url.data,
                       errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    }
    /* Nothing of this call may stay referenced by the handle between calls. */
    (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    iof_buf_free(&url);
    return err;
}

iof_err iofog_sdk_rest_call(struct iofog_client *c,
                            struct iofog_sdk_rest *conn,
                            const char *method,
                            const char *path,
                            const json_t *body,
                            json_t **out,
                            long *status,
                            struct iof_diag *d) {
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL) {
            return IOF_ENOMEM;
        }
    }
    struct iof_buf answer;
    iof_buf_init(&answer, c->max_message);
    unsigned first = atomic_load(&c->host_index) % (unsigned)c->host_count;
    long code = 0;
    iof_err err = IOF_EIO;
    for (unsigned i = 0; i < c->host_count; i++) {
        unsigned idx = (first + i) % (unsigned)c->host_count;
        CURLcode rc = CURLE_OK;
        err = attempt(c, conn, c->hosts[idx], method, path, text, &answer, &code, &rc, d);
        if (err == IOF_OK) {
            atomic_store(&c->host_index, idx);
            break;
        }
        if (!connect_failure(rc)) {
            break;
        }
    }
    free(text);
    if (err != IOF_OK) {
        iof_buf_free(&answer);
        return err;
    }
    *status = code;
    const char *ans = answer.data != NULL ? (const char *)answer.data : "";
    if (code != 200) {
        /* Error bodies are plain text with the status line appended (agent.md §1.1). */
        err = iof_fail(d, IOF_EREMOTE, "agent answered %ld to %s: %.180s", code, path, ans);
        iof_buf_free(&answer);
        return err;
    }
    json_error_t jerr;
    json_t *j = json_loadb(ans, answer.len, 0, &jerr);
    iof_buf_free(&answer);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return iof_fail(d, IOF_EPROTO, "answer to %s is not a JSON object", path);
    }
    *out = j;
    return IOF_OK;
}

/* Runs a synchronous call on the client's shared connection and maps the result. */
static int sync_call(struct iofog_client *c,
                     const char *method,
                     const char *path,
                     const json_t *body,
                     json_t **out) {
    struct iof_diag d = {0};
    long status = 0;
    pthread_mutex_lock(&c->rest_lock);
    iof_err err = iofog_sdk_rest_call(c, c->rest, method, path, body, out, &status, &d);
    pthread_mutex_unlock(&c->rest_lock);
    if (err != IOF_OK) {
        (void)iofog_sdk_fail(IOFOG_OK, err == IOF_EREMOTE ? status : 0, "%s", "");
        return iofog_sdk_fail_iof(err, &d);
    }
    return IOFOG_OK;
}

/* A JSON object {"id": <client id>}, or NULL when out of memory. */
static json_t *id_body(const struct iofog_client *c) {
    return json_pack("{s:s}", "id", c->id);
}

int iofog_sdk_get_config(struct iofog_client *c,
                         struct iofog_sdk_rest *conn,
                         struct iofog_config **out) {
    json_t *body = id_body(c);
    if (body == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    json_t *ans = NULL;
    int rc;
    if (conn == NULL) {
        rc = sync_call(c, "POST", "/v2/config/get", body, &ans);
    } else {
        struct iof_diag d = {0};
        long status = 0;
        iof_err err =
            iofog_sdk_rest_call(c, conn, "POST", "/v2/config/get", body, &ans, &status, &d);
        if (err != IOF_OK) {
            (void)iofog_sdk_fail(IOFOG_OK, err == IOF_EREMOTE ? status : 0, "%s", "");
        }
        rc = iofog_sdk_fail_iof(err, &d);
    }
    json_decref(body);
    if (rc != IOFOG_OK) {
        return rc;
    }
    /* "config" is the configuration JSON as a string; some agents send the object itself. */
    json_t *cfg = json_object_get(ans, "config");
    if (json_is_string(cfg)) {
        rc = iofog_config_parse(json_string_value(cfg), json_string_length(cfg), out);
    } else if (json_is_object(cfg)) {
        char *text = json_dumps(cfg, JSON_COMPACT);
        rc = text != NULL ? iofog_config_parse(text, strlen(text), out)
                          : iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
        free(text);
    } else {
        rc = iofog_sdk_fail(IOFOG_EPROTO, 0, "answer has no 'config' string");
    }
    json_decref(ans);
    return rc;
}

IOFOG_API int iofog_get_config(struct iofog_client *client, struct iofog_config **out) {
    iofog_sdk_clear_error();
    if (client == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client and out are required");
    }
    return iofog_sdk_get_config(client, NULL, out);
}

/* The receipt in a /v2/messages/new answer: {"status":"okay","timestamp":ms,"id":"..."}. */
static int read_receipt(const json_t *ans, struct iofog_receipt *out) {
    const json_t *id = json_object_get(ans, "id");
    const json_t *ts = json_object_get(ans, "timestamp");
    if (!json_is_string(id) || !json_is_integer(ts) || json_string_length(id) >= sizeof out->id) {
        return iofog_sdk_fail(IOFOG_EPROTO, 0, "answer has no receipt (id, timestamp)");
    }
    if (out != NULL) {
        memcpy(out->id, json_string_value(id), json_string_length(id) + 1);
        out->timestamp = (int64_t)json_integer_value(ts);
    }
    return IOFOG_OK;
}

int iofog_sdk_post_message(struct iofog_client *c,
                           struct iofog_sdk_rest *conn,
                           const struct iof_msg *msg,
                           struct iofog_receipt *out) {
    struct iof_msg m = *msg;
    if (m.publisher == NULL || m.publisher[0] == '\0') {
        m.publisher = c->id;
    }
    if (m.version == 0) {
        m.version = IOF_MSG_VERSION;
    }
    struct iof_diag d = {0};
    json_t *body = NULL;
    iof_err err = iof_msg_to_json(&m, &body, &d);
    if (err != IOF_OK) {
        return iofog_sdk_fail_iof(err, &d);
    }
    /* The Agent assigns both. */
    (void)json_object_del(body, "id");
    (void)json_object_del(body, "timestamp");
    json_t *ans = NULL;
    int rc;
    if (conn == NULL) {
        rc = sync_call(c, "POST", "/v2/messages/new", body, &ans);
    } else {
        long status = 0;
        err = iofog_sdk_rest_call(c, conn, "POST", "/v2/messages/new", body, &ans, &status, &d);
        if (err != IOF_OK) {
            (void)iofog_sdk_fail(IOFOG_OK, err == IOF_EREMOTE ? status : 0, "%s", "");
        }
        rc = iofog_sdk_fail_iof(err, &d);
    }
    json_decref(body);
    if (rc == IOFOG_OK) {
        rc = read_receipt(ans, out);
        json_decref(ans);
    }
    return rc;
}

IOFOG_API int iofog_post_message(struct iofog_client *client,
                                 const struct iofog_message *msg,
                                 struct iofog_receipt *out) {
    iofog_sdk_clear_error();
    if (client == NULL || msg == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client and msg are required");
    }
    struct iof_msg m;
    iofog_sdk_msg_view(msg, &m);
    return iofog_sdk_post_message(client, NULL, &m, out);
}

static int messages_answer(json_t *ans, struct iofog_message_list **out) {
    struct iof_diag d = {0};
    struct iofog_message_list *list = NULL;
    iof_err err = iofog_sdk_msg_list_from_json(json_object_get(ans, "messages"), &list, &d);
    if (err == IOF_OK) {
        const json_t *s = json_object_get(ans, "timeframestart");
        const json_t *e = json_object_get(ans, "timeframeend");
        list->timeframestart = json_is_integer(s) ? (int64_t)json_integer_value(s) : 0;
        list->timeframeend = json_is_integer(e) ? (int64_t)json_integer_value(e) : 0;
        *out = list;
    }
    json_decref(ans);
    return iofog_sdk_fail_iof(err, &d);
}

IOFOG_API int iofog_next_messages(struct iofog_client *client, struct iofog_message_list **out) {
    iofog_sdk_clear_error();
    if (client == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client and out are required");
    }
    json_t *body = id_body(client);
    if (body == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    json_t *ans = NULL;
    int rc = sync_call(client, "POST", "/v2/messages/next", body, &ans);
    json_decref(body);
    return rc == IOFOG_OK ? messages_answer(ans, out) : rc;
}

IOFOG_API int iofog_query_messages(struct iofog_client *client,
                                   int64_t timeframestart,
                                   int64_t timeframeend,
                                   const char *const *publishers,
                                   size_t publisher_count,
                                   struct iofog_message_list **out) {
    iofog_sdk_clear_error();
    if (client == NULL || out == NULL || (publishers == NULL && publisher_count > 0)) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client, out and publishers are required");
    }
    json_t *pubs = json_array();
    json_t *body = json_pack("{s:s, s:I, s:I}",
                             "id",
                             client->id,
                             "timeframestart",
                             (json_int_t)timeframestart,
                             "timeframeend",
                             (json_int_t)timeframeend);
    bool ok = pubs != NULL && body != NULL;
    for (size_t i = 0; ok && i < publisher_count; i++) {
        ok = publishers[i] != NULL && json_array_append_new(pubs, json_string(publishers[i])) == 0;
    }
    if (ok) {
        ok = json_object_set_new(body, "publishers", pubs) == 0;
        pubs = NULL;
    }
    if (!ok) {
        json_decref(pubs);
        json_decref(body);
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory or a NULL/invalid publisher");
    }
    json_t *ans = NULL;
    int rc = sync_call(client, "POST", "/v2/messages/query", body, &ans);
    json_decref(body);
    return rc == IOFOG_OK ? messages_answer(ans, out) : rc;
}

IOFOG_API int
iofog_log(struct iofog_client *client, enum iofog_log_type type, const char *message) {
    iofog_sdk_clear_error();
    if (client == NULL || message == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client and message are required");
    }
    json_t *body = json_pack("{s:s, s:s, s:s}",
                             "id",
                             client->id,
                             "type",
                             type == IOFOG_LOG_INFO ? "info" : "warning",
                             "message",
                             message);
    if (body == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "message is not UTF-8, or out of memory");
    }
    json_t *ans = NULL;
    int rc = sync_call(client, "POST", "/v2/log", body, &ans);
    json_decref(body);
    json_decref(ans);
    return rc;
}

IOFOG_API int iofog_get_edge_resources(struct iofog_client *client, char **out) {
    iofog_sdk_clear_error();
    if (client == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "client and out are required");
    }
    json_t *ans = NULL;
    int rc = sync_call(client, "GET", "/v2/edgeResources", NULL, &ans);
    if (rc != IOFOG_OK) {
        return rc;
    }
    /* Double-encoded: a JSON array serialised into a string; an array is accepted as well. */
    const json_t *v = json_object_get(ans, "edgeResources");
    char *text = NULL;
    if (json_is_string(v)) {
        text = strdup(json_string_value(v));
    } else if (json_is_array(v)) {
        text = json_dumps(v, JSON_COMPACT);
    } else {
        json_decref(ans);
        return iofog_sdk_fail(IOFOG_EPROTO, 0, "answer has no 'edgeResources'");
    }
    json_decref(ans);
    if (text == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    *out = text;
    return IOFOG_OK;
}
