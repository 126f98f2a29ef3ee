/* isle-netback's command line and the tap fds it names (contract in
 * netback/nb_opts.h). Messages quote the user's input through err_msg, so
 * each is one printable line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>

#include "isle/log.h"
#include "nb_opts.h"

static bool nb_parse_uint(const char *s, unsigned long min, unsigned long max,
			  unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s < '0' || *s > '9' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool nb_parse_mac(const char *s, uint8_t mac[6])
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

static int nb_add_tap_fd(struct nb_opts *o, const char *arg, char *err, size_t errlen)
{
	unsigned long v;

	/* 0-2 are stdio: never a tap handed over. */
	if (!nb_parse_uint(arg, 3, INT_MAX, &v))
		return err_msg(err, errlen, -EINVAL, "bad --tap-fd %.24s (an open fd number, 3 "
				"or more)", arg);
	for (unsigned int i = 0; i < o->nr_tap_fds; i++)
		if (o->tap_fds[i] == (int)v)
			return err_msg(err, errlen, -EINVAL, "--tap-fd %lu given twice", v);
	if (o->nr_tap_fds == TAP_MAX_QUEUES)
		return err_msg(err, errlen, -EINVAL, "more than %d --tap-fd (one per queue pair)",
				TAP_MAX_QUEUES);
	o->tap_fds[o->nr_tap_fds++] = (int)v;
	return 0;
}

int nb_opts_parse(int argc, char **argv, struct nb_opts *o, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' }, { "tap", required_argument, NULL, 't' },
		{ "tap-fd", required_argument, NULL, 'F' },
		{ "bridge", required_argument, NULL, 'b' }, { "mac", required_argument, NULL, 'm' },
		{ "queues", required_argument, NULL, 'q' }, { "mtu", required_argument, NULL, 'M' },
		{ "script", required_argument, NULL, 'S' }, { "stats", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c, r;

	memset(o, 0, sizeof(*o));
	for (unsigned int i = 0; i < TAP_MAX_QUEUES; i++)
		o->tap_fds[i] = -1;
	o->queues = 1;
	if (errlen)
		err[0] = '\0';
	optind = 0;   /* glibc: a full re-initialisation */
	opterr = 0;
	/* "+": stop at the first non-option (nothing is permuted); ":":
	 * a missing value is ':', not '?'. */
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 't': o->tap = optarg; break;
		case 'b': o->bridge = optarg; break;
		case 'S': o->script = optarg; break;
		case 'T': o->stats = optarg; break;
		case 'F':
			if ((r = nb_add_tap_fd(o, optarg, err, errlen)))
				return r;
			break;
		case 'm':
			if (!nb_parse_mac(optarg, o->mac))
				return err_msg(err, errlen, -EINVAL, "bad --mac %.24s (want a "
						"unicast xx:xx:xx:xx:xx:xx)", optarg);
			o->mac_set = true;
			break;
		case 'q':
			if (!nb_parse_uint(optarg, 1, TAP_MAX_QUEUES, &v))
				return err_msg(err, errlen, -EINVAL, "bad --queues %.24s (1-%d)",
						optarg, TAP_MAX_QUEUES);
			o->queues = (unsigned int)v;
			break;
		case 'M':
			if (!nb_parse_uint(optarg, 68, 65535, &v))
				return err_msg(err, errlen, -EINVAL, "bad --mtu %.24s (68-65535)",
						optarg);
			o->mtu = (unsigned int)v;
			break;
		case 'h':
			return NB_OPTS_HELP;
		case ':':
			return err_msg(err, errlen, -EINVAL, "%.32s needs a value",
					argv[optind - 1]);
		default:
			return err_msg(err, errlen, -EINVAL, "unrecognized option %.32s",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_msg(err, errlen, -EINVAL, "unexpected argument %.32s", argv[optind]);
	if (!o->socket || (!o->tap && !o->nr_tap_fds))
		return err_msg(err, errlen, -EINVAL, "--socket and --tap or --tap-fd are required");
	if (o->tap && o->nr_tap_fds)
		return err_msg(err, errlen, -EINVAL, "--tap and --tap-fd exclude each other "
				"(--tap-fd names the tap by its fds)");
	if (o->nr_tap_fds && o->nr_tap_fds != o->queues)
		return err_msg(err, errlen, -EINVAL, "%u --tap-fd for %u queue pair%s (one fd "
				"per pair: --queues N with N fds)", o->nr_tap_fds, o->queues,
				o->queues > 1 ? "s" : "");
	if ((o->tap && (!*o->tap || strlen(o->tap) >= IFNAMSIZ || strchr(o->tap, '/'))) ||
	    (o->bridge && (!*o->bridge || strlen(o->bridge) >= IFNAMSIZ)))
		return err_msg(err, errlen, -EINVAL, "interface names are 1-%d characters",
				IFNAMSIZ - 1);
	return 0;
}

/* One fd's checks; info into *ti. */
static int nb_check_fd(int fd, unsigned int queues, struct tap_fd_info *ti, char *err,
		       size_t errlen)
{
	int r = tap_fd_info(fd, ti);

	if (r == -EBADF)
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: no such open fd", fd);
	if (r == -EBADFD)
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: a /dev/net/tun fd not bound to "
				"a device (TUNSETIFF first)", fd);
	if (r == -ENOTTY)
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: not a tap device fd", fd);
	if (r)
		return err_msg(err, errlen, r, "--tap-fd %d: %s", fd, strerror(-r));
	if ((ti->flags & (IFF_TUN | IFF_TAP)) != IFF_TAP)
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: %s is a tun (layer 3), not a "
				"tap", fd, ti->ifname);
	if (!(ti->flags & IFF_VNET_HDR))
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: tap %s has no vnet headers "
				"(open it with IFF_VNET_HDR: each frame carries a "
				"virtio_net_hdr)", fd, ti->ifname);
	if (queues > 1 && !(ti->flags & IFF_MULTI_QUEUE))
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: tap %s is not multi-queue "
				"(IFF_MULTI_QUEUE), needed for %u queue pairs", fd, ti->ifname,
				queues);
	return 0;
}

