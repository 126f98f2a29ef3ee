/* The fake host of the VT-d unit tests (vtd_fixture.c), shared by
 * test_vtd_regs.c and test_vtd_xlate.c. Guest memory is mem[] at gpa 0;
 * ROOT and CTXT hold the root table and bus SID's context table, page
 * tables come from alloc_tbl() above 1 MiB. up()/up_cfg() zero memory and
 * initialise v; down() destroys it. */
#ifndef ISLE_TESTS_VTD_FIXTURE_H
#define ISLE_TESTS_VTD_FIXTURE_H

#include <stdint.h>

#include "vtd_internal.h"   /* before the globals: its prototypes name a parameter v */

#define MEMSZ (4u << 20)
#define SID 0x0108u        /* bus 1, device 1, function 0 */
#define ROOT 0x1000ULL
#define CTXT 0x2000ULL

extern uint8_t mem[MEMSZ];
extern struct vtd v;
extern unsigned int msi_count;     /* fault-event MSIs sent, and the last one */
extern uint64_t msi_addr;
extern uint32_t msi_data;
extern uint64_t next_tbl;
extern const struct vtd_host host;

void up_cfg(const struct vtd_config *cfg);
void up(unsigned int aw);           /* aw_bits 39 or 48, 8 FRCDs */
void down(void);
uint64_t rd64(uint64_t gpa);
void wr64(uint64_t gpa, uint64_t val);
uint64_t alloc_tbl(void);
/* Maps iova -> gpa with perm (R=1, W=2) as a leaf at leaf_level (1: 4K,
 * 2: 2M, 3: 1G) in the tables under top; missing tables get R|W. */
void map(uint64_t top, unsigned int levels, uint64_t iova, uint64_t gpa, uint64_t perm,
	 unsigned int leaf_level);
/* Root entry for sid's bus -> CTXT, a context entry for sid: translated
 * (tt 0) through a fresh top table with agaw (1: 39, 2: 48) in domain did.
 * Returns the top table. */
uint64_t setup_ctx(uint16_t sid, unsigned int agaw, uint16_t did, uint64_t extra_lo);
/* Root table pointer, SRTP, TE. */
void enable(void);

/* The invalidation notifier (vtd_set_notifier(&v, on_inval, NULL)) counts
 * its calls and keeps the last one's arguments. */
extern unsigned int nr_inval;
extern int last_sid, last_did;
extern uint64_t last_iova, last_len;
void on_inval(void *o, int sid, int did, uint64_t iova, uint64_t len);

/* The IEC notifier (vtd_set_iec_notifier(&v, on_iec, NULL)), likewise. */
extern unsigned int nr_iec, last_iec_index, last_iec_count;
void on_iec(void *o, unsigned int index, unsigned int count);

#endif
