/* The simulated NVMe controller (see fake_nvme.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit.h"
#include "fake_nvme.h"

struct fake_nvme fnv;
uint8_t *fnv_ram;

/* ---- fe_env.h hooks --------------------------------------------------- */

uint64_t fe_virt_to_phys(const void *p)
{
	const uint8_t *b = p;

	if (!fnv_ram || b < fnv_ram || b >= fnv_ram + FNV_RAM_SIZE)
		return 0xdead000000000000ULL;
	return FNV_RAM_GPA + (uint64_t)(b - fnv_ram);
}

uint64_t fe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- guest memory, as the device sees it -------------------------------- */

static void *ram(uint64_t gpa, uint64_t len)
{
	if (gpa < FNV_RAM_GPA || len > FNV_RAM_SIZE || gpa - FNV_RAM_GPA > FNV_RAM_SIZE - len)
		return NULL;
	return fnv_ram + (gpa - FNV_RAM_GPA);
}

/* Copies len bytes between the disk and the PRP1/PRP2 buffer (at most two
 * pages, no PRP lists). */
static uint16_t prp_copy(const struct nvme_sqe *c, uint8_t *disk, uint32_t len, bool to_disk)
{
	uint32_t first = NVME_PAGE - (uint32_t)(c->prp1 & (NVME_PAGE - 1));
	uint8_t *a, *b = NULL;

	if (c->prp1 & 3)
		return FNV_SC_INVALID_FIELD;
	first = first < len ? first : len;
	if (len > first) {
		if (len - first > NVME_PAGE || (c->prp2 & (NVME_PAGE - 1)))
			return FNV_SC_INVALID_FIELD;
		b = ram(c->prp2, len - first);
		if (!b)
			return FNV_SC_DATA_XFER;
	}
	a = ram(c->prp1, first);
	if (!a)
		return FNV_SC_DATA_XFER;
	if (to_disk) {
		memcpy(disk, a, first);
		if (b)
			memcpy(disk + first, b, len - first);
	} else {
		memcpy(a, disk, first);
		if (b)
			memcpy(b, disk + first, len - first);
	}
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

static void put_str(uint8_t *field, size_t len, const char *s)
{
	memset(field, ' ', len);
	memcpy(field, s, strlen(s));
}

static uint16_t identify(const struct nvme_sqe *c)
{
	uint8_t id[NVME_ID_BYTES] = { 0 };

	switch (c->cdw10 & 0xff) {
	case NVME_CNS_CTRL:
		put_le16(&id[NVME_ID_CTRL_VID], FNV_VID);
		put_le16(&id[NVME_ID_CTRL_SSVID], FNV_VID);
		put_str(&id[NVME_ID_CTRL_SN], 20, FNV_SERIAL);
		put_str(&id[NVME_ID_CTRL_MN], 40, FNV_MODEL);
		put_str(&id[NVME_ID_CTRL_FR], 8, "1.0");
		id[NVME_ID_CTRL_SQES] = 0x66;
		id[NVME_ID_CTRL_CQES] = 0x44;
		put_le32(&id[NVME_ID_CTRL_NN], 1);
		break;
	case NVME_CNS_NS:
		if (c->nsid != 1)
			return FNV_SC_INVALID_NS;
		put_le64(&id[NVME_ID_NS_NSZE], FNV_LBAS);
		id[NVME_ID_NS_LBAF + 2] = 9;            /* format 0: 512 bytes */
		break;
	default:
		return FNV_SC_INVALID_FIELD;
	}
	return prp_copy(c, id, sizeof(id), false);
}

static uint16_t create_cq(const struct nvme_sqe *c)
{
	uint16_t qid = (uint16_t)c->cdw10, size = (uint16_t)((c->cdw10 >> 16) + 1);
	struct fake_nvme_queue *q;

	if (!qid || qid >= FNV_QUEUES || fnv.cq[qid].live)
		return FNV_SC_INVALID_QID;
	if (size < 2 || size > FNV_MQES + 1)
		return FNV_SC_INVALID_QSIZE;
	if (!(c->cdw11 & 1) || (c->prp1 & (NVME_PAGE - 1)) ||
	    !ram(c->prp1, (uint64_t)size * NVME_CQE_BYTES))
		return FNV_SC_INVALID_FIELD;
	q = &fnv.cq[qid];
	*q = (struct fake_nvme_queue){ .live = true, .size = size, .gpa = c->prp1,
				       .vector = (uint16_t)(c->cdw11 >> 16), .phase = 1 };
	return 0;
}

static uint16_t create_sq(const struct nvme_sqe *c)
{
	uint16_t qid = (uint16_t)c->cdw10, size = (uint16_t)((c->cdw10 >> 16) + 1);
	uint16_t cqid = (uint16_t)(c->cdw11 >> 16);

	if (!qid || qid >= FNV_QUEUES || fnv.sq[qid].live)
		return FNV_SC_INVALID_QID;
	if (size < 2 || size > FNV_MQES + 1)
		return FNV_SC_INVALID_QSIZE;
	if (!cqid || cqid >= FNV_QUEUES || !fnv.cq[cqid].live)
		return FNV_SC_CQ_INVALID;
	if (!(c->cdw11 & 1) || (c->prp1 & (NVME_PAGE - 1)) ||
	    !ram(c->prp1, (uint64_t)size * NVME_SQE_BYTES))
		return FNV_SC_INVALID_FIELD;
	fnv.sq[qid] = (struct fake_nvme_queue){ .live = true, .size = size, .gpa = c->prp1,
						.cqid = cqid };
	return 0;
}

static uint16_t admin(const struct nvme_sqe *c, uint32_t *dw0)
{
	switch (c->opcode) {
	case NVME_ADM_IDENTIFY:
		return identify(c);
	case NVME_ADM_CREATE_CQ:
		return create_cq(c);
	case NVME_ADM_CREATE_SQ:
		return create_sq(c);
	case NVME_ADM_SET_FEAT:
		if ((c->cdw10 & 0xff) != NVME_FEAT_NUM_QUEUES)
			return FNV_SC_INVALID_FIELD;
		fnv.num_queues_req = c->cdw11;
		/* What it got: FNV_QUEUES - 1 of each, 0's based. */
		*dw0 = (uint32_t)(FNV_QUEUES - 2) << 16 | (FNV_QUEUES - 2);
		return 0;
	default:
		return FNV_SC_INVALID_OPCODE;
	}
}

static uint16_t io(const struct nvme_sqe *c)
{
	uint64_t slba = c->cdw10 | (uint64_t)c->cdw11 << 32;
	uint32_t nlb = (c->cdw12 & 0xffff) + 1;

	if (c->opcode != NVME_CMD_READ && c->opcode != NVME_CMD_WRITE)
		return FNV_SC_INVALID_OPCODE;
	if (c->nsid != 1)
		return FNV_SC_INVALID_NS;
	if (slba >= FNV_LBAS || nlb > FNV_LBAS - slba)
		return FNV_SC_LBA_RANGE;
	return prp_copy(c, fnv.disk + slba * 512, nlb * 512, c->opcode == NVME_CMD_WRITE);
}

/* ---- queues --------------------------------------------------------------- */

static bool cq_full(const struct fake_nvme_queue *cq)
{
	return (uint16_t)((cq->tail + 1) % cq->size) == cq->head;
}

static void complete(uint16_t sqid, const struct nvme_sqe *c, uint16_t status, uint32_t dw0)
{
	struct fake_nvme_queue *sq = &fnv.sq[sqid], *cq = &fnv.cq[sq->cqid];
	struct nvme_cqe *e = ram(cq->gpa + (uint64_t)cq->tail * NVME_CQE_BYTES, NVME_CQE_BYTES);
	uint16_t field = (uint16_t)(status << 1);

	if (fnv.force_status) {
		field = (uint16_t)(fnv.force_status & ~1u);
		fnv.force_status = 0;
	}
	if (!e)
		return;
	e->dw0 = dw0;
	e->dw1 = 0;
	e->sq_head = sq->head;
	e->sq_id = (uint16_t)(sqid + fnv.bad_sq_id);
	e->cid = c->cid;
	/* The phase tag last, as a device's write of the entry ends. */
	__atomic_store_n(&e->status, (uint16_t)(field | cq->phase), __ATOMIC_RELEASE);
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase ^= 1;
	}
}

