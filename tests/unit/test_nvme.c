/* Unit tests for frontends/nvme.c, hosted, against the simulated NVMe
 * controller in fake_nvme.c (registers through struct nvme_env, queues and
 * data in fake guest RAM, a 128 KiB disk). Beyond the happy paths
 * (probe, enable, Identify, I/O queue creation, a write and read back, the
 * phase tag across CQ wraps) its knobs make the controller misbehave: a
 * controller that never becomes ready, one that reports a fatal status,
 * registers reading all-ones, error statuses, completions for another
 * queue, commands never completed. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "fake_nvme.h"

#define QSIZE      16
#define NSID       1
#define TIMEOUT_US 100000         /* the fake completes at the doorbell */

/* Offsets in fake RAM. */
#define ADMIN_SQ   0x0000
#define ADMIN_CQ   0x1000
#define IO_SQ      0x2000
#define IO_CQ      0x3000
#define ID_BUF     0x4000
#define WBUF       0x6000         /* two pages */
#define RBUF       0x9000         /* two pages */

static struct nvme nv;
static struct nvme_queue aq, ioq;
static struct nvme_cqe cqe;

static uint8_t *mem(size_t off)
{
	return fnv_ram + off;
}

static void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 9) + seed * 31 + 1);
}

/* A fresh controller, probed, with a 16-entry admin queue pair; enabled
 * if asked. */
static void open_ctrl(bool enable)
{
	fnv_setup();
	CU_ASSERT_EQUAL_FATAL(nvme_probe(&nv, &fnv_env), 0);
	CU_ASSERT_EQUAL_FATAL(nvme_queue_init(&nv, &aq, 0, QSIZE, 0, mem(ADMIN_SQ),
					      mem(ADMIN_CQ)), 0);
	if (enable)
		CU_ASSERT_EQUAL_FATAL(nvme_enable(&nv, &aq), 0);
}

/* open_ctrl(true) plus one I/O queue pair (id 1, vector 1). */
static void open_io(void)
{
	struct nvme_sqe cmd;

	open_ctrl(true);
	CU_ASSERT_EQUAL_FATAL(nvme_queue_init(&nv, &ioq, 1, QSIZE, 1, mem(IO_SQ), mem(IO_CQ)), 0);
	nvme_cmd_create_cq(&cmd, &ioq);
	CU_ASSERT_EQUAL_FATAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
	nvme_cmd_create_sq(&cmd, &ioq);
	CU_ASSERT_EQUAL_FATAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
}

static int rw(bool write, uint64_t slba, uint32_t nlb, size_t off, size_t len)
{
	struct nvme_sqe cmd;
	int r = nvme_cmd_rw(&cmd, write, NSID, slba, nlb, mem(off), len);

	return r ? r : nvme_exec(&nv, &ioq, &cmd, &cqe, TIMEOUT_US);
}

/* ---- tests ------------------------------------------------------------ */

static void test_probe(void)
{
	fnv_setup();
	CU_ASSERT_EQUAL(nvme_probe(&nv, &fnv_env), 0);
	CU_ASSERT_EQUAL(nv.vs, NVME_VS(1, 4));
	CU_ASSERT_EQUAL(nv.mqes, FNV_MQES + 1);
	CU_ASSERT_EQUAL(nv.dstrd_bytes, 4);
	CU_ASSERT_EQUAL(nv.timeout_us, 500000);
	fnv.cap |= 2ULL << 32;                    /* DSTRD 2: 16-byte doorbell stride */
	CU_ASSERT_EQUAL(nvme_probe(&nv, &fnv_env), 0);
	CU_ASSERT_EQUAL(nv.dstrd_bytes, 16);
	CU_ASSERT_EQUAL(nvme_queue_init(&nv, &aq, 1, QSIZE, 0, mem(IO_SQ), mem(IO_CQ)), 0);
	CU_ASSERT_EQUAL(aq.sq_db, NVME_REG_DBS + 2 * 16);
	CU_ASSERT_EQUAL(aq.cq_db, NVME_REG_DBS + 3 * 16);
	fnv.cap &= ~(0xfULL << 32);

	fnv.gone = true;
	CU_ASSERT_EQUAL(nvme_probe(&nv, &fnv_env), -ENODEV);
	fnv.gone = false;
	fnv.vs = NVME_VS(0, 9);
	CU_ASSERT_EQUAL(nvme_probe(&nv, &fnv_env), -EOPNOTSUPP);
	fnv.vs = NVME_VS(1, 4);
	fnv.cap &= ~(1ULL << 37);
	CU_ASSERT_EQUAL(nvme_probe(&nv, &fnv_env), -EOPNOTSUPP);
	CU_ASSERT_STRING_EQUAL(nv.error, "no NVM command set");
	fnv.cap |= 1ULL << 37 | 1ULL << 48;       /* MPSMIN 8 KiB */
	CU_ASSERT_EQUAL(nvme_probe(&nv, &fnv_env), -EOPNOTSUPP);
	fnv_teardown();
}

