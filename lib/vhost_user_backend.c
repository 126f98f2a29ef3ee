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
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"

#define BIT(n) (1ULL << (n))
#define VU_LIB_PROTOCOL_FEATURES                                              \
	(BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |     \
	 BIT(VHOST_USER_PROTOCOL_F_CONFIG) | BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
/* Handler results besides 0 / -errno. */
#define VU_REPLY   1   /* rq->msg holds a reply */
#define VU_UNKNOWN 2   /* not a request this back-end implements */

/* What each implemented request carries: fds, or a reply body. */
#define VU_K_NOFD 1
#define VU_K_FDS  2
#define VU_K_BODY 4
static const uint8_t vu_req_kind[] = {
	[VHOST_USER_GET_FEATURES] = VU_K_NOFD | VU_K_BODY,
	[VHOST_USER_SET_FEATURES] = VU_K_NOFD,
	[VHOST_USER_SET_OWNER] = VU_K_NOFD,
	[VHOST_USER_RESET_OWNER] = VU_K_NOFD,
	[VHOST_USER_SET_MEM_TABLE] = VU_K_FDS,
	[VHOST_USER_SET_VRING_NUM] = VU_K_NOFD,
	[VHOST_USER_SET_VRING_ADDR] = VU_K_NOFD,
	[VHOST_USER_SET_VRING_BASE] = VU_K_NOFD,
	[VHOST_USER_GET_VRING_BASE] = VU_K_NOFD | VU_K_BODY,
	[VHOST_USER_SET_VRING_KICK] = VU_K_FDS,
	[VHOST_USER_SET_VRING_CALL] = VU_K_FDS,
	[VHOST_USER_SET_VRING_ERR] = VU_K_FDS,
	[VHOST_USER_GET_PROTOCOL_FEATURES] = VU_K_NOFD | VU_K_BODY,
	[VHOST_USER_SET_PROTOCOL_FEATURES] = VU_K_NOFD,
	[VHOST_USER_GET_QUEUE_NUM] = VU_K_NOFD | VU_K_BODY,
	[VHOST_USER_SET_VRING_ENABLE] = VU_K_NOFD,
	[VHOST_USER_GET_CONFIG] = VU_K_NOFD | VU_K_BODY,
	[VHOST_USER_SET_CONFIG] = VU_K_NOFD,
	[VHOST_USER_GET_INFLIGHT_FD] = VU_K_NOFD | VU_K_BODY,
	[VHOST_USER_SET_INFLIGHT_FD] = VU_K_FDS,
	[VHOST_USER_GET_MAX_MEM_SLOTS] = VU_K_NOFD | VU_K_BODY,
};

static unsigned int vu_kind(uint32_t req)
{
	return req < ARRAY_SIZE(vu_req_kind) ? vu_req_kind[req] : 0;
}

struct vu_req {
	struct vhost_user_msg msg;   /* request in, reply out */
	int fds[VHOST_USER_MAX_FDS];
	unsigned int nfds;
	int reply_fd;                /* attached to the reply, not owned */
	bool err_reply;              /* on error, send rq->msg anyway */
};

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

uint64_t vu_inflight_queue_size(uint16_t queue_size)
{
	return ALIGN_UP(16 + 16 * (uint64_t)queue_size, (uint64_t)VU_INFLIGHT_ALIGN);
}

/* Maps len bytes of fd at offset (any alignment) after checking they lie
 * inside the file. *hva gets the address of offset itself. */
static int vu_map_fd(int fd, uint64_t offset, uint64_t len, void **base, size_t *maplen,
		     void **hva)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), align, start;
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!len || st.st_size < 0 || !range_ok(offset, len, (uint64_t)st.st_size))
		return -EINVAL;
	/* hugetlbfs wants huge-page-aligned offsets and reports that size. */
	align = is_pow2((uint64_t)st.st_blksize) && (uint64_t)st.st_blksize > page ?
		(uint64_t)st.st_blksize : page;
	start = ALIGN_DOWN(offset, align);
	if (offset - start + len > SIZE_MAX)
		return -ENOMEM;
	p = mmap(NULL, offset - start + len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		 fd, (off_t)start);
	if (p == MAP_FAILED)
		return -errno;
	*base = p;
	*maplen = offset - start + len;
	*hva = (uint8_t *)p + (offset - start);
	return 0;
}

