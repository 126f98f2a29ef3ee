/* libFuzzer target for blkback/blk.c: a guest that controls its whole RAM
 * (ring, descriptors, indirect tables, request headers, discard ranges,
 * buffers) sends virtio-blk requests to a 1 MiB image (a temporary file,
 * unlinked once open) served with the sync engine.
 *
 * Guest RAM is 64 KiB at guest-physical 0, as two separately allocated
 * 32 KiB regions (buffers split at 0x8000; ASan sees each end). The ring is
 * at fixed places: descriptors at 0x000, avail at 0x400, used at 0x600.
 * Input: an 8-byte header, then guest RAM from offset 0 (zero past the end).
 *   0 u8  queue size = 1 << (b % 7)        (1..64)
 *   1 u8  flags: 0x01 EVENT_IDX, 0x02 INDIRECT_DESC, 0x04 read-only device,
 *         0x08 small element (8 iovecs), 0x10 disk queue depth 1 (refusals
 *         and retries), 0x20 device without discard
 *   2 u8  chains made available: avail->idx = b (> size: a corrupt index)
 *   3 u8  request slots = 1 + b % 8 (requests in flight before a reap)
 *   4 u32 unused
 * Seeds: corpus/blk (gen_blk_seeds.py).
 *
 * Checks beyond ASan/UBSan (abort on violation): every handled request
 * completes exactly once with a valid status, the status byte in guest RAM
 * holds it, the used length is between 1 and the writable bytes; -EIO only
 * for chains without a readable or a writable byte; nothing is left in
 * flight at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"

#define HDR_SIZE    8
#define REGION_SIZE 0x8000
#define RAM_SIZE    (2 * REGION_SIZE)
#define DESC        0x000
#define AVAIL       0x400
#define USED        0x600
#define NSLOTS      8
#define IMG_SIZE    (1 * MiB)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz_blk: check failed: %s (line %d)\n", \
				#cond, __LINE__);                             \
			abort();                                              \
		}                                                             \
	} while (0)

struct slot {
	struct blk_req req;
	bool busy, pending;
	struct iovec iov[BLK_REQ_MAX_IOV];
};

static uint8_t *ram[2];
static struct gmem gm;
static struct dma_as as;   /* identity over gm: what the device uses */
static struct disk disk;
static struct blk_dev bd;
static struct slot slots[NSLOTS];
static struct vq vq;
static unsigned int inflight;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/isle-fuzz-blk-XXXXXX", s[64], err[256];
	struct disk_spec spec;
	int fd;

	log_set_level(LOG_ERROR);   /* every broken ring would log */
	for (unsigned int i = 0; i < 2; i++) {
		ram[i] = malloc(REGION_SIZE);
		check(ram[i] && !gmem_add(&gm, i * REGION_SIZE, REGION_SIZE, ram[i], -1, 0));
	}
	fd = mkstemp(path);
	check(fd >= 0 && !ftruncate(fd, IMG_SIZE));
	close(fd);
	snprintf(s, sizeof(s), "file:%s", path);
	check(!diskspec_parse(s, &spec, err, sizeof(err)));
	if (disk_open(&disk, &spec, DISK_ENGINE_SYNC, NULL, err, sizeof(err))) {
		fprintf(stderr, "fuzz_blk: %s\n", err);
		abort();
	}
	unlink(path);
	return 0;
}

static void on_complete(struct blk_req *req)
{
	struct slot *s = req->opaque;

	check(s->busy && !s->pending);
	check(req->status <= VIRTIO_BLK_S_UNSUPP);
	check(*req->status_ptr == req->status);
	check(req->written >= 1 && req->written <= req->elem.in_len);
	if (req->status != VIRTIO_BLK_S_OK)
		check(req->written == 1);
	check(vq_push(&vq, req->elem.head, req->written) == 0);
	s->busy = false;
	inflight--;
}

static void reap(void)
{
	check(disk_reap(&disk) >= 0);
	for (unsigned int i = 0; i < NSLOTS; i++) {
		if (!slots[i].pending)
			continue;
		slots[i].pending = false;
		if (blk_retry(&slots[i].req) == -EAGAIN)
			slots[i].pending = true;
	}
}

static struct slot *free_slot(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!slots[i].busy)
			return &slots[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int flags, nslots, cap;
	struct vq_config cfg;
	size_t n;

	if (size < HDR_SIZE)
		return 0;
	flags = data[1];
	cfg = (struct vq_config){
		.num = 1u << (data[0] % 7), .desc_gpa = DESC, .avail_gpa = AVAIL,
		.used_gpa = USED,
		.flags = (flags & 1 ? VQ_F_EVENT_IDX : 0) | (flags & 2 ? VQ_F_INDIRECT_DESC : 0),
	};
	nslots = 1 + data[3] % NSLOTS;
	cap = flags & 0x08 ? 8 : BLK_REQ_MAX_IOV;
	for (unsigned int i = 0; i < 2; i++) {
		n = size - HDR_SIZE > i * REGION_SIZE ?
			MIN(size - HDR_SIZE - i * REGION_SIZE, (size_t)REGION_SIZE) : 0;
		memcpy(ram[i], data + HDR_SIZE + i * REGION_SIZE, n);
		memset(ram[i] + n, 0, REGION_SIZE - n);
	}
	put_le16(ram[0] + AVAIL + 2, data[2]);
	dma_as_identity_init(&as, &gm);   /* the device's view of gm */
	check(vq_init(&vq, &as, &cfg) == 0);

	blk_dev_init(&bd, &disk, 1, NULL);
	bd.readonly = flags & 0x04;
	bd.discard = bd.discard && !(flags & 0x20);
	disk.queue_depth = flags & 0x10 ? 1 : DISK_DEFAULT_DEPTH;
	for (unsigned int i = 0; i < NSLOTS; i++)
		blk_req_init(&slots[i].req, slots[i].iov, cap, on_complete, &slots[i]);
	inflight = 0;

	/* Each pop takes an avail slot and at most 255 are made available;
	 * the bound is a backstop. */
	for (unsigned int iter = 0; iter < 1024; iter++) {
		struct slot *s = free_slot(nslots);
		int r;

		if (!s) {
			reap();
			continue;
		}
		r = vq_pop(&vq, &s->req.elem);
		check(r == 1 || r == 0 || r == -EIO);
		if (r <= 0)
			break;
		s->busy = true;
		inflight++;
		r = blk_handle(&bd, &disk, &s->req);
		check(r == 0 || r == -EAGAIN || r == -EIO);
		if (r == -EAGAIN) {
			s->pending = true;
		} else if (r == -EIO) {
			check(!s->req.elem.out_len || !s->req.elem.in_len);
			s->busy = false;
			inflight--;
			vq_set_broken(&vq, "no header or status");
			break;
		}
	}
	for (unsigned int i = 0; inflight && i < 2 * NSLOTS + 2; i++)
		reap();
	check(inflight == 0);
	if (vq_is_broken(&vq))
		check(vq_pop(&vq, &slots[0].req.elem) == -EIO);
	return 0;
}
