/* VT-d queued invalidation (VT-d spec 6.5.2), legacy 128-bit descriptors.
 *
 * Owns: the invalidation queue engine behind IQA/IQH/IQT, and the
 * invalidation completion event (ICS.IWC, IECTL IM/IP, IEDATA/IEADDR).
 * Descriptors run synchronously inside the guest's IQT write (Linux spins
 * on a wait descriptor's status right after it), and again when the guest
 * enables QIE with IQT already set or clears FSTS.IQE after fixing the
 * queue. Types: context-cache (global/domain/device), IOTLB (global/
 * domain/page-selective with AM; DR/DW ignored), device-IOTLB (the ATS
 * size encoding gives the range passed to the notifier), interrupt entry
 * cache (global/index with IM, passed to the IEC notifier) and wait
 * (status write SW, completion interrupt IF, both together allowed).
 *
 * Contract: the queue and every descriptor come from the guest and are
 * untrusted. A descriptor with reserved bits set or an unknown type, a
 * queue slot or status address that cannot be accessed, or an IQT beyond
 * the queue sets FSTS.IQE, leaves IQH at the bad descriptor, stops the
 * queue until software clears IQE, and raises the fault event. One run
 * processes at most the queue's size. Everything runs under v->lock.
 */
#include <errno.h>
#include <string.h>

#include "isle/util.h"
#include "vtd_internal.h"

/* Descriptor types (bits 3:0, with bits 11:9 as type[6:4]). */
enum {
	QI_CC = 1,
	QI_IOTLB = 2,
	QI_DEVTLB = 3,
	QI_IEC = 4,
	QI_WAIT = 5,
};

#define QI_TYPE(lo)        ((((lo) >> 5) & 0x70) | ((lo) & 0xf))
#define QI_GRAN(lo)        (((lo) >> 4) & 3)
#define QI_DID(lo)         (((lo) >> 16) & 0xffff)
#define QI_SID(lo)         (((lo) >> 32) & 0xffff)

/* Reserved bits per type (low, high quad), legacy mode. */
#define QI_CC_RSVD_LO      0xfffc00000000f1c0ULL   /* 8:6, 15:12, 63:50 */
#define QI_IOTLB_RSVD_LO   0xffffffff0000ff00ULL   /* 15:8, 63:32 */
#define QI_IOTLB_RSVD_HI   0xf80ULL                /* 11:7 */
#define QI_DEVTLB_RSVD_LO  0x000f0000ffe001f0ULL   /* 8:4, 31:21, 51:48 */
#define QI_DEVTLB_RSVD_HI  0xffeULL                /* 11:1 */
#define QI_IEC_RSVD_LO     0xffff000007fff1e0ULL   /* 8:5, 26:12, 63:48 */
#define QI_WAIT_RSVD_LO    0xfffff180ULL           /* 8:7 (PD: no PRS), 31:12 */
#define QI_WAIT_RSVD_HI    0x3ULL

/* CC */
#define QI_CC_FM(lo)       (((lo) >> 48) & 3)
/* IOTLB */
#define QI_IOTLB_AM(hi)    ((hi) & 0x3f)
/* IEC */
#define QI_IEC_INDEX       (1ULL << 4)             /* G: 0 global, 1 index */
#define QI_IEC_IM(lo)      (((lo) >> 27) & 0x1f)
#define QI_IEC_IIDX(lo)    (((lo) >> 32) & 0xffff)
/* wait */
#define QI_WAIT_IF         (1ULL << 4)
#define QI_WAIT_SW         (1ULL << 5)
#define QI_WAIT_DATA(lo)   ((uint32_t)((lo) >> 32))

static unsigned int queue_entries(const struct vtd *v)
{
	return 256u << VTD_IQA_QS(vtd_get64(v, VTD_REG_IQA));
}

/* The invalidation-completion event: the MSI from IEADDR/IEUADDR/IEDATA,
 * and IECTL.IP cleared (it was delivered). */
static void vtd_qi_send_event(struct vtd *v, uint32_t iectl)
{
	if (v->host.msi)
		v->host.msi(v->host.opaque,
			    (uint64_t)vtd_get32(v, VTD_REG_IEUADDR) << 32 |
			    vtd_get32(v, VTD_REG_IEADDR),
			    vtd_get32(v, VTD_REG_IEDATA));
	vtd_set32(v, VTD_REG_IECTL, iectl & ~VTD_FECTL_IP);
}

