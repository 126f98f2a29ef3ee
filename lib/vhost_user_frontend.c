/* vhost-user front-end, for the VMM (contract and the address convention in
 * include/isle/vhost_user.h): one request per call, then the reply where
 * the spec has one, or the REPLY_ACK ack once that protocol feature was
 * negotiated. The back-end is another process and may misbehave: a reply is
 * checked for its request code, reply flag, size and fds, and anything
 * unexpected is -EPROTO with every received fd closed. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"

int vhu_front_connect(struct vhu_front *f, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(s);
		return r;
	}
	vhu_front_init(f, s);
	return 0;
}

void vhu_front_init(struct vhu_front *f, int sock)
{
	f->sock = sock;
	f->protocol_features = 0;
}

void vhu_front_close(struct vhu_front *f)
{
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
}

static void vhu_msg_init(struct vhost_user_msg *m, uint32_t request, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = request;
	m->hdr.flags = VHOST_USER_VERSION;
	m->hdr.size = size;
}

/* Reads the reply to request: at least min_size bytes and no fds. */
static int vhu_recv_reply(struct vhu_front *f, uint32_t request, struct vhost_user_msg *m,
			  uint32_t min_size)
{
	int rfds[VHOST_USER_MAX_FDS];
	unsigned int n;
	int r;

	r = vu_msg_recv(f->sock, m, rfds, &n);
	if (r)
		return r;
	if (m->hdr.request != request || !(m->hdr.flags & VHOST_USER_REPLY_MASK) ||
	    m->hdr.size < min_size || n) {
		log_warn("vhost-user: bad reply to %s (request %u size %u fds %u)",
			 vu_request_name(request), m->hdr.request, m->hdr.size, n);
		vu_close_fds(rfds, n);
		return -EPROTO;
	}
	return 0;
}

/* Sends a request that has no reply body; with REPLY_ACK negotiated it asks
 * for and checks the ack, so the call returns once the back-end acted. */
static int vhu_send(struct vhu_front *f, struct vhost_user_msg *m, const int *fds,
		    unsigned int nfds)
{
	bool ack = f->protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	uint32_t request = m->hdr.request;
	int r;

	if (ack)
		m->hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	r = vu_msg_send(f->sock, m, fds, nfds);
	if (r || !ack)
		return r;
	r = vhu_recv_reply(f, request, m, sizeof(uint64_t));
	if (r)
		return r;
	if (m->payload.u64) {
		log_warn("vhost-user: back-end nacked %s (%llu)", vu_request_name(request),
			 (unsigned long long)m->payload.u64);
		return -EIO;
	}
	return 0;
}

/* Sends a request whose reply carries a u64. */
static int vhu_get_u64(struct vhu_front *f, uint32_t request, uint64_t *v)
{
	struct vhost_user_msg m;
	int r;

	vhu_msg_init(&m, request, 0);
	r = vu_msg_send(f->sock, &m, NULL, 0);
	if (!r)
		r = vhu_recv_reply(f, request, &m, sizeof(uint64_t));
	if (!r)
		*v = m.payload.u64;
	return r;
}

static int vhu_set_u64(struct vhu_front *f, uint32_t request, uint64_t v, const int *fds,
		       unsigned int nfds)
{
	struct vhost_user_msg m;

	vhu_msg_init(&m, request, sizeof(uint64_t));
	m.payload.u64 = v;
	return vhu_send(f, &m, fds, nfds);
}

static int vhu_set_state(struct vhu_front *f, uint32_t request, unsigned int index,
			 unsigned int num)
{
	struct vhost_user_msg m;

	vhu_msg_init(&m, request, sizeof(m.payload.state));
	m.payload.state.index = index;
	m.payload.state.num = num;
	return vhu_send(f, &m, NULL, 0);
}

int vhu_front_get_features(struct vhu_front *f, uint64_t *features)
{
	return vhu_get_u64(f, VHOST_USER_GET_FEATURES, features);
}

int vhu_front_set_features(struct vhu_front *f, uint64_t features)
{
	return vhu_set_u64(f, VHOST_USER_SET_FEATURES, features, NULL, 0);
}

int vhu_front_get_protocol_features(struct vhu_front *f, uint64_t *features)
{
	return vhu_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES, features);
}

int vhu_front_set_protocol_features(struct vhu_front *f, uint64_t features)
{
	int r;

	/* Not acked: REPLY_ACK only applies once this message is through. */
	f->protocol_features = 0;
	r = vhu_set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, features, NULL, 0);
	if (!r)
		f->protocol_features = features;
	return r;
}

int vhu_front_set_owner(struct vhu_front *f)
{
	struct vhost_user_msg m;

	vhu_msg_init(&m, VHOST_USER_SET_OWNER, 0);
	return vhu_send(f, &m, NULL, 0);
}

int vhu_front_get_queue_num(struct vhu_front *f, uint64_t *num)
{
	return vhu_get_u64(f, VHOST_USER_GET_QUEUE_NUM, num);
}

