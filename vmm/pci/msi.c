/* MSI for emulated PCI devices: one vector, 64-bit address, no per-vector
 * masking (owner: msi.c; API in vmm/pci/msi.h).
 *
 * The first time the guest enables MSI, the vector gets an MSI route object
 * (gsi.c; requester id 00:slot.0, the message in config space) and an
 * eventfd, and keeps both until msi_destroy, as MSI-X vectors do (msix.c).
 * The irqfd is bound only while MSI is enabled: a disabled function must not
 * interrupt through it. While bound, the route mirrors the message, so a
 * guest reprogramming address or data with MSI on (Linux does, to move an
 * interrupt) re-programs KVM's entry. The message is read from config space
 * only here, under bus->lock, so msi_notify never touches config space.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "pci/msi.h"

int msi_init(struct msi *m, struct pci_dev *dev, struct gsi_table *gt)
{
	int cap, r;

	memset(m, 0, sizeof(*m));
	m->route.gsi = -1;
	m->efd = -1;
	cap = pci_dev_add_cap(dev, PCI_CAP_ID_MSI, MSI_CAP_SIZE);
	if (cap < 0)
		return cap;
	r = pthread_mutex_init(&m->lock, NULL);
	if (r)
		return -r;
	/* One vector (MMC 0), so MME stays 0 and read-only; 64-bit capable. */
	put_le16(dev->cfg + cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT);
	put_le16(dev->wmask + cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE);
	/* The address is dword aligned: bits 1-0 read 0. */
	put_le32(dev->wmask + cap + PCI_MSI_ADDRESS_LO, ~3u);
	put_le32(dev->wmask + cap + PCI_MSI_ADDRESS_HI, ~0u);
	put_le16(dev->wmask + cap + PCI_MSI_DATA_64, 0xffff);
	m->dev = dev;
	m->gsi = gt;
	m->cap = (unsigned int)cap;
	return 0;
}

void msi_destroy(struct msi *m)
{
	if (!m->cap)
		return;
	pthread_mutex_lock(&m->lock);
	if (m->bound)
		gsi_irqfd_deassign(m->gsi, m->route.gsi, m->efd);
	gsi_route_del(m->gsi, &m->route);
	if (m->efd >= 0)
		close(m->efd);
	m->efd = -1;
	m->bound = false;
	m->enabled = false;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_destroy(&m->lock);
	m->cap = 0;
}

/* Makes route and irqfd follow enabled and msg. Called with m->lock held. */
static void msi_sync(struct msi *m)
{
	int r;

	if (!m->enabled) {
		if (m->bound) {
			r = gsi_irqfd_deassign(m->gsi, m->route.gsi, m->efd);
			if (r)
				log_warn("msi: %02x.0: irqfd deassign: %s", m->dev->slot,
					 strerror(-r));
			m->bound = false;
		}
		if (m->route.gsi >= 0 && !m->route.masked)
			gsi_route_mask(m->gsi, &m->route, true);
		return;
	}
	if (m->route.gsi >= 0 && m->route.masked) {
		/* The message first (translated once, by the unmask). */
		r = gsi_route_update(m->gsi, &m->route, &m->msg);
		if (!r)
			r = gsi_route_mask(m->gsi, &m->route, false);
		if (r)
			log_warn("msi: %02x.0: route unmask: %s", m->dev->slot, strerror(-r));
	}
	if (m->route.gsi < 0) {
		r = gsi_route_add(m->gsi, &m->route, -1, pci_dev_rid(m->dev), &m->msg);
		if (r < 0) {
			/* Stays unrouted: notifications fail (-EAGAIN) until
			 * the guest enables MSI again. */
			log_warn("msi: %02x.0: no GSI: %s", m->dev->slot, strerror(-r));
			return;
		}
	} else if (m->route.msg.addr != m->msg.addr || m->route.msg.data != m->msg.data) {
		/* Also catches a message the guest changed while MSI was off. */
		r = gsi_route_update(m->gsi, &m->route, &m->msg);
		if (r)
			log_warn("msi: %02x.0: route update: %s", m->dev->slot, strerror(-r));
	}
	if (m->efd < 0) {
		m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->efd < 0) {
			log_warn("msi: %02x.0: eventfd: %s", m->dev->slot, strerror(errno));
			return;
		}
	}
	if (m->bound)
		return;
	r = gsi_irqfd_assign(m->gsi, m->route.gsi, m->efd);
	if (r) {
		log_warn("msi: %02x.0: irqfd assign: %s", m->dev->slot, strerror(-r));
		return;
	}
	m->bound = true;
}

void msi_config_write(struct msi *m, unsigned int offset, unsigned int len, uint32_t old)
{
	const uint8_t *cap;
	struct msi_msg msg;
	bool enabled, changed;

	(void)old;
	/* Control, address and data are contiguous: 0x02 .. 0x0e. */
	if (!m->cap || offset + len <= m->cap + PCI_MSI_FLAGS ||
	    offset >= m->cap + PCI_MSI_DATA_64 + 2)
		return;
	/* Under bus->lock (we are called from the config_write hook). */
	cap = m->dev->cfg + m->cap;
	enabled = get_le16(cap + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_ENABLE;
	msg.addr = (uint64_t)get_le32(cap + PCI_MSI_ADDRESS_HI) << 32 |
		   get_le32(cap + PCI_MSI_ADDRESS_LO);
	msg.data = get_le16(cap + PCI_MSI_DATA_64);

	pthread_mutex_lock(&m->lock);
	changed = msg.addr != m->msg.addr || msg.data != m->msg.data;
	if (changed || enabled != m->enabled) {
		m->msg = msg;
		m->enabled = enabled;
		msi_sync(m);
	}
	pthread_mutex_unlock(&m->lock);
}

bool msi_enabled(struct msi *m)
{
	bool en;

	if (!m->cap)
		return false;
	pthread_mutex_lock(&m->lock);
	en = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return en;
}

int msi_notify(struct msi *m)
{
	uint64_t one = 1;
	int r = 0;

	if (!m->cap)
		return -EAGAIN;
	pthread_mutex_lock(&m->lock);
	if (!m->bound)
		r = -EAGAIN;
	/* EAGAIN from the write: the counter is saturated, an interrupt is
	 * pending anyway. */
	else if (write(m->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		r = -errno;
	pthread_mutex_unlock(&m->lock);
	return r;
}
