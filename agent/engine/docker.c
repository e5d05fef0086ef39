/* Docker Engine API calls (see docker.h). */
#include "agent/engine/docker.h"

#include "agent/engine/spec.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "http/client.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESPONSE    (8u << 20) /* container lists and inspections of many containers */
#define MAX_STREAM_LINE (64u << 10)
#define MAX_LAYERS      128
#define MAX_URL         4096

struct agent_docker {
    struct iof_http_client *http;
    char prefix[256]; /* "http://docker/v1.41" */
};

iof_err agent_docker_new(const char *docker_url,
                         long timeout_ms,
                         struct agent_docker **out,
                         struct iof_diag *d) {
    return agent_docker_new_cancellable(docker_url, timeout_ms, NULL, out, d);
}

iof_err agent_docker_new_cancellable(const char *docker_url,
                                     long timeout_ms,
                                     const atomic_bool *cancel,
                                     struct agent_docker **out,
                                     struct iof_diag *d) {
    if (docker_url == NULL || docker_url[0] == '\0') {
        docker_url = AGENT_DOCKER_URL_DEFAULT;
    }
    struct agent_docker *k = calloc(1, sizeof *k);
    if (k == NULL) {
        return IOF_ENOMEM;
    }
    struct iof_http_client_opts o = {
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = 5000,
        .max_response = MAX_RESPONSE,
        .cancel = cancel,
    };
    if (strncmp(docker_url, "unix://", 7) == 0) {
        o.unix_socket = docker_url + 7;
        snprintf(k->prefix, sizeof k->prefix, "http://docker/%s", AGENT_DOCKER_API);
    } else if (strncmp(docker_url, "tcp://", 6) == 0 && strlen(docker_url) < 200) {
        snprintf(k->prefix, sizeof k->prefix, "http://%s/%s", docker_url + 6, AGENT_DOCKER_API);
    } else {
        free(k);
        return iof_fail(d, IOF_EINVAL, "docker_url must be unix:///path or tcp://host:port");
    }
    iof_err err = iof_http_client_new(&o, &k->http);
    if (err != IOF_OK) {
        free(k);
        return iof_fail(d, err, "cannot create the HTTP client for Docker");
    }
    *out = k;
    return IOF_OK;
}

void agent_docker_free(struct agent_docker *k) {
    if (k != NULL) {
        iof_http_client_free(k->http);
        free(k);
    }
}

iof_err agent_docker_escape(const char *text, char *dst, size_t size) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(dst);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (n + (plain ? 1 : 3) >= size) {
            return IOF_E2BIG;
        }
        if (plain) {
            dst[n++] = (char)*p;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[*p >> 4];
            dst[n++] = hex[*p & 15];
        }
    }
    dst[n] = '\0';
    return IOF_OK;
}

static iof_err make_url(struct agent_docker *k, const char *path, char *url, size_t size) {
    int n = snprintf(url, size, "%s%s", k->prefix, path);
    return n < 0 || (size_t)n >= size ? IOF_E2BIG : IOF_OK;
}

/* Docker's error bodies are {"message": "..."}. */
static iof_err docker_error(long status, const json_t *body, const char *what, struct iof_diag *d) {
    const char *msg = json_string_value(json_object_get(body, "message"));
    iof_err err = status == 404                    ? IOF_ENOENT
                  : status == 409                  ? IOF_ECONFLICT
                  : status == 401 || status == 403 ? IOF_EAUTH
                  : status == 400                  ? IOF_EINVAL
                                                   : IOF_EREMOTE;
    return iof_fail(d, err, "%s: %s", what, msg != NULL ? msg : "Docker answered with an error");
}

iof_err agent_docker_call(struct agent_docker *k,
                          const char *method,
                          const char *path,
                          const json_t *body,
                          const char *const *headers,
                          long *status,
                          json_t **out,
                          struct iof_diag *d) {
    char url[MAX_URL];
    if (make_url(k, path, url, sizeof url) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "Docker URL too long");
    }
    return iof_http_client_request_json(k->http, method, url, headers, body, status, out, d);
}

