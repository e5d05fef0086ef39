/* The columns `--output table` shows for each list command: what an operator looks for first
 * (names, state, where it runs), not the first keys of the JSON. JSON output is unchanged. */
#ifndef CTL_CLI_VIEWS_H
#define CTL_CLI_VIEWS_H

#include "controller/server/config.h"

/* Each selects its view for the next printed answer when --output table was given (no-op
 * otherwise). The microservice view asks the Controller for the node list once, to show node
 * names; if that fails it shows node uuids. */
void ctl_cli_view_microservices(const struct ctl_config *cfg);
void ctl_cli_view_nodes(void);
void ctl_cli_view_applications(void);

#endif
