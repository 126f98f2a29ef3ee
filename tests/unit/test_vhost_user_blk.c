/* Tests for vmm/virtio/vhost_user_blk.c against a real isle-tapdisk, without KVM:
 * the VM stub has memfd guest RAM, a GSI table (vm_fd -1), the PCI bus and
 * the event loop; the test plays the guest driver through the PCI windows
 * (config space, BAR MMIO) with a one-request-at-a-time split ring.
 *
 * Checked: the device's identity and capacity from the backend; writes and
 * reads through the backend; that the backend signals the queue's MSI-X
 * irqfd when the vector is routed, and the relay (PBA bit) when it is not;
 * a driver reset and second session; and a backend killed with a request
 * outstanding: isle restarts it, reconnects, resumes the ring, and the
 * request completes with the data intact.
 * isle-tapdisk is found at ../../blkback/isle-tapdisk from this binary
 * (the build tree); without it the tests pass with a note. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "cunit.h"
#include "isle/log.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "virtio/virtio_pci.h"
#include "core/vm.h"

#define RAM_BASE   0x100000ULL
#define RAM_SIZE   (4 * MiB)
#define RING       (RAM_BASE + 0x10000)     /* desc; avail +0x1000; used +0x2000 */
#define REQ        (RAM_BASE + 0x20000)     /* header 16, status at +16 */
#define DATA       (RAM_BASE + 0x30000)
#define QSIZE      16
#define DISK_SECTORS 16384                   /* 8 MiB */


static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

static struct vm vm;
static struct vm_config cfg;
static struct device_spec spec;
static uint8_t *ram;
static char img[64];
static bool have_tapdisk;
static unsigned int slot;
static uint64_t bar4, bar1;
static struct virtio_pci *vp;
static uint16_t avail_idx, used_seen;

static bool find_tapdisk(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 32], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/../../blkback/isle-tapdisk", exe);
	if (access(path, X_OK))
		return false;
	setenv("ISLE_TAPDISK", path, 1);
	return true;
}

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

#define CC(off) (bar4 + VIRTIO_PCI_COMMON_OFF + (off))

static bool setup(void)
{
	int fd, r;

	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	have_tapdisk = find_tapdisk();
	if (!have_tapdisk) {
		fprintf(stderr, "(isle-tapdisk not built: skipped) ");
		return false;
	}
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
	snprintf(img, sizeof(img), "/tmp/isle-vublk-test-XXXXXX");
	fd = mkstemp(img);
	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, DISK_SECTORS * 512) == 0);
	close(fd);
	memset(&spec, 0, sizeof(spec));
	spec.kind = DEVICE_DISK;
	snprintf(spec.disk.spec, sizeof(spec.disk.spec), "tap:sync:%s", img);
	snprintf(spec.disk.vdev, sizeof(spec.disk.vdev), "xvda");
	r = device_add(&vm, &spec, NULL);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	for (slot = 1; slot < PCI_MAX_DEVS; slot++)
		if (cfg_rd(PCI_VENDOR_ID, 4) == (0x1042u << 16 | 0x1af4))
			break;
	CU_ASSERT_FATAL(slot < PCI_MAX_DEVS);
	vp = vm.pci.devs[slot << 3]->opaque;
	bar1 = cfg_rd(PCI_BASE_ADDRESS_1, 4) & ~0xfULL;
	bar4 = cfg_rd(PCI_BASE_ADDRESS_4, 4) & ~0xfULL;
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	CU_ASSERT_EQUAL(pci_bar_address(vm.pci.devs[slot << 3], 4), bar4);
	return true;
}

static void teardown(void)
{
	CU_ASSERT_EQUAL(device_del(&vm, "disk0"), 0);
	evloop_fini(&vm.loop);
	pci_bus_destroy(&vm.pci);
	gsi_destroy(&vm.gsi);
	munmap(ram, RAM_SIZE);
	close(vm.mem_fd);
	unlink(img);
}

/* Driver init with queue 0 on the given vector; MSI-X on with vector 1
 * unmasked (routed), the others masked. */
