/* The isle test device (see include/isle/testdev.h for the guest's view). */
#ifndef ISLE_VMM_TESTDEV_H
#define ISLE_VMM_TESTDEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "isle/testdev.h"
#include "pci/msix.h"
#include "pci/pci.h"

struct vm;

struct testdev {
	struct vm *vm;
	struct pci_dev pci;
	struct msix msix;
	pthread_mutex_t lock;
	uint32_t scratch, doorbells;
	/* Copy of the command register's bus-master bit, taken in config_write
	 * (which runs under the PCI bus lock) so BAR accesses need not read
	 * config space. */
	atomic_bool bus_master;
	/* What the guest reported through port 0xf8. */
	unsigned int reports, passed, failed, skipped;
	int summary_seen;
	unsigned int sum_pass, sum_fail, sum_skip;
	struct timespec first_report;
};

/* Handles a write of a report address (exposed for tests and fuzzing).
 * Returns 0, or -EFAULT / -EINVAL for a report that is not in guest RAM or
 * malformed (it is then counted nowhere). */
int testdev_report(struct testdev *td, uint64_t gpa);
/* bus_fn of the pc-testdev IRQ ports (TESTDEV_IRQ_PORT; exposed for tests). */
void testdev_irq_access(void *opaque, uint64_t offset, void *data, unsigned int len,
			bool is_write);

#endif
