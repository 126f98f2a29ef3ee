/* blkload: bench/blk's host-process load generator, a vhost-user-blk
 * frontend that needs no KVM:
 *   blkload --socket PATH --rw randread|randwrite|seqread|seqwrite --bs N --qd N --ms N
 *           [--span-mb N]
 * It keeps qd requests in flight for ms milliseconds, as the test guest's
 * blkbench scenario does, over the first span-mb MiB of the disk (default:
 * all of it up to 1 GiB, as blkbench), and prints
 *   # blkload rw=... bs=... qd=... ms=... requests=N iops=N errors=N
 * Exit: 0 if every request completed OK, 1 on a failure, 2 on bad arguments.
 *
 * Owns: a simulated modern virtio-pci function (struct vpci_env) over the
 * lib's vhost-user frontend, so that frontends/blkfront.c sets the disk up
 * exactly as in the guest. Its common-config writes become vhost-user
 * messages (FEATURES_OK: SET_FEATURES; DRIVER_OK: SET_MEM_TABLE and the
 * ring's NUM/BASE/ADDR/CALL/KICK/ENABLE; reset: ENABLE 0 and GET_VRING_BASE,
 * then a fresh GET_CONFIG), device-config reads come from GET_CONFIG, and a
 * notify write signals the kick eventfd. "Guest memory" is a memfd shared
 * through SET_MEM_TABLE; fe_virt_to_phys() maps pointers into it. We poll
 * the used ring, yielding the CPU when it is empty so that a busy host
 * measures the backend, not the scheduler. The backend still gets a call
 * eventfd (as isle gives it a relay), never read: libvhost-user
 * (qemu-storage-daemon) panics without one. The backend is untrusted: vqd
 * checks the used ring, status bytes are read once, and config bytes only
 * feed blkfront's checks. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"

#include "blkfront.h"

#define PAGE           4096u
#define MAX_QD         64u
#define MAX_BS         (128u * 1024)
#define SEGS           (MAX_BS / PAGE)

/* "Guest RAM": the DMA area, the request slots, then qd data buffers. */
#define RAM_GPA        0x40000000ULL
#define SLOTS_OFF      BLKFRONT_DMA_BYTES
#define DATA_OFF       (64 * KiB)
#define RAM_SIZE       (DATA_OFF + (uint64_t)MAX_QD * MAX_BS)

/* The simulated function: BAR0 holds the four virtio regions. */
#define BAR_ADDR       0xfe000000ULL
#define BAR_SIZE       0x4000u
#define COMMON_OFF     0x0000u
#define COMMON_LEN     0x38u
#define ISR_OFF        0x1000u
#define DEVCFG_OFF     0x2000u
#define DEVCFG_LEN     60u         /* virtio_blk_config through write_zeroes */
#define NOTIFY_OFF     0x3000u
#define NOTIFY_MULT    4u
#define SIM_QUEUE_MAX  256u
#define SIM_TIMEOUT_S  5
#define SIM_PROTOCOL   (BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | BIT(VHOST_USER_PROTOCOL_F_CONFIG))
/* What the function offers of the backend's features: what blkfront uses,
 * less ACCESS_PLATFORM (no IOMMU: ring and buffer addresses are GPAs). */
#define SIM_FEATURES   ((BLKFRONT_FEATURES & ~BIT(VIRTIO_F_ACCESS_PLATFORM)) | \
			BIT(VIRTIO_F_VERSION_1))

struct sim {
	struct vhu_front f;
	const struct gmem *gm;
	uint8_t cfg[256];              /* PCI configuration space */
	uint8_t devcfg[DEVCFG_LEN];    /* last GET_CONFIG */
	uint64_t backend_features, offered, driver;
	uint32_t dfsel, gfsel;
	uint8_t status, generation;
	uint16_t qsel, qsize, qenable;
	uint64_t qdesc, qavail, qused;
	int kick_fd, call_fd;
	bool rings_up;
	const char *failed;            /* first vhost-user step that failed */
	int err;
};

struct slot {
	struct virtio_blk_outhdr hdr;
	uint8_t status;
} __attribute__((aligned(32)));

static struct { uint8_t *base; uint64_t size; } ram;   /* the memfd, mapped */