/* Runs sqid's commands up to its tail while its CQ has room. */
static void run_sq(uint16_t sqid)
{
	struct fake_nvme_queue *sq = &fnv.sq[sqid];

	while (sq->live && sq->head != sq->tail && !cq_full(&fnv.cq[sq->cqid])) {
		struct nvme_sqe c, *p = ram(sq->gpa + (uint64_t)sq->head * NVME_SQE_BYTES,
					    NVME_SQE_BYTES);
		uint32_t dw0 = 0;
		uint16_t status;

		if (!p) {
			fnv.csts |= NVME_CSTS_CFS;
			return;
		}
		c = *p;
		sq->head = (uint16_t)((sq->head + 1) % sq->size);
		fnv.commands++;
		if (fnv.never_complete)
			continue;
		status = sqid ? io(&c) : admin(&c, &dw0);
		complete(sqid, &c, status, dw0);
	}
}

static void doorbell(uint32_t off, uint32_t v)
{
	unsigned int idx = (off - NVME_REG_DBS) / 4, qid = idx / 2;

	if (qid >= FNV_QUEUES || !(fnv.csts & NVME_CSTS_RDY))
		return;
	if (idx % 2 == 0) {
		if (fnv.sq[qid].live && v < fnv.sq[qid].size) {
			fnv.sq[qid].tail = (uint16_t)v;
			run_sq((uint16_t)qid);
		}
		return;
	}
	if (!fnv.cq[qid].live || v >= fnv.cq[qid].size)
		return;
	fnv.cq[qid].head = (uint16_t)v;
	for (uint16_t s = 0; s < FNV_QUEUES; s++)
		if (fnv.sq[s].live && fnv.sq[s].cqid == qid)
			run_sq(s);
}