/* The invalidation completion event: IWC goes up once; an interrupt is
 * sent unless IM holds it pending in IP. */
static void wait_irq(struct vtd *v)
{
	uint32_t ics = vtd_get32(v, VTD_REG_ICS);
	uint32_t iectl = vtd_get32(v, VTD_REG_IECTL);

	if (ics & VTD_ICS_IWC)
		return;   /* still unserviced: no new event */
	vtd_set32(v, VTD_REG_ICS, ics | VTD_ICS_IWC);
	if (iectl & VTD_FECTL_IM) {
		vtd_set32(v, VTD_REG_IECTL, iectl | VTD_FECTL_IP);
		return;
	}
	vtd_qi_send_event(v, iectl);
}

void vtd_qi_ics(struct vtd *v)
{
	/* Software cleared IWC: the pending interrupt is gone too. */
	if (!(vtd_get32(v, VTD_REG_ICS) & VTD_ICS_IWC))
		vtd_set32(v, VTD_REG_IECTL, vtd_get32(v, VTD_REG_IECTL) & ~VTD_FECTL_IP);
}

void vtd_qi_iectl(struct vtd *v)
{
	uint32_t iectl = vtd_get32(v, VTD_REG_IECTL);

	if ((iectl & VTD_FECTL_IP) && !(iectl & VTD_FECTL_IM)) {
		vtd_qi_send_event(v, iectl);
	}
}

/* ---- one handler per descriptor type: 0 or -EINVAL (IQE) ---- */

static int do_cc(struct vtd *v, uint64_t lo, uint64_t hi)
{
	if ((lo & QI_CC_RSVD_LO) || hi)
		return -EINVAL;
	if (!vtd_ctx_invalidate(v, QI_GRAN(lo), QI_DID(lo), QI_SID(lo), QI_CC_FM(lo)))
		return -EINVAL;   /* granularity 0 is reserved */
	return 0;
}

static int do_iotlb(struct vtd *v, uint64_t lo, uint64_t hi)
{
	if ((lo & QI_IOTLB_RSVD_LO) || (hi & QI_IOTLB_RSVD_HI))
		return -EINVAL;
	/* DR/DW (drain hints) need nothing: requests complete synchronously. */
	if (!vtd_iotlb_invalidate(v, QI_GRAN(lo), QI_DID(lo), VTD_IVA_ADDR(hi),
				  QI_IOTLB_AM(hi)))
		return -EINVAL;   /* granularity 0, or AM above MAMV */
	return 0;
}

/* ATS invalidation range: S=0 is one 4K page; with S=1 the run of ones
 * from address bit 12 up says the size (bit k the first zero: 2^(k+1)). */
static void devtlb_range(uint64_t hi, uint64_t *addr, uint64_t *len)
{
	uint64_t a = hi & ~0xfffULL;
	unsigned int k;

	if (!(hi & 1)) {
		*addr = a;
		*len = 0x1000;
		return;
	}
	for (k = 12; k < 64 && (a >> k) & 1; k++)
		;
	if (k >= 63) {
		*addr = 0;
		*len = UINT64_MAX;   /* the whole space, as in dma.h */
		return;
	}
	*len = 2ULL << k;
	*addr = a & ~(*len - 1);
}

static int do_devtlb(struct vtd *v, uint64_t lo, uint64_t hi)
{
	uint64_t addr, len;

	if ((lo & QI_DEVTLB_RSVD_LO) || (hi & QI_DEVTLB_RSVD_HI))
		return -EINVAL;
	devtlb_range(hi, &addr, &len);
	vtd_notify(v, (int)QI_SID(lo), VTD_ALL, addr, len);
	return 0;
}

static int do_iec(struct vtd *v, uint64_t lo, uint64_t hi)
{
	unsigned int im, idx, count;

	if ((lo & QI_IEC_RSVD_LO) || hi)
		return -EINVAL;
	if (!(lo & QI_IEC_INDEX)) {
		vtd_iec_notify(v, 0, VTD_IRTE_MAX);
		return 0;
	}
	im = QI_IEC_IM(lo);
	if (im > 16)
		im = 16;   /* more than the whole table */
	count = 1u << im;
	idx = QI_IEC_IIDX(lo) & ~(count - 1);
	vtd_iec_notify(v, idx, count);
	return 0;
}

