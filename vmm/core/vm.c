/* VM construction, the main wait loop and teardown.
 *
 * Guest RAM is one memfd (so vhost-user backends can map it), cut into the
 * KVM memory slots that vmm/boot/layout.c describes. The main thread runs the
 * VM's event loop (vm->loop, include/isle/evloop.h): the stop eventfd, a
 * signalfd for SIGTERM/SIGINT/SIGHUP (so a signal ends the VM cleanly rather
 * than killing the process mid-write), and whatever devices registered
 * (backend sockets, reconnect timers, interrupt relays). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "boot/acpi.h"
#include "devices/power.h"
#include "devices/serial.h"
#include "devices/vtd_dev.h"
#include "core/vm.h"

/* Real-mode support pages KVM needs on Intel hosts without unrestricted
 * guest; placed above the LAPIC, outside every window. */
#define VM_TSS_ADDR      0xfffbd000ULL
#define VM_IDENT_MAP     0xfffbc000ULL

static void vm_stop_va(struct vm *vm, enum vm_stop_why why, int status, const char *fmt,
		       va_list ap)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->stop_lock);
	if (atomic_load(&vm->stopping)) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	vm->exit_status = status;
	vm->stop_why = why;
	vsnprintf(vm->exit_msg, sizeof(vm->exit_msg), fmt, ap);
	atomic_store(&vm->stopping, true);
	pthread_mutex_unlock(&vm->stop_lock);
	vm_resume(vm);   /* parked vCPUs must see the stop */
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_warn("stop eventfd: %s", strerror(errno));
}

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vm_stop_va(vm, status == ISLE_EXIT_OK ? VM_STOP_POWEROFF : VM_STOP_ERROR, status, fmt, ap);
	va_end(ap);
}

void vm_stop_why(struct vm *vm, enum vm_stop_why why, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vm_stop_va(vm, why, status, fmt, ap);
	va_end(ap);
}

/* Pausing: vCPU threads park between KVM_RUNs (vcpu.c) while vm->paused;
 * vm_pause returns once all started ones are parked, so nothing the guest
 * does runs after it. */
int vm_pause(struct vm *vm)
{
	struct timespec until;
	int r = 0;

	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = true;
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < vm->running_vcpus && !r && !atomic_load(&vm->stopping))
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &until);
	pthread_mutex_unlock(&vm->pause_lock);
	return r ? -ETIMEDOUT : 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_coalesce_pio(struct vm *vm, uint16_t port, uint32_t len, bool on)
{
	struct kvm_coalesced_mmio_zone zone = { .addr = port, .size = len, .pio = 1 };

	if (!vm->coalesced)
		return -ENOTSUP;
	if (ioctl(vm->vm_fd, on ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO,
		  &zone) < 0)
		return -errno;
	return 0;
}

void vm_coalesced_drain(struct vm *vm)
{
	/* The ring's size follows from the page it lives in. */
	const uint32_t max = (4096 - sizeof(struct kvm_coalesced_mmio_ring)) /
			     sizeof(struct kvm_coalesced_mmio);
	struct kvm_coalesced_mmio_ring *ring = vm->coalesced;

	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
		     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->coalesced_lock);
	while (ring->first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
		uint32_t first = ring->first;
		struct kvm_coalesced_mmio e;

		if (first >= max)
			break;   /* the kernel owns this index; never trust it blindly */
		e = ring->coalesced_mmio[first];
		bus_dispatch(e.pio ? &vm->pio : &vm->mmio, e.phys_addr, e.data,
			     MIN(e.len, (uint32_t)sizeof(e.data)), true);
		__atomic_store_n(&ring->first, (first + 1) % max, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->coalesced_lock);
}

int vm_irq_line(struct vm *vm, unsigned int irq, int level)
{
	/* ISA IRQ n is IOAPIC pin n, except IRQ 0, which the MADT's
	 * interrupt source override sends to pin 2 (as on every PC). */
	return ioapic_set_irq(&vm->ioapic, irq == 0 ? 2 : irq, level);
}

