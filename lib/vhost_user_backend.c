/* vhost-user back-end: turns front-end requests into ring state and device
 * callbacks (contract in include/isle/vhost_user.h).
 *
 * Everything in a request is hostile until checked: payload sizes against
 * what the request needs, fd counts against what it carries, ring indexes
 * against the queue count, memory regions against each other and the size of
 * their fd, ring addresses against the region table. A request is checked
 * completely before anything changes, so a rejected one leaves the device as
 * it was. Handlers take the fds they keep out of rq->fds (set to -1);
 * vu_dispatch() closes the rest.
 *
 * Ring life cycle (spec, "Ring states"): a ring runs once it has a size,
 * addresses and a kick (an fd or "poll") and is enabled, where a ring counts
 * as enabled when VHOST_USER_F_PROTOCOL_FEATURES was not negotiated. Losing
 * any of that stops it; GET_VRING_BASE stops it and forgets the kick so only
 * a new SET_VRING_KICK restarts it. A disabled ring is stopped here (the
 * spec allows "started but disabled" processing without side effects; not
 * processing at all is the simple way to have none). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "vhost_user_backend.h"

/* A ring part must be aligned and lie in one mapping of the device's
 * address space with the access the device needs, so a device can use one
 * host pointer for it (vq_init() checks the same). Returns that pointer. */
static void *vu_ring_part(struct dma_as *as, uint64_t gpa, uint64_t len, uint64_t align,
			  unsigned int access)
{
	int err;

	return gpa & (align - 1) ? NULL : dma_map_whole(as, gpa, len, access, &err);
}

bool vu_vring_map(struct vu_vring *vr, void *hva[3])
{
	uint64_t num = vr->num;

	/* Split ring sizes (virtio 1.x, 2.7): desc 16/entry; avail and used
	 * flags + idx + ring + event index. */
	hva[0] = vu_ring_part(vr->dma, vr->desc_gpa, 16 * num, 16, DMA_READ);
	hva[1] = vu_ring_part(vr->dma, vr->avail_gpa, 6 + 2 * num, 2, DMA_READ);
	hva[2] = vu_ring_part(vr->dma, vr->used_gpa, 6 + 8 * num, 4, DMA_RW);
	return hva[0] && hva[1] && hva[2];
}

static int vu_vring_start(struct vu_dev *dev, unsigned int i)
{
	struct vu_vring *vr = &dev->vrings[i];
	uint64_t num = vr->num;
	int r;

	if (!vu_vring_map(vr, vr->hva)) {
		/* With the device IOTLB that is a miss the front-end answers
		 * next: the update retries the start. */
		if (vu_dev_platform(dev))
			log_debug("vhost-user: ring %u waits for IOTLB updates", i);
		else
			log_warn("vhost-user: ring %u not inside guest memory", i);
		return -EFAULT;
	}
	vr->stale = false;
	/* Descriptor heads index the inflight array: it must cover them. */
	if (vr->inflight && vr->inflight_size < 16 + 16 * num)
		return -EINVAL;
	if (dev->ops->queue_start) {
		r = dev->ops->queue_start(dev, i, vr);
		if (r)
			return r;
	}
	vr->started = true;
	return 0;
}

void vu_vring_stop(struct vu_dev *dev, unsigned int i)
{
	struct vu_vring *vr = &dev->vrings[i];

	if (!vr->started)
		return;
	if (dev->ops->queue_stop)
		vr->base = dev->ops->queue_stop(dev, i);
	vr->started = false;
	vr->stale = false;
}

