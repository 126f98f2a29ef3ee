/* cloud-hypervisor's JSON bodies -> isle's configuration (contract in
 * api_json.h).
 *
 * Every object has one table naming each of its fields (cloud-hypervisor's
 * OpenAPI schema plus the fields its serde structs write), its JSON type and
 * a rule: used by the decoder, ignored, or refused unless it has its
 * default (false, 0, absent or an empty array). aj_check() walks an object
 * once against its table, so an unknown field, a wrong type or a refused
 * feature is reported before anything is decoded; the decoders then read
 * fields that are known to have the right type.
 *
 * Ignored are only: host-side tuning isle does its own way (direct,
 * prefault, thp, reserve, shared, sparse, lock_granularity, queue counts and
 * sizes, disable_io_uring/aio, vfio_p2p_dma); placement the guest does not
 * depend on (pci_segment: isle has one segment, 0; cpus.topology: the guest
 * sees boot_vcpus CPUs in isle's topology; max_phys_bits and nested: what
 * KVM offers); an empty balloon (the balloon is a later issue). Everything
 * else isle cannot do is refused by name with -ENOTSUP. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/api_json.h"
#include "control/api_json_priv.h"
#include "control/config.h"
#include "core/device.h"

static const char *const aj_type_names[] = { "a boolean", "an integer", "a string",
					     "an object", "an array" };

static bool aj_is(const json_t *v, enum aj_type t)
{
	switch (t) {
	case T_BOOL: return json_is_boolean(v);
	case T_INT:  return json_is_integer(v);
	case T_STR:  return json_is_string(v);
	case T_OBJ:  return json_is_object(v);
	case T_ARR:  return json_is_array(v);
	}
	return false;
}

/* "where.key", or "key" at the top level. */
const char *aj_path(char *buf, const char *where, const char *key)
{
	/* Cut short if need be: a path is only ever shown. */
	if (snprintf(buf, AJ_PATH_MAX, "%s%s%.40s", where, *where ? "." : "", key) >= AJ_PATH_MAX)
		buf[AJ_PATH_MAX - 1] = '\0';
	return buf;
}

int aj_check(const json_t *obj, const char *where, const struct aj_field *f, size_t nf,
	     char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	char p[AJ_PATH_MAX];

	if (!json_is_object(obj))
		return err_msg(err, errlen, -EINVAL, "%s: expected an object",
			       *where ? where : "the body");
	json_object_foreach((json_t *)obj, key, v) {
		const struct aj_field *d = NULL;

		for (size_t i = 0; i < nf && !d; i++)
			if (!strcmp(f[i].name, key))
				d = &f[i];
		if (!d)
			return err_msg(err, errlen, -EINVAL, "%s%sunknown field '%.40s'", where,
				       *where ? ": " : "", key);
		if (json_is_null(v))
			continue;
		aj_path(p, where, key);
		if (!aj_is(v, d->type))
			return err_msg(err, errlen, -EINVAL, "%s: expected %s", p,
				       aj_type_names[d->type]);
		if (d->type == T_ARR && json_array_size(v) > API_JSON_MAX_ARRAY)
			return err_msg(err, errlen, -EINVAL, "%s: more than %d elements", p,
				       API_JSON_MAX_ARRAY);
		if ((d->rule == R_FALSE && json_is_true(v)) ||
		    (d->rule == R_TRUE && json_is_false(v)) ||
		    (d->rule == R_ZERO && json_integer_value(v) != 0) ||
		    (d->rule == R_ABSENT && (d->type != T_ARR || json_array_size(v))))
			return err_msg(err, errlen, -ENOTSUP, "%s: %s", p, d->why);
	}
	return 0;
}

