/* Scenario "net": frontends/netfront.c and frontends/inet.c against the
 * first modern virtio-net PCI device (1af4:1041) on bus 0 — QEMU's
 * virtio-net-pci today, isle's own later. Polled throughout.
 *
 *   test=net ip=10.0.2.15/24 peer=10.0.2.2 pings=10 serve_ms=0 bulk=0
 *
 * The defaults match QEMU's user-mode network, whose gateway 10.0.2.2
 * answers ARP and ICMP echo. In two driver configurations (all features
 * with page-sized receive buffers; then 512-byte receive buffers, so the
 * device must merge a large frame over several of them when it offers
 * MRG_RXBUF, with direct chains, no EVENT_IDX and 64-entry queues) it
 * reports the negotiated features, MAC, MTU and link status, resolves the
 * peer by ARP, sends `pings` echo requests (56 bytes) and 8 large ones
 * (1400 bytes), each reply matched by id and sequence and its data
 * compared, and checks that neither the driver nor the stack saw a bad
 * header or checksum. bulk=1 adds, in the first configuration, bulk_count
 * (256) echo requests of bulk_size (1400) bytes with up to 16 in flight,
 * every reply's data checked. serve_ms=N then answers pings for N ms
 * (prints "# net: serving pings" first, for a host that pings us);
 * serve_expect=K requires K answered and ends the serving once they are. A transitional device (1af4:1000) is
 * not supported: skip, as without a device (exit 77). */
#include "inet.h"
#include "netfront.h"

#include "virtio_glue.h"

#define VIRTIO_NET_TRANSITIONAL 0x1000
#define ARP_TIMEOUT_US   3000000ull
#define PING_TIMEOUT_US  1000000ull
#define LINK_TIMEOUT_US  1000000ull
#define PING_BYTES       56u
#define LARGE_PINGS      8u
#define LARGE_BYTES      1400u
#define BULK_MAX         4096u
#define BULK_WINDOW      16u
#define BULK_LOSS_US     1000000ull      /* a reply later than this is lost */

static struct netfront nf;
static struct inet st;
static struct virtio_glue glue;
static uint8_t net_dma[NETFRONT_DMA_BYTES] __attribute__((section(".noinit"), aligned(4096)));
static uint8_t net_priv[NETFRONT_PRIV_BYTES] __attribute__((aligned(16)));
static uint8_t payload[INET_PING_MAX];

static struct {
	uint16_t id;
	unsigned int count, size;
	unsigned int replies, bad, dup, stray;
	bool got[BULK_MAX];
	uint64_t sent_at[BULK_MAX];
} bulk;

static uint8_t pattern(uint16_t seq, size_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + 0x5a);
}

static void pattern_fill(uint8_t *p, uint16_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(seq, i);
}

/* ---- transport hooks: inet over netfront --------------------------- */

static void net_rx(void *ctx, uint8_t *frame, size_t len, unsigned int flags)
{
	inet_input(&st, frame, len);
}

static int net_poll(void *ctx)
{
	return netfront_poll(&nf, net_rx, NULL, 64);
}

static int net_xmit(void *ctx, const void *frame, size_t len)
{
	return netfront_send(&nf, frame, len);
}

static int net_xmit_csum(void *ctx, const void *frame, size_t len, uint16_t start,
			 uint16_t offset)
{
	return netfront_send_csum(&nf, frame, len, start, offset);
}

static void net_echo_reply(void *ctx, uint32_t src, uint16_t id, uint16_t seq,
			   const uint8_t *data, size_t len)
{
	bool ok = len == bulk.size;

	if (id != bulk.id || seq >= bulk.count) {
		bulk.stray++;
		return;
	}
	if (bulk.got[seq]) {
		bulk.dup++;
		return;
	}
	for (size_t i = 0; ok && i < len; i++)
		ok = data[i] == pattern(seq, i);
	bulk.got[seq] = true;
	bulk.replies++;
	bulk.bad += !ok;
}

static const struct inet_ops net_ops = {
	.xmit = net_xmit, .xmit_csum = net_xmit_csum, .poll = net_poll,
	.echo_reply = net_echo_reply,
};

/* ---- arguments ------------------------------------------------------ */

/* "a.b.c.d" or "a.b.c.d/len" (prefix stays untouched without "/"). */
static bool parse_ipv4(const char *s, uint32_t *ip, unsigned int *prefix)
{
	uint32_t v = 0;

	for (int part = 0; part < 4; part++) {
		uint32_t n = 0;
		int digits = 0;

		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			n = n * 10 + (uint32_t)(*s - '0');
		if (!digits || n > 255 || (part < 3 && *s++ != '.'))
			return false;
		v = v << 8 | n;
	}
	if (*s == '/') {
		uint64_t n;

		if (!str_to_u64(s + 1, &n) || n < 1 || n > 30)
			return false;
		*prefix = (unsigned int)n;
	} else if (*s) {
		return false;
	}
	*ip = v;
	return true;
}