/* Unmaps a region table and closes its fds. */
static void vu_unmap_table(struct gmem *gm, struct vu_map *maps)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		munmap(maps[i].base, maps[i].len);
		if (gm->regions[i].fd >= 0)
			close(gm->regions[i].fd);
	}
	gm->nr = 0;
}

static int vu_uva_to_gpa(const struct vu_dev *dev, uint64_t uva, uint64_t *gpa)
{
	for (unsigned int i = 0; i < dev->gm.nr; i++) {
		uint64_t off = uva - dev->maps[i].uva;

		if (uva >= dev->maps[i].uva && off < dev->gm.regions[i].size) {
			*gpa = dev->gm.regions[i].gpa + off;
			return 0;
		}
	}
	return -EFAULT;
}

/* A ring part must be aligned and lie in one region, so a device can use
 * one host pointer for it. */
static bool vu_ring_part_ok(const struct gmem *gm, uint64_t gpa, uint64_t len, uint64_t align)
{
	uint64_t n = len;

	return !(gpa & (align - 1)) && gmem_gpa_to_hva(gm, gpa, &n) && n == len;
}

static int vu_vring_start(struct vu_dev *dev, unsigned int i)
{
	struct vu_vring *vr = &dev->vrings[i];
	uint64_t num = vr->num;
	int r;

	/* Split ring sizes (virtio 1.x, 2.7): desc 16/entry; avail and used
	 * flags + idx + ring + event index. */
	if (!vu_ring_part_ok(&dev->gm, vr->desc_gpa, 16 * num, 16) ||
	    !vu_ring_part_ok(&dev->gm, vr->avail_gpa, 6 + 2 * num, 2) ||
	    !vu_ring_part_ok(&dev->gm, vr->used_gpa, 6 + 8 * num, 4)) {
		log_warn("vhost-user: ring %u not inside guest memory", i);
		return -EFAULT;
	}
	if (dev->ops->queue_start) {
		r = dev->ops->queue_start(dev, i, vr);
		if (r)
			return r;
	}
	vr->started = true;
	return 0;
}

static void vu_vring_stop(struct vu_dev *dev, unsigned int i)
{
	struct vu_vring *vr = &dev->vrings[i];

	if (!vr->started)
		return;
	if (dev->ops->queue_stop)
		vr->base = dev->ops->queue_stop(dev, i);
	vr->started = false;
}

/* Starts or stops ring i to match the rule in the header comment. */
static int vu_vring_update(struct vu_dev *dev, unsigned int i)
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

