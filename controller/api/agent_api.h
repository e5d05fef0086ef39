/* Handlers of the agent-facing API shared between its files (private to controller/api/). */
#ifndef CTL_AGENT_API_H
#define CTL_AGENT_API_H

#include "controller/api/api.h"

/* PUT /api/v3/agent/status (agent_status.c). */
iof_err ctl_agent_put_status(struct ctl_call *call);

/* GET /api/v3/agent/microservices and /microservices/:uuid (agent_msvc.c). */
iof_err ctl_agent_get_microservices(struct ctl_call *call);
iof_err ctl_agent_get_microservice(struct ctl_call *call);

#endif