static void test_enable(void)
{
	open_ctrl(false);
	CU_ASSERT_EQUAL(nvme_queue_init(&nv, &ioq, 1, 1, 0, mem(IO_SQ), mem(IO_CQ)), -EINVAL);
	CU_ASSERT_EQUAL(nvme_queue_init(&nv, &ioq, 1, NVME_QUEUE_MAX + 1, 0, mem(IO_SQ),
					mem(IO_CQ)), -EINVAL);
	CU_ASSERT_EQUAL(nvme_queue_init(&nv, &ioq, 1, QSIZE, 0, mem(IO_SQ + 64), mem(IO_CQ)),
			-EINVAL);
	CU_ASSERT_TRUE(ioq.broken);

	CU_ASSERT_EQUAL(nvme_enable(&nv, &aq), 0);
	CU_ASSERT_EQUAL(fnv.aqa, (QSIZE - 1) << 16 | (QSIZE - 1));
	CU_ASSERT_EQUAL(fnv.asq, FNV_RAM_GPA + ADMIN_SQ);
	CU_ASSERT_EQUAL(fnv.acq, FNV_RAM_GPA + ADMIN_CQ);
	CU_ASSERT_EQUAL(fnv.cc, NVME_CC_IOCQES(4) | NVME_CC_IOSQES(6) | NVME_CC_EN);
	CU_ASSERT_EQUAL(fnv.csts, NVME_CSTS_RDY);
	CU_ASSERT_EQUAL(fnv.enables, 1);
	CU_ASSERT_EQUAL(nvme_enable(&nv, &aq), -EBUSY);
	CU_ASSERT_STRING_EQUAL(nv.error, "controller still enabled");

	CU_ASSERT_EQUAL(nvme_disable(&nv), 0);
	CU_ASSERT_EQUAL(fnv.csts & NVME_CSTS_RDY, 0);
	CU_ASSERT_EQUAL(fnv.cc & NVME_CC_EN, 0);
	CU_ASSERT_EQUAL(fnv.disables, 1);
	CU_ASSERT_EQUAL(nvme_disable(&nv), 0);     /* already off: nothing written */
	CU_ASSERT_EQUAL(fnv.disables, 1);
	/* Again, with the admin queue laid out afresh. */
	CU_ASSERT_EQUAL(nvme_queue_init(&nv, &aq, 0, QSIZE, 0, mem(ADMIN_SQ), mem(ADMIN_CQ)), 0);
	CU_ASSERT_EQUAL(nvme_enable(&nv, &aq), 0);
	CU_ASSERT_EQUAL(fnv.enables, 2);
	fnv_teardown();
}