static int vm_open_kvm(struct vm *vm)
{
	static const struct { long cap; const char *name; } caps[] = {
		{ KVM_CAP_SPLIT_IRQCHIP, "SPLIT_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING" },
		{ KVM_CAP_IRQFD, "IRQFD" },
		{ KVM_CAP_IOEVENTFD, "IOEVENTFD" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	};
	int r;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = -errno;
		log_error("cannot open /dev/kvm: %s", strerror(-r));
		return r;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_error("unsupported KVM API version");
		return -ENOTSUP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			log_error("KVM lacks KVM_CAP_%s", caps[i].name);
			return -ENOTSUP;
		}
	}
	r = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r <= 0)
		return -EIO;
	vm->run_size = (size_t)r;
	r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (r > 0 && vm->cfg->vcpus > (unsigned int)r) {
		log_error("%u vCPUs requested, KVM allows %d", vm->cfg->vcpus, r);
		return -EINVAL;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		log_error("KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm)
{
	struct layout_slot slots[4];
	int n, r;

	r = layout_init(&vm->layout, vm_config_ram(vm->cfg));
	if (r)
		return r;
	vm->mem_fd = memfd_create("isle-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->mem_fd < 0 || ftruncate(vm->mem_fd, (off_t)vm->layout.ram_size) < 0) {
		r = -errno;
		log_error("guest RAM memfd of %llu bytes: %s",
			  (unsigned long long)vm->layout.ram_size, strerror(-r));
		return r;
	}
	/* The size is fixed from now on: a backend can trust its mapping (a
	 * backend that maps past a shrunk end would take SIGBUS). */
	if (fcntl(vm->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		r = -errno;
		log_error("sealing guest RAM memfd: %s", strerror(-r));
		return r;
	}
	vm->mem = mmap(NULL, vm->layout.ram_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_NORESERVE, vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		r = -errno;
		log_error("mmap guest RAM: %s", strerror(-r));
		return r;
	}
	/* Transparent huge pages where the host allows them for shmem
	 * (shmem_enabled=advise or within_size): fewer TLB and nested
	 * page-table misses, as QEMU does for its RAM. A host that says no
	 * costs nothing. */
	madvise(vm->mem, vm->layout.ram_size, MADV_HUGEPAGE);
	n = layout_slots(&vm->layout, slots, ARRAY_SIZE(slots));
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct kvm_userspace_memory_region mr = {
			.slot = (uint32_t)i,
			.guest_phys_addr = slots[i].gpa,
			.memory_size = slots[i].size,
			.userspace_addr = (uintptr_t)(vm->mem + slots[i].offset),
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			r = -errno;
			log_error("KVM_SET_USER_MEMORY_REGION: %s", strerror(-r));
			return r;
		}
		r = gmem_add(&vm->gmem, slots[i].gpa, slots[i].size, vm->mem + slots[i].offset,
			     vm->mem_fd, slots[i].offset);
		if (r)
			return r;
	}
	vm->nr_ram_slots = (unsigned int)n;
	r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	vm->nr_memslots = r > 0 ? (unsigned int)r : 32;
	/* What PCI devices DMA through until an IOMMU gives them their own. */
	dma_as_identity_init(&vm->dma, &vm->gmem);
	return 0;
}

/* KVM's split irqchip: the LAPICs stay in the kernel, the IOAPIC is isle's
 * (irq/ioapic.c) with its pins on the reserved GSIs 0-23, and there is no
 * PIC or PIT (the FADT is hardware-reduced, and guests take the TSC
 * frequency from CPUID 0x40000010). Must run before any vCPU exists. */
static int vm_setup_irqchip(struct vm *vm)
{
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
					.args = { GSI_IRQCHIP_PINS } };
	int r;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ VM_IDENT_MAP }) < 0 ||
	    ioctl(vm->vm_fd, KVM_ENABLE_CAP, &split) < 0) {
		r = -errno;
		log_error("KVM split irqchip setup: %s", strerror(-r));
		return r;
	}
	r = gsi_init(&vm->gsi, vm->vm_fd);
	if (r)
		return r;
	/* The MADT gives the IOAPIC the first id after the CPUs'. */
	r = ioapic_init(&vm->ioapic, &vm->gsi, &vm->loop, (uint8_t)vm->nr_vcpus);
	if (r)
		return r;
	r = bus_register(&vm->mmio, LAYOUT_IOAPIC, IOAPIC_MMIO_SIZE, ioapic_mmio, &vm->ioapic,
			 "ioapic");
	if (r)
		log_error("registering the IOAPIC: %s", strerror(-r));
	return r;
}

