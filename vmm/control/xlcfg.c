/* xl.cfg(5) files and `isle create` overrides (owner: xlcfg.c; contract in
 * control/xlcfg.h): what xl's keys mean to isle. The syntax is
 * xlcfg_parse.c's (control/xlcfg_priv.h); this file is its store callback
 * and what comes after: the table of xl keys with their types and isle
 * names, the keys isle refuses as unsupported, collecting each statement
 * into that table (=, += and what an override may change), then applying
 * the table through vm_config_set() in a fixed order (the scalars, then
 * disk, vif, pci). Every message is one line: "FILE:LINE: why" or
 * "KEY=VALUE: why". Pure: no I/O, no globals. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/config.h"
#include "control/xlcfg.h"
#include "control/xlcfg_priv.h"
#include "core/device.h"

/* --- the keys --- */

enum xl_type { XT_STR, XT_NUM, XT_LIST };

/* In the order they are applied: the scalars, then the lists. */
enum xl_key { XK_TYPE, XK_BUILDER, XK_NAME, XK_MEMORY, XK_MAXMEM, XK_VCPUS, XK_MAXVCPUS,
	      XK_KERNEL, XK_RAMDISK, XK_CMDLINE, XK_ROOT, XK_EXTRA, XK_ON_POWEROFF,
	      XK_ON_REBOOT, XK_ON_CRASH, XK_SERIAL, XK_IOMMU, XK_TESTDEV, XK_EDU, XK_DISK,
	      XK_VIF, XK_PCI, XK_BALLOON, XK_NR };

static const struct { const char *name; enum xl_type type; const char *isle; }
xl_keys[XK_NR] = {
	[XK_TYPE] = { "type", XT_STR, NULL }, [XK_BUILDER] = { "builder", XT_STR, NULL },
	[XK_NAME] = { "name", XT_STR, "name" }, [XK_MEMORY] = { "memory", XT_NUM, "memory" },
	[XK_MAXMEM] = { "maxmem", XT_NUM, "maxmem" }, [XK_VCPUS] = { "vcpus", XT_NUM, "vcpus" },
	[XK_MAXVCPUS] = { "maxvcpus", XT_NUM, NULL },
	[XK_KERNEL] = { "kernel", XT_STR, "kernel" },
	[XK_RAMDISK] = { "ramdisk", XT_STR, "initrd" },
	[XK_CMDLINE] = { "cmdline", XT_STR, "cmdline" },
	[XK_ROOT] = { "root", XT_STR, "cmdline" }, [XK_EXTRA] = { "extra", XT_STR, "cmdline" },
	[XK_ON_POWEROFF] = { "on_poweroff", XT_STR, "on_poweroff" },
	[XK_ON_REBOOT] = { "on_reboot", XT_STR, "on_reboot" },
	[XK_ON_CRASH] = { "on_crash", XT_STR, "on_crash" },
	[XK_SERIAL] = { "serial", XT_STR, "serial" }, [XK_IOMMU] = { "iommu", XT_STR, "iommu" },
	[XK_TESTDEV] = { "testdev", XT_NUM, "testdev" }, [XK_EDU] = { "edu", XT_NUM, "edu" },
	[XK_DISK] = { "disk", XT_LIST, "disk" }, [XK_VIF] = { "vif", XT_LIST, "net" },
	[XK_PCI] = { "pci", XT_LIST, "pci" },
	/* isle's: 1, 0, or balloon_spec.h's options; maxmem > memory adds one. */
	[XK_BALLOON] = { "balloon", XT_STR, "balloon" },
};

