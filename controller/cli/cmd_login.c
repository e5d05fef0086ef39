/* iofog-controller login | logout: a CLI session for operating a Controller from any machine that
 * reaches it. login trades an e-mail and password for a user token (POST /api/v3/user/login) and
 * stores URL and token (session.h); every later command uses it unless a token, or a local data
 * directory, is named explicitly. logout revokes the stored token (POST /api/v3/user/logout) and
 * removes the file. */
#include "controller/cli/commands.h"

#include "controller/cli/cli_client.h"
#include "controller/cli/session.h"
#include "http/client.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void login_usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller login --email E [--password-stdin | --password P]\n"
            "                              [--controller-url URL] [--port N]\n\n"
            "Logs in to a Controller as the user E and stores the session (URL and access\n"
            "token) in $XDG_CONFIG_HOME/iofog/controller-session.json (else\n"
            "~/.config/iofog/...), mode 0600. Every later command then works from this machine\n"
            "with that user's rights, until `iofog-controller logout` or the token expires.\n"
            "Without --password-stdin or --password the password is asked on the terminal.\n"
            "Credentials are taken in this order: --token / IOFOG_CONTROLLER_TOKEN, the stored\n"
            "session (unless --data-dir / IOFOG_CONTROLLER_DATA_DIR names a local Controller),\n"
            "the local admin credential of the data directory.\n\n"
            "Options:\n"
            "  -e, --email E          the user's e-mail\n"
            "      --password-stdin   read the password from the first line of standard input\n"
            "  -p, --password P       the password (visible to other local users: avoid)\n"
            "      --controller-url URL  the Controller (env IOFOG_CONTROLLER_URL; default\n"
            "                         http://127.0.0.1:<port>)\n"
            "      --port N           the local Controller's port, when no URL is given\n");
}

static void logout_usage(FILE *out) {
    fprintf(out,
            "Usage: iofog-controller logout\n\n"
            "Revokes the stored session's token at its Controller and removes the session\n"
            "file. The file is removed even when the Controller cannot be reached.\n");
}

/* Reads one line (without its newline) into out; false on EOF or when it does not fit. */
static bool read_line(FILE *in, char *out, size_t size) {
    if (fgets(out, (int)size, in) == NULL) {
        return false;
    }
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '\n') {
        out[--n] = '\0';
    } else if (!feof(in)) {
        return false;
    }
    if (n > 0 && out[n - 1] == '\r') {
        out[n - 1] = '\0';
    }
    return true;
}

static bool prompt_password(char *out, size_t size) {
    if (!isatty(STDIN_FILENO)) {
        return false;
    }
    fprintf(stderr, "Password: ");
    struct termios old, quiet;
    bool echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    bool ok = read_line(stdin, out, size);
    if (echo_off) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    }
    fprintf(stderr, "\n");
    return ok;
}

/* POSTs body to base+path, presenting token when not NULL. */
static iof_err post(const char *base,
                    const char *path,
                    const char *token,
                    const json_t *body,
                    long *status,
                    json_t **out,
                    struct iof_diag *d) {
    char url[1024], auth[300];
    (void)snprintf(url, sizeof url, "%s%s", base, path);
    (void)snprintf(auth, sizeof auth, "Authorization: Bearer %s", token != NULL ? token : "");
    const char *headers[] = {token != NULL ? auth : NULL, NULL};
    struct iof_http_client_opts opts = {
        .timeout_ms = 30000, .connect_timeout_ms = 3000, .ca_file = ctl_cli_ca_file()};
    struct iof_http_client *c = NULL;
    iof_err err = iof_http_client_new(&opts, &c);
    if (err != IOF_OK) {
        return iof_fail(d, err, "cannot create an HTTP client");
    }
    err = iof_http_client_request_json(c, "POST", url, headers, body, status, out, d);
    iof_http_client_free(c);
    if (err == IOF_EIO) {
        return iof_fail(d, err, "cannot reach the Controller at %s", base);
    }
    return err;
}

