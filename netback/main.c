/* isle-netback: the vhost-user-net backend for one guest NIC, Xen's netback
 * as a process. Sets up the tap (created or opened, MTU, up, on the bridge
 * through rtnetlink or via a Xen-style vif script), then serves one
 * vhost-user frontend at a time on --socket until SIGTERM/SIGINT.
 *
 * The tap may instead come as inherited fds (--tap-fd, one per queue pair:
 * Kata Containers and cloud-hypervisor's API hand over taps they made,
 * maybe in a network namespace we are not in); then a tap in another
 * namespace is served as it is (netback/nb_opts.h checks the fds).
 *
 * Exit status: 0 after a signal, 1 when the tap, bridge, script or sockets
 * cannot be set up (or the main loop fails), 2 for bad usage (tap fds that
 * are not usable included). SIGUSR1 logs the counters; --stats PATH
 * answers every connection with one JSON line. */
#include <errno.h>
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
#include "nb_opts.h"
#include "netback.h"
#include "rtnl.h"
#include "tap.h"

/* What a bridge port gets, as Xen gives its vifs: the highest unicast MAC,
 * so the bridge never takes a port's MAC as its own. */
static const uint8_t nb_port_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

struct nb_main {
	struct nb_opts o;
	char ifname[IFNAMSIZ];
	char mac_str[18];
	int tap_fds[TAP_MAX_QUEUES];
	bool tap_local;                /* in our namespace: we set it up */
	unsigned int mtu;              /* what the config space advertises */
	struct netback *nb;
	struct evloop loop;
	struct vu_server srv;
	int stats_fd;
	struct stat stats_st;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: isle-netback --socket PATH (--tap NAME | --tap-fd N...) [options]\n"
		"  --socket PATH   vhost-user socket to listen on (one frontend at a time)\n"
		"  --tap NAME      tap device to create or open (IFF_VNET_HDR)\n"
		"  --tap-fd N      instead of --tap: an inherited fd of a tap opened with\n"
		"                  IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, once per queue pair\n"
		"                  (as many as --queues); a tap in another network\n"
		"                  namespace is served as it is (no --bridge/--script)\n"
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

/* The tap of --tap-fd: checked and taken (see nb_opts.h). A tap in another
 * network namespace, or one we may not configure, is served as it is: its
 * owner set it up, --bridge and --script cannot reach it (nb_opts_take_fds
 * refuses them before it touches the tap), and --mtu is only what the guest
 * is told. Returns 0, 2 (unusable input) or 1. */
static int take_tap_fds(struct nb_main *m)
{
	char err[256];
	int r = nb_opts_take_fds(&m->o, m->ifname, &m->tap_local, err, sizeof(err));

	if (r) {
		fprintf(stderr, "isle-netback: %s\n", err);
		return r == -EINVAL ? 2 : 1;
	}
	memcpy(m->tap_fds, m->o.tap_fds, sizeof(m->tap_fds));
	if (!m->tap_local)
		log_info("%s: not ours to configure (another network namespace, or no "
			 "CAP_NET_ADMIN there): left as it is%s", m->ifname,
			 m->o.mtu ? "; --mtu is what the guest is told" : "");
	return 0;
}

/* Creates/opens the tap (or takes --tap-fd's), sets it up and puts it on
 * the bridge. Returns 0, or the exit status. */
static int setup_tap(struct nb_main *m)
{
	struct rtnl_link_set set = { .mtu = m->o.mtu, .mac = nb_port_mac, .master = -1, .up = 1 };
	unsigned int ifindex, brindex;
	char kind[32];
	int r;

	if (m->o.nr_tap_fds) {
		if ((r = take_tap_fds(m)))
			return r;
		if (!m->tap_local) {
			m->mtu = m->o.mtu ? m->o.mtu : 1500;
			return 0;
		}
	} else {
		r = tap_open(m->o.tap, m->o.queues, m->tap_fds, m->ifname);
		if (r) {
			log_error("cannot create or open tap %s: %s%s", m->o.tap, strerror(-r),
				  r == -EINVAL ? " (a device of that name that is not a tap, or "
						 "a tap with the other queue mode)" :
				  r == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
			return 1;
		}
	}
	ifindex = if_nametoindex(m->ifname);
	if (!ifindex) {
		log_error("tap %s: %s", m->ifname, strerror(errno));
		return 1;
	}
	if (m->o.bridge && !m->o.script) {
		r = rtnl_link_kind(m->o.bridge, kind, sizeof(kind));
		if (r == -ENODEV) {
			log_error("bridge %s does not exist", m->o.bridge);
			return 1;
		}
		if (!r && strcmp(kind, "bridge")) {
			log_error("%s is not a bridge (it is a %s device)", m->o.bridge,
				  *kind ? kind : "plain");
			return 1;
		}
		brindex = if_nametoindex(m->o.bridge);
		if (r || !brindex) {
			log_error("bridge %s: %s", m->o.bridge, strerror(r ? -r : errno));
			return 1;
		}
		set.master = (int)brindex;
	}
	r = rtnl_link_set(ifindex, &set);
	if (r) {
		log_error("cannot set up tap %s%s%s: %s", m->ifname,
			  set.master > 0 ? " on bridge " : "", set.master > 0 ? m->o.bridge : "",
			  strerror(-r));
		return 1;
	}
	if (m->o.script && run_script(m, "online"))
		return 1;
	m->mtu = tap_mtu(m->ifname);
	if (!m->mtu)
		m->mtu = 1500;
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
		.mtu = m->mtu,
	};
	struct vu_dev_params p;
	sigset_t set;
	int sfd, r;

	memcpy(no.mac, m->o.mac, 6);
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
	char err[256];
	int r;

	log_init("isle-netback");
	r = nb_opts_parse(argc, argv, &m.o, err, sizeof(err));
	if (r == NB_OPTS_HELP) {
		usage(stdout);
		return 0;
	}
	if (r) {
		fprintf(stderr, "isle-netback: %s\n", err);
		fprintf(stderr, "(isle-netback --help lists the options)\n");
		return 2;
	}
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
		r = serve(&m) ? 1 : 0;
		if (m.o.script && run_script(&m, "offline"))
			log_warn("%s offline failed", m.o.script);
	}
	tap_close(m.tap_fds, m.o.queues);
	return r;
}