/* xl.cfg(5) keys that isle knows of and does not implement. */
static const char *const xl_unsupported[] = {
	"acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m",
	"altp2mhvm", "apic", "bios", "bios_path_override", "boot", "bootloader",
	"bootloader_args", "channel", "claim_mode", "cpu_weight", "cpuid", "cpus", "cpus_soft",
	"cap", "device_model_args", "device_model_args_hvm", "device_model_args_pv",
	"device_model_override", "device_model_stubdomain_override",
	"device_model_stubdomain_seclabel", "device_model_user", "device_model_version",
	"device_tree", "dm_restrict", "driver_domain", "dtdev", "e820_host", "event_channels",
	"firmware", "firmware_override", "gfx_passthru", "gic_version", "hap", "hdtype", "hpet",
	"init_seclabel", "iomem", "ioports", "irqs", "keymap", "localtime",
	"max_event_channels", "max_grant_frames", "max_grant_version", "max_maptrack_frames",
	"mca_caps", "mmio_hole", "ms_vm_genid", "nestedhvm", "nomigrate", "on_soft_reset",
	"on_watchdog", "opengl", "p9", "pae", "passthrough", "pci_msitranslate",
	"pci_permissive", "pci_power_mgmt", "pci_seize", "pool", "pvcalls", "pvh", "pvshim",
	"pvshim_cmdline", "pvshim_extra", "pvshim_path", "rdm", "rdm_mem_boundary",
	"rtc_timeoffset", "sdl", "seclabel", "shadow_memory", "smbios_firmware", "soundhw",
	"spice", "spice_clipboard_sharing", "spiceagent_mouse", "spicedisable_ticketing",
	"spicehost", "spicepasswd", "spiceport", "spicetls_port", "spiceusbredirection",
	"spicevdagent", "stdvga", "stubdomain_kernel", "stubdomain_memory", "stubdomain_ramdisk",
	"tee", "timer_mode", "trap_unmapped_accesses", "tsc_mode", "usb", "usbctrl", "usbdev",
	"usbdevice", "usbversion", "uuid", "vdispl", "vfb", "vga", "videoram", "vif2",
	"viridian", "virtio", "vkb", "vnc", "vncconsole", "vncdisplay", "vnclisten",
	"vncpasswd", "vncunused", "vnuma", "vpmu", "vpt_align", "vscsi", "vsnd", "vtpm",
	"vuart", "xen_platform_pci",
};

/* --- collected settings --- */

struct xl_slot {
	struct xlc_value v;
	bool set;
	bool add;                            /* a += that found no earlier value */
};

struct xl {
	struct xlc_parser ps;                /* the file or override; ps.ctx is x */
	struct vm_config *c;
	struct xl_slot slot[XK_NR];
};

static int xl_find(const char *key)
{
	for (unsigned int i = 0; i < XK_NR; i++)
		if (!strcmp(xl_keys[i].name, key))
			return (int)i;
	return -1;
}

static bool xl_known_unsupported(const char *key)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(xl_unsupported); i++)
		if (!strcmp(xl_unsupported[i], key))
			return true;
	return false;
}

/* The parser's store callback: records KEY = v or KEY += v (as xl: +=
 * appends lists, concatenates strings, and with no earlier value assigns).
 * Takes v's strings. */
static int xl_store(struct xlc_parser *ps, const char *key, int line, bool add,
		    struct xlc_value *v)
{
	struct xl *x = ps->ctx;
	int k = xl_find(key);
	struct xl_slot *s;

	if (k < 0)
		return xl_known_unsupported(key) ?
		       xlc_fail(ps, line, -ENOTSUP, "%s: not supported by isle", key) :
		       xlc_fail(ps, line, -EINVAL, "%.40s: unknown key", key);
	if (xl_keys[k].type == XT_LIST && !v->list)
		return xlc_fail(ps, line, -EINVAL, "%s: expected a [list], not a single value",
				key);
	if (xl_keys[k].type != XT_LIST && v->list)
		return xlc_fail(ps, line, -EINVAL, "%s: expected a single value, not a list", key);
	if (add && xl_keys[k].type == XT_NUM)
		return xlc_fail(ps, line, -EINVAL, "%s: += cannot be used with numbers", key);
	if (ps->kv && (k == XK_ROOT || k == XK_EXTRA))
		return xlc_fail(ps, line, -EINVAL, "%s: cannot be changed after the file "
				"(give cmdline= instead)", key);
	if (ps->kv && add && xl_keys[k].type == XT_STR && k != XK_NAME && k != XK_KERNEL &&
	    k != XK_RAMDISK && k != XK_CMDLINE)
		return xlc_fail(ps, line, -EINVAL, "%s: += cannot be used after the file", key);
	s = &x->slot[k];
	if (ps->kv && add && !s->set && !v->list) {   /* after what the file gave */
		const char *cur = k == XK_NAME ? x->c->name : k == XK_KERNEL ? x->c->kernel :
				  k == XK_RAMDISK ? x->c->initrd : x->c->cmdline;

		if (!(s->v.str = strdup(cur ? cur : "")))
			return xlc_fail(ps, line, -ENOMEM, "out of memory");
		s->v.len = strlen(s->v.str);
		s->set = true;
	}
	if (!add || !s->set) {
		xlc_value_free(&s->v);
		s->v = *v;
		memset(v, 0, sizeof(*v));
		s->set = true;
		s->add = add;
		return 0;
	}
	s->v.line = line;
	if (v->list) {
		if (s->v.n + v->n > XLCFG_LIST_MAX)
			return xlc_fail(ps, line, -EINVAL, "%s: a list longer than %d elements",
					key, XLCFG_LIST_MAX);
		memcpy(s->v.item + s->v.n, v->item, v->n * sizeof(v->item[0]));
		memcpy(s->v.item_line + s->v.n, v->item_line, v->n * sizeof(v->item_line[0]));
		s->v.n += v->n;
		v->n = 0;
	} else {
		size_t a = s->v.len, b = v->len;
		char *cat;

		if (a + b > XLCFG_STRING_MAX)
			return xlc_fail(ps, line, -EINVAL, "%s: a string longer than %u bytes", key,
					XLCFG_STRING_MAX);
		if (!(cat = realloc(s->v.str, a + b + 1)))
			return xlc_fail(ps, line, -ENOMEM, "out of memory");
		memcpy(cat + a, v->str, b + 1);
		s->v.str = cat;
		s->v.len = a + b;
	}
	return 0;
}