static void driver_init(uint16_t vector)
{
	unsigned int mcap = vp->msix.cap;

	cfg_wr(mcap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
	wr(bar1 + 16 + PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000, 4);
	wr(bar1 + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	memset(ram + (RING - RAM_BASE), 0, 0x3000);
	avail_idx = used_seen = 0;
	wr(CC(VIRTIO_PCI_COMMON_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	wr(CC(VIRTIO_PCI_COMMON_GFSELECT), 1, 4);
	wr(CC(VIRTIO_PCI_COMMON_GF), 1, 4);   /* VERSION_1 */
	wr(CC(VIRTIO_PCI_COMMON_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK, 1);
	CU_ASSERT(rd(CC(VIRTIO_PCI_COMMON_STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	wr(CC(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	wr(CC(VIRTIO_PCI_COMMON_Q_SIZE), QSIZE, 2);
	wr(CC(VIRTIO_PCI_COMMON_Q_MSIX), vector, 2);
	wr(CC(VIRTIO_PCI_COMMON_Q_DESCLO), (uint32_t)RING, 4);
	wr(CC(VIRTIO_PCI_COMMON_Q_AVAILLO), (uint32_t)RING + 0x1000, 4);
	wr(CC(VIRTIO_PCI_COMMON_Q_USEDLO), (uint32_t)RING + 0x2000, 4);
	wr(CC(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
	wr(CC(VIRTIO_PCI_COMMON_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	CU_ASSERT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static uint8_t *gpa(uint64_t a)
{
	return ram + (a - RAM_BASE);
}

/* Posts one request (header, data, status) and notifies. */
static void submit(uint32_t type, uint64_t sector, uint32_t sectors)
{
	struct vring_desc *d = (struct vring_desc *)gpa(RING);
	struct vring_avail *av = (struct vring_avail *)gpa(RING + 0x1000);
	bool in = type == VIRTIO_BLK_T_IN;

	put_le32(gpa(REQ), type);
	put_le32(gpa(REQ + 4), 0);
	put_le64(gpa(REQ + 8), sector);
	gpa(REQ + 16)[0] = 0xff;
	d[0] = (struct vring_desc){ .addr = REQ, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 1 };
	d[1] = (struct vring_desc){ .addr = DATA, .len = sectors * 512,
				    .flags = VRING_DESC_F_NEXT | (in ? VRING_DESC_F_WRITE : 0),
				    .next = 2 };
	d[2] = (struct vring_desc){ .addr = REQ + 16, .len = 1, .flags = VRING_DESC_F_WRITE };
	av->ring[avail_idx % QSIZE] = 0;
	__atomic_store_n(&av->idx, ++avail_idx, __ATOMIC_RELEASE);
	wr(bar4 + VIRTIO_PCI_NOTIFY_OFF, 0, 2);
}

/* Runs the event loop until the request completes; returns its status or
 * -1 after timeout_ms. */
static int complete(int timeout_ms)
{
	struct vring_used *u = (struct vring_used *)gpa(RING + 0x2000);

	for (int t = 0; t < timeout_ms; t += 5) {
		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != used_seen) {
			used_seen++;
			return gpa(REQ + 16)[0];
		}
		evloop_run_once(&vm.loop, 5);
	}
	return -1;
}

static void fill(uint32_t seed, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		gpa(DATA)[i] = (uint8_t)(i * 7 + seed);
}

static bool check(uint32_t seed, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (gpa(DATA)[i] != (uint8_t)(i * 7 + seed))
			return false;
	return true;
}

static pid_t tapdisk_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[512];
		FILE *f;
		int ppid = 0;
		char comm[64];

		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) &&
		    sscanf(buf, "%*d (%63[^)]) %*c %d", comm, &ppid) == 2 &&
		    ppid == getpid() && !strcmp(comm, "isle-tapdisk"))
			found = atoi(e->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* SIGSTOP is asynchronous: wait until every thread is stopped. */
static void wait_stopped(pid_t pid)
{
	char path[64], buf[384];

	for (int i = 0; i < 1000; i++) {
		DIR *d;
		struct dirent *e;
		bool all = true;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		d = opendir(path);
		while (d && (e = readdir(d))) {
			char st = 0;
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(buf, sizeof(buf), "%s/%.256s/stat", path, e->d_name);
			f = fopen(buf, "r");
			if (f && fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
				st = strrchr(buf, ')')[2];
			if (f)
				fclose(f);
			all &= st == 'T' || st == 't';
		}
		if (d)
			closedir(d);
		if (all)
			return;
		usleep(1000);
	}
}

static void test_io_and_irqfd(void)
{
	uint64_t n = 0;
	int efd;

	if (!setup())
		return;
	CU_ASSERT_EQUAL(rd(bar4 + VIRTIO_PCI_DEVCFG_OFF, 4), DISK_SECTORS);
	CU_ASSERT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_NUMQ), 2), 1);
	driver_init(1);
	efd = msix_vector_eventfd(&vp->msix, 1);
	CU_ASSERT_FATAL(efd >= 0);
	fill(3, 4096);
	submit(VIRTIO_BLK_T_OUT, 100, 8);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_OK);
	memset(gpa(DATA), 0, 4096);
	submit(VIRTIO_BLK_T_IN, 100, 8);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_OK);
	CU_ASSERT(check(3, 4096));
	/* The backend raised the routed vector's irqfd itself. */
	CU_ASSERT(read(efd, &n, sizeof(n)) == sizeof(n) && n >= 1);
	/* Past the end: an I/O error from the backend, not from us. */
	submit(VIRTIO_BLK_T_IN, DISK_SECTORS, 1);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_IOERR);
	teardown();
}

static void test_reset_and_relay(void)
{
	uint64_t pba = 0;
	uint8_t b[8] = { 0 };

	if (!setup())
		return;
	driver_init(1);
	fill(9, 512);
	submit(VIRTIO_BLK_T_OUT, 7, 1);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_OK);
	/* Reset: the rings stop; status reads 0 at once. */
	wr(CC(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	CU_ASSERT_EQUAL(rd(CC(VIRTIO_PCI_COMMON_STATUS), 1), 0);
	/* Second session on vector 0 (queues + 1 = 2 vectors), which is
	 * masked: the relay latches it. */
	driver_init(0);
	CU_ASSERT(msix_vector_eventfd(&vp->msix, 0) < 0);
	memset(gpa(DATA), 0, 512);
	submit(VIRTIO_BLK_T_IN, 7, 1);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_OK);
	CU_ASSERT(check(9, 512));
	for (int i = 0; i < 20 && !(pba & 1); i++) {
		evloop_run_once(&vm.loop, 5);
		mmio(bar1 + VIRTIO_PCI_MSIX_PBA, b, 8, false);
		pba = get_le64(b);
	}
	CU_ASSERT_EQUAL(pba, 1);
	if (pba != 1)
		fprintf(stderr, "pba %#llx\n", (unsigned long long)pba);
	teardown();
}

static void test_backend_killed(void)
{
	int r;
	pid_t td;
	struct timespec t0, t1;

	if (!setup())
		return;
	driver_init(1);
	fill(5, 4096);
	submit(VIRTIO_BLK_T_OUT, 200, 8);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_OK);
	td = tapdisk_pid();
	CU_ASSERT_FATAL(td > 0);
	/* Frozen, it cannot serve what comes next; then it dies. */
	kill(td, SIGSTOP);
	wait_stopped(td);
	memset(gpa(DATA), 0, 4096);
	submit(VIRTIO_BLK_T_IN, 200, 8);
	r = complete(100);
	CU_ASSERT_EQUAL(r, -1);
	if (r != -1)
		fprintf(stderr, "completed with %d, used %u\n", r, used_seen);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(td, SIGKILL);
	/* isle restarts it and replays the session: the read completes. */
	CU_ASSERT_EQUAL(complete(10000), VIRTIO_BLK_S_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CU_ASSERT(check(5, 4096));
	CU_ASSERT(tapdisk_pid() > 0 && tapdisk_pid() != td);
	fprintf(stderr, "(recovered in %ld ms) ", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
							  (t1.tv_nsec - t0.tv_nsec) / 1000000));
	/* And keeps working. */
	fill(6, 512);
	submit(VIRTIO_BLK_T_OUT, 300, 1);
	CU_ASSERT_EQUAL(complete(5000), VIRTIO_BLK_S_OK);
	teardown();
	CU_ASSERT_EQUAL(tapdisk_pid(), 0);   /* stopped and reaped at exit */
}

void unit_register(void)
{
	log_set_level(getenv("ISLE_LOG") ? LOG_DEBUG : LOG_WARN);
	UNIT_SUITE("vhost_user_blk", UNIT_TEST(test_io_and_irqfd),
		   UNIT_TEST(test_reset_and_relay), UNIT_TEST(test_backend_killed));
}
