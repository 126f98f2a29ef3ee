/* libFuzzer target for the isle command line: the input is split on NUL
 * bytes into argv (after "isle"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	char *argv[32];
	int argc = 1;
	char err[256];
	struct cli cli;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "isle";
	for (size_t i = 0, start = 0; i <= size && argc < 32; i++) {
		if (buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	/* A successful parse owns copies (freed here, so leaks show); a
	 * failed one leaves nothing behind. */
	if (cli_parse(argc, argv, &cli, err, sizeof(err)) == 0)
		vm_config_free(&cli.vm);
	free(buf);
	return 0;
}
