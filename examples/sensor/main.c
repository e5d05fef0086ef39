/* sensor: a simulated temperature sensor. It publishes {"temperature":x,"unit":"C"} as the
 * contentdata of an ioMessage every `frequency` ms over the message socket (REST while the socket
 * is down), with x wandering between `minimum` and `maximum`. A configuration change takes effect
 * at once, without a restart.
 *
 * Configuration (all optional): {"frequency": ms (default 1000, at least 10),
 * "minimum": number (default 15), "maximum": number (default 35)}.
 * Environment: SELFNAME (set by the Agent), optional IOFOG_AGENT_HOST / IOFOG_AGENT_PORT.
 * Stops on SIGTERM or SIGINT. */
#include <iofog/iofog.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct settings {
    pthread_mutex_t mu;
    int64_t frequency_ms;
    double minimum;
    double maximum;
    unsigned long receipts;
};

static void on_config(void *ctx, const struct iofog_config *cfg) {
    struct settings *s = ctx;
    int64_t f = 0;
    double lo = 0;
    double hi = 0;
    pthread_mutex_lock(&s->mu);
    if (iofog_config_get_int(cfg, "frequency", &f) == IOFOG_OK && f >= 10) {
        s->frequency_ms = f;
    }
    int has_lo = iofog_config_get_number(cfg, "minimum", &lo) == IOFOG_OK;
    int has_hi = iofog_config_get_number(cfg, "maximum", &hi) == IOFOG_OK;
    lo = has_lo ? lo : s->minimum;
    hi = has_hi ? hi : s->maximum;
    if (lo <= hi) {
        s->minimum = lo;
        s->maximum = hi;
    } else {
        fprintf(stderr, "sensor: ignoring minimum %g above maximum %g\n", lo, hi);
    }
    printf("sensor config frequency=%" PRId64 " minimum=%g maximum=%g\n",
           s->frequency_ms,
           s->minimum,
           s->maximum);
    fflush(stdout);
    pthread_mutex_unlock(&s->mu);
}

static void on_receipt(void *ctx, const char *id, int64_t timestamp) {
    struct settings *s = ctx;
    pthread_mutex_lock(&s->mu);
    unsigned long n = ++s->receipts;
    pthread_mutex_unlock(&s->mu);
    if (n <= 3 || n % 100 == 0) {
        printf("sensor receipt n=%lu id=%s timestamp=%" PRId64 "\n", n, id, timestamp);
        fflush(stdout);
    }
}

static void on_error(void *ctx, int err, const char *detail) {
    (void)ctx;
    fprintf(stderr, "sensor: %s: %s\n", iofog_strerror(err), detail);
}

int main(void) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct iofog_client *client = NULL;
    int rc = iofog_client_new_from_env(NULL, &client);
    if (rc != IOFOG_OK) {
        fprintf(stderr, "sensor: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        return 2;
    }
    struct settings s = {.frequency_ms = 1000, .minimum = 15, .maximum = 35};
    pthread_mutex_init(&s.mu, NULL);
    struct iofog_callbacks cb = {
        .ctx = &s, .on_config = on_config, .on_receipt = on_receipt, .on_error = on_error};
    rc = iofog_client_start(client, &cb);
    if (rc != IOFOG_OK) {
        fprintf(stderr, "sensor: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        iofog_client_free(client);
        return 1;
    }
    printf("sensor %s id=%s\n", iofog_version_string(), iofog_client_id(client));
    fflush(stdout);

    unsigned seed = (unsigned)time(NULL);
    double value = -1e300;
    unsigned long sent = 0;
    for (;;) {
        pthread_mutex_lock(&s.mu);
        int64_t period = s.frequency_ms;
        double lo = s.minimum;
        double hi = s.maximum;
        pthread_mutex_unlock(&s.mu);

        struct timespec wait = {.tv_sec = (time_t)(period / 1000),
                                .tv_nsec = (long)(period % 1000) * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
        /* A random walk of at most a tenth of the range per step, kept inside the range. */
        double r = (double)rand_r(&seed) / (double)RAND_MAX;
        if (value < lo || value > hi) {
            value = lo + r * (hi - lo);
        } else {
            value += (r - 0.5) * (hi - lo) / 5.0;
            value = value < lo ? lo : (value > hi ? hi : value);
        }
        char body[96];
        int n = snprintf(body, sizeof body, "{\"temperature\":%.2f,\"unit\":\"C\"}", value);
        struct iofog_message m;
        iofog_message_init(&m);
        m.infotype = "application/json";
        m.infoformat = "text/utf-8";
        m.contentdata = (const uint8_t *)body;
        m.contentdata_len = (size_t)n;
        rc = iofog_send_message(client, &m);
        if (rc != IOFOG_OK) {
            fprintf(stderr, "sensor: send: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        } else if (++sent <= 3) {
            printf("sensor sent %s\n", body);
            fflush(stdout);
        }
    }
    iofog_client_free(client);
    pthread_mutex_destroy(&s.mu);
    printf("sensor stopped after %lu messages\n", sent);
    return 0;
}
