/* iofog-agent config <flags> | defaults: changes settings. With the daemon running it applies them
 * at once (and they reach the Controller); without it they are written to config.json for the
 * next start. */
#include "agent/cli_client.h"
#include "agent/commands.h"

#include <stdio.h>
#include <string.h>

static const char usage_head[] =
    "Usage: iofog-agent config <option> <value> [<option> <value>...] [--config-dir DIR]\n"
    "       iofog-agent config defaults\n\n"
    "Changes the Agent's settings (agent.md flags). Options:\n";

static iof_err apply_offline(int argc, char **argv) {
    struct agent_config c;
    iof_err err = agent_cli_load_config("config", &argc, argv, &c);
    if (err != IOF_OK) {
        return err;
    }
    json_t *msgs = NULL;
    struct iof_diag d = {{0}};
    if ((err = agent_config_apply_args(&c, argc - 1, (const char *const *)argv + 1, &msgs, &d)) !=
        IOF_OK) {
        fprintf(stderr, "iofog-agent config: %s\n", d.msg);
        return err;
    }
    const char *k;
    json_t *v;
    json_object_foreach(msgs, k, v) {
        fprintf(stderr, "Option -%s: %s\n", k, json_string_value(v));
        err = IOF_EINVAL;
    }
    json_decref(msgs);
    if (err == IOF_OK && (err = agent_config_save(&c, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-agent config: %s\n", d.msg);
        return err;
    }
    if (err == IOF_OK) {
        printf("New configuration saved to %s/config.json (the Agent is not running)\n",
               c.config_dir);
    }
    return err;
}

iof_err agent_cmd_config(int argc, char **argv, void *ctx) {
    (void)ctx;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s%s", usage_head, agent_config_flags_help);
            return IOF_OK;
        }
    }
    if (argc < 2) {
        fprintf(stderr, "%s%s", usage_head, agent_config_flags_help);
        return IOF_EINVAL;
    }
    /* agent_cli_remote strips --config-dir in place: keep a copy for the offline path. */
    char *copy[128];
    int n = argc < 128 ? argc : 128;
    for (int i = 0; i < n; i++) {
        copy[i] = argv[i];
    }
    iof_err err = agent_cli_remote(argc, argv, usage_head, true);
    if (err == IOF_EIO) {
        return apply_offline(n, copy);
    }
    return err;
}
