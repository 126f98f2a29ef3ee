/* The bodies about the whole VM (contract in api_json.h): vm.create's
 * VmConfig, vm.resize's VmResize and vm.remove-device's VmRemoveDevice.
 *
 * VmConfig is checked field by field against the tables below (how, in
 * api_json.c's top comment), then applied through vm_config_set() in a fixed
 * order: platform (segments, IOMMU width), payload, cpus, memory, disks,
 * net, devices, serial/console, balloon, and last the IOMMU, which any of
 * iommu: true, platform.iommu_segments or a device's iommu: true turns on
 * (isle has one VT-d in front of every PCI device, all on segment 0). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "control/api_json.h"
#include "control/api_json_priv.h"
#include "control/balloon_spec.h"
#include "control/config.h"
#include "core/device.h"

static const char aj_smbios_why[] = "isle has no SMBIOS tables";

static const struct aj_field aj_vm_fields[] = {
	{ "cpus", T_OBJ, R_USE, NULL }, { "memory", T_OBJ, R_USE, NULL },
	{ "payload", T_OBJ, R_USE, NULL }, { "disks", T_ARR, R_USE, NULL },
	{ "net", T_ARR, R_USE, NULL }, { "devices", T_ARR, R_USE, NULL },
	{ "serial", T_OBJ, R_USE, NULL }, { "console", T_OBJ, R_USE, NULL },
	{ "debug_console", T_OBJ, R_USE, NULL }, { "balloon", T_OBJ, R_USE, NULL },
	{ "platform", T_OBJ, R_USE, NULL }, { "iommu", T_BOOL, R_USE, NULL },
	{ "rate_limit_groups", T_ARR, R_ABSENT, AJ_RL_WHY },
	/* Kata always sends rng (src /dev/urandom): accepted, and the guest
	 * gets no virtio-rng (its kernel seeds from RDRAND and the TSC). */
	{ "rng", T_OBJ, R_IGNORE, NULL },
	{ "fs", T_ARR, R_ABSENT, AJ_NOT_SUP("vhost-user-fs") },
	{ "generic_vhost_user", T_ARR, R_ABSENT, AJ_NOT_SUP("a generic vhost-user device") },
	{ "pmem", T_ARR, R_ABSENT, AJ_NOT_SUP("virtio-pmem") },
	{ "user_devices", T_ARR, R_ABSENT, AJ_NOT_SUP("vfio-user") },
	{ "vdpa", T_ARR, R_ABSENT, AJ_NOT_SUP("vDPA") },
	{ "vsock", T_OBJ, R_ABSENT, AJ_NOT_SUP("virtio-vsock") },
	{ "numa", T_ARR, R_ABSENT, AJ_NOT_SUP("a NUMA topology") },
	{ "pci_segments", T_ARR, R_ABSENT, "isle has one PCI segment and no aperture weights" },
	{ "rtc", T_OBJ, R_ABSENT, AJ_NOT_SUP("a virtio RTC") },
	{ "tpm", T_OBJ, R_ABSENT, AJ_NOT_SUP("a TPM") },
	{ "ivshmem", T_OBJ, R_ABSENT, AJ_NOT_SUP("ivshmem") },
	{ "pvmemcontrol", T_OBJ, R_ABSENT, AJ_NOT_SUP("pvmemcontrol") },
	{ "sgx_epc", T_ARR, R_ABSENT, AJ_NOT_SUP("SGX") },
	{ "tdx", T_OBJ, R_ABSENT, AJ_NOT_SUP("TDX") },
	{ "landlock_rules", T_ARR, R_ABSENT, AJ_NOT_SUP("Landlock") },
	{ "landlock_enable", T_BOOL, R_FALSE, AJ_NOT_SUP("Landlock") },
	{ "watchdog", T_BOOL, R_FALSE, AJ_NOT_SUP("a watchdog device") },
	{ "pvpanic", T_BOOL, R_FALSE, AJ_NOT_SUP("pvpanic") },
	{ "gdb", T_BOOL, R_FALSE, AJ_NOT_SUP("a gdb stub") },
};
static const struct aj_field aj_payload_fields[] = {
	{ "kernel", T_STR, R_USE, NULL }, { "cmdline", T_STR, R_USE, NULL },
	{ "initramfs", T_STR, R_USE, NULL },
	{ "firmware", T_STR, R_ABSENT, "isle boots a kernel directly, not firmware" },
	{ "igvm", T_STR, R_ABSENT, AJ_NOT_SUP("IGVM") },
	{ "host_data", T_STR, R_ABSENT, AJ_NOT_SUP("a confidential guest") },
	{ "fw_cfg_config", T_OBJ, R_ABSENT, AJ_NOT_SUP("fw_cfg") },
};
static const struct aj_field aj_cpus_fields[] = {
	{ "boot_vcpus", T_INT, R_USE, NULL }, { "max_vcpus", T_INT, R_USE, NULL },
	{ "topology", T_OBJ, R_USE, NULL }, { "features", T_OBJ, R_USE, NULL },
	{ "core_scheduling", T_STR, R_USE, NULL }, { "profile", T_STR, R_USE, NULL },
	{ "kvm_hyperv", T_BOOL, R_FALSE, AJ_NOT_SUP("Hyper-V emulation") },
	{ "affinity", T_ARR, R_ABSENT, AJ_NOT_SUP("pinning vCPUs") },
	{ "max_phys_bits", T_INT, R_IGNORE, NULL }, { "nested", T_BOOL, R_IGNORE, NULL },
};
static const struct aj_field aj_topology_fields[] = {
	{ "threads_per_core", T_INT, R_IGNORE, NULL }, { "cores_per_die", T_INT, R_IGNORE, NULL },
	{ "dies_per_package", T_INT, R_IGNORE, NULL }, { "packages", T_INT, R_IGNORE, NULL },
};
static const struct aj_field aj_features_fields[] = {
	{ "amx", T_BOOL, R_FALSE, AJ_NOT_SUP("AMX") },
};
static const struct aj_field aj_memory_fields[] = {
	{ "size", T_INT, R_USE, NULL }, { "hotplug_method", T_STR, R_USE, NULL },
	/* Kata sends a hotplug size for every guest: accepted as room isle
	 * never uses; vm.resize's desired_ram is what is refused. */
	{ "hotplug_size", T_INT, R_IGNORE, NULL },
	{ "hotplugged_size", T_INT, R_ZERO, AJ_NOT_SUP("memory hotplug") },
	{ "hugepages", T_BOOL, R_FALSE, AJ_NOT_SUP("hugepage-backed RAM") },
	{ "hugepage_size", T_INT, R_ABSENT, AJ_NOT_SUP("hugepage-backed RAM") },
	{ "zones", T_ARR, R_ABSENT, AJ_NOT_SUP("memory zones") },
	{ "mergeable", T_BOOL, R_FALSE, AJ_NOT_SUP("KSM (mergeable RAM)") },
	/* isle's RAM is always a shared memfd (vhost-user needs it). */
	{ "shared", T_BOOL, R_IGNORE, NULL }, { "prefault", T_BOOL, R_IGNORE, NULL },
	{ "reserve", T_BOOL, R_IGNORE, NULL }, { "thp", T_BOOL, R_IGNORE, NULL },
};
/* The balloon (vmm/control/balloon_spec.h): size is the balloon at boot;
 * stats_polling_interval_s is isle's (Firecracker's name), cloud-hypervisor
 * has no statistics. */
