/* Interrupts of an assigned function (owner: vfio_pci_irq.c; API in
 * devices/vfio_pci.h). The device's interrupts never pass through isle's
 * threads: VFIO signals an eventfd, and that eventfd is a KVM irqfd.
 *
 *  - MSI-X: the table and PBA are isle's (pci/msix.c: routes carrying the
 *    function's requester id, so interrupt remapping applies; masking as
 *    the spec says, with eventfd writes of masked vectors latched in the
 *    PBA). When the guest enables MSI-X, VFIO gets one eventfd per vector
 *    (msix_vector_eventfd_get) in one VFIO_DEVICE_SET_IRQS.
 *  - MSI: emulated at the device's offset (without per-vector masking); on
 *    enable each of the 1 << MME vectors gets a route (data | vector) and an
 *    irqfd, then VFIO the eventfds.
 *  - INTx: level-triggered on an IOAPIC input (16 + (slot + pin - 1) % 4),
 *    through ioapic_resample_add: VFIO's trigger eventfd raises the line,
 *    and the EOI of the guest's handler writes VFIO's unmask eventfd, so a
 *    device still asserting its line interrupts again (kvmtool's way).
 *    VFIO masks the line when it fires and until that unmask.
 * VFIO allows one of INTx, MSI and MSI-X at a time: INTx is on exactly
 * while neither MSI nor MSI-X is. Everything here runs under the PCI bus
 * lock (config writes), or at realize/unrealize. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/pci_regs.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"

static void intx_set(struct vfio_pci *v, bool on)
{
	int r;

	if (v->intx_pin < 0 || v->intx_on == on)
		return;
	if (on) {
		r = vfio_irq_set_eventfds(&v->vd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &v->intx_trigger);
		if (!r) {
			r = vfio_irq_set_unmask_eventfd(&v->vd, VFIO_PCI_INTX_IRQ_INDEX,
							v->intx_unmask);
			/* Half on would block MSI later: all off again. */
			if (r)
				vfio_irq_set_eventfds(&v->vd, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
		}
	} else {
		r = vfio_irq_set_eventfds(&v->vd, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL);
		/* A level the device left asserted goes with it. */
		ioapic_set_irq(&v->vm->ioapic, (unsigned int)v->intx_pin, 0);
	}
	if (r)
		log_warn("%s: INTx %s: %s", v->id, on ? "on" : "off", strerror(-r));
	v->intx_on = on && !r;
}

static struct msi_msg msi_message(const struct vfio_pci *v, unsigned int vec, unsigned int nr)
{
	const uint8_t *c = v->pci.cfg + v->msi_cap;
	struct msi_msg m = { .addr = get_le32(c + PCI_MSI_ADDRESS_LO) };
	uint16_t data;

	if (v->msi_64) {
		m.addr |= (uint64_t)get_le32(c + PCI_MSI_ADDRESS_HI) << 32;
		data = get_le16(c + PCI_MSI_DATA_64);
	} else {
		data = get_le16(c + PCI_MSI_DATA_32);
	}
	/* Multiple Message: the device puts the vector in the low bits. */
	m.data = (data & ~(nr - 1)) | vec;
	return m;
}

static void msi_off(struct vfio_pci *v)
{
	if (!v->msi_on)
		return;
	vfio_irq_set_eventfds(&v->vd, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL);
	for (unsigned int i = 0; i < v->msi_nr; i++) {
		gsi_irqfd_deassign(&v->vm->gsi, v->msi_routes[i].gsi, v->msi_efd[i]);
		gsi_route_del(&v->vm->gsi, &v->msi_routes[i]);
	}
	v->msi_on = false;
	v->msi_nr = 0;
}

