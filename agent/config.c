/* The Agent's settings: one table names each setting's CLI flag, config.json key, Controller key,
 * type, default and range, so loading, saving, `iofog-agent config`, the Controller's agent config
 * and `info` all read the same description. */
#include "agent/config.h"

#include "common/json.h"
#include "common/log.h"
#include "common/random.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

enum kind {
    K_STR,    /* free text */
    K_DIR,    /* a directory; a trailing '/' is added */
    K_URL,    /* controller URL: http(s)://..., "/" added */
    K_DOCKER, /* tcp:// or unix:// */
    K_NUM,    /* double in [min, max] */
    K_INT,    /* int >= min (and <= max when max > min) */
    K_ONOFF,  /* bool from "on"/"off" */
    K_LEVEL,  /* log level */
    K_GPS,    /* auto | off | "lat,lon" */
    K_FOG,    /* auto | intel_amd | arm */
    K_PORT,   /* 1..65535 */
};

struct param {
    const char *flag;    /* CLI flag without '-', NULL: not settable by flag */
    const char *key;     /* config.json key */
    const char *ctl_key; /* Controller agent-config key, NULL: none */
    const char *label;   /* `info` label */
    enum kind kind;
    size_t off;
    size_t size; /* char arrays */
    const char *def;
    double min, max;
    const char *range_msg;
};

#define F(m) offsetof(struct agent_config, m), sizeof(((struct agent_config *)0)->m)

