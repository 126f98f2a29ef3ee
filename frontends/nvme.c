/* NVMe driver core (contract in nvme.h).
 *
 * Owns: the controller's enable/disable handshake, the admin queue
 * registers, queue pairs in caller memory (tail/head/phase bookkeeping,
 * doorbells), command ids and the checks on every completion entry the
 * controller writes, and builders for the few commands the test guest
 * sends. Everything the controller hands back is checked before use. */
#include <stddef.h>

#include "isle/util.h"

#include "nvme.h"

#define NVME_TO_UNIT_US  500000ull   /* CAP.TO counts 500 ms */
#define NVME_SQES        6           /* log2(64) */
#define NVME_CQES        4           /* log2(16) */

static int nvme_fail(struct nvme *n, const char *why, int err)
{
	n->error = why;
	return err;
}

static int nvme_queue_fail(struct nvme_queue *q, const char *why)
{
	q->broken = true;
	q->error = why;
	return -EIO;
}

uint32_t nvme_rd32(const struct nvme *n, uint32_t off)
{
	return n->env.read32(n->env.ctx, off);
}

void nvme_wr32(const struct nvme *n, uint32_t off, uint32_t v)
{
	n->env.write32(n->env.ctx, off, v);
}

uint64_t nvme_rd64(const struct nvme *n, uint32_t off)
{
	uint64_t lo = nvme_rd32(n, off);

	return lo | (uint64_t)nvme_rd32(n, off + 4) << 32;
}

void nvme_wr64(const struct nvme *n, uint32_t off, uint64_t v)
{
	nvme_wr32(n, off, (uint32_t)v);
	nvme_wr32(n, off + 4, (uint32_t)(v >> 32));
}

int nvme_probe(struct nvme *n, const struct nvme_env *env)
{
	memset(n, 0, sizeof(*n));
	n->env = *env;
	n->cap = nvme_rd64(n, NVME_REG_CAP);
	n->vs = nvme_rd32(n, NVME_REG_VS);
	if (n->cap == UINT64_MAX || n->vs == UINT32_MAX)
		return nvme_fail(n, "registers read all-ones", -ENODEV);
	if (n->vs < NVME_VS(1, 0))
		return nvme_fail(n, "version below 1.0", -EOPNOTSUPP);
	if (!NVME_CAP_CSS_NVM(n->cap))
		return nvme_fail(n, "no NVM command set", -EOPNOTSUPP);
	if (NVME_CAP_MPSMIN(n->cap) != 0)
		return nvme_fail(n, "4 KiB pages not supported", -EOPNOTSUPP);
	if (NVME_CAP_MQES(n->cap) < 1)
		return nvme_fail(n, "CAP.MQES allows no queue", -EIO);
	n->mqes = (uint16_t)MIN(NVME_CAP_MQES(n->cap) + 1u, 0xffffu);
	n->dstrd_bytes = 4u << NVME_CAP_DSTRD(n->cap);
	/* TO = 0 would be a broken controller; give it one unit. */
	n->timeout_us = MAX(NVME_CAP_TO(n->cap), 1u) * NVME_TO_UNIT_US;
	return 0;
}

/* Waits until (CSTS & mask) == want. -EIO on a fatal status (unless we are
 * waiting for the controller to go down), -ENODEV if it reads all-ones. */
static int nvme_wait_csts(struct nvme *n, uint32_t mask, uint32_t want)
{
	uint64_t deadline = fe_deadline_us(n->timeout_us);

	for (;;) {
		uint32_t csts = nvme_rd32(n, NVME_REG_CSTS);

		if (csts == UINT32_MAX)
			return nvme_fail(n, "CSTS reads all-ones", -ENODEV);
		if ((csts & mask) == want)
			return 0;
		if ((csts & NVME_CSTS_CFS) && want)
			return nvme_fail(n, "controller fatal status", -EIO);
		if (fe_expired(deadline))
			return nvme_fail(n, want ? "CSTS.RDY did not come up within CAP.TO" :
					 "CSTS.RDY did not clear within CAP.TO", -ETIMEDOUT);
		fe_relax();
	}
}

int nvme_disable(struct nvme *n)
{
	uint32_t cc = nvme_rd32(n, NVME_REG_CC);

	if (cc & NVME_CC_EN)
		nvme_wr32(n, NVME_REG_CC, cc & ~NVME_CC_EN);
	return nvme_wait_csts(n, NVME_CSTS_RDY, 0);
}

