/* MSI-X for emulated PCI devices (owner: msix.c; API in vmm/pci/msix.h).
 *
 * A vector is "live" when MSI-X is enabled, the function is not masked and
 * its entry is unmasked. The first time it goes live it gets an MSI route
 * object (gsi.c; requester id 00:slot.0, the entry's message) and an
 * eventfd; from then on it keeps both until msix_destroy, so a backend
 * holding the eventfd never sees it change. The irqfd binding, however,
 * exists only while the vector is live: a masked vector must not interrupt
 * the guest, and detaching the irqfd makes backend writes accumulate in the
 * eventfd counter. Those are pending interrupts too, so (as QEMU polls its
 * masked notifiers) a PBA read and the unmask consume the counter with a
 * non-blocking read and turn it into the pending bit; msix_notify latches
 * the bit directly while the vector is not live. Going live delivers a set
 * bit (clearing it) after the irqfd is bound.
 *
 * The route always mirrors the entry's address/data: any change to them
 * once a route exists re-programs it, masked or not, so going live never
 * needs a catch-up step.
 *
 * Contract: table/PBA accesses are guest-controlled: only naturally aligned
 * 4- and 8-byte accesses (an 8-byte one is two dwords, low first) inside the
 * structures act; others read zero and are dropped. The PBA is read-only.
 * m->lock guards everything here; msix_config_write is called from the
 * device's config_write hook, i.e. under bus->lock (order bus -> msix -> gsi),
 * which is what makes reading the control word from config space safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "isle/log.h"
#include "isle/util.h"
#include "pci/msix.h"

static uint64_t msix_pba_len(unsigned int nr)
{
	return (uint64_t)ALIGN_UP(nr, 64u) / 8;
}

static bool msix_live(const struct msix *m, const struct msix_vector *v)
{
	return m->enabled && !m->fn_masked && !(v->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static struct msi_msg msix_msg(const struct msix_vector *v)
{
	return (struct msi_msg){ .addr = (uint64_t)v->addr_hi << 32 | v->addr_lo, .data = v->data };
}

/* A backend's writes to the eventfd of a vector that is not bound are
 * pending interrupts: move them into the PBA. Called with m->lock held. */
