/* Unit tests for lib/vhost_user*.c: framing, a full front-end ↔ back-end
 * handshake over a socketpair (back-end dispatching in a thread, a memfd as
 * guest RAM), then hostile messages written raw on the socket with
 * vu_dispatch() driven by hand. Every hostile case checks that dispatch
 * failed, that no fd leaked (/proc/self/fd) and that the back-end still
 * answers or failed cleanly. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"

#define RAM_SIZE (2 * 1024 * 1024)
#define HI_GPA 0x100000000ULL

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of our test memfds (the back-end's included). */
static int ram_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:vu-test") != NULL;
	fclose(f);
	return n;
}

static int ram_fd(uint64_t size)
{
	int fd = memfd_create("vu-test", MFD_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)size) == 0);
	return fd;
}

/* ---- a test device ---- */

struct tdev {
	int starts, stops, notifiers, mem_changes, inflights;
	struct vu_vring last;        /* copy at the last queue_start */
	unsigned int last_index;
	uint16_t stop_base;
	uint64_t features;
	uint8_t config[32];
};

static uint64_t td_get_features(struct vu_dev *dev)
{
	return BIT(0) | BIT(VIRTIO_F_ACCESS_PLATFORM);   /* the latter is stripped */
}

static int td_set_features(struct vu_dev *dev, uint64_t f)
{
	((struct tdev *)dev->priv)->features = f;
	return 0;
}

static int td_get_config(struct vu_dev *dev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, ((struct tdev *)dev->priv)->config + off, len);
	return 0;
}

static int td_set_config(struct vu_dev *dev, uint32_t off, const void *buf, uint32_t len,
			 uint32_t flags)
{
	memcpy(((struct tdev *)dev->priv)->config + off, buf, len);
	return 0;
}

static int td_queue_start(struct vu_dev *dev, unsigned int i, const struct vu_vring *vr)
{
	struct tdev *td = dev->priv;

	td->starts++;
	td->last = *vr;
	td->last_index = i;
	return 0;
}

static uint16_t td_queue_stop(struct vu_dev *dev, unsigned int i)
{
	struct tdev *td = dev->priv;

	td->stops++;
	return td->stop_base;
}

static void td_notifiers(struct vu_dev *dev, unsigned int i, const struct vu_vring *vr)
{
	((struct tdev *)dev->priv)->notifiers++;
}

static void td_mem(struct vu_dev *dev, const struct gmem *gm)
{
	((struct tdev *)dev->priv)->mem_changes++;
}

static int td_inflight(struct vu_dev *dev, const struct vu_inflight_info *inf)
{
	((struct tdev *)dev->priv)->inflights++;
	return 0;
}

static const struct vu_dev_ops td_ops = {
	.get_features = td_get_features,
	.set_features = td_set_features,
	.get_config = td_get_config,
	.set_config = td_set_config,
	.queue_start = td_queue_start,
	.queue_stop = td_queue_stop,
	.queue_notifiers_changed = td_notifiers,
	.mem_table_changed = td_mem,
	.inflight_changed = td_inflight,
};

static const struct vu_dev_params td_params = {
	.num_queues = 2, .max_queue_size = 256, .config_size = 32,
};

/* ---- framing ---- */

