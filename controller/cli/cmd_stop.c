/* iofog-controller stop: ends a Controller started in the background (pid file in the data
 * directory) with SIGTERM and waits up to 15 s for it to exit. */
#include "controller/cli/commands.h"

#include "controller/server/config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

iof_err ctl_cmd_stop(int argc, char **argv, void *ctx) {
    (void)ctx;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("Usage: iofog-controller stop [--data-dir DIR]\n\n"
                   "Stops the Controller started with 'iofog-controller start'.\n");
            return IOF_OK;
        }
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    iof_err err = ctl_config_load(&cfg, argc, argv, NULL, NULL, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller stop: %s\n", d.msg);
        return err;
    }
    char path[1100];
    (void)snprintf(path, sizeof path, "%s/iofog-controller.pid", cfg.data_dir);
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (f == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
        if (f != NULL) {
            fclose(f);
        }
        fprintf(stderr,
                "iofog-controller stop: no running Controller (no pid in %s); for one with "
                "another data directory use --data-dir DIR or IOFOG_CONTROLLER_DATA_DIR\n",
                path);
        return IOF_ENOENT;
    }
    fclose(f);
    if (kill((pid_t)pid, SIGTERM) != 0) {
        (void)unlink(path);
        fprintf(stderr, "iofog-controller stop: process %ld is not running\n", pid);
        return errno == ESRCH ? IOF_ENOENT : IOF_EPERM;
    }
    for (int i = 0; i < 150; i++) {
        if (kill((pid_t)pid, 0) != 0) {
            (void)unlink(path);
            printf("Controller stopped\n");
            return IOF_OK;
        }
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "iofog-controller stop: process %ld did not exit within 15 s\n", pid);
    return IOF_ETIMEOUT;
}
