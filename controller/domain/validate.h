/* Validation and id rules shared by the REST resources (controller.md §2, §5). */
#ifndef CTL_VALIDATE_H
#define CTL_VALIDATE_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>

/* Length of node and microservice uuids: 32 characters of IOF_ALPHABET_FOG_TOKEN. */
#define CTL_UUID_LEN 32

/* The classic name rule for applications, microservices, routes, template variables and edge
 * resources: ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ */
bool ctl_name_valid(const char *name);

/* IOF_EINVAL "Invalid format for field '<field>'..." when name breaks the rule. */
IOF_NODISCARD iof_err ctl_name_check(const char *field, const char *name, struct iof_diag *d);

/* Most entries the Agent takes in one microservice list (ports, volumes, env, extra hosts, cmd
 * arguments); a longer list can never run, so the API refuses it. */
#define CTL_MAX_LIST_ITEMS 256

/* Largest logSize (MB) of a microservice. */
#define CTL_MAX_LOG_SIZE_MB 1048576

/* Longest path (host or container) of a volume mapping the Agent accepts, in bytes. */
#define CTL_MAX_PATH_LEN 1023

/* True when s holds a C0 control character or DEL (tab included). */
bool ctl_has_control(const char *s);

/* IOF_EINVAL "Invalid format for field '<field>': control characters are not allowed" when s holds
 * one; IOF_OK otherwise (also for NULL). */
IOF_NODISCARD iof_err ctl_text_check(const char *field, const char *s, struct iof_diag *d);

/* IOF_EINVAL naming field when list (an array or NULL) has more than CTL_MAX_LIST_ITEMS entries. */
IOF_NODISCARD iof_err ctl_list_check(const char *field, const json_t *list, struct iof_diag *d);

/* A Docker image reference the engine can pull or run ("img", "ns/img:tag", "host:5000/img@sha256:
 * ..."), by the grammar of common/imageref.h. IOF_EINVAL naming field with the reason otherwise. */
IOF_NODISCARD iof_err ctl_image_check(const char *field, const char *image, struct iof_diag *d);

/* An environment variable name the engine can set: not empty, no '=', no control characters. */
IOF_NODISCARD iof_err ctl_env_key_check(const char *field, const char *key, struct iof_diag *d);

/* An absolute path for a bind mount: starts with '/', no ':' (the engine's separator), no control
 * characters, at most CTL_MAX_PATH_LEN bytes. */
IOF_NODISCARD iof_err ctl_abs_path_check(const char *field, const char *path, struct iof_diag *d);

/* A named volume: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 255 bytes (Docker's rule). */
IOF_NODISCARD iof_err ctl_volume_name_check(const char *field,
                                            const char *name,
                                            struct iof_diag *d);

/* An extra host entry the engine writes to /etc/hosts as "name:address": the name holds no ':',
 * whitespace or control character; the address no whitespace or control character. */
IOF_NODISCARD iof_err ctl_extra_host_check(const char *field,
                                           const char *name,
                                           const char *address,
                                           struct iof_diag *d);

/* A new node or microservice uuid (CTL_UUID_LEN chars + NUL). */
IOF_NODISCARD iof_err ctl_uuid_new(char out[CTL_UUID_LEN + 1]);

#endif