static const struct aj_field aj_balloon_fields[] = {
	{ "size", T_INT, R_USE, NULL },
	{ "deflate_on_oom", T_BOOL, R_USE, NULL },
	{ "free_page_reporting", T_BOOL, R_USE, NULL },
	{ "stats_polling_interval_s", T_INT, R_USE, NULL },
	{ "id", T_STR, R_IGNORE, NULL },
	{ "iommu", T_BOOL, R_IGNORE, NULL }, { "pci_segment", T_INT, R_IGNORE, NULL },
	{ "pci_device_id", T_INT, R_IGNORE, NULL },
};
static const struct aj_field aj_platform_fields[] = {
	{ "num_pci_segments", T_INT, R_USE, NULL }, { "iommu_segments", T_ARR, R_USE, NULL },
	{ "iommu_address_width_bits", T_INT, R_USE, NULL },
	{ "iommu_address_width", T_INT, R_USE, NULL },   /* Kata's older client */
	{ "vfio_p2p_dma", T_BOOL, R_IGNORE, NULL },
	{ "tdx", T_BOOL, R_FALSE, AJ_NOT_SUP("TDX") },
	{ "sev_snp", T_BOOL, R_FALSE, AJ_NOT_SUP("SEV-SNP") },
	{ "iommufd", T_BOOL, R_FALSE, AJ_NOT_SUP("iommufd") },
	{ "iommufd_fd", T_INT, R_ABSENT, AJ_NOT_SUP("iommufd") },
	{ "system_serial_number", T_STR, R_ABSENT, aj_smbios_why },
	{ "serial_number", T_STR, R_ABSENT, aj_smbios_why },
	{ "system_uuid", T_STR, R_ABSENT, aj_smbios_why },
	{ "uuid", T_STR, R_ABSENT, aj_smbios_why },
	{ "oem_strings", T_ARR, R_ABSENT, aj_smbios_why },
	{ "system_manufacturer", T_STR, R_ABSENT, aj_smbios_why },
	{ "system_product_name", T_STR, R_ABSENT, aj_smbios_why },
	{ "system_version", T_STR, R_ABSENT, aj_smbios_why },
	{ "system_family", T_STR, R_ABSENT, aj_smbios_why },
	{ "system_sku_number", T_STR, R_ABSENT, aj_smbios_why },
	{ "chassis_asset_tag", T_STR, R_ABSENT, aj_smbios_why },
};
/* serial (the 16550), console (virtio-console), debug_console (port 0xe9). */
static const struct aj_field aj_console_fields[] = {
	{ "mode", T_STR, R_USE, NULL }, { "file", T_STR, R_USE, NULL },
	{ "socket", T_STR, R_IGNORE, NULL }, { "iobase", T_INT, R_IGNORE, NULL },
	{ "iommu", T_BOOL, R_IGNORE, NULL }, { "id", T_STR, R_IGNORE, NULL },
	{ "pci_segment", T_INT, R_IGNORE, NULL }, { "pci_device_id", T_INT, R_IGNORE, NULL },
};