static void vu_vring_reset(struct vu_dev *dev, unsigned int i)
{
	struct vu_vring *vr = &dev->vrings[i];

	vu_vring_stop(dev, i);
	vu_close_fds(&vr->kick_fd, 1);
	vu_close_fds(&vr->call_fd, 1);
	vu_close_fds(&vr->err_fd, 1);
	*vr = (struct vu_vring){ .gm = &dev->gm, .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
}

static int vu_set_mem_table(struct vu_dev *dev, struct vu_req *rq)
{
	const struct vhost_user_memory *m = &rq->msg.payload.memory;
	struct gmem ngm = { .nr = 0 }, old;
	struct vu_map nmaps[GMEM_MAX_REGIONS], old_maps[GMEM_MAX_REGIONS];
	uint32_t n = m->nregions;
	int r = 0;

	if (rq->msg.hdr.size < 8 || n > VHOST_USER_MAX_RAM_SLOTS ||
	    rq->msg.hdr.size < 8 + n * sizeof(m->regions[0]) || rq->nfds != n)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		const struct vhost_user_mem_region *a = &m->regions[i];

		if (!a->memory_size || a->guest_phys_addr + a->memory_size < a->guest_phys_addr ||
		    a->userspace_addr + a->memory_size < a->userspace_addr)
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++) {
			const struct vhost_user_mem_region *b = &m->regions[j];

			/* Overlapping guest ranges are ambiguous, and so are
			 * user ranges: both are used to translate. */
			if (a->guest_phys_addr < b->guest_phys_addr + b->memory_size &&
			    b->guest_phys_addr < a->guest_phys_addr + a->memory_size)
				return -EINVAL;
			if (a->userspace_addr < b->userspace_addr + b->memory_size &&
			    b->userspace_addr < a->userspace_addr + a->memory_size)
				return -EINVAL;
		}
	}
	for (uint32_t i = 0; i < n && !r; i++) {
		const struct vhost_user_mem_region *a = &m->regions[i];
		void *hva;

		r = vu_map_fd(rq->fds[i], a->mmap_offset, a->memory_size, &nmaps[i].base,
			      &nmaps[i].len, &hva);
		if (r)
			break;
		nmaps[i].uva = a->userspace_addr;
		r = gmem_add(&ngm, a->guest_phys_addr, a->memory_size, hva, rq->fds[i],
			     a->mmap_offset);
		if (r)
			munmap(nmaps[i].base, nmaps[i].len);
	}
	if (r) {
		/* The fds stay in rq->fds for vu_dispatch to close. */
		for (unsigned int i = 0; i < ngm.nr; i++)
			munmap(nmaps[i].base, nmaps[i].len);
		return r;
	}
	for (uint32_t i = 0; i < n; i++)
		rq->fds[i] = -1;
	old = dev->gm;
	memcpy(old_maps, dev->maps, sizeof(old_maps));
	dev->gm = ngm;
	memcpy(dev->maps, nmaps, sizeof(nmaps));
	if (dev->ops->mem_table_changed)
		dev->ops->mem_table_changed(dev, &dev->gm);
	vu_unmap_table(&old, old_maps);
	return 0;
}

static void vu_inflight_drop(struct vu_dev *dev)
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

