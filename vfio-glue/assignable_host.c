/* What the host itself uses, for `isle pci-assignable-*` (assignable.h):
 * the devices under the root filesystem (/proc/self/mountinfo, then
 * sysfs's dev/block and one level of dm/md slaves), the devices carrying a
 * default route (/proc/net/route and ipv6_route, then class/net and one
 * level of lower_* devices), and the processes holding a VFIO group open
 * (/proc/PID/fd).
 *
 * Contract: everything read from /proc and /sys is untrusted: lines are
 * read into fixed buffers (longer ones skipped), names checked before they
 * become paths, directory walks capped. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assignable_internal.h"

#define LINES_MAX     100000     /* lines read from one /proc file */
#define SLAVES_MAX    64         /* slaves / lower devices looked at */
#define ROUTES_MAX    8          /* default-route interfaces checked */
#define FD_SCAN_MAX   (1u << 20) /* fd links read looking for a group's user */

/* Reads one line into buf (newline stripped): 1, or 0 at the end. A line
 * that does not fit is skipped whole. */
static int read_line(FILE *f, char *buf, size_t len)
{
	for (;;) {
		size_t n;
		int ch;

		if (!fgets(buf, (int)len, f))
			return 0;
		n = strlen(buf);
		if (n && buf[n - 1] == '\n') {
			buf[n - 1] = '\0';
			return 1;
		}
		if (feof(f))
			return 1;
		while ((ch = fgetc(f)) != EOF && ch != '\n')
			;
	}
}

bool pa_name_ok(const char *name, size_t max)
{
	size_t n = strlen(name);

	/* A leading '-' would reach modprobe as an option. */
	if (n == 0 || n >= max || !strcmp(name, ".") || !strcmp(name, "..") || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || !isgraph((unsigned char)name[i]))
			return false;
	return true;
}

/* Whether a sysfs path resolves into the device tree below bdf. */
static bool path_below(const char *path, const char *bdf)
{
	char real[PATH_MAX], needle[VFIO_BDF_MAX + 2];
	size_t n, b;

	if (!realpath(path, real))
		return false;
	snprintf(needle, sizeof(needle), "/%s/", bdf);
	if (strstr(real, needle))
		return true;
	n = strlen(real);
	b = strlen(needle) - 1;           /* "/BDF" at the end */
	return n >= b && !strncmp(real + n - b, needle, b);
}

/* Whether a link in dir whose name starts with prefix (the slaves, lower_X) resolves below
 * bdf, with `suffix` appended ("" or "/device"). */
static bool links_below(const char *dir, const char *prefix, const char *suffix, const char *bdf)
{
	char path[PATH_MAX];
	unsigned int seen = 0;
	struct dirent *de;
	bool hit = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!hit && (de = readdir(d)) && seen < SLAVES_MAX) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		seen++;
		hit = !vfio_pathf(path, "%s/%s%s", dir, de->d_name, suffix) && path_below(path, bdf);
	}
	closedir(d);
	return hit;
}

