/* VT-d registers, fault recording and register-based invalidation.
 *
 * Owns the register file as data (QEMU's pattern, written anew): per byte
 * a value, a write mask, a write-1-to-clear mask and a write-only mask. A
 * write stores ((old & ~wmask) | (val & wmask)) & ~(w1c & val); a read
 * returns value & ~womask. Side effects run after the store, one handler
 * per register: GCMD one-shot commands, CCMD and IOTLB invalidations,
 * FSTS/FRCD clears and FECTL's IM/IP; IQT, ICS and IECTL are handed to
 * vtd_qi.c. Faults from vtd_xlate.c land in the
 * FRCDs here and raise the fault-event MSI from FEADDR/FEDATA.
 *
 * Contract: every register value comes from the guest and is untrusted;
 * accesses other than aligned 4/8-byte ones inside the window are
 * ignored (reads give 0). Everything runs under v->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "vtd_internal.h"

uint32_t vtd_get32(const struct vtd *v, unsigned int off)
{
	return get_le32(&v->csr[off]);
}

uint64_t vtd_get64(const struct vtd *v, unsigned int off)
{
	return get_le64(&v->csr[off]);
}

void vtd_set32(struct vtd *v, unsigned int off, uint32_t val)
{
	put_le32(&v->csr[off], val);
}

void vtd_set64(struct vtd *v, unsigned int off, uint64_t val)
{
	put_le64(&v->csr[off], val);
}

static void define64(struct vtd *v, unsigned int off, uint64_t val, uint64_t wmask,
		     uint64_t w1c, bool wo)
{
	put_le64(&v->csr[off], val);
	put_le64(&v->wmask[off], wmask);
	put_le64(&v->w1cmask[off], w1c);
	put_le64(&v->womask[off], wo ? ~0ULL : 0);
}

static void define32(struct vtd *v, unsigned int off, uint32_t val, uint32_t wmask,
		     uint32_t w1c, bool wo)
{
	put_le32(&v->csr[off], val);
	put_le32(&v->wmask[off], wmask);
	put_le32(&v->w1cmask[off], w1c);
	put_le32(&v->womask[off], wo ? ~0u : 0);
}

void vtd_notify(struct vtd *v, int sid, int did, uint64_t iova, uint64_t len)
{
	if (!v->inval || v->pending_all_dma)
		return;
	if (v->npending == VTD_PENDING_MAX) {
		v->pending_all_dma = true;
		return;
	}
	v->pending[v->npending++] = (struct vtd_pending){ .sid = sid, .did = did, .iova = iova,
							  .len = len };
}

void vtd_iec_notify(struct vtd *v, unsigned int index, unsigned int count)
{
	if (!v->iec || v->pending_all_iec)
		return;
	if (v->npending == VTD_PENDING_MAX) {
		v->pending_all_iec = true;
		return;
	}
	v->pending[v->npending++] = (struct vtd_pending){ .iec = true, .index = index,
							  .count = count };
}

void vtd_notify_flush(struct vtd *v)
{
	while (v->npending || v->pending_all_dma || v->pending_all_iec) {
		struct vtd_pending p[VTD_PENDING_MAX];
		unsigned int n = v->npending;
		bool all_dma = v->pending_all_dma, all_iec = v->pending_all_iec;
		vtd_inval_fn inval = v->inval;
		vtd_iec_fn iec = v->iec;
		void *io = v->inval_opaque, *eo = v->iec_opaque;

		memcpy(p, v->pending, n * sizeof(p[0]));
		v->npending = 0;
		v->pending_all_dma = v->pending_all_iec = false;
		pthread_mutex_unlock(&v->lock);
		for (unsigned int i = 0; i < n; i++) {
			if (p[i].iec && iec && !all_iec)
				iec(eo, p[i].index, p[i].count);
			else if (!p[i].iec && inval && !all_dma)
				inval(io, p[i].sid, p[i].did, p[i].iova, p[i].len);
		}
		if (all_dma && inval)
			inval(io, VTD_ALL, VTD_ALL, 0, UINT64_MAX);
		if (all_iec && iec)
			iec(eo, 0, VTD_IRTE_MAX);
		pthread_mutex_lock(&v->lock);
	}
}

/* ---- fault recording (VT-d spec 7.3) ---- */

/* Faults the context's FPD may suppress ("qualified"); root-level, table
 * access and reserved-root/context faults are always recorded. */
