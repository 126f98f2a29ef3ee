/* What balloon.c (the device: queues, thread) and balloon_ctl.c (the
 * control side and the policy, balloon.h) share. */
#ifndef ISLE_VMM_BALLOON_PRIV_H
#define ISLE_VMM_BALLOON_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "control/balloon_spec.h"
#include "virtio/balloon.h"
#include "virtio/balloon_queue.h"
#include "virtio/virtio_pci.h"

#define BALLOON_CLASS       0x00ff00   /* "other" (what QEMU gives it) */
#define BALLOON_QUEUE_MAX   128
#define BALLOON_CONFIG_SIZE 16         /* num_pages, actual, hint cmd id, poison */
#define BALLOON_MIN_KEEP    (64ULL << 20)   /* a target leaves the guest this much */
#define BALLOON_SERVE_NS    20000000ull   /* a round of the queues holds the lock this long */
#define BALLOON_PAUSE_NS    200000        /* then lets it go this long if a queue has more */

enum bq_role { BQ_INFLATE, BQ_DEFLATE, BQ_STATS, BQ_REPORT, BQ_NR_ROLES };

struct balloon_q {
	struct vq vq;
	int kick_fd, call_fd;
	bool on;
};

struct balloon {
	struct virtio_pci vp;
	struct vm *vm;
	struct vm_balloon opt;
	uint64_t ram_pages;
	pthread_t thread;
	bool thread_started;
	int wake_fd, timer_fd;

	pthread_mutex_t lock;            /* all below */
	bool stop, active;
	uint64_t features;
	struct balloon_q q[BQ_NR_ROLES];
	bool stats_held;                 /* the driver's stats buffer, ours until the next poll */
	uint16_t stats_head;
	uint32_t num_pages, actual;
	unsigned int vfio_pins;          /* assigned functions */
	unsigned int stats_s;
	uint64_t serve_ns;               /* BALLOON_SERVE_NS; the unit tests shorten it */
	struct bq bq;
	struct iovec iov[VQ_ELEM_MAX_IOV];
};

enum balloon_policy { BP_FREE, BP_VFIO_REFUSE, BP_VFIO_IOMMU, BP_VFIO_ALLOW };

/* balloon_ctl.c; under b->lock. */
enum balloon_policy balloon_policy(const struct balloon *b);
bool balloon_may_discard(const struct balloon *b);
const char *balloon_policy_name(const struct balloon *b);
/* balloon.c: the statistics timer's period (s > 0). */
int balloon_timer_set(struct balloon *b, unsigned int s);

static inline uint64_t balloon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