/* Starts or stops ring i to match the rule in the header comment. */
int vu_vring_update(struct vu_dev *dev, unsigned int i)
{
	struct vu_vring *vr = &dev->vrings[i];
	bool enabled = vr->enabled || !(dev->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	bool ready = vr->num && vr->has_addr && vr->has_kick && enabled;

	if (vr->started && !ready)
		vu_vring_stop(dev, i);
	else if (!vr->started && ready)
		return vu_vring_start(dev, i);
	return 0;
}

/* Stops ring i until the next SET_VRING_KICK (spec: GET_VRING_BASE). */
static void vu_vring_halt(struct vu_dev *dev, unsigned int i)
{
	vu_vring_stop(dev, i);
	vu_close_fds(&dev->vrings[i].kick_fd, 1);
	dev->vrings[i].has_kick = false;
}

static int vu_config(struct vu_dev *dev, struct vu_req *rq)
{
	struct vhost_user_config *c = &rq->msg.payload.config;
	bool get = rq->msg.hdr.request == VHOST_USER_GET_CONFIG;
	int r;

	if (rq->msg.hdr.size < VHOST_USER_CONFIG_HDR_SIZE || c->size > VHOST_USER_MAX_CONFIG_SIZE ||
	    rq->msg.hdr.size < VHOST_USER_CONFIG_HDR_SIZE + c->size ||
	    !range_ok(c->offset, c->size, dev->p.config_size))
		return -EINVAL;
	if (get) {
		if (!dev->ops->get_config)
			return -EOPNOTSUPP;
		r = dev->ops->get_config(dev, c->offset, c->region, c->size);
		if (r)
			return r;
		rq->msg.hdr.size = VHOST_USER_CONFIG_HDR_SIZE + c->size;
		return VU_REPLY;
	}
	if (c->flags > VHOST_USER_CONFIG_TYPE_MIGRATION)
		return -EINVAL;
	if (!dev->ops->set_config)
		return -EOPNOTSUPP;
	return dev->ops->set_config(dev, c->offset, c->region, c->size, c->flags);
}

/* SET_VRING_KICK / CALL / ERR. */
static int vu_vring_fd(struct vu_dev *dev, struct vu_req *rq)
{
	uint64_t v = rq->msg.payload.u64;
	unsigned int i = v & VHOST_USER_VRING_IDX_MASK;
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	uint32_t req = rq->msg.hdr.request;
	struct vu_vring *vr;
	bool had_kick, was_started;
	int *slot, old, r;

	if (rq->msg.hdr.size < 8 || v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK |
						    VHOST_USER_VRING_NOFD_MASK) ||
	    i >= dev->p.num_queues || rq->nfds != (nofd ? 0u : 1u))
		return -EINVAL;
	vr = &dev->vrings[i];
	slot = req == VHOST_USER_SET_VRING_KICK ? &vr->kick_fd :
	       req == VHOST_USER_SET_VRING_CALL ? &vr->call_fd : &vr->err_fd;
	old = *slot;
	had_kick = vr->has_kick;
	was_started = vr->started;
	/* A new kick is a (re)start: the device picks up the fd. */
	if (req == VHOST_USER_SET_VRING_KICK || !dev->ops->queue_notifiers_changed)
		vu_vring_stop(dev, i);
	*slot = nofd ? -1 : rq->fds[0];
	if (req == VHOST_USER_SET_VRING_KICK)
		vr->has_kick = true;
	else if (vr->started)
		dev->ops->queue_notifiers_changed(dev, i, vr);
	r = vu_vring_update(dev, i);
	if (r) {
		/* The ring did not start: back to the old fd (the new one
		 * stays in rq->fds to be closed) and, best effort, running. */
		*slot = old;
		vr->has_kick = had_kick;
		if (was_started)
			vu_vring_update(dev, i);
		return r;
	}
	if (!nofd)
		rq->fds[0] = -1;
	if (old >= 0)
		close(old);
	return 0;
}

