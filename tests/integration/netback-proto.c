/* isle-netback driven by our own vhost-user frontend (lib/vhost_user_frontend.c)
 * and a hand-built virtio-net driver in a memfd "guest RAM", in a private
 * network namespace where a packet socket on the tap plays the network: what
 * no real guest does on purpose, with exact expectations.
 *   netback-proto NETBACK
 * Checks: features, queue count and config space (MAC, link up, MTU); a
 * frame sent by the guest arrives on the tap intact, malformed ones
 * (short, checksum beyond the frame, GSO type never offered) do not and are
 * counted by reason; a frame sent into the tap reaches the guest with
 * num_buffers set; a memory table replaced under running queues; a corrupt
 * TX ring signals its err eventfd while RX keeps working; GET_VRING_BASE
 * returns the RX chains the backend held but did not use; a reconnect
 * after the frontend hangs up; exit 0 on SIGTERM.
 *   netback-proto NETBACK tap-fd
 *   netback-proto NETBACK tap-fd-netns
 * The same on a tap the test opened itself (TUNSETIFF with IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR) and hands over as --tap-fd, as Kata Containers
 * does: in isle-netback's own namespace (it sets the tap up as for --tap),
 * or with isle-netback in a namespace of its own, so the tap is in one it
 * is not in (it serves the tap as it is; --mtu is only advertised). Then
 * the tap outlives isle-netback, and one started again on the same fd
 * after a SIGKILL serves it.
 * Prints ok/not ok lines. Exit: 0 pass, 1 fail, 77 skip (not root). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "isle/gmem.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "proto_check.h"

#define RAM_SIZE  (1 * MiB)
#define QSIZE     16
#define RING(q)   (0x10000ULL * (q))          /* desc; avail +0x1000; used +0x2000 */
#define BUF(q, i) (0x40000ULL + 0x20000ULL * (q) + 0x1000ULL * (i))
#define ETHERTYPE 0x88b5                      /* local experimental */
#define RX 0
#define TX 1

static uint8_t *ram;
static struct gmem gm;
static struct vhu_front fr;
static int call[2], err[2], kick[2], pkt = -1;
static uint16_t avail_idx[2], next_desc[2];
static char stats_path[100];