static int do_wait(struct vtd *v, uint64_t lo, uint64_t hi)
{
	uint8_t b[4];

	if ((lo & QI_WAIT_RSVD_LO) || (hi & (QI_WAIT_RSVD_HI | ~vtd_haw_mask(v))))
		return -EINVAL;
	/* FN (fence) needs nothing: descriptors complete in order. SW and
	 * IF together are allowed: write the status, then interrupt. */
	if (lo & QI_WAIT_SW) {
		put_le32(b, QI_WAIT_DATA(lo));
		if (!v->host.mem_write ||
		    v->host.mem_write(v->host.opaque, hi, b, sizeof(b)))
			return -EINVAL;
	}
	if (lo & QI_WAIT_IF)
		wait_irq(v);
	return 0;
}

static int do_desc(struct vtd *v, uint64_t lo, uint64_t hi)
{
	switch (QI_TYPE(lo)) {
	case QI_CC:
		return do_cc(v, lo, hi);
	case QI_IOTLB:
		return do_iotlb(v, lo, hi);
	case QI_DEVTLB:
		return do_devtlb(v, lo, hi);
	case QI_IEC:
		return do_iec(v, lo, hi);
	case QI_WAIT:
		return do_wait(v, lo, hi);
	default:
		return -EINVAL;   /* PASID types need scalable mode */
	}
}

/* The queue stops: IQH stays at the descriptor that failed. */
static void queue_error(struct vtd *v)
{
	vtd_fault_status(v, VTD_FSTS_IQE);
}

/* Processes descriptors from IQH to IQT. Before a wait descriptor the
 * notifications of the ones before it are delivered (vtd_notify_flush
 * drops the lock meanwhile; also whenever half the pending slots fill), so the state is read again after each one:
 * another vCPU may have moved IQT (its descriptors are ours to run: it
 * saw qi_running and left), turned QI off or set IQE. The budget bounds
 * the work of one register write to one lap plus what arrives meanwhile,
 * capped so a guest spinning on IQT cannot hold a vCPU here for ever. */
void vtd_qi_run(struct vtd *v)
{
	unsigned int budget = 4 * 32768;
	uint8_t b[16];

	if (v->qi_running)
		return;
	v->qi_running = true;
	while (budget--) {
		uint64_t base = VTD_IQA_ADDR(vtd_get64(v, VTD_REG_IQA)), lo, hi;
		unsigned int n = queue_entries(v), head, tail;

		if (!(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_QIE) ||
		    (vtd_get32(v, VTD_REG_FSTS) & VTD_FSTS_IQE))
			break;
		head = VTD_IQ_INDEX(vtd_get64(v, VTD_REG_IQH));
		tail = VTD_IQ_INDEX(vtd_get64(v, VTD_REG_IQT));
		if (tail >= n || head >= n || (base & ~vtd_haw_mask(v))) {
			queue_error(v);   /* IQT or IQA beyond what the unit allows */
			break;
		}
		if (head == tail)
			break;
		if (v->host.mem_read(v->host.opaque, base + 16ULL * head, b, sizeof(b))) {
			queue_error(v);
			break;
		}
		lo = get_le64(b);
		hi = get_le64(b + 8);
		/* Half full: deliver now rather than collapse (a descriptor
		 * queues at most 8: a device-selective context invalidation
		 * with a function mask). */
		if (QI_TYPE(lo) == QI_WAIT || v->npending >= VTD_PENDING_MAX / 2) {
			vtd_notify_flush(v);
			/* The queue may have changed while the lock was dropped. */
			if (!(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_QIE) ||
			    (vtd_get32(v, VTD_REG_FSTS) & VTD_FSTS_IQE) ||
			    VTD_IQ_INDEX(vtd_get64(v, VTD_REG_IQH)) != head ||
			    VTD_IQA_ADDR(vtd_get64(v, VTD_REG_IQA)) != base)
				continue;
		}
		if (do_desc(v, lo, hi)) {
			queue_error(v);
			break;
		}
		v->qi_descs++;
		vtd_set64(v, VTD_REG_IQH, (uint64_t)((head + 1) % n) << 4);
	}
	v->qi_running = false;
}
