/* Xen vif spec parser for --net (contract and syntax in vmm/control/vif.h).
 *
 * One pass over the comma-separated items; each key is looked up in one
 * table that says what it is (ours, or Xen's and refused). Messages quote
 * the user's input, which may hold anything: they are cut short and any
 * control byte becomes '?', so a message is always one printable line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/vif.h"

enum vif_key {
	VIF_MAC, VIF_BRIDGE, VIF_VIFNAME, VIF_SCRIPT, VIF_SOCKET, VIF_MTU, VIF_QUEUES,
	VIF_MODEL, VIF_TYPE, VIF_REFUSED,
};

/* Xen's keys isle does not implement say why, instead of "unknown key". */
static const struct {
	const char *name;
	enum vif_key key;
	const char *why;   /* VIF_REFUSED only */
} vif_keys[] = {
	{ "mac", VIF_MAC, NULL },
	{ "bridge", VIF_BRIDGE, NULL },
	{ "vifname", VIF_VIFNAME, NULL },
	{ "script", VIF_SCRIPT, NULL },
	{ "socket", VIF_SOCKET, NULL },
	{ "mtu", VIF_MTU, NULL },
	{ "queues", VIF_QUEUES, NULL },
	{ "model", VIF_MODEL, NULL },
	{ "type", VIF_TYPE, NULL },
	{ "rate", VIF_REFUSED, "no rate limiting (shape the tap with tc instead)" },
	{ "ip", VIF_REFUSED, "isle does not configure guest addresses" },
	{ "backend", VIF_REFUSED, "no driver domains (use socket=PATH for a backend "
				  "that is already running)" },
	{ "gatewaydev", VIF_REFUSED, "no routed networking (use a bridge)" },
	{ "forwarddev", VIF_REFUSED, "no openvswitch forwarding (use a bridge)" },
	{ "devid", VIF_REFUSED, "NICs are numbered in --net order" },
	{ "accel", VIF_REFUSED, "no accelerated vifs" },
	{ "trusted", VIF_REFUSED, "no trust settings" },
	{ "untrusted", VIF_REFUSED, "no trust settings" },
};

static void vif_put(char *buf, size_t len, int *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool vif_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static bool vif_script_name_ok(const char *name)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (; *name; name++)
		if (!vif_name_char(*name))
			return false;
	return true;
}

bool vif_ifname_ok(const char *name)
{
	return strlen(name) < VIF_IFNAME_MAX && vif_script_name_ok(name);
}

