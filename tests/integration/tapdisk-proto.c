/* isle-tapdisk driven by our own vhost-user frontend (lib/vhost_user_frontend.c)
 * and a hand-built driver in a memfd "guest RAM", for what no real guest does
 * on purpose: a corrupt ring on one queue must stop that queue and signal its
 * err eventfd while the other queue keeps serving; a memory table replaced
 * under running queues; a request without a status byte; then a fresh
 * connection after the frontend hangs up, seeing the data written before.
 *   tapdisk-proto TAPDISK
 * Prints ok/not ok lines. Exit: 0 pass, 1 fail. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "proto_check.h"

#define RAM_SIZE  (1 * MiB)
#define QSIZE     16
#define RING(q)   (0x10000ULL * (q))          /* desc; avail +0x1000; used +0x2000 */
#define REQ(q)    (0x40000ULL + 0x10000ULL * (q))   /* header, status, data */
#define IMG_SECTORS 8192

static uint8_t *ram;
static struct gmem gm;
static struct vhu_front fr;
static int call[2], err[2], kick[2];
static uint16_t avail_idx[2];

static void desc(unsigned int q, unsigned int i, uint64_t gpa, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = ram + RING(q) + 16 * i;

	put_le64(d, gpa);
	put_le32(d + 8, len);
	put_le16(d + 12, flags);
	put_le16(d + 14, next);
}

static uint16_t used_idx(unsigned int q)
{
	return get_le16(ram + RING(q) + 0x2000 + 2);
}

/* Makes one request available on queue q and kicks: header at REQ, data
 * at REQ+0x1000, status at REQ+0x100 (left out without status). */
static void post(unsigned int q, uint32_t type, uint64_t sector, uint32_t len, bool status)
{
	uint64_t base = REQ(q);
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	put_le32(ram + base, type);
	put_le32(ram + base + 4, 0);
	put_le64(ram + base + 8, sector);
	ram[base + 0x100] = 0xee;
	desc(q, 0, base, 16, VRING_DESC_F_NEXT, 1);
	desc(q, 1, base + 0x1000, len, (in ? VRING_DESC_F_WRITE : 0) |
	     (status ? VRING_DESC_F_NEXT : 0), 2);
	desc(q, 2, base + 0x100, 1, VRING_DESC_F_WRITE, 0);
	put_le16(ram + RING(q) + 0x1000 + 4 + 2 * (avail_idx[q] % QSIZE), 0);
	avail_idx[q]++;
	__atomic_store_n((uint16_t *)(ram + RING(q) + 0x1000 + 2), avail_idx[q], __ATOMIC_RELEASE);
	eventfd_write(kick[q], 1);
}

/* post() with a status byte, then the status, or -1 if no call came. */
static int request(unsigned int q, uint32_t type, uint64_t sector, uint32_t len)
{
	uint16_t before = used_idx(q);

	post(q, type, sector, len, true);
	if (!wait_fd(call[q], 5000) || used_idx(q) != (uint16_t)(before + 1))
		return -1;
	return ram[REQ(q) + 0x100];
}

/* The whole handshake, as QEMU does it, for `queues` rings. */
static bool session_start(const char *sock, unsigned int queues)
{
	uint64_t f, pf, nq;
	struct vhu_inflight inf;
	uint8_t cfg[60];
	int r;

	memset(ram, 0, RAM_SIZE);
	memset(avail_idx, 0, sizeof(avail_idx));
	r = vhu_front_connect(&fr, sock);
	if (!r)
		r = vhu_front_get_features(&fr, &f);
	if (r)
		return false;
	ok((f & 1ULL << VIRTIO_BLK_F_MQ) && (f & 1ULL << VIRTIO_BLK_F_FLUSH) &&
	   (f & 1ULL << VIRTIO_RING_F_INDIRECT_DESC) && (f & 1ULL << VIRTIO_F_VERSION_1),
	   "features offered: MQ FLUSH INDIRECT_DESC VERSION_1 (%#llx)", (unsigned long long)f);
	r = vhu_front_set_features(&fr, f & (1ULL << VIRTIO_F_VERSION_1 |
					     1ULL << VHOST_USER_F_PROTOCOL_FEATURES |
					     1ULL << VIRTIO_BLK_F_MQ | 1ULL << VIRTIO_BLK_F_FLUSH));
	if (!r)
		r = vhu_front_get_protocol_features(&fr, &pf);
	if (!r)
		r = vhu_front_set_protocol_features(&fr, pf);
	if (!r)
		r = vhu_front_set_owner(&fr);
	if (!r)
		r = vhu_front_get_queue_num(&fr, &nq);
	if (!r)
		r = vhu_front_get_config(&fr, 0, cfg, sizeof(cfg));
	if (r)
		return false;
	ok(nq == 2 && get_le64(cfg) == IMG_SECTORS && get_le16(cfg + 34) == 2,
	   "queue count and config space (capacity %llu)", (unsigned long long)get_le64(cfg));
	r = vhu_front_get_inflight_fd(&fr, 2, QSIZE, &inf);
	if (!r)
		r = vhu_front_set_inflight_fd(&fr, &inf);
	if (!r)
		close(inf.fd);
	if (!r)
		r = vhu_front_set_mem_table(&fr, &gm);
	for (unsigned int q = 0; q < queues && !r; q++) {
		r = vhu_front_set_vring_num(&fr, q, QSIZE);
		if (!r)
			r = vhu_front_set_vring_addr(&fr, &gm, q, RING(q), RING(q) + 0x1000,
						     RING(q) + 0x2000);
		if (!r)
			r = vhu_front_set_vring_base(&fr, q, 0);
		if (!r)
			r = vhu_front_set_vring_call(&fr, q, call[q]);
		if (!r)
			r = vhu_front_set_vring_err(&fr, q, err[q]);
		if (!r)
			r = vhu_front_set_vring_kick(&fr, q, kick[q]);
		if (!r)
			r = vhu_front_set_vring_enable(&fr, q, true);
	}
	ok(!r, "handshake, inflight region, memory table, %u rings started (%s)", queues,
	   strerror(-r));
	return !r;
}

