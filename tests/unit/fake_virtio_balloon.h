/* A simulated modern virtio-balloon PCI function for the balloon driver's
 * unit tests (tests/unit/test_balloon_fe.c). It owns the balloon side: the
 * device config (the driver writes actual), the number and sizes of the
 * queues, which depend on the features, and what each queue's buffers
 * mean; RAM, the fe_env.h hooks and the virtio-pci transport (fk.vp) are
 * fake_vpci.h's. Queues are served through isle's device-side virtqueue
 * (lib/virtq.c), so chains are parsed by independent code, and the device
 * maps indices to roles from the negotiated features on its own (not with
 * the driver's function). Inflate/deflate buffers complete at the notify;
 * the stats buffer is held until the test asks for fresh numbers
 * (fake_stats_request(), QEMU's polling timer). Knobs make the device
 * misbehave or hold PFN buffers to use them out of order. */
#ifndef TESTS_UNIT_FAKE_VIRTIO_BALLOON_H
#define TESTS_UNIT_FAKE_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "balloon.h"
#include "fake_vpci.h"

#define BUF_OFF      (1 * MiB)          /* ranges to report; DMA area at 0 */
#define FAKE_NQ      5u                 /* inflate, deflate, stats, hint, report */
#define FAKE_PFN_LOG 8192u
#define FAKE_REPORT_MAX 64u
#define FAKE_HOLD_MAX 8u

struct fake {
	struct fake_vpci vp;                /* FAKE_NQ queues, notified at their index */
	struct virtio_balloon_config bc;
	uint16_t qmax[BALLOONFE_VQ_NR];     /* per role */
	struct iovec iov[VQ_ELEM_MAX_IOV];
	struct vq_elem elem;
	/* What the device saw. */
	uint32_t pfn_log[FAKE_PFN_LOG];     /* inflated PFNs, in order */
	unsigned int pfn_logged;
	uint64_t inflated, deflated;
	unsigned int inflate_bufs, deflate_bufs, max_pfns_per_buf;
	uint32_t actual_at_pop;             /* bc.actual when the last PFN buffer came */
	unsigned int actual_writes, stray_cfg_writes, early_notifies, bad_notifies;
	uint64_t stat[BALLOONFE_STATS_MAX];
	uint32_t stat_seen;                 /* bit per tag */
	unsigned int stats_bufs, stats_len;
	uint64_t stats_gpa;
	bool stats_held;
	uint16_t stats_head;
	unsigned int report_chains, report_in, report_out;
	uint64_t report_gpa[FAKE_REPORT_MAX], report_len[FAKE_REPORT_MAX];
	/* Knobs. */
	bool never_complete, bad_id;
	uint32_t len_extra;
	unsigned int hold_pfn_bufs;         /* hold PFN buffers until this many, then
					     * use them last-in first-out */
	uint16_t held[FAKE_HOLD_MAX];
	unsigned int nheld;
};

extern struct fake fk;

/* A fresh, well-behaved device offering `offered` (VERSION_1 added), and
 * RAM (fake_priv: BALLOONFE_PRIV_BYTES). */
void fake_setup(uint64_t offered);
/* Gives the held stats buffer back (QEMU's stats timer); false if none. */
bool fake_stats_request(void);
/* Device index the fake enabled for role per its own mapping, -1 if none. */
int fake_index_of(unsigned int role);

#endif
