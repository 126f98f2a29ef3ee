/* libFuzzer target for lib/virtq.c and lib/virtq_inflight.c: the input is a
 * guest that controls everything in its RAM (rings, descriptors, indirect
 * tables) and, optionally, a vhost-user frontend that controls the inflight
 * region.
 *
 * Guest RAM is 64 KiB at guest-physical 0, as two separately allocated
 * 32 KiB regions (so buffers split at 0x8000 and ASan sees each end).
 * Input: a 16-byte header, little-endian,
 *   0 u8  queue size = 1 << (b % 16)  (≥ 4096 cannot fit; init then fails)
 *   1 u8  flags: bit 0 EVENT_IDX, 1 INDIRECT_DESC, 2 inflight region,
 *         3 inflight region content from the input (else zeroed),
 *         4 small element (8 iovecs), 5 unpop the first chain (it is
 *         popped again),
 *         6 disable kicks (poll) before popping
 *   2 u16 desc offset   (rounded down to 16)
 *   4 u16 avail offset  (rounded down to 2)
 *   6 u16 used offset   (rounded down to 4)
 *   8 u16 last_avail (as from SET_VRING_BASE); used->idx is taken from RAM
 *  10 u8  avail count: avail->idx = last_avail + count (> size: a jump)
 *  11 u8  bit 0: the device sees RAM through a test IOMMU that maps the
 *         second region read-only (else the identity DMA address space)
 *  12 u32 unused
 * then, with flag 3, the inflight region's bytes (16 + 16 * size, as many as
 * there are), then guest RAM from offset 0 (the rest, up to 64 KiB).
 * Seeds: corpus/virtq (gen_virtq_seeds.py).
 *
 * The target pops until the ring is empty or broken, touches every byte of
 * every iovec (read and write) and pushes each chain; with an inflight
 * region it first recovers and resubmits what the region says is inflight.
 * Checks beyond ASan/UBSan (abort on violation): iovecs lie inside guest RAM,
 * their count fits the element and their lengths add up to the totals;
 * readable iovecs come first; heads are < size; once broken, pops keep
 * returning -EIO; used->idx advances by one per push; with the read-only
 * region, no device-writable iovec lies in it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/virtq.h"

#define HDR_SIZE    16
#define REGION_SIZE 0x8000
#define RAM_SIZE    (2 * REGION_SIZE)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram[2];
static struct iovec iov[VQ_ELEM_MAX_IOV];
static bool ro_region1;   /* the test IOMMU is in use */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_ERROR);   /* every broken ring would log */
	return 0;
}

#define check(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz_virtq: check failed: %s (line %d)\n", \
				#cond, __LINE__);                             \
			abort();                                              \
		}                                                             \
	} while (0)

static bool in_ram(const struct iovec *v)
{
	for (unsigned int i = 0; i < 2; i++) {
		uintptr_t b = (uintptr_t)ram[i], p = (uintptr_t)v->iov_base;

		if (p >= b && v->iov_len <= REGION_SIZE && p - b <= REGION_SIZE - v->iov_len)
			return true;
	}
	return false;
}

/* Bytes of iovec touched per input before only the ends are: a hostile
 * chain can map 64 KiB a thousand times, 255 times over. */
#define TOUCH_BUDGET (16 * MiB)

static size_t touched;
static uint8_t scratch[RAM_SIZE];

/* Checks an element and touches it, as a device would: every byte, both
 * ways (ASan checks memcpy's whole range, so a bad translation in either
 * direction is caught), until the budget is spent, then the first and last
 * byte of each iovec. */
static void use_elem(const struct vq *vq, const struct vq_elem *e)
{
	uint64_t out = 0, in = 0;

	check(e->head < vq->num);
	check(e->out_num + e->in_num <= e->iov_cap);
	for (unsigned int i = 0; i < e->out_num + e->in_num; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;

		check(len > 0);
		check(in_ram(&e->iov[i]));
		check(!ro_region1 || i < e->out_num ||
		      (uintptr_t)p - (uintptr_t)ram[1] >= REGION_SIZE);
		if (i < e->out_num)
			out += len;
		else
			in += len;
		if (touched < TOUCH_BUDGET) {
			memcpy(scratch, p, len);
			memcpy(p, scratch, len);   /* unchanged: rings may live in buffers */
			touched += len;
		} else {
			volatile uint8_t *v = p;

			v[0] = v[0];
			v[len - 1] = v[len - 1];
		}
	}
	check(out == e->out_len && in == e->in_len);
}

static void push(struct vq *vq, const struct vq_elem *e)
{
	uint16_t before = vq_get_used_idx(vq);

	check(vq_push(vq, e->head, (uint32_t)MIN(e->in_len, UINT32_MAX)) == 0);
	check(vq_get_used_idx(vq) == (uint16_t)(before + 1));
	check(get_le16((uint8_t *)vq->used + 2) == vq_get_used_idx(vq));
}

