/* cloud-hypervisor's JSON request bodies, decoded into isle's one
 * configuration grammar (vmm/control/config.h).
 *
 * Owns: the bodies of PUT /api/v1/vm.create (VmConfig), vm.add-disk
 * (DiskConfig), vm.add-net (NetConfig), vm.add-device (DeviceConfig),
 * vm.remove-device (VmRemoveDevice) and vm.resize (VmResize), as in
 * cloud-hypervisor's vmm/src/api/openapi/cloud-hypervisor.yaml and as Kata
 * Containers' clh.go sends them. Not the HTTP framing, not the fds that come
 * with vm.add-net (SCM_RIGHTS), not what a request does to a running VM.
 *
 * Contract:
 * - Everything a body configures reaches isle as the text of one of
 *   vm_config_set()'s keys (device specs in device_spec_parse()'s syntax),
 *   so JSON can never accept what the command line refuses.
 * - Every field of every object is known by name: used, accepted and
 *   ignored (only where ignoring cannot change what the guest sees or what
 *   the caller was promised), or refused with -ENOTSUP naming the field and
 *   why. Unknown fields and wrong JSON types are -EINVAL naming the field
 *   path ("cpus.boot_vcpus: expected an integer"). JSON null is "absent"
 *   (serde writes None as null).
 * - Bodies are untrusted: json_loadb with JSON_REJECT_DUPLICATES, jansson's
 *   nesting limit, at most API_JSON_BODY_MAX bytes and API_JSON_MAX_ARRAY
 *   elements in any array looked at. No crash on any input.
 * - Returns 0 or -errno with one printable line in err. Pure: no I/O, no
 *   globals, no fds.
 */
#ifndef ISLE_VMM_API_JSON_H
#define ISLE_VMM_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/vm.h"

#define API_JSON_BODY_MAX  (64 * 1024)
#define API_JSON_MAX_ARRAY 64
/* Room for any spec text the decoders write (a disk's path is the longest). */
#define API_JSON_SPEC_MAX  VM_DISK_SPEC_MAX

/* VmConfig -> c, which the caller vm_config_init()ed (on failure c may be
 * partly filled: vm_config_free() it). Does not call vm_config_finish().
 * payload.kernel/initramfs/cmdline, cpus.boot_vcpus, memory.size, disks[],
 * net[] (without fds), devices[], serial, iommu/platform.iommu_segments;
 * see api_json.c's tables for every other field. */
int api_json_vm_config(const char *body, size_t len, struct vm_config *c, char *err,
		       size_t errlen);

/* DiskConfig -> one disk spec: "access=rw|ro[,id=ID],target=PATH" (a path
 * that would read as a prefix gets "file:") or "socket=PATH[,id=ID]" for
 * vhost_user. Only raw images. The spec is checked with device_spec_parse. */
int api_json_disk(json_t *obj, char *spec, size_t speclen, char *err, size_t errlen);

/* NetConfig -> one vif spec (mac=, vifname= from tap, mtu=, queues= from
 * num_queues / 2, socket= for vhost_user, id=), checked with
 * device_spec_parse. *nfds_expected: the length of the body's "fds" array,
 * 0 when absent (Kata never sends one: it only passes the fds by
 * SCM_RIGHTS, and cloud-hypervisor takes however many arrive). */
int api_json_net(json_t *obj, char *spec, size_t speclen, unsigned int *nfds_expected,
		 char *err, size_t errlen);

/* DeviceConfig {path: "/sys/bus/pci/devices/DDDD:BB:DD.F[/]", id,
 * pci_device_id, iommu, pci_segment} -> "DDDD:BB:DD.F[@SLOT][,name=ID]"
 * (pci_spec.h: name= is the id), checked with device_spec_parse; *iommu
 * from "iommu". */
int api_json_device(json_t *obj, char *spec, size_t speclen, bool *iommu, char *err,
		    size_t errlen);

/* Whether a DiskConfig/NetConfig/DeviceConfig asks for "iommu": true (for a
 * hot-add into a VM that has no IOMMU, the caller's refusal). */
bool api_json_wants_iommu(const json_t *obj);

/* Parses a body that must be one JSON object: 0 and *out (json_decref it),
 * or -EINVAL. */
int api_json_parse_object(const char *body, size_t len, json_t **out, char *err,
			  size_t errlen);

/* VmRemoveDevice {id} -> id (device_id_ok; idlen >= DEVICE_ID_MAX). */
int api_json_remove_device(const char *body, size_t len, char *id, size_t idlen, char *err,
			   size_t errlen);

/* VmResize {desired_vcpus, desired_ram, desired_balloon} -> each value, or -1
 * when absent (or null). desired_vcpus >= 1, the sizes (bytes) >= 0. */
/* A body of one integer field {"KEY": N} with min <= N <= max (vm.balloon's
 * amount_mib, vm.balloon-statistics' stats_polling_interval_s). */
int api_json_one_int(const char *body, size_t len, const char *key, int64_t min, int64_t max,
		     int64_t *out, char *err, size_t errlen);
int api_json_resize(const char *body, size_t len, int64_t *vcpus, int64_t *ram,
		    int64_t *balloon, char *err, size_t errlen);

#endif