/* Requests on one ring with a vring state/addr payload. */
static int vu_vring_req(struct vu_dev *dev, struct vu_req *rq)
{
	struct vhost_vring_state *s = &rq->msg.payload.state;
	struct vhost_vring_addr *a = &rq->msg.payload.addr;
	uint32_t req = rq->msg.hdr.request;
	size_t need = req == VHOST_USER_SET_VRING_ADDR ? sizeof(*a) : sizeof(*s);
	struct vu_vring *vr, saved;
	uint64_t desc, avail, used;
	int r;

	if (rq->msg.hdr.size < need || s->index >= dev->p.num_queues)
		return -EINVAL;
	vr = &dev->vrings[s->index];
	/* A change that makes the ring ready but fails to start it is undone:
	 * the ring was stopped before and is still stopped, so the snapshot
	 * is accurate. */
	saved = *vr;
	switch (req) {
	case VHOST_USER_SET_VRING_NUM:
		if (!is_pow2(s->num) || s->num > dev->p.max_queue_size)
			return -EINVAL;
		if (vr->started)
			return -EBUSY;
		vr->num = s->num;
		break;
	case VHOST_USER_SET_VRING_ADDR:
		if (a->flags & ~(uint32_t)BIT(VHOST_VRING_F_LOG))
			return -EINVAL;
		if (vu_dev_platform(dev)) {
			/* IOVAs: the device IOTLB translates them at start. */
			desc = a->desc_user_addr;
			avail = a->avail_user_addr;
			used = a->used_user_addr;
			r = 0;
		} else {
			r = vu_mem_uva_to_gpa(&dev->gm, dev->maps, a->desc_user_addr, &desc);
		}
		if (!r && !vu_dev_platform(dev))
			r = vu_mem_uva_to_gpa(&dev->gm, dev->maps, a->avail_user_addr, &avail);
		if (!r && !vu_dev_platform(dev))
			r = vu_mem_uva_to_gpa(&dev->gm, dev->maps, a->used_user_addr, &used);
		if (r)
			return r;
		/* A running ring may only change its log flag (migration). */
		if (vr->started && (desc != vr->desc_gpa || avail != vr->avail_gpa ||
				    used != vr->used_gpa))
			return -EBUSY;
		vr->desc_gpa = desc;
		vr->avail_gpa = avail;
		vr->used_gpa = used;
		vr->log_gpa = a->log_guest_addr;
		vr->addr_flags = a->flags;
		vr->has_addr = true;
		break;
	case VHOST_USER_SET_VRING_BASE:
		if (s->num > UINT16_MAX)   /* split rings only */
			return -EINVAL;
		if (vr->started)
			return -EBUSY;
		vr->base = (uint16_t)s->num;
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		vu_vring_halt(dev, s->index);
		s->num = vr->base;
		rq->msg.hdr.size = sizeof(*s);
		return VU_REPLY;
	default:   /* VHOST_USER_SET_VRING_ENABLE */
		if (s->num > 1)
			return -EINVAL;
		vr->enabled = s->num;
		break;
	}
	r = vu_vring_update(dev, s->index);
	if (r)
		*vr = saved;
	return r;
}

static uint64_t vu_offered_features(struct vu_dev *dev)
{
	uint64_t f = dev->ops->get_features ? dev->ops->get_features(dev) : 0;

	f &= ~(BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VHOST_F_LOG_ALL));
	if (dev->p.iotlb)
		f |= BIT(VIRTIO_F_ACCESS_PLATFORM);
	return f | BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES);
}

static uint64_t vu_offered_protocol(struct vu_dev *dev)
{
	uint64_t f = VU_LIB_PROTOCOL_FEATURES;

	if (dev->ops->get_protocol_features)
		f &= dev->ops->get_protocol_features(dev);
	if (!dev->ops->get_config)
		f &= ~BIT(VHOST_USER_PROTOCOL_F_CONFIG);
	if (!dev->ops->inflight_changed)
		f &= ~BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	if (dev->p.iotlb)   /* misses go on the back-end channel */
		f |= BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	return f;
}

static int vu_reply_u64(struct vu_req *rq, uint64_t v)
{
	rq->msg.payload.u64 = v;
	rq->msg.hdr.size = sizeof(v);
	return VU_REPLY;
}

