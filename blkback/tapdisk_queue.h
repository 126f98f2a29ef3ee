/* One virtqueue of isle-tapdisk: the thread that serves it, with its own
 * event loop (kick eventfd, engine eventfd), its own engine instance on the
 * image, and request slots preallocated to the ring size.
 *
 * Contract: the vhost-user side (tapdisk.c, main thread) calls these; a
 * started queue's state belongs to its thread until tapdisk_queue_halt()
 * returns, except the call/err eventfds, which
 * tapdisk_queue_set_notifiers() swaps under the queue's lock. Halting drains:
 * every popped request is completed and pushed before it returns. A ring
 * the guest corrupts stops popping, signals the err eventfd and keeps
 * finishing what is in flight; the queue still halts normally. */
#ifndef ISLE_BLKBACK_TAPDISK_QUEUE_H
#define ISLE_BLKBACK_TAPDISK_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "blk.h"
#include "isle/evloop.h"
#include "isle/vhost_user.h"
#include "isle/virtq.h"

struct td_queue {
	unsigned int index;
	const struct blk_dev *blk;     /* shared, read-only */
	const struct disk *image;      /* the open image this queue clones */
	struct dma_as *dma;            /* the rings' and buffers' address
					* space; stable while the queue runs */
	bool running;                  /* thread alive */
	bool broken;                   /* ring corrupt: no more pops until reset */
	pthread_t thread;
	struct evloop loop;
	struct vq vq;
	struct disk disk;              /* this queue's engine instance */
	int kick_fd;                   /* the library's; read only here */
	pthread_mutex_t lock;          /* call_fd, err_fd */
	int call_fd, err_fd;
	unsigned int num;
	struct blk_req *slots;         /* num of them */
	struct iovec *iovs;            /* BLK_REQ_MAX_IOV per slot */
	uint16_t *free_slots, *pending, *recover;
	unsigned int nfree, pend_head, npend, nrecover, inflight;
	bool starved;                  /* stopped popping: no free slot */
	bool pushed;                   /* used entries since the last notify check */
	uint16_t base;                 /* next avail index while stopped */
};

void tapdisk_queue_init(struct td_queue *q, unsigned int index, const struct blk_dev *blk,
			const struct disk *image, struct dma_as *dma);
void tapdisk_queue_fini(struct td_queue *q);

/* Starts serving ring vr from avail index base, with the VQ_F_* flags the
 * driver negotiated; with recover, first resubmits what the ring's inflight
 * region says a predecessor left in flight. Keeps q->broken as it is (a
 * restart after a memory-table change stays broken). 0 or -errno (then
 * nothing runs). */
int tapdisk_queue_start(struct td_queue *q, const struct vu_vring *vr, uint16_t base,
			unsigned int vq_flags, bool recover);

/* Stops and drains the thread; returns the next avail index (q->base, also
 * when the queue was not running). */
uint16_t tapdisk_queue_halt(struct td_queue *q);

void tapdisk_queue_set_notifiers(struct td_queue *q, int call_fd, int err_fd);

#endif
