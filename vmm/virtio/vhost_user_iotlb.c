/* The vhost-user device IOTLB, front-end side (VIRTIO_F_ACCESS_PLATFORM
 * behind `--iommu`): what a vhost-user device of isle does when the guest
 * negotiated that its DMA goes through the VT-d.
 *
 * Owns, per struct vud:
 *  - the back-end channel: a socketpair made on every connection whose
 *    back-end speaks BACKEND_REQ (only behind --iommu), one end handed over
 *    with SET_BACKEND_REQ_FD, the other read by the main loop;
 *  - misses: a VHOST_USER_BACKEND_IOTLB_MSG MISS is translated through the
 *    function's DMA address space (the VT-d walks the guest's tables and
 *    records a fault if the guest did not map it) and answered with an
 *    IOTLB_MSG UPDATE on the front-end socket: the VT-d page (or the part
 *    of it that is one piece of isle's RAM) at isle's host address, with the
 *    access asked for; ACCESS_FAIL reports are counted and logged;
 *  - invalidations: a notifier on that address space (registered once, at
 *    realize) sends IOTLB_MSG INVALIDATE for every range the guest's IOTLB
 *    or context invalidation covers, and waits for the back-end's answer,
 *    so a guest whose invalidation completed can reuse the page;
 *  - the rings: their IOVAs go to the back-end as they are, and the pages
 *    they lie in are sent as updates first, so a back-end can check and
 *    map its rings on the thread that reads the front-end's socket.
 *
 * Locking: d->lock around all front-end traffic, as everywhere in vud.
 * Translation happens outside it (the notifier runs on the vCPU thread
 * that wrote the VT-d register, without the VT-d's lock; it takes d->lock
 * to send), so the lock order is d->lock -> VT-d, never the reverse. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/virtq.h"
#include "core/vm.h"
#include "virtio/vhost_user_dev.h"

#define VUD_IOTLB_CHUNK 0x200000ull   /* an update covers at most a 2 MiB page */

/* bench/iommu's knob (ISLE_IOTLB_NO_PREFILL), read once, not per miss. */
static bool vud_no_prefill(void)
{
	static int v = -1;

	if (v < 0)
		v = getenv("ISLE_IOTLB_NO_PREFILL") != NULL;
	return v;
}

static unsigned int access_of(uint8_t perm)
{
	return (perm & VHOST_ACCESS_RO ? DMA_READ : 0) | (perm & VHOST_ACCESS_WO ? DMA_WRITE : 0);
}

bool vud_platform(const struct vud *d)
{
	return d->active && (d->features & BIT(VIRTIO_F_ACCESS_PLATFORM));
}

uint64_t vud_platform_offer(const struct vud *d, uint64_t feat, uint64_t pf)
{
	if (!d->vm->vtd || !(feat & BIT(VIRTIO_F_ACCESS_PLATFORM)) ||
	    !(pf & BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ)))
		return 0;
	return BIT(VIRTIO_F_ACCESS_PLATFORM);
}

/* Translates [iova, ...) for access and sends the update. The address
 * space is the one the rings were activated with. */
static int vud_iotlb_fill(struct vud *d, struct dma_as *as, uint64_t iova, unsigned int access)
{
	uint64_t start = iova & ~0xfffull;
	uint64_t len = VUD_IOTLB_CHUNK - (start & (VUD_IOTLB_CHUNK - 1));
	unsigned int granted;
	uint8_t perm;
	void *hva;
	int r;

	if (vud_no_prefill())
		len = MIN(len, 0x1000 - (start & 0xfff));   /* one page per miss */
	r = dma_translate_granted(as, start, &len, access, &hva, &granted);
	if (r)
		return r;   /* the VT-d recorded the fault the guest sees */
	/* Everything the guest's entry allows, not only what was asked: a
	 * back-end may keep one entry per IOVA (DPDK keeps the first). */
	perm = (uint8_t)((granted & DMA_READ ? VHOST_ACCESS_RO : 0) |
			 (granted & DMA_WRITE ? VHOST_ACCESS_WO : 0));
	/* Contiguous past 4 KiB up to the chunk's end: a superpage or a
	 * pass-through context, so the whole aligned chunk is one mapping;
	 * send it aligned, so updates for its other pages coincide. */
	if (len > 0x1000 && !((start + len) & (VUD_IOTLB_CHUNK - 1)) &&
	    (start & (VUD_IOTLB_CHUNK - 1))) {
		uint64_t cstart = start & ~(VUD_IOTLB_CHUNK - 1), clen = VUD_IOTLB_CHUNK;
		void *chva;

		unsigned int cgranted;

		if (!dma_translate_granted(as, cstart, &clen, access, &chva, &cgranted) &&
		    clen == VUD_IOTLB_CHUNK && cgranted == granted) {
			start = cstart;
			len = clen;
			hva = chva;
		}
	}
	d->iotlb_updates++;
	return vhu_front_iotlb(&d->f, VHOST_IOTLB_UPDATE, start, len, (uintptr_t)hva, perm);
}

