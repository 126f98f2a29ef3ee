/* One grammar for a VM's configuration, whatever front it comes from.
 *
 * The command line (`--memory 512M`), an xl.cfg file (`memory = 512`) and
 * the JSON control socket (cloud-hypervisor's VmConfig) all reduce to the
 * same (key, text value) pairs and go through vm_config_set(), which owns
 * every check; vm_config_finish() checks what needs the whole config. So
 * the three fronts cannot disagree about what a value means or allows.
 *
 * Keys (the command line's option names):
 *   kernel initrd cmdline     file names / the kernel command line
 *   memory maxmem             a size: 512M, 2G, a bare number is MiB
 *   vcpus                     1..CONFIG_MAX_VCPUS
 *   serial                    stdio | file:PATH
 *   console_socket            PATH: COM1 also on a unix socket (isle console)
 *   disk net pci              one device each (device_spec_parse's syntax)
 *   edu testdev               flags ("" or 1/0, on/off)
 *   iommu                     "" | aw=39|48,caching_mode=on|off
 *   name                      [A-Za-z0-9_.-]{1,63}, not starting with '-' or '.'
 *   on_poweroff on_reboot on_crash   destroy | restart | preserve
 *
 * Pure: no I/O, no globals; every message is one line in err, prefixed with
 * the caller's prefix and the key ("--memory: ...", "memory: ..."). */
#ifndef ISLE_VMM_CONFIG_H
#define ISLE_VMM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

#define CONFIG_DEFAULT_MEMORY (256ULL << 20)
#define CONFIG_MAX_MEMORY     (1ULL << 40)
#define CONFIG_MAX_VCPUS      255   /* xAPIC ids, one MADT byte */
#define CONFIG_NAME_MAX       64    /* NUL included */
#define CONFIG_SOCKET_PATH_MAX 108  /* sun_path, NUL included */

/* Sets the defaults (256 MiB, 1 vCPU, on_poweroff=destroy, on_reboot=restart
 * for an xl-style VM is the caller's choice: here on_reboot=destroy, which is
 * `isle run`'s behaviour). */
void vm_config_init(struct vm_config *c);

/* Applies one key. Returns 0, or -EINVAL/-ENOTSUP/-ENOSPC/-EEXIST/-ENOMEM
 * with "PREFIXKEY: why" in err; a refused value leaves c as it was.
 * Repeatable keys (disk, net, pci, edu) add; iommu options add up. */
int vm_config_set(struct vm_config *c, const char *prefix, const char *key, const char *val,
		  char *err, size_t errlen);
/* Whether key takes no value (edu, testdev): the command line's --edu. */
int vm_config_key_flag(const char *key);
/* Whether key is one of vm_config_set's. */
int vm_config_key_known(const char *key);

/* The checks that need everything: a kernel, maxmem >= memory, caching
 * mode with assigned devices; then names the disks (xvda, ...). */
int vm_config_finish(struct vm_config *c, char *err, size_t errlen);

/* "512M", "2G", "1048576K", "1T"; bare numbers are in units of
 * bare_unit (MiB for isle's options and xl's memory=; KiB for xl's
 * mem-set). 0, -EINVAL or -ERANGE. */
int config_parse_size(const char *s, uint64_t bare_unit, uint64_t *out);
/* The prefix word an xl disk target starts with (phy:, tap:, qcow2:, ...),
 * as isle-tapdisk's diskspec reads it: 1-16 of [a-z0-9] then ':'. Its
 * length without the ':', or 0 when the text has none (a plain path). */
size_t config_disk_prefix(const char *s);
/* "destroy" | "restart" | "preserve"; *out is set only on success. */
int config_parse_action(const char *s, enum vm_action *out);
const char *config_action_name(enum vm_action a);
/* A VM name as xl and the run directory accept it. */
int config_name_ok(const char *name);

#endif
