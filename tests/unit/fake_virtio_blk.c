/* The simulated virtio-blk PCI function (see fake_virtio_blk.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit.h"
#include "fake_virtio_blk.h"

uint8_t *fake_ram;
void *fake_priv;
static struct gmem gm;
static struct dma_as as;   /* identity over gm: what the device uses */

uint64_t fe_virt_to_phys(const void *p)
{
	const uint8_t *b = p;

	if (!fake_ram || b < fake_ram || b >= fake_ram + RAM_SIZE)
		return 0xdead000000000000ULL;
	return RAM_GPA + (uint64_t)(b - fake_ram);
}

uint64_t fe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct fake fk;

void fake_put_cap(uint8_t at, uint8_t next, uint8_t type, uint8_t bar,
		  uint32_t off, uint32_t len, uint8_t cap_len)
{
	fk.cfg[at] = 0x09;
	fk.cfg[at + 1] = next;
	fk.cfg[at + 2] = cap_len;
	fk.cfg[at + 3] = type;
	fk.cfg[at + 4] = bar;
	put_le32(&fk.cfg[at + 8], off);
	put_le32(&fk.cfg[at + 12], len);
}

void fake_setup(void)
{
	/* Page-aligned, so page-split segment counts are exact. */
	fake_ram = aligned_alloc(4096, RAM_SIZE);
	fake_priv = calloc(1, BLKFRONT_PRIV_BYTES);
	if (fake_ram)
		memset(fake_ram, 0, RAM_SIZE);
	memset(&gm, 0, sizeof(gm));
	CU_ASSERT_FATAL(fake_ram && fake_priv);
	CU_ASSERT_EQUAL_FATAL(gmem_add(&gm, RAM_GPA, RAM_SIZE, fake_ram, -1, 0), 0);
	dma_as_identity_init(&as, &gm);   /* the device's view of gm */

	memset(&fk, 0, sizeof(fk));
	put_le16(&fk.cfg[0], 0x1af4);
	put_le16(&fk.cfg[2], 0x1042);
	put_le16(&fk.cfg[6], 0x0010);         /* capability list */
	fk.cfg[0x34] = 0x40;
	fake_put_cap(0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 4, COMMON_OFF, 0x38, 16);
	fake_put_cap(0x50, 0x60, VIRTIO_PCI_CAP_ISR_CFG, 4, ISR_OFF, 4, 16);
	fake_put_cap(0x60, 0x70, VIRTIO_PCI_CAP_DEVICE_CFG, 4, DEVCFG_OFF,
		     sizeof(struct virtio_blk_config), 16);
	fake_put_cap(0x70, 0x00, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, NOTIFY_OFF, 0x1000, 20);
	put_le32(&fk.cfg[0x70 + 16], NOTIFY_MULT);
	fk.devcfg_len = sizeof(struct virtio_blk_config);
	fk.offered = 1ull << VIRTIO_F_VERSION_1 | BLKFRONT_FEATURES;
	fk.offered &= ~(1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_F_ACCESS_PLATFORM);
	fk.qmax = 128;
	fk.qnoff = 1;
	fk.blk.capacity = DISK_SECTORS;
	fk.blk.seg_max = 126;
	fk.blk.size_max = 65536;
	fk.blk.blk_size = 512;
	fk.blk.max_discard_sectors = 256;
	fk.blk.max_discard_seg = 1;
	fk.blk.discard_sector_alignment = 1;
	fk.blk.max_write_zeroes_sectors = 256;
	fk.blk.max_write_zeroes_seg = 1;
	fk.blk.write_zeroes_may_unmap = 1;
}

void fake_teardown(void)
{
	free(fake_ram);
	free(fake_priv);
	fake_ram = NULL;
	fake_priv = NULL;
}

static uint8_t cfg_read8(void *ctx, uint16_t off)
{
	return off < 256 ? fk.cfg[off] : 0xff;
}

static uint16_t cfg_read16(void *ctx, uint16_t off)
{
	return off < 255 ? get_le16(&fk.cfg[off]) : 0xffff;
}

static uint32_t cfg_read32(void *ctx, uint16_t off)
{
	return off < 253 ? get_le32(&fk.cfg[off]) : 0xffffffffu;
}