static void vm_cf9_write(void *opaque, uint8_t val)
{
	power_reset_control(opaque, val);
}

static int vm_setup_pci(struct vm *vm)
{
	const struct layout *l = &vm->layout;
	struct pci_windows win = {
		.ecam_base = LAYOUT_ECAM,
		.mmio32_base = LAYOUT_MMIO32,
		.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
		.mmio64_base = l->mmio64_base,
		.mmio64_size = l->mmio64_size,
		.pio_base = LAYOUT_PIO_WINDOW,
		.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
	};
	int r;

	r = pci_bus_init(&vm->pci, &win);
	if (r)
		return r;
	/* 0xcf9 sits inside the config-port range PCI owns. */
	vm->pci.cf9_write = vm_cf9_write;
	vm->pci.cf9_opaque = vm;
	if ((r = bus_register(&vm->mmio, LAYOUT_ECAM, LAYOUT_ECAM_SIZE, pci_ecam_handler,
			      &vm->pci, "pci-ecam")) ||
	    (r = bus_register(&vm->mmio, win.mmio32_base, win.mmio32_size, pci_mmio32_handler,
			      &vm->pci, "pci-mmio32")) ||
	    (r = bus_register(&vm->mmio, win.mmio64_base, win.mmio64_size, pci_mmio64_handler,
			      &vm->pci, "pci-mmio64")) ||
	    (r = bus_register(&vm->pio, 0xcf8, 8, pci_cf8_handler, &vm->pci, "pci-cf8")) ||
	    (r = bus_register(&vm->pio, win.pio_base, win.pio_size, pci_pio_handler,
			      &vm->pci, "pci-io")))
		log_error("registering PCI windows: %s", strerror(-r));
	return r;
}

static int vm_setup_acpi(struct vm *vm)
{
	struct acpi_config ac = {
		.base = LAYOUT_ACPI,
		.nr_cpus = vm->nr_vcpus,
		.ecam_base = LAYOUT_ECAM,
		.ecam_buses = LAYOUT_ECAM_BUSES,
		.mmio32_base = LAYOUT_MMIO32,
		.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
		.mmio64_base = vm->layout.mmio64_base,
		.mmio64_size = vm->layout.mmio64_size,
		.pio_base = LAYOUT_PIO_WINDOW,
		.pio_size = (uint16_t)(LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW - 1) + 1,
		.ioapic_base = LAYOUT_IOAPIC,
		.lapic_base = LAYOUT_LAPIC,
		/* The IOAPIC's id is the MADT's (nr_cpus) and its interrupt
		 * requests carry IOAPIC_RID, as the scope says. */
		.dmar = {
			.enabled = vm->vtd != NULL,
			.host_width = vm->cfg->iommu.aw_bits ? vm->cfg->iommu.aw_bits : 48,
			.intr_remap = true,
			.drhd_base = LAYOUT_VTD,
			.ioapic_id = (uint8_t)vm->nr_vcpus,
			.ioapic_sid = IOAPIC_RID,
		},
	};
	uint64_t len = LAYOUT_ACPI_SIZE;
	uint8_t *buf = gmem_gpa_to_hva(&vm->gmem, LAYOUT_ACPI, &len);
	int r;

	if (!buf || len < LAYOUT_ACPI_SIZE)
		return -EFAULT;
	r = acpi_build(&ac, buf, LAYOUT_ACPI_SIZE, &vm->rsdp);
	if (r < 0) {
		log_error("building ACPI tables: %s", strerror(-r));
		return r;
	}
	return 0;
}

struct dma_as *vm_dma_as(struct vm *vm, uint16_t rid)
{
	struct dma_as *as;