/* GET_INFLIGHT_FD (fd < 0: make a new buffer) or SET_INFLIGHT_FD. */
static int vu_inflight(struct vu_dev *dev, struct vu_req *rq, int fd)
{
	struct vhost_user_inflight *in = &rq->msg.payload.inflight;
	bool fresh = fd < 0;
	uint64_t qsz = vu_inflight_queue_size(in->queue_size), total, off = 0;
	struct vu_inflight_info info;
	size_t len;
	void *base, *addr;
	int r;

	if (rq->msg.hdr.size < VHOST_USER_INFLIGHT_SIZE || !dev->ops->inflight_changed)
		return -EINVAL;
	if (!in->num_queues || in->num_queues > dev->p.num_queues ||
	    !is_pow2(in->queue_size) || in->queue_size > dev->p.max_queue_size)
		return -EINVAL;
	for (unsigned int i = 0; i < dev->p.num_queues; i++)
		if (dev->vrings[i].started)   /* they point into the old buffer */
			return -EBUSY;
	total = qsz * in->num_queues;
	if (fresh) {
		fd = memfd_create("vhost-user-inflight", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)total) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
	} else {
		if (in->mmap_size < total)
			return -EINVAL;
		off = in->mmap_offset;
	}
	/* Map only what the queues use; the file must hold it. */
	r = vu_map_fd(fd, off, total, &base, &len, &addr);
	if (r) {
		if (fresh)
			close(fd);
		return r;
	}
	for (unsigned int q = 0; q < in->num_queues; q++) {
		uint8_t *h = (uint8_t *)addr + q * qsz;
		uint16_t version, desc_num;

		memcpy(&version, h + 8, 2);
		memcpy(&desc_num, h + 10, 2);
		if (version > 1 || (version == 1 && desc_num != in->queue_size)) {
			munmap(base, len);   /* a layout we did not write */
			if (fresh)
				close(fd);
			return -EINVAL;
		}
		if (!version) {
			memset(h, 0, 16);
			version = 1;
			memcpy(h + 8, &version, 2);
			memcpy(h + 10, &in->queue_size, 2);
		}
	}
	info = (struct vu_inflight_info){
		.addr = addr, .queue_region_size = qsz, .num_queues = in->num_queues,
		.queue_size = in->queue_size, .fresh = fresh,
	};
	/* The device may refuse; then the old buffer stays. No ring runs, so
	 * nothing uses either buffer meanwhile. */
	r = dev->ops->inflight_changed(dev, &info);
	if (r) {
		munmap(base, len);
		if (fresh)
			close(fd);
		return r;
	}
	vu_inflight_drop(dev);
	dev->inflight.fd = fd;
	dev->inflight.base = base;
	dev->inflight.len = len;
	dev->inflight.info = info;
	for (unsigned int q = 0; q < in->num_queues; q++) {
		dev->vrings[q].inflight = (uint8_t *)addr + q * qsz;
		dev->vrings[q].inflight_size = qsz;
	}
	if (!fresh)
		rq->fds[0] = -1;
	if (fresh) {
		*in = (struct vhost_user_inflight){ .mmap_size = total, .mmap_offset = 0,
			.num_queues = in->num_queues, .queue_size = in->queue_size };
		rq->reply_fd = fd;
		return VU_REPLY;
	}
	return 0;
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
	int *slot, old;

	if (rq->msg.hdr.size < 8 || v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK |
						    VHOST_USER_VRING_NOFD_MASK) ||
	    i >= dev->p.num_queues || rq->nfds != (nofd ? 0u : 1u))
		return -EINVAL;
	vr = &dev->vrings[i];
	slot = req == VHOST_USER_SET_VRING_KICK ? &vr->kick_fd :
	       req == VHOST_USER_SET_VRING_CALL ? &vr->call_fd : &vr->err_fd;
	old = *slot;
	if (req == VHOST_USER_SET_VRING_KICK) {
		/* A new kick is a (re)start: the device picks up the fd. */
		vu_vring_stop(dev, i);
		*slot = nofd ? -1 : rq->fds[0];
		vr->has_kick = true;
	} else {
		*slot = nofd ? -1 : rq->fds[0];
		if (vr->started && dev->ops->queue_notifiers_changed) {
			dev->ops->queue_notifiers_changed(dev, i, vr);
		} else if (vr->started) {
			vu_vring_stop(dev, i);
		}
	}
	if (!nofd)
		rq->fds[0] = -1;
	if (old >= 0)
		close(old);
	return vu_vring_update(dev, i);
}

/* Requests on one ring with a vring state/addr payload. */
static int vu_vring_req(struct vu_dev *dev, struct vu_req *rq)
{
	struct vhost_vring_state *s = &rq->msg.payload.state;
	struct vhost_vring_addr *a = &rq->msg.payload.addr;
	uint32_t req = rq->msg.hdr.request;
	size_t need = req == VHOST_USER_SET_VRING_ADDR ? sizeof(*a) : sizeof(*s);
	struct vu_vring *vr;
	uint64_t desc, avail, used;
	int r;

	if (rq->msg.hdr.size < need || s->index >= dev->p.num_queues)
		return -EINVAL;
	vr = &dev->vrings[s->index];
	switch (req) {
	case VHOST_USER_SET_VRING_NUM:
		if (!is_pow2(s->num) || s->num > dev->p.max_queue_size)
			return -EINVAL;
		if (vr->started)
			return -EBUSY;
		vr->num = s->num;
		return vu_vring_update(dev, s->index);
	case VHOST_USER_SET_VRING_ADDR:
		if (a->flags & ~(uint32_t)BIT(VHOST_VRING_F_LOG))
			return -EINVAL;
		r = vu_uva_to_gpa(dev, a->desc_user_addr, &desc);
		if (!r)
			r = vu_uva_to_gpa(dev, a->avail_user_addr, &avail);
		if (!r)
			r = vu_uva_to_gpa(dev, a->used_user_addr, &used);
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
		return vu_vring_update(dev, s->index);
	case VHOST_USER_SET_VRING_BASE:
		if (s->num > UINT16_MAX)   /* split rings only */
			return -EINVAL;
		if (vr->started)
			return -EBUSY;
		vr->base = (uint16_t)s->num;
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		vu_vring_stop(dev, s->index);
		vu_close_fds(&vr->kick_fd, 1);
		vr->has_kick = false;
		s->num = vr->base;
		rq->msg.hdr.size = sizeof(*s);
		return VU_REPLY;
	default:   /* VHOST_USER_SET_VRING_ENABLE */
		if (s->num > 1)
			return -EINVAL;
		vr->enabled = s->num;
		return vu_vring_update(dev, s->index);
	}
}