static void test_identify(void)
{
	struct nvme_sqe cmd;
	char s[41];
	const uint8_t *id;

	open_ctrl(true);
	id = mem(ID_BUF);
	nvme_cmd_identify(&cmd, NVME_CNS_CTRL, 0, mem(ID_BUF));
	CU_ASSERT_EQUAL(cmd.prp1, FNV_RAM_GPA + ID_BUF);
	CU_ASSERT_EQUAL(cmd.prp2, 0);
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
	CU_ASSERT_EQUAL(cqe.sq_id, 0);
	CU_ASSERT_EQUAL(cqe.status & 1, 1);       /* first pass: phase 1 */
	CU_ASSERT_EQUAL(get_le16(&id[NVME_ID_CTRL_VID]), FNV_VID);
	CU_ASSERT_TRUE(nvme_id_string(&id[NVME_ID_CTRL_MN], 40, s));
	CU_ASSERT_STRING_EQUAL(s, FNV_MODEL);
	CU_ASSERT_TRUE(nvme_id_string(&id[NVME_ID_CTRL_SN], 20, s));
	CU_ASSERT_STRING_EQUAL(s, FNV_SERIAL);
	CU_ASSERT_EQUAL(id[NVME_ID_CTRL_SQES], 0x66);
	CU_ASSERT_EQUAL(id[NVME_ID_CTRL_CQES], 0x44);
	CU_ASSERT_EQUAL(get_le32(&id[NVME_ID_CTRL_NN]), 1);

	nvme_cmd_identify(&cmd, NVME_CNS_NS, NSID, mem(ID_BUF));
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
	CU_ASSERT_EQUAL(get_le64(&id[NVME_ID_NS_NSZE]), FNV_LBAS);
	CU_ASSERT_EQUAL(nvme_ns_lba_shift(id), 9);
	/* The device's verdict on a namespace that does not exist. */
	nvme_cmd_identify(&cmd, NVME_CNS_NS, 2, mem(ID_BUF));
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), FNV_SC_INVALID_NS);
	CU_ASSERT_FALSE(aq.broken);
	/* A model string with a control character is refused. */
	mem(ID_BUF)[NVME_ID_CTRL_MN + 3] = 0x07;
	CU_ASSERT_FALSE(nvme_id_string(&id[NVME_ID_CTRL_MN], 40, s));
	fnv_teardown();
}

static void test_io_queues(void)
{
	struct nvme_sqe cmd;

	open_ctrl(true);
	nvme_cmd_set_num_queues(&cmd, 1, 1);
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
	CU_ASSERT_EQUAL(fnv.num_queues_req, 0);
	CU_ASSERT_EQUAL(cqe.dw0, (FNV_QUEUES - 2) << 16 | (FNV_QUEUES - 2));

	CU_ASSERT_EQUAL_FATAL(nvme_queue_init(&nv, &ioq, 1, QSIZE, 1, mem(IO_SQ), mem(IO_CQ)), 0);
	CU_ASSERT_EQUAL(ioq.sq_db, NVME_REG_DBS + 8);
	CU_ASSERT_EQUAL(ioq.cq_db, NVME_REG_DBS + 12);
	/* The SQ before its CQ: the controller refuses. */
	nvme_cmd_create_sq(&cmd, &ioq);
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), FNV_SC_CQ_INVALID);
	nvme_cmd_create_cq(&cmd, &ioq);
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
	CU_ASSERT_TRUE(fnv.cq[1].live);
	CU_ASSERT_EQUAL(fnv.cq[1].size, QSIZE);
	CU_ASSERT_EQUAL(fnv.cq[1].vector, 1);
	CU_ASSERT_EQUAL(fnv.cq[1].gpa, FNV_RAM_GPA + IO_CQ);
	/* The same CQ twice: SCT 1 (command specific), invalid queue id. */
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), FNV_SC_INVALID_QID);
	nvme_cmd_create_sq(&cmd, &ioq);
	CU_ASSERT_EQUAL(nvme_exec(&nv, &aq, &cmd, &cqe, TIMEOUT_US), 0);
	CU_ASSERT_TRUE(fnv.sq[1].live);
	CU_ASSERT_EQUAL(fnv.sq[1].cqid, 1);
	CU_ASSERT_EQUAL(fnv.sq[1].size, QSIZE);
	CU_ASSERT_EQUAL(rw(false, 0, 1, RBUF, 512), 0);
	CU_ASSERT_EQUAL(cqe.sq_id, 1);
	fnv_teardown();
}

