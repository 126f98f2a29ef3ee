/* Tests for vmm/virtio/vhost_user_net.c without KVM or root: the VM stub of
 * test_vhost_user_blk.c (memfd RAM, GSI table with vm_fd -1, PCI bus, event
 * loop) and, as the socket= backend, a fake vhost-user-net device served by
 * lib/vu_server.c on a thread of its own, which records what it is told
 * (features, MAC, which rings run) and counts the kicks of its rings. The
 * test plays the guest driver through the PCI windows.
 *
 * Checked: identity, offered features (backend ∩ ours, CTRL_MAC_ADDR not
 * passed on) and config (the spec's MAC, also sent to the backend; pairs;
 * MTU), and isle's own config for a backend without one; the control queue answered by isle (RX mode, VQ_PAIRS_SET switching
 * rings 2-3 on and off in the backend, bad commands refused) while the
 * backend never sees CTRL_VQ or the control ring; the control queue at
 * ring 2 without MQ, then ring 2 as a data ring in the next session with
 * its kicks reaching the backend, not isle; and the backend going away:
 * link down with a config interrupt, reconnect, link up, rings resumed in
 * the pairs state the guest had set. Tap fds in the spec: refused when they
 * do not fit (count, socket=, not taps, closed, another tap's vifname) with
 * nothing left open; and passed as --tap-fd to the real isle-netback isle
 * starts, at its first start and after it is killed, as the device's own
 * copies, closed at device_del (taps from tap_fixture.c; skipped where the
 * sandbox has none). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vu_server.h"
#include "boot/layout.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"
#include "tap_fixture.h"

#define RAM_BASE   0x100000ULL
#define RAM_SIZE   (4 * MiB)
#define RING(i)    (RAM_BASE + 0x10000 + (i) * 0x4000ULL)  /* desc; avail +0x1000; used +0x2000 */
#define CMD        (RAM_BASE + 0x80000)                    /* class, cmd, data...; ack at +0x100 */
#define QSIZE      16
#define NB_QUEUES  5                                       /* 2 pairs + control */
#define NB_FEATURES (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |               \
		     BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |  \
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) |            \
		     BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) |          \
		     BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_RING_F_EVENT_IDX) |                  \
		     BIT(VIRTIO_RING_F_INDIRECT_DESC))


static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};
static const uint8_t spec_mac[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };

static struct vm vm;
static struct vm_config cfg;
static struct device_spec spec;
static uint8_t *ram;
static unsigned int slot;
static uint64_t bar4;
static uint16_t avail_idx[NB_QUEUES], used_seen[NB_QUEUES];
static char dir[64], sock[96];

/* ---- the fake backend, on its own thread ---- */

static struct {
	struct evloop loop;
	struct vu_server srv;
	pthread_t thread;
	bool open;
	bool no_config;              /* a backend without PROTOCOL_F_CONFIG */
	int stop;                    /* atomics from here on */
	uint64_t features;           /* from SET_FEATURES */
	uint32_t started;            /* bit per running ring */
	uint8_t mac[6];              /* from SET_CONFIG */
	unsigned int kicks[NB_QUEUES];
} nb;

static uint64_t nb_get_features(struct vu_dev *dev)
{
	return NB_FEATURES;
}

static uint64_t nb_protocol(struct vu_dev *dev)
{
	return ~0ULL & ~(nb.no_config ? BIT(VHOST_USER_PROTOCOL_F_CONFIG) : 0);
}

static int nb_set_features(struct vu_dev *dev, uint64_t f)
{
	__atomic_store_n(&nb.features, f, __ATOMIC_RELEASE);
	return 0;
}

static int nb_get_config(struct vu_dev *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net_config c = {
		.mac = { 0x02, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb },
		.status = VIRTIO_NET_S_LINK_UP, .max_virtqueue_pairs = 2, .mtu = 1400,
	};

	memcpy(buf, (uint8_t *)&c + off, len);
	return 0;
}

