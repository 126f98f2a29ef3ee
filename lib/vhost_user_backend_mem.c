/* vhost-user back-end, what it maps or is told about memory (contract in
 * include/isle/vhost_user.h): the region table (SET_MEM_TABLE), the
 * inflight buffer (GET/SET_INFLIGHT_FD), and the device IOTLB
 * (VIRTIO_F_ACCESS_PLATFORM: SET_BACKEND_REQ_FD, IOTLB_MSG, and the misses
 * the back-end sends on the back-end channel). Same rules as the rest of
 * the back-end: everything is checked before anything changes. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "isle/virtq.h"
#include "vhost_user_backend.h"

int vu_set_mem_table(struct vu_dev *dev, struct vu_req *rq)
{
	const struct vhost_user_memory *m = &rq->msg.payload.memory;
	struct gmem ngm, old = dev->gm;
	struct vu_map nmaps[GMEM_MAX_REGIONS], old_maps[GMEM_MAX_REGIONS];
	int r;

	if (rq->msg.hdr.size < 8 || m->nregions > VHOST_USER_MAX_RAM_SLOTS ||
	    rq->msg.hdr.size < 8 + m->nregions * sizeof(m->regions[0]))
		return -EINVAL;
	r = vu_mem_map(m, rq->fds, rq->nfds, &ngm, nmaps);
	if (r)
		return r;   /* the old table stays; vu_dispatch closes the fds */
	for (unsigned int i = 0; i < rq->nfds; i++)
		rq->fds[i] = -1;   /* owned by the table now */
	memcpy(old_maps, dev->maps, sizeof(old_maps));
	dev->gm = ngm;
	memcpy(dev->maps, nmaps, sizeof(nmaps));
	if (dev->ops->mem_table_changed)
		dev->ops->mem_table_changed(dev, &dev->gm);
	/* Every address the old table translated is gone, and what the
	 * IOTLB learnt was converted through the old table. */
	dma_as_invalidate(&dev->dma, 0, UINT64_MAX);
	if (dev->p.iotlb) {
		vu_iotlb_flush(&dev->iotlb);
		dma_as_invalidate(&dev->iotlb_dma.as, 0, UINT64_MAX);
	}
	vu_mem_unmap(&old, old_maps);
	return 0;
}

void vu_inflight_drop(struct vu_dev *dev)
{
	if (dev->inflight.base)
		munmap(dev->inflight.base, dev->inflight.len);
	vu_close_fds(&dev->inflight.fd, 1);
	dev->inflight.base = NULL;
	memset(&dev->inflight.info, 0, sizeof(dev->inflight.info));
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
		dev->vrings[i].inflight = NULL;
		dev->vrings[i].inflight_size = 0;
	}
}

