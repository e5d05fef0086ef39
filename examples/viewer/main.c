/* viewer: keeps the last N messages routed to this microservice and serves them as JSON over
 * HTTP, like the classic JSON REST API catalog item. GET / and GET /messages answer a JSON array
 * of ioMessages (agent.md §1.2 JSON form, contentdata base64), oldest first; GET /health answers
 * {"status":"ok"}.
 *
 * Configuration (all optional): {"port": TCP port (default 8080), "buffersize": N (default 10,
 * 1..1000)}. A new port or size takes effect at once (the listener moves; the kept messages stay,
 * trimmed to the new size). Environment: SELFNAME (set by the Agent), optional IOFOG_AGENT_HOST /
 * IOFOG_AGENT_PORT, VIEWER_PORT (initial port before the first configuration arrives).
 * Stops on SIGTERM or SIGINT. */
#include <iofog/iofog.h>

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEEP 1000

struct viewer {
    pthread_mutex_t mu;
    char *items[MAX_KEEP]; /* ring of JSON texts, owned (iofog_free) */
    size_t head;           /* index of the oldest */
    size_t count;
    size_t keep;
    unsigned long received;
    struct MHD_Daemon *httpd; /* only touched by the SDK thread and main */
    uint16_t port;
};

/* Drops the oldest items until count <= keep. Called with mu held. */
static void trim(struct viewer *v) {
    while (v->count > v->keep) {
        iofog_free(v->items[v->head]);
        v->items[v->head] = NULL;
        v->head = (v->head + 1) % MAX_KEEP;
        v->count--;
    }
}

static void on_message(void *ctx, const struct iofog_message *m) {
    struct viewer *v = ctx;
    char *json = NULL;
    if (iofog_message_to_json(m, &json) != IOFOG_OK) {
        fprintf(stderr, "viewer: cannot render a message: %s\n", iofog_last_error());
        return;
    }
    pthread_mutex_lock(&v->mu);
    /* Make room for one (keep <= MAX_KEEP, so the ring never overflows). */
    if (v->keep > 0) {
        v->keep--;
        trim(v);
        v->keep++;
    }
    v->items[(v->head + v->count) % MAX_KEEP] = json;
    v->count++;
    v->received++;
    pthread_mutex_unlock(&v->mu);
}

/* The kept messages as one JSON array text (malloc), or NULL when out of memory. */
static char *render(struct viewer *v, size_t *len) {
    pthread_mutex_lock(&v->mu);
    size_t need = 3;
    for (size_t i = 0; i < v->count; i++) {
        need += strlen(v->items[(v->head + i) % MAX_KEEP]) + 1;
    }
    char *out = malloc(need);
    size_t n = 0;
    if (out != NULL) {
        out[n++] = '[';
        for (size_t i = 0; i < v->count; i++) {
            const char *it = v->items[(v->head + i) % MAX_KEEP];
            size_t l = strlen(it);
            if (i > 0) {
                out[n++] = ',';
            }
            memcpy(out + n, it, l);
            n += l;
        }
        out[n++] = ']';
        out[n] = '\0';
    }
    pthread_mutex_unlock(&v->mu);
    *len = n;
    return out;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    (void)MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls,
                              struct MHD_Connection *conn,
                              const char *url,
                              const char *method,
                              const char *version,
                              const char *upload_data,
                              size_t *upload_data_size,
                              void **req_cls) {
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    struct viewer *v = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        char *b = strdup("{\"error\":\"method not allowed\"}");
        return b != NULL ? reply(conn, 405, b, strlen(b)) : MHD_NO;
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/messages") == 0) {
        size_t len = 0;
        char *b = render(v, &len);
        return b != NULL ? reply(conn, 200, b, len) : MHD_NO;
    }
    if (strcmp(url, "/health") == 0) {
        char *b = strdup("{\"status\":\"ok\"}");
        return b != NULL ? reply(conn, 200, b, strlen(b)) : MHD_NO;
    }
    char *b = strdup("{\"error\":\"not found\"}");
    return b != NULL ? reply(conn, 404, b, strlen(b)) : MHD_NO;
}

/* (Re)starts the listener on port; keeps the old one when the new one cannot be opened. */
static void listen_on(struct viewer *v, uint16_t port) {
    if (v->httpd != NULL && v->port == port) {
        return;
    }
    if (v->httpd != NULL) {
        MHD_stop_daemon(v->httpd); /* the port may be the one we want next, free it first */
        v->httpd = NULL;
    }
    v->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                port,
                                NULL,
                                NULL,
                                handle,
                                v,
                                MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)30,
                                MHD_OPTION_END);
    if (v->httpd == NULL) {
        fprintf(stderr, "viewer: cannot listen on port %u\n", (unsigned)port);
        return;
    }
    v->port = port;
    printf("viewer listening port=%u\n", (unsigned)port);
    fflush(stdout);
}

static void on_config(void *ctx, const struct iofog_config *cfg) {
    struct viewer *v = ctx;
    int64_t port = 0;
    int64_t size = 0;
    if (iofog_config_get_int(cfg, "buffersize", &size) == IOFOG_OK) {
        if (size >= 1 && size <= MAX_KEEP) {
            pthread_mutex_lock(&v->mu);
            v->keep = (size_t)size;
            trim(v);
            pthread_mutex_unlock(&v->mu);
        } else {
            fprintf(stderr, "viewer: buffersize must be 1..%d\n", MAX_KEEP);
        }
    }
    uint16_t want = v->port != 0 ? v->port : 8080;
    if (iofog_config_get_int(cfg, "port", &port) == IOFOG_OK) {
        if (port >= 1 && port <= 65535) {
            want = (uint16_t)port;
        } else {
            fprintf(stderr, "viewer: port must be 1..65535\n");
        }
    }
    listen_on(v, want);
    printf("viewer config %s\n", iofog_config_raw(cfg));
    fflush(stdout);
}

static void on_error(void *ctx, int err, const char *detail) {
    (void)ctx;
    fprintf(stderr, "viewer: %s: %s\n", iofog_strerror(err), detail);
}

int main(void) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct iofog_client *client = NULL;
    int rc = iofog_client_new_from_env(NULL, &client);
    if (rc != IOFOG_OK) {
        fprintf(stderr, "viewer: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        return 2;
    }
    static struct viewer v = {.keep = 10};
    pthread_mutex_init(&v.mu, NULL);
    const char *env_port = getenv("VIEWER_PORT");
    long p = env_port != NULL ? strtol(env_port, NULL, 10) : 8080;
    listen_on(&v, p >= 1 && p <= 65535 ? (uint16_t)p : 8080);

    struct iofog_callbacks cb = {
        .ctx = &v, .on_config = on_config, .on_message = on_message, .on_error = on_error};
    rc = iofog_client_start(client, &cb);
    if (rc != IOFOG_OK) {
        fprintf(stderr, "viewer: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        iofog_client_free(client);
        return 1;
    }
    printf("viewer %s id=%s\n", iofog_version_string(), iofog_client_id(client));
    fflush(stdout);
    int sig = 0;
    do {
        sigwait(&sigs, &sig);
    } while (sig == SIGPIPE);
    iofog_client_free(client); /* the SDK thread is gone: nothing touches httpd any more */
    if (v.httpd != NULL) {
        MHD_stop_daemon(v.httpd);
    }
    printf("viewer stopped after %lu messages\n", v.received);
    for (size_t i = 0; i < v.count; i++) {
        iofog_free(v.items[(v.head + i) % MAX_KEEP]);
    }
    pthread_mutex_destroy(&v.mu);
    return 0;
}