static void fill(unsigned int q, uint32_t len, unsigned int seed)
{
	for (uint32_t i = 0; i < len; i++)
		ram[REQ(q) + 0x1000 + i] = (uint8_t)(i * 7 + seed);
}

static bool filled(unsigned int q, uint32_t len, unsigned int seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (ram[REQ(q) + 0x1000 + i] != (uint8_t)(i * 7 + seed))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	char dir[] = "/var/tmp/isle-tdproto.XXXXXX", sock[128], img[128], disk[160], logp[128];
	int memfd, st, logfd;
	uint16_t base;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: tapdisk-proto TAPDISK\n");
		return 2;
	}
	log_init("tapdisk-proto");
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	snprintf(disk, sizeof(disk), "vdev=xvdz,target=%s", img);
	st = open(img, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (st < 0 || ftruncate(st, IMG_SECTORS * 512LL))
		return 1;
	close(st);
	logfd = open(logp, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (logfd < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		dup2(logfd, 2);
		execl(argv[1], argv[1], "--socket", sock, "--disk", disk, "--queues", "2",
		      "--engine", "sync", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && access(sock, F_OK); i++)
		usleep(50000);

	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, RAM_SIZE))
		return 1;
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED || gmem_add(&gm, 0, RAM_SIZE, ram, memfd, 0))
		return 1;
	for (unsigned int q = 0; q < 2; q++) {
		call[q] = eventfd(0, EFD_CLOEXEC);
		err[q] = eventfd(0, EFD_CLOEXEC);
		kick[q] = eventfd(0, EFD_CLOEXEC);
	}

	/* Session 1: both queues. */
	if (session_start(sock, 2)) {
		fill(0, 4096, 1);
		ok(request(0, VIRTIO_BLK_T_OUT, 8, 4096) == VIRTIO_BLK_S_OK, "write on queue 0");
		memset(ram + REQ(1) + 0x1000, 0, 4096);
		ok(request(1, VIRTIO_BLK_T_IN, 8, 4096) == VIRTIO_BLK_S_OK && filled(1, 4096, 1),
		   "read back on queue 1");
		ok(request(0, VIRTIO_BLK_T_GET_ID, 0, 20) == VIRTIO_BLK_S_OK &&
		   !memcmp(ram + REQ(0) + 0x1000, "xvdz", 5), "GET_ID gives the vdev");
		ok(request(1, VIRTIO_BLK_T_IN, IMG_SECTORS, 512) == VIRTIO_BLK_S_IOERR,
		   "read past the end: IOERR");

		/* A new memory table (same RAM, new fd) under running queues. */
		ok(vhu_front_set_mem_table(&fr, &gm) == 0, "memory table replaced while running");
		fill(0, 8192, 2);
		ok(request(0, VIRTIO_BLK_T_OUT, 64, 8192) == VIRTIO_BLK_S_OK &&
		   request(0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
		   "queue 0 serves after the memory table change");

		/* Corrupt queue 1: avail index far beyond the ring. */
		avail_idx[1] += 100;
		__atomic_store_n((uint16_t *)(ram + RING(1) + 0x1000 + 2), avail_idx[1],
				 __ATOMIC_RELEASE);
		eventfd_write(kick[1], 1);
		ok(wait_fd(err[1], 5000), "corrupt ring on queue 1 signals its err eventfd");
		fill(0, 512, 3);
		ok(request(0, VIRTIO_BLK_T_OUT, 200, 512) == VIRTIO_BLK_S_OK,
		   "queue 0 still serves");
		st = vhu_front_get_vring_base(&fr, 1, &base);
		ok(st == 0 && base == 2, "broken queue 1 stops at base %u", base);

		/* A chain without a status byte breaks queue 0 as well. */
		post(0, VIRTIO_BLK_T_OUT, 0, 512, false);
		ok(wait_fd(err[0], 5000), "request without a status byte: err eventfd");
		vhu_front_close(&fr);
	}

	/* Session 2: the server took the hang-up and serves again. */
	usleep(100000);
	if (session_start(sock, 1)) {
		memset(ram + REQ(0) + 0x1000, 0, 8192);
		ok(request(0, VIRTIO_BLK_T_IN, 64, 8192) == VIRTIO_BLK_S_OK && filled(0, 8192, 2),
		   "new connection reads what the last one wrote");
		st = vhu_front_get_vring_base(&fr, 0, &base);
		ok(st == 0 && base == 1, "GET_VRING_BASE after one request: %u", base);
		vhu_front_close(&fr);
	}

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "isle-tapdisk exits 0 on SIGTERM");
	if (failed) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "cat %s", logp);
		printf("--- isle-tapdisk log\n");
		fflush(stdout);
		if (system(cmd))
			printf("(no log)\n");
	}
	unlink(logp);
	unlink(img);
	unlink(sock);
	rmdir(dir);
	return failed;
}
