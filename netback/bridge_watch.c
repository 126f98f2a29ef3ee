/* isle-bridge-watch: keeps the bridges made by bridge-scripts/network-bridge
 * attached to an uplink NIC while NICs come and go.
 *
 * Owns: the udev monitor loop and the decision when to run
 *     network-bridge rebind netdev=NEW bridge=BR
 *
 * Policy: see bridge_policy.h (parsed there; --policy FILE, default
 * /etc/isle/bridges.conf).
 *
 * Contract:
 *  - The watcher changes nothing itself. network-bridge records a bridge's
 *    uplink in the bridge's ifalias ("isle: uplink=DEV"); when that device
 *    is not a port of the bridge (removed, or back but detached), the
 *    watcher runs the script's rebind with the first usable candidate:
 *    the recorded uplink itself if it is back, then uplink=, then the
 *    fallbacks in order. Usable = exists, is not a bridge, has no master.
 *    The script does every check and change, under its lock.
 *  - No failback: a bridge that runs on a fallback stays there when the
 *    preferred NIC returns (moving again would drop traffic for nothing).
 *  - Bridges not (yet) present or not made by network-bridge are skipped
 *    with one message per state change.
 *  - Events (udev monitor, subsystem "net", any action) only trigger a
 *    re-read of the whole state from sysfs, so a lost or reordered event
 *    (buffer overrun, rename races) costs nothing. A failed rebind is
 *    retried on the next event or after a backoff (5 s doubling to 10 min).
 *  - --once: read the state, act, drain the events already queued (acting
 *    again if there were any), exit: 0 if every rebind tried succeeded,
 *    1 if one failed. Without --once it runs until SIGTERM/SIGINT; SIGHUP
 *    re-reads the policy. Exit 2: bad usage or policy.
 *  - Event source: udevd's (processed: names are final) when udevd runs
 *    and we are in the initial network namespace; else the kernel's, which
 *    is the only one that sees devices of other network namespaces.
 *  - State comes from /sys/class/net, which must belong to our network
 *    namespace (ip netns exec remounts it); a mismatch is reported. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <libudev.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isle/log.h"
#include "bridge_policy.h"

#ifndef ISLE_BRIDGE_SCRIPT
#define ISLE_BRIDGE_SCRIPT "/usr/local/libexec/isle/network-bridge"
#endif
#define DEFAULT_POLICY "/etc/isle/bridges.conf"
#define RETRY_MIN_MS 5000
#define RETRY_MAX_MS 600000

extern char **environ;

enum bstate {
	ST_UNKNOWN, ST_NO_BRIDGE, ST_UNMANAGED, ST_OK, ST_WAITING, ST_FAILED,
};

struct watch {
	struct bridge_policy pol;
	const char *policy_path;
	char script[PATH_MAX];
	bool once;
	enum bstate state[BP_MAX_BRIDGES];
	unsigned failed;                /* rebinds that failed so far */
	int retry_ms;                   /* -1: nothing to retry */
};

static int load_policy(const char *path, struct bridge_policy *p)
{
	static char buf[BP_MAX_FILE + 1];
	char err[256];
	size_t len = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot open policy %s: %s", path, strerror(errno));
		return -1;
	}
	/* Read one byte more than allowed so the parser sees the overrun. */
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("cannot read policy %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (bp_parse(p, buf, len, path, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/* ---- state, from sysfs --------------------------------------------------- */

static bool sysfs_has(const char *a, const char *b, const char *c)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
	return lstat(path, &st) == 0;
}

static bool dev_exists(const char *name)
{
	/* An ioctl on a socket: answers for our namespace whatever /sys is. */
	return if_nametoindex(name) != 0;
}

static bool is_bridge(const char *name)
{
	return sysfs_has(name, "bridge", NULL);
}

static bool has_master(const char *name)
{
	return sysfs_has(name, "master", NULL);
}

