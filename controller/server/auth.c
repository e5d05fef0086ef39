/* Password hashing, token digests and the admin credential file. */
#include "controller/server/auth.h"

#include "common/random.h"

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane. */
#define PW_T_COST  2
#define PW_M_COST  (19 * 1024)
#define PW_LANES   1
#define PW_SALT    16
#define PW_HASHLEN 32

iof_err ctl_password_hash(const char *password, char out[CTL_PASSWORD_HASH_MAX]) {
    if (password == NULL || *password == '\0') {
        return IOF_EINVAL;
    }
    uint8_t salt[PW_SALT];
    iof_err err = iof_random_bytes(salt, sizeof salt);
    if (err != IOF_OK) {
        return err;
    }
    int rc = argon2id_hash_encoded(PW_T_COST,
                                   PW_M_COST,
                                   PW_LANES,
                                   password,
                                   strlen(password),
                                   salt,
                                   sizeof salt,
                                   PW_HASHLEN,
                                   out,
                                   CTL_PASSWORD_HASH_MAX);
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
        return IOF_ENOMEM;
    }
    return rc == ARGON2_OK ? IOF_OK : IOF_EINTERNAL;
}

bool ctl_password_verify(const char *encoded, const char *password) {
    if (encoded == NULL || password == NULL) {
        return false;
    }
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

void ctl_token_hash(const char *token, char out[CTL_TOKEN_HASH_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        /* Cannot happen with a working libcrypto; a hash no token has keeps lookups failing. */
        memset(out, 'x', CTL_TOKEN_HASH_LEN);
        out[CTL_TOKEN_HASH_LEN] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CTL_TOKEN_HASH_LEN] = '\0';
}

iof_err ctl_token_new(char out[CTL_USER_TOKEN_LEN + 1]) {
    return iof_random_string(out, CTL_USER_TOKEN_LEN, IOF_ALPHABET_HEX);
}

const char *ctl_auth_header_token(const char *header, size_t *len) {
    if (header == NULL) {
        return NULL;
    }
    while (*header == ' ' || *header == '\t') {
        header++;
    }
    if (strncasecmp(header, "Bearer ", 7) == 0) {
        header += 7;
        while (*header == ' ') {
            header++;
        }
    }
    size_t n = strlen(header);
    while (n > 0 && (header[n - 1] == ' ' || header[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    *len = n;
    return header;
}

static iof_err admin_path(const char *data_dir, char *path, size_t size, struct iof_diag *d) {
    int n = snprintf(path, size, "%s/admin-token", data_dir);
    if (n < 0 || (size_t)n >= size) {
        return iof_fail(d, IOF_EINVAL, "data directory path too long");
    }
    return IOF_OK;
}

iof_err
ctl_admin_token_read(const char *data_dir, char out[CTL_USER_TOKEN_LEN + 1], struct iof_diag *d) {
    char path[4096];
    iof_err err = admin_path(data_dir, path, sizeof path, d);
    if (err != IOF_OK) {
        return err;
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return iof_fail(
            d, errno == ENOENT ? IOF_ENOENT : IOF_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    char line[CTL_USER_TOKEN_LEN + 4];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[ok ? strcspn(line, "\r\n") : 0] = '\0';
    if (strlen(line) != CTL_USER_TOKEN_LEN ||
        strspn(line, IOF_ALPHABET_HEX) != CTL_USER_TOKEN_LEN) {
        return iof_fail(d, IOF_EINVAL, "%s does not hold an admin token", path);
    }
    memcpy(out, line, CTL_USER_TOKEN_LEN + 1);
    return IOF_OK;
}

iof_err ctl_admin_token_ensure(const char *data_dir,
                               char hash_out[CTL_TOKEN_HASH_LEN + 1],
                               struct iof_diag *d) {
    char token[CTL_USER_TOKEN_LEN + 1];
    iof_err err = ctl_admin_token_read(data_dir, token, d);
    if (err == IOF_ENOENT) {
        char path[4096];
        err = admin_path(data_dir, path, sizeof path, d);
        if (err == IOF_OK) {
            err = ctl_token_new(token);
        }
        if (err != IOF_OK) {
            return err;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            return iof_fail(d, IOF_EIO, "cannot create %s: %s", path, strerror(errno));
        }
        char line[CTL_USER_TOKEN_LEN + 1];
        memcpy(line, token, CTL_USER_TOKEN_LEN);
        line[CTL_USER_TOKEN_LEN] = '\n';
        ssize_t w = write(fd, line, sizeof line);
        int rc = close(fd);
        if (w != (ssize_t)sizeof line || rc != 0) {
            (void)unlink(path);
            return iof_fail(d, IOF_EIO, "cannot write %s", path);
        }
    } else if (err != IOF_OK) {
        return err;
    }
    ctl_token_hash(token, hash_out);
    return IOF_OK;
}