static uint16_t used_idx(unsigned int q)
{
	return __atomic_load_n((uint16_t *)(ram + RING(q) + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

static uint32_t used_len(unsigned int q, uint16_t slot)
{
	return get_le32(ram + RING(q) + 0x2000 + 8 + 8 * (slot % QSIZE));
}

/* One-descriptor chain at the next descriptor of ring q, kicked. */
static void post(unsigned int q, uint64_t gpa, uint32_t len, bool write)
{
	uint16_t d = next_desc[q]++ % QSIZE;
	uint8_t *p = ram + RING(q) + 16 * d;

	put_le64(p, gpa);
	put_le32(p + 8, len);
	put_le16(p + 12, write ? VRING_DESC_F_WRITE : 0);
	put_le16(p + 14, 0);
	put_le16(ram + RING(q) + 0x1000 + 4 + 2 * (avail_idx[q] % QSIZE), d);
	avail_idx[q]++;
	__atomic_store_n((uint16_t *)(ram + RING(q) + 0x1000 + 2), avail_idx[q], __ATOMIC_RELEASE);
	eventfd_write(kick[q], 1);
}

static size_t frame(uint8_t *f, size_t len, uint8_t seed)
{
	memset(f, 0xff, 6);                                   /* broadcast */
	memcpy(f + 6, (uint8_t[]){ 2, 0, 0, 0, 0, seed }, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 3 + seed);
	return len;
}

/* The next frame of ours the tap shows (what isle-netback wrote), or -1. */
static ssize_t capture(uint8_t *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = pkt, .events = POLLIN };
	ssize_t n;

	while (poll(&p, 1, ms) == 1) {
		n = recv(pkt, buf, len, 0);
		if (n >= 14 && buf[12] == ETHERTYPE >> 8 && buf[13] == (ETHERTYPE & 0xff))
			return n;
	}
	return -1;
}

/* A TX chain: header (12 bytes) + frame at BUF(TX, slot). */
static void tx(unsigned int slot, const struct virtio_net_hdr_v1 *h, const uint8_t *f,
	       size_t flen)
{
	memcpy(ram + BUF(TX, slot), h, 12);
	memcpy(ram + BUF(TX, slot) + 12, f, flen);
	post(TX, BUF(TX, slot), (uint32_t)(12 + flen), false);
}

static long stat(const char *key)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[8192], pat[64], *p;
	ssize_t n, got = 0;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", stats_path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	while ((n = read(s, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(s);
	buf[got] = 0;
	/* The "total" object comes last. */
	p = strstr(buf, "\"total\"");
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = p ? strstr(p, pat) : NULL;
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static bool session_start(const char *sock)
{
	uint64_t f, pf, nq, want;
	uint8_t cfg[12];
	int r;

	memset(ram, 0, RAM_SIZE);
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(next_desc, 0, sizeof(next_desc));
	r = vhu_front_connect(&fr, sock);
	if (!r)
		r = vhu_front_get_features(&fr, &f);
	if (r)
		return false;
	want = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU) |
	       BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
	       BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
	       BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CTRL_VQ) |
	       BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_F_VERSION_1);
	ok((f & want) == want, "features offered (%#llx)", (unsigned long long)f);
	r = vhu_front_set_features(&fr, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
					BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
					BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	if (!r)
		r = vhu_front_get_protocol_features(&fr, &pf);
	if (!r)
		r = vhu_front_set_protocol_features(&fr, pf);
	if (!r)
		r = vhu_front_set_owner(&fr);
	if (!r)
		r = vhu_front_get_queue_num(&fr, &nq);
	if (!r)
		r = vhu_front_get_config(&fr, 0, cfg, sizeof(cfg));
	if (r)
		return false;
	ok(nq == 3 && !memcmp(cfg, (uint8_t[]){ 2, 0, 0, 0, 0x42, 1 }, 6) &&
	   get_le16(cfg + 6) == VIRTIO_NET_S_LINK_UP && get_le16(cfg + 8) == 1 &&
	   get_le16(cfg + 10) == 1400,
	   "rings and config space: MAC, link up, 1 pair, MTU %u", get_le16(cfg + 10));
	r = vhu_front_set_mem_table(&fr, &gm);
	for (unsigned int q = 0; q < 2 && !r; q++) {
		r = vhu_front_set_vring_num(&fr, q, QSIZE);
		if (!r)
			r = vhu_front_set_vring_addr(&fr, &gm, q, RING(q), RING(q) + 0x1000,
						     RING(q) + 0x2000);
		if (!r)
			r = vhu_front_set_vring_base(&fr, q, 0);
		if (!r)
			r = vhu_front_set_vring_call(&fr, q, call[q]);
		if (!r)
			r = vhu_front_set_vring_err(&fr, q, err[q]);
		if (!r)
			r = vhu_front_set_vring_kick(&fr, q, kick[q]);
		if (!r)
			r = vhu_front_set_vring_enable(&fr, q, true);
	}
	ok(!r, "handshake, memory table, 2 rings started (%s)", strerror(-r));
	return !r;
}

/* Sends a frame into the tap; true when the guest got it intact in one of
 * the RX buffers (num_buffers 1). */
static bool rx_one(uint8_t seed, size_t len)
{
	uint8_t f[2048];
	uint16_t before = used_idx(RX), id;
	uint32_t ulen;
	uint8_t *b;

	frame(f, len, seed);
	if (send(pkt, f, len, 0) != (ssize_t)len || !wait_fd(call[RX], 5000) ||
	    used_idx(RX) != (uint16_t)(before + 1))
		return false;
	id = (uint16_t)get_le32(ram + RING(RX) + 0x2000 + 4 + 8 * (before % QSIZE));
	ulen = used_len(RX, before);
	b = ram + get_le64(ram + RING(RX) + 16 * id);
	return ulen == 12 + len && get_le16(b + 10) == 1 && !memcmp(b + 12, f, len);
}