static int vif_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vif_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != VIF_MAC_STRLEN - 1)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = vif_hex(s[3 * i]), lo = vif_hex(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool vif_mac_ok(const uint8_t mac[6])
{
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

void vif_format_mac(const uint8_t mac[6], char buf[VIF_MAC_STRLEN])
{
	snprintf(buf, VIF_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
}

void vif_default_mac(uint8_t mac[6], const uint8_t rnd[3])
{
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = rnd[0] & 0x7f;
	mac[4] = rnd[1];
	mac[5] = rnd[2];
}

int vif_parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v < min)
		return -ERANGE;
	*out = (unsigned int)v;
	return 0;
}

/* Paths: printable, so they can be logged and put in an environment. */
static bool vif_path_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int vif_copy(char *dst, size_t cap, const char *key, const char *val, char *err,
		    size_t errlen)
{
	if (strlen(val) >= cap)
		return err_msg(err, errlen, -EINVAL, "%s= is longer than %zu bytes", key, cap - 1);
	strcpy(dst, val);
	return 0;
}

static int vif_value(struct vif *v, enum vif_key key, const char *name, const char *val,
		     char *err, size_t errlen)
{
	switch (key) {
	case VIF_MAC:
		if (vif_parse_mac(val, v->mac))
			return err_msg(err, errlen, -EINVAL, "mac=%.24s is not xx:xx:xx:xx:xx:xx",
					val);
		if (v->mac[0] & 1)
			return err_msg(err, errlen, -EINVAL,
					"mac=%s is a multicast address (a NIC needs unicast)", val);
		if (!vif_mac_ok(v->mac))
			return err_msg(err, errlen, -EINVAL, "mac=%s is not a usable address",
					val);
		v->mac_set = true;
		return 0;
	case VIF_BRIDGE:
	case VIF_VIFNAME:
		if (!vif_ifname_ok(val))
			return err_msg(err, errlen, -EINVAL,
					"%s=%.24s is not an interface name "
					"(1-15 of A-Z a-z 0-9 _ . -)", name, val);
		strcpy(key == VIF_BRIDGE ? v->bridge : v->vifname, val);
		return 0;
	case VIF_SCRIPT:
		/* A bare name is looked up in isle's script directories. */
		if (!strchr(val, '/') && !vif_script_name_ok(val))
			return err_msg(err, errlen, -EINVAL,
					"script=%.24s is neither a script name (A-Z a-z 0-9 _ . -) "
					"nor a path", val);
		if (!vif_path_ok(val))
			return err_msg(err, errlen, -EINVAL, "script= has control characters");
		return vif_copy(v->script, sizeof(v->script), name, val, err, errlen);
	case VIF_SOCKET:
		if (!vif_path_ok(val))
			return err_msg(err, errlen, -EINVAL, "socket= has control characters");
		return vif_copy(v->socket, sizeof(v->socket), name, val, err, errlen);
	case VIF_MTU:
		if (vif_parse_uint(val, VIF_MTU_MIN, VIF_MTU_MAX, &v->mtu))
			return err_msg(err, errlen, -EINVAL,
					"mtu=%.16s is not a number from %d to %d", val,
					VIF_MTU_MIN, VIF_MTU_MAX);
		return 0;
	case VIF_QUEUES:
		if (vif_parse_uint(val, 1, VIF_MAX_QUEUES, &v->queues))
			return err_msg(err, errlen, -EINVAL,
					"queues=%.16s is not a number from 1 to %d", val,
					VIF_MAX_QUEUES);
		return 0;
	case VIF_MODEL:
		if (strcmp(val, "virtio") && strcmp(val, "virtio-net"))
			return err_msg(err, errlen, -ENOTSUP,
					"model=%.24s is not supported: isle's NICs are virtio-net "
					"(model=virtio)", val);
		return 0;
	case VIF_TYPE:
		if (!strcmp(val, "ioemu"))
			return err_msg(err, errlen, -ENOTSUP,
					"type=ioemu is not supported: isle has no emulated NICs "
					"(type=vif)");
		if (strcmp(val, "vif"))
			return err_msg(err, errlen, -EINVAL, "type=%.24s is not a NIC type (vif)",
					val);
		return 0;
	case VIF_REFUSED:
		break;
	}
	return -EINVAL;
}

static const char *vif_trim(const char *s, const char *end, size_t *len)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*len = (size_t)(end - s);
	return s;
}

/* One "key=value" item, [p, end). */
static int vif_item(struct vif *v, const char *p, const char *end, unsigned int *seen,
		    char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', (size_t)(end - p)), *k, *val;
	char buf[VIF_SPEC_MAX];
	size_t klen, vlen, i;

	if (!eq)
		return err_msg(err, errlen, -EINVAL, "'%.*s' is not key=value",
				(int)(end - p > 24 ? 24 : end - p), p);
	k = vif_trim(p, eq, &klen);
	val = vif_trim(eq + 1, end, &vlen);
	for (i = 0; i < ARRAY_SIZE(vif_keys); i++)
		if (strlen(vif_keys[i].name) == klen && !memcmp(vif_keys[i].name, k, klen))
			break;
	if (i == ARRAY_SIZE(vif_keys))
		return err_msg(err, errlen, -EINVAL, "unknown key '%.*s'",
				(int)(klen > 24 ? 24 : klen), k);
	if (vif_keys[i].key == VIF_REFUSED)
		return err_msg(err, errlen, -ENOTSUP, "%s= is not supported: %s",
				vif_keys[i].name, vif_keys[i].why);
	if (*seen & 1u << i)
		return err_msg(err, errlen, -EINVAL, "%s= given twice", vif_keys[i].name);
	*seen |= 1u << i;
	if (!vlen)
		return err_msg(err, errlen, -EINVAL, "%s= needs a value", vif_keys[i].name);
	memcpy(buf, val, vlen);
	buf[vlen] = '\0';
	return vif_value(v, vif_keys[i].key, vif_keys[i].name, buf, err, errlen);
}

