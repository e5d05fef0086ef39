/* Users and their access tokens (tokens are stored as SHA-256 digests only). Part of the typed
 * store; the rules of store.h apply. */
#ifndef CTL_STORE_USER_H
#define CTL_STORE_USER_H

#include "controller/store/store.h"

struct ctl_store_user {
    int64_t id;
    char *first_name;
    char *last_name;
    char *email;
    char *password_hash;
    char *temp_password_hash; /* may be NULL */
    bool email_activated;
};

void ctl_store_user_clear(struct ctl_store_user *u);

/* Adds a user; *id_out its id. IOF_EEXIST when the e-mail (case-insensitive) is taken. */
IOF_NODISCARD iof_err ctl_store_user_create(struct ctl_store *store,
                                            const char *first_name,
                                            const char *last_name,
                                            const char *email,
                                            const char *password_hash,
                                            bool email_activated,
                                            int64_t *id_out,
                                            struct iof_diag *d);

/* IOF_ENOENT when there is no such user. *out is cleared with ctl_store_user_clear(). */
IOF_NODISCARD iof_err ctl_store_user_get(struct ctl_store *store,
                                         int64_t id,
                                         struct ctl_store_user *out,
                                         struct iof_diag *d);
IOF_NODISCARD iof_err ctl_store_user_get_by_email(struct ctl_store *store,
                                                  const char *email,
                                                  struct ctl_store_user *out,
                                                  struct iof_diag *d);
/* The user with the lowest id: whom the CLI acts for by default. */
IOF_NODISCARD iof_err ctl_store_user_first(struct ctl_store *store,
                                           struct ctl_store_user *out,
                                           struct iof_diag *d);

/* Changes the names that are not NULL. IOF_ENOENT for an unknown user. */
IOF_NODISCARD iof_err ctl_store_user_update_names(struct ctl_store *store,
                                                  int64_t id,
                                                  const char *first_name,
                                                  const char *last_name,
                                                  struct iof_diag *d);

/* Replaces the password hash and forgets any temporary password. */
IOF_NODISCARD iof_err ctl_store_user_set_password(struct ctl_store *store,
                                                  int64_t id,
                                                  const char *password_hash,
                                                  struct iof_diag *d);

/* Deletes the user with everything that cascades from it. IOF_ENOENT for an unknown user. */
IOF_NODISCARD iof_err ctl_store_user_delete(struct ctl_store *store,
                                            int64_t id,
                                            struct iof_diag *d);

/* Stores a token digest valid until expires_ms. */
IOF_NODISCARD iof_err ctl_store_token_add(struct ctl_store *store,
                                          int64_t user_id,
                                          const char *token_hash,
                                          int64_t expires_ms,
                                          struct iof_diag *d);

/* Finds the user of an unexpired token (expiration after now_ms, issued after issued_after_ms: the
 * absolute lifetime) and, in the same statement, slides its expiration to new_expires_ms (the
 * classic sliding lifetime). IOF_EAUTH when the digest is unknown or expired. */
IOF_NODISCARD iof_err ctl_store_token_use(struct ctl_store *store,
                                          const char *token_hash,
                                          int64_t now_ms,
                                          int64_t new_expires_ms,
                                          int64_t issued_after_ms,
                                          int64_t *user_id,
                                          struct iof_diag *d);

/* Deletes one token by its digest (logout); no error when it is already gone. */
IOF_NODISCARD iof_err ctl_store_token_delete(struct ctl_store *store,
                                             const char *token_hash,
                                             struct iof_diag *d);

/* Deletes every token of a user (password change, deletion). */
IOF_NODISCARD iof_err ctl_store_tokens_delete_user(struct ctl_store *store,
                                                   int64_t user_id,
                                                   struct iof_diag *d);

#endif
