/* Per-node NATS credentials and the nats-server authorization file (nats_auth.h). */
#include "controller/domain/nats_auth.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "controller/store/db_json.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* bcrypt's lowest cost. The passwords are 40 random letters and digits (238 bits), so a higher
 * cost would not make guessing any harder; it would only slow nats-server, which checks every
 * connection's password again on each reload. The hash keeps the secret out of the database and
 * the authorization file. */
#define BCRYPT_COST      4
#define REBUILD_EVERY_MS 1000
/* A kick waits this long for more changes of the same moment before rebuilding. */
#define COALESCE_MS 20
#define UUID_MAX    128

struct ctl_nats_auth {
    struct ctl_server *srv;
    char placeholder_hash[128];
    char *last; /* text last written */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool kicked, stopping;
};

static iof_err bcrypt_hash(const char *password, char *out, size_t size, struct iof_diag *d) {
    char salt_bytes[16 + 1]; /* 16 random bytes for crypt_gensalt (the NUL is not used) */
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (iof_random_string(salt_bytes, 16, IOF_ALPHABET_ALNUM) != IOF_OK ||
        crypt_gensalt_rn("$2b$", BCRYPT_COST, salt_bytes, 16, setting, sizeof setting) == NULL) {
        return iof_fail(d, IOF_EINTERNAL, "cannot make a bcrypt salt");
    }
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (cd == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    const char *h = crypt_r(password, setting, cd);
    iof_err err = IOF_OK;
    if (h == NULL || h[0] != '$' || strlen(h) >= size) {
        err = iof_fail(d, IOF_EINTERNAL, "bcrypt failed");
    } else {
        memcpy(out, h, strlen(h) + 1);
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return err;
}

iof_err ctl_nats_credential_issue(struct ctl_db *db,
                                  const char *fog_uuid,
                                  char *password,
                                  struct iof_diag *d) {
    char hash[128];
    iof_err err = iof_random_string(password, CTL_NATS_PASSWORD_LEN, IOF_ALPHABET_ALNUM);
    if (err != IOF_OK) {
        return iof_fail(d, err, "no randomness");
    }
    if ((err = bcrypt_hash(password, hash, sizeof hash, d)) != IOF_OK) {
        return err;
    }
    const struct ctl_db_value p[] = {CTL_DB_TEXT(fog_uuid), CTL_DB_TEXT(hash)};
    return ctl_db_exec(
        db,
        "INSERT INTO fog_nats_credentials (fog_uuid, password_hash) VALUES (?, ?)"
        " ON CONFLICT (fog_uuid) DO UPDATE SET password_hash = excluded.password_hash",
        p,
        2,
        NULL,
        NULL,
        NULL,
        d);
}

iof_err ctl_nats_credential_revoke(struct ctl_db *db, const char *fog_uuid, struct iof_diag *d) {
    const struct ctl_db_value p[] = {CTL_DB_TEXT(fog_uuid)};
    return ctl_db_exec(
        db, "DELETE FROM fog_nats_credentials WHERE fog_uuid = ?", p, 1, NULL, NULL, NULL, d);
}

/* ---- the file's text ---- */

/* Each row: the node ("fog"), the receiver's application id ("app") and uuid ("uuid"). */
static const char SQL_USERS[] =
    "SELECT fog_uuid AS fog, password_hash AS hash FROM fog_nats_credentials ORDER BY fog_uuid";
/* Subscribe: the receivers a node hosts. A microservice being deleted (its row stays until its
 * Agent has removed it) neither sends nor receives any more. */
static const char SQL_SUB[] =
    "SELECT DISTINCT m.fog_uuid AS fog, m.application_id AS app, m.uuid AS uuid"
    " FROM microservices m WHERE m.fog_uuid IS NOT NULL AND m.marked_for_delete = 0 AND EXISTS"
    " (SELECT 1 FROM routings r WHERE r.dest_microservice_uuid = m.uuid)"
    " ORDER BY fog, uuid";
/* Publish: the receivers a node's microservices are routed to. */
static const char SQL_PUB[] =
    "SELECT DISTINCT s.fog_uuid AS fog, d.application_id AS app, d.uuid AS uuid"
    " FROM routings r JOIN microservices s ON s.uuid = r.source_microservice_uuid"
    " JOIN microservices d ON d.uuid = r.dest_microservice_uuid WHERE s.fog_uuid IS NOT NULL"
    " AND s.marked_for_delete = 0 AND d.marked_for_delete = 0"
    " ORDER BY fog, uuid";

/* The subject the Agent uses for a receiver (agent/nats/nats_transport.h): iofog.<app>.<uuid>,
 * where the application token is the application id (digits, kept as they are). False for a
 * uuid no Agent could subscribe to. */
static bool subject_of(const json_t *row, char *out, size_t size) {
    const char *uuid = json_string_value(json_object_get(row, "uuid"));
    const json_t *app = json_object_get(row, "app");
    size_t n = uuid != NULL ? strlen(uuid) : 0;
    if (n == 0 || n > UUID_MAX || !json_is_integer(app)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = uuid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    int w = snprintf(out, size, "iofog.%lld.%s", (long long)json_integer_value(app), uuid);
    return w > 0 && (size_t)w < size;
}

/* {"allow": [subjects of fog]} or, for none, {"deny": [">"]} (an empty allow list would allow
 * everything). */
static json_t *permission(const json_t *rows, const char *fog) {
    json_t *allow = json_array();
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        const char *f = json_string_value(json_object_get(row, "fog"));
        char subject[UUID_MAX + 48];
        if (f != NULL && strcmp(f, fog) == 0 && subject_of(row, subject, sizeof subject)) {
            json_array_append_new(allow, json_string(subject));
        }
    }
    if (json_array_size(allow) == 0) {
        json_decref(allow);
        return json_pack("{s:[s]}", "deny", ">");
    }
    return json_pack("{s:o}", "allow", allow);
}

static json_t *locked_user(const char *name, const char *hash) {
    return json_pack("{s:s, s:s, s:{s:{s:[s]}, s:{s:[s]}}}",
                     "user",
                     name,
                     "password",
                     hash,
                     "permissions",
                     "publish",
                     "deny",
                     ">",
                     "subscribe",
                     "deny",
                     ">");
}

iof_err ctl_nats_auth_render(struct ctl_db *db,
                             const char *placeholder_hash,
                             char **out,
                             struct iof_diag *d) {
    json_t *users = NULL, *subs = NULL, *pubs = NULL;
    iof_err err = ctl_db_query_json(db, SQL_USERS, NULL, 0, &users, d);
    if (err == IOF_OK) {
        err = ctl_db_query_json(db, SQL_SUB, NULL, 0, &subs, d);
    }
    if (err == IOF_OK) {
        err = ctl_db_query_json(db, SQL_PUB, NULL, 0, &pubs, d);
    }
    json_t *list = json_array();
    if (err == IOF_OK) {
        json_array_append_new(list, locked_user("_iofog_locked", placeholder_hash));
        size_t i;
        const json_t *u;
        json_array_foreach(users, i, u) {
            const char *fog = json_string_value(json_object_get(u, "fog"));
            const char *hash = json_string_value(json_object_get(u, "hash"));
            if (fog == NULL || hash == NULL) {
                continue;
            }
            json_array_append_new(list,
                                  json_pack("{s:s, s:s, s:{s:o, s:o}}",
                                            "user",
                                            fog,
                                            "password",
                                            hash,
                                            "permissions",
                                            "publish",
                                            permission(pubs, fog),
                                            "subscribe",
                                            permission(subs, fog)));
        }
    }
    json_decref(users);
    json_decref(subs);
    json_decref(pubs);
    if (err != IOF_OK) {
        json_decref(list);
        return err;
    }
    /* nats-server's configuration syntax takes JSON values: one user per line keeps diffs and
     * logs readable. */
    size_t cap = 256, len = 0;
    char *text = malloc(cap);
    static const char head[] =
        "# Written by iofog-controller: one user per node (docs/design/nats-security.md).\n"
        "# Replaced on every change; edits are lost.\n"
        "authorization {\n  users = [\n";
    bool ok = text != NULL;
    if (ok) {
        memcpy(text, head, sizeof head);
        len = sizeof head - 1;
    }
    size_t i;
    const json_t *u;
    json_array_foreach(list, i, u) {
        char *line = ok ? json_dumps(u, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        ok = line != NULL;
        size_t need = ok ? len + strlen(line) + 8 : 0;
        if (ok && need > cap) {
            cap = need * 2;
            char *grown = realloc(text, cap);
            ok = grown != NULL;
            text = ok ? grown : text;
        }
        if (ok) {
            len += (size_t)sprintf(text + len, "    %s\n", line);
        }
        free(line);
    }
    json_decref(list);
    if (ok && len + 8 > cap) {
        char *grown = realloc(text, len + 8);
        ok = grown != NULL;
        text = ok ? grown : text;
    }
    if (!ok) {
        free(text);
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    memcpy(text + len, "  ]\n}\n", 7);
    *out = text;
    return IOF_OK;
}

/* ---- writing and reloading ---- */

static iof_err write_atomic(const char *path, const char *text, struct iof_diag *d) {
    char tmp[1100];
    (void)snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return iof_fail(d, IOF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    size_t left = strlen(text);
    const char *p = text;
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
    if (fchmod(fd, 0600) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        (void)unlink(tmp);
        return iof_fail(d, IOF_EIO, "cannot replace %s: %s", path, strerror(e));
    }
    return IOF_OK;
}

/* SIGHUP to the pid in the pid file: nats-server's configuration reload. */
static void signal_reload(const char *pid_file) {
    if (pid_file[0] == '\0') {
        return;
    }
    FILE *f = fopen(pid_file, "re");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        fclose(f);
    }
    if (pid <= 1) {
        IOF_WARN("controller", "nats_reload_skipped pid_file=%s reason=\"no pid\"", pid_file);
        return;
    }
    if (kill((pid_t)pid, SIGHUP) != 0) {
        IOF_WARN("controller", "nats_reload_failed pid=%ld reason=\"%s\"", pid, strerror(errno));
    }
}

/* Rebuilds the text; writes it and signals nats-server when it changed. */
static iof_err refresh(struct ctl_nats_auth *a, struct iof_diag *d) {
    char *text = NULL;
    iof_err err = ctl_nats_auth_render(ctl_store_db(a->srv->store), a->placeholder_hash, &text, d);
    if (err != IOF_OK) {
        return err;
    }
    if (a->last != NULL && strcmp(a->last, text) == 0) {
        free(text);
        return IOF_OK;
    }
    if ((err = write_atomic(a->srv->cfg.nats_auth_file, text, d)) != IOF_OK) {
        free(text);
        return err;
    }
    free(a->last);
    a->last = text;
    signal_reload(a->srv->cfg.nats_pid_file);
    IOF_INFO("controller", "nats_auth_written file=%s", a->srv->cfg.nats_auth_file);
    return IOF_OK;
}

static void *run(void *arg) {
    struct ctl_nats_auth *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        if (!a->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += REBUILD_EVERY_MS / 1000;
            (void)pthread_cond_timedwait(&a->cond, &a->mu, &ts);
        }
        if (a->stopping) {
            break;
        }
        bool kicked = a->kicked;
        a->kicked = false;
        pthread_mutex_unlock(&a->mu);
        if (kicked) {
            nanosleep(&(struct timespec){.tv_nsec = COALESCE_MS * 1000000L}, NULL);
        }
        struct iof_diag d = {{0}};
        iof_err err = refresh(a, &d);
        if (err != IOF_OK) {
            IOF_WARN("controller", "nats_auth_failed error=%s", iof_diag_text(&d, err));
        }
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

iof_err
ctl_nats_auth_start(struct ctl_server *srv, struct ctl_nats_auth **out, struct iof_diag *d) {
    *out = NULL;
    if (srv->cfg.nats_auth_file[0] == '\0') {
        return IOF_OK;
    }
    struct ctl_nats_auth *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    a->srv = srv;
    /* The placeholder's password is never known to anyone: it exists so that the users list is
     * never empty (nats-server would then ask for no credentials at all). */
    char secret[CTL_NATS_PASSWORD_LEN + 1] = {0};
    iof_err err = iof_random_string(secret, CTL_NATS_PASSWORD_LEN, IOF_ALPHABET_ALNUM);
    if (err == IOF_OK) {
        err = bcrypt_hash(secret, a->placeholder_hash, sizeof a->placeholder_hash, d);
    }
    explicit_bzero(secret, sizeof secret);
    if (err == IOF_OK) {
        err = refresh(a, d);
    }
    if (err != IOF_OK) {
        free(a);
        return err;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        pthread_cond_destroy(&a->cond);
        pthread_mutex_destroy(&a->mu);
        free(a->last);
        free(a);
        return iof_fail(d, IOF_ENOMEM, "cannot start the NATS authorization thread");
    }
    *out = a;
    return IOF_OK;
}

void ctl_nats_auth_kick(struct ctl_nats_auth *a) {
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->kicked = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mu);
}

void ctl_nats_auth_stop(struct ctl_nats_auth *a) {
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->mu);
    free(a->last);
    free(a);
}
