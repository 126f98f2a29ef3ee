/* libFuzzer target for the balloon's queue handling
 * (vmm/virtio/balloon_queue.c) behind lib/virtq.c: a guest that controls
 * its whole RAM (rings, descriptors, PFN arrays, statistics buffers, free
 * page reports).
 *
 * Guest RAM is 64 KiB at guest-physical 0x10000 (PFNs 16-31), as two
 * separately allocated, page-aligned 32 KiB regions; PFNs 0-15 and 32+ are
 * outside RAM. Input: a 16-byte header, little-endian,
 *   0 u8  queue size = 1 << (b % 9)
 *   1 u8  flags: bit 0 EVENT_IDX, 1 INDIRECT_DESC, 2 the policy keeps pages
 *         (discard says all of them), 3 discard fails (-EIO)
 *   2 u8  queue role: % 4 = inflate, deflate, stats, report
 *   3 u8  avail count: avail->idx = count
 *   4 u16 desc offset (from 0x10000, rounded down to 16)
 *   6 u16 avail offset (rounded down to 2)
 *   8 u16 used offset (rounded down to 4)
 *  10..15 unused
 * then guest RAM from 0x10000 (the rest, up to 64 KiB). Seeds:
 * corpus/gen_balloon_seeds.py.
 *
 * Checks beyond ASan/UBSan (abort on violation): every range handed to
 * discard() is page-aligned, non-empty and wholly inside one RAM region;
 * pages counted never exceed what the buffers could name; statistics
 * values only for known tags. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/dma.h"
#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/virtq.h"
#include "virtio/balloon_queue.h"

#define HDR_SIZE    16
#define RAM_GPA     0x10000
#define REGION_SIZE 0x8000
#define RAM_SIZE    (2 * REGION_SIZE)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "fuzz_balloon: check failed: %s (line %d)\n", \
				#cond, __LINE__);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

static uint8_t *ram[2];
static struct iovec iov[VQ_ELEM_MAX_IOV];
static struct bq bq;
static int discard_result;
static uint64_t pfns_named;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	ram[0] = aligned_alloc(4096, REGION_SIZE);
	ram[1] = aligned_alloc(4096, REGION_SIZE);
	return 0;
}

static int64_t fake_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	check(len > 0 && !(gpa & 4095) && !(len & 4095));
	check((gpa >= RAM_GPA && gpa + len <= RAM_GPA + REGION_SIZE) ||
	      (gpa >= RAM_GPA + REGION_SIZE && gpa + len <= RAM_GPA + RAM_SIZE));
	if (discard_result)
		return discard_result < 0 ? discard_result : (int64_t)len;
	/* What the host's discard leaves: zeros. */
	memset(ram[gpa >= RAM_GPA + REGION_SIZE] + ((gpa - RAM_GPA) % REGION_SIZE), 0, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vq_config cfg;
	struct gmem gm = { 0 };
	struct dma_as as;
	struct vq vq;
	struct vq_elem e;
	unsigned int role;
	size_t n;

	if (size < HDR_SIZE)
		return 0;
	memset(ram[0], 0, REGION_SIZE);
	memset(ram[1], 0, REGION_SIZE);
	n = MIN(size - HDR_SIZE, (size_t)RAM_SIZE);
	memcpy(ram[0], data + HDR_SIZE, MIN(n, (size_t)REGION_SIZE));
	if (n > REGION_SIZE)
		memcpy(ram[1], data + HDR_SIZE + REGION_SIZE, n - REGION_SIZE);
	check(gmem_add(&gm, RAM_GPA, REGION_SIZE, ram[0], -1, 0) == 0);
	check(gmem_add(&gm, RAM_GPA + REGION_SIZE, REGION_SIZE, ram[1], -1, 0) == 0);
	dma_as_identity_init(&as, &gm);
	cfg = (struct vq_config){
		.num = 1u << (data[0] % 9),
		.desc_gpa = RAM_GPA + (get_le16(data + 4) & ~0xfu),
		.avail_gpa = RAM_GPA + (get_le16(data + 6) & ~0x1u),
		.used_gpa = RAM_GPA + (get_le16(data + 8) & ~0x3u),
		.flags = (data[1] & 1 ? VQ_F_EVENT_IDX : 0) | (data[1] & 2 ? VQ_F_INDIRECT_DESC : 0),
	};
	role = data[2] % 4;
	discard_result = data[1] & 8 ? -EIO : data[1] & 4 ? 1 : 0;
	if (vq_init(&vq, &as, &cfg) == 0) {
		/* The avail index the guest published (in RAM), as the input says. */
		put_le16((uint8_t *)vq.avail + 2, data[3]);
		memset(&bq, 0, sizeof(bq));
		bq.gm = &gm;
		bq.discard = fake_discard;
		pfns_named = 0;
		for (unsigned int iter = 0; iter < 4 * vq.num + 16; iter++) {
			int r;

			vq_elem_init(&e, iov, ARRAY_SIZE(iov));
			r = vq_pop(&vq, &e);
			check(r == 1 || r == 0 || r == -EIO);
			if (r <= 0)
				break;
			switch (role) {
			case 0:
				bq_inflate(&bq, &e);
				pfns_named += e.out_len / 4;
				break;
			case 1:
				bq_deflate(&bq, &e);
				pfns_named += e.out_len / 4;
				break;
			case 2:
				bq_stats_update(&bq, &e, 1);
				break;
			default:
				bq_report(&bq, &e);
				pfns_named += e.in_len / 4096 + e.in_num;
				break;
			}
			check(vq_push(&vq, e.head, 0) == 0);
		}
		check(bq.c.inflated + bq.c.deflated + bq.c.kept + bq.c.reported <= pfns_named);
		check(!(bq.st.valid >> BQ_STATS_TAGS));
	}
	dma_as_destroy(&as);
	return 0;
}