static void msix_poll(struct msix *m, unsigned int n)
{
	struct msix_vector *v = &m->vec[n];
	uint64_t cnt;

	if (v->efd < 0 || v->bound)
		return;
	if (read(v->efd, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt)
		m->pba[n / 64] |= 1ULL << (n % 64);
}

static void msix_fire(struct msix_vector *v)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: an interrupt is pending anyway. */
	if (write(v->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("msix: eventfd write failed: %s", strerror(errno));
}

/* Makes vector n's irqfd binding match its live state; on going live,
 * creates the route and eventfd if needed and delivers a latched pending
 * bit. Called with m->lock held. */
static void msix_sync(struct msix *m, unsigned int n)
{
	struct msix_vector *v = &m->vec[n];
	uint64_t bit = 1ULL << (n % 64);
	int ret;

	if (!msix_live(m, v)) {
		if (v->bound) {
			ret = gsi_irqfd_deassign(m->gsi, v->route.gsi, v->efd);
			if (ret)
				log_warn("msix: vector %u: irqfd deassign: %s", n, strerror(-ret));
			v->bound = false;
		}
		/* The guest rewrites masked entries a dword at a time: no
		 * interrupt remapping judges them until the unmask. */
		if (v->route.gsi >= 0 && !v->route.masked)
			gsi_route_mask(m->gsi, &v->route, true);
		return;
	}
	if (v->route.gsi >= 0 && v->route.masked) {
		ret = gsi_route_mask(m->gsi, &v->route, false);
		if (ret)
			log_warn("msix: vector %u: route unmask: %s", n, strerror(-ret));
	}
	if (v->bound)
		return;
	if (v->route.gsi < 0) {
		struct msi_msg msg = msix_msg(v);

		ret = gsi_route_add(m->gsi, &v->route, -1, pci_dev_rid(m->dev), &msg);
		if (ret < 0) {
			/* The vector stays unrouted: notifications latch in the
			 * PBA, and the next unmask retries. */
			log_warn("msix: vector %u: no GSI: %s", n, strerror(-ret));
			return;
		}
	}
	if (v->efd < 0) {
		v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->efd < 0) {
			log_warn("msix: vector %u: eventfd: %s", n, strerror(errno));
			return;
		}
	}
	msix_poll(m, n);
	ret = gsi_irqfd_assign(m->gsi, v->route.gsi, v->efd);
	if (ret) {
		log_warn("msix: vector %u: irqfd assign: %s", n, strerror(-ret));
		return;
	}
	v->bound = true;
	if (m->pba[n / 64] & bit) {
		m->pba[n / 64] &= ~bit;
		msix_fire(v);
	}
}

/* Both entry points: cap < 0 adds the capability, else it is the offset of
 * one the caller laid out (an assigned function's, at the device's offset). */
static int msix_setup(struct msix *m, struct pci_dev *dev, struct gsi_table *gt, unsigned int nr,
		      int cap, unsigned int bar, uint32_t table_off, uint32_t pba_off)
{
	uint64_t tlen, plen, bsize;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!nr || nr > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS)
		return -EINVAL;
	/* The low three bits of the offset registers hold the BIR. */
	if ((table_off | pba_off) & PCI_MSIX_TABLE_BIR)
		return -EINVAL;
	if (dev->bars[bar].type != PCI_BAR_MEM32 && dev->bars[bar].type != PCI_BAR_MEM64)
		return -EINVAL;
	bsize = dev->bars[bar].size;
	tlen = (uint64_t)nr * MSIX_ENTRY_SIZE;
	plen = msix_pba_len(nr);
	if (!range_ok(table_off, tlen, bsize) || !range_ok(pba_off, plen, bsize) ||
	    (table_off < pba_off + plen && pba_off < table_off + tlen))
		return -EINVAL;
	if (cap >= 0 && (cap < PCI_STD_HEADER_SIZEOF ||
			 cap > PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF))
		return -EINVAL;

	m->vec = calloc(nr, sizeof(*m->vec));
	m->pba = calloc(plen / 8, sizeof(*m->pba));
	if (!m->vec || !m->pba) {
		ret = -ENOMEM;
		goto fail;
	}
	if (cap < 0)
		cap = pci_dev_add_cap(dev, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (cap < 0) {
		ret = cap;
		goto fail;
	}
	ret = pthread_mutex_init(&m->lock, NULL);
	if (ret) {
		ret = -ret;
		goto fail;
	}
	/* Table size is read-only; only ENABLE and MASKALL are the guest's. */
	put_le16(dev->cfg + cap + PCI_MSIX_FLAGS, (uint16_t)(nr - 1));
	put_le16(dev->wmask + cap + PCI_MSIX_FLAGS,
		 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	put_le32(dev->cfg + cap + PCI_MSIX_TABLE, table_off | bar);
	put_le32(dev->cfg + cap + PCI_MSIX_PBA, pba_off | bar);
	put_le32(dev->wmask + cap + PCI_MSIX_TABLE, 0);
	put_le32(dev->wmask + cap + PCI_MSIX_PBA, 0);

	/* The spec's reset state: every vector masked. */
	for (unsigned int n = 0; n < nr; n++) {
		m->vec[n].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		m->vec[n].route.gsi = -1;
		m->vec[n].efd = -1;
	}
	m->dev = dev;
	m->gsi = gt;
	m->nr = nr;
	m->cap = (unsigned int)cap;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	return 0;
fail:
	free(m->vec);
	free(m->pba);
	memset(m, 0, sizeof(*m));
	return ret;
}

int msix_init(struct msix *m, struct pci_dev *dev, struct gsi_table *gt, unsigned int nr,
	      unsigned int bar, uint32_t table_off, uint32_t pba_off)
{
	return msix_setup(m, dev, gt, nr, -1, bar, table_off, pba_off);
}

int msix_init_at(struct msix *m, struct pci_dev *dev, struct gsi_table *gt, unsigned int nr,
		 unsigned int cap, unsigned int bar, uint32_t table_off, uint32_t pba_off)
{
	if (cap > PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF)
		return -EINVAL;
	return msix_setup(m, dev, gt, nr, (int)cap, bar, table_off, pba_off);
}

void msix_destroy(struct msix *m)
{
	if (!m->vec)
		return;
	pthread_mutex_lock(&m->lock);
	for (unsigned int n = 0; n < m->nr; n++) {
		struct msix_vector *v = &m->vec[n];

		if (v->bound)
			gsi_irqfd_deassign(m->gsi, v->route.gsi, v->efd);
		gsi_route_del(m->gsi, &v->route);
		if (v->efd >= 0)
			close(v->efd);
	}
	free(m->vec);
	free(m->pba);
	m->vec = NULL;
	m->pba = NULL;
	m->nr = 0;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_destroy(&m->lock);
}

static uint32_t msix_entry_read(const struct msix_vector *v, unsigned int field)
{
	switch (field) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		return v->addr_lo;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		return v->addr_hi;
	case PCI_MSIX_ENTRY_DATA:
		return v->data;
	default:
		return v->ctrl;
	}
}

/* A dword write to entry n. Called with m->lock held. */
static void msix_entry_write(struct msix *m, unsigned int n, unsigned int field, uint32_t val)
{
	struct msix_vector *v = &m->vec[n];
	uint32_t lo = v->addr_lo, hi = v->addr_hi, data = v->data;
	struct msi_msg msg;
	int ret;

	switch (field) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		v->addr_lo = val & ~3u;   /* dword aligned: bits 1-0 are not address */
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		v->addr_hi = val;
		break;
	case PCI_MSIX_ENTRY_DATA:
		v->data = val;
		break;
	default:
		/* Only the mask bit is defined for emulated devices. */
		val &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		if (val != v->ctrl) {
			v->ctrl = val;
			msix_sync(m, n);
		}
		return;
	}
	if (v->route.gsi < 0 || (lo == v->addr_lo && hi == v->addr_hi && data == v->data))
		return;
	msg = msix_msg(v);
	ret = gsi_route_update(m->gsi, &v->route, &msg);
	if (ret)
		log_warn("msix: vector %u: route update: %s", n, strerror(-ret));
}