/* A field's value; NULL when absent or null. */
json_t *aj_get(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

const char *aj_str(const json_t *obj, const char *key)
{
	return json_string_value(aj_get(obj, key));
}

/* A checked integer field: 1 with *out, 0 when absent, -EINVAL outside [min, max]. */
int aj_int(const json_t *obj, const char *where, const char *key, json_int_t min,
	   json_int_t max, json_int_t *out, char *err, size_t errlen)
{
	json_t *v = aj_get(obj, key);
	char p[AJ_PATH_MAX];

	if (!v)
		return 0;
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return err_msg(err, errlen, -EINVAL, "%s: %lld is not between %lld and %lld",
			       aj_path(p, where, key), (long long)*out, (long long)min,
			       (long long)max);
	return 1;
}

int aj_required(const char *where, const char *key, char *err, size_t errlen)
{
	char p[AJ_PATH_MAX];

	return err_msg(err, errlen, -EINVAL, "%s: required", aj_path(p, where, key));
}

/* Text that goes into a spec or a file name: no control characters. */
static bool aj_text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A string field that is not empty and has no control characters. */
int aj_text(const json_t *obj, const char *where, const char *key, const char **out,
	    char *err, size_t errlen)
{
	char p[AJ_PATH_MAX];

	*out = aj_str(obj, key);
	if (*out && (!**out || !aj_text_ok(*out)))
		return err_msg(err, errlen, -EINVAL, "%s: %s", aj_path(p, where, key),
			       **out ? "control characters are not allowed" : "empty");
	return 0;
}

int aj_id(const json_t *obj, const char *where, const char **id, char *err, size_t errlen)
{
	char p[AJ_PATH_MAX];

	*id = aj_str(obj, "id");
	if (*id && !device_id_ok(*id))
		return err_msg(err, errlen, -EINVAL, "%s: '%.40s' is not an id (a letter, then "
			       "up to 30 letters, digits, _ . -)", aj_path(p, where, "id"), *id);
	return 0;
}

/* Appends to a spec; -1 when it does not fit. */
static int aj_cat(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int aj_cat(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

static int aj_too_long(const char *where, char *err, size_t errlen)
{
	return err_msg(err, errlen, -EINVAL, "%s%sthe device spec is too long", where,
		       *where ? ": " : "");
}

/* The common PCI fields' values: pci_segment (ignored: one segment). */
int aj_segment(const json_t *obj, const char *where, json_int_t *seg, char *err,
	       size_t errlen)
{
	*seg = 0;
	return MIN(aj_int(obj, where, "pci_segment", 0, UINT16_MAX, seg, err, errlen), 0);
}

static const struct aj_field aj_bucket_fields[] = {
	{ "size", T_INT, R_ZERO, AJ_RL_WHY }, { "one_time_burst", T_INT, R_IGNORE, NULL },
	{ "refill_time", T_INT, R_IGNORE, NULL },
};
static const struct aj_field aj_rl_fields[] = {
	{ "bandwidth", T_OBJ, R_USE, NULL }, { "ops", T_OBJ, R_USE, NULL },
};

/* rate_limiter_config: only an unlimited one (every bucket of size 0). */
static int aj_rate_limiter(const json_t *obj, const char *where, char *err, size_t errlen)
{
	json_t *rl = aj_get(obj, "rate_limiter_config"), *b;
	char p[AJ_PATH_MAX], q[AJ_PATH_MAX];
	int r;

	if (!rl)
		return 0;
	aj_path(p, where, "rate_limiter_config");
	if ((r = AJ_CHECK(rl, p, aj_rl_fields, err, errlen)))
		return r;
	if ((b = aj_get(rl, "bandwidth")) && (r = AJ_CHECK(b, aj_path(q, p, "bandwidth"),
							   aj_bucket_fields, err, errlen)))
		return r;
	if ((b = aj_get(rl, "ops")) && (r = AJ_CHECK(b, aj_path(q, p, "ops"), aj_bucket_fields,
						     err, errlen)))
		return r;
	return 0;
}

/* ---- DiskConfig ---- */

static const struct aj_field aj_disk_fields[] = {
	{ "path", T_STR, R_USE, NULL }, { "readonly", T_BOOL, R_USE, NULL },
	{ "direct", T_BOOL, R_IGNORE, NULL }, { "iommu", T_BOOL, R_USE, NULL },
	{ "num_queues", T_INT, R_USE, NULL }, { "queue_size", T_INT, R_USE, NULL },
	{ "vhost_user", T_BOOL, R_USE, NULL }, { "vhost_socket", T_STR, R_USE, NULL },
	{ "rate_limiter_config", T_OBJ, R_USE, NULL },
	{ "rate_limit_group", T_STR, R_ABSENT, AJ_RL_WHY },
	{ "pci_segment", T_INT, R_USE, NULL },
	{ "pci_device_id", T_INT, R_ABSENT, "isle picks a disk's PCI slot itself" },
	{ "id", T_STR, R_USE, NULL },
	{ "serial", T_STR, R_ABSENT, "isle's disks have no serial number" },
	{ "queue_affinity", T_ARR, R_ABSENT, AJ_NOT_SUP("pinning I/O queues") },
	/* isle-tapdisk follows a qcow2 image's backing chain as xl and QEMU do. */
	{ "backing_files", T_BOOL, R_IGNORE, NULL },
	{ "sparse", T_BOOL, R_IGNORE, NULL }, { "image_type", T_STR, R_USE, NULL },
	{ "lock_granularity", T_STR, R_USE, NULL },
	{ "disable_io_uring", T_BOOL, R_IGNORE, NULL }, { "disable_aio", T_BOOL, R_IGNORE, NULL },
};

/* image_type: Raw (or absent) or Qcow2, which isle-tapdisk serves (*fmt
 * becomes "qcow2"; never probed); Unknown only for vhost-user (the
 * backend's). */
static int aj_image_type(const json_t *obj, const char *where, bool vhost, const char **fmt,
			 char *err, size_t errlen)
{
	const char *t = aj_str(obj, "image_type");
	char p[AJ_PATH_MAX];

	*fmt = NULL;
	aj_path(p, where, "image_type");
	if (!t || !strcmp(t, "Raw") || (vhost && !strcmp(t, "Unknown")))
		return 0;
	if (!strcmp(t, "Unknown"))
		return err_msg(err, errlen, -ENOTSUP, "%s: Unknown asks to probe the image "
			       "format; isle never guesses it (say Raw or Qcow2)", p);
	if (!strcmp(t, "Qcow2")) {
		if (vhost)
			return err_msg(err, errlen, -EINVAL, "%s: a vhost-user disk's format is "
				       "its backend's", p);
		*fmt = "qcow2";
		return 0;
	}
	if (!strcmp(t, "FixedVhd") || !strcmp(t, "Vhdx") || !strcmp(t, "FlatVmdk"))
		return err_msg(err, errlen, -ENOTSUP, "%s: %s images are not supported by isle "
			       "(Raw and Qcow2)", p, t);
	return err_msg(err, errlen, -EINVAL, "%s: '%.32s' is not one of Raw, Qcow2, FixedVhd, "
		       "Vhdx, FlatVmdk, Unknown", p, t);
}

int aj_disk(const json_t *obj, const char *where, char *spec, size_t speclen, char *err,
	    size_t errlen)
{
	const char *path, *sock, *id, *lock, *fmt;
	bool vhost, ro;
	json_int_t n, seg;
	size_t off = 0;
	char p[AJ_PATH_MAX];
	int r;

	if ((r = AJ_CHECK(obj, where, aj_disk_fields, err, errlen)) ||
	    (r = aj_rate_limiter(obj, where, err, errlen)) ||
	    (r = aj_segment(obj, where, &seg, err, errlen)) ||
	    (r = aj_id(obj, where, &id, err, errlen)) ||
	    (r = aj_text(obj, where, "path", &path, err, errlen)) ||
	    (r = aj_text(obj, where, "vhost_socket", &sock, err, errlen)))
		return r;
	/* Queue counts and sizes are the backend's and the guest driver's. */
	if ((r = aj_int(obj, where, "num_queues", 1, UINT16_MAX, &n, err, errlen)) < 0 ||
	    (r = aj_int(obj, where, "queue_size", 1, UINT16_MAX, &n, err, errlen)) < 0)
		return r;
	lock = aj_str(obj, "lock_granularity");
	if (lock && strcmp(lock, "ByteRange") && strcmp(lock, "Full"))
		return err_msg(err, errlen, -EINVAL, "%s: '%.32s' is not ByteRange or Full",
			       aj_path(p, where, "lock_granularity"), lock);
	vhost = json_is_true(aj_get(obj, "vhost_user"));
	ro = json_is_true(aj_get(obj, "readonly"));
	if ((r = aj_image_type(obj, where, vhost, &fmt, err, errlen)))
		return r;
	if (vhost) {
		if (!sock)
			return aj_required(where, "vhost_socket", err, errlen);
		if (path)
			return err_msg(err, errlen, -EINVAL, "%s: path and vhost_user exclude each "
				       "other", aj_path(p, where, "path"));
		if (ro)
			return err_msg(err, errlen, -ENOTSUP, "%s: the vhost-user-blk backend "
				       "decides that", aj_path(p, where, "readonly"));
		if (strstr(sock, ",id=") || strstr(sock, ",vdev="))
			return err_msg(err, errlen, -EINVAL, "%s: ',id=' and ',vdev=' cannot "
				       "appear in a socket path",
				       aj_path(p, where, "vhost_socket"));
		if (aj_cat(spec, speclen, &off, "socket=%s", sock) ||
		    (id && aj_cat(spec, speclen, &off, ",id=%s", id)))
			return aj_too_long(where, err, errlen);
		return 0;
	}
	if (sock)
		return err_msg(err, errlen, -EINVAL, "%s: needs vhost_user: true",
			       aj_path(p, where, "vhost_socket"));
	if (!path)
		return aj_required(where, "path", err, errlen);
	if (strlen(path) >= PATH_MAX)
		return err_msg(err, errlen, -EINVAL, "%s: longer than %d bytes",
			       aj_path(p, where, "path"), PATH_MAX - 1);
	/* target= goes last: isle and isle-tapdisk take the rest as the path;
	 * one that would read as "prefix:..." gets an explicit file:. */
	if ((fmt && aj_cat(spec, speclen, &off, "format=%s,", fmt)) ||
	    aj_cat(spec, speclen, &off, "access=%s", ro ? "ro" : "rw") ||
	    (id && aj_cat(spec, speclen, &off, ",id=%s", id)) ||
	    aj_cat(spec, speclen, &off, ",target=%s%s", config_disk_prefix(path) ? "file:" : "",
		   path))
		return aj_too_long(where, err, errlen);
	return 0;
}

/* ---- NetConfig ---- */

static const struct aj_field aj_net_fields[] = {
	{ "tap", T_STR, R_USE, NULL }, { "ip", T_STR, R_USE, NULL },
	{ "mask", T_STR, R_USE, NULL }, { "mac", T_STR, R_USE, NULL },
	{ "host_mac", T_STR, R_ABSENT, "isle does not set the tap's own MAC" },
	{ "mtu", T_INT, R_USE, NULL }, { "iommu", T_BOOL, R_USE, NULL },
	{ "num_queues", T_INT, R_USE, NULL }, { "queue_size", T_INT, R_USE, NULL },
	{ "vhost_user", T_BOOL, R_USE, NULL }, { "vhost_socket", T_STR, R_USE, NULL },
	{ "vhost_mode", T_STR, R_USE, NULL }, { "id", T_STR, R_USE, NULL },
	{ "pci_segment", T_INT, R_USE, NULL },
	{ "pci_device_id", T_INT, R_ABSENT, "isle picks a NIC's PCI slot itself" },
	{ "fds", T_ARR, R_USE, NULL }, { "rate_limiter_config", T_OBJ, R_USE, NULL },
	{ "offload_tso", T_BOOL, R_TRUE, AJ_NOT_SUP("turning offloads off") },
	{ "offload_ufo", T_BOOL, R_TRUE, AJ_NOT_SUP("turning offloads off") },
	{ "offload_csum", T_BOOL, R_TRUE, AJ_NOT_SUP("turning offloads off") },
	/* isle's own (xl's vif keys, for `isle network-attach`): the bridge
	 * the tap joins and the vif script, checked by vif_parse. */
	{ "bridge", T_STR, R_USE, NULL }, { "script", T_STR, R_USE, NULL },
};

/* ip and mask configure the host side of a tap cloud-hypervisor opens:
 * only their defaults (what every client sends) are accepted. */
static int aj_host_addr(const json_t *obj, const char *where, const char *key, const char *dflt,
			char *err, size_t errlen)
{
	const char *v = aj_str(obj, key);
	char p[AJ_PATH_MAX];

	if (v && strcmp(v, dflt))
		return err_msg(err, errlen, -ENOTSUP, "%s: isle does not give the tap a host "
			       "address (use a bridge or a vif script)", aj_path(p, where, key));
	return 0;
}

int aj_net(const json_t *obj, const char *where, char *spec, size_t speclen,
	   unsigned int *nfds, char *err, size_t errlen)
{
	const char *bridge, *script, *tap, *mac, *sock, *mode, *id;
	json_t *fds = aj_get(obj, "fds");
	json_int_t mtu = 0, nq = 2, qs, seg;
	char p[AJ_PATH_MAX];
	size_t off = 0;
	bool vhost;
	int r;

	*nfds = 0;
	if ((r = AJ_CHECK(obj, where, aj_net_fields, err, errlen)) ||
	    (r = aj_rate_limiter(obj, where, err, errlen)) ||
	    (r = aj_segment(obj, where, &seg, err, errlen)) ||
	    (r = aj_id(obj, where, &id, err, errlen)) ||
	    (r = aj_host_addr(obj, where, "ip", "192.168.249.1", err, errlen)) ||
	    (r = aj_host_addr(obj, where, "mask", "255.255.255.0", err, errlen)) ||
	    (r = aj_text(obj, where, "vhost_socket", &sock, err, errlen)))
		return r;
	if ((r = aj_int(obj, where, "mtu", VIF_MTU_MIN, VIF_MTU_MAX, &mtu, err, errlen)) < 0 ||
	    (r = aj_int(obj, where, "queue_size", 1, UINT16_MAX, &qs, err, errlen)) < 0 ||
	    (r = aj_int(obj, where, "num_queues", 2, 2 * VIF_MAX_QUEUES, &nq, err, errlen)) < 0)
		return r;
	if (nq % 2)
		return err_msg(err, errlen, -EINVAL, "%s: %lld is odd (RX and TX queues come in "
			       "pairs)", aj_path(p, where, "num_queues"), (long long)nq);
	bridge = aj_str(obj, "bridge");
	script = aj_str(obj, "script");
	if (bridge && !vif_ifname_ok(bridge))
		return err_msg(err, errlen, -EINVAL, "%s: '%.32s' is not an interface name",
			       aj_path(p, where, "bridge"), bridge);
	if (script && (strchr(script, ',') || strlen(script) >= VIF_SCRIPT_MAX))
		return err_msg(err, errlen, -EINVAL, "%s: a path without commas, under %d bytes",
			       aj_path(p, where, "script"), VIF_SCRIPT_MAX);
	tap = aj_str(obj, "tap");
	if (tap && !vif_ifname_ok(tap))
		return err_msg(err, errlen, -EINVAL, "%s: '%.32s' is not an interface name",
			       aj_path(p, where, "tap"), tap);
	mac = aj_str(obj, "mac");
	if (mac && (strlen(mac) >= VIF_MAC_STRLEN || strspn(mac, "0123456789abcdefABCDEF:") !=
						      strlen(mac)))
		return err_msg(err, errlen, -EINVAL, "%s: '%.32s' is not a MAC address",
			       aj_path(p, where, "mac"), mac);
	mode = aj_str(obj, "vhost_mode");
	if (mode && strcmp(mode, "Client"))
		return err_msg(err, errlen, strcmp(mode, "Server") ? -EINVAL : -ENOTSUP,
			       "%s: '%.32s': isle connects to the backend's socket (Client only)",
			       aj_path(p, where, "vhost_mode"), mode);
	vhost = json_is_true(aj_get(obj, "vhost_user"));
	if (vhost && !sock)
		return aj_required(where, "vhost_socket", err, errlen);
	if (!vhost && sock)
		return err_msg(err, errlen, -EINVAL, "%s: needs vhost_user: true",
			       aj_path(p, where, "vhost_socket"));
	if (sock && strchr(sock, ','))
		return err_msg(err, errlen, -EINVAL, "%s: a comma cannot appear in the socket "
			       "path", aj_path(p, where, "vhost_socket"));
	for (size_t i = 0; fds && i < json_array_size(fds); i++)
		if (!json_is_integer(json_array_get(fds, i)))
			return err_msg(err, errlen, -EINVAL, "%s[%zu]: expected an integer",
				       aj_path(p, where, "fds"), i);
	if (fds && json_array_size(fds) && vhost)
		return err_msg(err, errlen, -EINVAL, "%s: tap fds and vhost_user exclude each "
			       "other", aj_path(p, where, "fds"));
	if ((mac && aj_cat(spec, speclen, &off, "mac=%s,", mac)) ||
	    (tap && aj_cat(spec, speclen, &off, "vifname=%s,", tap)) ||
	    (mtu && aj_cat(spec, speclen, &off, "mtu=%lld,", (long long)mtu)) ||
	    (nq > 2 && aj_cat(spec, speclen, &off, "queues=%lld,", (long long)nq / 2)) ||
	    (sock && aj_cat(spec, speclen, &off, "socket=%s,", sock)) ||
	    (id && aj_cat(spec, speclen, &off, "id=%s,", id)) ||
	    (bridge && aj_cat(spec, speclen, &off, "bridge=%s,", bridge)) ||
	    (script && aj_cat(spec, speclen, &off, "script=%s,", script)) ||
	    aj_cat(spec, speclen, &off, "%s", ""))
		return aj_too_long(where, err, errlen);
	if (off)
		spec[off - 1] = '\0';   /* the last comma */
	*nfds = fds ? (unsigned int)json_array_size(fds) : 0;
	return 0;
}

/* ---- DeviceConfig ---- */

static const struct aj_field aj_device_fields[] = {
	{ "path", T_STR, R_USE, NULL }, { "iommu", T_BOOL, R_USE, NULL },
	{ "pci_segment", T_INT, R_USE, NULL }, { "pci_device_id", T_INT, R_USE, NULL },
	{ "id", T_STR, R_USE, NULL },
	{ "fd", T_INT, R_ABSENT, "isle assigns a device by its sysfs path, not a VFIO cdev fd" },
	{ "x_nv_gpudirect_clique", T_INT, R_ABSENT, AJ_NOT_SUP("GPUDirect cliques") },
	{ "x_exclude_mmap_bars", T_ARR, R_ABSENT, AJ_NOT_SUP("excluding BARs from mmap") },
};

/* "/sys/bus/pci/devices/BDF[/]" or "/sys/devices/pci.../BDF[/]" -> BDF (pci_spec checks it). */
static int aj_sysfs_bdf(const char *path, const char *where, char *bdf, char *err,
			size_t errlen)
{
	size_t n = strlen(path), len;
	const char *last, *name;
	char p[AJ_PATH_MAX];

	aj_path(p, where, "path");
	if (!strncmp(path, "/sys/bus/mdev/", 14))
		return err_msg(err, errlen, -ENOTSUP, "%s: %s", p, AJ_NOT_SUP("mediated devices"));
	while (n > 1 && path[n - 1] == '/')
		n--;
	last = memrchr(path, '/', n);
	name = last ? last + 1 : path;
	len = n - (size_t)(name - path);
	if ((strncmp(path, "/sys/bus/pci/devices/", 21) && strncmp(path, "/sys/devices/pci", 16)) ||
	    !len || len >= PCI_HOST_BDF_MAX || strspn(name, "0123456789abcdefABCDEF:.") < len)
		return err_msg(err, errlen, -EINVAL, "%s: '%.64s' is not a PCI function's sysfs "
			       "path (/sys/bus/pci/devices/DDDD:BB:DD.F)", p, path);
	memcpy(bdf, name, len);
	bdf[len] = '\0';
	return 0;
}

int aj_device(const json_t *obj, const char *where, char *spec, size_t speclen,
	      bool *iommu, char *err, size_t errlen)
{
	char bdf[PCI_HOST_BDF_MAX];
	const char *path, *id;
	json_int_t slot = 0, seg;
	size_t off = 0;
	int r;

	*iommu = false;
	if ((r = AJ_CHECK(obj, where, aj_device_fields, err, errlen)) ||
	    (r = aj_segment(obj, where, &seg, err, errlen)) ||
	    (r = aj_id(obj, where, &id, err, errlen)) ||
	    (r = aj_text(obj, where, "path", &path, err, errlen)))
		return r;
	if ((r = aj_int(obj, where, "pci_device_id", 1, 31, &slot, err, errlen)) < 0)
		return r;
	if (!path)
		return aj_required(where, "path", err, errlen);
	if ((r = aj_sysfs_bdf(path, where, bdf, err, errlen)))
		return r;
	if (aj_cat(spec, speclen, &off, "%s", bdf) ||
	    (slot && aj_cat(spec, speclen, &off, "@%x", (unsigned int)slot)) ||
	    (id && aj_cat(spec, speclen, &off, ",name=%s", id)))
		return aj_too_long(where, err, errlen);
	*iommu = json_is_true(aj_get(obj, "iommu"));
	return 0;
}

/* The spec a hot-add decoder made, through the one validator. */
static int aj_spec_ok(enum device_kind kind, const char *spec, char *err, size_t errlen)
{
	struct device_spec *s = malloc(sizeof(*s));
	char msg[200];
	int r;

	if (!s)
		return err_msg(err, errlen, -ENOMEM, "out of memory");
	r = device_spec_parse(kind, spec, s, msg, sizeof(msg));
	free(s);
	if (r)
		return err_msg(err, errlen, r, "%s: %s", device_kind_name(kind),
			       msg[0] ? msg : "refused");
	return 0;
}

int api_json_disk(json_t *obj, char *spec, size_t speclen, char *err, size_t errlen)
{
	int r = aj_disk(obj, "", spec, speclen, err, errlen);

	return r ? r : aj_spec_ok(DEVICE_DISK, spec, err, errlen);
}

int api_json_net(json_t *obj, char *spec, size_t speclen, unsigned int *nfds_expected,
		 char *err, size_t errlen)
{
	int r = aj_net(obj, "", spec, speclen, nfds_expected, err, errlen);

	return r ? r : aj_spec_ok(DEVICE_NIC, spec, err, errlen);
}

int api_json_device(json_t *obj, char *spec, size_t speclen, bool *iommu, char *err,
		    size_t errlen)
{
	int r = aj_device(obj, "", spec, speclen, iommu, err, errlen);

	return r ? r : aj_spec_ok(DEVICE_PCI, spec, err, errlen);
}

bool api_json_wants_iommu(const json_t *obj)
{
	return json_is_true(json_object_get(obj, "iommu"));
}

int api_json_parse_object(const char *body, size_t len, json_t **out, char *err,
			  size_t errlen)
{
	json_error_t je;

	*out = NULL;
	if (len > API_JSON_BODY_MAX)
		return err_msg(err, errlen, -EINVAL, "the body is larger than %d bytes",
			       API_JSON_BODY_MAX);
	*out = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return err_msg(err, errlen, -EINVAL, "malformed JSON at line %d column %d: %.100s",
			       je.line, je.column, je.text[0] ? je.text : "error");
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return err_msg(err, errlen, -EINVAL, "the body is not a JSON object");
	}
	return 0;
}
