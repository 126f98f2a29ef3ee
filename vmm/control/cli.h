/* Command-line parsing for `isle`. Pure: no I/O, no globals, so it is
 * unit-tested and fuzzed. The command line is untrusted: every value is
 * checked here and a problem comes back as one line in err. */
#ifndef ISLE_VMM_CLI_H
#define ISLE_VMM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "control/config.h"
#include "core/vm.h"

enum cli_action {
	CLI_RUN,
	CLI_HELP,
	CLI_VERSION,
};

struct cli {
	enum cli_action action;
	struct vm_config vm;
	char api_socket[CONFIG_SOCKET_PATH_MAX];   /* --api-socket PATH, or "" */
};

/* Returns 0 and fills *cli, or -EINVAL with a message in err (and nothing
 * left allocated). cli->vm owns copies of what it keeps: release it with
 * vm_config_free() after a successful parse. */
int cli_parse(int argc, char *const argv[], struct cli *cli, char *err, size_t errlen);

extern const char cli_usage[];

#endif
