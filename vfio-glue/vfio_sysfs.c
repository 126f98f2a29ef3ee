/* vfio-glue's view of sysfs: host BDFs in canonical form, the driver and
 * IOMMU group of a function, group viability, and the bounded file and
 * link readers the rest of vfio-glue and assignable.c use.
 *
 * Contract: the sysfs root is a parameter ("/sys" in production). File
 * contents and link targets are untrusted: reads are bounded, link targets
 * checked for their shape, directory walks capped. Errors are -errno plus
 * one line in err. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfio_internal.h"

#define GROUP_DEVICES_MAX 256   /* entries of an IOMMU group we look at */

int vfio_err(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

int vfio_pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int vfio_read_small(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		buf[--got] = '\0';
	return 0;
}

int vfio_link_base(const char *path, char *out, size_t outlen)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlink(path, target, sizeof(target));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	if (strlen(base) >= outlen)
		return -ENAMETOOLONG;
	strcpy(out, base);
	return 0;
}

/* Parses 1..max hex digits at *p into *v, advancing *p: how many (0: none). */
static unsigned int parse_hex(const char **p, unsigned int max, unsigned int *v)
{
	unsigned int n = 0, x = 0;
	const char *s = *p;

	for (; n < max; n++, s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		x = x << 4 | (unsigned int)d;
	}
	*p = s;
	*v = x;
	return n;
}

int vfio_bdf_canon(const char *in, char out[VFIO_BDF_MAX])
{
	unsigned int a, b, na, nb, dom = 0, bus, dev, fn;
	const char *p = in;

	if (!in || !(na = parse_hex(&p, 4, &a)) || *p++ != ':' || !(nb = parse_hex(&p, 4, &b)))
		return -EINVAL;
	if (*p == ':') {                  /* DDDD:BB:DD.F */
		p++;
		if (nb > 2 || !parse_hex(&p, 2, &dev))
			return -EINVAL;
		dom = a;
		bus = b;
	} else {                          /* BB:DD.F */
		if (na > 2 || nb > 2)
			return -EINVAL;
		bus = a;
		dev = b;
	}
	if (*p++ != '.' || !parse_hex(&p, 1, &fn) || *p != '\0')
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, VFIO_BDF_MAX, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

int vfio_lookup(const char *sysfs, const char *in, char bdf[VFIO_BDF_MAX],
		char drv[VFIO_NAME_MAX], char *err, size_t errlen)
{
	int r;

	if (vfio_bdf_canon(in, bdf))
		return vfio_err(err, errlen, -EINVAL, "'%s' is not a PCI address ([DDDD:]BB:DD.F)",
				in ? in : "");
	r = vfio_device_driver(sysfs, bdf, drv, VFIO_NAME_MAX);
	if (r == -ENOENT)
		return vfio_err(err, errlen, -ENOENT, "no PCI device %s", bdf);
	if (r)
		return vfio_err(err, errlen, r, "%s: cannot read its driver: %s", bdf,
				strerror(-r));
	return 0;
}

int vfio_device_driver(const char *sysfs, const char *bdf, char *out, size_t outlen)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	r = vfio_pathf(path, "%s/bus/pci/devices/%s", sysfs, bdf);
	if (r)
		return r;
	if (stat(path, &st) < 0)
		return -errno;
	r = vfio_pathf(path, "%s/bus/pci/devices/%s/driver", sysfs, bdf);
	if (r)
		return r;
	r = vfio_link_base(path, out, outlen);
	if (r == -ENOENT) {
		out[0] = '\0';
		return 0;
	}
	return r;
}

int vfio_device_group(const char *sysfs, const char *bdf, char *err, size_t errlen)
{
	char canon[VFIO_BDF_MAX], path[PATH_MAX], name[16], *end;
	struct stat st;
	long group;
	int r;

	if (vfio_bdf_canon(bdf, canon))
		return vfio_err(err, errlen, -EINVAL, "'%s' is not a PCI address ([DDDD:]BB:DD.F)",
				bdf ? bdf : "");
	r = vfio_pathf(path, "%s/bus/pci/devices/%s", sysfs, canon);
	if (r || stat(path, &st) < 0)
		return vfio_err(err, errlen, -ENOENT, "no PCI device %s", canon);
	r = vfio_pathf(path, "%s/bus/pci/devices/%s/iommu_group", sysfs, canon);
	if (!r)
		r = vfio_link_base(path, name, sizeof(name));
	if (r == -ENOENT)
		return vfio_err(err, errlen, -ENODEV,
				"%s has no IOMMU group: is the IOMMU on? (intel_iommu=on or "
				"amd_iommu=on on the host kernel command line)", canon);
	if (r)
		return vfio_err(err, errlen, r, "%s: cannot read its iommu_group link: %s", canon,
				strerror(-r));
	errno = 0;
	group = strtol(name, &end, 10);
	if (name[0] < '0' || name[0] > '9' || *end || errno || group > INT_MAX)
		return vfio_err(err, errlen, -EINVAL, "%s: IOMMU group '%s' is not a number",
				canon, name);
	return (int)group;
}

/* Drivers whose devices leave a group viable: vfio-pci and pci-stub, and
 * pcieport, which the kernel (5.19+, driver_managed_dma) also lets share a
 * group with an assigned function: the root port above a device without
 * ACS commonly does. */
static bool driver_viable(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || !strcmp(drv, "pci-stub") || !strcmp(drv, "pcieport");
}

int vfio_group_viable(const char *sysfs, int group, char *err, size_t errlen)
{
	char path[PATH_MAX], drv[VFIO_NAME_MAX];
	unsigned int seen = 0;
	struct dirent *de;
	int r = 0;
	DIR *dir;

	if (group < 0)
		return vfio_err(err, errlen, -EINVAL, "IOMMU group %d is not valid", group);
	if (vfio_pathf(path, "%s/kernel/iommu_groups/%d/devices", sysfs, group) ||
	    !(dir = opendir(path)))
		return vfio_err(err, errlen, -ENOENT, "IOMMU group %d does not exist", group);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (++seen > GROUP_DEVICES_MAX) {
			r = vfio_err(err, errlen, -E2BIG, "IOMMU group %d has more than %d devices",
				     group, GROUP_DEVICES_MAX);
			break;
		}
		if (vfio_pathf(path, "%s/kernel/iommu_groups/%d/devices/%s/driver", sysfs, group,
			       de->d_name))
			continue;
		r = vfio_link_base(path, drv, sizeof(drv));
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r) {
			r = vfio_err(err, errlen, -EBUSY, "IOMMU group %d: cannot tell the driver of %s",
				     group, de->d_name);
			break;
		}
		if (!driver_viable(drv)) {
			r = vfio_err(err, errlen, -EBUSY,
				     "IOMMU group %d is not viable: %s is bound to %s (run `isle "
				     "pci-assignable-add %s` too)", group, de->d_name, drv,
				     de->d_name);
			break;
		}
	}
	closedir(dir);
	return r;
}
