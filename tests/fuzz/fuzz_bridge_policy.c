/* libFuzzer target for the bridge policy parser of isle-bridge-watch
 * (netback/bridge_policy.c): the input is a policy file as bytes. Besides crashes and sanitizer reports, it checks
 * what the watcher relies on: a success has at most BP_MAX_BRIDGES entries,
 * each with a valid bridge name and 1..1+BP_MAX_FALLBACK valid candidate
 * names, no name used twice anywhere; a failure has a one-line message
 * that starts with the origin and leaves the policy empty. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <string.h>

#include "bridge_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s)
{
	size_t n = strnlen(s, BP_NAME_MAX + 1);

	if (n > BP_NAME_MAX || !bp_name_ok(s, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bridge_policy p;
	const char *names[BP_MAX_BRIDGES * (2 + BP_MAX_FALLBACK)];
	char err[256];
	unsigned i, k, nn = 0, a, b;
	int rc;

	rc = bp_parse(&p, (const char *)data, size, "fuzz", err, sizeof(err));
	if (rc) {
		if (rc != -EINVAL || strncmp(err, "fuzz", 4) || strchr(err, '\n') || p.n)
			abort();
		return 0;
	}
	if (p.n > BP_MAX_BRIDGES)
		abort();
	for (i = 0; i < p.n; i++) {
		if (p.e[i].ncand < 1 || p.e[i].ncand > 1 + BP_MAX_FALLBACK || !p.e[i].line)
			abort();
		check_name(p.e[i].bridge);
		names[nn++] = p.e[i].bridge;
		for (k = 0; k < p.e[i].ncand; k++) {
			check_name(p.e[i].cand[k]);
			names[nn++] = p.e[i].cand[k];
		}
	}
	for (a = 0; a < nn; a++)
		for (b = a + 1; b < nn; b++)
			if (!strcmp(names[a], names[b]))
				abort();
	return 0;
}