int vif_parse(const char *spec, struct vif *v, char *err, size_t errlen)
{
	static const char *const backend_keys[] = { "bridge", "vifname", "script", "mtu" };
	const char *p = spec;
	unsigned int seen = 0;
	int r;

	memset(v, 0, sizeof(*v));
	v->queues = 1;
	for (unsigned int i = 0; i < VIF_MAX_QUEUES; i++)
		v->tap_fds[i] = -1;
	if (errlen)
		err[0] = '\0';
	if (strlen(spec) >= VIF_SPEC_MAX)
		return err_msg(err, errlen, -EINVAL, "spec longer than %d bytes",
				VIF_SPEC_MAX - 1);
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n;

		if (!end)
			end = p + strlen(p);
		vif_trim(p, end, &n);
		if (n && (r = vif_item(v, p, end, &seen, err, errlen)))
			return r;
		p = *end ? end + 1 : end;
	}
	if (!v->socket[0])
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(backend_keys); i++) {
		for (size_t k = 0; k < ARRAY_SIZE(vif_keys); k++)
			if (!strcmp(vif_keys[k].name, backend_keys[i]) && (seen & 1u << k))
				return err_msg(err, errlen, -EINVAL,
						"%s= configures the isle-netback isle starts; "
						"it cannot go with socket=", backend_keys[i]);
	}
	return 0;
}

int vif_netback_argv(const struct vif *v, const char *exe, const char *sock, const char *tap,
		     const int *fds, unsigned int nr_fds, const uint8_t mac[6],
		     const char *script, struct vif_argv *a)
{
	unsigned int n = 0;

	if (nr_fds > VIF_MAX_QUEUES)
		return -EINVAL;
	for (unsigned int i = 0; i < nr_fds; i++)
		if (fds[i] < 0)
			return -EINVAL;
	vif_format_mac(mac, a->mac);
	a->argv[n++] = exe;
	a->argv[n++] = "--socket";
	a->argv[n++] = sock;
	for (unsigned int i = 0; i < nr_fds; i++) {
		snprintf(a->fds[i], sizeof(a->fds[i]), "%d", fds[i]);
		a->argv[n++] = "--tap-fd";
		a->argv[n++] = a->fds[i];
	}
	if (!nr_fds) {
		a->argv[n++] = "--tap";
		a->argv[n++] = tap;
	}
	a->argv[n++] = "--mac";
	a->argv[n++] = a->mac;
	if (v->bridge[0]) {
		a->argv[n++] = "--bridge";
		a->argv[n++] = v->bridge;
	}
	if (script) {
		a->argv[n++] = "--script";
		a->argv[n++] = script;
	}
	if (v->mtu) {
		snprintf(a->mtu, sizeof(a->mtu), "%u", v->mtu % 100000);
		a->argv[n++] = "--mtu";
		a->argv[n++] = a->mtu;
	}
	if (v->queues > 1) {
		snprintf(a->queues, sizeof(a->queues), "%u", v->queues % 100000);
		a->argv[n++] = "--queues";
		a->argv[n++] = a->queues;
	}
	a->argv[n] = NULL;
	return (int)n;
}

/* Appends to buf as snprintf would, tracking the would-be length in *n. */
static void vif_put(char *buf, size_t len, int *n, const char *fmt, ...)
{
	size_t at = (size_t)*n;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		*n += r;
}

int vif_format(const struct vif *v, char *buf, size_t len)
{
	char mac[VIF_MAC_STRLEN];
	int n = 0;

	if (len)
		buf[0] = '\0';
	if (v->mac_set) {
		vif_format_mac(v->mac, mac);
		vif_put(buf, len, &n, "mac=%s", mac);
	}
	if (v->bridge[0])
		vif_put(buf, len, &n, "%sbridge=%s", n ? "," : "", v->bridge);
	if (v->vifname[0])
		vif_put(buf, len, &n, "%svifname=%s", n ? "," : "", v->vifname);
	if (v->script[0])
		vif_put(buf, len, &n, "%sscript=%s", n ? "," : "", v->script);
	if (v->socket[0])
		vif_put(buf, len, &n, "%ssocket=%s", n ? "," : "", v->socket);
	if (v->mtu)
		vif_put(buf, len, &n, "%smtu=%u", n ? "," : "", v->mtu);
	if (v->queues != 1)
		vif_put(buf, len, &n, "%squeues=%u", n ? "," : "", v->queues);
	return n;
}