static int vu_handle(struct vu_dev *dev, struct vu_req *rq)
{
	uint32_t req = rq->msg.hdr.request;
	uint64_t v = rq->msg.payload.u64;
	bool has_u64 = rq->msg.hdr.size >= sizeof(uint64_t);
	int r;

	switch (req) {
	case VHOST_USER_SET_MEM_TABLE:
		return vu_set_mem_table(dev, rq);
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return vu_vring_fd(dev, rq);
	case VHOST_USER_SET_INFLIGHT_FD:
		return rq->nfds == 1 ? vu_inflight(dev, rq, rq->fds[0]) : -EINVAL;
	case VHOST_USER_SET_BACKEND_REQ_FD:
		return vu_backend_req_fd(dev, rq);
	}
	if (!(vu_request_kind(req) & VU_REQ_BACKEND))
		return VU_UNKNOWN;
	if (rq->nfds)   /* nothing below carries fds */
		return -EINVAL;
	switch (req) {
	case VHOST_USER_GET_FEATURES:
		return vu_reply_u64(rq, vu_offered_features(dev));
	case VHOST_USER_SET_FEATURES:
		if (!has_u64 || v & ~vu_offered_features(dev))
			return -EINVAL;
		if (dev->ops->set_features) {
			r = dev->ops->set_features(dev, v & ~BIT(VHOST_USER_F_PROTOCOL_FEATURES));
			if (r)
				return r;
		}
		/* Ring addresses change meaning with ACCESS_PLATFORM: only
		 * while every ring is stopped. */
		if ((v ^ dev->features) & BIT(VIRTIO_F_ACCESS_PLATFORM))
			for (unsigned int i = 0; i < dev->p.num_queues; i++)
				if (dev->vrings[i].started)
					return -EBUSY;
		dev->features = v;
		for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
			dev->vrings[i].dma = vu_dev_platform(dev) ? &dev->iotlb_dma.as : &dev->dma;
		/* The device took the features; a ring that cannot start
		 * now (logged) waits for its next change. */
		for (unsigned int i = 0; i < dev->p.num_queues; i++)
			vu_vring_update(dev, i);
		return 0;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		return vu_reply_u64(rq, vu_offered_protocol(dev));
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (!has_u64 || v & ~vu_offered_protocol(dev))
			return -EINVAL;
		dev->protocol_features = v;
		return 0;
	case VHOST_USER_SET_OWNER:
		dev->owned = true;
		return 0;
	case VHOST_USER_RESET_OWNER:
		/* Deprecated; the spec suggests disabling all rings. */
		for (unsigned int i = 0; i < dev->p.num_queues; i++) {
			vu_vring_halt(dev, i);
			dev->vrings[i].enabled = false;
		}
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		return vu_reply_u64(rq, dev->p.num_queues);
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		return vu_reply_u64(rq, VHOST_USER_MAX_RAM_SLOTS);
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_ADDR:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return vu_vring_req(dev, rq);
	case VHOST_USER_IOTLB_MSG:
		return vu_iotlb_msg(dev, rq);
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		r = vu_config(dev, rq);
		/* The spec's GET_CONFIG error reply: an empty payload. */
		if (r < 0 && req == VHOST_USER_GET_CONFIG) {
			rq->msg.hdr.size = 0;
			rq->err_reply = true;
		}
		return r;
	case VHOST_USER_GET_INFLIGHT_FD:
		r = vu_inflight(dev, rq, -1);
		/* mmap_size 0 tells the front-end there is no buffer. */
		if (r < 0) {
			memset(&rq->msg.payload.inflight, 0, sizeof(rq->msg.payload.inflight));
			rq->msg.hdr.size = sizeof(rq->msg.payload.inflight);
			rq->err_reply = true;
		}
		return r;
	}
	return VU_UNKNOWN;
}