/* The filters parameter selecting this agent's containers, JSON-encoded so any uuid is safe. */
static iof_err label_filter(const char *agent_uuid, bool containers_only, char *buf, size_t size) {
    json_t *label = json_sprintf("%s=%s", AGENT_LABEL_AGENT, agent_uuid);
    json_t *f = json_pack("{s:[o]}", "label", label);
    if (f == NULL) {
        return IOF_ENOMEM;
    }
    if (containers_only && json_object_set_new(f, "type", json_pack("[s]", "container")) != 0) {
        json_decref(f);
        return IOF_ENOMEM;
    }
    char *text = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(f);
    if (text == NULL) {
        return IOF_ENOMEM;
    }
    size_t n = strlen(text);
    iof_err err = n < size ? IOF_OK : IOF_E2BIG;
    if (err == IOF_OK) {
        memcpy(buf, text, n + 1);
    }
    free(text);
    return err;
}

iof_err agent_docker_list(struct agent_docker *k,
                          const char *agent_uuid,
                          json_t **out,
                          struct iof_diag *d) {
    char filter[512];
    iof_err err = label_filter(agent_uuid, false, filter, sizeof filter);
    char path[1600] = "/containers/json?all=1&filters=";
    if (err != IOF_OK || agent_docker_escape(filter, path, sizeof path) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "agent uuid too long");
    }
    long status = 0;
    json_t *v = NULL;
    err = agent_docker_call(k, "GET", path, NULL, NULL, &status, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    if (status != 200 || !json_is_array(v)) {
        err = docker_error(status, v, "cannot list containers", d);
        json_decref(v);
        return err;
    }
    *out = v;
    return IOF_OK;
}

/* Builds "/<what>/<escaped id><suffix>". */
static iof_err id_path(const char *what,
                       const char *id,
                       const char *suffix,
                       char *path,
                       size_t size,
                       struct iof_diag *d) {
    int n = snprintf(path, size, "/%s/", what);
    if (n < 0 || agent_docker_escape(id, path, size) != IOF_OK ||
        strlen(path) + strlen(suffix) >= size) {
        return iof_fail(d, IOF_E2BIG, "identifier too long");
    }
    strcat(path, suffix);
    return IOF_OK;
}

static iof_err simple(struct agent_docker *k,
                      const char *method,
                      const char *what,
                      const char *id,
                      const char *suffix,
                      const char *action,
                      json_t **out,
                      long *out_status,
                      struct iof_diag *d) {
    char path[1600];
    iof_err err = id_path(what, id, suffix, path, sizeof path, d);
    if (err != IOF_OK) {
        return err;
    }
    long status = 0;
    json_t *v = NULL;
    err = agent_docker_call(k, method, path, NULL, NULL, &status, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    *out_status = status;
    if (status >= 300 && status != 304) {
        err = docker_error(status, v, action, d);
        json_decref(v);
        return err;
    }
    if (out != NULL) {
        *out = v;
    } else {
        json_decref(v);
    }
    return IOF_OK;
}

iof_err
agent_docker_inspect(struct agent_docker *k, const char *id, json_t **out, struct iof_diag *d) {
    long status = 0;
    json_t *v = NULL;
    iof_err err =
        simple(k, "GET", "containers", id, "/json", "cannot inspect container", &v, &status, d);
    if (err != IOF_OK) {
        return err;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return iof_fail(d, IOF_EPROTO, "container inspection is not an object");
    }
    *out = v;
    return IOF_OK;
}

iof_err agent_docker_create(struct agent_docker *k,
                            const char *name,
                            const json_t *body,
                            char id[AGENT_DOCKER_ID_MAX],
                            struct iof_diag *d) {
    char path[512] = "/containers/create?name=";
    if (agent_docker_escape(name, path, sizeof path) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "container name too long");
    }
    long status = 0;
    json_t *v = NULL;
    iof_err err = agent_docker_call(k, "POST", path, body, NULL, &status, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    if (status == 409) {
        json_decref(v);
        return iof_fail(d,
                        IOF_EEXIST,
                        "container name %s is taken by a container this agent does not manage",
                        name);
    }
    const char *cid = json_string_value(json_object_get(v, "Id"));
    if (status != 201 || cid == NULL || strlen(cid) >= AGENT_DOCKER_ID_MAX) {
        err = docker_error(status, v, "cannot create container", d);
        json_decref(v);
        return err;
    }
    snprintf(id, AGENT_DOCKER_ID_MAX, "%s", cid);
    json_decref(v);
    return IOF_OK;
}

iof_err agent_docker_start(struct agent_docker *k, const char *id, struct iof_diag *d) {
    long status = 0;
    return simple(
        k, "POST", "containers", id, "/start", "cannot start container", NULL, &status, d);
}

iof_err
agent_docker_stop(struct agent_docker *k, const char *id, int timeout_s, struct iof_diag *d) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, "/stop?t=%d", timeout_s);
    long status = 0;
    return simple(k, "POST", "containers", id, suffix, "cannot stop container", NULL, &status, d);
}