int vhu_front_set_mem_table(struct vhu_front *f, const struct gmem *gm)
{
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];

	if (gm->nr > VHOST_USER_MAX_RAM_SLOTS)
		return -EINVAL;
	vhu_msg_init(&m, VHOST_USER_SET_MEM_TABLE,
		     8 + gm->nr * sizeof(m.payload.memory.regions[0]));
	m.payload.memory.nregions = gm->nr;
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gmem_region *g = &gm->regions[i];

		if (g->fd < 0)
			return -EINVAL;   /* the back-end can only map fds */
		m.payload.memory.regions[i] = (struct vhost_user_mem_region){
			.guest_phys_addr = g->gpa, .memory_size = g->size,
			.userspace_addr = (uintptr_t)g->hva, .mmap_offset = g->fd_offset,
		};
		fds[i] = g->fd;
	}
	return vhu_send(f, &m, fds, gm->nr);
}

int vhu_front_set_vring_num(struct vhu_front *f, unsigned int index, unsigned int num)
{
	return vhu_set_state(f, VHOST_USER_SET_VRING_NUM, index, num);
}

/* Guest-physical → the "user address" the back-end sees (see header);
 * 0 when gpa is not guest RAM. */
static uint64_t vhu_gpa_to_uva(const struct gmem *gm, uint64_t gpa)
{
	uint64_t len = 1;

	return (uintptr_t)gmem_gpa_to_hva(gm, gpa, &len);
}

int vhu_front_set_vring_addr(struct vhu_front *f, const struct gmem *gm, unsigned int index,
			     uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	return vhu_front_set_vring_uva(f, index, vhu_gpa_to_uva(gm, desc_gpa),
				       vhu_gpa_to_uva(gm, avail_gpa),
				       vhu_gpa_to_uva(gm, used_gpa), used_gpa);
}

int vhu_front_set_vring_uva(struct vhu_front *f, unsigned int index, uint64_t desc_uva,
			    uint64_t avail_uva, uint64_t used_uva, uint64_t log_addr)
{
	struct vhost_user_msg m;
	struct vhost_vring_addr *a = &m.payload.addr;

	if (!desc_uva || !avail_uva || !used_uva)
		return -EFAULT;
	vhu_msg_init(&m, VHOST_USER_SET_VRING_ADDR, sizeof(*a));
	a->index = index;
	a->log_guest_addr = log_addr;   /* QEMU sends the used ring's; logging is off */
	a->desc_user_addr = desc_uva;
	a->avail_user_addr = avail_uva;
	a->used_user_addr = used_uva;
	return vhu_send(f, &m, NULL, 0);
}

int vhu_front_set_vring_iova(struct vhu_front *f, unsigned int index, uint64_t desc,
			     uint64_t avail, uint64_t used)
{
	struct vhost_user_msg m;
	struct vhost_vring_addr *a = &m.payload.addr;

	vhu_msg_init(&m, VHOST_USER_SET_VRING_ADDR, sizeof(*a));
	a->index = index;
	a->log_guest_addr = used;
	a->desc_user_addr = desc;
	a->avail_user_addr = avail;
	a->used_user_addr = used;
	return vhu_send(f, &m, NULL, 0);
}

int vhu_front_set_vring_base(struct vhu_front *f, unsigned int index, uint16_t base)
{
	return vhu_set_state(f, VHOST_USER_SET_VRING_BASE, index, base);
}

int vhu_front_get_vring_base(struct vhu_front *f, unsigned int index, uint16_t *base)
{
	struct vhost_user_msg m;
	int r;

	vhu_msg_init(&m, VHOST_USER_GET_VRING_BASE, sizeof(m.payload.state));
	m.payload.state.index = index;
	r = vu_msg_send(f->sock, &m, NULL, 0);
	if (!r)
		r = vhu_recv_reply(f, VHOST_USER_GET_VRING_BASE, &m, sizeof(m.payload.state));
	if (r)
		return r;
	if (m.payload.state.index != index || m.payload.state.num > UINT16_MAX)
		return -EPROTO;
	*base = (uint16_t)m.payload.state.num;
	return 0;
}

static int vhu_vring_fd(struct vhu_front *f, uint32_t request, unsigned int index, int fd)
{
	uint64_t v = index;

	if (index > VHOST_USER_VRING_IDX_MASK)
		return -EINVAL;
	if (fd < 0)
		v |= VHOST_USER_VRING_NOFD_MASK;
	return vhu_set_u64(f, request, v, &fd, fd < 0 ? 0 : 1);
}

int vhu_front_set_vring_kick(struct vhu_front *f, unsigned int index, int fd)
{
	return vhu_vring_fd(f, VHOST_USER_SET_VRING_KICK, index, fd);
}

int vhu_front_set_vring_call(struct vhu_front *f, unsigned int index, int fd)
{
	return vhu_vring_fd(f, VHOST_USER_SET_VRING_CALL, index, fd);
}

int vhu_front_set_vring_err(struct vhu_front *f, unsigned int index, int fd)
{
	return vhu_vring_fd(f, VHOST_USER_SET_VRING_ERR, index, fd);
}