/* --- applying the table --- */

/* vm_config_set, its message naming the xl key instead of isle's. */
static int xl_set(struct xl *x, struct vm_config *c, const char *xkey, const char *ikey,
		  const char *val, int line)
{
	size_t n = strlen(ikey);
	char msg[300];
	int r = vm_config_set(c, "", ikey, val, msg, sizeof(msg));

	if (!r)
		return 0;
	return xlc_fail(&x->ps, line, r, "%s: %s", xkey,
			!strncmp(msg, ikey, n) && msg[n] == ':' && msg[n + 1] == ' ' ?
			msg + n + 2 : msg);
}

/* A numeric key's value in decimal for vm_config_set; text that is no xl
 * number goes on as it is ("512M": vm_config_set decides). */
static int xl_number(struct xl *x, int k, char buf[24], const char **val)
{
	const struct xlc_value *v = &x->slot[k].v;
	uint64_t n;
	int r = xlc_strtou(v->str, &n);

	*val = v->str;
	if (r == -ERANGE || (r && v->str[0] == '0' && v->str[strspn(v->str, "0123456789")] == '\0'))
		return xlc_fail(&x->ps, v->line, -EINVAL, "%s: '%.32s' is not a number%s",
				xl_keys[k].name, v->str, r == -ERANGE ? " in range" :
				" (a leading 0 means octal, as in xl)");
	if (!r) {
		snprintf(buf, 24, "%llu", (unsigned long long)n);
		*val = buf;
	}
	return 0;
}

static const char *const xl_actions_unsupported[] = {
	"rename-restart", "coredump-destroy", "coredump-restart", "soft-reset",
};

/* The kernel command line as xl makes it: cmdline, else root= and extra. */
static int xl_cmdline(struct xl *x, struct vm_config *c)
{
	const struct xl_slot *root = &x->slot[XK_ROOT], *extra = &x->slot[XK_EXTRA];
	const struct xl_slot *by = extra->set ? extra : root;
	char *buf;
	int r;

	if (x->slot[XK_CMDLINE].set)
		return xl_set(x, c, "cmdline", "cmdline", x->slot[XK_CMDLINE].v.str,
			      x->slot[XK_CMDLINE].v.line);
	if (!root->set && !extra->set)
		return 0;
	buf = malloc((root->set ? strlen(root->v.str) + 6 : 0) +
		     (extra->set ? strlen(extra->v.str) : 0) + 1);
	if (!buf)
		return xlc_fail(&x->ps, by->v.line, -ENOMEM, "out of memory");
	sprintf(buf, "%s%s%s%s", root->set ? "root=" : "", root->set ? root->v.str : "",
		root->set && extra->set ? " " : "", extra->set ? extra->v.str : "");
	r = xl_set(x, c, by == extra ? "extra" : "root", "cmdline", buf, by->v.line);
	free(buf);
	return r;
}