uint64_t fe_virt_to_phys(const void *p)
{
	const uint8_t *b = p;

	if (!ram.base || b < ram.base || b >= ram.base + ram.size)
		return ~0ULL;   /* not device-visible: the backend rejects it */
	return RAM_GPA + (uint64_t)(b - ram.base);
}

uint64_t fe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int sim_fail(struct sim *s, const char *what, int r)
{
	if (r && !s->failed) {
		s->failed = what;
		s->err = r;
	}
	return r;
}

/* GET_CONFIG of the whole blk config; backends that refuse that size
 * still give the capacity (as vmm/virtio/vhost_user_blk.c does). */
static int sim_read_config(struct sim *s)
{
	int r = vhu_front_get_config(&s->f, 0, s->devcfg, DEVCFG_LEN);

	if (r == -EIO) {
		memset(s->devcfg, 0, sizeof(s->devcfg));
		r = vhu_front_get_config(&s->f, 0, s->devcfg, sizeof(uint64_t));
	}
	s->generation++;
	return sim_fail(s, "GET_CONFIG", r);
}

/* Stops the ring (GET_VRING_BASE waits for the backend to let go), then
 * the function is as after power-on. Status stays as it was if the
 * backend would not stop: the driver's reset then times out. */
static void sim_reset(struct sim *s)
{
	uint16_t base;
	int r = 0;

	if (s->rings_up) {
		if (s->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
			r = vhu_front_set_vring_enable(&s->f, 0, false);
		if (!r)
			r = vhu_front_get_vring_base(&s->f, 0, &base);
		if (sim_fail(s, "stopping the ring", r))
			return;
		s->rings_up = false;
	}
	s->status = 0;
	s->qenable = 0;
	s->qsize = SIM_QUEUE_MAX;
	s->driver = s->qdesc = s->qavail = s->qused = 0;
	sim_read_config(s);
}

/* DRIVER_OK: the memory table, then queue 0 as the driver programmed it. */
static int sim_start(struct sim *s)
{
	int r;

	if ((r = sim_fail(s, "SET_MEM_TABLE", vhu_front_set_mem_table(&s->f, s->gm))))
		return r;
	if (!s->qenable)
		return 0;
	if ((r = vhu_front_set_vring_num(&s->f, 0, s->qsize)) ||
	    (r = vhu_front_set_vring_base(&s->f, 0, 0)) ||
	    (r = vhu_front_set_vring_addr(&s->f, s->gm, 0, s->qdesc, s->qavail, s->qused)) ||
	    (r = vhu_front_set_vring_call(&s->f, 0, s->call_fd)) ||
	    (r = vhu_front_set_vring_kick(&s->f, 0, s->kick_fd)))
		return sim_fail(s, "setting up the ring", r);
	s->rings_up = true;
	if (s->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		r = sim_fail(s, "SET_VRING_ENABLE", vhu_front_set_vring_enable(&s->f, 0, true));
	return r;
}

static void sim_status_write(struct sim *s, uint8_t v)
{
	uint8_t rising = v & (uint8_t)~s->status;

	if (!v) {
		sim_reset(s);
		return;
	}
	if (rising & VIRTIO_CONFIG_S_FEATURES_OK) {
		uint64_t f = s->driver | (s->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES));

		if ((s->driver & ~s->offered) || !(s->driver & BIT(VIRTIO_F_VERSION_1)) ||
		    sim_fail(s, "SET_FEATURES", vhu_front_set_features(&s->f, f)))
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((rising & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    (!(v & VIRTIO_CONFIG_S_FEATURES_OK) || sim_start(s)))
		v |= VIRTIO_CONFIG_S_NEEDS_RESET;
	s->status = v;
}

static void set_half(uint64_t *field, bool hi, uint32_t v)
{
	*field = hi ? (*field & 0xffffffffULL) | (uint64_t)v << 32
		    : (*field & ~0xffffffffULL) | v;
}

static uint32_t sim_common_read(struct sim *s, uint32_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return s->dfsel;
	case VIRTIO_PCI_COMMON_DF:
		return s->dfsel < 2 ? (uint32_t)(s->offered >> (32 * s->dfsel)) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return s->gfsel;
	case VIRTIO_PCI_COMMON_GF:
		return s->gfsel < 2 ? (uint32_t)(s->driver >> (32 * s->gfsel)) : 0;
	case VIRTIO_PCI_COMMON_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_NUMQ: return 1;
	case VIRTIO_PCI_COMMON_STATUS: return s->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION: return s->generation;
	case VIRTIO_PCI_COMMON_Q_SELECT: return s->qsel;
	case VIRTIO_PCI_COMMON_Q_SIZE: return s->qsel ? 0 : s->qsize;
	case VIRTIO_PCI_COMMON_Q_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return s->qsel ? 0 : s->qenable;
	default: return 0;   /* queue_notify_off too: NOTIFY_OFF + 0 */
	}
}

static void sim_common_write(struct sim *s, uint32_t off, uint32_t v)
{
	/* Queue registers are frozen once the queue is enabled. */
	bool q = !s->qsel && !s->qenable;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: s->dfsel = v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: s->gfsel = v; break;
	case VIRTIO_PCI_COMMON_GF:
		if (s->gfsel < 2 && !(s->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&s->driver, s->gfsel, v);
		break;
	case VIRTIO_PCI_COMMON_STATUS: sim_status_write(s, (uint8_t)v); break;
	case VIRTIO_PCI_COMMON_Q_SELECT: s->qsel = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (q && v && v <= SIM_QUEUE_MAX && !(v & (v - 1)))
			s->qsize = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE: if (q) s->qenable = v == 1; break;
	case VIRTIO_PCI_COMMON_Q_DESCLO: if (q) set_half(&s->qdesc, false, v); break;
	case VIRTIO_PCI_COMMON_Q_DESCHI: if (q) set_half(&s->qdesc, true, v); break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: if (q) set_half(&s->qavail, false, v); break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI: if (q) set_half(&s->qavail, true, v); break;
	case VIRTIO_PCI_COMMON_Q_USEDLO: if (q) set_half(&s->qused, false, v); break;
	case VIRTIO_PCI_COMMON_Q_USEDHI: if (q) set_half(&s->qused, true, v); break;
	default: break;
	}
}

static uint8_t sim_cfg_read8(void *ctx, uint16_t off)
{
	struct sim *s = ctx;

	return off < sizeof(s->cfg) ? s->cfg[off] : 0xff;
}

static uint16_t sim_cfg_read16(void *ctx, uint16_t off)
{
	struct sim *s = ctx;

	return off <= sizeof(s->cfg) - 2 ? get_le16(&s->cfg[off]) : 0xffff;
}

static uint32_t sim_cfg_read32(void *ctx, uint16_t off)
{
	struct sim *s = ctx;

	return off <= sizeof(s->cfg) - 4 ? get_le32(&s->cfg[off]) : 0xffffffffu;
}

static void sim_cfg_write16(void *ctx, uint16_t off, uint16_t v)
{
	struct sim *s = ctx;

	if (off == 4)   /* command: memory decode, bus master */
		put_le16(&s->cfg[4], v);
}

static uint64_t sim_bar_map(void *ctx, unsigned int idx, uint64_t *size)
{
	*size = idx == 0 ? BAR_SIZE : 0;
	return idx == 0 ? BAR_ADDR : 0;
}

static uint32_t sim_mmio_read(void *ctx, uint64_t addr, unsigned int size)
{
	struct sim *s = ctx;
	uint64_t off = addr - BAR_ADDR;
	uint32_t v = 0;

	if (off < COMMON_OFF + COMMON_LEN)
		return sim_common_read(s, (uint32_t)(off - COMMON_OFF));
	if (size <= 4 && off >= DEVCFG_OFF && off - DEVCFG_OFF <= DEVCFG_LEN - size) {
		memcpy(&v, s->devcfg + (off - DEVCFG_OFF), size);
		return v;
	}
	return off == ISR_OFF ? 0 : 0xffffffffu;
}

static void sim_mmio_write(void *ctx, uint64_t addr, unsigned int size, uint32_t v)
{
	struct sim *s = ctx;
	uint64_t off = addr - BAR_ADDR;

	if (off < COMMON_OFF + COMMON_LEN)
		sim_common_write(s, (uint32_t)(off - COMMON_OFF), v);
	else if (off == NOTIFY_OFF && v == 0 && s->rings_up)
		eventfd_write(s->kick_fd, 1);   /* only fails when the counter is full */
}

static void sim_put_cap(struct sim *s, uint8_t at, uint8_t next, uint8_t type, uint32_t off,
			uint32_t len, uint8_t cap_len)
{
	/* Vendor-specific capability id, next, length, cfg_type, BAR0. */
	memcpy(&s->cfg[at], (const uint8_t[]){ 0x09, next, cap_len, type, 0 }, 5);
	put_le32(&s->cfg[at + 8], off);
	put_le32(&s->cfg[at + 12], len);
}

/* Connects and does the vhost-user hello; the function then looks like a
 * freshly reset virtio-blk device. */
static int sim_init(struct sim *s, const char *path, const struct gmem *gm)
{
	struct timeval tv = { .tv_sec = SIM_TIMEOUT_S };
	uint64_t pf = 0;
	int r;

	memset(s, 0, sizeof(*s));
	s->f.sock = -1;
	s->gm = gm;
	s->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->kick_fd < 0 || s->call_fd < 0)
		return sim_fail(s, "eventfd", -errno);
	if ((r = vhu_front_connect(&s->f, path)))
		return sim_fail(s, "connect", r);
	setsockopt(s->f.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s->f.sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((r = vhu_front_get_features(&s->f, &s->backend_features)))
		return sim_fail(s, "GET_FEATURES", r);
	if (s->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		if ((r = vhu_front_get_protocol_features(&s->f, &pf)))
			return sim_fail(s, "GET_PROTOCOL_FEATURES", r);
		pf &= SIM_PROTOCOL;
		if ((r = vhu_front_set_protocol_features(&s->f, pf)))
			return sim_fail(s, "SET_PROTOCOL_FEATURES", r);
	}
	if (!(pf & BIT(VHOST_USER_PROTOCOL_F_CONFIG)))
		return sim_fail(s, "the backend does not offer its config space (CONFIG)",
				-ENOTSUP);
	if ((r = vhu_front_set_owner(&s->f)))
		return sim_fail(s, "SET_OWNER", r);
	s->offered = s->backend_features & SIM_FEATURES;

	put_le16(&s->cfg[0], VPCI_VENDOR);
	put_le16(&s->cfg[2], BLKFRONT_DEVICE_ID);
	put_le16(&s->cfg[6], 0x0010);   /* status: capability list */
	s->cfg[0x34] = 0x40;
	sim_put_cap(s, 0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFF, COMMON_LEN, 16);
	sim_put_cap(s, 0x50, 0x60, VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, 4, 16);
	sim_put_cap(s, 0x60, 0x70, VIRTIO_PCI_CAP_DEVICE_CFG, DEVCFG_OFF, DEVCFG_LEN, 16);
	sim_put_cap(s, 0x70, 0x00, VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFF, 2, 20);
	put_le32(&s->cfg[0x70 + 16], NOTIFY_MULT);
	sim_reset(s);
	return s->err;
}

static void sim_close(struct sim *s)
{
	vhu_front_close(&s->f);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	if (s->call_fd >= 0)
		close(s->call_fd);
}

/* ---- the workload (as tests/guest/test_blkbench.c) ---- */

struct load {
	struct blkfront bf;
	struct slot *slots;            /* MAX_QD, in guest RAM */
	uint8_t *data;                 /* MAX_QD * MAX_BS, in guest RAM */
	uint32_t bs;
	bool write, seq;
	uint64_t span, next_seq, rng;
	uint64_t done, bad, us;        /* results */
};

static uint64_t load_next(struct load *l)
{
	if (l->seq)
		return l->next_seq++ % l->span * (l->bs / 512);
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	return l->rng % l->span * (l->bs / 512);
}

/* Queues request i (header, bs/4 KiB data segments, status); 0 or -errno. */
static int load_submit(struct load *l, unsigned int i)
{
	struct vqd_sg out[1 + SEGS], in[1 + SEGS];
	unsigned int n_out = 0, n_in = 0;
	struct slot *s = &l->slots[i];
	uint8_t *buf = l->data + (size_t)i * MAX_BS;

	s->hdr = (struct virtio_blk_outhdr){
		.type = l->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, .sector = load_next(l),
	};
	s->status = 0xff;
	out[n_out++] = (struct vqd_sg){ &s->hdr, sizeof(s->hdr) };
	for (uint32_t off = 0; off < l->bs; off += PAGE) {
		struct vqd_sg sg = { buf + off, MIN(PAGE, l->bs - off) };

		if (l->write)
			out[n_out++] = sg;
		else
			in[n_in++] = sg;
	}
	in[n_in++] = (struct vqd_sg){ &s->status, 1 };
	return vqd_add(&l->bf.vq, out, n_out, in, n_in, s);
}

static void load_kick(struct load *l)
{
	if (vqd_kick_prepare(&l->bf.vq))
		vpci_notify(&l->bf.pci, l->bf.notify_addr, 0);
}

/* Keeps qd requests in flight for ms: l->done completions, l->bad failures. */
static void load_run(struct load *l, unsigned int qd, uint64_t ms)
{
	uint64_t t0 = fe_now_us(), end = t0 + ms * 1000;
	int r;

	for (unsigned int i = 0; i < qd && !l->bad; i++)
		if (load_submit(l, i))
			l->bad++;
	load_kick(l);
	while (!l->bad && fe_now_us() < end) {
		bool added = false;
		uint32_t len;
		void *token;

		while ((r = vqd_get_used(&l->bf.vq, &token, &len)) == 1) {
			struct slot *s = token;   /* vqd only returns tokens we gave it */

			if (FE_READ_ONCE(s->status) != VIRTIO_BLK_S_OK)
				l->bad++;
			l->done++;
			if (load_submit(l, (unsigned int)(s - l->slots)))
				l->bad++;
			added = true;
		}
		if (r < 0) {
			fprintf(stderr, "blkload: ring broken: %s\n", vqd_broken_reason(&l->bf.vq));
			l->bad++;
		}
		if (added)
			load_kick(l);
		else
			sched_yield();   /* the backend may share this core */
	}
	l->us = fe_now_us() - t0;
}

static int usage(const char *why)
{
	fprintf(stderr, "blkload: %s\nusage: blkload --socket PATH --rw randread|randwrite|"
		"seqread|seqwrite --bs N --qd N --ms N [--span-mb N]\n", why);
	return 2;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' }, { "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' }, { "qd", required_argument, NULL, 'q' },
		{ "ms", required_argument, NULL, 'm' }, { "span-mb", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static struct load l;
	const char *sock = NULL, *rw = "randread";
	uint64_t bs = 4096, qd = 1, ms = 3000, span_mb = 0;
	struct vpci_env env = {
		.cfg_read8 = sim_cfg_read8, .cfg_read16 = sim_cfg_read16,
		.cfg_read32 = sim_cfg_read32, .cfg_write16 = sim_cfg_write16,
		.bar_map = sim_bar_map, .mmio_read = sim_mmio_read, .mmio_write = sim_mmio_write,
	};
	struct gmem gm = { .nr = 0 };
	struct sim s;
	void *priv;
	unsigned int nseg;
	bool ok = false;
	int c, memfd, r;

	log_init("blkload");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((c == 'b' && !parse_u64(optarg, &bs)) || (c == 'q' && !parse_u64(optarg, &qd)) ||
		    (c == 'm' && !parse_u64(optarg, &ms)) ||
		    (c == 'S' && (!parse_u64(optarg, &span_mb) || !span_mb || span_mb > (1ULL << 40))))
			return usage("--bs, --qd, --ms and --span-mb take a decimal number");
		if (c == 's')
			sock = optarg;
		else if (c == 'r')
			rw = optarg;
		else if (c == '?')
			return usage("unknown option");
	}
	if (optind < argc)
		return usage("unexpected argument");
	if (!sock)
		return usage("--socket is required");
	l.write = !strcmp(rw, "randwrite") || !strcmp(rw, "seqwrite");
	l.seq = !strcmp(rw, "seqread") || !strcmp(rw, "seqwrite");
	if (!l.write && !l.seq && strcmp(rw, "randread"))
		return usage("--rw must be randread, randwrite, seqread or seqwrite");
	if (bs < 512 || bs > MAX_BS || bs % 512 || qd < 1 || qd > MAX_QD || ms < 1 ||
	    ms > 24 * 3600 * 1000)
		return usage("--bs 512..131072 in whole sectors, --qd 1..64, --ms 1..86400000");
	l.bs = (uint32_t)bs;
	l.rng = 0x9e3779b97f4a7c15ULL;

	memfd = memfd_create("blkload-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)RAM_SIZE)) {
		perror("blkload: guest memory");
		return 1;
	}
	ram.base = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	priv = aligned_alloc(16, BLKFRONT_PRIV_BYTES);
	if (ram.base == MAP_FAILED || !priv ||
	    gmem_add(&gm, RAM_GPA, RAM_SIZE, ram.base, memfd, 0)) {
		fprintf(stderr, "blkload: cannot map guest memory\n");
		return 1;
	}
	ram.size = RAM_SIZE;
	l.slots = (struct slot *)(ram.base + SLOTS_OFF);
	l.data = ram.base + DATA_OFF;
	for (uint64_t i = 0; i < (uint64_t)MAX_QD * MAX_BS; i += 8)   /* not all zeroes */
		put_le64(l.data + i, (i + 1) * 0x9e3779b97f4a7c15ULL);

	if (sim_init(&s, sock, &gm)) {
		fprintf(stderr, "blkload: %s: %s: %s\n", sock, s.failed, strerror(-s.err));
		goto out;
	}
	env.ctx = &s;
	r = blkfront_init(&l.bf, &env, NULL, ram.base, BLKFRONT_DMA_BYTES, priv,
			  BLKFRONT_PRIV_BYTES);
	if (r) {
		fprintf(stderr, "blkload: blkfront_init: %s (%s)%s%s\n", strerror(-r),
			l.bf.error ? l.bf.error : "?", s.failed ? "; vhost-user: " : "",
			s.failed ? s.failed : "");
		goto out;
	}
	/* qd chains in flight, at most one of them in the indirect table. */
	nseg = (unsigned int)(bs + PAGE - 1) / PAGE;
	l.span = MIN(l.bf.capacity, (uint64_t)1 << 21) / (bs / 512);   /* <= 1 GiB, in blocks */
	if (span_mb && span_mb * 2048 > l.bf.capacity) {
		fprintf(stderr, "blkload: --span-mb %llu is more than the disk (%llu sectors)\n",
			(unsigned long long)span_mb, (unsigned long long)l.bf.capacity);
		goto reset;
	}
	if (span_mb)
		l.span = span_mb * 2048 / (bs / 512);
	if (nseg > l.bf.seg_limit || !l.span ||
	    (qd - 1) * (nseg + 2) + (l.bf.vq.flags & VQD_F_INDIRECT ? 1 : nseg + 2) >
	    l.bf.queue_size) {
		fprintf(stderr, "blkload: a queue of %u (%u segments) and %llu sectors do not "
			"fit qd=%llu bs=%llu\n", l.bf.queue_size, l.bf.seg_limit,
			(unsigned long long)l.bf.capacity, (unsigned long long)qd,
			(unsigned long long)bs);
		goto reset;
	}
	load_run(&l, (unsigned int)qd, ms);
	printf("# blkload rw=%s bs=%llu qd=%llu ms=%llu requests=%llu iops=%llu errors=%llu\n",
	       rw, (unsigned long long)bs, (unsigned long long)qd, (unsigned long long)ms,
	       (unsigned long long)l.done,
	       (unsigned long long)(l.us ? l.done * 1000000 / l.us : 0), (unsigned long long)l.bad);
	fflush(stdout);
	ok = !l.bad && l.done;
reset:
	/* A backend that cannot stop the ring has lost the session. */
	if ((r = blkfront_reset(&l.bf))) {
		fprintf(stderr, "blkload: the backend did not stop the ring: %s\n",
			strerror(s.failed ? -s.err : -r));
		ok = false;
	}
out:
	sim_close(&s);
	return ok ? 0 : 1;
}