	if (!vm->vtd)
		return &vm->dma;
	as = vtd_dev_as(vm->vtd, rid);
	if (!as)
		/* Out of memory for a 100-byte object: the device gets no DMA
		 * at all rather than a bypass of the guest's IOMMU. */
		log_error("no DMA address space for requester %04x", rid);
	return as;
}

static int vm_read_file(const char *path, const char *what, uint8_t **data, size_t *size)
{
	struct stat st;
	ssize_t n = 0;
	size_t done = 0;
	int r, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		r = -errno;   /* log_error may clobber errno */
		log_error("%s '%s': %s", what, path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		log_error("%s '%s': %s", what, path, strerror(-r));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s '%s': not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*size = (size_t)st.st_size;
	*data = malloc(*size ? *size : 1);
	if (!*data) {
		close(fd);
		return -ENOMEM;
	}
	while (done < *size && (n = read(fd, *data + done, *size - done)) > 0)
		done += (size_t)n;
	r = n < 0 ? -errno : -EIO;
	close(fd);
	if (done != *size) {
		log_error("%s '%s': %s", what, path, r == -EIO ? "short read" : strerror(-r));
		free(*data);
		*data = NULL;
		return r;
	}
	return 0;
}

static int vm_load_kernel(struct vm *vm)
{
	uint8_t *kernel = NULL, *initrd = NULL;
	size_t ksize = 0, isize = 0;
	const char *err = NULL;
	int r;

	r = vm_read_file(vm->cfg->kernel, "kernel", &kernel, &ksize);
	if (r)
		return -ENOEXEC;
	if (vm->cfg->initrd && vm_read_file(vm->cfg->initrd, "initrd", &initrd, &isize)) {
		free(kernel);
		return -ENOEXEC;
	}
	struct boot_request req = {
		.kernel = kernel, .kernel_size = ksize,
		.initrd = initrd, .initrd_size = isize,
		.cmdline = vm->cfg->cmdline, .rsdp = vm->rsdp,
		.layout = &vm->layout, .gmem = &vm->gmem,
		.ram_zeroed = true,   /* a fresh memfd, and isle never reboots */
	};
	r = loader_load(&req, &vm->boot, &err);
	if (r)
		log_error("kernel '%s': %s", vm->cfg->kernel, err ? err : strerror(-r));
	else if (vm->boot.mode == BOOT_LINUX64)
		r = loader_write_boot_tables(&vm->gmem);
	free(kernel);
	free(initrd);
	return r ? -ENOEXEC : 0;
}

/* The coalesced ring is a page of every vCPU mapping; vCPU 0's serves. */
static void vm_setup_coalescing(struct vm *vm)
{
	size_t off = (size_t)KVM_COALESCED_MMIO_PAGE_OFFSET * 4096;
	struct serial *serial;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0 ||
	    vm->run_size < off + 4096)
		return;
	vm->coalesced = (struct kvm_coalesced_mmio_ring *)((uint8_t *)vm->vcpus[0].run + off);
	if ((serial = device_priv_of_type(vm, &serial_type)))
		serial_coalesce(serial);
}

/* Every device comes through device_add: the platform's first (serial,
 * power, the test device when asked for), then the configured disks and
 * NICs in command-line order. vm_destroy takes them away in reverse. */