int vu_inflight(struct vu_dev *dev, struct vu_req *rq, int fd)
{
	struct vhost_user_inflight *in = &rq->msg.payload.inflight;
	bool fresh = fd < 0;
	uint64_t qsz = vu_inflight_queue_size(in->queue_size), total;
	struct vu_inflight_info info;
	size_t len;
	void *base, *addr;
	int r;

	if (rq->msg.hdr.size < VHOST_USER_INFLIGHT_SIZE || !dev->ops->inflight_changed ||
	    !in->num_queues || in->num_queues > dev->p.num_queues ||
	    !is_pow2(in->queue_size) || in->queue_size > dev->p.max_queue_size)
		return -EINVAL;
	for (unsigned int i = 0; i < dev->p.num_queues; i++)
		if (dev->vrings[i].started)   /* they point into the old buffer */
			return -EBUSY;
	total = qsz * in->num_queues;
	if (!fresh && in->mmap_size < total)
		return -EINVAL;
	if (fresh) {
		fd = memfd_create("vhost-user-inflight", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)total) < 0) {
			r = -errno;
			goto out_fd;
		}
	}
	/* Map only what the queues use; the file must hold it. */
	r = vu_map_fd(fd, fresh ? 0 : in->mmap_offset, total, &base, &len, &addr);
	if (r)
		goto out_fd;
	for (unsigned int q = 0; q < in->num_queues; q++) {
		uint8_t *h = (uint8_t *)addr + q * qsz;
		uint16_t hdr[2];   /* version, desc_num at offset 8 */

		memcpy(hdr, h + 8, sizeof(hdr));
		r = -EINVAL;   /* a layout we did not write */
		if (hdr[0] > 1 || (hdr[0] == 1 && hdr[1] != in->queue_size))
			goto out_unmap;
		if (!hdr[0]) {
			memset(h, 0, 16);
			memcpy(h + 8, (uint16_t[]){ 1, in->queue_size }, 2 * sizeof(uint16_t));
		}
	}
	info = (struct vu_inflight_info){
		.addr = addr, .queue_region_size = qsz, .num_queues = in->num_queues,
		.queue_size = in->queue_size, .fresh = fresh,
	};
	/* The device may refuse; then the old buffer stays. No ring runs, so
	 * nothing uses either buffer meanwhile. */
	r = dev->ops->inflight_changed(dev, &info);
	if (r)
		goto out_unmap;
	vu_inflight_drop(dev);
	dev->inflight.fd = fd;
	dev->inflight.base = base;
	dev->inflight.len = len;
	dev->inflight.info = info;
	for (unsigned int q = 0; q < in->num_queues; q++) {
		dev->vrings[q].inflight = (uint8_t *)addr + q * qsz;
		dev->vrings[q].inflight_size = qsz;
	}
	if (!fresh) {
		rq->fds[0] = -1;
		return 0;
	}
	*in = (struct vhost_user_inflight){ .mmap_size = total, .mmap_offset = 0,
		.num_queues = in->num_queues, .queue_size = in->queue_size };
	rq->reply_fd = fd;
	return VU_REPLY;
out_unmap:
	munmap(base, len);
out_fd:
	if (fresh)   /* SET's fd is still in rq->fds */
		close(fd);
	return r;
}


/* ---- device IOTLB ---- */

/* Sends a MISS or ACCESS_FAIL on the back-end channel (any thread). */
static int vu_iotlb_send(void *opaque, uint64_t iova, uint8_t perm, uint8_t type)
{
	struct vu_dev *dev = opaque;
	struct vhost_user_msg msg = {
		.hdr = { .request = VHOST_USER_BACKEND_IOTLB_MSG, .flags = VHOST_USER_VERSION,
			 .size = sizeof(struct vhost_iotlb_msg) },
		.payload.iotlb = { .iova = iova, .perm = perm, .type = type },
	};
	int r = -ENOTCONN;

	pthread_mutex_lock(&dev->backend_lock);
	if (dev->backend_fd >= 0)
		r = vu_msg_send(dev->backend_fd, &msg, NULL, 0);
	pthread_mutex_unlock(&dev->backend_lock);
	if (type == VHOST_IOTLB_ACCESS_FAIL)
		log_warn("vhost-user: IOTLB: no %s access at iova %#llx",
			 perm == VHOST_ACCESS_RW ? "read-write" : perm == VHOST_ACCESS_WO ? "write" :
			 "read", (unsigned long long)iova);
	return r;
}

int vu_dev_iotlb_init(struct vu_dev *dev)
{
	int r;

	dev->backend_fd = -1;
	pthread_mutex_init(&dev->backend_lock, NULL);
	if (!dev->p.iotlb)
		return 0;
	r = vu_iotlb_init(&dev->iotlb, 0, VU_IOTLB_WAIT_MS, vu_iotlb_send, dev);
	if (r)
		return r;
	/* The thread that dispatches the front-end's messages never waits
	 * for them (it is the one that would receive the update). */
	vu_iotlb_set_dispatcher(&dev->iotlb, pthread_self());
	vu_iotlb_as_init(&dev->iotlb_dma, &dev->iotlb, &dev->gm);
	return 0;
}

