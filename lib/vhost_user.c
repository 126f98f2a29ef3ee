/* vhost-user wire level, shared by the back-end and front-end (contract in
 * include/isle/vhost_user.h): message framing, the per-request table, and
 * turning a peer's region table or inflight fd into checked mappings.
 *
 * Wire format: a 12-byte header {request, flags, size} then size payload
 * bytes, native byte order; fds ride as SCM_RIGHTS on the message. A sender
 * attaches them to its first byte, but a stream socket may hand the message
 * over in several reads, so every read collects control data and the total
 * is checked. Any failure closes everything received so far: a peer cannot
 * make us leak descriptors. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isle/util.h"
#include "isle/vhost_user.h"

_Static_assert(VHOST_USER_HDR_SIZE == 12, "vhost-user header is 12 bytes");
_Static_assert(sizeof(struct vhost_user_mem_region) == 32, "region layout");
_Static_assert(sizeof(struct vhost_vring_addr) == 40, "vring addr layout");
_Static_assert(VHOST_USER_MAX_FDS == GMEM_MAX_REGIONS, "one fd per region");

uint64_t vu_inflight_queue_size(uint16_t queue_size)
{
	return ALIGN_UP(16 + 16 * (uint64_t)queue_size, (uint64_t)VU_INFLIGHT_ALIGN);
}

int vu_map_fd(int fd, uint64_t offset, uint64_t len, void **base, size_t *maplen, void **hva)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), align, start, size;
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!len || st.st_size < 0 || !range_ok(offset, len, (uint64_t)st.st_size))
		return -EINVAL;
	/* hugetlbfs wants huge-page-aligned offsets (it reports that size in
	 * st_blksize)... */
	align = !(st.st_blksize & (st.st_blksize - 1)) && (uint64_t)st.st_blksize > page ?
		(uint64_t)st.st_blksize : page;
	start = ALIGN_DOWN(offset, align);
	/* ...and whole huge pages (no overflow: the file is < 2^63). */
	size = ALIGN_UP(offset - start + len, align);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, (off_t)start);
	if (p == MAP_FAILED)
		return -errno;
	*base = p;
	*maplen = size;
	*hva = (uint8_t *)p + (offset - start);
	return 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vu_mem_map(const struct vhost_user_memory *m, const int *fds, unsigned int nfds,
	       struct gmem *gm, struct vu_map *maps)
{
	uint32_t n = m->nregions;
	int r = 0;

	gm->nr = 0;
	if (n > VHOST_USER_MAX_RAM_SLOTS || nfds != n)
		return -EINVAL;
	/* Check everything before mapping anything. */
	for (uint32_t i = 0; i < n; i++) {
		const struct vhost_user_mem_region *a = &m->regions[i];

		if (!a->memory_size || a->guest_phys_addr + a->memory_size < a->guest_phys_addr ||
		    a->userspace_addr + a->memory_size < a->userspace_addr)
			return -EINVAL;
		/* Overlapping guest ranges are ambiguous, and so are user
		 * ranges: both are used to translate. */
		for (uint32_t j = 0; j < i; j++) {
			const struct vhost_user_mem_region *b = &m->regions[j];

			if (overlaps(a->guest_phys_addr, a->memory_size, b->guest_phys_addr,
				     b->memory_size) ||
			    overlaps(a->userspace_addr, a->memory_size, b->userspace_addr,
				     b->memory_size))
				return -EINVAL;
		}
	}
	for (uint32_t i = 0; i < n && !r; i++) {
		const struct vhost_user_mem_region *a = &m->regions[i];
		void *hva;

		r = vu_map_fd(fds[i], a->mmap_offset, a->memory_size, &maps[i].base,
			      &maps[i].len, &hva);
		if (r)
			break;
		maps[i].uva = a->userspace_addr;
		r = gmem_add(gm, a->guest_phys_addr, a->memory_size, hva, fds[i], a->mmap_offset);
		if (r)
			munmap(maps[i].base, maps[i].len);
	}
	if (r) {
		for (unsigned int i = 0; i < gm->nr; i++)
			munmap(maps[i].base, maps[i].len);
		gm->nr = 0;
	}
	return r;
}

void vu_mem_unmap(struct gmem *gm, struct vu_map *maps)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		munmap(maps[i].base, maps[i].len);
		if (gm->regions[i].fd >= 0)
			close(gm->regions[i].fd);
	}
	gm->nr = 0;
}

int vu_mem_uva_to_gpa(const struct gmem *gm, const struct vu_map *maps, uint64_t uva,
		      uint64_t *gpa)
{
	for (unsigned int i = 0; i < gm->nr; i++) {
		uint64_t off = uva - maps[i].uva;

		if (uva >= maps[i].uva && off < gm->regions[i].size) {
			*gpa = gm->regions[i].gpa + off;
			return 0;
		}
	}
	return -EFAULT;
}

void vu_close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Moves the fds of every SCM_RIGHTS block into fds[]; anything beyond
 * VHOST_USER_MAX_FDS is closed on the spot and reported. */
static int vu_take_fds(struct msghdr *mh, int *fds, unsigned int *nfds)
{
	bool overflow = (mh->msg_flags & MSG_CTRUNC) != 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*nfds < VHOST_USER_MAX_FDS) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				overflow = true;
			}
		}
	}
	return overflow ? -ETOOMANYREFS : 0;
}