static bool is_port_of(const char *dev, const char *br)
{
	return sysfs_has(br, "brif", dev);
}

/* The uplink network-bridge recorded in BR's ifalias, into UP. */
static int recorded_uplink(const char *br, char up[BP_NAME_MAX + 1])
{
	static const char mark[] = "isle: uplink=";
	char path[PATH_MAX], buf[256];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/ifalias", br);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strncmp(buf, mark, sizeof(mark) - 1))
		return -1;
	n = strcspn(buf + sizeof(mark) - 1, " \n");
	if (!bp_name_ok(buf + sizeof(mark) - 1, n))
		return -1;
	memcpy(up, buf + sizeof(mark) - 1, n);
	up[n] = '\0';
	return 0;
}

/* /sys/class/net from another namespace would make every answer wrong;
 * say so once at start instead of misbehaving quietly. */
static void check_sysfs_namespace(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char path[PATH_MAX];

	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++) {
		unsigned idx = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", i->if_name);
		f = fopen(path, "re");
		if (!f || fscanf(f, "%u", &idx) != 1 || idx != i->if_index) {
			log_warn("/sys/class/net does not show this network namespace "
				 "(%s); mount a sysfs for it (ip netns exec does)", i->if_name);
			if (f)
				fclose(f);
			break;
		}
		fclose(f);
	}
	if_freenameindex(ifs);
}

/* ---- acting ------------------------------------------------------------- */

static int run_rebind(struct watch *w, const char *br, const char *dev)
{
	char verb[] = "rebind", a_net[32], a_br[32];
	char *argv[] = { w->script, verb, a_net, a_br, NULL };
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	pid_t pid;
	int rc, st;

	snprintf(a_net, sizeof(a_net), "netdev=%s", dev);
	snprintf(a_br, sizeof(a_br), "bridge=%s", br);
	/* Our signals are blocked (read via signalfd); the script must get
	 * them normally, so reset mask and dispositions in the child. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	log_info("%s: running %s rebind %s %s", br, w->script, a_net, a_br);
	rc = posix_spawn(&pid, w->script, NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		log_error("%s: cannot run %s: %s", br, w->script, strerror(rc));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			log_error("%s: waitpid: %s", br, strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		log_error("%s: rebind to %s failed (exit status %d)", br, dev, WEXITSTATUS(st));
	else
		log_error("%s: rebind to %s killed by signal %d", br, dev,
			  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -1;
}

/* Logs MSG only when entry I enters state S, so steady states are quiet. */
static void note(struct watch *w, unsigned i, enum bstate s, enum log_level lvl,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void note(struct watch *w, unsigned i, enum bstate s, enum log_level lvl,
		 const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (w->state[i] == s)
		return;
	w->state[i] = s;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(lvl, "%s", buf);
}

static bool usable(const char *dev)
{
	return dev_exists(dev) && !is_bridge(dev) && !has_master(dev);
}

static void reconcile_one(struct watch *w, unsigned i)
{
	const struct bp_entry *e = &w->pol.e[i];
	char up[BP_NAME_MAX + 1];
	const char *pick = NULL, *gone;
	unsigned k;

	if (!dev_exists(e->bridge) || !is_bridge(e->bridge)) {
		note(w, i, ST_NO_BRIDGE, LOG_INFO, "%s: no such bridge (yet); waiting", e->bridge);
		return;
	}
	if (recorded_uplink(e->bridge, up)) {
		note(w, i, ST_UNMANAGED, LOG_WARN,
		     "%s: not made by network-bridge (no uplink in its ifalias); ignored", e->bridge);
		return;
	}
	if (is_port_of(up, e->bridge)) {
		note(w, i, ST_OK, LOG_INFO, "%s: uplink %s attached", e->bridge, up);
		return;
	}
	/* The recorded uplink back (a NIC replugged, a driver reloaded) is the
	 * least surprising choice; then the policy's order. */
	if (usable(up))
		pick = up;
	for (k = 0; !pick && k < e->ncand; k++)
		if (usable(e->cand[k]))
			pick = e->cand[k];
	gone = dev_exists(up) ? "is detached" : "is gone";
	if (!pick) {
		note(w, i, ST_WAITING, LOG_WARN, "%s: uplink %s %s and no replacement "
		     "is present; waiting", e->bridge, up, gone);
		return;
	}
	log_info("%s: uplink %s %s; rebinding to %s", e->bridge, up, gone, pick);
	if (run_rebind(w, e->bridge, pick) == 0) {
		w->state[i] = ST_OK;
		log_info("%s: uplink is now %s", e->bridge, pick);
		return;
	}
	w->failed++;
	w->state[i] = ST_FAILED;
}

static void reconcile(struct watch *w)
{
	bool failing = false;
	unsigned i;

	for (i = 0; i < w->pol.n; i++) {
		reconcile_one(w, i);
		failing |= w->state[i] == ST_FAILED;
	}
	if (!failing)
		w->retry_ms = -1;
	else if (w->retry_ms < 0)
		w->retry_ms = RETRY_MIN_MS;
	else
		w->retry_ms = w->retry_ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : w->retry_ms * 2;
}

/* ---- events --------------------------------------------------------------- */

static bool in_initial_netns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) || stat("/proc/1/ns/net", &init))
		return false;
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

