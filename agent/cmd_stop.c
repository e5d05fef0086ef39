/* iofog-agent stop: the daemon stops and removes its microservices' containers, then exits. */
#include "agent/cli_client.h"
#include "agent/commands.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>

iof_err agent_cmd_stop(int argc, char **argv, void *ctx) {
    (void)ctx;
    char *copy[64];
    int n = argc < 64 ? argc : 64;
    for (int i = 0; i < n; i++) {
        copy[i] = argv[i];
    }
    iof_err err = agent_cli_remote(argc,
                                   argv,
                                   "Usage: iofog-agent stop [--config-dir DIR]\n\n"
                                   "Stops the Agent; its microservices' containers are stopped "
                                   "and removed.\n",
                                   false);
    if (err != IOF_OK) {
        return err;
    }
    struct agent_config c;
    if (agent_cli_load_config("stop", &n, copy, &c) != IOF_OK) {
        return IOF_OK;
    }
    char path[700];
    (void)snprintf(path, sizeof path, "%s/iofog-agent.pid", c.config_dir);
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
        if (f != NULL) {
            fclose(f);
        }
        return IOF_OK; /* a foreground daemon has no pid file */
    }
    fclose(f);
    for (int i = 0; i < 600; i++) { /* removing containers may take a while */
        if (kill((pid_t)pid, 0) != 0) {
            printf("Agent stopped\n");
            return IOF_OK;
        }
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "iofog-agent stop: process %ld did not exit within 60 s\n", pid);
    return IOF_ETIMEOUT;
}