static void test_framing_roundtrip(void)
{
	struct vhost_user_msg m = { .hdr = { VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, 40 } }, r;
	int sv[2], fds[3], got[VHOST_USER_MAX_FDS], base = fd_count();
	unsigned int n;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	for (int i = 0; i < 3; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	m.payload.memory.nregions = 1;
	m.payload.memory.regions[0].memory_size = 0x1234;
	CU_ASSERT_EQUAL(vu_msg_send(sv[0], &m, fds, 3), 0);
	CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &r, got, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(r.hdr.size, 40);
	CU_ASSERT_EQUAL(r.payload.memory.regions[0].memory_size, 0x1234);
	CU_ASSERT_EQUAL(r.payload.memory.regions[1].memory_size, 0);   /* tail zeroed */
	vu_close_fds(got, n);
	CU_ASSERT_EQUAL(got[0], -1);
	CU_ASSERT_EQUAL(vu_msg_send(sv[0], &m, fds, VHOST_USER_MAX_FDS + 1), -EINVAL);
	m.hdr.size = VHOST_USER_PAYLOAD_MAX + 1;
	CU_ASSERT_EQUAL(vu_msg_send(sv[0], &m, NULL, 0), -EINVAL);
	vu_close_fds(fds, 3);
	close(sv[0]);
	close(sv[1]);
	CU_ASSERT_EQUAL(fd_count(), base);
	CU_ASSERT_STRING_EQUAL(vu_request_name(VHOST_USER_GET_VRING_BASE), "GET_VRING_BASE");
	CU_ASSERT_STRING_EQUAL(vu_request_name(999), "?");
}

/* Sends raw bytes with fds attached. */
static void raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

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
	CU_ASSERT_EQUAL(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* One framing failure: bytes (+fds) then optionally EOF; expect err. */
static void framing_case(const void *buf, size_t len, unsigned int nfds, bool eof, int err)
{
	struct vhost_user_msg r;
	int sv[2], fds[16], got[VHOST_USER_MAX_FDS], base = fd_count();
	unsigned int n = 99;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	for (unsigned int i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	if (len)
		raw_send(sv[0], buf, len, fds, nfds);
	vu_close_fds(fds, nfds);
	if (eof)
		shutdown(sv[0], SHUT_WR);
	CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &r, got, &n), err);
	CU_ASSERT_EQUAL(n, 0);
	close(sv[0]);
	close(sv[1]);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void test_framing_errors(void)
{
	uint32_t h[3 + 4] = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 0 };

	framing_case(NULL, 0, 0, true, -ECONNRESET);           /* EOF */
	framing_case(h, 7, 1, true, -EBADMSG);                 /* truncated header */
	h[2] = 8;
	framing_case(h, 12 + 4, 2, true, -EBADMSG);            /* truncated payload */
	h[2] = VHOST_USER_PAYLOAD_MAX + 1;
	framing_case(h, 12, 1, false, -EMSGSIZE);              /* size > payload */
	h[2] = 0xffffffff;
	framing_case(h, 12, 0, false, -EMSGSIZE);
	h[1] = 2;
	h[2] = 0;
	framing_case(h, 12, 1, false, -EPROTO);                /* version 2 */
	h[1] = VHOST_USER_VERSION;
	framing_case(h, 12, 9, false, -ETOOMANYREFS);          /* fd flood */
	framing_case(h, 12, 16, false, -ETOOMANYREFS);

	/* fds may arrive in pieces with a split message: all are collected. */
	struct vhost_user_msg r;
	int sv[2], e[2], got[VHOST_USER_MAX_FDS], base = fd_count();
	unsigned int n;

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	e[0] = eventfd(0, EFD_CLOEXEC);
	e[1] = eventfd(0, EFD_CLOEXEC);
	h[2] = 8;
	raw_send(sv[0], h, 6, &e[0], 1);
	raw_send(sv[0], (uint8_t *)h + 6, 14, &e[1], 1);
	CU_ASSERT_EQUAL(vu_msg_recv(sv[1], &r, got, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	vu_close_fds(got, n);
	vu_close_fds(e, 2);
	close(sv[0]);
	close(sv[1]);
	CU_ASSERT_EQUAL(fd_count(), base);
}

/* ---- handshake with the back-end in a thread ---- */

struct bthread {
	struct vu_dev *dev;
	int result, rejected;
};

/* Keeps going over rejected requests (the stream stays in step) to show the
 * back-end survives them; stops on transport/framing errors. */
static void *backend_loop(void *arg)
{
	struct bthread *b = arg;
	int r;

	for (;;) {
		r = vu_dispatch(b->dev);
		if (r == -ECONNRESET || r == -EBADMSG || r == -EPROTO || r == -EMSGSIZE ||
		    r == -ETOOMANYREFS || r == -EPIPE)
			break;
		if (r)
			b->rejected++;
	}
	b->result = r;
	return NULL;
}

struct front_env {
	int sv[2], ram, kick, call, call2;
	uint8_t *ram_hva;
	struct gmem gm;
	struct vu_dev dev;
	struct tdev td;
	struct bthread bt;
	pthread_t thread;
	struct vhu_front f;
};

static void env_start(struct front_env *e)
{
	memset(e, 0, sizeof(*e));
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, e->sv) == 0);
	CU_ASSERT_FATAL(vu_dev_init(&e->dev, e->sv[1], &td_ops, &td_params, &e->td) == 0);
	e->bt.dev = &e->dev;
	CU_ASSERT_FATAL(pthread_create(&e->thread, NULL, backend_loop, &e->bt) == 0);
	vhu_front_init(&e->f, e->sv[0]);
	/* Guest RAM: 1 MiB at 0 and 1 MiB at 4 GiB, from one memfd. */
	e->ram = ram_fd(RAM_SIZE);
	e->ram_hva = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->ram, 0);
	CU_ASSERT_FATAL(e->ram_hva != MAP_FAILED);
	CU_ASSERT_EQUAL(gmem_add(&e->gm, 0, RAM_SIZE / 2, e->ram_hva, e->ram, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(&e->gm, HI_GPA, RAM_SIZE / 2, e->ram_hva + RAM_SIZE / 2, e->ram,
				 RAM_SIZE / 2), 0);
	e->kick = eventfd(0, EFD_CLOEXEC);
	e->call = eventfd(0, EFD_CLOEXEC);
	e->call2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void env_stop(struct front_env *e)
{
	vhu_front_close(&e->f);
	pthread_join(e->thread, NULL);
	CU_ASSERT_EQUAL(e->bt.result, -ECONNRESET);
	vu_dev_cleanup(&e->dev);
	close(e->sv[1]);
	munmap(e->ram_hva, RAM_SIZE);
	close(e->ram);
	close(e->kick);
	close(e->call);
	close(e->call2);
}

/* Invalidations the back-end's address space announces (on its thread). */
static struct {
	struct dma_notifier n;
	unsigned int count;
	uint64_t len;
} unmaps;

static void unmaps_notify(void *opaque, unsigned int event, uint64_t iova, uint64_t len)
{
	(void)opaque;
	if (event != DMA_EV_UNMAP || iova != 0)
		return;
	unmaps.len = len;
	__atomic_fetch_add(&unmaps.count, 1, __ATOMIC_RELEASE);
}

static void test_handshake(void)
{
	unmaps.n = (struct dma_notifier){ .events = DMA_EV_UNMAP, .notify = unmaps_notify };
	int base = fd_count(), maps = ram_maps();
	struct front_env e;
	struct vhu_inflight inf;
	uint64_t v, lib = BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
		BIT(VHOST_USER_PROTOCOL_F_CONFIG) | BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	uint8_t cfg[32], word[4] = "abcd";
	char buf[6] = { 0 };
	uint16_t b;

	env_start(&e);
	memset(e.td.config, 0x5a, sizeof(e.td.config));
	CU_ASSERT_EQUAL(vhu_front_get_features(&e.f, &v), 0);
	CU_ASSERT_EQUAL(v, BIT(0) | BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	CU_ASSERT_EQUAL(vhu_front_set_owner(&e.f), 0);
	CU_ASSERT_EQUAL(vhu_front_get_protocol_features(&e.f, &v), 0);
	CU_ASSERT_EQUAL(v, lib);
	CU_ASSERT_EQUAL(vhu_front_set_protocol_features(&e.f, lib), 0);
	CU_ASSERT_EQUAL(vhu_front_get_queue_num(&e.f, &v), 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(vhu_front_set_features(&e.f, BIT(0) | BIT(VIRTIO_F_VERSION_1) |
					       BIT(VHOST_USER_F_PROTOCOL_FEATURES)), 0);
	CU_ASSERT_EQUAL(e.td.features, BIT(0) | BIT(VIRTIO_F_VERSION_1));
	CU_ASSERT_EQUAL(vhu_front_set_features(&e.f, BIT(5)), -EIO);   /* not offered */

	/* Memory: both sides see the same bytes. */
	CU_ASSERT_EQUAL(vhu_front_set_mem_table(&e.f, &e.gm), 0);
	CU_ASSERT_EQUAL(e.dev.gm.nr, 2);
	CU_ASSERT_EQUAL(e.td.mem_changes, 1);
	CU_ASSERT_EQUAL(gmem_write(&e.gm, HI_GPA + 0x10, "hello", 5), 0);
	CU_ASSERT_EQUAL(gmem_read(&e.dev.gm, HI_GPA + 0x10, buf, 5), 0);
	CU_ASSERT_STRING_EQUAL(buf, "hello");
	CU_ASSERT_NOT_EQUAL(gmem_gpa_to_hva(&e.dev.gm, HI_GPA, &(uint64_t){ 1 }),
			    e.gm.regions[1].hva);   /* its own mapping */

	/* Inflight buffer, as QEMU does before starting rings. */
	CU_ASSERT_EQUAL(vhu_front_get_inflight_fd(&e.f, 2, 256, &inf), 0);
	CU_ASSERT_EQUAL(inf.mmap_size, 2 * vu_inflight_queue_size(256));
	CU_ASSERT_EQUAL(vhu_front_set_inflight_fd(&e.f, &inf), 0);
	CU_ASSERT_EQUAL(e.td.inflights, 2);
	close(inf.fd);
	CU_ASSERT_EQUAL(vhu_front_get_inflight_fd(&e.f, 3, 256, &inf), -EIO);  /* 3 > 2 queues */

	/* Ring 0 in the high region; started only once enabled. */
	CU_ASSERT_EQUAL(vhu_front_set_vring_num(&e.f, 0, 256), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_base(&e.f, 0, 5), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_addr(&e.f, &e.gm, 0, HI_GPA + 0x1000,
						 HI_GPA + 0x2000, HI_GPA + 0x3000), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_addr(&e.f, &e.gm, 0, 0x40000000, 0, 0), -EFAULT);
	CU_ASSERT_EQUAL(vhu_front_set_vring_kick(&e.f, 0, e.kick), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_call(&e.f, 0, e.call), 0);
	CU_ASSERT_EQUAL(e.td.starts, 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_enable(&e.f, 0, true), 0);
	CU_ASSERT_EQUAL(e.td.starts, 1);
	CU_ASSERT_EQUAL(e.td.last_index, 0);
	CU_ASSERT_EQUAL(e.td.last.desc_gpa, HI_GPA + 0x1000);
	CU_ASSERT_EQUAL(e.td.last.avail_gpa, HI_GPA + 0x2000);
	CU_ASSERT_EQUAL(e.td.last.used_gpa, HI_GPA + 0x3000);
	CU_ASSERT_EQUAL(e.td.last.num, 256);
	CU_ASSERT_EQUAL(e.td.last.base, 5);
	CU_ASSERT(e.td.last.kick_fd >= 0 && e.td.last.call_fd >= 0);
	CU_ASSERT_PTR_NOT_NULL(e.td.last.inflight);
	CU_ASSERT_PTR_EQUAL(e.td.last.dma, &e.dev.dma);   /* identity over dev.gm */

	/* A new call fd reaches the running ring (as on MSI-X masking). */
	CU_ASSERT_EQUAL(vhu_front_set_vring_call(&e.f, 0, e.call2), 0);
	CU_ASSERT_EQUAL(e.td.notifiers, 1);
	CU_ASSERT_EQUAL(vu_vring_notify(&e.dev.vrings[0]), 0);
	CU_ASSERT_EQUAL(eventfd_read(e.call2, &v), 0);
	CU_ASSERT_EQUAL(v, 1);

	/* Config space. */
	CU_ASSERT_EQUAL(vhu_front_get_config(&e.f, 0, cfg, sizeof(cfg)), 0);
	CU_ASSERT_EQUAL(cfg[31], 0x5a);
	CU_ASSERT_EQUAL(vhu_front_set_config(&e.f, 4, word, 4), 0);
	CU_ASSERT_EQUAL(memcmp(e.td.config + 4, "abcd", 4), 0);
	CU_ASSERT_EQUAL(vhu_front_get_config(&e.f, 30, cfg, 4), -EIO);   /* past the end */
	CU_ASSERT_EQUAL(vhu_front_set_config(&e.f, 30, word, 4), -EIO);

	/* Stop: the base comes from the device; a new kick restarts. */
	e.td.stop_base = 42;
	CU_ASSERT_EQUAL(vhu_front_get_vring_base(&e.f, 0, &b), 0);
	CU_ASSERT_EQUAL(b, 42);
	CU_ASSERT_EQUAL(e.td.stops, 1);
	CU_ASSERT_FALSE(e.dev.vrings[0].started);
	CU_ASSERT_EQUAL(vhu_front_set_vring_base(&e.f, 0, 42), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_kick(&e.f, 0, e.kick), 0);
	CU_ASSERT_EQUAL(e.td.starts, 2);
	CU_ASSERT_EQUAL(e.td.last.base, 42);
	CU_ASSERT_EQUAL(vhu_front_set_vring_base(&e.f, 0, 1), -EIO);   /* running */

	/* Memory hot-unplug of the low region: the ring keeps running, and
	 * the device's address space announces that every old translation
	 * is gone. */
	dma_notifier_register(&e.dev.dma, &unmaps.n);
	e.gm.nr = 1;
	e.gm.regions[0] = e.gm.regions[1];
	CU_ASSERT_EQUAL(vhu_front_set_mem_table(&e.f, &e.gm), 0);
	CU_ASSERT_EQUAL(e.td.mem_changes, 2);
	CU_ASSERT_EQUAL(__atomic_load_n(&unmaps.count, __ATOMIC_ACQUIRE), 1);
	CU_ASSERT_EQUAL(unmaps.len, UINT64_MAX);
	dma_notifier_unregister(&e.dev.dma, &unmaps.n);
	/* Ring addresses already in the table's user space: 0 is refused. */
	CU_ASSERT_EQUAL(vhu_front_set_vring_uva(&e.f, 0, 0, 1, 1, 0), -EFAULT);
	CU_ASSERT_EQUAL(e.dev.gm.nr, 1);
	CU_ASSERT_TRUE(e.dev.vrings[0].started);
	CU_ASSERT_EQUAL(vhu_front_set_vring_enable(&e.f, 0, false), 0);
	CU_ASSERT_FALSE(e.dev.vrings[0].started);
	CU_ASSERT_EQUAL(e.bt.rejected, 5);
	env_stop(&e);
	CU_ASSERT_EQUAL(fd_count(), base);
	CU_ASSERT_EQUAL(ram_maps(), maps);
}

/* Without VHOST_USER_F_PROTOCOL_FEATURES a ring counts as enabled, and
 * without REPLY_ACK nothing is acknowledged (a GET is the barrier). */
static void test_handshake_legacy(void)
{
	int base = fd_count(), maps = ram_maps();
	struct front_env e;
	uint64_t v;

	env_start(&e);
	CU_ASSERT_EQUAL(vhu_front_set_features(&e.f, BIT(VIRTIO_F_VERSION_1)), 0);
	CU_ASSERT_EQUAL(vhu_front_set_mem_table(&e.f, &e.gm), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_num(&e.f, 1, 16), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_addr(&e.f, &e.gm, 1, 0x1000, 0x2000, 0x3000), 0);
	CU_ASSERT_EQUAL(vhu_front_set_vring_kick(&e.f, 1, -1), 0);   /* poll */
	CU_ASSERT_EQUAL(vhu_front_get_features(&e.f, &v), 0);
	CU_ASSERT_EQUAL(e.td.starts, 1);
	CU_ASSERT_EQUAL(e.td.last_index, 1);
	CU_ASSERT_EQUAL(e.td.last.kick_fd, -1);
	CU_ASSERT_PTR_NULL(e.td.last.inflight);
	/* A call fd change without the hook would restart; with it, not. */
	CU_ASSERT_EQUAL(vhu_front_set_vring_call(&e.f, 1, e.call), 0);
	CU_ASSERT_EQUAL(vhu_front_get_features(&e.f, &v), 0);
	CU_ASSERT_EQUAL(e.td.notifiers, 1);
	CU_ASSERT_EQUAL(e.dev.vrings[1].call_fd >= 0, 1);
	CU_ASSERT_EQUAL(e.bt.rejected, 0);
	env_stop(&e);
	CU_ASSERT_EQUAL(fd_count(), base);
	CU_ASSERT_EQUAL(ram_maps(), maps);
}

/* ---- hostile messages, dispatched by hand ---- */

struct hostile {
	int sv[2], ram, efd[3];
	struct vu_dev dev;
	struct tdev td;
};

static void h_start(struct hostile *h)
{
	memset(h, 0, sizeof(*h));
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, h->sv) == 0);
	CU_ASSERT_FATAL(vu_dev_init(&h->dev, h->sv[1], &td_ops, &td_params, &h->td) == 0);
	h->ram = ram_fd(1024 * 1024);
	for (int i = 0; i < 3; i++)
		h->efd[i] = eventfd(0, EFD_CLOEXEC);
}

static void h_stop(struct hostile *h)
{
	vu_dev_cleanup(&h->dev);
	close(h->sv[0]);
	close(h->sv[1]);
	close(h->ram);
	vu_close_fds(h->efd, 3);
}

/* Writes a message whose size field is size, with len payload bytes. */
static void h_send(struct hostile *h, uint32_t req, uint32_t flags, uint32_t size,
		   const void *payload, size_t len, const int *fds, unsigned int nfds)
{
	uint8_t buf[12 + 512];
	uint32_t hdr[3] = { req, VHOST_USER_VERSION | flags, size };

	memcpy(buf, hdr, 12);
	if (len)
		memcpy(buf + 12, payload, len);
	raw_send(h->sv[0], buf, 12 + len, fds, nfds);
}

/* Sends, dispatches, expects err, no fd change and no reply. */
static void h_expect(struct hostile *h, uint32_t req, uint32_t size, const void *payload,
		     size_t len, const int *fds, unsigned int nfds, int err)
{
	int before = fd_count();
	char c;

	h_send(h, req, 0, size, payload, len, fds, nfds);
	CU_ASSERT_EQUAL(vu_dispatch(&h->dev), err);
	CU_ASSERT_EQUAL(fd_count(), before);
	CU_ASSERT_EQUAL(recv(h->sv[0], &c, 1, MSG_DONTWAIT | MSG_PEEK), -1);   /* no reply */
}

/* The back-end still answers after a rejected request. */
static void h_usable(struct hostile *h)
{
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int n;

	h_send(h, VHOST_USER_GET_QUEUE_NUM, 0, 0, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h->dev), 0);
	CU_ASSERT_EQUAL_FATAL(vu_msg_recv(h->sv[0], &m, fds, &n), 0);
	CU_ASSERT_EQUAL(m.hdr.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
	CU_ASSERT_EQUAL(m.payload.u64, 2);
	CU_ASSERT_EQUAL(n, 0);
}

static void h_mem(struct hostile *h, uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	struct vhost_user_memory mem = { .nregions = 1 };

	mem.regions[0] = (struct vhost_user_mem_region){ gpa, size, uva, off };
	h_send(h, VHOST_USER_SET_MEM_TABLE, 0, 8 + 32, &mem, 8 + 32, &h->ram, 1);
	CU_ASSERT_EQUAL(vu_dispatch(&h->dev), 0);
}

static void test_hostile_sizes(void)
{
	struct hostile h;
	struct vhost_user_memory mem = { .nregions = 2 };
	uint64_t v = 0;
	int base = fd_count();

	h_start(&h);
	h_expect(&h, VHOST_USER_SET_FEATURES, 4, &v, 4, NULL, 0, -EINVAL);
	h_usable(&h);
	h_expect(&h, VHOST_USER_SET_VRING_NUM, 4, &v, 4, NULL, 0, -EINVAL);
	h_expect(&h, VHOST_USER_SET_VRING_ADDR, 8, &v, 8, NULL, 0, -EINVAL);
	h_expect(&h, VHOST_USER_SET_VRING_KICK, 0, NULL, 0, NULL, 0, -EINVAL);
	/* 2 regions but room for one, with 2 fds. */
	mem.regions[0] = (struct vhost_user_mem_region){ 0, 4096, 0x10000, 0 };
	mem.regions[1] = (struct vhost_user_mem_region){ 0x10000, 4096, 0x20000, 0 };
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 8 + 32, &mem, 8 + 32, (int[]){ h.ram, h.ram }, 2,
		 -EINVAL);
	h_expect(&h, VHOST_USER_SET_INFLIGHT_FD, 16, &mem, 16, &h.ram, 1, -EINVAL);
	h_usable(&h);
	/* A size larger than any payload: framing error, stream abandoned. */
	h_expect(&h, VHOST_USER_SET_FEATURES, VHOST_USER_PAYLOAD_MAX + 1, &v, 8, &h.efd[0], 1,
		 -EMSGSIZE);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void test_hostile_fd_counts(void)
{
	struct hostile h;
	struct vhost_user_memory mem = { .nregions = 1 };
	uint64_t v = 0;
	int base = fd_count(), maps = ram_maps();

	h_start(&h);
	mem.regions[0] = (struct vhost_user_mem_region){ 0, 4096, 0x10000, 0 };
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 40, &mem, 40, NULL, 0, -EINVAL);
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 40, &mem, 40, (int[]){ h.ram, h.ram, h.ram }, 3,
		 -EINVAL);
	h_expect(&h, VHOST_USER_SET_VRING_KICK, 8, &v, 8, h.efd, 2, -EINVAL);
	h_expect(&h, VHOST_USER_SET_VRING_CALL, 8, &v, 8, NULL, 0, -EINVAL);
	v = VHOST_USER_VRING_NOFD_MASK;
	h_expect(&h, VHOST_USER_SET_VRING_ERR, 8, &v, 8, h.efd, 1, -EINVAL);
	h_expect(&h, VHOST_USER_GET_FEATURES, 0, NULL, 0, h.efd, 1, -EINVAL);
	h_expect(&h, VHOST_USER_SET_INFLIGHT_FD, 24, &mem, 24, NULL, 0, -EINVAL);
	h_usable(&h);
	CU_ASSERT_EQUAL(h.dev.gm.nr, 0);
	CU_ASSERT_EQUAL(ram_maps(), maps);
	/* Flood: 9 fds on one message. */
	h_expect(&h, VHOST_USER_SET_VRING_KICK, 8, &v, 8,
		 (int[]){ h.efd[0], h.efd[1], h.efd[2], h.efd[0], h.efd[1], h.efd[2], h.efd[0],
			  h.efd[1], h.efd[2] }, 9, -ETOOMANYREFS);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void test_hostile_mem_table(void)
{
	struct hostile h;
	struct vhost_user_memory mem = { .nregions = 2 };
	struct vhost_user_mem_region *r = mem.regions;
	int fds2[2], base = fd_count(), maps = ram_maps();
	uint8_t *old_hva;

	h_start(&h);
	fds2[0] = fds2[1] = h.ram;
	h_mem(&h, 0x1000, 0x4000, 0x7f0000000000, 0x2000);   /* a good table first */
	CU_ASSERT_EQUAL_FATAL(h.dev.gm.nr, 1);
	old_hva = h.dev.gm.regions[0].hva;
	CU_ASSERT_EQUAL(ram_maps(), maps + 1);

	r[0] = (struct vhost_user_mem_region){ 0, 0x2000, 0x10000, 0 };
	r[1] = (struct vhost_user_mem_region){ 0x1000, 0x2000, 0x90000, 0 };   /* gpa overlap */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ 0x8000, 0x2000, 0x11000, 0 };   /* uva overlap */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ ~0ULL - 0xfff, 0x2000, 0x90000, 0 };   /* wraps */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ 0x8000, 0x2000, ~0ULL - 0xfff, 0 };   /* uva wraps */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ 0x8000, 0, 0x90000, 0 };   /* empty */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ 0x8000, 0x1000, 0x90000, 1024 * 1024 };  /* offset */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ 0x8000, 0x1000, 0x90000, ~0ULL - 0x10 };
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	r[1] = (struct vhost_user_mem_region){ 0x800000, 1024 * 1024, 0x900000, 0x800 };  /* size */
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, fds2, 2, -EINVAL);
	mem.nregions = 9;
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 8 + 8 * 32, &mem, 8 + 8 * 32, fds2, 2, -EINVAL);
	/* A region whose fd cannot be mapped (an eventfd): the first region
	 * mapped fine and must be undone. */
	mem.nregions = 2;
	r[1] = (struct vhost_user_mem_region){ 0x800000, 0x1000, 0x900000, 0 };
	h_expect(&h, VHOST_USER_SET_MEM_TABLE, 72, &mem, 72, (int[]){ h.ram, h.efd[0] }, 2,
		 -EINVAL);
	/* The old table survived all of it. */
	CU_ASSERT_EQUAL(h.dev.gm.nr, 1);
	CU_ASSERT_PTR_EQUAL(h.dev.gm.regions[0].hva, old_hva);
	CU_ASSERT_EQUAL(ram_maps(), maps + 1);
	CU_ASSERT_EQUAL(h.td.mem_changes, 1);
	h_usable(&h);
	/* Unaligned mmap_offset maps correctly. */
	CU_ASSERT_EQUAL(pwrite(h.ram, "xy", 2, 0x2345), 2);
	h_mem(&h, 0, 0x1000, 0x10000, 0x2345);
	CU_ASSERT_EQUAL(memcmp(h.dev.gm.regions[0].hva, "xy", 2), 0);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
	CU_ASSERT_EQUAL(ram_maps(), maps);
}