/* ---- registers ------------------------------------------------------------ */

static void enable(void)
{
	uint16_t sqs = (uint16_t)((fnv.aqa & 0xfff) + 1), cqs = (uint16_t)((fnv.aqa >> 16 & 0xfff) + 1);

	fnv.enables++;
	if (fnv.never_ready)
		return;
	if (fnv.fatal_on_enable || sqs < 2 || cqs < 2 || ((fnv.asq | fnv.acq) & (NVME_PAGE - 1)) ||
	    !ram(fnv.asq, (uint64_t)sqs * NVME_SQE_BYTES) ||
	    !ram(fnv.acq, (uint64_t)cqs * NVME_CQE_BYTES)) {
		fnv.csts |= NVME_CSTS_CFS;
		return;
	}
	fnv.sq[0] = (struct fake_nvme_queue){ .live = true, .size = sqs, .gpa = fnv.asq };
	fnv.cq[0] = (struct fake_nvme_queue){ .live = true, .size = cqs, .gpa = fnv.acq,
					      .phase = 1 };
	fnv.csts |= NVME_CSTS_RDY;
}

static void cc_write(uint32_t v)
{
	bool was = fnv.cc & NVME_CC_EN;

	fnv.cc = v;
	if (!was && (v & NVME_CC_EN)) {
		enable();
	} else if (was && !(v & NVME_CC_EN)) {
		fnv.disables++;
		memset(fnv.sq, 0, sizeof(fnv.sq));
		memset(fnv.cq, 0, sizeof(fnv.cq));
		fnv.csts = 0;
	}
}

static uint32_t reg_read32(void *ctx, uint32_t off)
{
	(void)ctx;
	if (fnv.gone)
		return UINT32_MAX;
	switch (off) {
	case NVME_REG_CAP:     return (uint32_t)fnv.cap;
	case NVME_REG_CAP + 4: return (uint32_t)(fnv.cap >> 32);
	case NVME_REG_VS:      return fnv.vs;
	case NVME_REG_INTMS:
	case NVME_REG_INTMC:   return fnv.intms;
	case NVME_REG_CC:      return fnv.cc;
	case NVME_REG_CSTS:    return fnv.csts;
	case NVME_REG_AQA:     return fnv.aqa;
	case NVME_REG_ASQ:     return (uint32_t)fnv.asq;
	case NVME_REG_ASQ + 4: return (uint32_t)(fnv.asq >> 32);
	case NVME_REG_ACQ:     return (uint32_t)fnv.acq;
	case NVME_REG_ACQ + 4: return (uint32_t)(fnv.acq >> 32);
	default:               return 0;
	}
}

static void set_half(uint64_t *r, uint32_t off, uint32_t base, uint32_t v)
{
	if (off == base)
		*r = (*r & ~0xffffffffULL) | v;
	else
		*r = (*r & 0xffffffffULL) | (uint64_t)v << 32;
}

static void reg_write32(void *ctx, uint32_t off, uint32_t v)
{
	(void)ctx;
	if (off >= NVME_REG_DBS) {
		doorbell(off, v);
		return;
	}
	switch (off) {
	case NVME_REG_INTMS: fnv.intms |= v; break;
	case NVME_REG_INTMC: fnv.intms &= ~v; break;
	case NVME_REG_CC:    cc_write(v); break;
	case NVME_REG_AQA:   fnv.aqa = v & 0x0fff0fff; break;
	case NVME_REG_ASQ:
	case NVME_REG_ASQ + 4:
		set_half(&fnv.asq, off, NVME_REG_ASQ, v);
		break;
	case NVME_REG_ACQ:
	case NVME_REG_ACQ + 4:
		set_half(&fnv.acq, off, NVME_REG_ACQ, v);
		break;
	default:             break;   /* read-only or reserved */
	}
}

const struct nvme_env fnv_env = {
	.read32 = reg_read32,
	.write32 = reg_write32,
};

void fnv_setup(void)
{
	fnv_ram = aligned_alloc(NVME_PAGE, FNV_RAM_SIZE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fnv_ram);
	memset(fnv_ram, 0, FNV_RAM_SIZE);
	memset(&fnv, 0, sizeof(fnv));
	/* MQES 63, CQR, TO 1 (500 ms), DSTRD 0, CSS NVM, MPSMIN = MPSMAX = 0. */
	fnv.cap = FNV_MQES | 1ULL << 16 | 1ULL << 24 | 1ULL << 37;
	fnv.vs = NVME_VS(1, 4);
}

void fnv_teardown(void)
{
	free(fnv_ram);
	fnv_ram = NULL;
}
