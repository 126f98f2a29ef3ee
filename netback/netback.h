/* isle-netback's vhost-user-net device: the vu_dev_ops a vu_server drives,
 * one thread (with its own evloop) per queue pair moving packets between
 * the guest's rings and that pair's tap fd, and the counters.
 *
 * Contract:
 *  - netback_create() starts the queue-pair threads; they idle until a ring
 *    starts. The tap fds stay the caller's (open until after
 *    netback_destroy()); queue pair i uses fds[i].
 *  - The device ops run on the main thread (inside vu_dispatch). They
 *    change a pair's state only by running a function on that pair's
 *    thread and waiting for it, so the datapath never needs a lock; the
 *    control queue (when a frontend passes it through) runs on the main
 *    thread's loop.
 *  - Queue pairs keep a private copy of the guest memory map: the library
 *    rewrites dev->gm before mem_table_changed runs.
 *  - A ring the guest corrupts stops (its error eventfd is signalled) until
 *    the frontend restarts it; the other rings go on.
 *  - netback_destroy() expects every ring stopped (vu_server_close first). */
#ifndef ISLE_NETBACK_NETBACK_H
#define ISLE_NETBACK_NETBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle/evloop.h"
#include "isle/vhost_user.h"

#define NETBACK_MAX_QUEUE_SIZE 1024

struct netback_opts {
	const char *ifname;          /* the tap, for logs and stats */
	const int *tap_fds;          /* queues of them */
	unsigned int queues;         /* queue pairs, 1..TAP_MAX_QUEUES */
	uint8_t mac[6];              /* the guest's, in the config space */
	unsigned int mtu;            /* the tap's, in the config space */
};

struct netback;

int netback_create(struct netback **nbp, const struct netback_opts *o, struct evloop *main_loop);
void netback_destroy(struct netback *nb);

extern const struct vu_dev_ops netback_vu_ops;
/* Ring count (2 per pair + control queue), queue size, config size. */
void netback_params(const struct netback *nb, struct vu_dev_params *p);

/* Frontend connected or gone: the tap's carrier follows. */
void netback_set_connected(struct netback *nb, bool connected);

/* The counters as one JSON line (with '\n'); returns its length, or
 * -ENOSPC if len is too small. */
int netback_stats_json(struct netback *nb, char *buf, size_t len);
/* The same, one log line per queue pair (SIGUSR1). */
void netback_stats_log(struct netback *nb);

#endif