/* The function's IOVAs are its guest-physical addresses (VT-d off, or a
 * pass-through context: Linux's iommu=pt): hand the backend all of guest
 * RAM, one update per region, so it never misses. d->lock held. */
static int vud_iotlb_fill_identity(struct vud *d)
{
	const struct gmem *gm = &d->vm->gmem;

	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gmem_region *r = &gm->regions[i];
		int ret;

		d->iotlb_updates++;
		ret = vhu_front_iotlb(&d->f, VHOST_IOTLB_UPDATE, r->gpa, r->size, (uintptr_t)r->hva,
				      VHOST_ACCESS_RW);
		if (ret)
			return ret;
	}
	return 0;
}

/* Whether to send all of RAM rather than answer page by page: the
 * identity, unless bench/iommu asks for misses (ISLE_IOTLB_NO_PREFILL, which
 * also makes every update one page, to measure what a miss costs). */
static bool vud_prefill(struct dma_as *as)
{
	return dma_as_is_identity(as) && !vud_no_prefill();
}

int vud_iotlb_map_ring(struct vud *d, const struct virtio_queue *q)
{
	const struct { uint64_t iova, len; unsigned int access; } part[3] = {
		{ q->desc_gpa, 16ull * q->size, DMA_READ },
		{ q->avail_gpa, 6 + 2ull * q->size, DMA_READ },
		{ q->used_gpa, 6 + 8ull * q->size, DMA_RW },
	};
	int r;

	if (vud_prefill(q->dma))
		return vud_iotlb_fill_identity(d);
	for (unsigned int i = 0; i < 3; i++) {
		uint64_t end = part[i].iova + part[i].len;

		/* A ring part spans few pages; one update per page start. */
		for (uint64_t a = part[i].iova; a < end; a = (a & ~0xfffull) + 0x1000) {
			r = vud_iotlb_fill(d, q->dma, a, part[i].access);
			if (r)
				return r;
		}
	}
	return 0;
}

/* A message on the back-end channel (main thread). */
static void vud_req_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct vud *d = opaque;
	struct vhost_user_msg m;
	const struct vhost_iotlb_msg *im = &m.payload.iotlb;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds, access;
	int r;

	r = vu_msg_recv(fd, &m, fds, &nfds);
	vu_close_fds(fds, nfds);
	if (r) {
		pthread_mutex_lock(&d->lock);
		if (d->req_fd == fd) {
			evloop_del(loop, fd);
			vu_close_fds(&d->req_fd, 1);
		}
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (m.hdr.request != VHOST_USER_BACKEND_IOTLB_MSG ||
	    m.hdr.size < offsetof(struct vhost_iotlb_msg, type) + 1) {
		log_warn("%s: back-end request %u (size %u) ignored", d->name, m.hdr.request,
			 m.hdr.size);
		goto reply;
	}
	access = access_of(im->perm);
	if (im->type == VHOST_IOTLB_ACCESS_FAIL) {
		d->iotlb_fails++;
		log_warn("%s: the back-end could not access iova %#llx (%s)", d->name,
			 (unsigned long long)im->iova, access & DMA_WRITE ? "write" : "read");
		goto reply;
	}
	if (im->type != VHOST_IOTLB_MISS || !access)
		goto reply;
	d->iotlb_misses++;
	pthread_mutex_lock(&d->lock);
	if (vud_platform(d) && d->nr_q && d->f.sock >= 0) {
		/* Translating under d->lock is the allowed order (d->lock ->
		 * VT-d); the answer must go out before anything else does. */
		r = vud_prefill(d->q[0].dma) ? vud_iotlb_fill_identity(d) :
			vud_iotlb_fill(d, d->q[0].dma, im->iova, access);
		if (r == -EIO || r == -EPROTO || r == -EAGAIN || r == -ECONNRESET)
			vud_failed(d, "IOTLB update", r);
		else if (r)
			log_debug("%s: miss at %#llx not mapped by the guest: %s", d->name,
				  (unsigned long long)im->iova, strerror(-r));
	}
	pthread_mutex_unlock(&d->lock);
reply:
	if (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK) {
		m.hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
		m.hdr.size = sizeof(uint64_t);
		m.payload.u64 = 0;
		vu_msg_send(fd, &m, NULL, 0);
	}
}