static int xl_apply(struct xl *x, struct vm_config *c, enum xl_key k)
{
	const char *name = xl_keys[k].name, *val = x->slot[k].v.str;
	int line = x->slot[k].v.line, r;
	struct xlc_value *v = &x->slot[k].v;
	struct xlc_parser *ps = &x->ps;
	char num[24];
	uint64_t n;

	switch (k) {
	case XK_TYPE:
	case XK_BUILDER:
		if (!strcmp(val, "hvm") || (k == XK_TYPE && !strcmp(val, "pvh")))
			return 0;
		if (!strcmp(val, k == XK_TYPE ? "pv" : "generic"))
			return xlc_fail(ps, line, -ENOTSUP,
					"%s: '%s' (a PV guest) is not supported by isle (use "
					"type = \"pvh\" or \"hvm\")", name, val);
		return xlc_fail(ps, line, -EINVAL, "%s: '%.32s' is not %s", name, val,
				k == XK_TYPE ? "pvh, hvm or pv" : "hvm or generic");
	case XK_MEMORY:
	case XK_MAXMEM:
	case XK_VCPUS:
	case XK_TESTDEV:
		if ((r = xl_number(x, k, num, &val)))
			return r;
		return xl_set(x, c, name, xl_keys[k].isle, val, line);
	case XK_MAXVCPUS:
	case XK_EDU:
		if ((r = xl_number(x, k, num, &val)))
			return r;
		if (xlc_strtou(val, &n))
			return xlc_fail(ps, line, -EINVAL, "%s: '%.32s' is not a number", name,
					val);
		if (k == XK_MAXVCPUS && n != c->vcpus)
			return xlc_fail(ps, line, -ENOTSUP, "maxvcpus: %llu is not vcpus (%u): "
					"isle cannot hot-add vCPUs", (unsigned long long)n,
					c->vcpus);
		if (k == XK_MAXVCPUS)
			return 0;
		if (n > XLCFG_EDU_MAX)
			return xlc_fail(ps, line, -EINVAL, "edu: at most %d devices",
					XLCFG_EDU_MAX);
		vm_config_drop(c, DEVICE_EDU);
		for (r = 0; !r && n--; )
			r = xl_set(x, c, name, "edu", "1", line);
		return r;
	case XK_CMDLINE:
		return xl_cmdline(x, c);
	case XK_ROOT:
	case XK_EXTRA:
		return 0;   /* with cmdline */
	case XK_ON_POWEROFF:
	case XK_ON_REBOOT:
	case XK_ON_CRASH:
		for (unsigned int i = 0; i < ARRAY_SIZE(xl_actions_unsupported); i++)
			if (!strcmp(val, xl_actions_unsupported[i]))
				return xlc_fail(ps, line, -ENOTSUP, "%s: %s is not supported by "
						"isle (destroy, restart or preserve)", name, val);
		break;
	case XK_IOMMU:
		memset(&c->iommu, 0, sizeof(c->iommu));   /* replaces, even in an override */
		break;
	case XK_DISK:
	case XK_VIF:
	case XK_PCI:
		if (!x->slot[k].add)
			vm_config_drop(c, k == XK_DISK ? DEVICE_DISK : k == XK_VIF ? DEVICE_NIC : DEVICE_PCI);
		for (unsigned int i = 0; i < v->n; i++)
			if ((r = xl_set(x, c, name, xl_keys[k].isle, v->item[i], v->item_line[i])))
				return r;
		return 0;
	default:
		break;
	}
	return xl_set(x, c, name, xl_keys[k].isle, val, line);
}

/* Parses [text, text+len) (a file, or an override when kv) and applies it. */
static int xl_run(const char *file, const char *kv, const char *text, size_t len,
		  struct vm_config *c, char *err, size_t errlen)
{
	struct xl *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return err_msg(err, errlen, -ENOMEM, "%.128s: out of memory", kv ? kv : file);
	*x = (struct xl){ .ps = { .file = file, .kv = kv, .err = err, .errlen = errlen, .p = text,
				  .end = text + len, .line = 1, .store = xl_store, .ctx = x },
			  .c = c };
	r = xlc_statements(&x->ps);
	for (unsigned int k = 0; !r && k < XK_NR; k++) {
		/* root= and extra= make the command line when cmdline= does not. */
		if (!x->slot[k].set && !(k == XK_CMDLINE && (x->slot[XK_ROOT].set ||
							     x->slot[XK_EXTRA].set)))
			continue;
		r = xl_apply(x, c, (enum xl_key)k);
	}
	for (unsigned int k = 0; k < XK_NR; k++)
		xlc_value_free(&x->slot[k].v);
	free(x);
	return r;
}

int xlcfg_parse(const char *text, size_t len, const char *file, struct vm_config *c,
		char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (!file)
		file = "config";
	if (len > XLCFG_FILE_MAX)
		return err_msg(err, errlen, -EINVAL, "%.200s: larger than %u bytes (1 MiB)", file,
			       XLCFG_FILE_MAX);
	return xl_run(file, NULL, text ? text : "", text ? len : 0, c, err, errlen);
}

int xlcfg_override(struct vm_config *c, const char *kv, char *err, size_t errlen)
{
	size_t len = strlen(kv);

	if (errlen)
		err[0] = '\0';
	if (!len || !strchr(kv, '='))
		return err_msg(err, errlen, -EINVAL, "%.128s: expected KEY=VALUE", kv);
	if (len > XLCFG_FILE_MAX)
		return err_msg(err, errlen, -EINVAL, "%.32s...: longer than %u bytes", kv,
			       XLCFG_FILE_MAX);
	return xl_run(NULL, kv, kv, len, c, err, errlen);
}