static void msi_on(struct vfio_pci *v, unsigned int nr)
{
	int r = 0;

	intx_set(v, false);
	for (unsigned int i = 0; i < nr; i++) {
		struct msi_msg m = msi_message(v, i, nr);

		if (v->msi_efd[i] < 0 &&
		    (v->msi_efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
			r = -errno;
			break;
		}
		v->msi_routes[i].gsi = -1;
		r = gsi_route_add(&v->vm->gsi, &v->msi_routes[i], -1, pci_dev_rid(&v->pci), &m);
		if (r < 0)
			break;
		r = gsi_irqfd_assign(&v->vm->gsi, v->msi_routes[i].gsi, v->msi_efd[i]);
		if (r) {
			gsi_route_del(&v->vm->gsi, &v->msi_routes[i]);
			break;
		}
		v->msi_nr = i + 1;
	}
	v->msi_on = true;
	if (!r)
		r = vfio_irq_set_eventfds(&v->vd, VFIO_PCI_MSI_IRQ_INDEX, 0, nr, v->msi_efd);
	if (r < 0) {
		log_warn("%s: MSI with %u vector(s): %s", v->id, nr, strerror(-r));
		msi_off(v);
	}
}

static void msix_set(struct vfio_pci *v, bool on)
{
	int fds[MSIX_MAX_VECTORS];
	int r = 0;

	if (v->msix_on == on)
		return;
	if (!on) {
		vfio_irq_set_eventfds(&v->vd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL);
		v->msix_on = false;
		return;
	}
	intx_set(v, false);
	for (unsigned int i = 0; i < v->msix_nr && r >= 0; i++)
		r = fds[i] = msix_vector_eventfd_get(&v->msix, i);
	if (r >= 0)
		r = vfio_irq_set_eventfds(&v->vd, VFIO_PCI_MSIX_IRQ_INDEX, 0, v->msix_nr, fds);
	if (r < 0)
		log_warn("%s: MSI-X with %u vectors: %s", v->id, v->msix_nr, strerror(-r));
	v->msix_on = r >= 0;
}

void vfio_irq_config_write(struct vfio_pci *v, unsigned int offset, unsigned int len,
			   uint32_t old)
{
	unsigned int end = offset + len;

	if (v->msi_cap && end > v->msi_cap + PCI_MSI_FLAGS && offset < v->msi_cap + 16) {
		uint16_t flags = get_le16(v->pci.cfg + v->msi_cap + PCI_MSI_FLAGS);
		unsigned int nr = 1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);
		bool en = flags & PCI_MSI_FLAGS_ENABLE;

		if (nr > v->msi_max)
			nr = v->msi_max;
		if (!en || (v->msi_on && nr != v->msi_nr))
			msi_off(v);
		if (en && !v->msi_on) {
			msi_on(v, nr);
		} else if (en) {
			for (unsigned int i = 0; i < v->msi_nr; i++) {
				struct msi_msg m = msi_message(v, i, v->msi_nr);

				gsi_route_update(&v->vm->gsi, &v->msi_routes[i], &m);
			}
		}
	}
	if (v->has_msix) {
		msix_config_write(&v->msix, offset, len, old);
		msix_set(v, msix_enabled(&v->msix));
	}
	intx_set(v, !v->msi_on && !v->msix_on);
}