struct aj_vm {
	struct vm_config *c;
	char *err;
	size_t errlen;
	json_int_t nseg;        /* platform.num_pci_segments */
	json_int_t aw;          /* the VT-d's address width: 39, 48; 0: isle's default */
	bool iommu;
};

/* vm_config_set(c, "WHERE: ", key, val). */
static int aj_set(struct aj_vm *v, const char *where, const char *key, const char *val)
{
	char pfx[AJ_PATH_MAX + 2];

	snprintf(pfx, sizeof(pfx), "%s: ", where);
	return vm_config_set(v->c, pfx, key, val, v->err, v->errlen);
}

static int aj_payload(struct aj_vm *v, const json_t *o)
{
	static const char *const keys[][2] = {
		{ "kernel", "kernel" }, { "initramfs", "initrd" }, { "cmdline", "cmdline" },
	};
	char p[AJ_PATH_MAX];
	int r;

	if (!o)
		return aj_required("", "payload", v->err, v->errlen);
	if ((r = AJ_CHECK(o, "payload", aj_payload_fields, v->err, v->errlen)))
		return r;
	if (!aj_str(o, "kernel"))
		return aj_required("payload", "kernel", v->err, v->errlen);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *s = aj_str(o, keys[i][0]);

		if (s && (r = aj_set(v, aj_path(p, "payload", keys[i][0]), keys[i][1], s)))
			return r;
	}
	return 0;
}

static int aj_cpus(struct aj_vm *v, const json_t *o)
{
	json_int_t boot, max;
	const char *cs, *prof;
	char buf[24];
	int r;

	if (!o)
		return 0;       /* cloud-hypervisor's default: 1 of 1, isle's too */
	if ((r = AJ_CHECK(o, "cpus", aj_cpus_fields, v->err, v->errlen)) ||
	    (aj_get(o, "topology") && (r = AJ_CHECK(aj_get(o, "topology"), "cpus.topology",
						    aj_topology_fields, v->err, v->errlen))) ||
	    (aj_get(o, "features") && (r = AJ_CHECK(aj_get(o, "features"), "cpus.features",
						    aj_features_fields, v->err, v->errlen))))
		return r;
	cs = aj_str(o, "core_scheduling");
	if (cs && strcmp(cs, "Off"))
		return err_msg(v->err, v->errlen, strcmp(cs, "Vm") && strcmp(cs, "Vcpu") ?
			       -EINVAL : -ENOTSUP, "cpus.core_scheduling: '%.16s': %s", cs,
			       AJ_NOT_SUP("core scheduling (only Off)"));
	prof = aj_str(o, "profile");
	if (prof && strcmp(prof, "Host"))
		return err_msg(v->err, v->errlen, -EINVAL, "cpus.profile: '%.16s' is not Host",
			       prof);
	if ((r = aj_int(o, "cpus", "boot_vcpus", 1, CONFIG_MAX_VCPUS, &boot, v->err,
			v->errlen)) <= 0)
		return r ? r : aj_required("cpus", "boot_vcpus", v->err, v->errlen);
	if ((r = aj_int(o, "cpus", "max_vcpus", 1, INT64_MAX, &max, v->err, v->errlen)) < 0)
		return r;
	if (r && max < boot)
		return err_msg(v->err, v->errlen, -EINVAL, "cpus.max_vcpus: %lld is below "
			       "boot_vcpus (%lld)", (long long)max, (long long)boot);
	/* max_vcpus > boot_vcpus (Kata's default_maxvcpus) is accepted: the
	 * VM has boot_vcpus, and vm.resize's desired_vcpus is refused. */
	snprintf(buf, sizeof(buf), "%lld", (long long)boot);
	return aj_set(v, "cpus.boot_vcpus", "vcpus", buf);
}

