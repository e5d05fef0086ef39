/* config-echo: prints every configuration the Agent gives this microservice, once at start and
 * again on each change, without restarting (the dynamic-configuration example).
 *
 * Environment: SELFNAME (set by the Agent), optional IOFOG_AGENT_HOST / IOFOG_AGENT_PORT.
 * Output: one line per configuration on stdout, `config <json>`. Stops on SIGTERM or SIGINT. */
#include <iofog/iofog.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static void on_config(void *ctx, const struct iofog_config *cfg) {
    unsigned long *count = ctx;
    ++*count;
    printf("config %s\n", iofog_config_raw(cfg));
    fflush(stdout);
}

static void on_error(void *ctx, int err, const char *detail) {
    (void)ctx;
    fprintf(stderr, "config-echo: %s: %s\n", iofog_strerror(err), detail);
}

int main(void) {
    /* Signals are taken by sigwait below, so the SDK thread never sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct iofog_client *client = NULL;
    int rc = iofog_client_new_from_env(NULL, &client);
    if (rc != IOFOG_OK) {
        fprintf(stderr, "config-echo: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        return 2;
    }
    printf("config-echo %s id=%s\n", iofog_version_string(), iofog_client_id(client));
    fflush(stdout);
    unsigned long count = 0;
    struct iofog_callbacks cb = {.ctx = &count, .on_config = on_config, .on_error = on_error};
    rc = iofog_client_start(client, &cb);
    if (rc != IOFOG_OK) {
        fprintf(stderr, "config-echo: %s: %s\n", iofog_strerror(rc), iofog_last_error());
        iofog_client_free(client);
        return 1;
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    iofog_client_free(client);
    printf("config-echo stopped after %lu configurations\n", count);
    return 0;
}