iof_err
agent_docker_remove(struct agent_docker *k, const char *id, bool force, struct iof_diag *d) {
    long status = 0;
    iof_err err = simple(k,
                         "DELETE",
                         "containers",
                         id,
                         force ? "?force=1" : "",
                         "cannot remove container",
                         NULL,
                         &status,
                         d);
    return err == IOF_ENOENT ? IOF_OK : err;
}

iof_err
agent_docker_image_exists(struct agent_docker *k, const char *ref, bool *out, struct iof_diag *d) {
    long status = 0;
    iof_err err =
        simple(k, "GET", "images", ref, "/json", "cannot inspect image", NULL, &status, d);
    if (err == IOF_ENOENT) {
        *out = false;
        return IOF_OK;
    }
    if (err == IOF_OK) {
        *out = true;
    }
    return err;
}

iof_err agent_docker_image_id(
    struct agent_docker *k, const char *ref, char *buf, size_t len, struct iof_diag *d) {
    long status = 0;
    json_t *v = NULL;
    iof_err err = simple(k, "GET", "images", ref, "/json", "cannot inspect image", &v, &status, d);
    if (err == IOF_OK) {
        const char *id = json_string_value(json_object_get(v, "Id"));
        if (id == NULL || snprintf(buf, len, "%s", id) >= (int)len) {
            err = iof_fail(d, IOF_EPROTO, "image %s has no usable Id", ref);
        }
    }
    json_decref(v);
    return err;
}

iof_err agent_docker_image_remove(struct agent_docker *k, const char *ref, struct iof_diag *d) {
    long status = 0;
    iof_err err = simple(k, "DELETE", "images", ref, "", "cannot remove image", NULL, &status, d);
    return err == IOF_ENOENT ? IOF_OK : err;
}

/* Forwards a 200 body to the caller; keeps the head of any other (Docker's error JSON). */
struct save_state {
    iof_http_chunk_cb cb;
    void *ctx;
    char head[1024];
    size_t head_len;
    bool failed; /* the caller's callback stopped the transfer */
};

static bool on_save_chunk(void *ctx, const char *data, size_t len) {
    struct save_state *st = ctx;
    size_t room = sizeof st->head - 1 - st->head_len;
    size_t n = len < room ? len : room;
    memcpy(st->head + st->head_len, data, n);
    st->head_len += n;
    if (!st->cb(st->ctx, data, len)) {
        st->failed = true;
        return false;
    }
    return true;
}