int vhu_front_set_vring_enable(struct vhu_front *f, unsigned int index, bool enable)
{
	return vhu_set_state(f, VHOST_USER_SET_VRING_ENABLE, index, enable);
}

int vhu_front_get_config(struct vhu_front *f, uint32_t offset, void *buf, uint32_t len)
{
	struct vhost_user_msg m;
	int r;

	if (len > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	vhu_msg_init(&m, VHOST_USER_GET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	r = vu_msg_send(f->sock, &m, NULL, 0);
	if (!r)
		r = vhu_recv_reply(f, VHOST_USER_GET_CONFIG, &m, 0);
	if (r)
		return r;
	if (!m.hdr.size)
		return -EIO;   /* the spec's error reply */
	if (m.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + len || m.payload.config.size != len ||
	    m.payload.config.offset != offset)
		return -EPROTO;
	memcpy(buf, m.payload.config.region, len);
	return 0;
}

int vhu_front_set_config(struct vhu_front *f, uint32_t offset, const void *buf, uint32_t len)
{
	struct vhost_user_msg m;

	if (len > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	vhu_msg_init(&m, VHOST_USER_SET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	m.payload.config.flags = VHOST_USER_CONFIG_TYPE_FRONTEND;
	memcpy(m.payload.config.region, buf, len);
	return vhu_send(f, &m, NULL, 0);
}

int vhu_front_get_inflight_fd(struct vhu_front *f, uint16_t num_queues, uint16_t queue_size,
			      struct vhu_inflight *inf)
{
	const struct vhost_user_inflight *in;
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int n;
	int r;

	vhu_msg_init(&m, VHOST_USER_GET_INFLIGHT_FD, sizeof(m.payload.inflight));
	m.payload.inflight.num_queues = num_queues;
	m.payload.inflight.queue_size = queue_size;
	r = vu_msg_send(f->sock, &m, NULL, 0);
	if (!r)
		r = vu_msg_recv(f->sock, &m, fds, &n);
	if (r)
		return r;
	in = &m.payload.inflight;
	/* An error reply is mmap_size 0 without an fd; otherwise one fd. */
	if (m.hdr.request != VHOST_USER_GET_INFLIGHT_FD ||
	    !(m.hdr.flags & VHOST_USER_REPLY_MASK) || m.hdr.size < VHOST_USER_INFLIGHT_SIZE ||
	    n != (in->mmap_size ? 1u : 0u)) {
		vu_close_fds(fds, n);
		return -EPROTO;
	}
	if (!in->mmap_size)
		return -EIO;
	*inf = (struct vhu_inflight){
		.fd = fds[0], .mmap_size = in->mmap_size, .mmap_offset = in->mmap_offset,
		.num_queues = in->num_queues, .queue_size = in->queue_size,
	};
	return 0;
}

int vhu_front_set_inflight_fd(struct vhu_front *f, const struct vhu_inflight *inf)
{
	struct vhost_user_msg m;

	if (inf->fd < 0)
		return -EINVAL;
	vhu_msg_init(&m, VHOST_USER_SET_INFLIGHT_FD, sizeof(m.payload.inflight));
	m.payload.inflight = (struct vhost_user_inflight){
		.mmap_size = inf->mmap_size, .mmap_offset = inf->mmap_offset,
		.num_queues = inf->num_queues, .queue_size = inf->queue_size,
	};
	return vhu_send(f, &m, &inf->fd, 1);
}

int vhu_front_set_backend_req_fd(struct vhu_front *f, int fd)
{
	struct vhost_user_msg m;

	if (fd < 0)
		return -EBADF;
	vhu_msg_init(&m, VHOST_USER_SET_BACKEND_REQ_FD, 0);
	return vhu_send(f, &m, &fd, 1);
}

/* IOTLB_MSG is always answered (a u64), whatever REPLY_ACK says: ask for
 * it explicitly too, as QEMU does, so back-ends of either reading reply. */
int vhu_front_iotlb(struct vhu_front *f, uint8_t type, uint64_t iova, uint64_t size,
		    uint64_t uaddr, uint8_t perm)
{
	struct vhost_user_msg m;
	int r;

	vhu_msg_init(&m, VHOST_USER_IOTLB_MSG, sizeof(m.payload.iotlb));
	m.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	m.payload.iotlb = (struct vhost_iotlb_msg){ .iova = iova, .size = size, .uaddr = uaddr,
						    .perm = perm, .type = type };
	r = vu_msg_send(f->sock, &m, NULL, 0);
	if (!r)
		r = vhu_recv_reply(f, VHOST_USER_IOTLB_MSG, &m, sizeof(uint64_t));
	if (!r && m.payload.u64) {
		log_warn("vhost-user: back-end refused an IOTLB %s of %#llx+%#llx (%llu)",
			 type == VHOST_IOTLB_UPDATE ? "update" : "invalidation",
			 (unsigned long long)iova, (unsigned long long)size,
			 (unsigned long long)m.payload.u64);
		r = -EIO;
	}
	return r;
}
