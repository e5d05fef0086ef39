/* Validation and id rules shared by the REST resources (controller.md §2, §5). */
#ifndef CTL_VALIDATE_H
#define CTL_VALIDATE_H

#include "common/error.h"

#include <stdbool.h>

/* Length of node and microservice uuids: 32 characters of IOF_ALPHABET_FOG_TOKEN. */
#define CTL_UUID_LEN 32

/* The classic name rule for applications, microservices, routes, template variables and edge
 * resources: ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ */
bool ctl_name_valid(const char *name);

/* IOF_EINVAL "Invalid format for field '<field>'..." when name breaks the rule. */
IOF_NODISCARD iof_err ctl_name_check(const char *field, const char *name, struct iof_diag *d);

/* A new node or microservice uuid (CTL_UUID_LEN chars + NUL). */
IOF_NODISCARD iof_err ctl_uuid_new(char out[CTL_UUID_LEN + 1]);

#endif