void vu_dev_iotlb_cleanup(struct vu_dev *dev)
{
	pthread_mutex_lock(&dev->backend_lock);
	vu_close_fds(&dev->backend_fd, 1);
	pthread_mutex_unlock(&dev->backend_lock);
	if (dev->p.iotlb && dev->iotlb.e) {
		struct vu_iotlb_stats st;

		vu_iotlb_get_stats(&dev->iotlb, &st);
		if (st.hits || st.misses)
			log_info("vhost-user: device IOTLB: %llu hits, %llu misses (%llu waited for, "
				 "%llu us each on average), %llu updates, %llu invalidations, %llu "
				 "access failures", (unsigned long long)st.hits,
				 (unsigned long long)st.misses, (unsigned long long)st.waits,
				 (unsigned long long)(st.waits ? st.wait_ns / st.waits / 1000 : 0),
				 (unsigned long long)st.updates, (unsigned long long)st.invalidations,
				 (unsigned long long)st.access_fails);
		dma_as_invalidate(&dev->iotlb_dma.as, 0, UINT64_MAX);
		vu_iotlb_as_destroy(&dev->iotlb_dma);
		vu_iotlb_destroy(&dev->iotlb);
	}
}

int vu_backend_req_fd(struct vu_dev *dev, struct vu_req *rq)
{
	if (rq->nfds != 1 || !(dev->protocol_features & BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ)))
		return -EINVAL;
	pthread_mutex_lock(&dev->backend_lock);
	vu_close_fds(&dev->backend_fd, 1);
	dev->backend_fd = rq->fds[0];
	rq->fds[0] = -1;
	pthread_mutex_unlock(&dev->backend_lock);
	return 0;
}

/* IOTLB_MSG: always answered with a u64 (0 or an errno), as the spec says. */
int vu_iotlb_msg(struct vu_dev *dev, struct vu_req *rq)
{
	const struct vhost_iotlb_msg *m = &rq->msg.payload.iotlb;
	uint64_t gpa, gpa_last;
	int r = -EINVAL;

	if (!dev->p.iotlb || !vu_dev_platform(dev) ||
	    rq->msg.hdr.size < offsetof(struct vhost_iotlb_msg, type) + 1)
		goto out;
	switch (m->type) {
	case VHOST_IOTLB_UPDATE:
		/* The whole range must be one region of the table. */
		if (!m->size || m->size - 1 > UINT64_MAX - m->uaddr ||
		    vu_mem_uva_to_gpa(&dev->gm, dev->maps, m->uaddr, &gpa) ||
		    vu_mem_uva_to_gpa(&dev->gm, dev->maps, m->uaddr + m->size - 1, &gpa_last) ||
		    gpa_last - gpa != m->size - 1)
			goto out;
		r = vu_iotlb_update(&dev->iotlb, m->iova, m->size, gpa, m->perm);
		if (r)
			goto out;
		for (unsigned int i = 0; i < dev->p.num_queues; i++) {
			struct vu_vring *vr = &dev->vrings[i];
			void *hva[3];

			if (!vr->started) {
				/* It could not start for want of this, maybe. */
				vu_vring_update(dev, i);
			} else if (vr->stale && vu_vring_map(vr, hva)) {
				/* Mapped again: where it was, it just goes on;
				 * elsewhere, it restarts on the new pages. */
				if (!memcmp(hva, vr->hva, sizeof(hva))) {
					vr->stale = false;
				} else {
					vu_vring_stop(dev, i);
					vu_vring_update(dev, i);
				}
			}
		}
		break;
	case VHOST_IOTLB_INVALIDATE:
		vu_iotlb_invalidate(&dev->iotlb, m->iova, m->size);
		dma_as_invalidate(&dev->iotlb_dma.as, m->iova, m->size);
		/* Rings hold host pointers. A guest flushes its IOTLB with
		 * rings still mapped (Linux's lazy mode does so all the time),
		 * so a covered ring is only marked: the front-end sends its
		 * pages again, and the update decides (above). A guest that
		 * unmaps a live ring for good only hurts itself: the ring's
		 * pages are its own RAM. */
		for (unsigned int i = 0; i < dev->p.num_queues; i++)
			if (dev->vrings[i].started &&
			    vq_split_rings_overlap(dev->vrings[i].desc_gpa, dev->vrings[i].avail_gpa,
						   dev->vrings[i].used_gpa, dev->vrings[i].num,
						   m->iova, m->size))
				dev->vrings[i].stale = true;
		r = 0;
		break;
	default:
		break;
	}
out:
	rq->msg.payload.u64 = r ? (uint64_t)-r : 0;
	rq->msg.hdr.size = sizeof(uint64_t);
	if (r)
		rq->err_reply = true;
	return r ? r : VU_REPLY;
}