static int nb_set_config(struct vu_dev *dev, uint32_t off, const void *buf, uint32_t len,
			 uint32_t flags)
{
	if (off == 0 && len == 6)
		memcpy(nb.mac, buf, 6);
	return 0;
}

static void nb_kick(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	eventfd_t v;

	if (eventfd_read(fd, &v) == 0)
		__atomic_fetch_add(&nb.kicks[(uintptr_t)opaque], 1, __ATOMIC_ACQ_REL);
}

static int nb_queue_start(struct vu_dev *dev, unsigned int i, const struct vu_vring *vr)
{
	if (i >= NB_QUEUES)
		return -EINVAL;
	if (vr->kick_fd >= 0)
		evloop_add(&nb.loop, vr->kick_fd, EPOLLIN, nb_kick, (void *)(uintptr_t)i);
	__atomic_fetch_or(&nb.started, 1u << i, __ATOMIC_ACQ_REL);
	return 0;
}

static uint16_t nb_queue_stop(struct vu_dev *dev, unsigned int i)
{
	if (dev->vrings[i].kick_fd >= 0)
		evloop_del(&nb.loop, dev->vrings[i].kick_fd);
	__atomic_fetch_and(&nb.started, ~(1u << i), __ATOMIC_ACQ_REL);
	return dev->vrings[i].base;
}

static const struct vu_dev_ops nb_ops = {
	.get_features = nb_get_features,
	.set_features = nb_set_features,
	.get_protocol_features = nb_protocol,
	.get_config = nb_get_config,
	.set_config = nb_set_config,
	.queue_start = nb_queue_start,
	.queue_stop = nb_queue_stop,
};

static void *nb_run(void *arg)
{
	while (!__atomic_load_n(&nb.stop, __ATOMIC_ACQUIRE))
		evloop_run_once(&nb.loop, 5);
	return NULL;
}

static void nb_open(void)
{
	struct vu_dev_params p = { .num_queues = NB_QUEUES, .max_queue_size = 256,
				   .config_size = sizeof(struct virtio_net_config) };

	memset(nb.mac, 0, sizeof(nb.mac));
	CU_ASSERT_EQUAL_FATAL(evloop_init(&nb.loop), 0);
	CU_ASSERT_EQUAL_FATAL(vu_server_open(&nb.srv, &nb.loop, sock, &nb_ops, &p, NULL, NULL), 0);
	nb.stop = 0;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&nb.thread, NULL, nb_run, NULL), 0);
	nb.open = true;
}

static void nb_close(void)
{
	if (!nb.open)
		return;
	__atomic_store_n(&nb.stop, 1, __ATOMIC_RELEASE);
	pthread_join(nb.thread, NULL);
	vu_server_close(&nb.srv);   /* the thread is gone: ours now */
	evloop_fini(&nb.loop);
	__atomic_store_n(&nb.started, 0, __ATOMIC_RELEASE);
	nb.open = false;
}

/* ---- the guest side ---- */

static void mmio(uint64_t addr, void *data, unsigned int len, bool is_write)
{
	pci_mmio32_handler(&vm.pci, addr - LAYOUT_MMIO32, data, len, is_write);
}

static uint32_t rd(uint64_t addr, unsigned int len)
{
	uint8_t b[4] = { 0 };

	mmio(addr, b, len, false);
	return len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
}

static void wr(uint64_t addr, uint32_t v, unsigned int len)
{
	uint8_t b[4];

	put_le32(b, v);
	mmio(addr, b, len, true);
}

static uint32_t cfg_rd(unsigned int off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_cfg_access(&vm.pci, 0, slot << 3, off, b, len, false);
	return len == 4 ? get_le32(b) : len == 2 ? get_le16(b) : b[0];
}

static void cfg_wr(unsigned int off, uint32_t v, unsigned int len)
{
	uint8_t b[4];

	put_le32(b, v);
	pci_cfg_access(&vm.pci, 0, slot << 3, off, b, len, true);
}

static uint8_t *gpa(uint64_t a)
{
	return ram + (a - RAM_BASE);
}

