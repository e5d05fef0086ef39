/* The CLI side of the admin route; see cli_client.h. */
#include "agent/cli_client.h"

#include "http/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

iof_err agent_cli_load_config(const char *cmd, int *argc, char **argv, struct agent_config *out) {
    const char *dir = getenv("IOFOG_AGENT_CONFIG_DIR");
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--config-dir") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "iofog-agent %s: --config-dir needs a directory\n", cmd);
                return IOF_EINVAL;
            }
            dir = argv[++i];
        } else if (strncmp(argv[i], "--config-dir=", 13) == 0) {
            dir = argv[i] + 13;
        } else {
            argv[w++] = argv[i];
        }
    }
    *argc = w;
    struct iof_diag d = {{0}};
    iof_err err = agent_config_load(out, dir, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-agent %s: %s\n", cmd, d.msg);
    }
    return err;
}

static iof_err category(const char *name) {
    for (int e = IOF_OK + 1; e < IOF_ERR_COUNT; e++) {
        if (name != NULL && strcmp(iof_err_name((iof_err)e), name) == 0) {
            return (iof_err)e;
        }
    }
    return IOF_EINTERNAL;
}

iof_err agent_cli_remote(int argc, char **argv, const char *usage, bool quiet_offline) {
    const char *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", usage);
            return IOF_OK;
        }
    }
    struct agent_config c;
    iof_err err = agent_cli_load_config(cmd, &argc, argv, &c);
    if (err != IOF_OK) {
        return err;
    }
    /* Only `config` sends options on to the daemon, which checks them itself; the other commands
     * take none but --config-dir, and `provision` one key. Refused here, before the daemon is
     * asked, so that a typo never runs the command with the option ignored. */
    if (strcmp(cmd, "config") != 0) {
        int positional = 0;
        for (int i = 1; i < argc; i++) {
            if (argv[i][0] == '-') {
                fprintf(stderr, "iofog-agent %s: unknown option '%s'\n\n%s", cmd, argv[i], usage);
                return IOF_EINVAL;
            }
            if (++positional > (strcmp(cmd, "provision") == 0 ? 1 : 0)) {
                fprintf(
                    stderr, "iofog-agent %s: unexpected argument '%s'\n\n%s", cmd, argv[i], usage);
                return IOF_EINVAL;
            }
        }
    }
    char token[64];
    struct iof_diag d = {{0}};
    if ((err = agent_config_admin_token(c.config_dir, false, token, sizeof token, &d)) != IOF_OK) {
        if (err == IOF_ENOENT) { /* never started with this directory */
            if (!quiet_offline) {
                fprintf(stderr,
                        "iofog-agent %s: the Agent is not running (%s); for an Agent with "
                        "another config directory use --config-dir DIR or "
                        "IOFOG_AGENT_CONFIG_DIR\n",
                        cmd,
                        d.msg);
            }
            return IOF_EIO;
        }
        fprintf(stderr,
                "iofog-agent %s: %s (is the Agent started with this config directory, and are "
                "you root? Another one: --config-dir DIR or IOFOG_AGENT_CONFIG_DIR)\n",
                cmd,
                d.msg);
        return err;
    }
    char line[4096] = "";
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        int k = snprintf(line + n, sizeof line - n, "%s%s", i > 0 ? " " : "", argv[i]);
        if (k < 0 || (size_t)k >= sizeof line - n) {
            fprintf(stderr, "iofog-agent %s: arguments too long\n", cmd);
            return IOF_E2BIG;
        }
        n += (size_t)k;
    }
    struct iof_http_client *http = NULL;
    struct iof_http_client_opts o = {.timeout_ms = 60000, .connect_timeout_ms = 3000};
    if ((err = iof_http_client_new(&o, &http)) != IOF_OK) {
        fprintf(stderr, "iofog-agent %s: cannot create an HTTP client\n", cmd);
        return err;
    }
    char url[128], auth[100];
    (void)snprintf(
        url, sizeof url, "http://127.0.0.1:%u/v2/commandline", (unsigned)c.local_api_port);
    (void)snprintf(auth, sizeof auth, "Authorization: %s", token);
    const char *headers[] = {auth, NULL};
    json_t *body = json_pack("{ss}", "command", line);
    json_t *answer = NULL;
    long status = 0;
    err = iof_http_client_request_json(http, "POST", url, headers, body, &status, &answer, &d);
    json_decref(body);
    iof_http_client_free(http);
    if (err != IOF_OK) {
        if (quiet_offline) {
            return IOF_EIO;
        }
        fprintf(stderr,
                "iofog-agent %s: the Agent is not running (no answer on 127.0.0.1:%u: %s)\n",
                cmd,
                (unsigned)c.local_api_port,
                d.msg);
        return IOF_EIO;
    }
    const char *text = json_string_value(json_object_get(answer, "response"));
    if (status == 200) {
        printf("%s", text != NULL ? text : "");
    } else if (text != NULL) {
        fprintf(stderr, "%s", text);
        err = category(json_string_value(json_object_get(answer, "category")));
    } else if (json_is_string(json_object_get(answer, "message"))) {
        fprintf(stderr,
                "iofog-agent %s: %s\n",
                cmd,
                json_string_value(json_object_get(answer, "message")));
        err = status == 400 ? IOF_EINVAL : status == 401 ? IOF_EAUTH : IOF_EREMOTE;
    } else {
        fprintf(stderr, "iofog-agent %s: the Agent answered HTTP %ld\n", cmd, status);
        err = status == 401 ? IOF_EAUTH : IOF_EREMOTE;
    }
    json_decref(answer);
    return err;
}