iof_err agent_docker_image_save(
    struct agent_docker *k, const char *ref, iof_http_chunk_cb cb, void *ctx, struct iof_diag *d) {
    char path[1600];
    char url[MAX_URL];
    iof_err err = id_path("images", ref, "/get", path, sizeof path, d);
    if (err != IOF_OK) {
        return err;
    }
    if (make_url(k, path, url, sizeof url) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "image reference too long");
    }
    struct save_state st = {.cb = cb, .ctx = ctx};
    long status = 0;
    err =
        iof_http_client_stream(k->http, "GET", url, NULL, NULL, 0, on_save_chunk, &st, &status, d);
    if (err != IOF_OK) {
        return err;
    }
    if (status != 200) {
        st.head[st.head_len] = '\0';
        json_t *body = json_loads(st.head, 0, NULL);
        err = docker_error(status, body, "cannot export image", d);
        json_decref(body);
        return err;
    }
    return st.failed ? iof_fail(d, IOF_EIO, "export of %s stopped by the receiver", ref) : IOF_OK;
}

/* Pull and event streams: newline-separated JSON objects split across arbitrary chunks. */
struct layer {
    char id[80];
    double current;
    double total;
};

struct line_reader {
    struct iof_buf line;
    bool skipping; /* the current line went past MAX_STREAM_LINE and is being dropped */
    bool (*on_line)(void *ctx, const json_t *obj);
    void *ctx;
};

static bool feed(void *ctx, const char *data, size_t len) {
    struct line_reader *r = ctx;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            if (!r->skipping && iof_buf_append(&r->line, data + i, 1) != IOF_OK) {
                r->skipping = true;
                iof_buf_reset(&r->line);
            }
            continue;
        }
        bool go = true;
        if (!r->skipping && r->line.len > 0) {
            json_t *v = NULL;
            if (iof_json_parse((const char *)r->line.data, r->line.len, &v, NULL) == IOF_OK) {
                go = r->on_line(r->ctx, v);
                json_decref(v);
            }
        }
        r->skipping = false;
        iof_buf_reset(&r->line);
        if (!go) {
            return false;
        }
    }
    return true;
}

struct pull_state {
    struct layer layers[MAX_LAYERS];
    size_t nlayers;
    char error[200];
    bool aborted;
    agent_docker_progress_cb cb;
    void *ctx;
};

static struct layer *find_layer(struct pull_state *p, const char *id) {
    for (size_t i = 0; i < p->nlayers; i++) {
        if (strcmp(p->layers[i].id, id) == 0) {
            return &p->layers[i];
        }
    }
    if (p->nlayers == MAX_LAYERS || strlen(id) >= sizeof p->layers[0].id) {
        return NULL;
    }
    struct layer *l = &p->layers[p->nlayers++];
    snprintf(l->id, sizeof l->id, "%s", id);
    l->current = 0;
    l->total = 0;
    return l;
}