static void test_rw(void)
{
	struct nvme_sqe cmd;

	open_io();
	pattern(mem(WBUF), 8192, 1);
	CU_ASSERT_EQUAL(rw(true, 10, 8, WBUF, 4096), 0);
	CU_ASSERT_EQUAL(memcmp(fnv.disk + 10 * 512, mem(WBUF), 4096), 0);
	CU_ASSERT_EQUAL(fnv.disk[10 * 512 - 1], 0);
	CU_ASSERT_EQUAL(fnv.disk[18 * 512], 0);
	memset(mem(RBUF), 0, 8192);
	CU_ASSERT_EQUAL(rw(false, 10, 8, RBUF, 4096), 0);
	CU_ASSERT_EQUAL(memcmp(mem(RBUF), mem(WBUF), 4096), 0);

	/* Across a page boundary: PRP1 to the page's end, PRP2 the next page. */
	pattern(mem(WBUF + 0x800), 4096, 2);
	CU_ASSERT_EQUAL(nvme_cmd_rw(&cmd, true, NSID, 100, 8, mem(WBUF + 0x800), 4096), 0);
	CU_ASSERT_EQUAL(cmd.prp1, FNV_RAM_GPA + WBUF + 0x800);
	CU_ASSERT_EQUAL(cmd.prp2, FNV_RAM_GPA + WBUF + 0x1000);
	CU_ASSERT_EQUAL(nvme_exec(&nv, &ioq, &cmd, &cqe, TIMEOUT_US), 0);
	memset(mem(RBUF), 0, 8192);
	CU_ASSERT_EQUAL(rw(false, 100, 8, RBUF + 0x200, 4096), 0);
	CU_ASSERT_EQUAL(memcmp(mem(RBUF + 0x200), mem(WBUF + 0x800), 4096), 0);
	CU_ASSERT_EQUAL(mem(RBUF)[0x1ff], 0);
	CU_ASSERT_EQUAL(mem(RBUF)[0x1200], 0);
	/* Driver-side refusals send nothing. */
	CU_ASSERT_EQUAL(nvme_cmd_rw(&cmd, false, NSID, 0, 0, mem(RBUF), 512), -EINVAL);
	CU_ASSERT_EQUAL(nvme_cmd_rw(&cmd, false, NSID, 0, 17, mem(RBUF + 0x200), 8704), -EINVAL);
	CU_ASSERT_EQUAL(nvme_cmd_rw(&cmd, false, NSID, 0, 1, mem(RBUF + 1), 512), -EINVAL);
	CU_ASSERT_EQUAL(fnv.commands, 2 + 4);
	fnv_teardown();
}

/* More commands than entries: the CQ wraps and the phase tag flips, on
 * both sides. */