static int vm_add_devices(struct vm *vm)
{
	/* The VT-d comes before any PCI device: they take their DMA address
	 * spaces from it, and teardown (newest first) removes it last. */
	static const enum device_kind platform[] = { DEVICE_SERIAL, DEVICE_POWER, DEVICE_HOTPLUG,
						     DEVICE_TESTDEV,
						     DEVICE_VTD };
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(platform); i++) {
		struct device_spec spec = { .kind = platform[i] };

		/* Without it no guest can pick isle's exit status. */
		if (platform[i] == DEVICE_TESTDEV && !vm->cfg->testdev)
			continue;
		if (platform[i] == DEVICE_VTD && !vm->cfg->iommu.enabled)
			continue;
		if ((r = device_add(vm, &spec, NULL)))
			return r;
	}
	for (unsigned int i = 0; i < vm->cfg->nr_devices; i++)
		if ((r = device_add(vm, &vm->cfg->devices[i], NULL)))
			return r;
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	pthread_condattr_t attr;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->stop_efd = -1;
	vm->loop.epfd = vm->loop.wakefd = -1;
	vm->nr_vcpus = cfg->vcpus;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->coalesced_lock, NULL);
	pthread_mutex_init(&vm->memslot_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_mutex_init(&vm->vfio_lock, NULL);
	pthread_condattr_init(&attr);   /* vm_pause's deadline is CLOCK_MONOTONIC */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->pause_cond, &attr);
	pthread_condattr_destroy(&attr);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		r = -errno;
		log_error("stop eventfd: %s", strerror(-r));
		return r;
	}
	r = evloop_init(&vm->loop);
	if (r)
		return r;

	if ((r = vm_open_kvm(vm)) || (r = vm_setup_memory(vm)) ||
	    (r = vm_setup_irqchip(vm)) || (r = vm_setup_pci(vm)) ||
	    (r = vm_add_devices(vm)) || (r = vm_setup_acpi(vm)) || (r = vm_load_kernel(vm)))
		return r;

	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_create(vm, &vm->vcpus[i], i);
		if (r)
			return r;
	}
	r = vcpu_boot_setup(&vm->vcpus[0], &vm->boot);
	if (r) {
		log_error("setting up boot registers: %s", strerror(-r));
		return r;
	}
	vm_setup_coalescing(vm);
	return 0;
}

int vm_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);   /* vCPU threads unblock it for kicks */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void vm_stop_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;   /* EAGAIN: already drained; vm->stopping says the rest */
}

static void vm_signal_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		vm_stop_why(opaque, VM_STOP_SIGNAL, ISLE_EXIT_SIGNAL + (int)si.ssi_signo,
			    "terminated by SIG%s", sigabbrev_np((int)si.ssi_signo) ?: "?");
}

int vm_run(struct vm *vm)
{
	int sfd = vm_signalfd();
	int r;

	if (sfd < 0)
		return ISLE_EXIT_ERROR;
	if ((r = evloop_add(&vm->loop, vm->stop_efd, EPOLLIN, vm_stop_event, vm)) ||
	    (r = evloop_add(&vm->loop, sfd, EPOLLIN, vm_signal_event, vm))) {
		log_error("event loop: %s", strerror(-r));
		evloop_del(&vm->loop, vm->stop_efd);
		close(sfd);
		return ISLE_EXIT_ERROR;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r) {
			vm_stop(vm, ISLE_EXIT_ERROR, "starting vCPU %u: %s", i, strerror(-r));
			break;
		}
	}
	while (!atomic_load(&vm->stopping)) {
		/* Coalesced console output waits in KVM's ring while the
		 * guest makes no exits; a short tick flushes it. */
		r = evloop_run_once(&vm->loop, vm->coalesced ? 20 : -1);
		if (r < 0 && r != -EINTR) {
			vm_stop(vm, ISLE_EXIT_ERROR, "event loop: %s", strerror(-r));
			break;
		}
		vm_coalesced_drain(vm);
	}
	evloop_del(&vm->loop, vm->stop_efd);
	evloop_del(&vm->loop, sfd);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	vm_coalesced_drain(vm);   /* what the guest wrote before it stopped */
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		vcpu_dump(&vm->vcpus[i], LOG_DEBUG);
		vcpu_destroy(&vm->vcpus[i]);
	}
	vm->coalesced = NULL;     /* it lived in vCPU 0's mapping */
	close(sfd);
	return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned int i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].fd >= 0 || vm->vcpus[i].started)
				vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	device_del_all(vm);       /* unrealize, newest first */
	evloop_fini(&vm->loop);   /* after the devices took their fds out */
	pci_bus_destroy(&vm->pci);
	gsi_destroy(&vm->gsi);
	if (vm->dma.ops)
		dma_as_destroy(&vm->dma);
	if (vm->mem)
		munmap(vm->mem, vm->layout.ram_size);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->coalesced_lock);
	pthread_mutex_destroy(&vm->memslot_lock);
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
}
