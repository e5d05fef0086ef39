/* Checksummed cache files in the classic layout; see cache.h. */
#include "agent/cache.h"

#include "agent/config.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/json.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAX_BYTES (16u << 20)

static iof_err checksum(const char *text, char hex[41], struct iof_diag *d) {
    size_t n = strlen(text);
    size_t b64_len = iof_base64_encoded_len(n) + 1;
    char *b64 = malloc(b64_len);
    if (b64 == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    if (iof_base64_encode((const uint8_t *)text, n, b64, b64_len) != IOF_OK) {
        free(b64);
        return iof_fail(d, IOF_EINTERNAL, "base64 failed");
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int ok = EVP_Digest(b64, strlen(b64), md, &md_len, EVP_sha1(), NULL);
    free(b64);
    if (ok != 1 || md_len != 20) {
        return iof_fail(d, IOF_EINTERNAL, "SHA-1 failed");
    }
    for (unsigned i = 0; i < md_len; i++) {
        (void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return IOF_OK;
}

static void cache_path(const char *config_dir, const char *name, char *out, size_t n) {
    (void)snprintf(out, n, "%s/cache/%s.json", config_dir, name);
}

iof_err
agent_cache_write(const char *config_dir, const char *name, json_t *data, struct iof_diag *d) {
    char dir[700], path[800], hex[41];
    (void)snprintf(dir, sizeof dir, "%s/cache", config_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return iof_fail(d, IOF_EIO, "cannot create %s: %s", dir, strerror(errno));
    }
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (text == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    iof_err err = checksum(text, hex, d);
    json_t *doc = NULL;
    if (err == IOF_OK) {
        doc = json_pack(
            "{sssIsO}", "checksum", hex, "timestamp", (json_int_t)iof_time_now_ms(), "data", data);
        if (doc == NULL) {
            err = iof_fail(d, IOF_ENOMEM, "out of memory");
        }
    }
    free(text);
    if (err != IOF_OK) {
        return err;
    }
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (out == NULL) {
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    cache_path(config_dir, name, path, sizeof path);
    err = agent_write_file_atomic(path, out, strlen(out), 0600, d);
    free(out);
    return err;
}

iof_err
agent_cache_read(const char *config_dir, const char *name, json_t **out, struct iof_diag *d) {
    char path[800];
    cache_path(config_dir, name, path, sizeof path);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return iof_fail(d, IOF_ENOENT, "no cache %s", path);
    }
    char *buf = malloc(CACHE_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return iof_fail(d, IOF_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, CACHE_MAX_BYTES, f);
    bool big = !feof(f);
    fclose(f);
    json_t *doc = NULL;
    iof_err err = IOF_OK;
    if (big) {
        err = iof_fail(d, IOF_EPROTO, "%s is larger than the cache limit", path);
    } else {
        buf[n] = '\0';
        if (iof_json_parse_object(buf, n, &doc, NULL) != IOF_OK) {
            err = iof_fail(d, IOF_EPROTO, "%s is not valid JSON", path);
        }
    }
    free(buf);
    if (err != IOF_OK) {
        return err;
    }
    const char *sum = json_string_value(json_object_get(doc, "checksum"));
    json_t *data = json_object_get(doc, "data");
    char *text =
        data != NULL ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
    char hex[41];
    if (sum == NULL || text == NULL || checksum(text, hex, d) != IOF_OK || strcmp(hex, sum) != 0) {
        err = iof_fail(d, IOF_EPROTO, "%s: checksum does not match", path);
    } else {
        *out = json_incref(data);
    }
    free(text);
    json_decref(doc);
    return err;
}

iof_err agent_cache_remove(const char *config_dir, const char *name) {
    char path[800];
    cache_path(config_dir, name, path, sizeof path);
    return unlink(path) == 0 || errno == ENOENT ? IOF_OK : IOF_EIO;
}