static void test_phase_wrap(void)
{
	int bad = 0;

	open_io();
	for (unsigned int i = 0; i < 2 * QSIZE + 8; i++) {
		pattern(mem(WBUF), 512, i);
		bad += rw(true, i, 1, WBUF, 512) != 0;
		bad += memcmp(fnv.disk + i * 512, mem(WBUF), 512) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(ioq.cq_head, 8);
	CU_ASSERT_EQUAL(ioq.phase, 1);            /* flipped twice */
	CU_ASSERT_EQUAL(fnv.cq[1].phase, ioq.phase);
	CU_ASSERT_EQUAL(fnv.cq[1].head, 8);       /* the CQ doorbell followed */
	CU_ASSERT_EQUAL(ioq.sq_head, 8);
	CU_ASSERT_EQUAL(ioq.inflight, 0);
	CU_ASSERT_FALSE(ioq.broken);
	fnv_teardown();
}

static void test_error_status(void)
{
	struct nvme_sqe cmd;

	open_io();
	CU_ASSERT_EQUAL(rw(false, FNV_LBAS, 1, RBUF, 512), FNV_SC_LBA_RANGE);
	CU_ASSERT_EQUAL(rw(true, FNV_LBAS - 1, 2, WBUF, 1024), FNV_SC_LBA_RANGE);
	CU_ASSERT_EQUAL(cqe.status & 1, 1);
	CU_ASSERT_EQUAL(nvme_cqe_status(&cqe), FNV_SC_LBA_RANGE);
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = 0x7f;
	CU_ASSERT_EQUAL(nvme_exec(&nv, &ioq, &cmd, &cqe, TIMEOUT_US), FNV_SC_INVALID_OPCODE);
	/* Media error, unrecovered read (SCT 2, SC 0x81) with DNR: the status
	 * without DNR and the phase tag. */
	fnv.force_status = (uint16_t)(1u << 15 | 0x281u << 1);
	CU_ASSERT_EQUAL(rw(false, 0, 1, RBUF, 512), 0x281);
	/* None of these broke the queue. */
	CU_ASSERT_FALSE(ioq.broken);
	CU_ASSERT_EQUAL(ioq.inflight, 0);
	CU_ASSERT_EQUAL(rw(false, 0, 1, RBUF, 512), 0);
	fnv_teardown();
}

static void test_never_ready(void)
{
	uint64_t t0, took;

	open_ctrl(false);
	fnv.never_ready = true;
	t0 = fe_now_us();
	CU_ASSERT_EQUAL(nvme_enable(&nv, &aq), -ETIMEDOUT);
	took = fe_now_us() - t0;
	CU_ASSERT(took >= 500000);                 /* CAP.TO: one 500 ms unit */
	CU_ASSERT(took < 3000000);
	CU_ASSERT_STRING_EQUAL(nv.error, "CSTS.RDY did not come up within CAP.TO");
	fnv_teardown();

	/* A controller that reads all-ones after the probe. */
	open_ctrl(true);
	fnv.gone = true;
	CU_ASSERT_EQUAL(nvme_disable(&nv), -ENODEV);
	CU_ASSERT_STRING_EQUAL(nv.error, "CSTS reads all-ones");
	fnv_teardown();
}

static void test_fatal_status(void)
{
	static uint8_t outside[2 * NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
	uint64_t t0;

	open_ctrl(false);
	fnv.fatal_on_enable = true;
	t0 = fe_now_us();
	CU_ASSERT_EQUAL(nvme_enable(&nv, &aq), -EIO);
	CU_ASSERT(fe_now_us() - t0 < 400000);      /* reported, not waited out */
	CU_ASSERT_STRING_EQUAL(nv.error, "controller fatal status");
	CU_ASSERT_EQUAL(fnv.csts & NVME_CSTS_CFS, NVME_CSTS_CFS);
	fnv_teardown();

	/* An admin queue the controller cannot reach: it reports CFS. */
	open_ctrl(false);
	CU_ASSERT_EQUAL_FATAL(nvme_queue_init(&nv, &aq, 0, QSIZE, 0, outside,
					      outside + NVME_PAGE), 0);
	CU_ASSERT_EQUAL(nvme_enable(&nv, &aq), -EIO);
	CU_ASSERT_STRING_EQUAL(nv.error, "controller fatal status");
	fnv_teardown();
}

static void test_bad_completion(void)
{
	struct nvme_sqe cmd;
	int r = 0;

	open_io();
	fnv.bad_sq_id = true;
	CU_ASSERT_EQUAL(rw(false, 0, 1, RBUF, 512), -EIO);
	CU_ASSERT_TRUE(ioq.broken);
	CU_ASSERT_STRING_EQUAL(ioq.error, "completion names another submission queue");
	fnv.bad_sq_id = false;
	CU_ASSERT_EQUAL(rw(false, 0, 1, RBUF, 512), -EIO);   /* stays broken */
	CU_ASSERT_EQUAL(fnv.commands, 2 + 1);
	fnv_teardown();

	/* Commands never completed: a bounded wait, then the queue is broken. */
	open_io();
	fnv.never_complete = true;
	CU_ASSERT_EQUAL(rw(false, 0, 1, RBUF, 512), -ETIMEDOUT);
	CU_ASSERT_TRUE(ioq.broken);
	CU_ASSERT_STRING_EQUAL(ioq.error, "command timed out");
	fnv_teardown();

	/* A full SQ: the driver refuses before the controller sees it. */
	open_io();
	fnv.never_complete = true;
	CU_ASSERT_EQUAL(nvme_cmd_rw(&cmd, false, NSID, 0, 1, mem(RBUF), 512), 0);
	for (unsigned int i = 0; i < QSIZE - 1; i++)
		r |= nvme_submit(&nv, &ioq, &cmd) < 0;
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(nvme_submit(&nv, &ioq, &cmd), -EBUSY);
	CU_ASSERT_EQUAL(fnv.commands, 2 + QSIZE - 1);
	fnv_teardown();
}

void unit_register(void)
{
	UNIT_SUITE("nvme",
		   UNIT_TEST(test_probe),
		   UNIT_TEST(test_enable),
		   UNIT_TEST(test_identify),
		   UNIT_TEST(test_io_queues),
		   UNIT_TEST(test_rw),
		   UNIT_TEST(test_phase_wrap),
		   UNIT_TEST(test_error_status),
		   UNIT_TEST(test_never_ready),
		   UNIT_TEST(test_fatal_status),
		   UNIT_TEST(test_bad_completion));
}