static bool on_pull_line(void *ctx, const json_t *o) {
    struct pull_state *p = ctx;
    const char *error = json_string_value(json_object_get(o, "error"));
    if (error == NULL) {
        error = json_string_value(json_object_get(o, "message")); /* an error status's body */
    }
    if (error != NULL) {
        snprintf(p->error, sizeof p->error, "%s", error);
        return false;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *status = json_string_value(json_object_get(o, "status"));
    const json_t *pd = json_object_get(o, "progressDetail");
    struct layer *l = id != NULL && status != NULL ? find_layer(p, id) : NULL;
    if (l != NULL) {
        double cur = json_number_value(json_object_get(pd, "current"));
        double tot = json_number_value(json_object_get(pd, "total"));
        bool downloading = strcmp(status, "Downloading") == 0;
        if (downloading && tot > 0) {
            l->total = tot;
            l->current = cur < tot ? cur : tot;
        } else if (strcmp(status, "Download complete") == 0 ||
                   strcmp(status, "Pull complete") == 0 || strcmp(status, "Already exists") == 0 ||
                   strcmp(status, "Verifying Checksum") == 0 ||
                   strncmp(status, "Extracting", 10) == 0) {
            if (l->total <= 0) {
                l->total = 1;
            }
            l->current = l->total;
        }
    }
    double cur = 0;
    double tot = 0;
    for (size_t i = 0; i < p->nlayers; i++) {
        cur += p->layers[i].current;
        tot += p->layers[i].total;
    }
    int pct = tot > 0 ? (int)(cur * 100.0 / tot) : 0;
    if (p->cb != NULL && !p->cb(p->ctx, pct)) {
        p->aborted = true;
        return false;
    }
    return true;
}

iof_err agent_docker_pull(struct agent_docker *k,
                          const char *repo,
                          const char *tag,
                          const char *auth,
                          agent_docker_progress_cb cb,
                          void *ctx,
                          struct iof_diag *d) {
    char path[1600] = "/images/create?fromImage=";
    char url[MAX_URL];
    if (agent_docker_escape(repo, path, sizeof path) != IOF_OK || strlen(path) + 6 >= sizeof path ||
        (strcat(path, "&tag="), false) || agent_docker_escape(tag, path, sizeof path) != IOF_OK ||
        make_url(k, path, url, sizeof url) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "image reference too long");
    }
    char *header = NULL;
    if (auth != NULL) {
        size_t n = strlen(auth) + 20;
        header = malloc(n);
        if (header == NULL) {
            return IOF_ENOMEM;
        }
        snprintf(header, n, "X-Registry-Auth: %s", auth);
    }
    const char *headers[] = {header, NULL};
    struct pull_state *p = calloc(1, sizeof *p);
    if (p == NULL) {
        free(header);
        return IOF_ENOMEM;
    }
    p->cb = cb;
    p->ctx = ctx;
    struct line_reader r = {.on_line = on_pull_line, .ctx = p};
    iof_buf_init(&r.line, MAX_STREAM_LINE);
    long status = 0;
    iof_err err = iof_http_client_stream(
        k->http, "POST", url, header != NULL ? headers : NULL, NULL, 0, feed, &r, &status, d);
    free(header);
    if (err == IOF_OK && r.line.len > 0) {
        (void)feed(&r, "\n", 1); /* a last line without its newline (error bodies) */
    }
    iof_buf_free(&r.line);
    if (err == IOF_OK) {
        if (p->aborted) {
            err = iof_fail(d, IOF_EBUSY, "pull of %s:%s aborted", repo, tag);
        } else if (p->error[0] != '\0') {
            err = iof_fail(d, IOF_EREMOTE, "%s", p->error);
        } else if (status != 200) {
            err =
                iof_fail(d, IOF_EREMOTE, "pull of %s:%s failed with status %ld", repo, tag, status);
        }
    }
    free(p);
    return err;
}

const char *agent_docker_gw_source_name(enum agent_docker_gw_source src) {
    switch (src) {
        case AGENT_DOCKER_GW_IPAM: return "ipam";
        case AGENT_DOCKER_GW_INTERFACE: return "interface";
        case AGENT_DOCKER_GW_SUBNET: return "subnet";
    }
    return "?";
}

bool agent_docker_ifaddr(void *ctx, const char *ifname, char *buf, size_t len) {
    (void)ctx;
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) {
        return false;
    }
    bool found = false;
    for (const struct ifaddrs *i = list; i != NULL && !found; i = i->ifa_next) {
        if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET && i->ifa_name != NULL &&
            strcmp(i->ifa_name, ifname) == 0) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            found = inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len) != NULL;
        }
    }
    freeifaddrs(list);
    return found;
}

/* "a.b.c.d/n" -> its first host address (host order). false when it is not an IPv4 subnet. */
static bool first_host(const char *subnet, uint32_t *out) {
    const char *slash = subnet != NULL ? strchr(subnet, '/') : NULL;
    char addr[INET_ADDRSTRLEN];
    if (slash == NULL || (size_t)(slash - subnet) >= sizeof addr) {
        return false;
    }
    memcpy(addr, subnet, (size_t)(slash - subnet));
    addr[slash - subnet] = '\0';
    struct in_addr in;
    char *end = NULL;
    long prefix = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, addr, &in) != 1 || slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
        prefix < 0 || prefix > 32) {
        return false;
    }
    uint32_t ip = ntohl(in.s_addr);
    if (prefix >= 31) {
        *out = prefix == 32 ? ip : ip & 0xfffffffeu; /* no network/broadcast pair to skip */
        return true;
    }
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    *out = (ip & mask) + 1;
    return true;
}