static void test_hostile_vring(void)
{
	struct hostile h;
	struct vhost_vring_state st;
	struct vhost_vring_addr a = { 0 };
	uint64_t v;
	int base = fd_count();

	h_start(&h);
	h_mem(&h, 0x100000, 0x10000, 0x7f0000000000, 0);
	st = (struct vhost_vring_state){ 2, 16 };   /* index out of range */
	h_expect(&h, VHOST_USER_SET_VRING_NUM, 8, &st, 8, NULL, 0, -EINVAL);
	h_expect(&h, VHOST_USER_SET_VRING_BASE, 8, &st, 8, NULL, 0, -EINVAL);
	h_expect(&h, VHOST_USER_GET_VRING_BASE, 8, &st, 8, NULL, 0, -EINVAL);
	h_expect(&h, VHOST_USER_SET_VRING_ENABLE, 8, &st, 8, NULL, 0, -EINVAL);
	st.index = 0xffffffff;
	h_expect(&h, VHOST_USER_SET_VRING_NUM, 8, &st, 8, NULL, 0, -EINVAL);
	v = 2;
	h_expect(&h, VHOST_USER_SET_VRING_KICK, 8, &v, 8, h.efd, 1, -EINVAL);
	v = 0xff | VHOST_USER_VRING_NOFD_MASK;
	h_expect(&h, VHOST_USER_SET_VRING_CALL, 8, &v, 8, NULL, 0, -EINVAL);
	v = 1ULL << 40;   /* stray bits */
	h_expect(&h, VHOST_USER_SET_VRING_ERR, 8, &v, 8, h.efd, 1, -EINVAL);
	a.index = 5;
	h_expect(&h, VHOST_USER_SET_VRING_ADDR, 40, &a, 40, NULL, 0, -EINVAL);
	for (unsigned int n = 0; n < 3; n++) {   /* not a power of two / too big */
		st = (struct vhost_vring_state){ 0, (unsigned int[]){ 0, 100, 512 }[n] };
		h_expect(&h, VHOST_USER_SET_VRING_NUM, 8, &st, 8, NULL, 0, -EINVAL);
	}
	st = (struct vhost_vring_state){ 0, 0x10000 };
	h_expect(&h, VHOST_USER_SET_VRING_BASE, 8, &st, 8, NULL, 0, -EINVAL);
	st = (struct vhost_vring_state){ 0, 2 };
	h_expect(&h, VHOST_USER_SET_VRING_ENABLE, 8, &st, 8, NULL, 0, -EINVAL);
	/* Addresses outside every region. */
	a = (struct vhost_vring_addr){ .index = 0, .desc_user_addr = 0x7f0000000000,
		.avail_user_addr = 0x7f0000001000, .used_user_addr = 0x7f0000010000 };
	h_expect(&h, VHOST_USER_SET_VRING_ADDR, 40, &a, 40, NULL, 0, -EFAULT);
	a.used_user_addr = 0x1000;
	h_expect(&h, VHOST_USER_SET_VRING_ADDR, 40, &a, 40, NULL, 0, -EFAULT);
	a.used_user_addr = 0x7f0000002000;
	a.flags = 4;
	h_expect(&h, VHOST_USER_SET_VRING_ADDR, 40, &a, 40, NULL, 0, -EINVAL);
	CU_ASSERT_FALSE(h.dev.vrings[0].has_addr);
	h_usable(&h);

	/* Rings that do not fit: used ring crossing the end of memory, then a
	 * misaligned descriptor table. The start (on kick; without protocol
	 * features a ring counts as enabled) fails and the kick is undone. */
	st = (struct vhost_vring_state){ 0, 256 };
	h_send(&h, VHOST_USER_SET_VRING_NUM, 0, 8, &st, 8, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	a.flags = 0;
	a.used_user_addr = 0x7f000000fc00;
	h_send(&h, VHOST_USER_SET_VRING_ADDR, 0, 40, &a, 40, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	v = 0;
	h_expect(&h, VHOST_USER_SET_VRING_KICK, 8, &v, 8, h.efd, 1, -EFAULT);
	CU_ASSERT_EQUAL(h.td.starts, 0);
	CU_ASSERT_FALSE(h.dev.vrings[0].has_kick);
	a.used_user_addr = 0x7f0000002000;
	a.desc_user_addr = 0x7f0000000008;
	h_send(&h, VHOST_USER_SET_VRING_ADDR, 0, 40, &a, 40, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	h_expect(&h, VHOST_USER_SET_VRING_KICK, 8, &v, 8, h.efd, 1, -EFAULT);
	a.desc_user_addr = 0x7f0000000000;
	h_send(&h, VHOST_USER_SET_VRING_ADDR, 0, 40, &a, 40, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	h_send(&h, VHOST_USER_SET_VRING_KICK, 0, 8, &v, 8, h.efd, 1);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);   /* now it fits: started */
	CU_ASSERT_EQUAL(h.td.starts, 1);
	CU_ASSERT_EQUAL(h.td.last.used_gpa, 0x102000);
	/* Running: size and base may not change; addresses only to equal. */
	h_expect(&h, VHOST_USER_SET_VRING_NUM, 8, &st, 8, NULL, 0, -EBUSY);
	h_expect(&h, VHOST_USER_SET_VRING_BASE, 8, &st, 8, NULL, 0, -EBUSY);
	a.avail_user_addr = 0x7f0000003000;
	h_expect(&h, VHOST_USER_SET_VRING_ADDR, 40, &a, 40, NULL, 0, -EBUSY);
	CU_ASSERT_EQUAL(h.dev.vrings[0].avail_gpa, 0x101000);
	h_usable(&h);
	h_stop(&h);
	CU_ASSERT_EQUAL(h.td.stops, 1);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void test_hostile_config(void)
{
	struct hostile h;
	struct vhost_user_config c = { .offset = 0xffffffff, .size = 8 };
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int n;
	int base = fd_count();

	h_start(&h);
	/* offset + size overflows: an empty GET_CONFIG reply, per the spec. */
	h_send(&h, VHOST_USER_GET_CONFIG, 0, 12 + 8, &c, 12 + 8, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), -EINVAL);
	CU_ASSERT_EQUAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	CU_ASSERT_EQUAL(m.hdr.request, VHOST_USER_GET_CONFIG);
	CU_ASSERT_EQUAL(m.hdr.size, 0);
	c = (struct vhost_user_config){ .offset = 0, .size = 33 };   /* past config_size */
	h_expect(&h, VHOST_USER_SET_CONFIG, 12 + 33, &c, 12 + 33, NULL, 0, -EINVAL);
	c = (struct vhost_user_config){ .offset = 0, .size = 300 };  /* > payload */
	h_expect(&h, VHOST_USER_SET_CONFIG, 12 + 8, &c, 12 + 8, NULL, 0, -EINVAL);
	c = (struct vhost_user_config){ .offset = 0, .size = 16 };   /* size > sent */
	h_expect(&h, VHOST_USER_SET_CONFIG, 12 + 8, &c, 12 + 8, NULL, 0, -EINVAL);
	c = (struct vhost_user_config){ .offset = 0, .size = 4, .flags = 7 };
	h_expect(&h, VHOST_USER_SET_CONFIG, 12 + 4, &c, 12 + 4, NULL, 0, -EINVAL);
	h_usable(&h);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void test_hostile_inflight(void)
{
	struct hostile h;
	struct vhost_user_inflight in = { .num_queues = 2, .queue_size = 128 };
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS], small, base = fd_count();
	unsigned int n;

	h_start(&h);
	for (int i = 0; i < 3; i++) {   /* 0 queues, 3 queues, size not 2^n */
		in.num_queues = (uint16_t[]){ 0, 3, 2 }[i];
		in.queue_size = (uint16_t[]){ 128, 128, 100 }[i];
		h_send(&h, VHOST_USER_GET_INFLIGHT_FD, 0, 24, &in, 24, NULL, 0);
		CU_ASSERT_EQUAL(vu_dispatch(&h.dev), -EINVAL);
		CU_ASSERT_EQUAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
		CU_ASSERT_EQUAL(m.payload.inflight.mmap_size, 0);
		CU_ASSERT_EQUAL(n, 0);
	}
	/* SET with a buffer too small for 2 x 128 (by size and by file). */
	in = (struct vhost_user_inflight){ .mmap_size = 100, .num_queues = 2, .queue_size = 128 };
	h_expect(&h, VHOST_USER_SET_INFLIGHT_FD, 24, &in, 24, &h.ram, 1, -EINVAL);
	small = ram_fd(4096);
	in.mmap_size = 2 * vu_inflight_queue_size(128);
	h_expect(&h, VHOST_USER_SET_INFLIGHT_FD, 24, &in, 24, &small, 1, -EINVAL);
	in.mmap_offset = 1024 * 1024 - 4096;
	h_expect(&h, VHOST_USER_SET_INFLIGHT_FD, 24, &in, 24, &h.ram, 1, -EINVAL);
	/* A header with a foreign layout (version 1, desc_num 64 for 128). */
	CU_ASSERT_EQUAL(pwrite(small, (uint16_t[]){ 1, 64 }, 4, 8), 4);
	in = (struct vhost_user_inflight){ .mmap_size = 4096, .num_queues = 1, .queue_size = 128 };
	h_expect(&h, VHOST_USER_SET_INFLIGHT_FD, 24, &in, 24, &small, 1, -EINVAL);
	/* The good case keeps the fd (one more open) and fills in headers. */
	in = (struct vhost_user_inflight){ .mmap_size = 4096 * 4, .num_queues = 2,
		.queue_size = 128 };
	h_send(&h, VHOST_USER_SET_INFLIGHT_FD, 0, 24, &in, 24, &h.ram, 1);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL(h.td.inflights, 1);
	CU_ASSERT_PTR_NOT_NULL(h.dev.vrings[1].inflight);
	CU_ASSERT_EQUAL(((uint16_t *)h.dev.vrings[1].inflight)[5], 128);   /* desc_num */
	close(small);
	h_usable(&h);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
}

static void test_unknown_and_acks(void)
{
	struct hostile h;
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS], base = fd_count();
	unsigned int n;
	uint64_t v = 1;

	h_start(&h);
	/* Unknown without NEED_REPLY: ignored (fds closed), no reply. */
	h_expect(&h, 200, 8, &v, 8, h.efd, 2, 0);
	h_expect(&h, VHOST_USER_SET_LOG_BASE, 8, &v, 8, h.efd, 1, 0);
	/* Unknown with NEED_REPLY: a non-zero ack. */
	h_send(&h, 200, VHOST_USER_NEED_REPLY_MASK, 0, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	CU_ASSERT_EQUAL(m.hdr.request, 200);
	CU_ASSERT_NOT_EQUAL(m.payload.u64, 0);
	/* Rejected known request with NEED_REPLY: nack, error returned. */
	v = 0;
	h_send(&h, VHOST_USER_SET_VRING_NUM, VHOST_USER_NEED_REPLY_MASK, 8,
	       &(struct vhost_vring_state){ 9, 16 }, 8, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), -EINVAL);
	CU_ASSERT_EQUAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	CU_ASSERT_EQUAL(m.payload.u64, EINVAL);
	/* Accepted with NEED_REPLY: zero ack. */
	h_send(&h, VHOST_USER_SET_OWNER, VHOST_USER_NEED_REPLY_MASK, 0, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	CU_ASSERT_EQUAL(m.payload.u64, 0);
	CU_ASSERT_TRUE(h.dev.owned);
	/* Protocol features not offered are refused. */
	v = 1ULL << VHOST_USER_PROTOCOL_F_LOG_SHMFD;
	h_expect(&h, VHOST_USER_SET_PROTOCOL_FEATURES, 8, &v, 8, NULL, 0, -EINVAL);
	h_usable(&h);
	/* Truncated header then EOF. */
	h_send(&h, VHOST_USER_GET_FEATURES, 0, 0, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	raw_send(h.sv[0], "\x01\0\0\0\x01", 5, h.efd, 1);
	shutdown(h.sv[0], SHUT_WR);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), -EBADMSG);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), -ECONNRESET);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
}

