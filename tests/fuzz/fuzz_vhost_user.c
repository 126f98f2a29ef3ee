/* libFuzzer target for the vhost-user back-end (lib/vhost_user_backend.c
 * over lib/vhost_user.c): the input is what a hostile front-end writes on
 * the socket, with file descriptors attached.
 *
 * Input: records of [ctrl u8][12-byte header][payload], where the payload is
 * hdr.size bytes or whatever is left (the last record may be truncated, and
 * a tail shorter than a header is sent as is). ctrl:
 *   bits 3-0  number of fds to attach, % 10 (9 overflows the limit of 8)
 *   bits 5-4  kind: 0 memfd 1 MiB, 1 memfd 4 KiB, 2 eventfd, 3 alternating
 *   bit 6     send header and payload in two writes (fds on the first)
 *   bit 7     instead attach what the request wants: one 1 MiB memfd per
 *             SET_MEM_TABLE region, an eventfd for SET_VRING_KICK/CALL/ERR
 *             without the no-fd flag, a memfd for SET_INFLIGHT_FD, an
 *             eventfd for SET_BACKEND_REQ_FD (the device has an IOTLB, so
 *             IOTLB_MSG updates and invalidations and IOVA rings are fuzzed;
 *             misses written to that eventfd fail, as to a dead channel)
 * Each record is written whole and then dispatched once (header sizes make
 * the back-end read exactly the record), until vu_dispatch() fails; after
 * the last record the write side is shut, so the back-end must see EOF.
 * Replies are drained (and their fds closed) after every dispatch. Seeds:
 * corpus/vhost_user (gen_vhost_user_seeds.py).
 *
 * Checks beyond ASan/UBSan (abort on violation): ring state handed to
 * queue_start is consistent (power-of-two size, whole ring parts inside one
 * mapped region, readable), every mapped region is readable end to end, and
 * after vu_dev_cleanup() the process holds the same fds and memfd mappings
 * as before the input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"

#define FUZZ_MAX_INPUT   16384
#define MAX_ATTACH  64
#define BIG_SIZE    (1024 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int big_fd, small_fd, ev_fd;
static uint8_t config[64];
static volatile uint8_t sink;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_vhost_user: %s\n", what);
		abort();
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	check(d != NULL, "opendir");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int count_memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	check(f != NULL, "maps");
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/memfd:") != NULL;
	fclose(f);
	return n;
}

static void touch(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t n = len;
	uint8_t *p = gmem_gpa_to_hva(gm, gpa, &n);

	check(p && n == len, "ring part not contiguous guest memory");
	sink = p[0];
	sink = p[len - 1];
}

static int fd_queue_start(struct vu_dev *dev, unsigned int i, const struct vu_vring *vr)
{
	check(i < dev->p.num_queues && vr == &dev->vrings[i], "ring index");
	check(vr->num && !(vr->num & (vr->num - 1)) && vr->num <= dev->p.max_queue_size,
	      "ring size");
	check(vr->has_kick && vr->has_addr && !vr->started, "ring state");
	if (vu_dev_platform(dev)) {
		/* IOVAs: each part one mapping of the device IOTLB. */
		int err;

		check(vr->dma == &dev->iotlb_dma.as, "rings in the IOTLB's address space");
		for (unsigned int k = 0; k < 3; k++) {
			static const uint64_t per[3] = { 16, 2, 8 }, fixed[3] = { 0, 6, 6 };
			uint64_t iova = k == 0 ? vr->desc_gpa : k == 1 ? vr->avail_gpa : vr->used_gpa;
			uint64_t len = fixed[k] + per[k] * vr->num;
			uint8_t *p = dma_map_whole(vr->dma, iova, len, DMA_READ, &err);

			check(p != NULL && p == vr->hva[k], "ring part not one IOTLB mapping");
			sink = p[0];
			sink = p[len - 1];
		}
	} else {
		check(vr->dma == &dev->dma, "rings in the device's address space");
		touch(&dev->gm, vr->desc_gpa, 16ULL * vr->num);
		touch(&dev->gm, vr->avail_gpa, 6 + 2ULL * vr->num);
		touch(&dev->gm, vr->used_gpa, 6 + 8ULL * vr->num);
	}
	if (vr->inflight) {
		sink = ((uint8_t *)vr->inflight)[0];
		sink = ((uint8_t *)vr->inflight)[vr->inflight_size - 1];
	}
	return vr->num == 2 ? -EIO : 0;   /* exercise a refusing device */
}

static uint16_t fd_queue_stop(struct vu_dev *dev, unsigned int i)
{
	check(dev->vrings[i].started, "stop of a stopped ring");
	return (uint16_t)(dev->vrings[i].base + 7);
}

static void fd_notifiers(struct vu_dev *dev, unsigned int i, const struct vu_vring *vr)
{
	check(vr->started, "notifiers of a stopped ring");
}

static void fd_mem(struct vu_dev *dev, const struct gmem *gm)
{
	for (unsigned int i = 0; i < gm->nr; i++)
		touch(gm, gm->regions[i].gpa, gm->regions[i].size);
}

static int fd_inflight(struct vu_dev *dev, const struct vu_inflight_info *inf)
{
	uint8_t *p = inf->addr;

	sink = p[0];
	sink = p[inf->queue_region_size * inf->num_queues - 1];
	return inf->queue_size == 2 ? -EIO : 0;
}

static uint64_t fd_get_features(struct vu_dev *dev)
{
	return 0x3ffULL | 1ULL << 33;
}

static int fd_get_config(struct vu_dev *dev, uint32_t off, void *buf, uint32_t len)
{
	check(range_ok(off, len, sizeof(config)), "config bounds");
	memcpy(buf, config + off, len);
	return 0;
}