iof_err agent_docker_gateway_of(const json_t *network,
                                agent_docker_ifaddr_fn ifaddr,
                                void *ifaddr_ctx,
                                char *buf,
                                size_t len,
                                enum agent_docker_gw_source *src,
                                struct iof_diag *d) {
    const json_t *cfg = json_object_get(json_object_get(network, "IPAM"), "Config");
    size_t i;
    const json_t *c;
    const char *gw = NULL;
    uint32_t host = 0;
    bool have_subnet = false;
    json_array_foreach(cfg, i, c) {
        const char *g = json_string_value(json_object_get(c, "Gateway"));
        struct in_addr probe;
        if (gw == NULL && g != NULL && inet_pton(AF_INET, g, &probe) == 1) {
            gw = g; /* the IPv4 one; an IPv6 gateway is skipped */
        }
        if (!have_subnet) {
            have_subnet = first_host(json_string_value(json_object_get(c, "Subnet")), &host);
        }
    }
    enum agent_docker_gw_source from = AGENT_DOCKER_GW_IPAM;
    char text[INET_ADDRSTRLEN] = "";
    if (gw != NULL) {
        snprintf(text, sizeof text, "%s", gw);
    } else {
        const char *ifname = json_string_value(
            json_object_get(json_object_get(network, "Options"), "com.docker.network.bridge.name"));
        if (ifname == NULL || ifname[0] == '\0') {
            ifname = "docker0"; /* the engine's default when the option is absent */
        }
        if (ifaddr != NULL && strlen(ifname) < IFNAMSIZ &&
            ifaddr(ifaddr_ctx, ifname, text, sizeof text)) {
            from = AGENT_DOCKER_GW_INTERFACE;
        } else if (have_subnet) {
            struct in_addr a = {.s_addr = htonl(host)};
            if (inet_ntop(AF_INET, &a, text, sizeof text) == NULL) {
                return iof_fail(d, IOF_EINTERNAL, "cannot format the subnet's first address");
            }
            from = AGENT_DOCKER_GW_SUBNET;
        } else {
            return iof_fail(d,
                            IOF_ENOENT,
                            "the bridge network has no IPv4 gateway, interface %s has no IPv4 "
                            "address and there is no IPv4 subnet",
                            ifname);
        }
    }
    if (strlen(text) >= len) {
        return iof_fail(d, IOF_E2BIG, "gateway address longer than its buffer");
    }
    snprintf(buf, len, "%s", text);
    if (src != NULL) {
        *src = from;
    }
    return IOF_OK;
}

iof_err
agent_docker_bridge_gateway(struct agent_docker *k, char *buf, size_t len, struct iof_diag *d) {
    long status = 0;
    json_t *v = NULL;
    iof_err err = agent_docker_call(k, "GET", "/networks/bridge", NULL, NULL, &status, &v, d);
    if (err != IOF_OK) {
        return err;
    }
    if (status != 200) {
        err = docker_error(status, v, "cannot inspect the bridge network", d);
        json_decref(v);
        return err;
    }
    enum agent_docker_gw_source src = AGENT_DOCKER_GW_IPAM;
    err = agent_docker_gateway_of(v, agent_docker_ifaddr, NULL, buf, len, &src, d);
    if (err == IOF_OK) {
        const char *ifname = json_string_value(
            json_object_get(json_object_get(v, "Options"), "com.docker.network.bridge.name"));
        IOF_INFO("engine",
                 "bridge_gateway address=%s source=%s interface=%s",
                 buf,
                 agent_docker_gw_source_name(src),
                 ifname != NULL && ifname[0] != '\0' ? ifname : "docker0");
    }
    json_decref(v);
    return err;
}

struct event_state {
    agent_docker_event_cb cb;
    void *ctx;
};

