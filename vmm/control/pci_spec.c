/* xl's PCI syntax (owner: pci_spec.c; contract in control/pci_spec.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control/pci_spec.h"

static int spec_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* n hex digits at most, at least one; *p advances. -1 on none. */
static long spec_hex(const char **p, unsigned int max_digits)
{
	long v = 0;
	unsigned int n = 0;

	for (;; n++) {
		char c = (*p)[0];
		int d = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			break;
		if (n == max_digits)
			return -1;
		v = v * 16 + d;
		(*p)++;
	}
	return n ? v : -1;
}

static int spec_bdf(const char *s, size_t len, struct vm_pci *out, char *err, size_t errlen)
{
	char buf[32];
	const char *p = buf;
	long a, b, dom = 0, bus, dev, fn;

	if (len >= sizeof(buf))
		return spec_fail(err, errlen, -EINVAL, "'%.32s': not a PCI address", s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	a = spec_hex(&p, 4);
	if (a < 0 || *p != ':')
		goto bad;
	p++;
	b = spec_hex(&p, 4);
	if (b < 0)
		goto bad;
	if (*p == ':') {            /* DDDD:BB:DD.F */
		p++;
		dom = a;
		bus = b;
		dev = spec_hex(&p, 2);
	} else {                    /* BB:DD.F */
		bus = a;
		dev = b;
	}
	if (dev < 0 || *p != '.')
		goto bad;
	p++;
	fn = spec_hex(&p, 1);
	if (fn < 0 || bus > 0xff || dev > 0x1f || fn > 7)
		goto bad;
	if (*p == '@') {
		long slot;

		p++;
		slot = spec_hex(&p, 2);
		if (slot < 1 || slot > 0x1f || *p)
			return spec_fail(err, errlen, -EINVAL,
					 "'%s': virtual slot must be 01-1f (slot 0 is the host bridge)",
					 buf);
		out->vslot = (int)slot;
	}
	if (*p)
		goto bad;
	snprintf(out->host, sizeof(out->host), "%04x:%02x:%02x.%x", (unsigned int)dom & 0xffff,
		 (unsigned int)bus & 0xff, (unsigned int)dev & 0x1f, (unsigned int)fn & 7);
	return 0;
bad:
	return spec_fail(err, errlen, -EINVAL,
			 "'%s': not a PCI address ([DDDD:]BB:DD.F[@VSLOT], hex)", buf);
}

static int spec_bool(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
		*out = false;
	else
		return spec_fail(err, errlen, -EINVAL, "%s=%.32s: expected 0 or 1", key, v);
	return 0;
}

static int spec_key(struct vm_pci *out, const char *key, const char *v, char *err,
		    size_t errlen)
{
	bool b;
	int r;

	if (!strcmp(key, "permissive"))
		return spec_bool(key, v, &out->permissive, err, errlen);
	if (!strcmp(key, "seize"))
		return spec_bool(key, v, &out->seize, err, errlen);
	if (!strcmp(key, "msitranslate") || !strcmp(key, "power_mgmt")) {
		if ((r = spec_bool(key, v, &b, err, errlen)))
			return r;
		if (b)
			return spec_fail(err, errlen, -ENOTSUP, "%s=1 is not supported by isle%s",
					 key, key[0] == 'm' ?
					 " (MSIs reach the guest as MSIs, remapped when --iommu)" :
					 " (no guest-driven power management of the host device)");
		return 0;
	}
	if (!strcmp(key, "rdm_policy")) {
		if (strcmp(v, "strict") && strcmp(v, "relaxed"))
			return spec_fail(err, errlen, -EINVAL,
					 "rdm_policy=%.32s: expected strict or relaxed", v);
		return 0;
	}
	if (!strcmp(key, "name")) {
		if (strlen(v) >= sizeof(out->name) || !*v)
			return spec_fail(err, errlen, -EINVAL, "name=%.40s: 1-31 characters", v);
		strcpy(out->name, v);
		return 0;
	}
	if (!strcmp(key, "msix_relocation")) {
		if (!strcmp(v, "auto"))
			out->msix_relocation = 0;
		else if (!strcmp(v, "on"))
			out->msix_relocation = 1;
		else if (!strcmp(v, "off"))
			out->msix_relocation = 2;
		else
			return spec_fail(err, errlen, -EINVAL,
					 "msix_relocation=%.32s: expected auto, on or off", v);
		return 0;
	}
	if (!strcmp(key, "vslot") || !strcmp(key, "bdf") || !strcmp(key, "vdevfn") ||
	    !strcmp(key, "vfunc"))
		return spec_fail(err, errlen, -ENOTSUP,
				 "%s= is not supported: write BB:DD.F@VSLOT", key);
	return spec_fail(err, errlen, -EINVAL, "unknown key '%.32s'", key);
}

int pci_spec_parse(const char *text, struct vm_pci *out, char *err, size_t errlen)
{
	char buf[PCI_SPEC_MAX];
	char *p, *next;
	int r;

	memset(out, 0, sizeof(*out));
	out->vslot = -1;
	if (errlen)
		err[0] = '\0';
	if (strlen(text) >= sizeof(buf))
		return spec_fail(err, errlen, -EINVAL, "spec longer than %d bytes", PCI_SPEC_MAX - 1);
	/* Messages quote the spec: only printable text gets that far. */
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return spec_fail(err, errlen, -EINVAL,
					 "spec contains a non-printable character (byte %#x)",
					 (unsigned char)*c);
	strcpy(buf, text);
	next = strchr(buf, ',');
	if ((r = spec_bdf(buf, next ? (size_t)(next - buf) : strlen(buf), out, err, errlen)))
		return r;
	for (p = next ? next + 1 : NULL; p; p = next) {
		char *eq;

		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		eq = strchr(p, '=');
		if (!eq || eq == p)
			return spec_fail(err, errlen, -EINVAL, "'%.32s': expected KEY=VALUE", p);
		*eq = '\0';
		if ((r = spec_key(out, p, eq + 1, err, errlen)))
			return r;
	}
	return 0;
}
