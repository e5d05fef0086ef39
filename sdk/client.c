/* Creating and freeing a client: explicit options, the container environment (SELFNAME, SSL), the
 * host fallback list, URL building and the reconnect schedule. */
#include "sdk/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const default_hosts[] = {"iofog", "127.0.0.1", NULL};

IOFOG_API void iofog_options_init(struct iofog_options *opts) {
    if (opts != NULL) {
        *opts = (struct iofog_options){0};
    }
}

unsigned iofog_sdk_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned attempt) {
    if (min_ms == 0) {
        min_ms = 1;
    }
    if (max_ms < min_ms) {
        max_ms = min_ms;
    }
    uint64_t v = min_ms;
    for (unsigned i = 0; i < attempt && v < max_ms; i++) {
        v *= 2;
    }
    return v > max_ms ? max_ms : (unsigned)v;
}

static bool is_unreserved(unsigned char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

iof_err iofog_sdk_append_escaped(struct iof_buf *b, const char *prefix, const char *id) {
    iof_err err = iof_buf_append(b, prefix, strlen(prefix));
    for (const unsigned char *p = (const unsigned char *)id; err == IOF_OK && *p != '\0'; p++) {
        if (is_unreserved(*p)) {
            err = iof_buf_append(b, p, 1);
        } else {
            err = iof_buf_printf(b, "%%%02X", *p);
        }
    }
    return err;
}

iof_err iofog_sdk_base_url(struct iof_buf *b, bool ssl, const char *host, uint16_t port) {
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    return iof_buf_printf(b,
                          "%s://%s%s%s:%u",
                          ssl ? "https" : "http",
                          v6 ? "[" : "",
                          host,
                          v6 ? "]" : "",
                          (unsigned)port);
}

IOFOG_API size_t iofog_client_base_url(const struct iofog_client *client, char *out, size_t size) {
    if (client == NULL) {
        return 0;
    }
    unsigned idx = atomic_load(&client->host_index);
    struct iof_buf b;
    iof_buf_init(&b, 4096);
    size_t need = 0;
    if (iofog_sdk_base_url(
            &b, client->ssl, client->hosts[idx % client->host_count], client->port) == IOF_OK) {
        need = b.len;
        if (out != NULL && size > 0) {
            size_t n = need < size - 1 ? need : size - 1;
            memcpy(out, b.data, n);
            out[n] = '\0';
        }
    }
    iof_buf_free(&b);
    return need;
}

IOFOG_API const char *iofog_client_id(const struct iofog_client *client) {
    return client != NULL ? client->id : "";
}

static void client_destroy(struct iofog_client *c) {
    iofog_sdk_rest_free(c->rest);
    for (size_t i = 0; i < c->host_count; i++) {
        free(c->hosts[i]);
    }
    free(c->id);
    free(c);
}

IOFOG_API int iofog_client_new(const struct iofog_options *opts, struct iofog_client **out) {
    iofog_sdk_clear_error();
    if (opts == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "opts and out are required");
    }
    if (opts->id == NULL || opts->id[0] == '\0') {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "a microservice id is required (SELFNAME)");
    }
    const char *const *hosts = opts->hosts != NULL ? opts->hosts : default_hosts;
    size_t n = 0;
    while (hosts[n] != NULL) {
        if (hosts[n][0] == '\0') {
            return iofog_sdk_fail(IOFOG_EINVAL, 0, "host %zu is empty", n);
        }
        if (++n > SDK_MAX_HOSTS) {
            return iofog_sdk_fail(IOFOG_EINVAL, 0, "at most %d hosts", SDK_MAX_HOSTS);
        }
    }
    if (n == 0) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "the host list is empty");
    }
    struct iofog_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    c->wake_fd = -1;
    c->id = strdup(opts->id);
    bool oom = c->id == NULL;
    for (size_t i = 0; i < n && !oom; i++) {
        c->hosts[i] = strdup(hosts[i]);
        oom = c->hosts[i] == NULL;
        c->host_count = i + 1;
    }
    if (oom || iofog_sdk_rest_new(&c->rest) != IOF_OK) {
        client_destroy(c);
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    c->port = opts->port != 0 ? opts->port : IOFOG_DEFAULT_PORT;
    c->ssl = opts->ssl != 0;
    c->request_timeout_ms =
        opts->request_timeout_ms > 0 ? opts->request_timeout_ms : SDK_DEFAULT_REQUEST_TIMEOUT_MS;
    c->connect_timeout_ms =
        opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : SDK_DEFAULT_CONNECT_TIMEOUT_MS;
    c->backoff_min_ms =
        opts->backoff_min_ms != 0 ? opts->backoff_min_ms : SDK_DEFAULT_BACKOFF_MIN_MS;
    c->backoff_max_ms =
        opts->backoff_max_ms != 0 ? opts->backoff_max_ms : SDK_DEFAULT_BACKOFF_MAX_MS;
    if (c->backoff_max_ms < c->backoff_min_ms) {
        c->backoff_max_ms = c->backoff_min_ms;
    }
    c->keepalive_ms = opts->keepalive_ms != 0 ? opts->keepalive_ms : SDK_DEFAULT_KEEPALIVE_MS;
    c->max_message = opts->max_message != 0 ? opts->max_message : SDK_DEFAULT_MAX_MESSAGE;
    if (c->max_message > IOF_MSG_MAX_SIZE) {
        c->max_message = IOF_MSG_MAX_SIZE;
    }
    c->max_send_queue =
        opts->max_send_queue != 0 ? opts->max_send_queue : SDK_DEFAULT_MAX_SEND_QUEUE;
    atomic_init(&c->host_index, 0);
    atomic_init(&c->stop, false);
    atomic_init(&c->connected[0], 0);
    atomic_init(&c->connected[1], 0);
    if (pthread_mutex_init(&c->rest_lock, NULL) != 0) {
        client_destroy(c);
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "cannot create a mutex");
    }
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        pthread_mutex_destroy(&c->rest_lock);
        client_destroy(c);
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "cannot create a mutex");
    }
    *out = c;
    return IOFOG_OK;
}