static bool on_event_line(void *ctx, const json_t *o) {
    struct event_state *s = ctx;
    return s->cb(s->ctx, o);
}

iof_err agent_docker_events(struct agent_docker *k,
                            const char *agent_uuid,
                            const char *since,
                            const char *until,
                            agent_docker_event_cb cb,
                            void *ctx,
                            struct iof_diag *d) {
    char filter[512];
    char path[1600] = "/events?since=";
    char url[MAX_URL];
    if (label_filter(agent_uuid, true, filter, sizeof filter) != IOF_OK ||
        agent_docker_escape(since, path, sizeof path) != IOF_OK ||
        strlen(path) + 8 >= sizeof path || (strcat(path, "&until="), false) ||
        agent_docker_escape(until, path, sizeof path) != IOF_OK ||
        strlen(path) + 10 >= sizeof path || (strcat(path, "&filters="), false) ||
        agent_docker_escape(filter, path, sizeof path) != IOF_OK ||
        make_url(k, path, url, sizeof url) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "events URL too long");
    }
    struct event_state s = {.cb = cb, .ctx = ctx};
    struct line_reader r = {.on_line = on_event_line, .ctx = &s};
    iof_buf_init(&r.line, MAX_STREAM_LINE);
    long status = 0;
    iof_err err = iof_http_client_stream(k->http, "GET", url, NULL, NULL, 0, feed, &r, &status, d);
    iof_buf_free(&r.line);
    if (err == IOF_OK && status != 200) {
        err = iof_fail(d, IOF_EREMOTE, "events stream answered with status %ld", status);
    }
    return err;
}

/* Passes the body through, unless the answer is an error (then it is kept for the message). */
struct logs_state {
    struct iof_http_client *client;
    agent_docker_bytes_cb cb;
    void *ctx;
    char err_body[512];
    size_t err_len;
    bool first_checked, is_error;
};

static bool on_log_bytes(void *ctx, const char *data, size_t len) {
    struct logs_state *s = ctx;
    if (!s->first_checked) {
        s->first_checked = true;
        long status = iof_http_client_response_status(s->client);
        s->is_error = status != 200;
    }
    if (s->is_error) {
        size_t take =
            len < sizeof s->err_body - 1 - s->err_len ? len : sizeof s->err_body - 1 - s->err_len;
        memcpy(s->err_body + s->err_len, data, take);
        s->err_len += take;
        s->err_body[s->err_len] = '\0';
        return true;
    }
    return s->cb(s->ctx, data, len);
}

iof_err agent_docker_logs(struct agent_docker *k,
                          const char *container,
                          long tail,
                          int64_t since_s,
                          bool follow,
                          agent_docker_bytes_cb cb,
                          void *ctx,
                          struct iof_diag *d) {
    char name[300] = "", path[600], url[MAX_URL], tail_text[24];
    if (tail < 0) {
        (void)snprintf(tail_text, sizeof tail_text, "all");
    } else {
        (void)snprintf(tail_text, sizeof tail_text, "%ld", tail);
    }
    if (agent_docker_escape(container, name, sizeof name) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "container name too long");
    }
    int n = snprintf(path,
                     sizeof path,
                     "/containers/%s/logs?stdout=1&stderr=1&timestamps=1&tail=%s&since=%lld%s",
                     name,
                     tail_text,
                     (long long)since_s,
                     follow ? "&follow=1" : "");
    if (n < 0 || (size_t)n >= sizeof path || make_url(k, path, url, sizeof url) != IOF_OK) {
        return iof_fail(d, IOF_E2BIG, "logs URL too long");
    }
    struct logs_state s = {.client = k->http, .cb = cb, .ctx = ctx};
    long status = 0;
    iof_err err =
        iof_http_client_stream(k->http, "GET", url, NULL, NULL, 0, on_log_bytes, &s, &status, d);
    if (err == IOF_OK && status != 200) {
        json_t *body = json_loads(s.err_body, 0, NULL);
        err = docker_error(status, body, "logs", d);
        json_decref(body);
    }
    return err;
}