static void cfg_write16(void *ctx, uint16_t off, uint16_t v)
{
	if (off == 4)
		put_le16(&fk.cfg[4], v);
}

static uint64_t bar_map(void *ctx, unsigned int idx, uint64_t *size)
{
	*size = idx == 4 ? BAR_SIZE : 0;
	return idx == 4 ? BAR_BASE : 0;
}

static void fake_reset(void)
{
	fk.resets++;
	if (fk.stuck_reset)
		return;
	fk.status = 0;
	fk.driver = 0;
	fk.qsize = fk.qmax;
	fk.qenable = 0;
	fk.qdesc = fk.qavail = fk.qused = 0;
	fk.running = false;
}

static void fake_status_write(uint8_t v)
{
	if (!v) {
		fake_reset();
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (fk.refuse_features_ok || (fk.driver & ~fk.offered)))
		v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(fk.status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    fk.qenable) {
		struct vq_config c = {
			.num = fk.qsize, .max_num = fk.qmax, .desc_gpa = fk.qdesc,
			.avail_gpa = fk.qavail, .used_gpa = fk.qused,
			.flags = vq_flags_from_features(fk.driver),
		};

		fk.running = vq_init(&fk.vq, &as, &c) == 0;
		if (!fk.running)
			v |= VIRTIO_CONFIG_S_NEEDS_RESET;
		vq_elem_init(&fk.elem, fk.iov, ARRAY_SIZE(fk.iov));
	}
	fk.status = v;
}

static uint32_t common_read(uint32_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return fk.dfsel;
	case VIRTIO_PCI_COMMON_DF:
		return fk.dfsel == 0 ? (uint32_t)fk.offered :
		       fk.dfsel == 1 ? (uint32_t)(fk.offered >> 32) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return fk.gfsel;
	case VIRTIO_PCI_COMMON_GF:
		return fk.gfsel < 2 ? (uint32_t)(fk.driver >> (32 * fk.gfsel)) : 0;
	case VIRTIO_PCI_COMMON_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_NUMQ: return 1;
	case VIRTIO_PCI_COMMON_STATUS: return fk.stuck_reset ? 0x03 : fk.status;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		if (fk.unstable_generation) {
			fk.unstable_generation--;
			fk.generation++;
		}
		return fk.generation;
	case VIRTIO_PCI_COMMON_Q_SELECT: return fk.qsel;
	case VIRTIO_PCI_COMMON_Q_SIZE: return fk.qsel ? 0 : fk.qsize;
	case VIRTIO_PCI_COMMON_Q_MSIX: return VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return fk.qsel ? 0 : fk.qenable;
	case VIRTIO_PCI_COMMON_Q_NOFF: return fk.qnoff;
	default: return 0;
	}
}

static void set_half(uint64_t *field, bool hi, uint32_t v)
{
	*field = hi ? (*field & 0xffffffffu) | (uint64_t)v << 32
		    : (*field & ~0xffffffffull) | v;
}

static void common_write(uint32_t off, uint32_t v)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: fk.dfsel = v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: fk.gfsel = v; break;
	case VIRTIO_PCI_COMMON_GF:
		if (fk.gfsel < 2)
			set_half(&fk.driver, fk.gfsel, v);
		break;
	case VIRTIO_PCI_COMMON_STATUS: fake_status_write((uint8_t)v); break;
	case VIRTIO_PCI_COMMON_Q_SELECT: fk.qsel = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE: if (!fk.qsel) fk.qsize = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_ENABLE: if (!fk.qsel) fk.qenable = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_DESCLO: set_half(&fk.qdesc, false, v); break;
	case VIRTIO_PCI_COMMON_Q_DESCHI: set_half(&fk.qdesc, true, v); break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: set_half(&fk.qavail, false, v); break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI: set_half(&fk.qavail, true, v); break;
	case VIRTIO_PCI_COMMON_Q_USEDLO: set_half(&fk.qused, false, v); break;
	case VIRTIO_PCI_COMMON_Q_USEDHI: set_half(&fk.qused, true, v); break;
	default: break;
	}
}