static int aj_memory(struct aj_vm *v, const json_t *o)
{
	const char *hm;
	json_int_t size;
	char buf[32];
	int r;

	if (!o)
		return 0;       /* isle's default (256M), not cloud-hypervisor's 512M */
	if ((r = AJ_CHECK(o, "memory", aj_memory_fields, v->err, v->errlen)))
		return r;
	hm = aj_str(o, "hotplug_method");
	if (hm && strcmp(hm, "Acpi") && strcmp(hm, "VirtioMem"))
		return err_msg(v->err, v->errlen, -EINVAL, "memory.hotplug_method: '%.16s' is "
			       "not Acpi or VirtioMem", hm);
	if ((r = aj_int(o, "memory", "size", 0, INT64_MAX, &size, v->err, v->errlen)) <= 0)
		return r ? r : aj_required("memory", "size", v->err, v->errlen);
	snprintf(buf, sizeof(buf), "%lldB", (long long)size);
	return aj_set(v, "memory.size", "memory", buf);
}

static int aj_balloon(struct aj_vm *v, const json_t *o)
{
	json_int_t size = 0, stats = 0;
	char buf[128];
	int r;

	if (!o)
		return 0;
	if ((r = AJ_CHECK(o, "balloon", aj_balloon_fields, v->err, v->errlen)) ||
	    (r = aj_int(o, "balloon", "size", 0, INT64_MAX, &size, v->err, v->errlen)) < 0 ||
	    (r = aj_int(o, "balloon", "stats_polling_interval_s", 0, BALLOON_STATS_MAX_S, &stats,
			v->err, v->errlen)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "size=%lldB,deflate_on_oom=%s,free_page_reporting=%s,stats=%lld",
		 (long long)size, json_is_true(json_object_get(o, "deflate_on_oom")) ? "on" : "off",
		 json_is_true(json_object_get(o, "free_page_reporting")) ? "on" : "off",
		 (long long)stats);
	return aj_set(v, "balloon", "balloon", buf);
}

static int aj_platform(struct aj_vm *v, const json_t *o)
{
	json_t *segs;
	json_int_t aw = 64;
	char p[AJ_PATH_MAX];
	int r;

	v->nseg = 1;
	if (!o)
		return 0;
	if ((r = AJ_CHECK(o, "platform", aj_platform_fields, v->err, v->errlen)) ||
	    (r = aj_int(o, "platform", "num_pci_segments", 1, UINT16_MAX, &v->nseg, v->err,
			v->errlen)) < 0)
		return r;
	/* An IOMMU on any segment: isle's one VT-d covers every device (all on 0). */
	segs = aj_get(o, "iommu_segments");
	for (size_t i = 0; segs && i < json_array_size(segs); i++) {
		json_t *s = json_array_get(segs, i);

		snprintf(p, sizeof(p), "platform.iommu_segments[%zu]", i);
		if (!json_is_integer(s))
			return err_msg(v->err, v->errlen, -EINVAL, "%s: expected an integer", p);
		if (json_integer_value(s) < 0 || json_integer_value(s) >= v->nseg)
			return err_msg(v->err, v->errlen, -EINVAL, "%s: %lld is not a segment "
				       "(num_pci_segments is %lld)", p,
				       (long long)json_integer_value(s), (long long)v->nseg);
		v->iommu = true;
	}
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "iommu_address_width" : "iommu_address_width_bits";

		if ((r = aj_int(o, "platform", key, 0, 255, &aw, v->err, v->errlen)) < 0)
			return r;
		if (r && aw != 39 && aw != 48 && aw != 64)
			return err_msg(v->err, v->errlen, -ENOTSUP, "platform.%s: isle's VT-d "
				       "translates 39 or 48 bits, not %lld", key, (long long)aw);
		if (r)
			v->aw = aw == 64 ? 0 : aw;
	}
	return 0;
}