static struct udev_monitor *open_monitor(struct udev *udev, const char *source)
{
	struct udev_monitor *mon;

	if (!strcmp(source, "auto"))
		source = access("/run/udev/control", F_OK) == 0 && in_initial_netns() ? "udev" : "kernel";
	mon = udev_monitor_new_from_netlink(udev, source);
	if (!mon) {
		log_error("cannot open the %s event monitor: %s", source, strerror(errno));
		return NULL;
	}
	if (udev_monitor_filter_add_match_subsystem_devtype(mon, "net", NULL) < 0 ||
	    udev_monitor_enable_receiving(mon) < 0) {
		log_error("cannot start the %s event monitor: %s", source, strerror(errno));
		udev_monitor_unref(mon);
		return NULL;
	}
	/* Bursts (many vifs at once) must not overflow the socket; if one
	 * does anyway, the full re-read after every wakeup covers it. */
	udev_monitor_set_receive_buffer_size(mon, 4 * 1024 * 1024);
	log_debug("listening to %s events", source);
	return mon;
}

/* Reads every queued event; returns how many concerned network devices. */
static unsigned drain(struct udev_monitor *mon)
{
	struct pollfd pfd = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };
	unsigned n = 0;

	while (poll(&pfd, 1, 0) > 0) {
		struct udev_device *d = udev_monitor_receive_device(mon);
		const char *sub;

		if (!d)
			continue;       /* filtered out or unreadable: consumed anyway */
		sub = udev_device_get_subsystem(d);
		if (sub && !strcmp(sub, "net")) {
			log_debug("event: %s %s", udev_device_get_action(d) ?: "?",
				  udev_device_get_sysname(d) ?: "?");
			n++;
		}
		udev_device_unref(d);
	}
	return n;
}

static void reload(struct watch *w)
{
	static struct bridge_policy fresh;

	if (load_policy(w->policy_path, &fresh)) {
		log_warn("keeping the previous policy");
		return;
	}
	w->pol = fresh;
	memset(w->state, 0, sizeof(w->state));
	log_info("reloaded %s: %u bridge(s)", w->policy_path, w->pol.n);
}

