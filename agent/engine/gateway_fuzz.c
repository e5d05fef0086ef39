/* libFuzzer target: bridge network inspections (GET /networks/bridge) through the gateway lookup,
 * with a fake interface table. Whatever it finds must be a dotted quad that fits its buffer.
 * Seeds: agent/fuzz-corpus/gateway. */
#include "agent/engine/docker.h"
#include "common/json.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* docker0 has an address, every other interface has none. */
static bool fake_ifaddr(void *ctx, const char *ifname, char *buf, size_t len) {
    (void)ctx;
    if (strcmp(ifname, "docker0") != 0 || len < 11) {
        return false;
    }
    memcpy(buf, "172.17.0.1", 11);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *v = NULL;
    if (iof_json_parse((const char *)data, size, &v, NULL) != IOF_OK) {
        return 0;
    }
    char gw[16];
    enum agent_docker_gw_source src;
    for (int i = 0; i < 2; i++) {
        memset(gw, 'x', sizeof gw);
        iof_err err = agent_docker_gateway_of(
            v, i == 0 ? fake_ifaddr : NULL, NULL, gw, sizeof gw, &src, NULL);
        struct in_addr probe;
        if (err == IOF_OK &&
            (memchr(gw, '\0', sizeof gw) == NULL || inet_pton(AF_INET, gw, &probe) != 1 ||
             src > AGENT_DOCKER_GW_SUBNET)) {
            abort();
        }
    }
    json_decref(v);
    return 0;
}
