/* vm_config_set(): the one place a VM configuration value is checked, for
 * the command line, xl.cfg files and the JSON control socket alike (see
 * config.h). Device values go on to the one device validator,
 * device_spec_parse(), and vm_config_add()'s cross-device checks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/config.h"
#include "control/vif.h"
#include "core/device.h"
#include "boot/layout.h"

void vm_config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->memory = CONFIG_DEFAULT_MEMORY;
	c->vcpus = 1;
}

int config_parse_size(const char *s, uint64_t bare_unit, uint64_t *out)
{
	uint64_t v = 0, mult = bare_unit;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -EINVAL;
	switch (*p) {
	case '\0':
		break;
	case 'b': case 'B':
		mult = 1;
		p++;
		break;
	case 'k': case 'K':
		mult = KiB;
		p++;
		break;
	case 'm': case 'M':
		mult = MiB;
		p++;
		break;
	case 'g': case 'G':
		mult = GiB;
		p++;
		break;
	case 't': case 'T':
		mult = 1024 * GiB;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (mult != 1) {
		if (*p == 'i' && p[1] == 'B')
			p += 2;
		else if (*p == 'B')
			p++;
	}
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

size_t config_disk_prefix(const char *s)
{
	size_t i = 0;

	while (i <= 16 && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
		i++;
	return i && i <= 16 && s[i] == ':' ? i : 0;
}

static const char *const action_names[] = {
	[VM_ACTION_DESTROY] = "destroy",
	[VM_ACTION_RESTART] = "restart",
	[VM_ACTION_PRESERVE] = "preserve",
};

int config_parse_action(const char *s, enum vm_action *out)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(action_names); i++)
		if (!strcmp(s, action_names[i])) {
			*out = (enum vm_action)i;
			return 0;
		}
	return -EINVAL;
}

const char *config_action_name(enum vm_action a)
{
	return (unsigned int)a < ARRAY_SIZE(action_names) ? action_names[a] : "?";
}

int config_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= CONFIG_NAME_MAX || name[0] == '-' || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return 0;
	}
	return 1;
}

static int config_onoff(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

enum config_key { K_KERNEL, K_INITRD, K_CMDLINE, K_MEMORY, K_MAXMEM, K_VCPUS, K_SERIAL,
		  K_DISK, K_NET, K_PCI, K_TESTDEV, K_EDU, K_IOMMU, K_NAME, K_ON_POWEROFF,
		  K_ON_REBOOT, K_ON_CRASH, K_CONSOLE_SOCKET, K_BALLOON };

static const struct { const char *name; enum config_key key; bool flag; } config_keys[] = {
	{ "kernel", K_KERNEL, false }, { "initrd", K_INITRD, false },
	{ "cmdline", K_CMDLINE, false }, { "memory", K_MEMORY, false },
	{ "maxmem", K_MAXMEM, false }, { "vcpus", K_VCPUS, false },
	{ "serial", K_SERIAL, false }, { "disk", K_DISK, false }, { "net", K_NET, false },
	{ "pci", K_PCI, false }, { "testdev", K_TESTDEV, true }, { "edu", K_EDU, true },
	{ "iommu", K_IOMMU, false }, { "name", K_NAME, false },
	{ "on_poweroff", K_ON_POWEROFF, false }, { "on_reboot", K_ON_REBOOT, false },
	{ "on_crash", K_ON_CRASH, false }, { "console_socket", K_CONSOLE_SOCKET, false },
	{ "balloon", K_BALLOON, false },
};

static int config_find(const char *key)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (!strcmp(config_keys[i].name, key))
			return (int)i;
	return -1;
}

int vm_config_key_known(const char *key)
{
	return config_find(key) >= 0;
}

int vm_config_key_flag(const char *key)
{
	int i = config_find(key);

	return i >= 0 && config_keys[i].flag;
}

/* "aw=39|48,caching_mode=on|off", or "" for the defaults. */
static int config_iommu(struct vm_iommu *io, const char *pfx, const char *val, char *err,
			size_t errlen)
{
	char buf[128], *save = NULL, *kv;

	io->enabled = true;
	if (strlen(val) >= sizeof(buf))
		return err_msg(err, errlen, -EINVAL, "%siommu: options too long", pfx);
	strcpy(buf, val);
	for (kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "";

		if (eq)
			*eq = '\0';
		if (!strcmp(kv, "aw")) {
			if (strcmp(v, "39") && strcmp(v, "48"))
				return err_msg(err, errlen, -EINVAL,
					       "%siommu: aw must be 39 or 48, not '%.16s'", pfx, v);
			io->aw_bits = (unsigned int)atoi(v);
		} else if (!strcmp(kv, "caching_mode")) {
			if (config_onoff(v, &io->caching_mode))
				return err_msg(err, errlen, -EINVAL,
					       "%siommu: caching_mode must be on or off, not '%.16s'",
					       pfx, v);
			io->caching_mode_off = !io->caching_mode;
		} else {
			return err_msg(err, errlen, -EINVAL,
				       "%siommu: unknown option '%.32s' (aw, caching_mode)", pfx, kv);
		}
	}
	return 0;
}

