/* NVMe driver core, freestanding: controller registers, queue pairs in
 * caller memory, command submission and completion checking. Just enough
 * for the test guest's nvme scenario (admin commands, one I/O queue pair,
 * 4 KiB reads and writes); a host unit test can drive it against a fake
 * register file the same way.
 *
 * Contract:
 *  - Registers (BAR0) are reached only through struct nvme_env's 32-bit
 *    accessors; 64-bit registers are read low half first and written as two
 *    halves, which the spec allows. Queue memory and data buffers are the
 *    caller's, physically contiguous and device-visible; fe_virt_to_phys()
 *    translates them.
 *  - Interrupts are the caller's business: the driver only says which
 *    vector a completion queue uses. nvme_reap() is non-blocking, so a
 *    caller may wait for the interrupt first and then reap; nvme_wait()
 *    polls instead (bounded by the controller's timeout).
 *  - The controller is untrusted: a completion for another queue, for a
 *    command not in flight, or with an SQ head out of range marks the queue
 *    broken (-EIO, q->error says why); registers reading all-ones mean the
 *    function is gone (-ENODEV). Negative errno values come from the
 *    driver, non-negative NVMe status values (SCT << 8 | SC) from the
 *    device.
 *  - Only 4 KiB memory pages (CC.MPS = 0), the NVM command set, 64-byte SQ
 *    and 16-byte CQ entries. Data transfers use PRP1/PRP2, so one command
 *    moves at most two pages (no PRP lists). */
#ifndef FRONTENDS_NVME_H
#define FRONTENDS_NVME_H

#include "fe_env.h"

/* Controller registers (NVMe 1.4, section 3.1). */
#define NVME_REG_CAP     0x00      /* 64-bit */
#define NVME_REG_VS      0x08
#define NVME_REG_INTMS   0x0c
#define NVME_REG_INTMC   0x10
#define NVME_REG_CC      0x14
#define NVME_REG_CSTS    0x1c
#define NVME_REG_AQA     0x24
#define NVME_REG_ASQ     0x28      /* 64-bit */
#define NVME_REG_ACQ     0x30      /* 64-bit */
#define NVME_REG_DBS     0x1000    /* doorbells, 4 << CAP.DSTRD apart */

#define NVME_CAP_MQES(c)    ((uint32_t)((c) & 0xffff))        /* 0's based */
#define NVME_CAP_TO(c)      ((uint32_t)(((c) >> 24) & 0xff))  /* 500 ms units */
#define NVME_CAP_DSTRD(c)   ((uint32_t)(((c) >> 32) & 0xf))
#define NVME_CAP_CSS_NVM(c) (((c) >> 37) & 1)
#define NVME_CAP_MPSMIN(c)  ((uint32_t)(((c) >> 48) & 0xf))   /* 2^(12+n) */
#define NVME_CAP_MPSMAX(c)  ((uint32_t)(((c) >> 52) & 0xf))

#define NVME_CC_EN          (1u << 0)
#define NVME_CC_IOSQES(n)   ((uint32_t)(n) << 16)
#define NVME_CC_IOCQES(n)   ((uint32_t)(n) << 20)
#define NVME_CSTS_RDY       (1u << 0)
#define NVME_CSTS_CFS       (1u << 1)

#define NVME_VS(major, minor) ((uint32_t)(major) << 16 | (uint32_t)(minor) << 8)

/* Admin and NVM opcodes. */
#define NVME_ADM_CREATE_SQ  0x01
#define NVME_ADM_CREATE_CQ  0x05
#define NVME_ADM_IDENTIFY   0x06
#define NVME_ADM_SET_FEAT   0x09
#define NVME_ADM_GET_FEAT   0x0a
#define NVME_CMD_WRITE      0x01
#define NVME_CMD_READ       0x02

#define NVME_CNS_NS         0x00
#define NVME_CNS_CTRL       0x01
#define NVME_CNS_NS_LIST    0x02
#define NVME_FEAT_NUM_QUEUES 0x07

/* Identify data offsets used here. */
#define NVME_ID_CTRL_VID    0
#define NVME_ID_CTRL_SSVID  2
#define NVME_ID_CTRL_SN     4      /* 20 bytes, ASCII, space padded */
#define NVME_ID_CTRL_MN     24     /* 40 bytes */
#define NVME_ID_CTRL_FR     64     /* 8 bytes */
#define NVME_ID_CTRL_MDTS   77
#define NVME_ID_CTRL_SQES   512
#define NVME_ID_CTRL_CQES   513
#define NVME_ID_CTRL_NN     516
#define NVME_ID_NS_NSZE     0
#define NVME_ID_NS_NLBAF    25
#define NVME_ID_NS_FLBAS    26
#define NVME_ID_NS_LBAF     128    /* 4 bytes each: MS, LBADS, RP */

#define NVME_PAGE           4096u
#define NVME_ID_BYTES       4096u
#define NVME_QUEUE_MAX      64u    /* entries per queue this driver supports */
#define NVME_SQE_BYTES      64u
#define NVME_CQE_BYTES      16u

struct nvme_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2, cdw3;
	uint64_t mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

struct nvme_cqe {
	uint32_t dw0, dw1;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status;              /* bit 0: phase tag */
};

_Static_assert(sizeof(struct nvme_sqe) == NVME_SQE_BYTES, "SQ entry layout");
_Static_assert(sizeof(struct nvme_cqe) == NVME_CQE_BYTES, "CQ entry layout");

/* The status field of a completion without the phase tag: SC in bits 0-7,
 * SCT in 8-10 (0 means success); CRD, More and DNR above are dropped. */
