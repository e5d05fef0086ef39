/* sdk-config: config update -> SDK on_config callback latency (a benchmark, not a test).
 *
 * A client of the SDK (libiofog) connects to the Agent's Local API as the microservice UUID and
 * waits on its control socket. The program then changes that microservice's configuration K times
 * through the Controller's user API (PATCH /api/v3/microservices/<uuid> {"config":"{\"seq\":i}"}),
 * one change at a time, and measures the time from sending the PATCH to the on_config callback
 * that carries seq = i (Controller -> agent long-poll -> 0x0C -> SDK fetch -> callback).
 *
 * Usage: sdk-config --controller URL --token USER_TOKEN --uuid MSVC --port LOCAL_API_PORT
 *                   [--host 127.0.0.1] [--changes K]
 * Prints one JSON object with the figures. */
#include "http/client.h"

#include <iofog/iofog.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t seq;     /* last seq seen in a configuration, -1 none */
    int64_t seen_us; /* when that configuration arrived */
    unsigned configs;
};

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_config(void *ctx, const struct iofog_config *cfg) {
    struct state *s = ctx;
    int64_t t = now_us();
    int64_t seq = -1;
    if (iofog_config_get_int(cfg, "seq", &seq) != IOFOG_OK) {
        seq = -1;
    }
    pthread_mutex_lock(&s->mu);
    s->configs++;
    if (seq > s->seq) {
        s->seq = seq;
        s->seen_us = t;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void on_error(void *ctx, int err, const char *detail) {
    (void)ctx;
    fprintf(stderr, "sdk-config: %s: %s\n", iofog_strerror(err), detail);
}

/* Waits until a configuration with seq >= want arrived or timeout_ms passed; its arrival time in
 * *at_us. 0 when it arrived. */
static int wait_seq(struct state *s, int64_t want, int timeout_ms, int64_t *at_us) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    while (s->seq < want && rc == 0) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
    }
    int ok = s->seq >= want;
    if (ok && at_us != NULL) {
        *at_us = s->seen_us;
    }
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : -1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double p) {
    size_t k = (size_t)(p / 100.0 * (double)n + 0.5);
    k = k == 0 ? 0 : k - 1;
    if (k >= n) {
        k = n - 1;
    }
    return (double)v[k] / 1000.0;
}

static int patch_config(struct iof_http_client *http,
                        const char *controller,
                        const char *auth,
                        const char *uuid,
                        int64_t seq) {
    char url[512], body[128];
    (void)snprintf(url, sizeof url, "%s/api/v3/microservices/%s", controller, uuid);
    (void)snprintf(body, sizeof body, "{\"config\":\"{\\\"seq\\\":%lld}\"}", (long long)seq);
    const char *hdr[] = {auth, "Content-Type: application/json", NULL};
    struct iof_http_response r;
    struct iof_diag d = {{0}};
    if (iof_http_client_request(http, "PATCH", url, hdr, body, strlen(body), &r, &d) != IOF_OK) {
        fprintf(stderr, "sdk-config: PATCH failed: %s\n", d.msg);
        return -1;
    }
    long st = r.status;
    if (st / 100 != 2) {
        fprintf(stderr, "sdk-config: PATCH answered %ld: %s\n", st, (const char *)r.body.data);
    }
    iof_http_response_free(&r);
    return st / 100 == 2 ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *controller = NULL, *token = NULL, *uuid = NULL, *host = "127.0.0.1";
    long port = 0, changes = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--controller") == 0) {
            controller = argv[i + 1];
        } else if (strcmp(argv[i], "--token") == 0) {
            token = argv[i + 1];
        } else if (strcmp(argv[i], "--uuid") == 0) {
            uuid = argv[i + 1];
        } else if (strcmp(argv[i], "--host") == 0) {
            host = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            port = strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--changes") == 0) {
            changes = strtol(argv[i + 1], NULL, 10);
        }
    }
    if (controller == NULL || token == NULL || uuid == NULL || port <= 0 || port > 65535 ||
        changes <= 0 || changes > 100000) {
        fprintf(stderr,
                "usage: sdk-config --controller URL --token TOKEN --uuid MSVC --port PORT "
                "[--host H] [--changes K]\n");
        return 2;
    }

    struct state s = {.seq = -1};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    const char *hosts[] = {host, NULL};
    struct iofog_options opts;
    iofog_options_init(&opts);
    opts.id = uuid;
    opts.hosts = hosts;
    opts.port = (uint16_t)port;
    opts.backoff_min_ms = 100;
    struct iofog_client *client = NULL;
    if (iofog_client_new(&opts, &client) != IOFOG_OK) {
        fprintf(stderr, "sdk-config: client: %s\n", iofog_last_error());
        return 1;
    }
    struct iofog_callbacks cb = {.ctx = &s, .on_config = on_config, .on_error = on_error};
    struct iof_http_client *http = NULL;
    struct iof_http_client_opts hopts = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    int rc = 1;
    int64_t *lat = calloc((size_t)changes, sizeof *lat);
    char auth[256];
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    if (lat == NULL || iof_http_client_new(&hopts, &http) != IOF_OK ||
        iofog_client_start(client, &cb) != IOFOG_OK) {
        fprintf(stderr, "sdk-config: start failed\n");
        goto out;
    }
    /* The first configuration arrives once the control socket is up (seq absent: -1 -> 0). */
    if (patch_config(http, controller, auth, uuid, 0) != 0 || wait_seq(&s, 0, 15000, NULL) != 0) {
        fprintf(stderr, "sdk-config: no configuration within 15 s\n");
        goto out;
    }
    size_t n = 0;
    int64_t t_all = now_us();
    for (int64_t i = 1; i <= changes; i++) {
        int64_t t0 = now_us(), at = 0;
        if (patch_config(http, controller, auth, uuid, i) != 0 || wait_seq(&s, i, 5000, &at) != 0) {
            fprintf(stderr, "sdk-config: change %lld not delivered within 5 s\n", (long long)i);
            goto out;
        }
        lat[n++] = at - t0;
    }
    double total_s = (double)(now_us() - t_all) / 1e6;
    qsort(lat, n, sizeof *lat, cmp_i64);
    printf("{\"changes\":%zu,\"configCallbacks\":%u,\"configToCallbackP50Ms\":%.2f,"
           "\"configToCallbackP99Ms\":%.2f,\"configToCallbackMaxMs\":%.2f,"
           "\"configToCallbackMinMs\":%.2f,\"seconds\":%.1f}\n",
           n,
           s.configs,
           pct_ms(lat, n, 50),
           pct_ms(lat, n, 99),
           (double)lat[n - 1] / 1000.0,
           (double)lat[0] / 1000.0,
           total_s);
    rc = 0;
out:
    iofog_client_free(client);
    iof_http_client_free(http);
    free(lat);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return rc;
}