int vu_dispatch(struct vu_dev *dev)
{
	struct vu_req rq = { .reply_fd = -1 };
	unsigned int kind;
	bool ack;
	int r, s;

	r = vu_msg_recv(dev->sock, &rq.msg, rq.fds, &rq.nfds);
	if (r)
		return r;
	kind = vu_request_kind(rq.msg.hdr.request);
	/* REPLY_ACK: a u64 status for requests without a reply body. */
	ack = rq.msg.hdr.flags & VHOST_USER_NEED_REPLY_MASK && !(kind & VU_REQ_REPLY);
	log_debug("vhost-user: %s (%u) size %u fds %u", vu_request_name(rq.msg.hdr.request),
		  rq.msg.hdr.request, rq.msg.hdr.size, rq.nfds);
	r = vu_handle(dev, &rq);
	vu_close_fds(rq.fds, rq.nfds);
	if (r == VU_UNKNOWN) {
		/* Not implemented: ignored, unless an answer is due; then a
		 * nack, so the front-end does not wait forever. */
		log_warn("vhost-user: ignoring request %s (%u)",
			 vu_request_name(rq.msg.hdr.request), rq.msg.hdr.request);
		if (!ack && !(kind & VU_REQ_REPLY))
			return 0;
		vu_reply_u64(&rq, ENOSYS);
		r = 0;
	} else if (r < 0) {
		log_warn("vhost-user: %s rejected: %s", vu_request_name(rq.msg.hdr.request),
			 strerror(-r));
		if (!rq.err_reply && !ack)
			return r;
		if (!rq.err_reply)
			vu_reply_u64(&rq, (uint64_t)-r);
	} else if (r != VU_REPLY) {
		if (!ack)
			return 0;
		vu_reply_u64(&rq, 0);
	}
	rq.msg.hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	s = vu_msg_send(dev->sock, &rq.msg, &rq.reply_fd, rq.reply_fd >= 0);
	return r < 0 ? r : s;
}

int vu_dev_init(struct vu_dev *dev, int sock, const struct vu_dev_ops *ops,
		const struct vu_dev_params *p, void *priv)
{
	if (sock < 0 || !ops || !p->num_queues || p->num_queues > VU_MAX_QUEUES ||
	    !is_pow2(p->max_queue_size) || p->max_queue_size > VU_MAX_QUEUE_SIZE)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	dev->sock = sock;
	dev->ops = ops;
	dev->priv = priv;
	dev->p = *p;
	dev->inflight.fd = -1;
	/* Guest addresses from the front-end are guest-physical: the
	 * identity over the table it sends (IOVAs, with ACCESS_PLATFORM: the
	 * device IOTLB over the same table). */
	dma_as_identity_init(&dev->dma, &dev->gm);
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		dev->vrings[i] = (struct vu_vring){ .dma = &dev->dma, .kick_fd = -1,
						    .call_fd = -1, .err_fd = -1 };
	return vu_dev_iotlb_init(dev);
}

void vu_dev_cleanup(struct vu_dev *dev)
{
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++) {
		struct vu_vring *vr = &dev->vrings[i];

		vu_vring_halt(dev, i);
		vu_close_fds(&vr->call_fd, 1);
		vu_close_fds(&vr->err_fd, 1);
		*vr = (struct vu_vring){ .dma = &dev->dma, .kick_fd = -1, .call_fd = -1,
					 .err_fd = -1 };
	}
	vu_inflight_drop(dev);
	if (dev->gm.nr && dev->ops->mem_table_changed) {
		struct gmem empty = { .nr = 0 };

		dev->ops->mem_table_changed(dev, &empty);
	}
	if (dev->gm.nr)
		dma_as_invalidate(&dev->dma, 0, UINT64_MAX);
	vu_mem_unmap(&dev->gm, dev->maps);
	vu_dev_iotlb_cleanup(dev);
	dev->features = dev->protocol_features = 0;
	dev->owned = false;
}

bool vu_dev_platform(const struct vu_dev *dev)
{
	return dev->features & BIT(VIRTIO_F_ACCESS_PLATFORM);
}

int vu_vring_notify(const struct vu_vring *vr)
{
	if (vr->call_fd < 0)
		return 0;
	if (eventfd_write(vr->call_fd, 1) < 0)
		return -errno;
	return 0;
}
