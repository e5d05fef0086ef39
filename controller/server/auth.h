/* Credentials of the Controller: user passwords hashed with argon2id, bearer tokens and keys drawn
 * from the CSPRNG and stored only as SHA-256 digests, and the local admin credential the
 * iofog-controller CLI uses to act with full rights. */
#ifndef CTL_AUTH_H
#define CTL_AUTH_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>

/* An argon2id encoded hash ("$argon2id$v=19$m=...") fits here. */
#define CTL_PASSWORD_HASH_MAX 128
/* Hex SHA-256 of a token, NUL-terminated. */
#define CTL_TOKEN_HASH_LEN 64
/* User access tokens: 64 lowercase hex characters, like the classic Controller's. */
#define CTL_USER_TOKEN_LEN 64

/* Hashes password with argon2id (t=2, m=19 MiB, p=1, 16-byte random salt) into out.
 * IOF_EINVAL on an empty password, IOF_ENOMEM, IOF_EINTERNAL on a library failure. */
IOF_NODISCARD iof_err ctl_password_hash(const char *password, char out[CTL_PASSWORD_HASH_MAX]);

/* True when password matches the encoded hash (constant time in the library). */
bool ctl_password_verify(const char *encoded, const char *password);

/* Hex SHA-256 of token into out (64 chars + NUL). */
void ctl_token_hash(const char *token, char out[CTL_TOKEN_HASH_LEN + 1]);

/* A new user access token (64 hex chars + NUL). IOF_EIO when the CSPRNG fails. */
IOF_NODISCARD iof_err ctl_token_new(char out[CTL_USER_TOKEN_LEN + 1]);

/* The token from an Authorization header: the raw value or "Bearer <token>" (scheme
 * case-insensitive), surrounding spaces dropped. Returns a pointer into header and its length via
 * *len, or NULL when the header is absent or empty. */
const char *ctl_auth_header_token(const char *header, size_t *len);

/* Makes sure <data_dir>/admin-token exists (created with mode 0600 and 64 random hex characters
 * when missing) and writes the hash of its token into hash_out. IOF_EIO with the path in d when it
 * cannot be read or written, IOF_EINVAL when it does not hold a token. */
IOF_NODISCARD iof_err ctl_admin_token_ensure(const char *data_dir,
                                             char hash_out[CTL_TOKEN_HASH_LEN + 1],
                                             struct iof_diag *d);

/* Reads the admin token of data_dir into out (the CLI's side). IOF_ENOENT when there is none. */
IOF_NODISCARD iof_err ctl_admin_token_read(const char *data_dir,
                                           char out[CTL_USER_TOKEN_LEN + 1],
                                           struct iof_diag *d);

#endif
