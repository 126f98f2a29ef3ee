/* isle-netback: the vhost-user-net backend for one guest NIC, Xen's netback
 * as a process. Sets up the tap (created or opened, MTU, up, on the bridge
 * through rtnetlink or via a Xen-style vif script), then serves one
 * vhost-user frontend at a time on --socket until SIGTERM/SIGINT.
 *
 * Exit status: 0 after a signal, 1 when the tap, bridge, script or sockets
 * cannot be set up (or the main loop fails), 2 for bad usage. SIGUSR1 logs
 * the counters; --stats PATH answers every connection with one JSON line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isle/evloop.h"
#include "isle/log.h"
#include "isle/usock.h"
#include "isle/vu_server.h"
#include "netback.h"
#include "rtnl.h"
#include "tap.h"

/* What a bridge port gets, as Xen gives its vifs: the highest unicast MAC,
 * so the bridge never takes a port's MAC as its own. */
static const uint8_t nb_port_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

struct nb_opts {
	const char *socket, *tap, *bridge, *script, *stats;
	uint8_t mac[6];
	bool mac_set;
	unsigned int queues, mtu;
};

struct nb_main {
	struct nb_opts o;
	char ifname[IFNAMSIZ];
	char mac_str[18];
	int tap_fds[TAP_MAX_QUEUES];
	struct netback *nb;
	struct evloop loop;
	struct vu_server srv;
	int stats_fd;
	struct stat stats_st;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: isle-netback --socket PATH --tap NAME [options]\n"
		"  --socket PATH   vhost-user socket to listen on (one frontend at a time)\n"
		"  --tap NAME      tap device to create or open (IFF_VNET_HDR)\n"
		"  --bridge BR     attach the tap to bridge BR (rtnetlink)\n"
		"  --mac MAC       the guest's MAC (default: random 00:16:3e:xx:xx:xx)\n"
		"  --queues N      queue pairs, 1-%d (N > 1: multi-queue tap)\n"
		"  --mtu N         the tap's MTU, 68-65535 (default: keep; 1500 when new)\n"
		"  --script PATH   run `PATH online` (env vif, bridge, mac[, mtu]) instead\n"
		"                  of attaching the tap ourselves; `PATH offline` on exit\n"
		"  --stats PATH    unix socket answering each connection with the counters\n"
		"                  as one JSON line\n"
		"  --help          this text\n"
		"SIGUSR1 logs the counters; SIGTERM/SIGINT exit cleanly.\n",
		TAP_MAX_QUEUES);
}