static uint64_t vu_offered_features(struct vu_dev *dev)
{
	uint64_t f = dev->ops->get_features ? dev->ops->get_features(dev) : 0;

	f &= ~(BIT(VIRTIO_F_ACCESS_PLATFORM) | BIT(VHOST_F_LOG_ALL));
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
	}
	if (!vu_kind(req))
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
		dev->features = v;
		for (unsigned int i = 0; i < dev->p.num_queues; i++) {
			r = vu_vring_update(dev, i);
			if (r)
				return r;
		}
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
			vu_vring_stop(dev, i);
			vu_close_fds(&dev->vrings[i].kick_fd, 1);
			dev->vrings[i].has_kick = false;
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
	bool need_reply, send;
	uint32_t req;
	int r, s;

	r = vu_msg_recv(dev->sock, &rq.msg, rq.fds, &rq.nfds);
	if (r)
		return r;
	req = rq.msg.hdr.request;
	need_reply = rq.msg.hdr.flags & VHOST_USER_NEED_REPLY_MASK;
	log_debug("vhost-user: %s (%u) size %u fds %u", vu_request_name(req), req,
		  rq.msg.hdr.size, rq.nfds);
	r = vu_handle(dev, &rq);
	vu_close_fds(rq.fds, rq.nfds);
	if (r == VU_UNKNOWN) {
		/* Unknown or unsupported: not an error unless it asked for
		 * an answer, which is then a nack. */
		log_warn("vhost-user: ignoring request %s (%u)", vu_request_name(req), req);
		r = 0;
		if (!need_reply)
			return 0;
		rq.msg.payload.u64 = ENOSYS;
		rq.msg.hdr.size = sizeof(uint64_t);
		send = true;
	} else if (r == VU_REPLY || (r < 0 && rq.err_reply)) {
		send = true;
	} else if (need_reply && !(vu_kind(req) & VU_K_BODY)) {
		vu_reply_u64(&rq, r < 0 ? (uint64_t)-r : 0);   /* REPLY_ACK */
		send = true;
	} else {
		send = false;
	}
	if (r < 0)
		log_warn("vhost-user: %s rejected: %s", vu_request_name(req), strerror(-r));
	if (!send)
		return r < 0 ? r : 0;
	rq.msg.hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	s = vu_msg_send(dev->sock, &rq.msg, &rq.reply_fd, rq.reply_fd >= 0 ? 1 : 0);
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
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		dev->vrings[i] = (struct vu_vring){ .gm = &dev->gm, .kick_fd = -1,
						    .call_fd = -1, .err_fd = -1 };
	return 0;
}

void vu_dev_cleanup(struct vu_dev *dev)
{
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		vu_vring_reset(dev, i);
	vu_inflight_drop(dev);
	if (dev->gm.nr && dev->ops->mem_table_changed) {
		struct gmem empty = { .nr = 0 };

		dev->ops->mem_table_changed(dev, &empty);
	}
	vu_unmap_table(&dev->gm, dev->maps);
	dev->features = dev->protocol_features = 0;
	dev->owned = false;
}

int vu_vring_notify(const struct vu_vring *vr)
{
	if (vr->call_fd < 0)
		return 0;
	if (eventfd_write(vr->call_fd, 1) < 0)
		return -errno;
	return 0;
}