/* clang-format off: one setting per line reads best */
static const struct param params[] = {
    {"d",
     "diskLimit",
     "diskLimit",
     "Disk Usage Limit",
     K_NUM,
     F(disk_limit),
     "10",
     1,
     1048576,
     "Disk limit range must be 1 to 1048576 GB"},
    {"dl",
     "diskDirectory",
     "diskDirectory",
     "Message Storage Directory",
     K_DIR,
     F(disk_directory),
     "/var/lib/iofog-agent/",
     0,
     0,
     NULL},
    {"m",
     "memoryLimit",
     "memoryLimit",
     "Memory RAM Limit",
     K_NUM,
     F(memory_limit),
     "4096",
     128,
     1048576,
     "Memory limit range must be 128 to 1048576 MB"},
    {"p",
     "cpuLimit",
     "cpuLimit",
     "CPU Usage Limit",
     K_NUM,
     F(cpu_limit),
     "80",
     5,
     100,
     "CPU limit range must be 5% to 100%"},
    {"a",
     "controllerUrl",
     NULL,
     "ioFog Controller",
     K_URL,
     F(controller_url),
     "http://localhost:51121/api/v3/",
     0,
     0,
     NULL},
    {"ac",
     "controllerCert",
     NULL,
     "ioFog Certificate",
     K_STR,
     F(controller_cert),
     "/etc/iofog-agent/cert.crt",
     0,
     0,
     NULL},
    {"c",
     "dockerUrl",
     "dockerUrl",
     "Docker URL",
     K_DOCKER,
     F(docker_url),
     "unix:///var/run/docker.sock",
     0,
     0,
     NULL},
    {"n",
     "networkInterface",
     "networkInterface",
     "Network Interface",
     K_STR,
     F(network_interface),
     "dynamic",
     0,
     0,
     NULL},
    {"l",
     "logLimit",
     "logLimit",
     "Log Disk Limit",
     K_NUM,
     F(log_limit),
     "10",
     0.5,
     100,
     "Log disk limit range must be 0.5 to 100 GB"},
    {"ld",
     "logDirectory",
     "logDirectory",
     "Log File Directory",
     K_DIR,
     F(log_directory),
     "/var/log/iofog-agent/",
     0,
     0,
     NULL},
    {"lc",
     "logFileCount",
     "logFileCount",
     "Log Rolling File Count",
     K_INT,
     F(log_file_count),
     "10",
     1,
     100,
     "Log file count range must be 1 to 100"},
    {"ll", "logLevel", "logLevel", "Log Level", K_LEVEL, F(log_level), "INFO", 0, 0, NULL},
    {"sf",
     "statusFrequency",
     "statusFrequency",
     "Status Update Frequency",
     K_INT,
     F(status_frequency),
     "10",
     1,
     0,
     "Status update frequency must be greater than 1"},
    {"cf",
     "changeFrequency",
     "changeFrequency",
     "Get Changes Frequency",
     K_INT,
     F(change_frequency),
     "20",
     1,
     0,
     "Get changes frequency must be greater than 1"},
    {"df",
     "diagnosticsFrequency",
     NULL,
     "Post Diagnostics Frequency",
     K_INT,
     F(diagnostics_frequency),
     "10",
     1,
     0,
     "Post diagnostics frequency must be greater than 1"},
    {"sd",
     "deviceScanFrequency",
     "deviceScanFrequency",
     "Scan Devices Frequency",
     K_INT,
     F(device_scan_frequency),
     "60",
     1,
     0,
     "Get scan devices frequency must be greater than 1"},
    {"idc",
     "watchdogEnabled",
     "watchdogEnabled",
     "Isolated Docker Containers",
     K_ONOFF,
     F(watchdog_enabled),
     "off",
     0,
     0,
     NULL},
    {"gps", "gpsMode", "gpsMode", "GPS mode", K_GPS, F(gps_mode), "auto", 0, 0, NULL},
    {NULL,
     "gpsCoordinates",
     NULL,
     "GPS coordinates(lat,lon)",
     K_STR,
     F(gps_coordinates),
     "",
     0,
     0,
     NULL},
    {"ft", "fogType", NULL, "Fog type", K_FOG, F(fog_type), "auto", 0, 0, NULL},
    {"sec", "secureMode", NULL, "Secure Mode", K_ONOFF, F(secure_mode), "off", 0, 0, NULL},
    {"pf",
     "dockerPruningFrequency",
     "dockerPruningFrequency",
     "Docker Pruning Frequency",
     K_INT,
     F(docker_pruning_frequency),
     "1",
     1,
     0,
     "Docker pruning frequency must be greater than 1"},
    {"dt",
     "availableDiskThreshold",
     "availableDiskThreshold",
     "Available Disk Threshold",
     K_INT,
     F(available_disk_threshold),
     "20",
     1,
     100,
     "Available disk threshold must be greater than 1 and less than 100"},
    {"uf",
     "upgradeScanFrequency",
     "readyToUpgradeScanFrequency",
     "Upgrade Scan Frequency",
     K_INT,
     F(upgrade_scan_frequency),
     "24",
     1,
     0,
     "Upgrade scan frequency must be greater than 1"},
    {"dev", "devMode", NULL, "Developer's Mode", K_ONOFF, F(dev_mode), "off", 0, 0, NULL},
    {"tz", "timeZone", "timeZone", "Time Zone", K_STR, F(time_zone), "", 0, 0, NULL},
    {"lp", "localApiPort", NULL, "Local API Port", K_PORT, F(local_api_port), "54321", 0, 0, NULL},
    {"lb",
     "localApiBind",
     NULL,
     "Local API Address",
     K_STR,
     F(local_api_bind),
     "127.0.0.1",
     0,
     0,
     NULL},
    {"ls",
     "localApiStrict",
     NULL,
     "Local API Strict Callers",
     K_ONOFF,
     F(local_api_strict),
     "off",
     0,
     0,
     NULL},
    {"lw",
     "longPollWait",
     NULL,
     "Long-poll Wait",
     K_INT,
     F(long_poll_wait),
     "30",
     0,
     60,
     "Long-poll wait range must be 0 to 60 seconds"},
    {"at",
     "ackTimeoutMs",
     NULL,
     "WebSocket ACK Timeout",
     K_INT,
     F(ack_timeout_ms),
     "20000",
     100,
     600000,
     "ACK timeout range must be 100 to 600000 ms"},
    {NULL, "natsUrl", NULL, "NATS URL", K_STR, F(nats_url), "", 0, 0, NULL},
};
/* clang-format on */
#define NPARAMS (sizeof params / sizeof params[0])