#define CC(off) (bar4 + VIRTIO_PCI_COMMON_OFF + (off))
#define DEVCFG(field) (bar4 + VIRTIO_PCI_DEVCFG_OFF + offsetof(struct virtio_net_config, field))

/* The VM stub: RAM, GSIs, the PCI bus, the loop. */
static void vm_setup(void)
{
	int fd;

	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	snprintf(dir, sizeof(dir), "/tmp/isle-vunet-test-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/nb.sock", dir);
	vm.vm_fd = vm.kvm_fd = vm.stop_efd = -1;
	vm.cfg = &cfg;
	fd = memfd_create("test-ram", MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, RAM_SIZE) == 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(ram != MAP_FAILED);
	vm.mem_fd = fd;
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, RAM_BASE, RAM_SIZE, ram, fd, 0), 0);
	dma_as_identity_init(&vm.dma, &vm.gmem);   /* as vm_create does */
	CU_ASSERT_EQUAL_FATAL(gsi_init(&vm.gsi, -1), 0);
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&vm.pci, &win), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&vm.loop), 0);
	memset(&spec, 0, sizeof(spec));
	spec.kind = DEVICE_NIC;
}

/* The added NIC's slot and BAR 4, memory and bus mastering on. */
static void find_nic(void)
{
	for (slot = 1; slot < PCI_MAX_DEVS; slot++)
		if (cfg_rd(PCI_VENDOR_ID, 4) == (0x1041u << 16 | 0x1af4))
			break;
	CU_ASSERT_FATAL(slot < PCI_MAX_DEVS);
	bar4 = cfg_rd(PCI_BASE_ADDRESS_4, 4) & ~0xfULL;
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

static void setup_spec(bool mac_set)
{
	vm_setup();
	nb_open();
	CU_ASSERT_EQUAL_FATAL(snprintf(spec.nic.socket, sizeof(spec.nic.socket), "%s",
				       sock) < (int)sizeof(spec.nic.socket), 1);
	memcpy(spec.nic.mac, spec_mac, 6);
	spec.nic.mac_set = mac_set;
	spec.nic.queues = 2;
	CU_ASSERT_EQUAL_FATAL(device_add(&vm, &spec, NULL), 0);
	find_nic();
}

static void setup(void)
{
	setup_spec(true);
}

static void vm_teardown(void)
{
	evloop_fini(&vm.loop);
	pci_bus_destroy(&vm.pci);
	gsi_destroy(&vm.gsi);
	munmap(ram, RAM_SIZE);
	close(vm.mem_fd);
	rmdir(dir);
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(device_del(&vm, "net0"), 0);
	nb_close();
	vm_teardown();
}

/* Runs isle's loop until cond holds or timeout_ms passes. */
#define WAIT_FOR(cond, timeout_ms)                                                \
	({                                                                        \
		int t_ = 0;                                                       \
		while (!(cond) && t_ < (timeout_ms)) {                            \
			evloop_run_once(&vm.loop, 5);                             \
			t_ += 5;                                                  \
		}                                                                 \
		(bool)(cond);                                                     \
	})

static uint32_t started(void)
{
	return __atomic_load_n(&nb.started, __ATOMIC_ACQUIRE);
}

/* Features acked, queues [0, nq) enabled, DRIVER_OK. */
static void driver_init(uint64_t features, unsigned int nq)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	wr(CC(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	memset(gpa(RING(0)), 0, NB_QUEUES * 0x4000);
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	wr(CC(VIRTIO_PCI_COMMON_STATUS), s, 1);
	for (unsigned int i = 0; i < 2; i++) {
		wr(CC(VIRTIO_PCI_COMMON_GFSELECT), i, 4);
		features |= BIT(VIRTIO_F_VERSION_1);
		wr(CC(VIRTIO_PCI_COMMON_GF), (uint32_t)(features >> (32 * i)), 4);
	}
	wr(CC(VIRTIO_PCI_COMMON_STATUS), s |= VIRTIO_CONFIG_S_FEATURES_OK, 1);
	CU_ASSERT(rd(CC(VIRTIO_PCI_COMMON_STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned int i = 0; i < nq; i++) {
		wr(CC(VIRTIO_PCI_COMMON_Q_SELECT), i, 2);
		wr(CC(VIRTIO_PCI_COMMON_Q_SIZE), QSIZE, 2);
		wr(CC(VIRTIO_PCI_COMMON_Q_DESCLO), (uint32_t)RING(i), 4);
		wr(CC(VIRTIO_PCI_COMMON_Q_AVAILLO), (uint32_t)RING(i) + 0x1000, 4);
		wr(CC(VIRTIO_PCI_COMMON_Q_USEDLO), (uint32_t)RING(i) + 0x2000, 4);
		wr(CC(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
	}
	wr(CC(VIRTIO_PCI_COMMON_STATUS), s | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	CU_ASSERT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static void notify(unsigned int q)
{
	wr(bar4 + VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT, q, 2);
}

/* One control command on ring q; returns the ack, or -1 if none came. */
static int ctrl(unsigned int q, uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	struct vring_desc *d = (struct vring_desc *)gpa(RING(q));
	struct vring_avail *av = (struct vring_avail *)gpa(RING(q) + 0x1000);
	struct vring_used *u = (struct vring_used *)gpa(RING(q) + 0x2000);

	gpa(CMD)[0] = cls;
	gpa(CMD)[1] = cmd;
	memcpy(gpa(CMD + 2), data, len);
	gpa(CMD + 0x100)[0] = 0xee;
	d[0] = (struct vring_desc){ .addr = CMD, .len = 2 + len, .flags = VRING_DESC_F_NEXT,
				    .next = 1 };
	d[1] = (struct vring_desc){ .addr = CMD + 0x100, .len = 1, .flags = VRING_DESC_F_WRITE };
	av->ring[avail_idx[q] % QSIZE] = 0;
	__atomic_store_n(&av->idx, ++avail_idx[q], __ATOMIC_RELEASE);
	notify(q);
	if (!WAIT_FOR(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != used_seen[q], 2000))
		return -1;
	used_seen[q]++;
	return gpa(CMD + 0x100)[0];
}

static int pairs_set(unsigned int q, uint16_t n)
{
	uint8_t le[2];

	put_le16(le, n);
	return ctrl(q, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, le, 2);
}

/* ---- tests ---- */

static void test_identity_and_config(void)
{
	uint64_t df;

	setup();
	CU_ASSERT_EQUAL(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, 0x020000);
	CU_ASSERT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_NUMQ), 2), NB_QUEUES);
	wr(CC(VIRTIO_PCI_COMMON_DFSELECT), 0, 4);
	df = rd(CC(VIRTIO_PCI_COMMON_DF), 4);
	wr(CC(VIRTIO_PCI_COMMON_DFSELECT), 1, 4);
	df |= (uint64_t)rd(CC(VIRTIO_PCI_COMMON_DF), 4) << 32;
	CU_ASSERT_EQUAL(df, (NB_FEATURES & ~BIT(VIRTIO_NET_F_CTRL_MAC_ADDR)) |
			    BIT(VIRTIO_F_VERSION_1));
	for (unsigned int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(rd(DEVCFG(mac) + i, 1), spec_mac[i]);
	CU_ASSERT_EQUAL(rd(DEVCFG(status), 2), VIRTIO_NET_S_LINK_UP);
	CU_ASSERT_EQUAL(rd(DEVCFG(max_virtqueue_pairs), 2), 2);
	CU_ASSERT_EQUAL(rd(DEVCFG(mtu), 2), 1400);
	/* The spec's MAC went to the backend too. */
	CU_ASSERT_EQUAL(memcmp(nb.mac, spec_mac, 6), 0);
	teardown();
}

/* DPDK's vhost PMD has no config space: isle makes one, MTU not offered. */
static void test_backend_without_config(void)
{
	uint8_t mac[6];
	uint64_t df;

	nb.no_config = true;
	setup_spec(false);
	wr(CC(VIRTIO_PCI_COMMON_DFSELECT), 0, 4);
	df = rd(CC(VIRTIO_PCI_COMMON_DF), 4);
	CU_ASSERT_EQUAL(df & BIT(VIRTIO_NET_F_MTU), 0);
	CU_ASSERT(df & BIT(VIRTIO_NET_F_MAC) && df & BIT(VIRTIO_NET_F_STATUS) &&
		  df & BIT(VIRTIO_NET_F_MQ));
	for (unsigned int i = 0; i < 6; i++)
		mac[i] = (uint8_t)rd(DEVCFG(mac) + i, 1);
	CU_ASSERT(mac[0] == 0x00 && mac[1] == 0x16 && mac[2] == 0x3e && !(mac[3] & 0x80));
	CU_ASSERT_EQUAL(rd(DEVCFG(status), 2), VIRTIO_NET_S_LINK_UP);
	CU_ASSERT_EQUAL(rd(DEVCFG(max_virtqueue_pairs), 2), 2);
	CU_ASSERT_EQUAL(rd(DEVCFG(mtu), 2), 0);
	driver_init(BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ), NB_QUEUES);
	CU_ASSERT_EQUAL(pairs_set(4, 2), VIRTIO_NET_OK);
	CU_ASSERT(WAIT_FOR(started() == 0xf, 2000));
	teardown();
	nb.no_config = false;
}

static void test_ctrl_queue_mq(void)
{
	uint8_t on = 1, bad[2] = { 0 };
	uint64_t f;

	setup();
	driver_init(BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
		    BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_MRG_RXBUF), NB_QUEUES);
	/* One pair until VQ_PAIRS_SET; the control ring stays with isle. */
	CU_ASSERT(WAIT_FOR(started() == 0x3, 2000));
	f = __atomic_load_n(&nb.features, __ATOMIC_ACQUIRE);
	CU_ASSERT(f & BIT(VIRTIO_NET_F_MQ) && f & BIT(VIRTIO_NET_F_MRG_RXBUF));
	CU_ASSERT_FALSE(f & (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
			     BIT(VIRTIO_NET_F_MAC)));
	CU_ASSERT_EQUAL(ctrl(4, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
			VIRTIO_NET_OK);
	CU_ASSERT_EQUAL(pairs_set(4, 2), VIRTIO_NET_OK);
	CU_ASSERT(WAIT_FOR(started() == 0xf, 2000));
	CU_ASSERT_EQUAL(pairs_set(4, 3), VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(ctrl(4, 0x77, 0, bad, 2), VIRTIO_NET_ERR);
	/* Not offered: refused. */
	CU_ASSERT_EQUAL(ctrl(4, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, spec_mac, 6),
			VIRTIO_NET_ERR);
	CU_ASSERT_EQUAL(pairs_set(4, 1), VIRTIO_NET_OK);
	CU_ASSERT(WAIT_FOR(started() == 0x3, 2000));
	CU_ASSERT_EQUAL(started() & 0x10, 0);
	/* Reset stops every ring. */
	wr(CC(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	CU_ASSERT(WAIT_FOR(started() == 0, 2000));
	teardown();
}

static void test_ctrl_ring_moves(void)
{
	unsigned int k0;

	setup();
	/* Without MQ the control queue is ring 2. */
	driver_init(BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX), 3);
	CU_ASSERT(WAIT_FOR(started() == 0x3, 2000));
	CU_ASSERT_EQUAL(ctrl(2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, "\1", 1),
			VIRTIO_NET_OK);
	CU_ASSERT_EQUAL(pairs_set(2, 2), VIRTIO_NET_ERR);   /* MQ not negotiated */
	/* Next session with MQ: ring 2 carries data, its kicks are the
	 * backend's (isle must not swallow them), and ring 4 is control. */
	driver_init(BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ), NB_QUEUES);
	CU_ASSERT(WAIT_FOR(started() == 0x3, 2000));
	CU_ASSERT_EQUAL(pairs_set(4, 2), VIRTIO_NET_OK);
	CU_ASSERT(WAIT_FOR(started() == 0xf, 2000));
	for (int i = 0; i < 5; i++) {
		k0 = __atomic_load_n(&nb.kicks[2], __ATOMIC_ACQUIRE);
		notify(2);
		CU_ASSERT(WAIT_FOR(__atomic_load_n(&nb.kicks[2], __ATOMIC_ACQUIRE) > k0, 2000));
	}
	/* And back: ring 2 is control again and heard. */
	driver_init(BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX), 3);
	CU_ASSERT_EQUAL(ctrl(2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\0", 1),
			VIRTIO_NET_OK);
	teardown();
}

static void test_reconnect(void)
{
	uint8_t gen;

	setup();
	driver_init(BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_STATUS),
		    NB_QUEUES);
	CU_ASSERT_EQUAL(pairs_set(4, 2), VIRTIO_NET_OK);
	CU_ASSERT(WAIT_FOR(started() == 0xf, 2000));
	gen = (uint8_t)rd(CC(VIRTIO_PCI_COMMON_CFGGENERATION), 1);
	nb_close();
	CU_ASSERT(WAIT_FOR(rd(DEVCFG(status), 2) == 0, 2000));
	CU_ASSERT_NOT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_CFGGENERATION), 1), gen);
	/* The guest's commands are still answered while the backend is away. */
	CU_ASSERT_EQUAL(pairs_set(4, 1), VIRTIO_NET_OK);
	CU_ASSERT_EQUAL(pairs_set(4, 2), VIRTIO_NET_OK);
	nb_open();
	CU_ASSERT(WAIT_FOR(rd(DEVCFG(status), 2) == VIRTIO_NET_S_LINK_UP, 3000));
	CU_ASSERT(WAIT_FOR(started() == 0xf, 2000));
	CU_ASSERT_EQUAL(memcmp(nb.mac, spec_mac, 6), 0);
	CU_ASSERT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	teardown();
}

/* ---- tap fds (struct vif's, from a control socket) ---- */

#define TAPF (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

static unsigned int open_fds(void)
{
	unsigned int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool is_tap(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(fd, TUNGETIFF, &ifr) == 0;
}

/* The spec (its other fields as set) with these fds; device_add's result.
 * A refusal leaves nothing open. */
static int add_with_fds(const int *fds, unsigned int n, unsigned int queues,
			const char *vifname, bool socket)
{
	unsigned int before = open_fds();
	int r;

	spec.kind = DEVICE_NIC;
	spec.nic.queues = queues;
	spec.nic.nr_tap_fds = n;
	for (unsigned int i = 0; i < VIF_MAX_QUEUES; i++)
		spec.nic.tap_fds[i] = i < n ? fds[i] : -1;
	snprintf(spec.nic.vifname, sizeof(spec.nic.vifname), "%s", vifname ? vifname : "");
	snprintf(spec.nic.socket, sizeof(spec.nic.socket), "%s", socket ? sock : "");
	r = device_add(&vm, &spec, NULL);
	if (r)
		CU_ASSERT_EQUAL(open_fds(), before);
	return r;
}

/* Refusals, before any backend starts; the caller's fds stay open. */
static void test_tap_fds_refused(void)
{
	int p[2], fd, taps[2], mq[2], mq2;

	vm_setup();
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL(add_with_fds(p, 1, 2, NULL, false), -EINVAL);      /* queues=2, 1 fd */
	CU_ASSERT_EQUAL(add_with_fds(p, 2, 1, NULL, false), -EINVAL);      /* queues=1, 2 fds */
	CU_ASSERT_EQUAL(add_with_fds(p, 1, 1, NULL, true), -EINVAL);       /* socket= */
	CU_ASSERT_EQUAL(add_with_fds(p, 1, 1, NULL, false), -EINVAL);      /* not a tap */
	CU_ASSERT_EQUAL(add_with_fds((int[]){ -1 }, 1, 1, NULL, false), -EBADF);
	fd = dup(p[0]);
	close(fd);
	CU_ASSERT_EQUAL(add_with_fds(&fd, 1, 1, NULL, false), -EBADF);     /* closed */
	CU_ASSERT(fcntl(p[0], F_GETFD) >= 0 && fcntl(p[1], F_GETFD) >= 0);
	close(p[0]);
	close(p[1]);
	if (tap_fixture_open("vt0", TAPF, 1, &taps[0]) ||
	    tap_fixture_open("vt1", TAPF | IFF_MULTI_QUEUE, 1, &taps[1]) ||
	    tap_fixture_open("vt2", TAPF | IFF_MULTI_QUEUE, 1, &mq2) ||
	    tap_fixture_open("vsq0", TAPF, 1, &fd) ||
	    tap_fixture_open("vmq0", TAPF | IFF_MULTI_QUEUE, 2, mq)) {
		printf("\n  skipped the tap cases: no tap in a namespace of our own\n");
		vm_teardown();
		return;
	}
	/* vifname= of another tap; fds of two taps; a tap that is not
	 * multi-queue with two pairs. */
	CU_ASSERT_EQUAL(add_with_fds(taps, 1, 1, "other0", false), -EINVAL);
	CU_ASSERT_EQUAL(add_with_fds((int[]){ taps[1], mq2 }, 2, 2, NULL, false), -EINVAL);
	CU_ASSERT_EQUAL(add_with_fds((int[]){ fd, mq[0] }, 2, 2, NULL, false), -EINVAL);
	CU_ASSERT(is_tap(taps[0]) && is_tap(taps[1]) && is_tap(fd) && is_tap(mq[0]));
	close(mq2);
	close(taps[0]);
	close(taps[1]);
	close(fd);
	close(mq[0]);
	close(mq[1]);
	CU_ASSERT_EQUAL(vm.devices.count, 0);
	vm_teardown();
}

/* The isle-netback of this build, or "" (the test binary is
 * tests/unit/test_vhost_user_net in the build tree). */
static void netback_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	buf[0] = '\0';
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/../../netback/isle-netback", self) >= len ||
	    access(buf, X_OK))
		buf[0] = '\0';
}

/* The wrapper's log: "start PID ARGS" and "fd N TARGET" lines per start. */
static int read_log(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (int)n;
}

static unsigned int count_of(const char *hay, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The real isle-netback on two queues of a multi-queue tap in another
 * namespace (as Kata hands them over), through a wrapper that logs what
 * each start got: --tap-fd with the device's own copies (not the spec's
 * fds), open in the child and taps; after SIGKILL the restarted one gets
 * the same; device_del closes the copies, the caller's stay. */
static void test_tap_fds_passed(void)
{
	char nb_exe[PATH_MAX], wrapper[160], logp[160], log[8192], want[64], *p;
	unsigned int before;
	int taps[2], dups[2] = { -1, -1 };
	pid_t pid;
	FILE *f;

	netback_path(nb_exe, sizeof(nb_exe));
	if (!nb_exe[0] || tap_fixture_open("kata0", TAPF | IFF_MULTI_QUEUE, 2, taps)) {
		printf("\n  skipped: needs isle-netback built and taps in a namespace of our "
		       "own\n");
		return;
	}
	vm_setup();
	snprintf(wrapper, sizeof(wrapper), "%s/nb-wrapper", dir);
	snprintf(logp, sizeof(logp), "%s/nb-starts", dir);
	f = fopen(wrapper, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "#!/bin/sh\n"
		   "echo \"start $$ $*\" >>'%s'\n"
		   "prev=\n"
		   "for a in \"$@\"; do\n"
		   "  [ \"$prev\" = --tap-fd ] && echo \"fd $a $(readlink /proc/$$/fd/$a)\" >>'%s'\n"
		   "  prev=$a\n"
		   "done\n"
		   "exec '%s' \"$@\"\n", logp, logp, nb_exe);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(chmod(wrapper, 0700), 0);
	setenv("ISLE_NETBACK", wrapper, 1);
	if (!getenv("ISLE_LOG"))
		setenv("ISLE_LOG", "warn", 1);   /* isle-netback's */

	before = open_fds();
	memcpy(spec.nic.mac, spec_mac, 6);
	spec.nic.mac_set = true;
	spec.nic.mtu = 1400;
	CU_ASSERT_EQUAL_FATAL(add_with_fds(taps, 2, 2, NULL, false), 0);
	find_nic();
	CU_ASSERT_EQUAL(rd(DEVCFG(status), 2), VIRTIO_NET_S_LINK_UP);
	CU_ASSERT_EQUAL(rd(DEVCFG(max_virtqueue_pairs), 2), 2);
	/* A tap in another namespace: isle-netback advertises mtu= as given. */
	CU_ASSERT_EQUAL(rd(DEVCFG(mtu), 2), 1400);

	read_log(logp, log, sizeof(log));
	p = strstr(log, "--tap-fd ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(sscanf(p, "--tap-fd %d --tap-fd %d", &dups[0], &dups[1]), 2);
	CU_ASSERT(dups[0] >= 3 && dups[1] >= 3 && dups[0] != dups[1]);
	CU_ASSERT(dups[0] != taps[0] && dups[0] != taps[1] && dups[1] != taps[0] &&
		  dups[1] != taps[1]);
	CU_ASSERT(is_tap(dups[0]) && is_tap(dups[1]));
	CU_ASSERT(fcntl(dups[0], F_GETFD) & FD_CLOEXEC);   /* ours stay close-on-exec */
	CU_ASSERT_PTR_NULL(strstr(log, "--tap "));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "--queues 2"));
	snprintf(want, sizeof(want), "fd %d /dev/net/tun\n", dups[0]);
	CU_ASSERT_EQUAL(count_of(log, want), 1);
	snprintf(want, sizeof(want), "fd %d /dev/net/tun\n", dups[1]);
	CU_ASSERT_EQUAL(count_of(log, want), 1);

	/* Killed: the restart gets the same fds, and the link comes back. */
	CU_ASSERT_EQUAL_FATAL(sscanf(log, "start %d", &pid), 1);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT(WAIT_FOR(rd(DEVCFG(status), 2) == 0, 3000));
	CU_ASSERT(WAIT_FOR(rd(DEVCFG(status), 2) == VIRTIO_NET_S_LINK_UP, 5000));
	read_log(logp, log, sizeof(log));
	CU_ASSERT_EQUAL(count_of(log, "start "), 2);
	snprintf(want, sizeof(want), "--tap-fd %d --tap-fd %d ", dups[0], dups[1]);
	CU_ASSERT_EQUAL(count_of(log, want), 2);
	snprintf(want, sizeof(want), "fd %d /dev/net/tun\n", dups[1]);
	CU_ASSERT_EQUAL(count_of(log, want), 2);

	CU_ASSERT_EQUAL(device_del(&vm, "net0"), 0);
	CU_ASSERT_EQUAL(open_fds(), before);
	CU_ASSERT(is_tap(taps[0]) && is_tap(taps[1]));   /* the caller's */
	close(taps[0]);
	close(taps[1]);
	unlink(wrapper);
	unlink(logp);
	unsetenv("ISLE_NETBACK");
	vm_teardown();
}

void unit_register(void)
{
	log_set_level(getenv("ISLE_LOG") ? LOG_DEBUG : LOG_ERROR);
	UNIT_SUITE("vhost_user_net", UNIT_TEST(test_identity_and_config),
		   UNIT_TEST(test_backend_without_config), UNIT_TEST(test_ctrl_queue_mq), UNIT_TEST(test_ctrl_ring_moves),
		   UNIT_TEST(test_reconnect), UNIT_TEST(test_tap_fds_refused),
		   UNIT_TEST(test_tap_fds_passed));
}