int nvme_enable(struct nvme *n, struct nvme_queue *admin)
{
	uint32_t cc;

	if (admin->qid != 0 || !admin->size)
		return nvme_fail(n, "admin queue not set up", -EINVAL);
	if (nvme_rd32(n, NVME_REG_CSTS) & NVME_CSTS_RDY)
		return nvme_fail(n, "controller still enabled", -EBUSY);
	/* AQA: ACQS in 27:16, ASQS in 11:0, both 0's based. */
	nvme_wr32(n, NVME_REG_AQA, (uint32_t)(admin->size - 1) << 16 | (admin->size - 1u));
	nvme_wr64(n, NVME_REG_ASQ, admin->sq_pa);
	nvme_wr64(n, NVME_REG_ACQ, admin->cq_pa);
	/* CSS 0 (NVM), MPS 0 (4 KiB), AMS 0 (round robin), no shutdown. */
	cc = NVME_CC_IOCQES(NVME_CQES) | NVME_CC_IOSQES(NVME_SQES) | NVME_CC_EN;
	fe_wmb();
	nvme_wr32(n, NVME_REG_CC, cc);
	return nvme_wait_csts(n, NVME_CSTS_RDY, NVME_CSTS_RDY);
}

int nvme_queue_init(struct nvme *n, struct nvme_queue *q, uint16_t qid, uint16_t size,
		    uint16_t vector, void *sq_mem, void *cq_mem)
{
	memset(q, 0, sizeof(*q));
	q->broken = true;
	if (size < 2 || size > NVME_QUEUE_MAX || size > n->mqes)
		return nvme_fail(n, "queue size out of range", -EINVAL);
	if (((uintptr_t)sq_mem | (uintptr_t)cq_mem) & (NVME_PAGE - 1))
		return nvme_fail(n, "queue memory not page aligned", -EINVAL);
	q->qid = qid;
	q->size = size;
	q->vector = vector;
	q->sq = sq_mem;
	q->cq = cq_mem;
	memset(sq_mem, 0, (size_t)size * NVME_SQE_BYTES);
	memset(cq_mem, 0, (size_t)size * NVME_CQE_BYTES);
	q->sq_pa = fe_virt_to_phys(sq_mem);
	q->cq_pa = fe_virt_to_phys(cq_mem);
	q->sq_db = NVME_REG_DBS + (2u * qid) * n->dstrd_bytes;
	q->cq_db = NVME_REG_DBS + (2u * qid + 1) * n->dstrd_bytes;
	q->phase = 1;
	q->next_cid = 1;
	q->broken = false;
	return 0;
}

int nvme_submit(struct nvme *n, struct nvme_queue *q, const struct nvme_sqe *cmd)
{
	uint16_t next = (uint16_t)((q->sq_tail + 1) % q->size);
	unsigned int slot = 0;

	if (q->broken)
		return -EIO;
	/* Full when the tail would meet the head the controller reported,
	 * or every command id slot is taken. */
	if (next == q->sq_head || q->inflight >= q->size - 1)
		return -EBUSY;
	while (q->busy[slot])
		slot++;
	q->sq[q->sq_tail] = *cmd;
	q->sq[q->sq_tail].cid = q->next_cid;
	q->cids[slot] = q->next_cid;
	q->busy[slot] = true;
	q->inflight++;
	/* 0xffff is reserved in some contexts (error log entries). */
	q->next_cid = (uint16_t)(q->next_cid == 0xfffe ? 1 : q->next_cid + 1);
	q->sq_tail = next;
	fe_wmb();
	nvme_wr32(n, q->sq_db, q->sq_tail);
	return q->cids[slot];
}

int nvme_reap(struct nvme_queue *q, struct nvme_cqe *out)
{
	volatile struct nvme_cqe *e;
	unsigned int slot;

	if (q->broken)
		return -EIO;
	e = &q->cq[q->cq_head];
	if ((FE_READ_ONCE(e->status) & 1) != q->phase)
		return 0;
	fe_rmb();
	out->dw0 = e->dw0;
	out->dw1 = e->dw1;
	out->sq_head = e->sq_head;
	out->sq_id = e->sq_id;
	out->cid = e->cid;
	out->status = e->status;
	if (out->sq_id != q->qid)
		return nvme_queue_fail(q, "completion names another submission queue");
	if (out->sq_head >= q->size)
		return nvme_queue_fail(q, "completion's SQ head out of range");
	for (slot = 0; slot < q->size; slot++) {
		if (q->busy[slot] && q->cids[slot] == out->cid)
			break;
	}
	if (slot == q->size)
		return nvme_queue_fail(q, "completion for a command not in flight");
	q->busy[slot] = false;
	q->inflight--;
	q->sq_head = out->sq_head;
	if (++q->cq_head == q->size) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	return 1;
}

void nvme_cq_doorbell(struct nvme *n, struct nvme_queue *q)
{
	nvme_wr32(n, q->cq_db, q->cq_head);
}

int nvme_wait(struct nvme *n, struct nvme_queue *q, struct nvme_cqe *out, uint64_t timeout_us)
{
	uint64_t deadline = fe_deadline_us(timeout_us);
	int r;

	while (!(r = nvme_reap(q, out))) {
		if (fe_expired(deadline)) {
			/* The controller may still write our buffers. */
			q->broken = true;
			q->error = "command timed out";
			return -ETIMEDOUT;
		}
		fe_relax();
	}
	if (r < 0)
		return r;
	nvme_cq_doorbell(n, q);
	return 0;
}