void vfio_irq_reset(struct vfio_pci *v)
{
	if (v->msi_cap) {
		uint16_t flags = get_le16(v->pci.cfg + v->msi_cap + PCI_MSI_FLAGS);

		msi_off(v);
		/* Enable, MME, address and data back to zero. */
		memset(v->pci.cfg + v->msi_cap + PCI_MSI_ADDRESS_LO, 0,
		       (v->msi_64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32) + 2 - PCI_MSI_ADDRESS_LO);
		put_le16(v->pci.cfg + v->msi_cap + PCI_MSI_FLAGS,
			 flags & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
	}
	if (v->has_msix) {
		unsigned int ctl = v->msix_cap + PCI_MSIX_FLAGS;

		put_le16(v->pci.cfg + ctl, get_le16(v->pci.cfg + ctl) &
			 ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
		msix_set(v, false);
		msix_reset(&v->msix);
	}
	intx_set(v, true);
}

void vfio_irq_clear(struct vfio_pci *v)
{
	v->intx_pin = -1;
	v->intx_trigger = v->intx_unmask = -1;
	for (unsigned int i = 0; i < VFIO_MSI_MAX; i++) {
		v->msi_efd[i] = -1;
		v->msi_routes[i].gsi = -1;
	}
}

int vfio_irq_init(struct vfio_pci *v)
{
	int r;

	if (v->msi_max > VFIO_MSI_MAX)
		v->msi_max = VFIO_MSI_MAX;
	if (v->msi_cap && v->vd.irqs[VFIO_PCI_MSI_IRQ_INDEX].count < v->msi_max)
		v->msi_max = v->vd.irqs[VFIO_PCI_MSI_IRQ_INDEX].count;
	if (v->msi_cap && v->msi_max) {
		/* Multiple Message Capable says what can really be had: the
		 * largest power of two within msi_max. */
		uint8_t *f = v->pci.cfg + v->msi_cap + PCI_MSI_FLAGS;
		unsigned int mmc = 0;

		while ((2u << mmc) <= v->msi_max)
			mmc++;
		v->msi_max = 1u << mmc;
		put_le16(f, (uint16_t)((get_le16(f) & ~PCI_MSI_FLAGS_QMASK) | mmc << 1));
	}
	if (!v->has_msix)
		return 0;
	/* VFIO's count is at least 1: vfio_cfg_init hid the capability else. */
	if (v->msix_nr > v->vd.irqs[VFIO_PCI_MSIX_IRQ_INDEX].count)
		v->msix_nr = v->vd.irqs[VFIO_PCI_MSIX_IRQ_INDEX].count;
	r = msix_init_at(&v->msix, &v->pci, &v->vm->gsi, v->msix_nr, v->msix_cap, v->msix_bar,
			 v->msix_table_off, v->msix_pba_off);
	if (r)
		v->has_msix = false;
	return r;
}

int vfio_irq_start(struct vfio_pci *v)
{
	unsigned int pin = v->pci.cfg[PCI_INTERRUPT_PIN];
	int r;

	if (!pin || !v->vd.irqs[VFIO_PCI_INTX_IRQ_INDEX].count)
		return 0;
	v->intx_trigger = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->intx_unmask = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->intx_trigger < 0 || v->intx_unmask < 0)
		return -errno;
	/* PCI GSIs 16-23 are free on isle's IOAPIC; rotate by slot and pin as
	 * a bridge's swizzle would. The guest reads it in Interrupt Line. */
	for (unsigned int i = 0; i < 4; i++) {
		unsigned int gsi = 16 + (v->pci.slot + pin - 1 + i) % 4;

		r = ioapic_resample_add(&v->vm->ioapic, gsi, v->intx_trigger, v->intx_unmask);
		if (r == -EBUSY)
			continue;   /* another assigned function's: find a free line */
		if (r)
			return r;
		v->intx_pin = (int)gsi;
		break;
	}
	if (v->intx_pin < 0) {
		log_warn("%s: no IOAPIC input free for INTx: MSI only", v->id);
		return 0;
	}
	pthread_mutex_lock(&v->vm->pci.lock);
	v->pci.cfg[PCI_INTERRUPT_LINE] = (uint8_t)v->intx_pin;
	intx_set(v, true);
	pthread_mutex_unlock(&v->vm->pci.lock);
	return 0;
}

void vfio_irq_fini(struct vfio_pci *v)
{
	if (v->vd.fd >= 0) {
		msi_off(v);
		msix_set(v, false);
		intx_set(v, false);
	}
	if (v->intx_pin >= 0)
		ioapic_resample_del(&v->vm->ioapic, (unsigned int)v->intx_pin);
	v->intx_pin = -1;
	if (v->intx_trigger >= 0)
		close(v->intx_trigger);
	if (v->intx_unmask >= 0)
		close(v->intx_unmask);
	v->intx_trigger = v->intx_unmask = -1;
	for (unsigned int i = 0; i < VFIO_MSI_MAX; i++) {
		if (v->msi_efd[i] >= 0)
			close(v->msi_efd[i]);
		v->msi_efd[i] = -1;
	}
	if (v->has_msix)
		msix_destroy(&v->msix);
	v->has_msix = false;
}