/* The one device validator, then what must differ between devices of one VM. */
static int config_device(struct vm_config *c, enum device_kind kind, const char *pfx,
			 const char *key, const char *val, char *err, size_t errlen)
{
	struct device_spec *spec = malloc(sizeof(*spec));   /* ~6 KiB */
	char msg[200];
	int r;

	if (!spec)
		return err_msg(err, errlen, -ENOMEM, "%s%s: out of memory", pfx, key);
	r = device_spec_parse(kind, val, spec, msg, sizeof(msg));
	if (!r)
		r = vm_config_add(c, spec, msg, sizeof(msg));
	free(spec);
	if (r)
		return err_msg(err, errlen, r, "%s%s: %s", pfx, key, msg);
	return 0;
}

static int config_str(char **field, const char *pfx, const char *key, const char *val,
		      char *err, size_t errlen)
{
	if (vm_config_set_str(field, val))
		return err_msg(err, errlen, -ENOMEM, "%s%s: out of memory", pfx, key);
	return 0;
}

/* Stores only a good value: a refused one leaves the config as it was. */
static int config_memory(uint64_t *field, const char *pfx, const char *key, const char *val,
			 char *err, size_t errlen)
{
	uint64_t v;

	if (config_parse_size(val, MiB, &v))
		return err_msg(err, errlen, -EINVAL, "%s%s: '%.64s' is not a size (e.g. 512M, 2G)",
			       pfx, key, val);
	if (v < LAYOUT_MIN_RAM || v > CONFIG_MAX_MEMORY)
		return err_msg(err, errlen, -EINVAL, "%s%s: must be between %lluM and %lluG", pfx,
			       key, LAYOUT_MIN_RAM >> 20, CONFIG_MAX_MEMORY >> 30);
	if (v % (4 * KiB))
		return err_msg(err, errlen, -EINVAL, "%s%s: must be a multiple of 4K", pfx, key);
	*field = v;
	return 0;
}