/* Reads exactly len bytes. at_start: EOF before any byte is a clean close. */
static int vu_recv_full(int sock, void *buf, size_t len, int *fds, unsigned int *nfds,
			bool at_start)
{
	size_t got = 0;

	while (got < len) {
		union {
			char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = (char *)buf + got, .iov_len = len - got };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = vu_take_fds(&mh, fds, nfds);
		if (r)
			return r;
		if (n == 0)
			return at_start && got == 0 ? -ECONNRESET : -EBADMSG;
		got += (size_t)n;
	}
	return 0;
}

int vu_msg_recv(int fd, struct vhost_user_msg *msg, int *fds, unsigned int *nfds)
{
	int r;

	*nfds = 0;
	r = vu_recv_full(fd, &msg->hdr, VHOST_USER_HDR_SIZE, fds, nfds, true);
	if (!r && (msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		r = -EPROTO;
	if (!r && msg->hdr.size > VHOST_USER_PAYLOAD_MAX)
		r = -EMSGSIZE;
	if (!r && msg->hdr.size)
		r = vu_recv_full(fd, &msg->payload, msg->hdr.size, fds, nfds, false);
	if (r) {
		vu_close_fds(fds, *nfds);
		*nfds = 0;
		return r;
	}
	/* Handlers may read a whole payload struct even when the peer sent
	 * less than its size was checked to need; make the rest defined. */
	memset((uint8_t *)&msg->payload + msg->hdr.size, 0,
	       VHOST_USER_PAYLOAD_MAX - msg->hdr.size);
	return 0;
}

int vu_msg_send(int fd, const struct vhost_user_msg *msg, const int *fds, unsigned int nfds)
{
	uint8_t wire[VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t len, sent = 0;

	if (nfds > VHOST_USER_MAX_FDS || msg->hdr.size > VHOST_USER_PAYLOAD_MAX)
		return -EINVAL;
	/* One contiguous buffer: the in-memory struct has a gap before the
	 * payload that the wire format does not. */
	len = VHOST_USER_HDR_SIZE + msg->hdr.size;
	memcpy(wire, &msg->hdr, VHOST_USER_HDR_SIZE);
	memcpy(wire + VHOST_USER_HDR_SIZE, &msg->payload, msg->hdr.size);
	memset(&ctl, 0, sizeof(ctl));
	while (sent < len) {
		struct iovec iov = { .iov_base = wire + sent, .iov_len = len - sent };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds && !sent) {   /* fds go with the first byte only */
			struct cmsghdr *c;

			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		sent += (size_t)n;
	}
	return 0;
}

/* Every request the spec defines that we name: what it carries, and whether
 * vu_dispatch() implements it. */
#define H VU_REQ_BACKEND
#define F VU_REQ_FDS
#define R VU_REQ_REPLY
static const struct {
	const char *name;
	uint8_t kind;
} vu_requests[] = {
	[VHOST_USER_GET_FEATURES] = { "GET_FEATURES", H | R },
	[VHOST_USER_SET_FEATURES] = { "SET_FEATURES", H },
	[VHOST_USER_SET_OWNER] = { "SET_OWNER", H },
	[VHOST_USER_RESET_OWNER] = { "RESET_OWNER", H },
	[VHOST_USER_SET_MEM_TABLE] = { "SET_MEM_TABLE", H | F },
	[VHOST_USER_SET_LOG_BASE] = { "SET_LOG_BASE", F },
	[VHOST_USER_SET_LOG_FD] = { "SET_LOG_FD", F },
	[VHOST_USER_SET_VRING_NUM] = { "SET_VRING_NUM", H },
	[VHOST_USER_SET_VRING_ADDR] = { "SET_VRING_ADDR", H },
	[VHOST_USER_SET_VRING_BASE] = { "SET_VRING_BASE", H },
	[VHOST_USER_GET_VRING_BASE] = { "GET_VRING_BASE", H | R },
	[VHOST_USER_SET_VRING_KICK] = { "SET_VRING_KICK", H | F },
	[VHOST_USER_SET_VRING_CALL] = { "SET_VRING_CALL", H | F },
	[VHOST_USER_SET_VRING_ERR] = { "SET_VRING_ERR", H | F },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", H | R },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", H },
	[VHOST_USER_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", H | R },
	[VHOST_USER_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", H },
	[VHOST_USER_SEND_RARP] = { "SEND_RARP", 0 },
	[VHOST_USER_NET_SET_MTU] = { "NET_SET_MTU", 0 },
	[VHOST_USER_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", H | F },
	[VHOST_USER_IOTLB_MSG] = { "IOTLB_MSG", H | R },
	[VHOST_USER_SET_VRING_ENDIAN] = { "SET_VRING_ENDIAN", 0 },
	[VHOST_USER_GET_CONFIG] = { "GET_CONFIG", H | R },
	[VHOST_USER_SET_CONFIG] = { "SET_CONFIG", H },
	[VHOST_USER_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", H | R },
	[VHOST_USER_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", H | F },
	[VHOST_USER_RESET_DEVICE] = { "RESET_DEVICE", 0 },
	[VHOST_USER_VRING_KICK] = { "VRING_KICK", 0 },
	[VHOST_USER_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", H | R },
	[VHOST_USER_ADD_MEM_REG] = { "ADD_MEM_REG", F },
	[VHOST_USER_REM_MEM_REG] = { "REM_MEM_REG", 0 },
};
#undef H
#undef F
#undef R

const char *vu_request_name(uint32_t request)
{
	if (request < ARRAY_SIZE(vu_requests) && vu_requests[request].name)
		return vu_requests[request].name;
	return "?";
}

unsigned int vu_request_kind(uint32_t request)
{
	return request < ARRAY_SIZE(vu_requests) ? vu_requests[request].kind : 0;
}