/* Copies between a range of the element's iovecs (from byte off) and buf. */
static void iov_xfer(struct iovec *iov, unsigned int n, size_t off, void *buf,
		     size_t len, bool to_iov)
{
	uint8_t *b = buf;

	for (unsigned int i = 0; i < n && len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = MIN(len, iov[i].iov_len - off);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, b, take);
		else
			memcpy(b, (uint8_t *)iov[i].iov_base + off, take);
		b += take;
		len -= take;
		off = 0;
	}
}

static bool range_in_disk(uint64_t sector, uint64_t nsect)
{
	return sector <= DISK_SECTORS && nsect <= DISK_SECTORS - sector;
}

static void fake_handle(struct vq_elem *e)
{
	struct iovec *out = e->iov, *in = e->iov + e->out_num;
	struct virtio_blk_outhdr hdr;
	struct virtio_blk_discard_write_zeroes rng;
	uint64_t in_data = e->in_len - 1, out_data = e->out_len - sizeof(hdr);
	uint32_t written = 1;
	uint8_t st = VIRTIO_BLK_S_OK;

	fk.requests++;
	fk.max_data_segs = MAX(fk.max_data_segs, e->out_num + e->in_num - 2);
	iov_xfer(out, e->out_num, 0, &hdr, sizeof(hdr), false);
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		if (!range_in_disk(hdr.sector, in_data / 512)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_xfer(in, e->in_num, 0, fk.disk + hdr.sector * 512, in_data, true);
		written = (uint32_t)in_data + 1;
		break;
	case VIRTIO_BLK_T_OUT:
		if ((fk.offered & 1ull << VIRTIO_BLK_F_RO) ||
		    !range_in_disk(hdr.sector, out_data / 512)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_xfer(out, e->out_num, sizeof(hdr), fk.disk + hdr.sector * 512,
			 out_data, false);
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_GET_ID:
		iov_xfer(in, e->in_num, 0, (void *)ID_STRING, MIN(in_data, 20u), true);
		written = (uint32_t)MIN(in_data, 20u) + 1;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		iov_xfer(out, e->out_num, sizeof(hdr), &rng, sizeof(rng), false);
		if (!range_in_disk(rng.sector, rng.num_sectors)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		/* Discard leaves garbage: nothing promises zeroes. */
		memset(fk.disk + rng.sector * 512,
		       hdr.type == VIRTIO_BLK_T_DISCARD ? 0xdd : 0, rng.num_sectors * 512ull);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (fk.never_complete)
		return;
	if (!fk.no_status)
		iov_xfer(in, e->in_num, in_data, &st, 1, true);
	vq_push(&fk.vq, e->head, written + fk.len_extra);
}

static void fake_notify(uint32_t v)
{
	int r;

	fk.notifies++;
	if (v != 0 || !fk.running)
		return;
	while ((r = vq_pop(&fk.vq, &fk.elem)) == 1)
		fake_handle(&fk.elem);
	if (r < 0)
		fk.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
}

static uint32_t mmio_read(void *ctx, uint64_t addr, unsigned int size)
{
	uint64_t off = addr - BAR_BASE;
	uint32_t v = 0;

	if (off < COMMON_OFF + 0x38)
		return common_read((uint32_t)(off - COMMON_OFF));
	if (off >= DEVCFG_OFF && off + size <= DEVCFG_OFF + fk.devcfg_len) {
		memcpy(&v, (uint8_t *)&fk.blk + (off - DEVCFG_OFF), size);
		return v;
	}
	if (off == ISR_OFF)
		return 0;
	CU_FAIL("read outside the device's regions");
	return 0xffffffffu;
}

static void mmio_write(void *ctx, uint64_t addr, unsigned int size, uint32_t v)
{
	uint64_t off = addr - BAR_BASE;

	if (off < COMMON_OFF + 0x38) {
		common_write((uint32_t)(off - COMMON_OFF), v);
		return;
	}
	if (off == NOTIFY_OFF + fk.qnoff * NOTIFY_MULT && size == 2) {
		fake_notify(v);
		return;
	}
	CU_FAIL("write outside the device's registers");
}

const struct vpci_env fake_env = {
	.cfg_read8 = cfg_read8, .cfg_read16 = cfg_read16, .cfg_read32 = cfg_read32,
	.cfg_write16 = cfg_write16, .bar_map = bar_map,
	.mmio_read = mmio_read, .mmio_write = mmio_write,
};