static int fd_set_config(struct vu_dev *dev, uint32_t off, const void *buf, uint32_t len,
			 uint32_t flags)
{
	check(range_ok(off, len, sizeof(config)), "config bounds");
	memcpy(config + off, buf, len);
	return 0;
}

static const struct vu_dev_ops fuzz_ops = {
	.get_features = fd_get_features,
	.get_config = fd_get_config,
	.set_config = fd_set_config,
	.queue_start = fd_queue_start,
	.queue_stop = fd_queue_stop,
	.queue_notifiers_changed = fd_notifiers,
	.mem_table_changed = fd_mem,
	.inflight_changed = fd_inflight,
};

static const struct vu_dev_params fuzz_params = {
	.num_queues = 4, .max_queue_size = 256, .config_size = sizeof(config),
	.iotlb = true,   /* ACCESS_PLATFORM, IOTLB_MSG, SET_BACKEND_REQ_FD */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);
	big_fd = memfd_create("vu-fuzz-ram", MFD_CLOEXEC);
	small_fd = memfd_create("vu-fuzz-small", MFD_CLOEXEC);
	ev_fd = eventfd(0, EFD_CLOEXEC);
	check(big_fd >= 0 && small_fd >= 0 && ev_fd >= 0, "init fds");
	check(!ftruncate(big_fd, BIG_SIZE) && !ftruncate(small_fd, 4096), "ftruncate");
	return 0;
}

/* The fds for one record per its ctrl byte. */
static unsigned int pick_fds(uint8_t ctrl, const struct vhost_user_hdr *h, const uint8_t *pl,
			     size_t plen, int *fds)
{
	unsigned int n = 0, kind = ctrl >> 4 & 3;

	if (ctrl & 0x80) {
		uint32_t v = 0;

		memcpy(&v, pl, MIN(plen, sizeof(v)));
		if (h->request == VHOST_USER_SET_MEM_TABLE)
			for (n = 0; n < MIN(v, 8u); n++)
				fds[n] = big_fd;
		else if ((h->request == VHOST_USER_SET_VRING_KICK ||
			  h->request == VHOST_USER_SET_VRING_CALL ||
			  h->request == VHOST_USER_SET_VRING_ERR) &&
			 !(v & VHOST_USER_VRING_NOFD_MASK))
			fds[n++] = ev_fd;
		else if (h->request == VHOST_USER_SET_INFLIGHT_FD)
			fds[n++] = big_fd;
		else if (h->request == VHOST_USER_SET_BACKEND_REQ_FD)
			fds[n++] = ev_fd;
		return n;
	}
	n = (ctrl & 0xf) % 10;
	for (unsigned int i = 0; i < n; i++)
		fds[i] = kind == 0 ? big_fd : kind == 1 ? small_fd : kind == 2 ? ev_fd :
			 (i & 1) ? big_fd : ev_fd;
	return n;
}

static void send_all(int s, const uint8_t *p, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (!len)
		return;
	memset(&ctl, 0, sizeof(ctl));
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	check(sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)len, "sendmsg");
}

/* Reads and discards whatever the back-end answered, closing its fds. */
static void drain(int s)
{
	for (;;) {
		union {
			char b[CMSG_SPACE(16 * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		uint8_t buf[1024];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };

		if (recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before, maps_before, sv[2], r = 0;
	unsigned int attached = 0;
	struct vu_dev dev;
	size_t pos = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* Fresh zeroed "guest RAM" per input: the back-end writes inflight
	 * headers into whatever memfd it is given. */
	check(!fallocate(big_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, BIG_SIZE) &&
	      !fallocate(small_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
	      "punch");
	fds_before = count_fds();
	maps_before = count_memfd_maps();
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	check(vu_dev_init(&dev, sv[1], &fuzz_ops, &fuzz_params, NULL) == 0, "init");
	while (pos < size && !r) {
		struct vhost_user_hdr h;
		int fds[16];
		unsigned int nfds = 0;
		size_t plen;
		uint8_t ctrl = data[pos];

		if (size - pos < 1 + sizeof(h)) {   /* a bare tail */
			send_all(sv[0], data + pos + 1, size - pos - 1, NULL, 0);
			pos = size;
			break;
		}
		memcpy(&h, data + pos + 1, sizeof(h));
		plen = MIN((size_t)h.size, size - pos - 1 - sizeof(h));
		if (attached < MAX_ATTACH)
			nfds = pick_fds(ctrl, &h, data + pos + 1 + sizeof(h), plen, fds);
		attached += nfds;
		if (ctrl & 0x40) {
			send_all(sv[0], data + pos + 1, sizeof(h), fds, nfds);
			send_all(sv[0], data + pos + 1 + sizeof(h), plen, NULL, 0);
		} else {
			send_all(sv[0], data + pos + 1, sizeof(h) + plen, fds, nfds);
		}
		pos += 1 + sizeof(h) + plen;
		if (pos == size)
			shutdown(sv[0], SHUT_WR);
		r = vu_dispatch(&dev);
		drain(sv[0]);
	}
	if (!r) {   /* everything consumed: the next read must be EOF */
		shutdown(sv[0], SHUT_WR);
		r = vu_dispatch(&dev);
		check(r == -ECONNRESET || r == -EBADMSG || r == -EPROTO || r == -EMSGSIZE,
		      "dispatch after EOF");
		drain(sv[0]);
	}
	vu_dev_cleanup(&dev);
	close(sv[0]);
	close(sv[1]);
	check(count_fds() == fds_before, "fd leak");
	check(count_memfd_maps() == maps_before, "mapping leak");
	return 0;
}