int nb_opts_take_fds(const struct nb_opts *o, char ifname[IFNAMSIZ], bool *local, char *err,
		     size_t errlen)
{
	struct tap_fd_info first, ti;
	unsigned int n = o->nr_tap_fds, at = n;   /* at: the first attached queue */
	int r;

	if (!n || n > TAP_MAX_QUEUES || n != o->queues)
		return err_msg(err, errlen, -EINVAL, "%u --tap-fd for %u queue pairs", n,
				o->queues);
	for (unsigned int i = 0; i < n; i++) {
		struct tap_fd_info *cur = i ? &ti : &first;

		if ((r = nb_check_fd(o->tap_fds[i], n, cur, err, errlen)))
			return r;
		if (at == n && !cur->detached)
			at = i;
		if (!i)
			continue;
		if (strcmp(ti.ifname, first.ifname) || ti.local != first.local ||
		    ti.ns_dev != first.ns_dev || ti.ns_ino != first.ns_ino)
			return err_msg(err, errlen, -EINVAL, "--tap-fd %d is tap %s, --tap-fd %d "
					"another (%s): the fds must be queues of one tap",
					o->tap_fds[0], first.ifname, o->tap_fds[i], ti.ifname);
		for (unsigned int j = 0; j < i; j++)
			if (tap_fd_same(o->tap_fds[j], o->tap_fds[i]) == 1)
				return err_msg(err, errlen, -EINVAL, "--tap-fd %d and %d are the "
						"same queue of %s (one open of /dev/net/tun "
						"per queue)", o->tap_fds[j], o->tap_fds[i],
						first.ifname);
	}
	/* Refused before anything below changes the tap (its owner's). */
	if (!first.local && (o->bridge || o->script))
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: tap %s is in another network "
				"namespace (or one we have no CAP_NET_ADMIN over): --%s cannot "
				"configure it", o->tap_fds[0], first.ifname,
				o->bridge ? "bridge" : "script");
	/* Per device, asked through an attached queue: fds[at], or fds[0]
	 * attached now when every given queue is detached (tap_adopt attaches
	 * them all anyway). */
	if (at == n && (r = tap_set_queue(o->tap_fds[at = 0], true)))
		return err_msg(err, errlen, r, "cannot attach tap %s's queue: %s", first.ifname,
				strerror(-r));
	r = tap_fd_no_pi(o->tap_fds[at]);
	if (r < 0)
		return err_msg(err, errlen, r, "--tap-fd %d: cannot tell whether tap %s has "
				"packet information headers: %s", o->tap_fds[at], first.ifname,
				strerror(-r));
	if (!r)
		return err_msg(err, errlen, -EINVAL, "--tap-fd %d: tap %s has packet information "
				"headers (open it with IFF_NO_PI)", o->tap_fds[at], first.ifname);
	r = tap_adopt(o->tap_fds, n);
	if (r)
		return err_msg(err, errlen, r, "cannot set up tap %s on its fds: %s", first.ifname,
				strerror(-r));
	memcpy(ifname, first.ifname, IFNAMSIZ);
	*local = first.local;
	return 0;
}
