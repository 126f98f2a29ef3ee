/* Scenario "blkbench": a polling virtio-blk load generator for bench/blk.
 * It keeps qd requests in flight on queue 0 of the first virtio-blk device
 * for ms milliseconds and prints what it achieved:
 *   test=blkbench rw=randread|randwrite|seqread bs=4096 qd=32 ms=3000
 * Requests go straight onto the frontends/ virtqueue (one header, bs/4 KiB
 * data segments and a status byte each; indirect tables when offered), the
 * device is kicked once per batch, and completions are reaped by polling,
 * so the ring-3 body never needs an interrupt. Every status must be OK. */
#include "blkfront.h"

#include "virtio_glue.h"

#define PAGE      4096u
#define MAX_QD    64u
#define MAX_BS    (128u * 1024)
#define SEGS      (MAX_BS / PAGE)

struct bench_slot {
	struct virtio_blk_outhdr hdr;
	uint8_t status;
} __attribute__((aligned(32)));

static struct blkfront bf;
static struct virtio_glue glue;
static uint8_t dma[BLKFRONT_DMA_BYTES] __attribute__((aligned(PAGE)));
static uint8_t priv[BLKFRONT_PRIV_BYTES] __attribute__((aligned(16)));
static struct bench_slot slots[MAX_QD];
static uint8_t data[MAX_QD][MAX_BS] __attribute__((section(".noinit"), aligned(PAGE)));

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t bench_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Queues request i at sector; 0 or the queue's error. */
static int bench_submit(unsigned int i, uint64_t sector, uint32_t bs, bool write)
{
	struct vqd_sg out[1 + SEGS], in[1 + SEGS];
	unsigned int n_out = 0, n_in = 0;

	slots[i].hdr = (struct virtio_blk_outhdr){
		.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, .sector = sector,
	};
	slots[i].status = 0xff;
	out[n_out++] = (struct vqd_sg){ &slots[i].hdr, sizeof(slots[i].hdr) };
	for (uint32_t off = 0; off < bs; off += PAGE) {
		struct vqd_sg sg = { data[i] + off, MIN(PAGE, bs - off) };

		if (write)
			out[n_out++] = sg;
		else
			in[n_in++] = sg;
	}
	in[n_in++] = (struct vqd_sg){ &slots[i].status, 1 };
	return vqd_add(&bf.vq, out, n_out, in, n_in, &slots[i]);
}

void test_blkbench_run(void)
{
	char rw[16] = "randread";
	uint32_t bs;
	unsigned int qd;
	uint64_t ms, done = 0, bad = 0, t0, us;
	bool write, seq;
	uint64_t span, next_seq = 0;
	int bdf, r;

	report_prefix_push("blkbench");
	if (cmdline_get("rw"))   /* a static buffer: copy before the next call */
		strlcpy(rw, cmdline_get("rw"), sizeof(rw));
	bs = (uint32_t)cmdline_get_u64("bs", 4096);
	qd = (unsigned int)cmdline_get_u64("qd", 1);
	ms = cmdline_get_u64("ms", 3000);
	write = !strcmp(rw, "randwrite");
	seq = !strcmp(rw, "seqread");
	if (!write && !seq && strcmp(rw, "randread")) {
		report(false, "rw=%s is not randread, randwrite or seqread", rw);
		goto out;
	}
	if (bs < 512 || bs > MAX_BS || bs % 512 || qd < 1 || qd > MAX_QD) {
		report(false, "bs=%u (512..%u, whole sectors) qd=%u (1..%u)", bs, MAX_BS, qd,
		       MAX_QD);
		goto out;
	}
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	bdf = blk_find();
	if (bdf < 0) {
		report_skip("no modern virtio-blk device");
		goto out;
	}
	virtio_glue_init(&glue, (uint16_t)bdf);
	r = blkfront_init(&bf, &glue.env, NULL, dma, sizeof(dma), priv, sizeof(priv));
	if (r) {
		report(false, "blkfront_init: %d (%s)", r, bf.error ? bf.error : "?");
		goto out;
	}
	/* bench/iommu checks that the device IOTLB is in the path. */
	report_info("features %#lx%s", bf.features,
		    bf.features & 1ull << VIRTIO_F_ACCESS_PLATFORM ? " (ACCESS_PLATFORM)" : "");
	if (qd > bf.queue_size || bs / PAGE + 2 > bf.queue_size) {
		report(false, "queue of %u entries is too small for qd=%u bs=%u", bf.queue_size,
		       qd, bs);
		goto out;
	}
	span = MIN(bf.capacity, (uint64_t)1 << 21) / (bs / 512);   /* <= 1 GiB, in blocks */
	if (span == 0) {
		report(false, "disk smaller than one block");
		goto out;
	}
	vqd_disable_cb(&bf.vq);

	t0 = rdtsc();
	for (unsigned int i = 0; i < qd; i++) {
		uint64_t blk = seq ? next_seq++ % span : bench_rand() % span;

		if (bench_submit(i, blk * (bs / 512), bs, write))
			bad++;
	}
	if (vqd_kick_prepare(&bf.vq))
		vpci_notify(&bf.pci, bf.notify_addr, 0);
	while (!bad && (us = timer_elapsed_us(t0)) < ms * 1000) {
		void *token;
		uint32_t len;
		bool added = false;

		while ((r = vqd_get_used(&bf.vq, &token, &len)) == 1) {
			struct bench_slot *s = token;
			unsigned int i = (unsigned int)(s - slots);
			uint64_t blk = seq ? next_seq++ % span : bench_rand() % span;

			if (s->status != VIRTIO_BLK_S_OK)
				bad++;
			done++;
			if (bench_submit(i, blk * (bs / 512), bs, write))
				bad++;
			added = true;
		}
		if (r < 0) {
			report_info("ring broken: %s", vqd_broken_reason(&bf.vq));
			bad++;
		}
		if (added && vqd_kick_prepare(&bf.vq))
			vpci_notify(&bf.pci, bf.notify_addr, 0);
		if (!added)
			cpu_relax();
	}
	us = timer_elapsed_us(t0);
	/* The line bench/blk parses. */
	printf("# blkbench rw=%s bs=%u qd=%u requests=%lu us=%lu iops=%lu\n", rw, bs, qd,
	       (unsigned long)done, (unsigned long)us,
	       (unsigned long)(us ? done * 1000000 / us : 0));
	report(bad == 0 && done > 0, "%lu %s requests of %u bytes at qd %u, all OK",
	       (unsigned long)done, rw, bs, qd);
	blkfront_reset(&bf);
out:
	report_prefix_pop();
}
