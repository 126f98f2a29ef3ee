/* A simulated NVMe controller for the nvme driver's unit test
 * (tests/unit/test_nvme.c), plus the fe_env.h hooks over fake guest RAM.
 * Registers CAP/VS/INTMS/INTMC/CC/CSTS/AQA/ASQ/ACQ and the doorbells are
 * struct nvme_env callbacks; a submission queue tail doorbell runs the
 * queue there and then, reading commands from and posting completions
 * (with phase tags) to queues in fake RAM. It answers Identify (controller,
 * namespace 1), Set Features Number of Queues, Create I/O CQ/SQ and NVM
 * Read/Write (PRP1/PRP2) on a small in-memory disk. Knobs in struct
 * fake_nvme make it misbehave. Built into the test through
 * unit_extra_deps (tests/unit/meson.build). */
#ifndef TESTS_UNIT_FAKE_NVME_H
#define TESTS_UNIT_FAKE_NVME_H

#include <stdbool.h>
#include <stdint.h>

#include "isle/util.h"

#include "nvme.h"

#define FNV_RAM_GPA    0x200000ULL
#define FNV_RAM_SIZE   (1 * MiB)
#define FNV_QUEUES     4            /* admin + 3 I/O queue pairs */
#define FNV_MQES       63           /* CAP.MQES: 64 entries */
#define FNV_LBAS       256u         /* 512-byte blocks */
#define FNV_VID        0x1b36
#define FNV_SERIAL     "FAKE-NVME-0001"
#define FNV_MODEL      "isle fake NVMe controller"

/* Status values (SCT << 8 | SC) the fake returns. */
#define FNV_SC_INVALID_OPCODE  0x001
#define FNV_SC_INVALID_FIELD   0x002
#define FNV_SC_DATA_XFER       0x004
#define FNV_SC_INVALID_NS      0x00b
#define FNV_SC_LBA_RANGE       0x080
#define FNV_SC_CQ_INVALID      0x100
#define FNV_SC_INVALID_QID     0x101
#define FNV_SC_INVALID_QSIZE   0x102

struct fake_nvme_queue {
	bool live;
	uint16_t size, head, tail;
	uint16_t cqid;                /* SQ: its CQ */
	uint16_t vector;              /* CQ: its interrupt vector */
	uint8_t phase;                /* CQ: the tag it writes next */
	uint64_t gpa;
};

struct fake_nvme {
	uint64_t cap;
	uint32_t vs, intms, cc, csts, aqa;
	uint64_t asq, acq;
	struct fake_nvme_queue sq[FNV_QUEUES], cq[FNV_QUEUES];
	uint8_t disk[FNV_LBAS * 512];
	/* Knobs. */
	bool never_ready;             /* CC.EN = 1 never sets CSTS.RDY */
	bool fatal_on_enable;         /* CC.EN = 1 sets CSTS.CFS instead */
	bool gone;                    /* every register reads all-ones */
	bool never_complete;          /* commands are consumed, never completed */
	bool bad_sq_id;               /* completions name SQ id + 1 */
	uint16_t force_status;        /* non-zero: the next completion's status field */
	/* Figures. */
	unsigned int commands, enables, disables;
	uint32_t num_queues_req;      /* Set Features Number of Queues: dword 11 */
};

extern struct fake_nvme fnv;
extern uint8_t *fnv_ram;          /* FNV_RAM_SIZE bytes at FNV_RAM_GPA, page-aligned */
extern const struct nvme_env fnv_env;

/* A fresh, well-behaved, disabled controller and zeroed RAM. */
void fnv_setup(void);
void fnv_teardown(void);

#endif