int vud_iotlb_connect(struct vud *d, uint64_t pf)
{
	int sv[2], r;

	if (!(pf & BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ)))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = vhu_front_set_backend_req_fd(&d->f, sv[1]);
	close(sv[1]);
	if (!r)
		r = evloop_add(&d->vm->loop, sv[0], EPOLLIN, vud_req_event, d);
	if (r) {
		close(sv[0]);
		return r;
	}
	d->req_fd = sv[0];
	return 0;
}

void vud_iotlb_disconnect(struct vud *d)
{
	if (d->req_fd < 0)
		return;
	evloop_del(&d->vm->loop, d->req_fd);
	vu_close_fds(&d->req_fd, 1);
}

/* The guest invalidated [iova, iova + len) of the function's IOTLB (vCPU
 * thread, no VT-d lock held). */
static void vud_iotlb_unmap(void *opaque, unsigned int event, uint64_t iova, uint64_t len)
{
	struct vud *d = opaque;
	int r;

	pthread_mutex_lock(&d->lock);
	if (vud_platform(d) && d->f.sock >= 0) {
		d->iotlb_invalidations++;
		r = vhu_front_iotlb(&d->f, VHOST_IOTLB_INVALIDATE, iova, len, 0, 0);
		/* Live rings stay mapped while the driver runs (a guest flushes
		 * its IOTLB with them mapped): send their pages again, so the
		 * backend sees them unchanged and keeps going. A ring the guest
		 * really unmapped gets a VT-d fault here, as its device would. */
		for (unsigned int i = 0; !r && i < d->nr_q; i++) {
			const struct virtio_queue *q = &d->q[i];

			if ((!d->ops->backend_ring || d->ops->backend_ring(d, i)) &&
			    vq_split_rings_overlap(q->desc_gpa, q->avail_gpa, q->used_gpa, q->size,
						   iova, len))
				r = vud_iotlb_map_ring(d, q);
		}
		if (r)
			vud_failed(d, "IOTLB invalidation", r);
	}
	pthread_mutex_unlock(&d->lock);
}

void vud_iotlb_attach(struct vud *d, struct dma_as *as)
{
	if (!as)
		return;
	d->iotlb_as = as;
	d->iotlb_notifier = (struct dma_notifier){ .events = DMA_EV_UNMAP,
						   .notify = vud_iotlb_unmap, .opaque = d };
	dma_notifier_register(as, &d->iotlb_notifier);
}

void vud_iotlb_detach(struct vud *d)
{
	if (!d->iotlb_as)
		return;
	if (d->iotlb_updates || d->iotlb_misses)
		log_info("%s: device IOTLB: %llu misses, %llu updates, %llu invalidations, "
			 "%llu access failures", d->name, (unsigned long long)d->iotlb_misses,
			 (unsigned long long)d->iotlb_updates,
			 (unsigned long long)d->iotlb_invalidations,
			 (unsigned long long)d->iotlb_fails);
	dma_notifier_unregister(d->iotlb_as, &d->iotlb_notifier);
	d->iotlb_as = NULL;
}
