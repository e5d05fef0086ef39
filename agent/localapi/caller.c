/* Who is calling the Local API (localapi.h "Callers", docs/security.md): the source address of
 * the connection decides which microservice a request may act as. */
#include "agent/localapi/internal.h"

#include "common/clock.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF_REFRESH_MS 1000
#define SELF_MAX        256

static bool loopback(const char *addr) {
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strncmp(addr, "::ffff:127.", 11) == 0;
}

/* Refreshes the node's own interface addresses. Caller holds self_mu. */
static void self_refresh_locked(struct agent_localapi *api) {
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        return; /* keep what we had */
    }
    char(*tab)[48] = calloc(SELF_MAX, sizeof *tab);
    size_t n = 0;
    for (struct ifaddrs *i = ifs; tab != NULL && i != NULL && n < SELF_MAX; i = i->ifa_next) {
        const struct sockaddr *sa = i->ifa_addr;
        if (sa == NULL) {
            continue;
        }
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
            n += inet_ntop(AF_INET, &in->sin_addr, tab[n], sizeof tab[n]) != NULL;
        } else if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
            n += inet_ntop(AF_INET6, &in6->sin6_addr, tab[n], sizeof tab[n]) != NULL;
        }
    }
    freeifaddrs(ifs);
    if (tab != NULL) {
        free(api->self_addrs);
        api->self_addrs = tab;
        api->nself = n;
    }
    api->self_ms = iof_time_mono_ms();
}

/* True when addr is the node itself: loopback or one of its interfaces' addresses (a process of
 * the node, or a host-network container, that connected to another of its addresses). */
static bool node_itself(struct agent_localapi *api, const char *addr) {
    if (loopback(addr)) {
        return true;
    }
    pthread_mutex_lock(&api->self_mu);
    if (api->self_addrs == NULL || iof_time_mono_ms() - api->self_ms >= SELF_REFRESH_MS) {
        self_refresh_locked(api);
    }
    bool found = false;
    for (size_t i = 0; i < api->nself && !found; i++) {
        found = strcmp(api->self_addrs[i], addr) == 0;
    }
    pthread_mutex_unlock(&api->self_mu);
    return found;
}

static bool refuse(struct iof_http_request *req, iof_err *ret, const char *text) {
    (void)!iof_http_set_header(req, "Connection", "close");
    *ret = iof_http_respond(req, 403, "text/plain", text, strlen(text));
    return false;
}

bool agent_localapi_caller_ok(struct agent_localapi *api,
                              struct iof_http_request *req,
                              const char *id,
                              bool *bound,
                              iof_err *ret) {
    const char *addr = iof_http_remote_addr(req);
    char q[300];
    if (bound != NULL) {
        *bound = true;
    }
    if (addr != NULL && addr[0] != '\0' && node_itself(api, addr)) {
        if (!api->strict_callers) {
            if (bound != NULL) {
                *bound = false; /* the classic trust: the node may act as any id */
            }
            return true;
        }
        if (id != NULL && api->hooks.host_network != NULL &&
            api->hooks.host_network(api->hooks.ctx, id)) {
            return true;
        }
        IOF_WARN("localapi",
                 "caller_refused remote=%s id=%s reason=strict",
                 addr,
                 iof_log_quote(q, sizeof q, id != NULL ? id : "-"));
        return refuse(req,
                      ret,
                      "Forbidden: localApiStrict is on and this id is not a host-network "
                      "microservice of this node");
    }
    char owner[256] = "";
    bool known = addr != NULL && addr[0] != '\0' && api->hooks.caller != NULL &&
                 api->hooks.caller(api->hooks.ctx, addr, owner, sizeof owner) == IOF_OK;
    if (!known) {
        IOF_WARN("localapi",
                 "caller_refused remote=%s id=%s reason=unknown_address",
                 addr != NULL ? addr : "-",
                 iof_log_quote(q, sizeof q, id != NULL ? id : "-"));
        return refuse(req, ret, "Forbidden: the caller is not a microservice of this node");
    }
    if (id != NULL && strcmp(owner, id) != 0) {
        IOF_WARN("localapi",
                 "caller_refused remote=%s id=%s owner=%s reason=other_microservice",
                 addr,
                 iof_log_quote(q, sizeof q, id),
                 owner);
        return refuse(req, ret, "Forbidden: the caller is not the microservice it names");
    }
    return true;
}
