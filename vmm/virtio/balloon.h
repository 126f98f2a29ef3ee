/* isle's virtio-balloon (vmm/virtio/balloon.c): the control side. The
 * guest's driver inflates the balloon towards a target the host sets and
 * reports how far it got (`actual`, the driver's field); pages it inflates,
 * and free pages it reports, go back to the host (gmem_discard: a hole in
 * the RAM memfd), unless the policy keeps them.
 *
 * The policy, enforced in one place (the device's lock), stated in vm.info:
 *  - "free": no assigned device; pages go back to the host.
 *  - "vfio-refuse": an assigned (VFIO) device pins all guest RAM, so a page
 *    given back would still be a DMA target the guest no longer sees:
 *    targets above 0 are refused, and pages the guest inflates anyway stay
 *    (counted as kept).
 *  - "vfio-iommu": the assigned devices are behind isle's VT-d, so their
 *    containers hold only what the guest mapped for DMA: targets are taken,
 *    and of the pages the guest gives, those a container maps stay (kept),
 *    the rest go back. (While the guest's translation is off a container
 *    maps all of RAM: everything stays.)
 *  - "vfio-allow": vfio=allow (mediated devices that pin on demand): pages
 *    go back although devices are assigned; the operator's call.
 * Assigning a device to a VM whose balloon holds pages (or is asked to) is
 * refused until it is deflated, unless vfio=allow: a new container starts
 * as the identity and would pin every page the balloon gave back.
 *
 * Threads: every function here is for the main thread (the control socket,
 * device realize); the device serves its queues on its own thread. */
#ifndef ISLE_VMM_BALLOON_H
#define ISLE_VMM_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/balloon_queue.h"

struct vm;
struct balloon;

struct balloon_info {
	uint64_t ram;                /* guest RAM, bytes */
	uint32_t target_pages;       /* num_pages: what the host asks for */
	uint32_t actual_pages;       /* what the driver says the balloon holds */
	bool driver_ok;              /* a driver has the device running */
	bool deflate_on_oom, free_page_reporting, vfio_allow;
	unsigned int stats_s;        /* 0: no statistics queue */
	uint64_t features;           /* negotiated (0 before a driver) */
	const char *policy;          /* "free", "vfio-refuse", "vfio-iommu", "vfio-allow" */
	unsigned int vfio_devices;
	struct bq_counters c;
	struct bq_stats st;
	int64_t stats_age_ms;        /* -1: no statistics yet */
};

/* The VM's balloon, or NULL. */
struct balloon *balloon_of(struct vm *vm);
void balloon_get_info(struct balloon *b, struct balloon_info *out);
/* Asks the guest for a balloon of `bytes` (rounded down to 4K pages):
 * 0, or -EINVAL (more than RAM less the minimum a guest keeps) / -EPERM
 * (the policy: assigned devices) with one line in err. */
int balloon_set_target(struct balloon *b, uint64_t bytes, char *err, size_t errlen);
/* Whether the device offers the statistics queue (stats=S at boot). */
bool balloon_has_stats(const struct balloon *b);
/* A new statistics interval (1-3600 s) for a balloon that has the queue:
 * 0, or -EINVAL / -ENOTSUP with one line in err. */
int balloon_set_stats_interval(struct balloon *b, unsigned int s, char *err, size_t errlen);
/* An assigned device comes (vfio_pci realize) or goes. pin refuses
 * (-EBUSY, why in err) while the balloon holds or is asked to hold pages,
 * unless vfio=allow; no balloon: 0. */
int balloon_vfio_pin(struct vm *vm, char *err, size_t errlen);
/* The same question without counting (the control socket asks first, to
 * answer with the reason). */
int balloon_vfio_check(struct vm *vm, char *err, size_t errlen);
void balloon_vfio_unpin(struct vm *vm);

#endif