/* SSL follows the classic SDKs: set means on, except the obvious spellings of off. */
static bool env_flag(const char *v) {
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 &&
           strcasecmp(v, "no") != 0;
}

IOFOG_API int iofog_client_new_from_env(const struct iofog_options *base,
                                        struct iofog_client **out) {
    iofog_sdk_clear_error();
    struct iofog_options o;
    iofog_options_init(&o);
    if (base != NULL) {
        o = *base;
    }
    o.hosts = NULL;
    o.id = getenv("SELFNAME");
    if (o.id == NULL || o.id[0] == '\0') {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "SELFNAME is not set");
    }
    o.ssl = env_flag(getenv("SSL")) ? 1 : 0;
    const char *host = getenv("IOFOG_AGENT_HOST");
    const char *one[2] = {host, NULL};
    if (host != NULL && host[0] != '\0') {
        o.hosts = one;
    }
    const char *port = getenv("IOFOG_AGENT_PORT");
    if (port != NULL && port[0] != '\0') {
        char *end = NULL;
        errno = 0;
        long p = strtol(port, &end, 10);
        if (errno != 0 || end == port || *end != '\0' || p < 1 || p > 65535) {
            return iofog_sdk_fail(IOFOG_EINVAL, 0, "IOFOG_AGENT_PORT is not a port: %s", port);
        }
        o.port = (uint16_t)p;
    }
    return iofog_client_new(&o, out);
}

IOFOG_API void iofog_client_free(struct iofog_client *client) {
    if (client == NULL) {
        return;
    }
    iofog_client_stop(client);
    pthread_mutex_destroy(&client->lock);
    pthread_mutex_destroy(&client->rest_lock);
    client_destroy(client);
}