iof_err ctl_cmd_login(int argc, char **argv, void *ctx) {
    (void)ctx;
    static const struct option longs[] = {
        {"email", required_argument, NULL, 'e'},
        {"password", required_argument, NULL, 'p'},
        {"password-stdin", no_argument, NULL, 'S'},
        {"port", required_argument, NULL, 'P'},
        {"data-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *email = NULL, *password = NULL, *port = NULL, *data_dir = NULL;
    bool from_stdin = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "e:p:h", longs, NULL)) != -1) {
        switch (c) {
            case 'e': email = optarg; break;
            case 'p': password = optarg; break;
            case 'S': from_stdin = true; break;
            case 'P': port = optarg; break;
            case 'D': data_dir = optarg; break;
            case 'h': login_usage(stdout); return IOF_OK;
            default:
                fprintf(
                    stderr, "iofog-controller login: unknown option '%s'\n\n", argv[optind - 1]);
                login_usage(stderr);
                return IOF_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iofog-controller login: unexpected argument '%s'\n", argv[optind]);
        return IOF_EINVAL;
    }
    if (email == NULL) {
        fprintf(stderr, "iofog-controller login: --email is required\n\n");
        login_usage(stderr);
        return IOF_EINVAL;
    }
    char secret[512];
    if (password != NULL && from_stdin) {
        fprintf(stderr, "iofog-controller login: give --password or --password-stdin, not both\n");
        return IOF_EINVAL;
    }
    if (password != NULL) {
        (void)snprintf(secret, sizeof secret, "%s", password);
    } else if (from_stdin ? !read_line(stdin, secret, sizeof secret)
                          : !prompt_password(secret, sizeof secret)) {
        fprintf(stderr,
                "iofog-controller login: %s\n",
                from_stdin ? "no password on standard input"
                           : "no terminal to ask the password on: use --password-stdin");
        return IOF_EINVAL;
    }
    struct ctl_config cfg;
    struct iof_diag d = {{0}};
    iof_err err = ctl_cli_config(port, data_dir, &cfg, &d);
    struct ctl_cli_session s;
    memset(&s, 0, sizeof s);
    if (err == IOF_OK) {
        err = ctl_cli_target_url(&cfg, s.url, sizeof s.url, &d);
    }
    long status = 0;
    json_t *answer = NULL;
    if (err == IOF_OK) {
        json_t *body = json_pack("{s:s, s:s}", "email", email, "password", secret);
        err = body != NULL ? post(s.url, "/api/v3/user/login", NULL, body, &status, &answer, &d)
                           : IOF_ENOMEM;
        json_decref(body);
    }
    memset(secret, 0, sizeof secret);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller login: %s\n", iof_diag_text(&d, err));
        return err;
    }
    if ((err = ctl_cli_check(status, answer)) != IOF_OK) {
        json_decref(answer);
        return err;
    }
    const char *token = json_string_value(json_object_get(answer, "accessToken"));
    if (token == NULL || strlen(token) >= sizeof s.token || strlen(email) >= sizeof s.email) {
        json_decref(answer);
        fprintf(stderr, "iofog-controller login: the Controller's answer has no access token\n");
        return IOF_EPROTO;
    }
    (void)snprintf(s.token, sizeof s.token, "%s", token);
    (void)snprintf(s.email, sizeof s.email, "%s", email);
    json_decref(answer);
    char path[1024] = "";
    if ((err = ctl_cli_session_save(&s, &d)) != IOF_OK ||
        (err = ctl_cli_session_path(path, sizeof path, &d)) != IOF_OK) {
        fprintf(stderr, "iofog-controller login: %s\n", iof_diag_text(&d, err));
        return err;
    }
    printf("Logged in to %s as %s (session stored in %s)\n", s.url, s.email, path);
    return IOF_OK;
}

iof_err ctl_cmd_logout(int argc, char **argv, void *ctx) {
    (void)ctx;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        logout_usage(stdout);
        return IOF_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "iofog-controller logout: unknown option '%s'\n\n", argv[1]);
        logout_usage(stderr);
        return IOF_EINVAL;
    }
    struct ctl_cli_session s;
    struct iof_diag d = {{0}};
    iof_err err = ctl_cli_session_load(&s, &d);
    if (err != IOF_OK) {
        fprintf(stderr, "iofog-controller logout: %s\n", iof_diag_text(&d, err));
        return err;
    }
    long status = 0;
    json_t *answer = NULL;
    iof_err revoke = post(s.url, "/api/v3/user/logout", s.token, NULL, &status, &answer, &d);
    json_decref(answer);
    if ((err = ctl_cli_session_remove(&d)) != IOF_OK) {
        fprintf(stderr, "iofog-controller logout: %s\n", iof_diag_text(&d, err));
        return err;
    }
    if (revoke != IOF_OK) {
        fprintf(stderr,
                "iofog-controller logout: session removed; the token could not be revoked: %s\n",
                iof_diag_text(&d, revoke));
    } else if (status != 204 && status != 200 && status != 401) {
        fprintf(stderr,
                "iofog-controller logout: session removed; the Controller answered HTTP %ld\n",
                status);
    }
    printf("Logged out of %s\n", s.url);
    return IOF_OK;
}
