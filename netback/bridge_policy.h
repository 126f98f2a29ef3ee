/* The bridge policy of isle-bridge-watch: its format, and a parser for it.
 * The file is untrusted input (also fuzzed: tests/fuzz/fuzz_bridge_policy.c).
 *
 * Policy (--policy FILE, default /etc/isle/bridges.conf), one bridge a line:
 *     bridge=xenbr1 uplink=eth1 fallback=eth0[,eth2...]
 * Keys in any order, each at most once; bridge= and uplink= required;
 * fallback= optional, up to BP_MAX_FALLBACK names. '#' starts a comment;
 * blank lines are fine. Names as in the scripts: 1-15 of [A-Za-z0-9_.-],
 * not "." or "..". A bridge appears on one line only and a NIC in one
 * bridge's list only. Anything else (unknown key, bad name, control byte,
 * over-long line, too many entries) is an error with FILE:LINE, and the
 * watcher does not start (SIGHUP reload: keeps the old policy).
 */
#ifndef ISLE_NETBACK_BRIDGE_POLICY_H
#define ISLE_NETBACK_BRIDGE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define BP_NAME_MAX 15          /* IFNAMSIZ - 1 */
#define BP_MAX_FALLBACK 4
#define BP_MAX_BRIDGES 64
#define BP_MAX_LINE 512
#define BP_MAX_FILE (64 * 1024)

struct bp_entry {
	char bridge[BP_NAME_MAX + 1];
	/* [0] is uplink=, then the fallbacks in order. */
	char cand[1 + BP_MAX_FALLBACK][BP_NAME_MAX + 1];
	unsigned ncand;
	unsigned line;
};

struct bridge_policy {
	struct bp_entry e[BP_MAX_BRIDGES];
	unsigned n;
};

/* The same rule as valid_ifname in bridge-scripts/common.sh. */
bool bp_name_ok(const char *s, size_t n);

/* Parses LEN bytes of BUF (not NUL-terminated; any byte values) into P.
 * ORIGIN names the input in messages. Returns 0, or -EINVAL with a
 * one-line message in ERR; P is then left empty. */
int bp_parse(struct bridge_policy *p, const char *buf, size_t len,
	     const char *origin, char *err, size_t errlen);

#endif