static bool parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return false;
	*out = (unsigned int)v;
	return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* A guest MAC must be unicast and not all zeroes. */
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* 0, or the exit status for bad usage (2) / --help (-1: exit 0). */
static int parse_args(int argc, char **argv, struct nb_opts *o)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' }, { "tap", required_argument, NULL, 't' },
		{ "bridge", required_argument, NULL, 'b' }, { "mac", required_argument, NULL, 'm' },
		{ "queues", required_argument, NULL, 'q' }, { "mtu", required_argument, NULL, 'M' },
		{ "script", required_argument, NULL, 'S' }, { "stats", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	int c;

	o->queues = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 't': o->tap = optarg; break;
		case 'b': o->bridge = optarg; break;
		case 'S': o->script = optarg; break;
		case 'T': o->stats = optarg; break;
		case 'm':
			if (!parse_mac(optarg, o->mac)) {
				fprintf(stderr, "isle-netback: bad --mac %s (want a unicast "
					"xx:xx:xx:xx:xx:xx)\n", optarg);
				return 2;
			}
			o->mac_set = true;
			break;
		case 'q':
			if (!parse_uint(optarg, 1, TAP_MAX_QUEUES, &o->queues)) {
				fprintf(stderr, "isle-netback: bad --queues %s (1-%d)\n", optarg,
					TAP_MAX_QUEUES);
				return 2;
			}
			break;
		case 'M':
			if (!parse_uint(optarg, 68, 65535, &o->mtu)) {
				fprintf(stderr, "isle-netback: bad --mtu %s (68-65535)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o->socket || !o->tap) {
		fprintf(stderr, "isle-netback: %s\n", optind < argc ? "unexpected argument" :
			"--socket and --tap are required");
		usage(stderr);
		return 2;
	}
	if (!*o->tap || strlen(o->tap) >= IFNAMSIZ || strchr(o->tap, '/') ||
	    (o->bridge && (!*o->bridge || strlen(o->bridge) >= IFNAMSIZ))) {
		fprintf(stderr, "isle-netback: interface names are 1-%d characters\n",
			IFNAMSIZ - 1);
		return 2;
	}
	return 0;
}

/* Runs the vif script the Xen way: `SCRIPT ACTION` with the interface, the
 * bridge, the guest's MAC (and MTU if given) in the environment. */
static int run_script(struct nb_main *m, const char *action)
{
	sigset_t none;
	char mtu[16];
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);   /* ours are blocked */
		setenv("vif", m->ifname, 1);
		setenv("mac", m->mac_str, 1);
		if (m->o.bridge)
			setenv("bridge", m->o.bridge, 1);
		if (m->o.mtu) {
			snprintf(mtu, sizeof(mtu), "%u", m->o.mtu);
			setenv("mtu", mtu, 1);
		}
		execl(m->o.script, m->o.script, action, (char *)NULL);
		fprintf(stderr, "isle-netback: cannot run %s: %s\n", m->o.script, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	log_error("%s %s %s: %s %d", m->o.script, action, m->ifname,
		  WIFEXITED(st) ? "exit status" : "killed by signal",
		  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -ECHILD;
}

static unsigned int tap_mtu(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	r = ioctl(fd, SIOCGIFMTU, &ifr);
	close(fd);
	return r < 0 ? 0 : (unsigned int)ifr.ifr_mtu;
}

/* Creates/opens the tap, sets it up and puts it on the bridge. */
static int setup_tap(struct nb_main *m)
{
	struct rtnl_link_set set = { .mtu = m->o.mtu, .mac = nb_port_mac, .master = -1, .up = 1 };
	unsigned int ifindex, brindex;
	char kind[32];
	int r;

	r = tap_open(m->o.tap, m->o.queues, m->tap_fds, m->ifname);
	if (r) {
		log_error("cannot create or open tap %s: %s%s", m->o.tap, strerror(-r),
			  r == -EINVAL ? " (a device of that name that is not a tap, or a tap "
					 "with the other queue mode)" :
			  r == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return r;
	}
	ifindex = if_nametoindex(m->ifname);
	if (!ifindex)
		return -errno;
	if (m->o.bridge && !m->o.script) {
		r = rtnl_link_kind(m->o.bridge, kind, sizeof(kind));
		if (r == -ENODEV) {
			log_error("bridge %s does not exist", m->o.bridge);
			return r;
		}
		if (!r && strcmp(kind, "bridge")) {
			log_error("%s is not a bridge (it is a %s device)", m->o.bridge,
				  *kind ? kind : "plain");
			return -EINVAL;
		}
		brindex = if_nametoindex(m->o.bridge);
		if (r || !brindex) {
			log_error("bridge %s: %s", m->o.bridge, strerror(r ? -r : errno));
			return r ? r : -ENODEV;
		}
		set.master = (int)brindex;
	}
	r = rtnl_link_set(ifindex, &set);
	if (r) {
		log_error("cannot set up tap %s%s%s: %s", m->ifname,
			  set.master > 0 ? " on bridge " : "", set.master > 0 ? m->o.bridge : "",
			  strerror(-r));
		return r;
	}
	if (m->o.script) {
		r = run_script(m, "online");
		if (r)
			return r;
	}
	return 0;
}

static void on_signal(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct nb_main *m = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		netback_stats_log(m->nb);
		return;
	}
	log_info("signal %u: exiting", si.ssi_signo);
	evloop_stop(loop);
}

static void on_stats(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct nb_main *m = opaque;
	char buf[16384];
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), n;

	if (c < 0)
		return;
	n = netback_stats_json(m->nb, buf, sizeof(buf));
	/* One line into an empty socket buffer: it fits, or the reader
	 * gets a short line; never block the main loop on it. */
	if (n > 0 && send(c, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("stats: %s", strerror(errno));
	close(c);
}

/* The stats socket (isle/usock.h: a stale socket file is replaced). */
static int stats_listen(struct nb_main *m, const char *path)
{
	int fd = usock_listen(path, 8, &m->stats_st, NULL);
	int r;

	if (fd < 0)
		return fd;
	r = evloop_add(&m->loop, fd, EPOLLIN, on_stats, m);
	if (r) {
		close(fd);
		usock_unlink_own(path, &m->stats_st);
		return r;
	}
	m->stats_fd = fd;
	return 0;
}

static void on_connected(struct vu_server *s)
{
	netback_set_connected(s->priv, true);
}

static void on_disconnected(struct vu_server *s)
{
	netback_set_connected(s->priv, false);
}

static const struct vu_server_hooks nb_hooks = {
	.connected = on_connected,
	.disconnected = on_disconnected,
};

/* Everything after the tap: signals, threads, sockets, the loop. */
static int serve(struct nb_main *m)
{
	struct netback_opts no = {
		.ifname = m->ifname, .tap_fds = m->tap_fds, .queues = m->o.queues,
		.mtu = tap_mtu(m->ifname),
	};
	struct vu_dev_params p;
	sigset_t set;
	int sfd, r;

	memcpy(no.mac, m->o.mac, 6);
	if (!no.mtu)
		no.mtu = 1500;
	/* Before any thread exists, so every thread has them blocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	r = evloop_init(&m->loop);
	if (r)
		goto out_sfd;
	r = evloop_add(&m->loop, sfd, EPOLLIN, on_signal, m);
	if (!r)
		r = netback_create(&m->nb, &no, &m->loop);
	if (r) {
		log_error("cannot start the queue threads: %s", strerror(-r));
		goto out_loop;
	}
	netback_params(m->nb, &p);
	r = vu_server_open(&m->srv, &m->loop, m->o.socket, &netback_vu_ops, &p, m->nb, &nb_hooks);
	if (r) {
		log_error("cannot listen on %s: %s%s", m->o.socket, strerror(-r),
			  r == -EADDRINUSE ? " (another server is serving it)" :
			  r == -EEXIST ? " (exists and is not a socket)" : "");
		goto out_nb;
	}
	if (m->o.stats) {
		r = stats_listen(m, m->o.stats);
		if (r) {
			log_error("cannot listen on %s: %s", m->o.stats, strerror(-r));
			goto out_srv;
		}
	}
	log_info("%s: serving %u queue pair%s on %s (guest MAC %s, MTU %u%s%s)", m->ifname,
		 m->o.queues, m->o.queues > 1 ? "s" : "", m->o.socket, m->mac_str, no.mtu,
		 m->o.bridge ? ", bridge " : "", m->o.bridge ? m->o.bridge : "");
	r = evloop_run(&m->loop);
	if (r)
		log_error("main loop: %s", strerror(-r));
	if (m->stats_fd >= 0) {
		evloop_del(&m->loop, m->stats_fd);
		close(m->stats_fd);
		usock_unlink_own(m->o.stats, &m->stats_st);
	}
out_srv:
	vu_server_close(&m->srv);   /* stops every ring */
out_nb:
	netback_destroy(m->nb);
out_loop:
	evloop_fini(&m->loop);
out_sfd:
	close(sfd);
	return r;
}

int main(int argc, char **argv)
{
	struct nb_main m = { .stats_fd = -1 };
	int r;

	log_init("isle-netback");
	r = parse_args(argc, argv, &m.o);
	if (r)
		return r < 0 ? 0 : r;
	if (!m.o.mac_set) {
		/* Xen's OUI, as xl gives vifs without a MAC. */
		m.o.mac[0] = 0x00;
		m.o.mac[1] = 0x16;
		m.o.mac[2] = 0x3e;
		if (getrandom(m.o.mac + 3, 3, 0) != 3)
			return 1;
		m.o.mac[3] &= 0x7f;
	}
	snprintf(m.mac_str, sizeof(m.mac_str), "%02x:%02x:%02x:%02x:%02x:%02x", m.o.mac[0],
		 m.o.mac[1], m.o.mac[2], m.o.mac[3], m.o.mac[4], m.o.mac[5]);
	for (unsigned int i = 0; i < TAP_MAX_QUEUES; i++)
		m.tap_fds[i] = -1;
	r = setup_tap(&m);
	if (!r) {
		r = serve(&m);
		if (m.o.script && run_script(&m, "offline"))
			log_warn("%s offline failed", m.o.script);
	}
	tap_close(m.tap_fds, m.o.queues);
	return r ? 1 : 0;
}