static uint32_t arg_ipv4(const char *key, const char *dflt, unsigned int *prefix)
{
	const char *v = cmdline_get(key);
	uint32_t ip = 0;

	if (v && parse_ipv4(v, &ip, prefix))
		return ip;
	if (v)
		report_info("ignoring %s=%s: not an IPv4 address", key, v);
	parse_ipv4(dflt, &ip, prefix);
	return ip;
}

#define IP_ARGS(ip) (ip) >> 24, ((ip) >> 16) & 0xff, ((ip) >> 8) & 0xff, (ip) & 0xff
#define MAC_FMT "%02x:%02x:%02x:%02x:%02x:%02x"
#define MAC_ARGS(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

/* ---- checks ---------------------------------------------------------- */

static void feature_names(char *buf, size_t size)
{
	static const struct { unsigned int bit; const char *name; } f[] = {
		{ VIRTIO_NET_F_CSUM, "CSUM" }, { VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM" },
		{ VIRTIO_NET_F_MTU, "MTU" }, { VIRTIO_NET_F_MAC, "MAC" },
		{ VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF" }, { VIRTIO_NET_F_STATUS, "STATUS" },
		{ VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX" },
		{ VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT" },
		{ VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" }, { VIRTIO_F_VERSION_1, "VERSION_1" },
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(f) && n < size; i++) {
		if (netfront_has(&nf, f[i].bit))
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "", f[i].name);
	}
}

static bool net_open(const struct netfront_opts *o, const char *what)
{
	char names[160];
	uint64_t deadline;
	int r = netfront_init(&nf, &glue.env, o, net_dma, sizeof(net_dma), net_priv,
			      sizeof(net_priv));

	if (!report(r == 0, "init (%s): %d%s%s", what, r, nf.error ? ", " : "",
		    nf.error ? nf.error : ""))
		return false;
	/* Polled: keep the device off the INTx line. */
	pci_write16(glue.bdf, PCI_COMMAND, pci_read16(glue.bdf, PCI_COMMAND) | PCI_CMD_INTX_OFF);
	feature_names(names, sizeof(names));
	report_info("features %#lx of %#lx: %s", nf.features, nf.pci.offered, names);
	report_info("queues rx %u tx %u, %u receive buffers of %u bytes, %u transmit slots, "
		    "mtu %u%s", nf.rx_size, nf.tx_size, nf.rx_bufs, nf.rx_buf, nf.tx_slots,
		    nf.mtu, netfront_has(&nf, VIRTIO_NET_F_MTU) ? " (device)" : "");
	report(!(nf.features & ~((nf.pci.offered & (o ? o->features : NETFRONT_FEATURES)) |
				 1ull << VIRTIO_F_VERSION_1)) &&
	       netfront_has(&nf, VIRTIO_F_VERSION_1),
	       "features negotiated within offered and wanted, VERSION_1");
	report(!(nf.mac[0] & 1) && (nf.mac[0] | nf.mac[1] | nf.mac[2] | nf.mac[3] | nf.mac[4] |
				    nf.mac[5]),
	       "MAC " MAC_FMT " (%s)", MAC_ARGS(nf.mac),
	       netfront_has(&nf, VIRTIO_NET_F_MAC) ? "device" : "ours");
	if (!netfront_has(&nf, VIRTIO_NET_F_STATUS)) {
		report_skip("link status: VIRTIO_NET_F_STATUS not offered");
		return true;
	}
	deadline = timer_deadline_us(LINK_TIMEOUT_US);
	while (!netfront_link_up(&nf) && !timer_expired(deadline))
		cpu_relax();
	return report(netfront_link_up(&nf), "link up (status %#x)", nf.status);
}

static void check_pings(uint32_t peer, uint16_t id, unsigned int count, size_t bytes,
			const char *what)
{
	uint64_t rtt, min = UINT64_MAX, max = 0, sum = 0;
	unsigned int answered = 0, bad = 0;
	int last = 0;

	for (unsigned int seq = 0; seq < count; seq++) {
		int r;

		pattern_fill(payload, (uint16_t)seq, bytes);
		r = inet_ping(&st, peer, id, (uint16_t)seq, payload, bytes, PING_TIMEOUT_US, &rtt);
		if (r == -EBADMSG)
			bad++;
		if (r) {
			last = r;
			if (r != -ETIMEDOUT && r != -EBADMSG)
				break;          /* the device failed: no point going on */
			continue;
		}
		answered++;
		sum += rtt;
		min = MIN(min, rtt);
		max = MAX(max, rtt);
	}
	report(answered == count, "%u/%u %s pings (%zu bytes) answered%s", answered, count,
	       what, bytes, last ? ", last error below" : "");
	if (last)
		report_info("last error %d%s%s", last, nf.error ? ": " : "",
			    nf.error ? nf.error : "");
	if (answered)
		report_info("rtt min/avg/max %lu/%lu/%lu us", min, sum / answered, max);
	report(!bad, "%s ping data intact (%u replies differed)", what, bad);
}

static void check_bulk(uint32_t peer, unsigned int count, unsigned int size)
{
	uint64_t t0 = rdtsc(), deadline = timer_deadline_us(5000000ull + count * 20000ull);
	unsigned int sent = 0, oldest = 0, lost = 0;
	int r = 0;

	memset(&bulk, 0, sizeof(bulk));
	bulk.id = 0x4255;
	bulk.count = count;
	bulk.size = size;
	while (!r && (sent < count || oldest < sent) && !timer_expired(deadline)) {
		/* Retire the oldest request once answered or given up on. */
		while (oldest < sent && (bulk.got[oldest] ||
					 fe_now_us() - bulk.sent_at[oldest] > BULK_LOSS_US)) {
			lost += !bulk.got[oldest];
			oldest++;
		}
		if (sent < count && sent - oldest < BULK_WINDOW) {
			pattern_fill(payload, (uint16_t)sent, size);
			bulk.sent_at[sent] = fe_now_us();
			r = inet_ping_send(&st, peer, bulk.id, (uint16_t)sent, payload, size,
					   ARP_TIMEOUT_US);
			if (!r)
				sent++;
			else if (r == -EAGAIN)
				r = 0;
			continue;
		}
		r = net_poll(NULL);
		r = r < 0 ? r : 0;
	}
	report(!r && bulk.replies == count, "bulk: %u/%u replies of %u bytes (%u lost, %d)",
	       bulk.replies, count, size, lost, r);
	report(!bulk.bad && !bulk.dup, "bulk: data intact (%u differed, %u duplicates, %u stray)",
	       bulk.bad, bulk.dup, bulk.stray);
	report_info("bulk: %lu KiB each way in %lu ms", (uint64_t)count * size / 1024,
		    timer_elapsed_us(t0) / 1000);
}

static void check_serve(uint64_t ms)
{
	uint64_t before = st.stats.echo_answered, expect = cmdline_get_u64("serve_expect", 0);
	int r;

	report_info("serving pings for %lu ms at %u.%u.%u.%u", ms, IP_ARGS(st.cfg.ip));
	/* Stop as soon as the host's pings are answered: the window is only
	 * an upper bound, so a slow host (nested TCG in the lab) is not cut
	 * off by it. */
	r = inet_serve(&st, ms * 1000, expect);
	report(r == 0 && st.stats.echo_answered - before >= expect,
	       "served %lu ms: %lu echo requests answered (%lu expected), %d", ms,
	       st.stats.echo_answered - before, expect, r);
}

static void net_summary(void)
{
	const struct netfront_stats *s = &nf.stats;
	const struct inet_stats *i = &st.stats;

	report_info("netfront: rx %lu frames %lu bytes (%lu buffers, %lu merged, csum valid "
		    "%lu, completed %lu), tx %lu frames %lu bytes (busy %lu, csum offload %lu), "
		    "kicks rx %lu tx %lu", s->rx_frames, s->rx_bytes, s->rx_bufs_used,
		    s->rx_merged, s->rx_csum_valid, s->rx_csum_done, s->tx_frames, s->tx_bytes,
		    s->tx_busy, s->tx_csum_offload, s->rx_kicks, s->tx_kicks);
	report_info("inet: rx %lu (arp %lu, ip %lu, icmp %lu), arp requests %lu answered %lu, "
		    "echo sent %lu replies %lu answered %lu; dropped: not ours %lu, ethertype "
		    "%lu, proto %lu, other icmp %lu", i->rx_frames, i->rx_arp, i->rx_ip,
		    i->rx_icmp, i->arp_requests, i->arp_answered, i->echo_sent, i->echo_replies,
		    i->echo_answered, i->drop_not_ours, i->drop_ethertype, i->drop_proto,
		    i->drop_icmp_other);
	report(!s->rx_short && !s->rx_long && !s->rx_bad_hdr,
	       "driver saw no short, long or malformed frames (%lu/%lu/%lu)",
	       s->rx_short, s->rx_long, s->rx_bad_hdr);
	report(!i->drop_ip_csum && !i->drop_icmp_csum && !i->drop_ip_len && !i->drop_ip_hdr,
	       "stack saw no bad checksums or lengths");
	report(!nf.broken && !vpci_needs_reset(&nf.pci), "device healthy%s%s",
	       nf.error ? ": " : "", nf.error ? nf.error : "");
}

static void run_pass(unsigned int pass, const struct netfront_opts *o, const char *what,
		     bool last)
{
	unsigned int prefix = 24, ignored;
	uint32_t ip = arg_ipv4("ip", "10.0.2.15/24", &prefix);
	uint32_t peer = arg_ipv4("peer", "10.0.2.2", &ignored);
	struct inet_cfg cfg = { .ip = ip, .netmask = ~0u << (32 - prefix) };
	uint8_t mac[INET_ETH_ALEN] = { 0 };
	int r;

	report_prefix_pushf("pass %u", pass + 1);
	if (!net_open(o, what))
		goto out;
	memcpy(cfg.mac, nf.mac, sizeof(cfg.mac));
	cfg.mtu = MIN(nf.mtu, INET_MTU_MAX);
	cfg.csum_offload = netfront_has(&nf, VIRTIO_NET_F_CSUM);
	cfg.gateway = peer;
	r = inet_init(&st, &cfg, &net_ops, NULL);
	if (!report(r == 0, "stack up as %u.%u.%u.%u/%u: %d", IP_ARGS(ip), prefix, r))
		goto out;
	r = inet_resolve(&st, peer, mac, ARP_TIMEOUT_US);
	if (!report(r == 0, "ARP: %u.%u.%u.%u is at " MAC_FMT " (%d, %lu requests)",
		    IP_ARGS(peer), MAC_ARGS(mac), r,
		    st.stats.arp_requests))
		goto done;
	check_pings(peer, (uint16_t)(0x4e00 + pass), (unsigned int)cmdline_get_u64("pings", 10),
		    PING_BYTES, "small");
	check_pings(peer, (uint16_t)(0x4c00 + pass), LARGE_PINGS, LARGE_BYTES, "large");
	if (netfront_has(&nf, VIRTIO_NET_F_MRG_RXBUF) &&
	    nf.rx_buf < NETFRONT_HDR_LEN + INET_ETH_HLEN + INET_IP_HLEN + 8 + LARGE_BYTES)
		report(nf.stats.rx_merged >= LARGE_PINGS,
		       "large replies reassembled from %u-byte buffers (%lu merged frames)",
		       nf.rx_buf, nf.stats.rx_merged);
	if (pass == 0 && cmdline_get_u64("bulk", 0))
		check_bulk(peer, (unsigned int)MIN(cmdline_get_u64("bulk_count", 256),
						   (uint64_t)BULK_MAX),
			   (unsigned int)MIN(cmdline_get_u64("bulk_size", LARGE_BYTES),
					     (uint64_t)(cfg.mtu - INET_IP_HLEN - 8)));
	if (last && cmdline_get_u64("serve_ms", 0))
		check_serve(cmdline_get_u64("serve_ms", 0));
done:
	net_summary();
out:
	netfront_reset(&nf);
	report_prefix_pop();
}

/* First modern virtio-net function on bus 0; -2 if only a transitional
 * one exists, -1 if none. */
static int net_find(void)
{
	struct pci_dev devs[64];
	int n = pci_scan_bus0(devs, ARRAY_SIZE(devs));
	bool transitional = false;

	for (int i = 0; i < n && i < (int)ARRAY_SIZE(devs); i++) {
		if (devs[i].vendor != VPCI_VENDOR)
			continue;
		if (devs[i].device == NETFRONT_DEVICE_ID)
			return devs[i].bdf;
		transitional = transitional || devs[i].device == VIRTIO_NET_TRANSITIONAL;
	}
	return transitional ? -2 : -1;
}

/* main.c's scenario table declares it too. */
void test_net_run(void);

void test_net_run(void)
{
	const uint64_t ring_features =
		1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	const struct netfront_opts passes[] = {
		{ .features = NETFRONT_FEATURES },
		{ .features = NETFRONT_FEATURES & ~ring_features, .queue_max = 64, .rx_buf = 512 },
	};
	const char *what[] = {
		"all features, page buffers", "512-byte buffers, direct chains, queue 64",
	};
	int bdf;

	report_prefix_push("net");
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	bdf = net_find();
	if (bdf < 0) {
		report_skip("%s", bdf == -2 ? "transitional virtio-net 1af4:1000 not supported "
			    "(QEMU: disable-legacy=on)" : "no virtio-net device 1af4:1041");
		report_prefix_pop();
		return;
	}
	virtio_glue_init(&glue, (uint16_t)bdf);
	report_info("virtio-net at %02x:%02x.%x", PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf));
	for (unsigned int i = 0; i < ARRAY_SIZE(passes); i++)
		run_pass(i, &passes[i], what[i], i + 1 == ARRAY_SIZE(passes));
	report_prefix_pop();
}