int nvme_exec(struct nvme *n, struct nvme_queue *q, struct nvme_sqe *cmd,
	      struct nvme_cqe *out, uint64_t timeout_us)
{
	int cid = nvme_submit(n, q, cmd);
	int r;

	if (cid < 0)
		return cid;
	r = nvme_wait(n, q, out, timeout_us);
	if (r)
		return r;
	/* One command in flight: its completion must be the one we got. */
	if (out->cid != cid)
		return nvme_queue_fail(q, "completion for another command");
	return nvme_cqe_status(out);
}

int nvme_prp(struct nvme_sqe *cmd, void *buf, size_t len)
{
	uintptr_t a = (uintptr_t)buf;
	size_t first = NVME_PAGE - (a & (NVME_PAGE - 1));

	/* PRP entries other than the first must be page aligned, and the
	 * buffer must be dword aligned. */
	if (!buf || !len || (a & 3))
		return -EINVAL;
	cmd->prp1 = fe_virt_to_phys(buf);
	cmd->prp2 = 0;
	if (len <= first)
		return 0;
	if (len - first > NVME_PAGE)
		return -EINVAL;
	cmd->prp2 = fe_virt_to_phys((uint8_t *)buf + first);
	return 0;
}

void nvme_cmd_identify(struct nvme_sqe *cmd, uint8_t cns, uint32_t nsid, void *buf)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = NVME_ADM_IDENTIFY;
	cmd->nsid = nsid;
	cmd->cdw10 = cns;
	nvme_prp(cmd, buf, NVME_ID_BYTES);
}

void nvme_cmd_get_features(struct nvme_sqe *cmd, uint8_t fid)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = NVME_ADM_GET_FEAT;
	cmd->cdw10 = fid;               /* SEL 0: current value */
}

void nvme_cmd_set_num_queues(struct nvme_sqe *cmd, uint16_t nsq, uint16_t ncq)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = NVME_ADM_SET_FEAT;
	cmd->cdw10 = NVME_FEAT_NUM_QUEUES;
	cmd->cdw11 = (uint32_t)(ncq - 1) << 16 | (uint16_t)(nsq - 1);
}

void nvme_cmd_create_cq(struct nvme_sqe *cmd, const struct nvme_queue *q)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = NVME_ADM_CREATE_CQ;
	cmd->prp1 = q->cq_pa;
	cmd->cdw10 = (uint32_t)(q->size - 1) << 16 | q->qid;
	/* IV, IEN (bit 1), PC (bit 0): physically contiguous. */
	cmd->cdw11 = (uint32_t)q->vector << 16 | 0x3;
}

void nvme_cmd_create_sq(struct nvme_sqe *cmd, const struct nvme_queue *q)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = NVME_ADM_CREATE_SQ;
	cmd->prp1 = q->sq_pa;
	cmd->cdw10 = (uint32_t)(q->size - 1) << 16 | q->qid;
	/* CQID (same id), QPRIO 0, PC. */
	cmd->cdw11 = (uint32_t)q->qid << 16 | 0x1;
}

int nvme_cmd_rw(struct nvme_sqe *cmd, bool write, uint32_t nsid, uint64_t slba,
		uint32_t nlb, void *buf, size_t len)
{
	memset(cmd, 0, sizeof(*cmd));
	if (!nlb || nlb > 0x10000)
		return -EINVAL;
	cmd->opcode = write ? NVME_CMD_WRITE : NVME_CMD_READ;
	cmd->nsid = nsid;
	cmd->cdw10 = (uint32_t)slba;
	cmd->cdw11 = (uint32_t)(slba >> 32);
	cmd->cdw12 = nlb - 1;           /* 0's based */
	return nvme_prp(cmd, buf, len);
}

bool nvme_id_string(const uint8_t *field, size_t len, char *out)
{
	bool ok = true;
	size_t end = len;

	for (size_t i = 0; i < len; i++) {
		ok &= field[i] >= 0x20 && field[i] < 0x7f;
		out[i] = (field[i] >= 0x20 && field[i] < 0x7f) ? (char)field[i] : '?';
	}
	while (end && out[end - 1] == ' ')
		end--;
	out[end] = '\0';
	return ok;
}

int nvme_ns_lba_shift(const uint8_t *id_ns)
{
	unsigned int fmt = id_ns[NVME_ID_NS_FLBAS] & 0xf;
	unsigned int lbads;

	if (fmt > id_ns[NVME_ID_NS_NLBAF])
		return -EIO;
	lbads = id_ns[NVME_ID_NS_LBAF + 4 * fmt + 2];
	/* 512 bytes to 64 KiB: anything else is nonsense or unusable. */
	if (lbads < 9 || lbads > 16)
		return -EIO;
	return (int)lbads;
}