/* serial (Tty -> stdio, File -> file:PATH), console and debug_console (Off/Null). */
static int aj_console(struct aj_vm *v, const json_t *o, const char *where)
{
	const char *mode, *file;
	bool serial = !strcmp(where, "serial");
	char p[AJ_PATH_MAX];
	int r;

	if (!o)
		return 0;
	if ((r = AJ_CHECK(o, where, aj_console_fields, v->err, v->errlen)) ||
	    (r = aj_text(o, where, "file", &file, v->err, v->errlen)))
		return r;
	mode = aj_str(o, "mode");
	aj_path(p, where, "mode");
	if (!mode)
		return aj_required(where, "mode", v->err, v->errlen);
	if (!strcmp(mode, "Off") || !strcmp(mode, "Null"))
		return 0;
	if (serial && !strcmp(mode, "Tty"))
		return aj_set(v, p, "serial", "stdio");
	if (serial && !strcmp(mode, "File")) {
		char *val;

		if (!file)
			return aj_required(where, "file", v->err, v->errlen);
		if (!(val = malloc(strlen(file) + 6)))
			return err_msg(v->err, v->errlen, -ENOMEM, "out of memory");
		strcpy(stpcpy(val, "file:"), file);
		r = aj_set(v, p, "serial", val);
		free(val);
		return r;
	}
	if (strcmp(mode, "Tty") && strcmp(mode, "File") && strcmp(mode, "Pty") &&
	    strcmp(mode, "Socket"))
		return err_msg(v->err, v->errlen, -EINVAL, "%s: '%.16s' is not one of Off, Pty, "
			       "Tty, File, Socket, Null", p, mode);
	return err_msg(v->err, v->errlen, -ENOTSUP, "%s: %s is not supported by isle%s", p, mode,
		       serial ? " (Tty, File, Off, Null)" :
		       !strcmp(where, "console") ? " (no virtio-console: use serial)" :
		       " (no debug console port: use serial)");
}

/* disks[], net[], devices[]: one vm_config_set each. */
static int aj_devices(struct aj_vm *v, const json_t *arr, const char *name,
		      enum device_kind kind)
{
	char *spec = malloc(API_JSON_SPEC_MAX), where[32];
	int r = 0;

	if (!spec)
		return err_msg(v->err, v->errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; arr && i < json_array_size(arr) && !r; i++) {
		json_t *o = json_array_get(arr, i);
		unsigned int nfds = 0;
		bool iommu = false;
		json_int_t seg;   /* the decoder checked its type and range */

		snprintf(where, sizeof(where), "%s[%zu]", name, i);
		r = kind == DEVICE_DISK ? aj_disk(o, where, spec, API_JSON_SPEC_MAX, v->err,
						 v->errlen) :
		    kind == DEVICE_NIC ? aj_net(o, where, spec, API_JSON_SPEC_MAX, &nfds, v->err,
					       v->errlen) :
		    aj_device(o, where, spec, API_JSON_SPEC_MAX, &iommu, v->err, v->errlen);
		if (r)
			break;
		if (nfds)
			r = err_msg(v->err, v->errlen, -ENOTSUP, "%s.fds: tap fds come with "
				    "vm.add-net, not vm.create", where);
		else if ((seg = json_integer_value(aj_get(o, "pci_segment"))) >= v->nseg)
			r = err_msg(v->err, v->errlen, -EINVAL, "%s.pci_segment: %lld but "
				    "platform.num_pci_segments is %lld", where, (long long)seg,
				    (long long)v->nseg);
		else
			r = aj_set(v, where, kind == DEVICE_DISK ? "disk" : kind == DEVICE_NIC ?
				   "net" : "pci", spec);
		v->iommu |= api_json_wants_iommu(o);
	}
	free(spec);
	return r;
}

