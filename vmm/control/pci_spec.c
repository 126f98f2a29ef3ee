/* xl's PCI syntax (owner: pci_spec.c; contract in control/pci_spec.h). */
#include <errno.h>
#include <string.h>

#include "isle/log.h"
#include "control/pci_spec.h"

/* The slot after '@': 1-2 hex digits, 01-1f. -1 otherwise. */
static int spec_slot(const char *p)
{
	int v = 0, n = 0;

	for (; *p && n < 3; p++, n++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' :
			*p >= 'a' && *p <= 'f' ? *p - 'a' + 10 :
			*p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return n && n <= 2 && !*p && v >= 1 && v <= 0x1f ? v : -1;
}

/* The host address is vfio-glue's canonical BDF (one parser for the
 * command line and the device open); isle's own part is @VSLOT. */
static int spec_bdf(const char *s, size_t len, struct vm_pci *out, char *err, size_t errlen)
{
	char buf[32], *at;

	if (len >= sizeof(buf))
		return err_msg(err, errlen, -EINVAL, "'%.32s': not a PCI address", s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		out->vslot = spec_slot(at + 1);
	}
	if (vfio_bdf_canon(buf, out->host)) {
		if (at)
			*at = '@';
		return err_msg(err, errlen, -EINVAL,
			       "'%s': not a PCI address ([DDDD:]BB:DD.F[@VSLOT], hex)", buf);
	}
	if (at && out->vslot < 0)
		return err_msg(err, errlen, -EINVAL,
			       "'%s@%s': virtual slot must be 01-1f (slot 0 is the host bridge)",
			       buf, at + 1);
	return 0;
}

static int spec_bool(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
		*out = false;
	else
		return err_msg(err, errlen, -EINVAL, "%s=%.32s: expected 0 or 1", key, v);
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
			return err_msg(err, errlen, -ENOTSUP, "%s=1 is not supported by isle%s",
					 key, key[0] == 'm' ?
					 " (MSIs reach the guest as MSIs, remapped when --iommu)" :
					 " (no guest-driven power management of the host device)");
		return 0;
	}
	if (!strcmp(key, "rdm_policy")) {
		if (strcmp(v, "strict") && strcmp(v, "relaxed"))
			return err_msg(err, errlen, -EINVAL,
					 "rdm_policy=%.32s: expected strict or relaxed", v);
		return 0;
	}
	if (!strcmp(key, "name")) {
		if (strlen(v) >= sizeof(out->name) || !*v)
			return err_msg(err, errlen, -EINVAL, "name=%.40s: 1-31 characters", v);
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
			return err_msg(err, errlen, -EINVAL,
					 "msix_relocation=%.32s: expected auto, on or off", v);
		return 0;
	}
	if (!strcmp(key, "vslot") || !strcmp(key, "bdf") || !strcmp(key, "vdevfn") ||
	    !strcmp(key, "vfunc"))
		return err_msg(err, errlen, -ENOTSUP,
				 "%s= is not supported: write BB:DD.F@VSLOT", key);
	return err_msg(err, errlen, -EINVAL, "unknown key '%.32s'", key);
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
		return err_msg(err, errlen, -EINVAL, "spec longer than %d bytes", PCI_SPEC_MAX - 1);
	/* Messages quote the spec: only printable text gets that far. */
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return err_msg(err, errlen, -EINVAL,
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
			return err_msg(err, errlen, -EINVAL, "'%.32s': expected KEY=VALUE", p);
		*eq = '\0';
		if ((r = spec_key(out, p, eq + 1, err, errlen)))
			return r;
	}
	return 0;
}