int vm_config_set(struct vm_config *c, const char *pfx, const char *key, const char *val,
		  char *err, size_t errlen)
{
	int i = config_find(key);
	enum vm_action *act;
	struct vm_iommu io;
	unsigned int n;
	bool on;
	int r;

	if (i < 0)
		return err_msg(err, errlen, -EINVAL, "%s%.32s: unknown key", pfx, key);
	switch (config_keys[i].key) {
	case K_KERNEL:
	case K_INITRD:
		if (!*val)
			return err_msg(err, errlen, -EINVAL, "%s%s: empty file name", pfx, key);
		return config_str(config_keys[i].key == K_KERNEL ? &c->kernel : &c->initrd, pfx,
				  key, val, err, errlen);
	case K_CMDLINE:
		if (strlen(val) >= LAYOUT_CMDLINE_MAX)
			return err_msg(err, errlen, -EINVAL, "%s%s: longer than %llu bytes", pfx, key,
				       LAYOUT_CMDLINE_MAX - 1);
		return config_str(&c->cmdline, pfx, key, val, err, errlen);
	case K_MEMORY:
		return config_memory(&c->memory, pfx, key, val, err, errlen);
	case K_MAXMEM:
		return config_memory(&c->maxmem, pfx, key, val, err, errlen);
	case K_VCPUS:
		if (vif_parse_uint(val, 1, CONFIG_MAX_VCPUS, &n))
			return err_msg(err, errlen, -EINVAL,
				       "%s%s: '%.64s' is not a number from 1 to %d", pfx, key, val,
				       CONFIG_MAX_VCPUS);
		c->vcpus = n;
		return 0;
	case K_SERIAL:
		if (!strcmp(val, "stdio"))
			return config_str(&c->serial_file, pfx, key, NULL, err, errlen);
		if (!strncmp(val, "file:", 5) && val[5])
			return config_str(&c->serial_file, pfx, key, val + 5, err, errlen);
		return err_msg(err, errlen, -EINVAL,
			       "%s%s: '%.64s' is neither 'stdio' nor 'file:PATH'", pfx, key, val);
	case K_CONSOLE_SOCKET:
		if (!*val || strlen(val) >= CONFIG_SOCKET_PATH_MAX)
			return err_msg(err, errlen, -EINVAL, "%s%s: a socket path of 1-%d bytes",
				       pfx, key, CONFIG_SOCKET_PATH_MAX - 1);
		return config_str(&c->console_socket, pfx, key, val, err, errlen);
	case K_DISK:
		return config_device(c, DEVICE_DISK, pfx, key, val, err, errlen);
	case K_NET:
		return config_device(c, DEVICE_NIC, pfx, key, val, err, errlen);
	case K_PCI:
		return config_device(c, DEVICE_PCI, pfx, key, val, err, errlen);
	case K_BALLOON: {
		/* One balloon: a new value replaces the old one; 0/off removes it. */
		struct vm_config probe = { 0 };
		char msg[200];
		unsigned int k;

		if (!strcmp(val, "0") || !strcmp(val, "off")) {
			vm_config_drop(c, DEVICE_BALLOON);
			return 0;
		}
		if ((r = config_device(&probe, DEVICE_BALLOON, pfx, key, val, err, errlen)))
			return r;
		for (k = 0; k < c->nr_devices && c->devices[k].kind != DEVICE_BALLOON; k++)
			;
		if (k < c->nr_devices) {
			c->devices[k] = probe.devices[0];
			vm_config_free(&probe);
			return 0;
		}
		r = vm_config_add(c, &probe.devices[0], msg, sizeof(msg));
		vm_config_free(&probe);
		return r ? err_msg(err, errlen, r, "%s%s: %s", pfx, key, msg) : 0;
	}
	case K_TESTDEV:
	case K_EDU:
		on = true;
		if (*val && config_onoff(val, &on))
			return err_msg(err, errlen, -EINVAL, "%s%s: '%.16s' is not 1 or 0", pfx, key,
				       val);
		if (config_keys[i].key == K_TESTDEV)
			c->testdev = on;
		else if (on)
			return config_device(c, DEVICE_EDU, pfx, key, "", err, errlen);
		return 0;
	case K_IOMMU:
		if (!strcmp(val, "0") || !strcmp(val, "off")) {
			memset(&c->iommu, 0, sizeof(c->iommu));
			return 0;
		}
		io = c->iommu;   /* options add up; a refused value changes nothing */
		r = config_iommu(&io, pfx, !strcmp(val, "1") || !strcmp(val, "on") ? "" : val, err,
				 errlen);
		if (!r)
			c->iommu = io;
		return r;
	case K_NAME:
		if (!config_name_ok(val))
			return err_msg(err, errlen, -EINVAL,
				       "%s%s: '%.64s' is not a name (1-63 of A-Z a-z 0-9 _ . -, "
				       "not starting with - or .)", pfx, key, val);
		return config_str(&c->name, pfx, key, val, err, errlen);
	case K_ON_POWEROFF:
	case K_ON_REBOOT:
	case K_ON_CRASH:
		act = config_keys[i].key == K_ON_POWEROFF ? &c->on_poweroff :
		      config_keys[i].key == K_ON_REBOOT ? &c->on_reboot : &c->on_crash;
		if (config_parse_action(val, act))
			return err_msg(err, errlen, -EINVAL,
				       "%s%s: '%.32s' is not destroy, restart or preserve", pfx, key,
				       val);
		return 0;
	}
	return 0;
}

int vm_config_finish(struct vm_config *c, char *err, size_t errlen)
{
	if (!c->kernel)
		return err_msg(err, errlen, -EINVAL, "a kernel is required");
	if (c->maxmem && c->maxmem < c->memory)
		return err_msg(err, errlen, -EINVAL, "maxmem (%lluM) is below memory (%lluM)",
			       (unsigned long long)(c->maxmem >> 20),
			       (unsigned long long)(c->memory >> 20));
	if (c->iommu.caching_mode_off && vm_config_count(c, DEVICE_PCI))
		return err_msg(err, errlen, -EINVAL,
			       "iommu: caching_mode=off cannot be used with pci (the host IOMMU "
			       "learns the guest's mappings from its invalidations)");
	if (c->maxmem > c->memory) {
		/* xl's pre-ballooned start: RAM is maxmem, the balloon holds the rest. */
		struct device_spec *b = NULL;
		char msg[200];
		int r;

		for (unsigned int i = 0; i < c->nr_devices; i++)
			if (c->devices[i].kind == DEVICE_BALLOON)
				b = &c->devices[i];
		if (!b) {
			if ((r = config_device(c, DEVICE_BALLOON, "", "balloon", "", msg,
					       sizeof(msg))))
				return err_msg(err, errlen, r, "maxmem: %s", msg);
			b = &c->devices[c->nr_devices - 1];
		}
		if (vm_config_count(c, DEVICE_PCI) && !b->balloon.vfio_allow && !c->iommu.enabled)
			return err_msg(err, errlen, -EINVAL,
				       "maxmem above memory (a ballooned start) cannot be used with "
				       "pci: assigned devices pin all guest RAM (unless behind the "
				       "iommu; balloon vfio=allow for mediated devices)");
		b->balloon.size = c->maxmem - c->memory;
	}
	vm_config_name_disks(c);
	vm_config_name_devices(c);
	return 0;
}