const char agent_config_flags_help[] =
    "  -d <GiB>          message archive disk limit (1..1048576)\n"
    "  -dl <dir>         message archive directory\n"
    "  -m <MiB>          memory limit (128..1048576)\n"
    "  -p <percent>      CPU limit (5..100)\n"
    "  -a <url>          Controller URL, e.g. http://localhost:51121/api/v3/\n"
    "  -ac <file>        Controller CA certificate (PEM) for https\n"
    "  -c <url>          Docker Engine URL (unix:// or tcp://)\n"
    "  -n <name>         network interface, or dynamic\n"
    "  -l <GiB>          log disk limit (0.5..100)\n"
    "  -ld <dir>         log directory\n"
    "  -lc <n>           log file count (1..100)\n"
    "  -ll <level>       log level (DEBUG, INFO, WARNING, SEVERE, ...)\n"
    "  -sf <s>           status report frequency\n"
    "  -cf <s>           get-changes frequency (classic polling)\n"
    "  -df <s>           diagnostics frequency\n"
    "  -sd <s>           device scan frequency\n"
    "  -idc on|off       isolated docker containers (watchdog)\n"
    "  -gps auto|off|<lat,lon>\n"
    "  -ft auto|intel_amd|arm\n"
    "  -sec on|off       secure mode (https only)\n"
    "  -pf <h>           docker pruning frequency\n"
    "  -dt <percent>     available disk threshold\n"
    "  -uf <h>           upgrade scan frequency\n"
    "  -dev on|off       developer mode\n"
    "  -tz <zone>        time zone given to microservices\n"
    "  -lp <port>        Local API port (default 54321)\n"
    "  -lb <address>     Local API address (default 127.0.0.1)\n"
    "  -ls on|off        Local API: refuse processes of the node itself unless they name a\n"
    "                    host-network microservice (default off; read at start)\n"
    "  -lw <s>           long-poll wait for changes, 0 for classic polling (default 30)\n"
    "  -at <ms>          resend un-ACKed WebSocket deliveries after this (default 20000;\n"
    "                    read at start)\n";

static const struct param *find(const char *name) {
    for (size_t i = 0; i < NPARAMS; i++) {
        if ((params[i].flag != NULL && strcmp(params[i].flag, name) == 0) ||
            strcmp(params[i].key, name) == 0) {
            return &params[i];
        }
    }
    return NULL;
}

static iof_err invalid(const struct param *p, const char *value, struct iof_diag *d) {
    return iof_fail(d,
                    IOF_EINVAL,
                    "Option -%s has invalid value: %s",
                    p->flag != NULL ? p->flag : p->key,
                    value);
}

static bool parse_double(const char *s, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_int(const char *s, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < -2147483647L || v > 2147483647L) {
        return false;
    }
    *out = v;
    return true;
}

