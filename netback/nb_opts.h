/* isle-netback's command line (the usage text is netback/main.c's): the
 * options parsed and checked, and the inherited tap fds of --tap-fd checked
 * and taken, each refusal with a one-line message (no prefix), so the unit
 * tests (tests/unit/test_nb_opts.c) reach every one.
 *
 * Contract: nb_opts_parse is pure (no I/O; getopt is reset on each call)
 * and returns 0, NB_OPTS_HELP for --help, or -EINVAL with err set: the
 * caller prints it and exits 2. nb_opts_take_fds checks every --tap-fd
 * before it changes anything: -EINVAL with err set for fds that are not
 * usable (exit 2), another -errno with err set when the kernel refuses
 * the set-up (exit 1). The fds stay the caller's in every case (it closes
 * them; on success they are close-on-exec). */
#ifndef ISLE_NETBACK_NB_OPTS_H
#define ISLE_NETBACK_NB_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "tap.h"

#define NB_OPTS_HELP 1

struct nb_opts {
	const char *socket, *tap, *bridge, *script, *stats;   /* into argv */
	uint8_t mac[6];
	bool mac_set;
	unsigned int queues, mtu;      /* queues defaults to 1, mtu 0: keep */
	int tap_fds[TAP_MAX_QUEUES];   /* --tap-fd, in the order given */
	unsigned int nr_tap_fds;       /* 0: --tap; else == queues */
};

/* Fills *o (zeroed first) from argv. --tap NAME or --tap-fd N (repeated,
 * one per queue pair: N >= 3, each once, as many as --queues) is
 * required, and only one of them. */
int nb_opts_parse(int argc, char **argv, struct nb_opts *o, char *err, size_t errlen);

/* The --tap-fd fds: open, taps (not tuns) without packet information
 * headers and with vnet headers (IFF_NO_PI | IFF_VNET_HDR: the datapath's
 * record layout), one device, distinct queues, multi-queue when more than
 * one; and no --bridge or --script for a tap that is not ours to
 * configure (!local below). Then tap_adopt() on them. Fills ifname (for
 * logs and the vif script) and *local (the tap is in our network
 * namespace: tap_fd_info). */
int nb_opts_take_fds(const struct nb_opts *o, char ifname[IFNAMSIZ], bool *local, char *err,
		     size_t errlen);

#endif