static inline uint16_t nvme_cqe_status(const struct nvme_cqe *c)
{
	return (uint16_t)((c->status >> 1) & 0x7ff);
}

struct nvme_env {
	void *ctx;
	uint32_t (*read32)(void *ctx, uint32_t off);
	void (*write32)(void *ctx, uint32_t off, uint32_t v);
};

/* One submission/completion queue pair (the SQ's completions go to the CQ
 * of the same id; the driver does not share CQs). */
struct nvme_queue {
	uint16_t qid;
	uint16_t size;                /* entries, both rings */
	uint16_t vector;              /* MSI-X vector of the CQ */
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	uint64_t sq_pa, cq_pa;
	uint32_t sq_db, cq_db;        /* doorbell register offsets */
	uint16_t sq_tail, sq_head, cq_head;
	uint8_t phase;                /* the tag a new CQ entry carries */
	uint16_t next_cid;
	uint16_t inflight;            /* commands submitted, not completed */
	uint16_t cids[NVME_QUEUE_MAX];
	bool busy[NVME_QUEUE_MAX];
	bool broken;
	const char *error;
};

struct nvme {
	struct nvme_env env;
	uint64_t cap;
	uint32_t vs;
	uint32_t dstrd_bytes;         /* doorbell stride */
	uint16_t mqes;                /* largest queue, in entries */
	uint64_t timeout_us;          /* from CAP.TO, for RDY transitions */
	const char *error;            /* last driver-detected problem */
};

/* Reads and checks CAP and VS; touches nothing. */
int nvme_probe(struct nvme *n, const struct nvme_env *env);
uint32_t nvme_rd32(const struct nvme *n, uint32_t off);
void nvme_wr32(const struct nvme *n, uint32_t off, uint32_t v);
uint64_t nvme_rd64(const struct nvme *n, uint32_t off);
void nvme_wr64(const struct nvme *n, uint32_t off, uint64_t v);

/* CC.EN = 0 and waits for CSTS.RDY = 0 (CAP.TO bound). The controller
 * forgets every queue: set them up again before the next enable. */
int nvme_disable(struct nvme *n);
/* Programs AQA/ASQ/ACQ from admin (set up with nvme_queue_init, qid 0),
 * writes CC (NVM command set, 4 KiB pages, 64/16-byte entries, EN) and
 * waits for CSTS.RDY = 1; -EIO if CSTS.CFS comes up instead. */
int nvme_enable(struct nvme *n, struct nvme_queue *admin);

/* Lays a queue pair over sq_mem (size * 64 bytes) and cq_mem (size * 16
 * bytes), both 4 KiB aligned, and zeroes them. size: 2..NVME_QUEUE_MAX and
 * no larger than CAP.MQES allows. */
int nvme_queue_init(struct nvme *n, struct nvme_queue *q, uint16_t qid, uint16_t size,
		    uint16_t vector, void *sq_mem, void *cq_mem);

/* Copies cmd into the SQ with a fresh command id, then rings the SQ tail
 * doorbell. Returns the command id, -EBUSY if the SQ is full, -EIO if the
 * queue is broken. */
int nvme_submit(struct nvme *n, struct nvme_queue *q, const struct nvme_sqe *cmd);
/* Takes the next completion if the controller posted one: 1 with *out
 * filled, 0 if none. Checks the entry (SQ id, SQ head, command id in
 * flight); does not ring the CQ head doorbell. */
int nvme_reap(struct nvme_queue *q, struct nvme_cqe *out);
/* Tells the controller how far the CQ has been consumed. */
void nvme_cq_doorbell(struct nvme *n, struct nvme_queue *q);
/* Polls nvme_reap() for up to timeout_us, then rings the CQ doorbell:
 * 0, -ETIMEDOUT (the queue is then broken: the command may still run),
 * or -EIO. */
int nvme_wait(struct nvme *n, struct nvme_queue *q, struct nvme_cqe *out, uint64_t timeout_us);
/* Submit, wait, check the command id: the NVMe status, or -errno. */
int nvme_exec(struct nvme *n, struct nvme_queue *q, struct nvme_sqe *cmd,
	      struct nvme_cqe *out, uint64_t timeout_us);

/* Command builders (zero the rest of *cmd). Buffers: see nvme_prp(). */
void nvme_cmd_identify(struct nvme_sqe *cmd, uint8_t cns, uint32_t nsid, void *buf);
void nvme_cmd_get_features(struct nvme_sqe *cmd, uint8_t fid);
void nvme_cmd_set_num_queues(struct nvme_sqe *cmd, uint16_t nsq, uint16_t ncq);
void nvme_cmd_create_cq(struct nvme_sqe *cmd, const struct nvme_queue *q);
void nvme_cmd_create_sq(struct nvme_sqe *cmd, const struct nvme_queue *q);
/* Read or write nlb blocks from slba; buf/len as nvme_prp() takes them. */
int nvme_cmd_rw(struct nvme_sqe *cmd, bool write, uint32_t nsid, uint64_t slba,
		uint32_t nlb, void *buf, size_t len);
/* PRP1/PRP2 for a buffer of len bytes that spans at most two 4 KiB pages;
 * -EINVAL otherwise. */
int nvme_prp(struct nvme_sqe *cmd, void *buf, size_t len);

/* Identify data helpers. nvme_id_string copies an ASCII, space-padded
 * field of len bytes into out (len + 1 bytes), trailing spaces dropped;
 * false if it holds anything but printable ASCII. */
bool nvme_id_string(const uint8_t *field, size_t len, char *out);
/* log2 of the LBA data size of the namespace's current format (FLBAS),
 * or -EIO if the format index or size is out of range. */
int nvme_ns_lba_shift(const uint8_t *id_ns);

#endif