static void session1(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, bad;
	uint8_t f[1600], got[2048];
	uint16_t base = 0;
	ssize_t n;
	int r;

	frame(f, 200, 1);
	tx(0, &h, f, 200);
	n = capture(got, sizeof(got), 5000);
	ok(n == 200 && !memcmp(got, f, 200), "guest frame arrives on the tap intact");
	ok(wait_fd(call[TX], 5000) || used_idx(TX) == 1, "TX chain used");

	tx(1, &h, f, 10);                              /* short */
	bad = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					  .csum_start = htole16(190), .csum_offset = htole16(16) };
	tx(2, &bad, f, 200);                           /* checksum beyond the frame */
	bad = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					  .gso_type = VIRTIO_NET_HDR_GSO_UDP,
					  .gso_size = htole16(1000), .csum_start = htole16(34),
					  .csum_offset = htole16(6) };
	tx(3, &bad, f, 1500);                          /* UFO: never offered */
	frame(f, 300, 2);
	tx(4, &h, f, 300);                             /* and a good one after */
	n = capture(got, sizeof(got), 5000);
	ok(n == 300 && got[11] == 2, "malformed frames dropped, the next good one sent");
	for (int i = 0; i < 50 && used_idx(TX) != 5; i++)
		usleep(20000);
	ok(used_idx(TX) == 5 && used_len(TX, 1) == 0, "all five TX chains used");
	ok(stat("tx_packets") == 2 && stat("tx_short") == 1 && stat("tx_bad_hdr") == 2 &&
	   stat("tx_errors") == 3, "counters: 2 sent, 1 short, 2 bad headers");

	for (unsigned int i = 0; i < 4; i++)
		post(RX, BUF(RX, i), 2048, true);
	ok(rx_one(3, 60), "frame sent into the tap reaches the guest (num_buffers 1)");

	/* The same RAM under a new fd, while both rings run. */
	ok(vhu_front_set_mem_table(&fr, &gm) == 0, "memory table replaced while running");
	frame(f, 400, 4);
	tx(5, &h, f, 400);
	n = capture(got, sizeof(got), 5000);
	ok(n == 400 && !memcmp(got, f, 400), "TX after the memory table change");
	ok(rx_one(5, 1414), "RX after the memory table change (an MTU-sized frame)");

	/* Corrupt TX: avail index far beyond the ring. */
	avail_idx[TX] += 100;
	__atomic_store_n((uint16_t *)(ram + RING(TX) + 0x1000 + 2), avail_idx[TX],
			 __ATOMIC_RELEASE);
	eventfd_write(kick[TX], 1);
	ok(wait_fd(err[TX], 5000), "corrupt TX ring signals its err eventfd");
	ok(rx_one(6, 100), "RX still works");
	/* Three packets used three of four RX chains; the fourth was held
	 * (popped) and must be given back. */
	r = vhu_front_get_vring_base(&fr, RX, &base);
	ok(r == 0 && base == 3, "RX stops at base %u: the held chain given back", base);
	vhu_front_close(&fr);
}

enum tap_mode { TAP_NAME, TAP_FD, TAP_FD_NETNS };

/* Whether isle-netback's log has a line with what. */
static bool log_has(const char *path, const char *what)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what);
	if (f)
		fclose(f);
	return found;
}

/* Our own tap, as Kata makes one: the fd is what isle-netback gets. */
static int tap_create(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror("tap");
		exit(1);
	}
	return fd;
}

/* ip link set NAME up, in our namespace (a tap isle-netback does not set up). */
static void link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		exit(1);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		exit(1);
	close(s);
}

/* isle-netback with stderr to logfd: --tap nbproto0, or --tap-fd tapfd (in
 * a new network namespace with TAP_FD_NETNS). Waits for its sockets. */