bool msix_bar_access(struct msix *m, unsigned int bar, uint64_t offset, void *data,
		     unsigned int len, bool is_write)
{
	uint64_t tlen = (uint64_t)m->nr * MSIX_ENTRY_SIZE, plen = msix_pba_len(m->nr);
	bool in_table, in_pba;
	uint8_t *buf = data;

	if (bar != m->bar || !m->vec)
		return false;
	in_table = offset >= m->table_off && offset - m->table_off < tlen;
	in_pba = offset >= m->pba_off && offset - m->pba_off < plen;
	if (!in_table && !in_pba)
		return false;
	if (!is_write)
		memset(data, 0, len);
	/* Both structures are 8-byte aligned and a multiple of 8 long, so an
	 * aligned 4/8-byte access that starts inside one ends inside it. */
	if ((len != 4 && len != 8) || offset % len)
		return true;

	pthread_mutex_lock(&m->lock);
	if (in_table) {
		uint64_t rel = offset - m->table_off;

		for (unsigned int i = 0; i < len; i += 4) {
			unsigned int n = (unsigned int)((rel + i) / MSIX_ENTRY_SIZE);
			unsigned int field = (unsigned int)((rel + i) % MSIX_ENTRY_SIZE);

			if (is_write)
				msix_entry_write(m, n, field, get_le32(buf + i));
			else
				put_le32(buf + i, msix_entry_read(&m->vec[n], field));
		}
	} else if (!is_write) {
		uint64_t rel = offset - m->pba_off;
		unsigned int first = (unsigned int)(rel / 8 * 64);

		for (unsigned int n = first; n < first + 64 && n < m->nr; n++)
			msix_poll(m, n);
		for (unsigned int i = 0; i < len; i += 4) {
			uint64_t q = m->pba[(rel + i) / 8];

			put_le32(buf + i, (uint32_t)(q >> ((rel + i) % 8 * 8)));
		}
	}
	pthread_mutex_unlock(&m->lock);
	return true;
}

void msix_config_write(struct msix *m, unsigned int offset, unsigned int len, uint32_t old)
{
	unsigned int ctl_off = m->cap + PCI_MSIX_FLAGS;
	uint16_t ctl;
	bool enabled, masked;

	if (!m->vec || offset + len <= ctl_off || offset >= ctl_off + 2)
		return;
	/* Under bus->lock (we are called from the config_write hook). */
	ctl = get_le16(m->dev->cfg + ctl_off);
	enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
	masked = ctl & PCI_MSIX_FLAGS_MASKALL;

	pthread_mutex_lock(&m->lock);
	if (enabled != m->enabled || masked != m->fn_masked) {
		m->enabled = enabled;
		m->fn_masked = masked;
		for (unsigned int n = 0; n < m->nr; n++)
			msix_sync(m, n);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_reset(struct msix *m)
{
	if (!m->vec)
		return;
	pthread_mutex_lock(&m->lock);
	m->enabled = m->fn_masked = false;
	for (unsigned int n = 0; n < m->nr; n++) {
		struct msix_vector *v = &m->vec[n];

		v->addr_lo = v->addr_hi = v->data = 0;
		v->ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		msix_sync(m, n);
		if (v->efd >= 0 && !v->bound) {
			uint64_t cnt;

			/* What a source wrote before the reset is not pending after it. */
			while (read(v->efd, &cnt, sizeof(cnt)) == sizeof(cnt))
				;
		}
	}
	memset(m->pba, 0, msix_pba_len(m->nr));
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	bool en;

	pthread_mutex_lock(&m->lock);
	en = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return en;
}

int msix_notify(struct msix *m, unsigned int n)
{
	struct msix_vector *v;

	if (n >= m->nr)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	v = &m->vec[n];
	if (v->bound)
		msix_fire(v);
	else
		m->pba[n / 64] |= 1ULL << (n % 64);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int msix_vector_eventfd_get(struct msix *m, unsigned int n)
{
	int efd;

	if (n >= m->nr)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (m->vec[n].efd < 0)
		m->vec[n].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd = m->vec[n].efd < 0 ? -errno : m->vec[n].efd;
	pthread_mutex_unlock(&m->lock);
	return efd;
}

int msix_vector_eventfd(struct msix *m, unsigned int n)
{
	int efd;

	if (n >= m->nr)
		return -1;
	pthread_mutex_lock(&m->lock);
	efd = m->vec[n].efd;
	pthread_mutex_unlock(&m->lock);
	return efd;
}
