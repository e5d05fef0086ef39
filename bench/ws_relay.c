/* Relay for the messaging benchmark (not a test), driven by bench/messaging.sh and
 * bench/bus_bench.c.
 *
 * --mode raw (the baseline): a WebSocket relay that does nothing but forward. It serves
 * /v2/message/socket/id/<id> on the same HTTP server and WebSocket hub the Agent uses; a binary
 * message from <id> is forwarded unchanged to every connected receiver of <id>'s route and
 * answered with a receipt-sized frame (0x0E, fixed id and timestamp), so the publisher sees the
 * same frames as from the Agent. No decoding, no ids, no archive, no queues, no ACK tracking.
 * --mode bus: the Agent's Local API module itself (agent/localapi) on that server, with the same
 * routes and an archive under --data-dir, in this process: what `perf record` profiles without a
 * Controller or Docker.
 *
 * Routes: --route SRC=DST[,DST...] (repeatable). Prints the port on stdout and runs until stdin
 * closes. */
#include "agent/localapi/localapi.h"
#include "common/json.h"
#include "http/server.h"
#include "iomessage/iomessage.h"
#include "ws/hub.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS   64
#define MAX_ROUTE 16

struct rid {
    char name[64];
    uint64_t conn; /* 0: not connected */
    int nto;
    int to[MAX_ROUTE];
};

struct relay {
    struct iof_ws_hub *hub;
    pthread_mutex_t mu;
    struct rid ids[MAX_IDS];
    int nids;
    uint8_t receipt[64];
    size_t receipt_len;
};

static struct relay R;

static int id_index(const char *name, bool add) {
    for (int i = 0; i < R.nids; i++) {
        if (strcmp(R.ids[i].name, name) == 0) {
            return i;
        }
    }
    if (!add || R.nids == MAX_IDS) {
        return -1;
    }
    (void)snprintf(R.ids[R.nids].name, sizeof R.ids[R.nids].name, "%s", name);
    return R.nids++;
}

static void on_open(void *ctx, uint64_t conn) {
    pthread_mutex_lock(&R.mu);
    R.ids[(intptr_t)ctx].conn = conn;
    pthread_mutex_unlock(&R.mu);
}

static void on_close(void *ctx, uint64_t conn, uint16_t status) {
    (void)status;
    pthread_mutex_lock(&R.mu);
    if (R.ids[(intptr_t)ctx].conn == conn) {
        R.ids[(intptr_t)ctx].conn = 0;
    }
    pthread_mutex_unlock(&R.mu);
}

static void
on_message(void *ctx, uint64_t conn, enum iof_ws_opcode op, const uint8_t *data, size_t len) {
    if (op != IOF_WS_BINARY || len == 0 || data[0] != IOF_MSG_OP_MESSAGE) {
        return; /* ACKs and the rest */
    }
    struct rid *r = &R.ids[(intptr_t)ctx];
    uint64_t to[MAX_ROUTE];
    int n = 0;
    pthread_mutex_lock(&R.mu);
    for (int i = 0; i < r->nto; i++) {
        if (R.ids[r->to[i]].conn != 0) {
            to[n++] = R.ids[r->to[i]].conn;
        }
    }
    pthread_mutex_unlock(&R.mu);
    for (int i = 0; i < n; i++) {
        (void)!iof_ws_send(R.hub, to[i], IOF_WS_BINARY, data, len);
    }
    (void)!iof_ws_send(R.hub, conn, IOF_WS_BINARY, R.receipt, R.receipt_len);
}

static const struct iof_ws_handlers handlers = {
    .on_open = on_open, .on_message = on_message, .on_close = on_close};

static iof_err socket_route(struct iof_http_request *req, struct iof_diag *d, void *ctx) {
    (void)ctx;
    pthread_mutex_lock(&R.mu);
    int i = id_index(iof_http_param(req, "id"), true);
    pthread_mutex_unlock(&R.mu);
    if (i < 0) {
        return IOF_ENOENT;
    }
    iof_err err = iof_ws_hub_accept(R.hub, req, &handlers, (void *)(intptr_t)i, d);
    return err == IOF_EINVAL || err == IOF_EUNSUPPORTED ? IOF_OK : err;
}

