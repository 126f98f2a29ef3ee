/* The userspace IOAPIC (owner: ioapic.c; API in vmm/irq/ioapic.h).
 *
 * Registers as data: io->regs holds every indirect register as the guest
 * sees it, ioapic_wmask() says which bits the guest may write, and a write
 * applies (old & ~wmask) | (val & wmask) before its side effects (one
 * handler: ioapic_rte_written). Version 0x11 with 23 as the highest entry,
 * as the 82093AA: no EOI register, so guests clear a stuck remote IRR by
 * flipping the entry to edge and back, which this model honours.
 *
 * Delivery, as QEMU's IOAPIC does under KVM's split irqchip: pin n owns the
 * MSI route at GSI n (requester id IOAPIC_RID), whose message is built from
 * its RTE, and an interrupt is KVM_IRQ_LINE on that GSI. Edge pins fire on
 * a rising input while unmasked (a masked edge is lost, as the 82093AA
 * manual says); level pins fire while the input is high, the entry unmasked
 * and remote IRR clear, and set remote IRR. KVM exits with
 * KVM_EXIT_IOAPIC_EOI when a vCPU EOIs a vector that a level-triggered route
 * in GSIs 0-23 targets (it learns them from the routing table, which is why
 * the routes must exist), and ioapic_eoi() clears remote IRR and re-delivers
 * if the input is still high. Routes are refreshed when an entry is
 * unmasked or changed while unmasked, not while masked (as QEMU): a guest
 * rewriting masked entries costs no table installs.
 *
 * Resample irqfds (VFIO INTx): a write to the trigger eventfd asserts the
 * pin from the main loop; the EOI deasserts it and writes the resample
 * eventfd, whose owner re-asserts if its device still wants service: the
 * same protocol as KVM's in-kernel resample irqfds, done in userspace
 * because in split mode there is no in-kernel IOAPIC to do it.
 *
 * Not modelled: polarity (every input is active high, as ISA lines and
 * isle's devices are), ExtINT delivery (there is no PIC: such entries are
 * not delivered) and the delivery-status bit (delivery is immediate).
 *
 * Contract: io->lock guards everything; lock order ioapic -> gsi.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "isle/log.h"
#include "isle/util.h"
#include "irq/ioapic.h"

#define IOAPIC_MSI_BASE     0xfee00000ULL
#define IOAPIC_DM_EXTINT    7u
/* Writable bits of an RTE: vector, delivery mode, destination mode,
 * polarity, trigger mode, mask (low dword) and the destination field (bits
 * 63-48, all 16 kept: in remappable format they carry the IRTE index). */
#define IOAPIC_RTE_LO_WMASK 0x0001afffu
#define IOAPIC_RTE_HI_WMASK 0xffff0000u
#define IOAPIC_ID_WMASK     0x0f000000u

static uint32_t ioapic_wmask(unsigned int idx)
{
	if (idx == IOAPIC_REG_ID)
		return IOAPIC_ID_WMASK;
	if (idx >= IOAPIC_REG_RTE && idx < IOAPIC_NR_REGS)
		return (idx - IOAPIC_REG_RTE) % 2 ? IOAPIC_RTE_HI_WMASK : IOAPIC_RTE_LO_WMASK;
	return 0;    /* version, arbitration and unimplemented registers */
}

static uint64_t ioapic_rte(const struct ioapic *io, unsigned int pin)
{
	return (uint64_t)io->regs[IOAPIC_REG_RTE + 2 * pin + 1] << 32 |
	       io->regs[IOAPIC_REG_RTE + 2 * pin];
}

static void ioapic_rte_set(struct ioapic *io, unsigned int pin, uint64_t rte)
{
	io->regs[IOAPIC_REG_RTE + 2 * pin] = (uint32_t)rte;
	io->regs[IOAPIC_REG_RTE + 2 * pin + 1] = (uint32_t)(rte >> 32);
}

struct msi_msg ioapic_rte_msg(uint64_t rte)
{
	/* The destination field lands at address bits 19-4: the APIC id in
	 * 19-12, and in remappable format the handle in 19-5 with the format
	 * bit at 4. Destination mode goes to bit 2 (handle bit 15 when
	 * remappable). */
	return (struct msi_msg){
		.addr = IOAPIC_MSI_BASE | (rte >> IOAPIC_RTE_DEST_SHIFT & 0xffff) << 4 |
			(rte & IOAPIC_RTE_DESTMODE ? 1u : 0u) << 2,
		.data = (uint32_t)(rte & (IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELMODE | IOAPIC_RTE_LEVEL)),
	};
}

