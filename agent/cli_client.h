/* What the iofog-agent CLI commands share: finding the config directory, and asking the running
 * daemon over its token-protected admin route (/v2/commandline on 127.0.0.1:<local API port>). */
#ifndef AGENT_CLI_CLIENT_H
#define AGENT_CLI_CLIENT_H

#include "agent/config.h"
#include "common/error.h"

#include <stdbool.h>

/* Removes "--config-dir DIR" / "--config-dir=DIR" from argv (in place, *argc updated) and loads
 * the configuration from it, from IOFOG_AGENT_CONFIG_DIR, or from the default directory. Prints
 * the problem and returns its category on failure. */
IOF_NODISCARD iof_err agent_cli_load_config(const char *cmd,
                                            int *argc,
                                            char **argv,
                                            struct agent_config *out);

/* Runs `name args...` in the daemon and prints its answer (stdout on success, stderr on
 * failure). argv[0] is the subcommand name; --help/-h prints usage instead. Returns the
 * category of the outcome: IOF_EIO when no daemon answers (printed unless quiet_offline). */
IOF_NODISCARD iof_err agent_cli_remote(int argc,
                                       char **argv,
                                       const char *usage,
                                       bool quiet_offline);

#endif