static bool fault_qualified(uint8_t reason)
{
	switch (reason) {
	case VTD_FR_CTX_P:
	case VTD_FR_CTX_INV:
	case VTD_FR_CTX_TT:
	case VTD_FR_ADDR_BEYOND_AW:
	case VTD_FR_WRITE:
	case VTD_FR_READ:
	case VTD_FR_PAGING_ACCESS:
	case VTD_FR_PAGING_RSVD:
	case VTD_FR_IR_ENTRY_P:
	case VTD_FR_IR_IRTE_RSVD:
	case VTD_FR_IR_SID_ERR:
		return true;
	default:
		return false;
	}
}

static void fault_msi(struct vtd *v)
{
	uint64_t addr = (uint64_t)vtd_get32(v, VTD_REG_FEUADDR) << 32 |
			vtd_get32(v, VTD_REG_FEADDR);

	if (v->host.msi)
		v->host.msi(v->host.opaque, addr, vtd_get32(v, VTD_REG_FEDATA));
}

/* A new fault condition: an interrupt is signalled only when no earlier
 * condition is still pending (pre_fsts is FSTS before this fault). */
static void fault_event(struct vtd *v, uint32_t pre_fsts)
{
	uint32_t fectl = vtd_get32(v, VTD_REG_FECTL);

	if (pre_fsts & (VTD_FSTS_PPF | VTD_FSTS_PFO | VTD_FSTS_IQE))
		return;
	if (fectl & VTD_FECTL_IM) {
		vtd_set32(v, VTD_REG_FECTL, fectl | VTD_FECTL_IP);
		return;
	}
	fault_msi(v);
	vtd_set32(v, VTD_REG_FECTL, fectl & ~VTD_FECTL_IP);
}

void vtd_fault_status(struct vtd *v, uint32_t bits)
{
	uint32_t fsts = vtd_get32(v, VTD_REG_FSTS);

	vtd_set32(v, VTD_REG_FSTS, fsts | bits);
	fault_event(v, fsts);
}

static unsigned int frcd_off(unsigned int i)
{
	return VTD_FRO + 16 * i;
}

bool vtd_fault(struct vtd *v, uint16_t sid, uint64_t iova, uint8_t reason,
	       bool is_write, bool fpd)
{
	uint32_t fsts = vtd_get32(v, VTD_REG_FSTS);
	unsigned int i = v->next_frcd;
	uint64_t hi;

	if (fpd && fault_qualified(reason))
		return false;
	if (fsts & VTD_FSTS_PFO)
		return false;   /* overflowed: dropped until software clears PFO */
	if (vtd_get64(v, frcd_off(i) + 8) & VTD_FRCD_F) {
		vtd_set32(v, VTD_REG_FSTS, fsts | VTD_FSTS_PFO);
		fault_event(v, fsts);
		return false;
	}
	hi = VTD_FRCD_F | VTD_FRCD_FR(reason) | sid;
	if (!is_write)
		hi |= VTD_FRCD_T;
	vtd_set64(v, frcd_off(i), iova & ~0xfffULL);
	vtd_set64(v, frcd_off(i) + 8, hi);
	v->next_frcd = (i + 1) % v->cfg.nr_frcd;
	if (!(fsts & VTD_FSTS_PPF)) {
		uint32_t nf = (fsts & ~VTD_FSTS_FRI_MASK) | VTD_FSTS_PPF |
			      (i << VTD_FSTS_FRI_SHIFT);
		vtd_set32(v, VTD_REG_FSTS, nf);
		fault_event(v, fsts);
	}
	return true;
}

/* Recomputes FSTS.PPF and FRI from the FRCDs' F bits after a clear. FRI
 * moves to the first record still pending, searching from the old FRI. */