static pid_t netback_start(const char *exe, enum tap_mode mode, int tapfd, const char *sock,
			   int logfd)
{
	char fdarg[16];
	pid_t pid;

	snprintf(fdarg, sizeof(fdarg), "%d", tapfd);
	unlink(sock);
	unlink(stats_path);
	pid = fork();
	if (pid == 0) {
		dup2(logfd, 2);
		if (mode == TAP_NAME)
			execl(exe, exe, "--socket", sock, "--tap", "nbproto0", "--mtu", "1400",
			      "--mac", "02:00:00:00:42:01", "--stats", stats_path, (char *)NULL);
		if (mode == TAP_FD_NETNS && unshare(CLONE_NEWNET) < 0)
			_exit(126);
		if (fcntl(tapfd, F_SETFD, 0) < 0)   /* inherited */
			_exit(126);
		execl(exe, exe, "--socket", sock, "--tap-fd", fdarg, "--mtu", "1400",
		      "--mac", "02:00:00:00:42:01", "--stats", stats_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && (access(sock, F_OK) || access(stats_path, F_OK)); i++)
		usleep(50000);
	return pid;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/isle-nbproto.XXXXXX", sock[100], logp[128];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	enum tap_mode mode = TAP_NAME;
	int memfd, st, logfd, tapfd = -1;
	uint8_t f[256], got[2048];
	pid_t pid;

	if (argc == 3 && !strcmp(argv[2], "tap-fd"))
		mode = TAP_FD;
	else if (argc == 3 && !strcmp(argv[2], "tap-fd-netns"))
		mode = TAP_FD_NETNS;
	else if (argc != 2) {
		fprintf(stderr, "usage: netback-proto NETBACK [tap-fd|tap-fd-netns]\n");
		return 2;
	}
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: needs root and network namespaces\n");
		return 77;
	}
	log_init("netback-proto");
	signal(SIGPIPE, SIG_IGN);
	/* Nothing of the kernel's own (IPv6 DAD, MLD) on the tap. */
	for (const char *p = "/proc/sys/net/ipv6/conf/default/disable_ipv6"; p;
	     p = strstr(p, "default") ? "/proc/sys/net/ipv6/conf/all/disable_ipv6" : NULL) {
		int fd = open(p, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "1", 1) < 0)
				perror(p);
			close(fd);
		}
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(stats_path, sizeof(stats_path), "%s/stats", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	logfd = open(logp, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0)
		return 1;
	if (mode != TAP_NAME)
		tapfd = tap_create("nbproto0");
	pid = netback_start(argv[1], mode, tapfd, sock, logfd);
	if (mode == TAP_FD_NETNS)
		link_up("nbproto0");   /* its owner's job: isle-netback cannot reach it */
	sll.sll_ifindex = (int)if_nametoindex("nbproto0");
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (!sll.sll_ifindex || pkt < 0 || bind(pkt, (struct sockaddr *)&sll, sizeof(sll))) {
		printf("not ok - tap nbproto0 and a packet socket on it\n");
		kill(pid, SIGKILL);
		return 1;
	}
	if (mode != TAP_NAME) {
		struct ifreq ifr = { .ifr_name = "nbproto0" };
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (mode == TAP_FD)
			ok(s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == 1400 &&
			   ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP),
			   "--tap-fd in our namespace: isle-netback set MTU 1400 and up");
		else
			ok(s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == 1500 &&
			   log_has(logp, "nbproto0: not ours to configure"),
			   "--tap-fd in another namespace: left as it is (MTU 1500; 1400 "
			   "advertised)");
		close(s);
	}
	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, RAM_SIZE))
		return 1;
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED || gmem_add(&gm, 0, RAM_SIZE, ram, memfd, 0))
		return 1;
	for (unsigned int q = 0; q < 2; q++) {
		call[q] = eventfd(0, EFD_CLOEXEC);
		err[q] = eventfd(0, EFD_CLOEXEC);
		kick[q] = eventfd(0, EFD_CLOEXEC);
	}

	if (session_start(sock))
		session1();

	/* Session 2: the server took the hang-up and serves again. */
	usleep(100000);
	if (session_start(sock)) {
		frame(f, 100, 9);
		tx(0, &(struct virtio_net_hdr_v1){ 0 }, f, 100);
		ok(capture(got, sizeof(got), 5000) == 100 && got[11] == 9,
		   "new connection transmits");
		/* Counted before the chain is used (the frame may be seen
		 * on the tap earlier). */
		for (int i = 0; i < 250 && used_idx(TX) != 1; i++)
			usleep(20000);
		ok(stat("tx_packets") == 4, "counters survive the reconnect (%ld)",
		   stat("tx_packets"));
		vhu_front_close(&fr);
	}

	if (mode != TAP_NAME) {
		/* As isle restarts a dead one: a new process on the same fd. */
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ok(if_nametoindex("nbproto0") != 0, "SIGKILL: the tap stays, ours");
		pid = netback_start(argv[1], mode, tapfd, sock, logfd);
		if (session_start(sock)) {
			frame(f, 120, 11);
			tx(0, &(struct virtio_net_hdr_v1){ 0 }, f, 120);
			ok(capture(got, sizeof(got), 5000) == 120 && got[11] == 11,
			   "isle-netback started again on the same --tap-fd transmits");
			for (unsigned int i = 0; i < 4; i++)
				post(RX, BUF(RX, i), 2048, true);
			ok(rx_one(12, 80), "and receives");
			vhu_front_close(&fr);
		}
	}

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "isle-netback exits 0 on SIGTERM");
	if (mode != TAP_NAME) {
		ok(if_nametoindex("nbproto0") != 0, "the tap stays while we hold its fd");
		close(tapfd);
	}
	ok(if_nametoindex("nbproto0") == 0, "tap removed");
	if (failed) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "cat %s", logp);
		printf("--- isle-netback log\n");
		fflush(stdout);
		if (system(cmd))
			printf("(no log)\n");
	}
	unlink(logp);
	unlink(sock);
	rmdir(dir);
	return failed;
}
