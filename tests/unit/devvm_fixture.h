/* A VM without KVM for the unit tests of in-process devices (devvm_fixture.c),
 * shared by test_balloon.c and test_balloon_ctl.c: guest RAM at gpa 0 in a
 * shared memfd (gmem with its fd, as isle maps it), the identity DMA address
 * space, the GSI table (vm_fd -1), the IOAPIC, PCI bus 0, the event loop and,
 * when asked, the emulated VT-d. devvm_up() builds it into the globals below;
 * devvm_down() removes every device and destroys it. */
#ifndef ISLE_TESTS_DEVVM_FIXTURE_H
#define ISLE_TESTS_DEVVM_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/vm.h"

extern struct vm vm;
extern struct vm_config cfg;
extern uint8_t *ram;   /* vm.mem */
extern int memfd;      /* vm.mem_fd, -1 when down */

void devvm_up(uint64_t ram_size, bool iommu);
void devvm_down(void);

#endif