static void run(struct vq *vq, unsigned int flags, struct vq_inflight_split *inf,
		size_t inf_size)
{
	struct vq_elem e;
	unsigned int cap = flags & 0x10 ? 8 : VQ_ELEM_MAX_IOV;
	int r;

	vq_elem_init(&e, iov, cap);
	if (inf && vq_inflight_attach(vq, inf, inf_size) == 0) {
		static uint16_t heads[VQ_MAX_SIZE];

		r = vq_inflight_recover(vq, heads, vq->num);
		check(r <= (int)vq->num);
		for (int i = 0; i < r; i++) {
			check(heads[i] < vq->num);
			if (vq_resubmit(vq, heads[i], &e) != 1)
				break;
			use_elem(vq, &e);
			push(vq, &e);
		}
	}
	if (flags & 0x40)
		vq_disable_notify(vq);
	/* Each pop consumes an avail slot and at most num are available, so
	 * this ends; the bound is only a backstop against a bug here. */
	for (unsigned int iter = 0; iter < 4 * vq->num + 16; iter++) {
		r = vq_pop(vq, &e);
		check(r == 1 || r == 0 || r == -EIO);
		if (r <= 0)
			break;
		use_elem(vq, &e);
		if (flags & 0x20) {
			uint16_t last = vq_get_last_avail(vq);

			vq_unpop(vq, &e);
			check(vq_get_last_avail(vq) == (uint16_t)(last - 1));
			flags &= ~0x20u;   /* once */
			continue;
		}
		push(vq, &e);
		(void)vq_should_notify(vq);
	}
	if (vq_is_broken(vq)) {
		check(vq_broken_reason(vq) != NULL);
		check(vq_pop(vq, &e) == -EIO);
	}
	(void)vq_should_notify(vq);
	(void)vq_enable_notify(vq);
	vq_disable_notify(vq);
}

/* Guest RAM as the identity sees it, but the second region read-only for
 * the device, as an IOMMU page table without write permission would map it. */
static int ro_translate(struct dma_as *as, uint64_t iova, uint64_t *len, unsigned int access,
			void **hva)
{
	*hva = gmem_gpa_to_hva(as->priv, iova, len);
	if (!*hva)
		return -EFAULT;
	if ((access & DMA_WRITE) && iova >= REGION_SIZE)
		return -EPERM;
	return 0;
}

static const struct dma_as_ops ro_ops = { .name = "fuzz-ro", .translate = ro_translate };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vq_inflight_split *inf = NULL;
	size_t inf_size = 0, n;
	struct vq_config cfg;
	struct gmem gm;
	struct dma_as as;
	struct vq vq;
	uint16_t last, avail_idx;
	unsigned int flags;
	uint8_t idx[2];

	if (size < HDR_SIZE)
		return 0;
	touched = 0;
	flags = data[1];
	cfg = (struct vq_config){
		.num = 1u << (data[0] % 16),
		.desc_gpa = get_le16(data + 2) & ~0xfu,
		.avail_gpa = get_le16(data + 4) & ~0x1u,
		.used_gpa = get_le16(data + 6) & ~0x3u,
		.flags = (flags & 1 ? VQ_F_EVENT_IDX : 0) |
			 (flags & 2 ? VQ_F_INDIRECT_DESC : 0),
	};
	last = get_le16(data + 8);
	avail_idx = (uint16_t)(last + data[10]);
	ro_region1 = data[11] & 1;
	data += HDR_SIZE;
	size -= HDR_SIZE;

	if (flags & 4) {
		inf_size = vq_inflight_region_size(cfg.num);
		inf = aligned_alloc(VQ_INFLIGHT_ALIGN, inf_size);
		if (!inf)
			return 0;
		memset(inf, 0, inf_size);
		if (flags & 8) {
			n = MIN(size, 16 + 16 * (size_t)cfg.num);
			memcpy(inf, data, n);
			data += n;
			size -= n;
		}
	}

	ram[0] = calloc(1, REGION_SIZE);
	ram[1] = calloc(1, REGION_SIZE);
	if (!ram[0] || !ram[1])
		abort();
	n = MIN(size, (size_t)REGION_SIZE);
	memcpy(ram[0], data, n);
	memcpy(ram[1], data + n, MIN(size - n, (size_t)REGION_SIZE));
	memset(&gm, 0, sizeof(gm));
	check(gmem_add(&gm, 0, REGION_SIZE, ram[0], -1, 0) == 0);
	check(gmem_add(&gm, REGION_SIZE, REGION_SIZE, ram[1], -1, 0) == 0);

	if (ro_region1)
		dma_as_init(&as, &ro_ops, &gm);
	else
		dma_as_identity_init(&as, &gm);
	if (vq_init(&vq, &as, &cfg) == 0) {
		put_le16(idx, avail_idx);
		check(gmem_write(&gm, cfg.avail_gpa + 2, idx, 2) == 0);
		vq_set_last_avail(&vq, last);
		vq_sync_used_idx(&vq);
		run(&vq, flags, inf, inf_size);
	}
	free(ram[0]);
	free(ram[1]);
	free(inf);
	return 0;
}