static void update_ppf(struct vtd *v)
{
	uint32_t fsts = vtd_get32(v, VTD_REG_FSTS);
	unsigned int fri = (fsts & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT;
	unsigned int n = v->cfg.nr_frcd, k;

	fsts &= ~VTD_FSTS_PPF;
	for (k = 0; k < n; k++) {
		unsigned int i = (fri + k) % n;

		if (vtd_get64(v, frcd_off(i) + 8) & VTD_FRCD_F) {
			fsts = (fsts & ~VTD_FSTS_FRI_MASK) | VTD_FSTS_PPF |
			       (i << VTD_FSTS_FRI_SHIFT);
			break;
		}
	}
	vtd_set32(v, VTD_REG_FSTS, fsts);
}

/* Software serviced the faults: with nothing pending, IP goes away. */
static void handle_fsts(struct vtd *v)
{
	uint32_t fsts = vtd_get32(v, VTD_REG_FSTS);

	if (!(fsts & (VTD_FSTS_PPF | VTD_FSTS_PFO | VTD_FSTS_IQE)))
		vtd_set32(v, VTD_REG_FECTL, vtd_get32(v, VTD_REG_FECTL) & ~VTD_FECTL_IP);
}

/* Unmasking with an interrupt pending delivers it and clears IP. */
static void handle_fectl(struct vtd *v)
{
	uint32_t fectl = vtd_get32(v, VTD_REG_FECTL);

	if ((fectl & VTD_FECTL_IP) && !(fectl & VTD_FECTL_IM)) {
		fault_msi(v);
		vtd_set32(v, VTD_REG_FECTL, fectl & ~VTD_FECTL_IP);
	}
}

/* ---- commands ---- */

static void handle_gcmd(struct vtd *v)
{
	uint32_t cmd = vtd_get32(v, VTD_REG_GCMD);
	uint32_t sts = vtd_get32(v, VTD_REG_GSTS);
	bool flush = false, iec = false, qi = false;

	if (cmd & VTD_GCMD_SRTP) {
		/* Legacy mode only: the TTM bits are not writable (no SMTS). */
		v->root = vtd_get64(v, VTD_REG_RTADDR) & ~0xfffULL;
		sts |= VTD_GCMD_SRTP;
		flush = true;
	}
	if ((cmd ^ sts) & VTD_GCMD_TE) {
		sts ^= VTD_GCMD_TE;
		flush = true;
	}
	if ((cmd ^ sts) & VTD_GCMD_QIE) {
		sts ^= VTD_GCMD_QIE;
		if (sts & VTD_GCMD_QIE) {
			vtd_set64(v, VTD_REG_IQH, 0);
			qi = true;   /* Windows sets IQT before QIE */
		}
	}
	if (cmd & VTD_GCMD_SIRTP) {
		v->irta = vtd_get64(v, VTD_REG_IRTA);
		if (!(v->ecap & VTD_ECAP_EIM))
			v->irta &= ~VTD_IRTA_EIME;
		sts |= VTD_GCMD_SIRTP;
		iec = true;
	}
	if ((cmd ^ sts) & VTD_GCMD_IRE) {
		sts ^= VTD_GCMD_IRE;
		iec = true;
	}
	if ((cmd ^ sts) & VTD_GCMD_CFI) {
		sts ^= VTD_GCMD_CFI;
		iec = true;
	}
	vtd_set32(v, VTD_REG_GSTS, sts);
	/* Every MSI route depends on the table, IRE and CFIS. */
	if (iec)
		vtd_iec_notify(v, 0, VTD_IRTE_MAX);
	if (qi)
		vtd_qi_run(v);
	if (flush) {
		/* A new root table or a TE change alters every translation. */
		vtd_caches_reset(v);
		vtd_notify(v, VTD_ALL, VTD_ALL, 0, UINT64_MAX);
	}
}

static void handle_ccmd(struct vtd *v)
{
	uint64_t c = vtd_get64(v, VTD_REG_CCMD);
	unsigned int done = 0;

	if (!(c & VTD_CCMD_ICC))
		return;
	/* Register-based invalidation is not allowed while QI is on. */
	if (!(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_QIE))
		done = vtd_ctx_invalidate(v, VTD_CCMD_CIRG(c), VTD_CCMD_DID(c),
					  VTD_CCMD_SID(c), VTD_CCMD_FM(c));
	c &= ~(VTD_CCMD_ICC | VTD_CCMD_CAIG_MASK);
	c |= (uint64_t)done << VTD_CCMD_CAIG_SHIFT;
	vtd_set64(v, VTD_REG_CCMD, c);
}

static void handle_iotlb(struct vtd *v)
{
	uint64_t c = vtd_get64(v, VTD_REG_IOTLB);
	uint64_t iva = vtd_get64(v, VTD_REG_IVA);
	unsigned int done = 0;

	if (!(c & VTD_IOTLB_IVT))
		return;
	if (!(vtd_get32(v, VTD_REG_GSTS) & VTD_GCMD_QIE))
		done = vtd_iotlb_invalidate(v, VTD_IOTLB_IIRG(c), VTD_IOTLB_DID(c),
					    VTD_IVA_ADDR(iva), VTD_IVA_AM(iva));
	c &= ~(VTD_IOTLB_IVT | VTD_IOTLB_IAIG_MASK);
	c |= (uint64_t)done << VTD_IOTLB_IAIG_SHIFT;
	vtd_set64(v, VTD_REG_IOTLB, c);
}

/* ---- the window ---- */

static bool access_ok(uint64_t off, unsigned int len)
{
	return (len == 4 || len == 8) && off < VTD_MMIO_SIZE &&
	       off + len <= VTD_MMIO_SIZE && off % len == 0;
}

static bool touches(uint64_t off, unsigned int len, unsigned int first, unsigned int n)
{
	return off < (uint64_t)first + n && first < off + len;
}

uint64_t vtd_mmio_read(struct vtd *v, uint64_t off, unsigned int len)
{
	uint64_t val = 0;
	unsigned int i;

	if (!access_ok(off, len))
		return 0;
	pthread_mutex_lock(&v->lock);
	for (i = 0; i < len; i++)
		val |= (uint64_t)(v->csr[off + i] & ~v->womask[off + i]) << (8 * i);
	pthread_mutex_unlock(&v->lock);
	return val;
}

void vtd_mmio_write(struct vtd *v, uint64_t off, uint64_t data, unsigned int len)
{
	unsigned int i;
	bool frcd;

	if (!access_ok(off, len))
		return;
	pthread_mutex_lock(&v->lock);
	for (i = 0; i < len; i++) {
		uint8_t b = data >> (8 * i), o = v->csr[off + i];
		uint8_t wm = v->wmask[off + i], w1c = v->w1cmask[off + i];

		v->csr[off + i] = ((o & ~wm) | (b & wm)) & ~(w1c & b);
	}
	if (touches(off, len, VTD_REG_GCMD, 4))
		handle_gcmd(v);
	if (touches(off, len, VTD_REG_CCMD + 7, 1))
		handle_ccmd(v);
	if (touches(off, len, VTD_REG_IOTLB + 7, 1))
		handle_iotlb(v);
	/* an aligned access reaches an FRCD's F byte iff it ends the record */
	frcd = off >= VTD_FRO && off < frcd_off(v->cfg.nr_frcd) &&
	       (off + len - VTD_FRO) % 16 == 0;
	if (frcd)
		update_ppf(v);
	if (frcd || touches(off, len, VTD_REG_FSTS, 4))
		handle_fsts(v);
	if (touches(off, len, VTD_REG_FECTL, 4))
		handle_fectl(v);
	if (touches(off, len, VTD_REG_ICS, 4))
		vtd_qi_ics(v);
	if (touches(off, len, VTD_REG_IECTL, 4))
		vtd_qi_iectl(v);
	/* last: IQT or an IQE clear resumes the queue */
	if (touches(off, len, VTD_REG_IQT, 4) || touches(off, len, VTD_REG_FSTS, 4))
		vtd_qi_run(v);
	/* What register-based invalidations and GCMD changes announced. */
	vtd_notify_flush(v);
	pthread_mutex_unlock(&v->lock);
}

void vtd_set_notifier(struct vtd *v, vtd_inval_fn fn, void *opaque)
{
	pthread_mutex_lock(&v->lock);
	v->inval = fn;
	v->inval_opaque = opaque;
	pthread_mutex_unlock(&v->lock);
}

void vtd_set_iec_notifier(struct vtd *v, vtd_iec_fn fn, void *opaque)
{
	pthread_mutex_lock(&v->lock);
	v->iec = fn;
	v->iec_opaque = opaque;
	pthread_mutex_unlock(&v->lock);
}

static void define_regs(struct vtd *v)
{
	unsigned int i;

	define32(v, VTD_REG_VER, 0x10, 0, 0, false);
	define64(v, VTD_REG_CAP, v->cap, 0, 0, false);
	define64(v, VTD_REG_ECAP, v->ecap, 0, 0, false);
	define32(v, VTD_REG_GCMD, 0, 0xff800000u, 0, true);
	define32(v, VTD_REG_GSTS, 0, 0, 0, false);
	define64(v, VTD_REG_RTADDR, 0, ~0xfffULL, 0, false);
	define64(v, VTD_REG_CCMD, 0, 0xe0000003ffffffffULL, 0, false);
	define32(v, VTD_REG_FSTS, 0, 0, VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE |
		 VTD_FSTS_ITE, false);
	define32(v, VTD_REG_FECTL, VTD_FECTL_IM, VTD_FECTL_IM, 0, false);
	define32(v, VTD_REG_FEDATA, 0, 0xffff, 0, false);
	define32(v, VTD_REG_FEADDR, 0, 0xfffffffcu, 0, false);
	define32(v, VTD_REG_FEUADDR, 0, 0xffffffffu, 0, false);
	/* Queued invalidation (vtd_qi.c) and interrupt remapping (vtd_ir.c). */
	define64(v, VTD_REG_IQH, 0, 0, 0, false);
	define64(v, VTD_REG_IQT, 0, 0x7fff0, 0, false);
	define64(v, VTD_REG_IQA, 0, 0xfffffffffffff807ULL, 0, false);
	define32(v, VTD_REG_ICS, 0, 0, 1, false);
	define32(v, VTD_REG_IECTL, VTD_FECTL_IM, VTD_FECTL_IM, 0, false);
	define32(v, VTD_REG_IEDATA, 0, 0xffff, 0, false);
	define32(v, VTD_REG_IEADDR, 0, 0xfffffffcu, 0, false);
	define32(v, VTD_REG_IEUADDR, 0, 0xffffffffu, 0, false);
	define64(v, VTD_REG_IRTA, 0, 0xfffffffffffff80fULL, 0, false);
	define64(v, VTD_REG_IVA, 0, 0xfffffffffffff07fULL, 0, true);
	define64(v, VTD_REG_IOTLB, 0, 0xb003ffff00000000ULL, 0, false);
	for (i = 0; i < v->cfg.nr_frcd; i++) {
		define64(v, frcd_off(i), 0, 0, 0, false);
		define64(v, frcd_off(i) + 8, 0, 0, VTD_FRCD_F, false);
	}
}

int vtd_init(struct vtd *v, const struct vtd_config *cfg, const struct vtd_host *host)
{
	int ret;

	if (!cfg || !host || !host->mem_read)
		return -EINVAL;
	if (cfg->aw_bits != 39 && cfg->aw_bits != 48)
		return -EINVAL;
	if (cfg->nr_frcd < 8 || cfg->nr_frcd > VTD_MAX_FRCD)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->cfg = *cfg;
	v->host = *host;
	if (!v->cfg.iotlb_entries)
		v->cfg.iotlb_entries = VTD_IOTLB_DEFAULT;
	if (v->cfg.iotlb_entries > VTD_IOTLB_MAX)
		v->cfg.iotlb_entries = VTD_IOTLB_MAX;
	if (!v->cfg.ctx_entries)
		v->cfg.ctx_entries = VTD_CTX_DEFAULT;
	if (v->cfg.ctx_entries > VTD_CTX_MAX)
		v->cfg.ctx_entries = VTD_CTX_MAX;
	v->cap = VTD_CAP_ND16 | VTD_CAP_SAGAW39 | VTD_CAP_MGAW(cfg->aw_bits) |
		 VTD_CAP_FRO(VTD_FRO) | VTD_CAP_SLLPS | VTD_CAP_PSI |
		 VTD_CAP_NFR(cfg->nr_frcd) | VTD_CAP_MAMV | VTD_CAP_DWD | VTD_CAP_DRD;
	if (cfg->aw_bits == 48)
		v->cap |= VTD_CAP_SAGAW48;
	if (cfg->caching_mode)
		v->cap |= VTD_CAP_CM;
	v->ecap = VTD_ECAP_QI | VTD_ECAP_IR | VTD_ECAP_PT | VTD_ECAP_IRO | VTD_ECAP_MHMV;
	if (cfg->eim)
		v->ecap |= VTD_ECAP_EIM;
	define_regs(v);
	ret = vtd_caches_init(v);
	if (ret)
		return ret;
	ret = -pthread_mutex_init(&v->lock, NULL);
	if (ret)
		vtd_caches_free(v);
	return ret;
}

void vtd_destroy(struct vtd *v)
{
	vtd_caches_free(v);
	pthread_mutex_destroy(&v->lock);
}
