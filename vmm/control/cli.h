/* Command-line parsing for `isle`. Pure: no I/O, no globals, so it is
 * unit-tested and fuzzed. The command line is untrusted: every value is
 * checked here and a problem comes back as one line in err. */
#ifndef ISLE_VMM_CLI_H
#define ISLE_VMM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

enum cli_action {
	CLI_RUN,
	CLI_HELP,
	CLI_VERSION,
};

struct cli {
	enum cli_action action;
	struct vm_config vm;
};

#define CLI_DEFAULT_MEMORY (256ULL << 20)
#define CLI_MAX_MEMORY     (1ULL << 40)
#define CLI_MAX_VCPUS      255   /* xAPIC ids, one MADT byte */

/* Returns 0 and fills *cli, or -EINVAL with a message in err (and nothing
 * left allocated). cli->vm owns copies of what it keeps: release it with
 * vm_config_free() after a successful parse. */
int cli_parse(int argc, char *const argv[], struct cli *cli, char *err, size_t errlen);

/* "512M", "2G", "1048576K", bare numbers are MiB (as xl's memory=). */
int cli_parse_size(const char *s, uint64_t *out);

extern const char cli_usage[];

#endif
