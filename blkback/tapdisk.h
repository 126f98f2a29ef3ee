/* isle-tapdisk's vhost-user-blk device: one open disk served to one
 * vhost-user frontend at a time over a listening AF_UNIX socket.
 *
 * Contract:
 *  - tapdisk_open() opens and locks the image and binds the socket (a stale
 *    socket file is replaced only when nothing listens on it). Errors come
 *    back as -errno with one line in err: -EBUSY for an image someone else
 *    holds, -EADDRINUSE for a live socket, -ENOTSUP for an image format we
 *    cannot serve.
 *  - tapdisk_run() blocks SIGTERM/SIGINT in every thread and serves until one
 *    arrives: one frontend connection at a time; when it goes away (or breaks
 *    the protocol) the queues are drained and stopped and the next connection
 *    is accepted. Returns 0 after a signal, -errno if the loop itself fails.
 *  - Each started virtqueue runs in its own thread with its own event loop
 *    and its own engine instance on the image; the main thread only speaks
 *    vhost-user. A request is acknowledged to the guest only once the engine
 *    completed it; with an inflight region (INFLIGHT_SHMFD), requests a
 *    killed predecessor left in flight are resubmitted before new ones.
 *  - A queue whose ring the guest corrupts stops (its error eventfd is
 *    signalled); the other queues and later connections are unaffected. */
#ifndef ISLE_BLKBACK_TAPDISK_H
#define ISLE_BLKBACK_TAPDISK_H

#include <stdbool.h>
#include <stddef.h>

#include "diskspec.h"

#define TAPDISK_MAX_QUEUE_SIZE 1024

struct tapdisk_opts {
	const char *socket_path;
	const struct disk_spec *spec;
	enum disk_engine_hint engine;   /* DEFAULT: from the spec, else best */
	unsigned int queues;            /* 1..VU_MAX_QUEUES */
	bool direct;
	bool readonly;
};

struct tapdisk;

int tapdisk_open(struct tapdisk **tdp, const struct tapdisk_opts *o, char *err, size_t errlen);
int tapdisk_run(struct tapdisk *td);
/* Stops everything, closes the image and removes the socket file. */
void tapdisk_close(struct tapdisk *td);

#endif