/* ---- set-up ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: isle-bridge-watch [--policy FILE] [--script PATH] [--once] [--check]\n"
		"                         [--source auto|udev|kernel] [--verbose]\n"
		"  --policy FILE  bridge policy (default " DEFAULT_POLICY "), lines like\n"
		"                 bridge=xenbr1 uplink=eth1 fallback=eth0\n"
		"  --script PATH  network-bridge to run (default: next to this binary,\n"
		"                 else " ISLE_BRIDGE_SCRIPT ")\n"
		"  --once         act on the current state and queued events, then exit\n"
		"  --check        parse the policy, print it normalised, exit\n"
		"  --source SRC   event source (default auto: udev if udevd runs here)\n"
		"  --verbose      log every event (also ISLE_LOG=debug)\n");
}

static int find_script(struct watch *w, const char *given)
{
	char self[PATH_MAX];
	ssize_t n;

	if (given) {
		if (strlen(given) >= sizeof(w->script)) {
			log_error("--script path too long");
			return -1;
		}
		strcpy(w->script, given);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		w->script[0] = '\0';
		if (n > 0) {
			self[n] = '\0';
			snprintf(w->script, sizeof(w->script), "%s/network-bridge", dirname(self));
		}
		if (!w->script[0] || access(w->script, X_OK))
			snprintf(w->script, sizeof(w->script), "%s", ISLE_BRIDGE_SCRIPT);
	}
	if (access(w->script, X_OK)) {
		log_error("%s: not executable (%s); use --script", w->script, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "script", required_argument, NULL, 's' },
		{ "once", no_argument, NULL, 'o' },
		{ "check", no_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct watch w;
	const char *script = NULL, *source = "auto";
	bool check = false;
	struct udev *udev;
	struct udev_monitor *mon;
	sigset_t sigs;
	int opt, sfd;
	unsigned i, k;

	log_init("isle-bridge-watch");
	w.policy_path = DEFAULT_POLICY;
	w.retry_ms = -1;
	while ((opt = getopt_long(argc, argv, "p:s:S:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': w.policy_path = optarg; break;
		case 's': script = optarg; break;
		case 'o': w.once = true; break;
		case 'c': check = true; break;
		case 'S': source = optarg; break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (strcmp(source, "auto") && strcmp(source, "udev") &&
			       strcmp(source, "kernel"))) {
		usage(stderr);
		return 2;
	}
	if (load_policy(w.policy_path, &w.pol))
		return 2;
	if (check) {
		for (i = 0; i < w.pol.n; i++) {
			printf("bridge=%s uplink=%s", w.pol.e[i].bridge, w.pol.e[i].cand[0]);
			for (k = 1; k < w.pol.e[i].ncand; k++)
				printf("%s%s", k == 1 ? " fallback=" : ",", w.pol.e[i].cand[k]);
			printf("\n");
		}
		return 0;
	}
	if (find_script(&w, script))
		return 2;
	if (w.pol.n == 0)
		log_warn("%s lists no bridges; nothing to do", w.policy_path);
	check_sysfs_namespace();

	/* Signals arrive through the poll loop, never in the middle of a
	 * rebind; SIGPIPE is irrelevant here (no sockets we write). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return 1;
	}
	udev = udev_new();
	if (!udev) {
		log_error("udev_new failed");
		return 1;
	}
	/* Listen before the first look, so nothing falls between the two. */
	mon = open_monitor(udev, source);
	if (!mon)
		return 1;
	reconcile(&w);
	if (w.once) {
		if (drain(mon))
			reconcile(&w);
		udev_monitor_unref(mon);
		udev_unref(udev);
		return w.failed ? 1 : 0;
	}
	log_info("watching %u bridge(s) from %s", w.pol.n, w.policy_path);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = udev_monitor_get_fd(mon), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		int r = poll(pfd, 2, w.retry_ms);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload(&w);
				} else {
					log_info("signal %u: exiting", si.ssi_signo);
					udev_monitor_unref(mon);
					udev_unref(udev);
					return 0;
				}
			}
		}
		if (pfd[0].revents)
			drain(mon);
		/* Events, a reload or the retry timer: look at everything again. */
		reconcile(&w);
	}
	udev_monitor_unref(mon);
	udev_unref(udev);
	return 1;
}