/* Hands one interrupt to KVM. Called with io->lock held. */
static void ioapic_deliver(struct ioapic *io, unsigned int pin, bool level)
{
	int ret = gsi_irq_line(io->gsi, (int)pin, 1);

	if (!ret && !level)
		ret = gsi_irq_line(io->gsi, (int)pin, 0);
	if (ret)
		log_warn("ioapic: pin %u: KVM_IRQ_LINE: %s", pin, strerror(-ret));
	io->pins[pin].delivered++;
}

/* Can pin's entry reach a CPU at all? */
static bool ioapic_deliverable(const struct ioapic *io, unsigned int pin, uint64_t rte)
{
	return !(rte & IOAPIC_RTE_MASKED) && io->pins[pin].route.routed &&
	       (rte & IOAPIC_RTE_DELMODE) >> 8 != IOAPIC_DM_EXTINT;
}

/* Delivers a level-triggered pin if it is due. Called with io->lock held. */
static void ioapic_service_level(struct ioapic *io, unsigned int pin)
{
	uint64_t rte = ioapic_rte(io, pin);

	if (!(rte & IOAPIC_RTE_LEVEL) || !(io->lines & (1u << pin)) ||
	    (rte & IOAPIC_RTE_REMOTE_IRR) || !ioapic_deliverable(io, pin, rte))
		return;
	ioapic_rte_set(io, pin, rte | IOAPIC_RTE_REMOTE_IRR);
	ioapic_deliver(io, pin, true);
}

/* Side effects of a write to an RTE dword. Called with io->lock held. */
static void ioapic_rte_written(struct ioapic *io, unsigned int pin)
{
	uint64_t rte = ioapic_rte(io, pin);
	struct msi_msg msg;
	int ret;

	if (!(rte & IOAPIC_RTE_LEVEL) && (rte & IOAPIC_RTE_REMOTE_IRR)) {
		/* Edge mode has no remote IRR: the 82093AA way to unstick it. */
		rte &= ~IOAPIC_RTE_REMOTE_IRR;
		ioapic_rte_set(io, pin, rte);
	}
	if (rte & IOAPIC_RTE_MASKED) {
		/* Not translated while masked: the guest may be half-way
		 * through reprogramming the entry. */
		if (!io->pins[pin].route.masked)
			gsi_route_mask(io->gsi, &io->pins[pin].route, true);
		return;
	}
	msg = ioapic_rte_msg(rte);
	ret = gsi_route_update(io->gsi, &io->pins[pin].route, &msg);
	if (!ret && io->pins[pin].route.masked)
		ret = gsi_route_mask(io->gsi, &io->pins[pin].route, false);
	if (ret)
		log_warn("ioapic: pin %u: route update: %s", pin, strerror(-ret));
	/* A high level input with remote IRR clear is due now: after an
	 * unmask, a switch to level, or a route that became deliverable. */
	ioapic_service_level(io, pin);
}

static void ioapic_reg_write(struct ioapic *io, unsigned int idx, uint32_t val)
{
	uint32_t wmask = ioapic_wmask(idx);

	if (!wmask)
		return;
	if (idx == IOAPIC_REG_ID) {
		io->regs[idx] = (io->regs[idx] & ~wmask) | (val & wmask);
		io->regs[IOAPIC_REG_ARB] = io->regs[idx];   /* 82093AA: arbitration id follows */
		return;
	}
	io->regs[idx] = (io->regs[idx] & ~wmask) | (val & wmask);
	ioapic_rte_written(io, (idx - IOAPIC_REG_RTE) / 2);
}

void ioapic_mmio(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct ioapic *io = opaque;
	uint32_t v = 0;

	if (!is_write)
		memset(data, 0, len);
	if (len != 4 || (offset != IOAPIC_IOREGSEL && offset != IOAPIC_IOWIN))
		return;
	if (is_write)
		v = get_le32(data);
	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_IOREGSEL) {
		if (is_write)
			io->regsel = v & 0xff;
		else
			put_le32(data, io->regsel);
	} else if (io->regsel < IOAPIC_NR_REGS) {
		if (is_write)
			ioapic_reg_write(io, io->regsel, v);
		else
			put_le32(data, io->regs[io->regsel]);
	}
	pthread_mutex_unlock(&io->lock);
}

int ioapic_set_irq(struct ioapic *io, unsigned int pin, int level)
{
	uint32_t bit;
	uint64_t rte;
	bool was;

	if (pin >= IOAPIC_PINS)
		return -EINVAL;
	bit = 1u << pin;
	pthread_mutex_lock(&io->lock);
	was = io->lines & bit;
	if (level)
		io->lines |= bit;
	else
		io->lines &= ~bit;
	rte = ioapic_rte(io, pin);
	if (rte & IOAPIC_RTE_LEVEL)
		ioapic_service_level(io, pin);
	else if (level && !was && ioapic_deliverable(io, pin, rte))
		ioapic_deliver(io, pin, false);
	pthread_mutex_unlock(&io->lock);
	return 0;
}