/* The device number of the filesystem mounted last on "/": 0 or -ENOENT. */
static int root_devnum(const struct pa_env *env, unsigned int *maj, unsigned int *min)
{
	char path[PATH_MAX], line[4096], mnt[8];
	unsigned int a, b, lines = 0;
	int r = -ENOENT;
	FILE *f;

	if (vfio_pathf(path, "%s/self/mountinfo", env->proc) || !(f = fopen(path, "re")))
		return -ENOENT;
	while (lines++ < LINES_MAX && read_line(f, line, sizeof(line))) {
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %u:%u %*s %7s", &a, &b, mnt) == 3 && !strcmp(mnt, "/")) {
			*maj = a;
			*min = b;
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static int root_on(const struct pa_env *env, const char *bdf, char *msg, size_t msglen)
{
	char dev[PATH_MAX], path[PATH_MAX], real[PATH_MAX], *slash;
	unsigned int maj = 0, min = 0;
	bool hit;

	if (root_devnum(env, &maj, &min) || maj == 0)
		return 0;                 /* no block device under "/" (tmpfs, overlay, nfs) */
	if (vfio_pathf(dev, "%s/dev/block/%u:%u", env->sysfs, maj, min) ||
	    vfio_pathf(path, "%s/slaves", dev))
		return 0;
	hit = path_below(dev, bdf) || links_below(path, "", "", bdf);
	/* A partition of a dm/md device: the slaves are its parent's. */
	if (!hit && !vfio_pathf(path, "%s/partition", dev) && !access(path, F_OK) &&
	    realpath(dev, real) && (slash = strrchr(real, '/'))) {
		*slash = '\0';
		hit = !vfio_pathf(path, "%s/slaves", real) && links_below(path, "", "", bdf);
	}
	if (!hit)
		return 0;
	return vfio_err(msg, msglen, -EBUSY, "%s holds the host's root filesystem (block device "
			"%u:%u): refusing to take it from the host", bdf, maj, min);
}

/* The interfaces of the IPv4 and IPv6 default routes (up to max). */
static unsigned int default_ifaces(const struct pa_env *env, char names[][VFIO_NAME_MAX],
				   unsigned int max)
{
	char path[PATH_MAX], line[512], ifc[VFIO_NAME_MAX], dst[40], plen[4];
	unsigned int n = 0, lines = 0, flags;
	FILE *f;

	if (!vfio_pathf(path, "%s/net/route", env->proc) && (f = fopen(path, "re"))) {
		/* Iface Destination Gateway Flags ...; the first line is a header */
		while (lines++ < LINES_MAX && read_line(f, line, sizeof(line)) && n < max)
			if (lines > 1 && sscanf(line, "%63s %39s %*s %x", ifc, dst, &flags) == 3 &&
			    !strcmp(dst, "00000000") && (flags & 1) && pa_name_ok(ifc, 16))
				strcpy(names[n++], ifc);
		fclose(f);
	}
	lines = 0;
	if (!vfio_pathf(path, "%s/net/ipv6_route", env->proc) && (f = fopen(path, "re"))) {
		/* dst plen src plen nexthop metric refcnt use flags iface */
		while (lines++ < LINES_MAX && read_line(f, line, sizeof(line)) && n < max)
			if (sscanf(line, "%39s %3s %*s %*s %*s %*s %*s %*s %x %63s", dst, plen, &flags,
				   ifc) == 4 && !strcmp(dst, "00000000000000000000000000000000") &&
			    !strcmp(plen, "00") && !(flags & 0x200 /* RTF_REJECT */) &&
			    strcmp(ifc, "lo") && pa_name_ok(ifc, 16))
				strcpy(names[n++], ifc);
		fclose(f);
	}
	return n;
}

static int route_on(const struct pa_env *env, const char *bdf, char *msg, size_t msglen)
{
	char names[ROUTES_MAX][VFIO_NAME_MAX], path[PATH_MAX], dir[PATH_MAX];
	unsigned int n = default_ifaces(env, names, ROUTES_MAX);

	for (unsigned int i = 0; i < n; i++) {
		if (vfio_pathf(dir, "%s/class/net/%s", env->sysfs, names[i]) ||
		    vfio_pathf(path, "%s/device", dir))
			continue;
		if (path_below(path, bdf) || links_below(dir, "lower_", "/device", bdf))
			return vfio_err(msg, msglen, -EBUSY, "%s carries the host's default route "
					"(%s): refusing to take it from the host", bdf, names[i]);
	}
	return 0;
}

int pa_host_use(const struct pa_env *env, const char *bdf, char *msg, size_t msglen)
{
	int r = root_on(env, bdf, msg, msglen);

	return r ? r : route_on(env, bdf, msg, msglen);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

long pa_group_user(const struct pa_env *env, int group, char *comm, size_t commlen)
{
	char want[32], path[PATH_MAX], target[64];
	unsigned int budget = FD_SCAN_MAX;
	struct dirent *pe, *fe;
	long pid = 0;
	DIR *pd, *fd;

	snprintf(want, sizeof(want), "/dev/vfio/%d", group);
	if (!(pd = opendir(env->proc)))
		return -errno;
	while (!pid && budget && (pe = readdir(pd))) {
		if (!all_digits(pe->d_name) || strlen(pe->d_name) > 10 ||
		    vfio_pathf(path, "%s/%s/fd", env->proc, pe->d_name) || !(fd = opendir(path)))
			continue;
		while (!pid && budget && (fe = readdir(fd))) {
			ssize_t n;
			if (!all_digits(fe->d_name))
				continue;
			budget--;
			if (vfio_pathf(path, "%s/%s/fd/%s", env->proc, pe->d_name, fe->d_name))
				continue;
			n = readlink(path, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (!strcmp(target, want))
				pid = strtol(pe->d_name, NULL, 10);
		}
		closedir(fd);
	}
	closedir(pd);
	if (pid && commlen) {
		comm[0] = '\0';
		if (vfio_pathf(path, "%s/%ld/comm", env->proc, pid) ||
		    vfio_read_small(path, comm, commlen) || !comm[0])
			snprintf(comm, commlen, "?");
		for (char *c = comm; *c; c++)
			if (!isprint((unsigned char)*c))
				*c = '?';
	}
	return pid;
}