int api_json_vm_config(const char *body, size_t len, struct vm_config *c, char *err,
		       size_t errlen)
{
	struct aj_vm v = { .c = c, .err = err, .errlen = errlen, .nseg = 1 };
	json_t *o;
	int r;

	if ((r = api_json_parse_object(body, len, &o, err, errlen)))
		return r;
	if (!(r = AJ_CHECK(o, "", aj_vm_fields, err, errlen)) &&
	    !(r = aj_platform(&v, aj_get(o, "platform"))) &&
	    !(r = aj_payload(&v, aj_get(o, "payload"))) &&
	    !(r = aj_cpus(&v, aj_get(o, "cpus"))) &&
	    !(r = aj_memory(&v, aj_get(o, "memory"))) &&
	    !(r = aj_devices(&v, aj_get(o, "disks"), "disks", DEVICE_DISK)) &&
	    !(r = aj_devices(&v, aj_get(o, "net"), "net", DEVICE_NIC)) &&
	    !(r = aj_devices(&v, aj_get(o, "devices"), "devices", DEVICE_PCI)) &&
	    !(r = aj_console(&v, aj_get(o, "serial"), "serial")) &&
	    !(r = aj_console(&v, aj_get(o, "console"), "console")) &&
	    !(r = aj_console(&v, aj_get(o, "debug_console"), "debug_console")) &&
	    !(r = aj_balloon(&v, aj_get(o, "balloon")))) {
		v.iommu |= json_is_true(aj_get(o, "iommu"));
		if (v.iommu) {
			char aw[8];

			snprintf(aw, sizeof(aw), "aw=%lld", (long long)v.aw);
			r = vm_config_set(c, "", "iommu", v.aw ? aw : "", err, errlen);
		}
	}
	json_decref(o);
	return r;
}

/* ---- vm.remove-device, vm.resize, vm.balloon ---- */

int api_json_one_int(const char *body, size_t len, const char *key, int64_t min, int64_t max,
		     int64_t *out, char *err, size_t errlen)
{
	struct aj_field fields[] = { { key, T_INT, R_USE, NULL } };
	json_int_t n = 0;
	json_t *o;
	int r;

	if ((r = api_json_parse_object(body, len, &o, err, errlen)))
		return r;
	if (!(r = AJ_CHECK(o, "", fields, err, errlen)) &&
	    (r = aj_int(o, "", key, min, max, &n, err, errlen)) == 0)
		r = aj_required("", key, err, errlen);
	json_decref(o);
	if (r < 0)
		return r;
	*out = n;
	return 0;
}

int api_json_remove_device(const char *body, size_t len, char *id, size_t idlen, char *err,
			   size_t errlen)
{
	/* force is isle's: remove without waiting for the guest (xl's -f). */
	static const struct aj_field fields[] = { { "id", T_STR, R_USE, NULL },
						  { "force", T_BOOL, R_IGNORE, NULL } };
	const char *s;
	json_t *o;
	int r;

	if ((r = api_json_parse_object(body, len, &o, err, errlen)))
		return r;
	if (!(r = AJ_CHECK(o, "", fields, err, errlen)) && !(r = aj_id(o, "", &s, err, errlen))) {
		if (!s)
			r = aj_required("", "id", err, errlen);
		else if (strlen(s) >= idlen)
			r = err_msg(err, errlen, -ENOSPC, "id: longer than %zu bytes", idlen - 1);
		else
			strcpy(id, s);
	}
	json_decref(o);
	return r;
}

int api_json_resize(const char *body, size_t len, int64_t *vcpus, int64_t *ram,
		    int64_t *balloon, char *err, size_t errlen)
{
	static const struct aj_field fields[] = {
		{ "desired_vcpus", T_INT, R_USE, NULL }, { "desired_ram", T_INT, R_USE, NULL },
		{ "desired_balloon", T_INT, R_USE, NULL },
	};
	json_int_t n[3] = { -1, -1, -1 };
	json_t *o;
	int r;

	*vcpus = *ram = *balloon = -1;
	if ((r = api_json_parse_object(body, len, &o, err, errlen)))
		return r;
	if (!(r = AJ_CHECK(o, "", fields, err, errlen)))
		for (int i = 0; i < 3 && r >= 0; i++)
			r = aj_int(o, "", fields[i].name, i ? 0 : 1, INT64_MAX, &n[i], err, errlen);
	json_decref(o);
	if (r < 0)
		return r;
	*vcpus = n[0];
	*ram = n[1];
	*balloon = n[2];
	return 0;
}