int main(int argc, char **argv) {
    const char *mode = "raw", *data_dir = NULL;
    json_t *msvcs = json_array();
    static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
                                         {"route", required_argument, NULL, 'r'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    pthread_mutex_init(&R.mu, NULL);
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'm') {
            mode = optarg;
        } else if (o == 'd') {
            data_dir = optarg;
        } else if (o == 'r') {
            char *eq = strchr(optarg, '=');
            if (eq == NULL) {
                return 2;
            }
            *eq = '\0';
            int src = id_index(optarg, true);
            json_t *routes = json_array();
            for (char *save = NULL, *t = strtok_r(eq + 1, ",", &save); t != NULL;
                 t = strtok_r(NULL, ",", &save)) {
                int dst = id_index(t, true);
                if (src < 0 || dst < 0 || R.ids[src].nto == MAX_ROUTE) {
                    return 2;
                }
                R.ids[src].to[R.ids[src].nto++] = dst;
                (void)json_array_append_new(routes, json_string(t));
            }
            (void)json_array_append_new(
                msvcs,
                json_pack("{s:s, s:s, s:o}", "uuid", optarg, "config", "{}", "routes", routes));
        } else {
            return 2;
        }
    }
    for (int i = 0; i < R.nids; i++) { /* receivers without routes of their own */
        bool listed = false;
        size_t k;
        json_t *v;
        json_array_foreach(msvcs, k, v) {
            listed =
                listed || strcmp(json_string_value(json_object_get(v, "uuid")), R.ids[i].name) == 0;
        }
        if (!listed) {
            (void)json_array_append_new(msvcs,
                                        json_pack("{s:s, s:s, s:[], s:b}",
                                                  "uuid",
                                                  R.ids[i].name,
                                                  "config",
                                                  "{}",
                                                  "routes",
                                                  "isConsumer",
                                                  1));
        }
    }
    struct iof_http_config hc = {.bind_addr = "127.0.0.1"};
    struct iof_http_server *srv = NULL;
    struct agent_localapi *api = NULL;
    if (iof_http_server_new(&hc, &srv) != IOF_OK) {
        return 1;
    }
    if (strcmp(mode, "bus") == 0) {
        struct agent_localapi_config cfg = {.data_dir = data_dir};
        if (agent_localapi_new(&cfg, &api) != IOF_OK ||
            agent_localapi_register(api, srv) != IOF_OK ||
            agent_localapi_set_microservices(api, msvcs) != IOF_OK) {
            fprintf(stderr, "ws-relay: Local API set-up failed\n");
            return 1;
        }
    } else {
        struct iof_ws_hub_config wc = {0};
        if (iof_ws_hub_new(&wc, &R.hub) != IOF_OK ||
            iof_http_server_route(srv, "GET", "/v2/message/socket/id/:id", socket_route, NULL) !=
                IOF_OK ||
            iof_msg_receipt_encode("00000000000000000000000000000000",
                                   1,
                                   R.receipt,
                                   sizeof R.receipt,
                                   &R.receipt_len) != IOF_OK) {
            return 1;
        }
    }
    json_decref(msvcs);
    if (iof_http_server_start(srv) != IOF_OK) {
        return 1;
    }
    printf("%u\n", (unsigned)iof_http_server_port(srv));
    fflush(stdout);
    char buf[64];
    while (fread(buf, 1, sizeof buf, stdin) > 0) {
    }
    if (api != NULL) {
        agent_localapi_stop(api);
    } else {
        iof_ws_hub_stop(R.hub);
    }
    iof_http_server_free(srv);
    agent_localapi_free(api);
    iof_ws_hub_free(R.hub);
    return 0;
}