/* ---- the device IOTLB (VIRTIO_F_ACCESS_PLATFORM) ---- */

static const struct vu_dev_params td_iotlb_params = {
	.num_queues = 2, .max_queue_size = 256, .config_size = 32, .iotlb = true,
};

/* Sends an IOTLB_MSG and returns the u64 the back-end answered. */
static uint64_t h_iotlb(struct hostile *h, uint8_t type, uint64_t iova, uint64_t size,
			uint64_t uaddr, uint8_t perm)
{
	struct vhost_iotlb_msg im = { .iova = iova, .size = size, .uaddr = uaddr, .perm = perm,
				      .type = type };
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int n;

	h_send(h, VHOST_USER_IOTLB_MSG, VHOST_USER_NEED_REPLY_MASK, sizeof(im), &im, sizeof(im),
	       NULL, 0);
	vu_dispatch(&h->dev);
	if (vu_msg_recv(h->sv[0], &m, fds, &n) || m.hdr.request != VHOST_USER_IOTLB_MSG ||
	    m.hdr.size != 8 || n)
		return UINT64_MAX;
	return m.payload.u64;
}

static void test_iotlb(void)
{
	struct hostile h;
	struct vhost_vring_state st = { 0, 256 };
	struct vhost_vring_addr a = { .index = 0, .desc_user_addr = 0x40000000,
				      .avail_user_addr = 0x40001000, .used_user_addr = 0x40002000 };
	struct vhost_user_msg m;
	int req[2], fds[VHOST_USER_MAX_FDS];
	unsigned int n;
	uint64_t v, len;
	void *hva;
	int base = fd_count();

	h_start(&h);
	vu_dev_cleanup(&h.dev);
	CU_ASSERT_FATAL(vu_dev_init(&h.dev, h.sv[1], &td_ops, &td_iotlb_params, &h.td) == 0);
	/* Offered: ACCESS_PLATFORM and BACKEND_REQ. */
	h_send(&h, VHOST_USER_GET_FEATURES, 0, 0, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL_FATAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	CU_ASSERT((m.payload.u64 & BIT(VIRTIO_F_ACCESS_PLATFORM)) != 0);
	h_send(&h, VHOST_USER_GET_PROTOCOL_FEATURES, 0, 0, NULL, 0, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL_FATAL(vu_msg_recv(h.sv[0], &m, fds, &n), 0);
	CU_ASSERT(m.payload.u64 & BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ));
	/* The channel before BACKEND_REQ was negotiated: refused. */
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) == 0);
	h_expect(&h, VHOST_USER_SET_BACKEND_REQ_FD, 0, NULL, 0, &req[1], 1, -EINVAL);
	v = BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	h_send(&h, VHOST_USER_SET_PROTOCOL_FEATURES, 0, 8, &v, 8, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	h_send(&h, VHOST_USER_SET_BACKEND_REQ_FD, 0, 0, NULL, 0, &req[1], 1);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT(h.dev.backend_fd >= 0);
	h_mem(&h, 0x100000, 0x10000, 0x7f0000000000, 0);
	/* IOTLB messages before ACCESS_PLATFORM: refused, answered. */
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x4000, 0x7f0000000000,
				    VHOST_ACCESS_RW), 0);
	v = BIT(0) | BIT(VIRTIO_F_ACCESS_PLATFORM);
	h_send(&h, VHOST_USER_SET_FEATURES, 0, 8, &v, 8, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_PTR_EQUAL(h.dev.vrings[0].dma, &h.dev.iotlb_dma.as);

	/* Hostile updates: outside the table, across its end, empty,
	 * wrapping, a bad type or permission. All answered non-zero. */
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x1000, 0x1000,
				    VHOST_ACCESS_RW), 0);
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x2000,
				    0x7f000000f000, VHOST_ACCESS_RW), 0);
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0, 0x7f0000000000,
				    VHOST_ACCESS_RW), 0);
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, UINT64_MAX - 0xfff, 0x2000,
				    0x7f0000000000, VHOST_ACCESS_RW), 0);
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, 9, 0x40000000, 0x1000, 0x7f0000000000, VHOST_ACCESS_RW), 0);
	CU_ASSERT_NOT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x1000, 0x7f0000000000,
				    7), 0);
	CU_ASSERT_EQUAL(h.dev.iotlb.n, 0);
	h_usable(&h);

	/* Rings at IOVAs: the update maps them, the kick starts the ring. */
	CU_ASSERT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x4000, 0x7f0000000000,
				VHOST_ACCESS_RW), 0);
	h_send(&h, VHOST_USER_SET_VRING_NUM, 0, 8, &st, 8, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	h_send(&h, VHOST_USER_SET_VRING_ADDR, 0, 40, &a, 40, NULL, 0);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL(h.dev.vrings[0].desc_gpa, 0x40000000);   /* kept as an IOVA */
	v = 0;
	h_send(&h, VHOST_USER_SET_VRING_KICK, 0, 8, &v, 8, h.efd, 1);
	CU_ASSERT_EQUAL(vu_dispatch(&h.dev), 0);
	CU_ASSERT_EQUAL(h.td.starts, 1);
	len = 16;
	CU_ASSERT_EQUAL(dma_translate(h.dev.vrings[0].dma, 0x40002010, &len, DMA_WRITE, &hva), 0);
	CU_ASSERT_PTR_EQUAL(hva, h.dev.vrings[0].hva[2] + 0x10);
	/* ACCESS_PLATFORM cannot go while a ring runs. */
	v = BIT(0);
	h_expect(&h, VHOST_USER_SET_FEATURES, 8, &v, 8, NULL, 0, -EBUSY);

	/* A flush with the rings still mapped: marked, then the same pages
	 * again: it runs on without a restart. */
	CU_ASSERT_EQUAL(h_iotlb(&h, VHOST_IOTLB_INVALIDATE, 0, UINT64_MAX, 0, 0), 0);
	CU_ASSERT(h.dev.vrings[0].stale);
	CU_ASSERT_EQUAL(h.dev.iotlb.n, 0);
	CU_ASSERT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x4000, 0x7f0000000000,
				VHOST_ACCESS_RW), 0);
	CU_ASSERT_FALSE(h.dev.vrings[0].stale);
	CU_ASSERT_EQUAL(h.td.starts, 1);
	CU_ASSERT_EQUAL(h.td.stops, 0);
	/* Remapped elsewhere: the ring restarts on the new pages. */
	CU_ASSERT_EQUAL(h_iotlb(&h, VHOST_IOTLB_INVALIDATE, 0x40001000, 0x1000, 0, 0), 0);
	CU_ASSERT_EQUAL(h_iotlb(&h, VHOST_IOTLB_UPDATE, 0x40000000, 0x4000, 0x7f0000008000,
				VHOST_ACCESS_RW), 0);
	CU_ASSERT_EQUAL(h.td.stops, 1);
	CU_ASSERT_EQUAL(h.td.starts, 2);
	CU_ASSERT_PTR_EQUAL(h.dev.vrings[0].hva[0], h.dev.gm.regions[0].hva + 0x8000);

	/* A miss on the dispatch thread: asked on the channel, not waited for. */
	len = 8;
	CU_ASSERT_EQUAL(dma_translate(&h.dev.iotlb_dma.as, 0x50000000, &len, DMA_READ, &hva),
			-EFAULT);
	CU_ASSERT_EQUAL_FATAL(vu_msg_recv(req[0], &m, fds, &n), 0);
	CU_ASSERT_EQUAL(m.hdr.request, VHOST_USER_BACKEND_IOTLB_MSG);
	CU_ASSERT_EQUAL(m.payload.iotlb.type, VHOST_IOTLB_MISS);
	CU_ASSERT_EQUAL(m.payload.iotlb.iova, 0x50000000);
	CU_ASSERT_EQUAL(m.payload.iotlb.perm, VHOST_ACCESS_RO);
	h_usable(&h);
	close(req[0]);
	close(req[1]);
	h_stop(&h);
	CU_ASSERT_EQUAL(fd_count(), base);
}

void unit_register(void)
{
	log_set_level(LOG_ERROR);   /* rejections are logged as warnings */
	UNIT_SUITE("vhost_user",
		   UNIT_TEST(test_framing_roundtrip),
		   UNIT_TEST(test_framing_errors),
		   UNIT_TEST(test_handshake),
		   UNIT_TEST(test_handshake_legacy),
		   UNIT_TEST(test_hostile_sizes),
		   UNIT_TEST(test_hostile_fd_counts),
		   UNIT_TEST(test_hostile_mem_table),
		   UNIT_TEST(test_hostile_vring),
		   UNIT_TEST(test_hostile_config),
		   UNIT_TEST(test_hostile_inflight),
		   UNIT_TEST(test_unknown_and_acks),
		   UNIT_TEST(test_iotlb));
}