/* The vector the CPU got for pin p: under interrupt remapping the IRTE's
 * (the translated message KVM delivers), not the RTE's own field. */
static uint8_t ioapic_vector(const struct ioapic_pin *p, uint64_t rte)
{
	if (p->route.routed && (rte >> IOAPIC_RTE_DEST_SHIFT & 1))
		return (uint8_t)p->route.kvm.data;
	return (uint8_t)(rte & IOAPIC_RTE_VECTOR);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	static const uint64_t one = 1;

	pthread_mutex_lock(&io->lock);
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		struct ioapic_pin *p = &io->pins[pin];
		uint64_t rte = ioapic_rte(io, pin);

		if (!(rte & IOAPIC_RTE_LEVEL) || !(rte & IOAPIC_RTE_REMOTE_IRR) ||
		    ioapic_vector(p, rte) != vector)
			continue;
		ioapic_rte_set(io, pin, rte & ~IOAPIC_RTE_REMOTE_IRR);
		if (p->resample_fd >= 0) {
			/* The device says whether it still wants service. */
			io->lines &= ~(1u << pin);
			if (write(p->resample_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				log_warn("ioapic: pin %u: resample eventfd: %s", pin,
					 strerror(errno));
		}
		ioapic_service_level(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static void ioapic_trigger_event(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct ioapic_pin *p = opaque;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt)
		ioapic_set_irq(p->io, p->n, 1);
}

int ioapic_resample_add(struct ioapic *io, unsigned int pin, int trigger_fd, int resample_fd)
{
	struct ioapic_pin *p;
	int ret;

	if (pin >= IOAPIC_PINS || trigger_fd < 0 || resample_fd < 0 || !io->loop)
		return -EINVAL;
	p = &io->pins[pin];
	pthread_mutex_lock(&io->lock);
	ret = p->trigger_fd >= 0 ? -EBUSY : 0;
	if (!ret) {
		p->trigger_fd = trigger_fd;
		p->resample_fd = resample_fd;
	}
	pthread_mutex_unlock(&io->lock);
	if (ret)
		return ret;
	ret = evloop_add(io->loop, trigger_fd, EPOLLIN, ioapic_trigger_event, p);
	if (ret) {
		pthread_mutex_lock(&io->lock);
		p->trigger_fd = p->resample_fd = -1;
		pthread_mutex_unlock(&io->lock);
	}
	return ret;
}

void ioapic_resample_del(struct ioapic *io, unsigned int pin)
{
	struct ioapic_pin *p;
	int fd;

	if (pin >= IOAPIC_PINS)
		return;
	p = &io->pins[pin];
	pthread_mutex_lock(&io->lock);
	fd = p->trigger_fd;
	p->trigger_fd = p->resample_fd = -1;
	pthread_mutex_unlock(&io->lock);
	if (fd >= 0)
		evloop_del(io->loop, fd);
}

int ioapic_init(struct ioapic *io, struct gsi_table *gt, struct evloop *loop, uint8_t id)
{
	int ret;

	memset(io, 0, sizeof(*io));
	ret = pthread_mutex_init(&io->lock, NULL);
	if (ret)
		return -ret;
	io->gsi = gt;
	io->loop = loop;
	io->regs[IOAPIC_REG_ID] = io->regs[IOAPIC_REG_ARB] = (uint32_t)(id & 0xf) << 24;
	io->regs[IOAPIC_REG_VER] = (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		struct msi_msg msg;

		ioapic_rte_set(io, pin, IOAPIC_RTE_MASKED);
		io->pins[pin].io = io;
		io->pins[pin].n = pin;
		io->pins[pin].trigger_fd = io->pins[pin].resample_fd = -1;
		/* KVM needs the route before anything is unmasked; the reset
		 * entry's message is a placeholder until then. */
		msg = ioapic_rte_msg(0);
		ret = gsi_route_add(gt, &io->pins[pin].route, (int)pin, IOAPIC_RID, &msg);
		if (ret >= 0)
			ret = gsi_route_mask(gt, &io->pins[pin].route, true);
		if (ret < 0) {
			log_error("ioapic: claiming GSI %u: %s", pin, strerror(-ret));
			while (pin--)
				gsi_route_del(gt, &io->pins[pin].route);
			pthread_mutex_destroy(&io->lock);
			io->gsi = NULL;
			return ret;
		}
	}
	return 0;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io->gsi)
		return;
	for (unsigned int pin = 0; pin < IOAPIC_PINS; pin++) {
		if (io->pins[pin].trigger_fd >= 0 && io->loop)
			evloop_del(io->loop, io->pins[pin].trigger_fd);
		gsi_route_del(io->gsi, &io->pins[pin].route);
	}
	pthread_mutex_destroy(&io->lock);
	io->gsi = NULL;
}