static bool copy_str(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) {
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

static bool valid_level(const char *v) {
    static const char *const levels[] = {"SEVERE",
                                         "WARNING",
                                         "INFO",
                                         "CONFIG",
                                         "FINE",
                                         "FINER",
                                         "FINEST",
                                         "ALL",
                                         "OFF",
                                         "DEBUG",
                                         "ERROR",
                                         "WARN"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcasecmp(v, levels[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool valid_coordinates(const char *v) {
    double lat = 0, lon = 0;
    char extra = 0;
    return sscanf(v, "%lf,%lf%c", &lat, &lon, &extra) == 2 && lat >= -90 && lat <= 90 &&
           lon >= -180 && lon <= 180;
}

/* Validates value for p and stores it in c. c is unchanged on failure. */
static iof_err
set_param(struct agent_config *c, const struct param *p, const char *value, struct iof_diag *d) {
    char *field = (char *)c + p->off;
    char buf[600];
    if (value[0] == '+') {
        value++;
    }
    switch (p->kind) {
        case K_STR: return copy_str(field, p->size, value) ? IOF_OK : invalid(p, value, d);
        case K_DIR: {
            size_t n = strlen(value);
            if (n == 0 || n + 2 > sizeof buf) {
                return invalid(p, value, d);
            }
            (void)snprintf(buf, sizeof buf, "%s%s", value, value[n - 1] == '/' ? "" : "/");
            return copy_str(field, p->size, buf) ? IOF_OK : invalid(p, value, d);
        }
        case K_URL: {
            size_t n = strlen(value);
            if ((strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) ||
                n + 2 > sizeof buf) {
                return invalid(p, value, d);
            }
            (void)snprintf(buf, sizeof buf, "%s%s", value, value[n - 1] == '/' ? "" : "/");
            if (c->secure_mode && strncmp(buf, "https://", 8) != 0) {
                return iof_fail(d, IOF_EINVAL, "Secure mode requires an https Controller URL");
            }
            return copy_str(field, p->size, buf) ? IOF_OK : invalid(p, value, d);
        }
        case K_DOCKER:
            if (strncmp(value, "tcp://", 6) != 0 && strncmp(value, "unix://", 7) != 0) {
                return iof_fail(
                    d,
                    IOF_EINVAL,
                    "Unsupported protocol scheme. Only 'tcp://' or 'unix://' supported.");
            }
            return copy_str(field, p->size, value) ? IOF_OK : invalid(p, value, d);
        case K_NUM: {
            double v = 0;
            if (!parse_double(value, &v)) {
                return invalid(p, value, d);
            }
            if (v < p->min || v > p->max) {
                return iof_fail(d, IOF_EINVAL, "%s", p->range_msg);
            }
            memcpy(field, &v, sizeof v);
            return IOF_OK;
        }
        case K_INT: {
            long v = 0;
            if (!parse_int(value, &v)) {
                return invalid(p, value, d);
            }
            if (v < (long)p->min || (p->max > p->min && v > (long)p->max)) {
                return iof_fail(d, IOF_EINVAL, "%s", p->range_msg);
            }
            int iv = (int)v;
            memcpy(field, &iv, sizeof iv);
            return IOF_OK;
        }
        case K_PORT: {
            long v = 0;
            if (!parse_int(value, &v) || v < 1 || v > 65535) {
                return invalid(p, value, d);
            }
            uint16_t pv = (uint16_t)v;
            memcpy(field, &pv, sizeof pv);
            return IOF_OK;
        }
        case K_ONOFF: {
            bool v;
            if (strcasecmp(value, "on") == 0 || strcmp(value, "true") == 0) {
                v = true;
            } else if (strcasecmp(value, "off") == 0 || strcmp(value, "false") == 0) {
                v = false;
            } else {
                return invalid(p, value, d);
            }
            if (p->off == offsetof(struct agent_config, secure_mode) && v &&
                strncmp(c->controller_url, "https://", 8) != 0) {
                return iof_fail(d, IOF_EINVAL, "Secure mode requires an https Controller URL");
            }
            memcpy(field, &v, sizeof v);
            return IOF_OK;
        }
        case K_LEVEL: {
            if (!valid_level(value) || strlen(value) >= p->size) {
                return invalid(p, value, d);
            }
            size_t i = 0;
            for (; value[i] != '\0'; i++) {
                buf[i] = (char)(value[i] >= 'a' && value[i] <= 'z' ? value[i] - 32 : value[i]);
            }
            buf[i] = '\0';
            return copy_str(field, p->size, buf) ? IOF_OK : invalid(p, value, d);
        }
        case K_GPS:
            if (strcasecmp(value, "auto") == 0 || strcasecmp(value, "off") == 0 ||
                strcasecmp(value, "dynamic") == 0) {
                for (size_t i = 0; value[i] != '\0' && i + 1 < sizeof buf; i++) {
                    buf[i] = (char)(value[i] >= 'A' && value[i] <= 'Z' ? value[i] + 32 : value[i]);
                    buf[i + 1] = '\0';
                }
                return copy_str(field, p->size, buf) ? IOF_OK : invalid(p, value, d);
            }
            if (!valid_coordinates(value) || strlen(value) >= sizeof c->gps_coordinates) {
                return invalid(p, value, d);
            }
            (void)copy_str(c->gps_coordinates, sizeof c->gps_coordinates, value);
            return copy_str(field, p->size, "manual") ? IOF_OK : invalid(p, value, d);
        case K_FOG:
            if (strcasecmp(value, "auto") != 0 && strcasecmp(value, "intel_amd") != 0 &&
                strcasecmp(value, "arm") != 0) {
                return invalid(p, value, d);
            }
            return copy_str(field, p->size, value) ? IOF_OK : invalid(p, value, d);
    }
    return iof_fail(d, IOF_EINTERNAL, "unknown setting kind");
}

/* The current value of p as text (for info) or as JSON (for files and the Controller). */
static json_t *param_json(const struct agent_config *c, const struct param *p) {
    const char *field = (const char *)c + p->off;
    switch (p->kind) {
        case K_NUM: {
            double v;
            memcpy(&v, field, sizeof v);
            return json_real(v);
        }
        case K_INT: {
            int v;
            memcpy(&v, field, sizeof v);
            return json_integer(v);
        }
        case K_PORT: {
            uint16_t v;
            memcpy(&v, field, sizeof v);
            return json_integer(v);
        }
        case K_ONOFF: {
            bool v;
            memcpy(&v, field, sizeof v);
            return json_string(v ? "on" : "off");
        }
        default: return json_string(field);
    }
}

static void param_text(const struct agent_config *c, const struct param *p, char *out, size_t n) {
    json_t *v = param_json(c, p);
    if (json_is_string(v)) {
        (void)snprintf(out, n, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        (void)snprintf(out, n, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        (void)snprintf(out, n, "%.2f", json_real_value(v));
    } else {
        out[0] = '\0';
    }
    json_decref(v);
}

/* A setting's value from JSON as the text a flag would give; false for arrays, objects, null. */
static bool value_text(const json_t *v, char *text, size_t len) {
    if (json_is_string(v)) {
        (void)snprintf(text, len, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        (void)snprintf(text, len, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        (void)snprintf(text, len, "%.17g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        (void)snprintf(text, len, "%s", json_is_true(v) ? "on" : "off");
    } else {
        return false;
    }
    return true;
}

void agent_config_defaults(struct agent_config *c, const char *config_dir) {
    memset(c, 0, sizeof *c);
    (void)copy_str(c->config_dir,
                   sizeof c->config_dir,
                   config_dir != NULL && config_dir[0] != '\0' ? config_dir
                                                               : AGENT_DEFAULT_CONFIG_DIR);
    for (size_t i = 0; i < NPARAMS; i++) {
        struct iof_diag d = {{0}};
        if (set_param(c, &params[i], params[i].def, &d) != IOF_OK) {
            IOF_ERROR("agent", "bad_default key=%s", params[i].key);
        }
    }
}

static iof_err read_json_file(const char *path, json_t **out, struct iof_diag *d) {
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT) {
            *out = NULL;
            return IOF_OK;
        }
        return iof_fail(d, IOF_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool big = !feof(f);
    fclose(f);
    if (big) {
        return iof_fail(d, IOF_E2BIG, "%s is larger than 64 KiB", path);
    }
    buf[n] = '\0';
    iof_err err = iof_json_parse_object(buf, n, out, d);
    if (err != IOF_OK) {
        return iof_fail(d, IOF_EINVAL, "%s: %s", path, d != NULL ? d->msg : "invalid JSON");
    }
    return IOF_OK;
}

iof_err agent_config_load(struct agent_config *c, const char *config_dir, struct iof_diag *d) {
    agent_config_defaults(c, config_dir);
    char path[700];
    (void)snprintf(path, sizeof path, "%s/config.json", c->config_dir);
    json_t *obj = NULL;
    iof_err err = read_json_file(path, &obj, d);
    if (err != IOF_OK) {
        return err;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const struct param *p = find(key);
        if (p == NULL || strcmp(p->key, key) != 0) {
            iof_err e = iof_fail(d, IOF_EINVAL, "%s: unknown key '%s'", path, key);
            json_decref(obj); /* owns key */
            return e;
        }
        char text[600];
        if (!value_text(v, text, sizeof text)) {
            iof_err e = iof_fail(d, IOF_EINVAL, "%s: '%s' must be a string or a number", path, key);
            json_decref(obj);
            return e;
        }
        struct iof_diag vd = {{0}};
        if (set_param(c, p, text, &vd) != IOF_OK) {
            iof_err e = iof_fail(d, IOF_EINVAL, "%s: %s: %s", path, key, vd.msg);
            json_decref(obj);
            return e;
        }
    }
    json_decref(obj);

    (void)snprintf(path, sizeof path, "%s/credentials.json", c->config_dir);
    if ((err = read_json_file(path, &obj, d)) != IOF_OK) {
        return err;
    }
    if (obj != NULL) {
        const char *uuid = json_string_value(json_object_get(obj, "iofogUuid"));
        const char *tok = json_string_value(json_object_get(obj, "accessToken"));
        if (uuid == NULL || tok == NULL || !copy_str(c->iofog_uuid, sizeof c->iofog_uuid, uuid) ||
            !copy_str(c->access_token, sizeof c->access_token, tok)) {
            json_decref(obj);
            return iof_fail(d, IOF_EINVAL, "%s: iofogUuid and accessToken expected", path);
        }
        const char *nu = json_string_value(json_object_get(obj, "natsUser"));
        const char *np = json_string_value(json_object_get(obj, "natsPassword"));
        if (nu != NULL && np != NULL &&
            (!copy_str(c->nats_user, sizeof c->nats_user, nu) ||
             !copy_str(c->nats_password, sizeof c->nats_password, np))) {
            json_decref(obj);
            return iof_fail(d, IOF_EINVAL, "%s: natsUser or natsPassword too long", path);
        }
        json_decref(obj);
    }
    return IOF_OK;
}

static iof_err make_dir(const char *dir, struct iof_diag *d) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return iof_fail(d, IOF_EIO, "cannot create %s: %s", dir, strerror(errno));
    }
    return IOF_OK;
}

iof_err agent_write_file_atomic(
    const char *path, const void *data, size_t len, unsigned mode, struct iof_diag *d) {
    char tmp[1100];
    (void)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return iof_fail(d, IOF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = errno;
            close(fd);
            (void)unlink(tmp);
            return iof_fail(d, IOF_EIO, "cannot write %s: %s", tmp, strerror(e));
        }
        p += n;
        left -= (size_t)n;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        (void)unlink(tmp);
        return iof_fail(d, IOF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        (void)unlink(tmp);
        return iof_fail(d, IOF_EIO, "cannot rename %s: %s", tmp, strerror(e));
    }
    return IOF_OK;
}

static iof_err write_json(const char *path, json_t *obj, unsigned mode, struct iof_diag *d) {
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    iof_err err = agent_write_file_atomic(path, text, strlen(text), mode, d);
    free(text);
    return err;
}

iof_err agent_config_save(const struct agent_config *c, struct iof_diag *d) {
    iof_err err = make_dir(c->config_dir, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *obj = json_object();
    for (size_t i = 0; i < NPARAMS && obj != NULL; i++) {
        json_object_set_new(obj, params[i].key, param_json(c, &params[i]));
    }
    if (obj == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    char path[700];
    (void)snprintf(path, sizeof path, "%s/config.json", c->config_dir);
    err = write_json(path, obj, 0644, d);
    json_decref(obj);
    return err;
}

iof_err agent_config_save_credentials(const struct agent_config *c, struct iof_diag *d) {
    char path[700];
    (void)snprintf(path, sizeof path, "%s/credentials.json", c->config_dir);
    if (c->iofog_uuid[0] == '\0' && c->access_token[0] == '\0') {
        if (unlink(path) != 0 && errno != ENOENT) {
            return iof_fail(d, IOF_EIO, "cannot remove %s: %s", path, strerror(errno));
        }
        return IOF_OK;
    }
    iof_err err = make_dir(c->config_dir, d);
    if (err != IOF_OK) {
        return err;
    }
    json_t *obj = json_pack("{ssss}", "iofogUuid", c->iofog_uuid, "accessToken", c->access_token);
    if (obj != NULL && c->nats_user[0] != '\0') {
        json_object_set_new(obj, "natsUser", json_string(c->nats_user));
        json_object_set_new(obj, "natsPassword", json_string(c->nats_password));
    }
    if (obj == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    err = write_json(path, obj, 0600, d);
    json_decref(obj);
    return err;
}

iof_err
agent_config_set(struct agent_config *c, const char *flag, const char *value, struct iof_diag *d) {
    const struct param *p = find(flag);
    if (p == NULL) {
        return iof_fail(d, IOF_ENOENT, "Invalid option -%s", flag);
    }
    struct agent_config tmp = *c;
    iof_err err = set_param(&tmp, p, value, d);
    if (err == IOF_OK) {
        *c = tmp;
    }
    return err;
}

iof_err agent_config_apply_args(struct agent_config *c,
                                int argc,
                                const char *const *argv,
                                json_t **messages,
                                struct iof_diag *d) {
    json_t *msgs = json_object();
    if (msgs == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    if (argc == 1 && strcmp(argv[0], "defaults") == 0) {
        struct agent_config def;
        agent_config_defaults(&def, c->config_dir);
        memcpy(def.iofog_uuid, c->iofog_uuid, sizeof def.iofog_uuid);
        memcpy(def.access_token, c->access_token, sizeof def.access_token);
        /* Where to find the Controller and how to reach this daemon are not reset. */
        memcpy(def.controller_url, c->controller_url, sizeof def.controller_url);
        def.local_api_port = c->local_api_port;
        memcpy(def.local_api_bind, c->local_api_bind, sizeof def.local_api_bind);
        *c = def;
        *messages = msgs;
        return IOF_OK;
    }
    if (argc == 0) {
        json_decref(msgs);
        return iof_fail(d, IOF_EINVAL, "no option given; see 'iofog-agent config --help'");
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            json_decref(msgs);
            return iof_fail(d, IOF_EINVAL, "unexpected argument '%s'", a);
        }
        const char *flag = a + 1;
        const char *value = NULL;
        if (i + 1 < argc && !(argv[i + 1][0] == '-' && find(argv[i + 1] + 1) != NULL)) {
            value = argv[++i];
        } else if (strcmp(flag, "ac") == 0) {
            value = ""; /* -ac may be given without a value (classic) */
        } else {
            json_decref(msgs);
            return iof_fail(d, IOF_EINVAL, "Option -%s needs a value", flag);
        }
        struct iof_diag vd = {{0}};
        if (agent_config_set(c, flag, value, &vd) != IOF_OK) {
            json_object_set_new(msgs, flag, json_string(vd.msg));
        }
    }
    *messages = msgs;
    return IOF_OK;
}

void agent_config_apply_controller(struct agent_config *c, const json_t *cfg, bool *changed) {
    *changed = false;
    for (size_t i = 0; i < NPARAMS; i++) {
        const struct param *p = &params[i];
        if (p->ctl_key == NULL || strcmp(p->ctl_key, "gpsMode") == 0) {
            continue; /* GPS mode is the agent's to report, not the Controller's to set */
        }
        json_t *v = json_object_get(cfg, p->ctl_key);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        char text[600];
        if (!value_text(v, text, sizeof text)) {
            continue;
        }
        struct agent_config tmp = *c;
        struct iof_diag vd = {{0}};
        if (set_param(&tmp, p, text, &vd) != IOF_OK) {
            IOF_WARN("agent", "controller_config_skipped key=%s reason=\"%s\"", p->ctl_key, vd.msg);
            continue;
        }
        json_t *before = param_json(c, p);
        json_t *after = param_json(&tmp, p);
        if (!json_equal(before, after)) {
            *c = tmp;
            *changed = true;
        }
        json_decref(before);
        json_decref(after);
    }
}

json_t *agent_config_controller_json(const struct agent_config *c) {
    json_t *obj = json_object();
    for (size_t i = 0; i < NPARAMS && obj != NULL; i++) {
        const struct param *p = &params[i];
        if (p->ctl_key == NULL) {
            continue;
        }
        json_t *v = param_json(c, p);
        if (p->kind == K_ONOFF) { /* the Controller stores booleans */
            bool b = strcmp(json_string_value(v), "on") == 0;
            json_decref(v);
            v = json_boolean(b);
        }
        json_object_set_new(obj, p->ctl_key, v);
    }
    return obj;
}

json_t *agent_config_info_json(const struct agent_config *c) {
    json_t *obj = json_object();
    if (obj == NULL) {
        return NULL;
    }
    json_object_set_new(obj, "iofog-uuid", json_string(c->iofog_uuid));
    for (size_t i = 0; i < NPARAMS; i++) {
        char key[64], text[600];
        size_t k = 0;
        for (const char *s = params[i].label; *s != '\0' && k + 1 < sizeof key; s++) {
            key[k++] = *s == ' ' ? '-' : (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
        }
        key[k] = '\0';
        param_text(c, &params[i], text, sizeof text);
        json_object_set_new(obj, key, json_string(text));
    }
    return obj;
}

int agent_config_fog_type_code(const struct agent_config *c) {
    if (strcasecmp(c->fog_type, "intel_amd") == 0) {
        return 1;
    }
    if (strcasecmp(c->fog_type, "arm") == 0) {
        return 2;
    }
    struct utsname u;
    if (uname(&u) != 0) {
        return 0;
    }
    if (strcmp(u.machine, "x86_64") == 0 || strcmp(u.machine, "i686") == 0 ||
        strcmp(u.machine, "i386") == 0) {
        return 1;
    }
    if (strncmp(u.machine, "arm", 3) == 0 || strcmp(u.machine, "aarch64") == 0) {
        return 2;
    }
    return 0;
}

iof_err agent_config_admin_token(
    const char *config_dir, bool create, char *tok, size_t len, struct iof_diag *d) {
    char path[700];
    (void)snprintf(path, sizeof path, "%s/local-api", config_dir);
    FILE *f = fopen(path, "re");
    if (f != NULL) {
        bool ok = fgets(tok, (int)len, f) != NULL;
        fclose(f);
        tok[strcspn(tok, "\r\n")] = '\0';
        if (ok && tok[0] != '\0') {
            return IOF_OK;
        }
        if (!create) {
            return iof_fail(d, IOF_EAUTH, "%s is empty", path);
        }
    } else if (!create) {
        return iof_fail(d,
                        errno == EACCES ? IOF_EPERM : IOF_ENOENT,
                        "cannot read %s: %s",
                        path,
                        strerror(errno));
    }
    if (len < 33) {
        return iof_fail(d, IOF_EINVAL, "token buffer too small");
    }
    iof_err err = make_dir(config_dir, d);
    if (err != IOF_OK) {
        return err;
    }
    if ((err = iof_random_string(tok, 32, IOF_ALPHABET_ALNUM)) != IOF_OK) {
        return iof_fail(d, err, "no random bytes");
    }
    char line[40];
    int n = snprintf(line, sizeof line, "%s\n", tok);
    return agent_write_file_atomic(path, line, (size_t)n, 0600, d);
}
