/* Xen's xl.cfg(5) files for `isle create CFG [KEY=VALUE...]` (owner: xlcfg.c).
 *
 * The syntax is libxlu's: `KEY = VALUE` or `KEY += VALUE` statements ended
 * by a newline or ';', `#` comments to the end of the line, spaces and tabs
 * anywhere between tokens. A VALUE is a number (123, 0x1f), a string in
 * "double" or 'single' quotes with C escapes (\\ \" \' \a \b \f \n \r \t \v
 * \xHH \ooo; no \0, no newline inside) or a list [ V, V, ... ] of numbers
 * and strings that may span lines, hold comments and end in a comma. Lists
 * do not nest. `KEY += VALUE` appends to a list or concatenates to a string
 * as xl does; xl refuses it for numbers and so does isle. A key given again
 * with `=` replaces what it had, lists included.
 *
 * Every value goes through vm_config_set() (prefix ""), so a file can never
 * accept what the command line refuses. The file is first collected into a
 * table, then applied in a fixed order: the scalars, then disk, vif, pci.
 *
 *   name memory maxmem vcpus kernel cmdline serial   the same isle key
 *   ramdisk                  initrd
 *   root extra               cmdline "root=ROOT EXTRA" (either part optional);
 *                            ignored when cmdline= is given (xl warns)
 *   disk=[...] vif=[...] pci=[...]   one disk / net / pci per element
 *   on_poweroff on_reboot on_crash   destroy | restart | preserve; xl's
 *                            rename-restart, coredump-*, soft-reset: -ENOTSUP
 *   maxvcpus                 only equal to vcpus (-ENOTSUP: no vCPU hot-add)
 *   type                     pvh | hvm (run the same way); pv: -ENOTSUP
 *   builder                  hvm; generic (PV): -ENOTSUP
 *   iommu testdev serial     isle's own keys (vm_config_set's syntax)
 *   edu                      N >= 0: that many edu devices (at most 8)
 *
 * Numbers follow xl's strtol(..., 0): 0x1f is hex and a leading 0 means
 * octal (memory = 0100 is 64). Numeric keys also take strings ("512",
 * "512M": vm_config_set decides) and string keys take numbers (name = 42).
 * A list where a single value is expected, or the reverse, is refused.
 * xl keys isle does not implement (bootloader, vnc, usb, cpus, ...) are
 * -ENOTSUP "not supported by isle"; any other key is -EINVAL "unknown key".
 * Limits: a file of 1 MiB, a string of 64 KiB, a list of 64 elements.
 *
 * Pure: no I/O, no globals. On failure c may hold part of the file: the
 * caller frees it (vm_config_free) and does not use it. */
#ifndef ISLE_VMM_XLCFG_H
#define ISLE_VMM_XLCFG_H

#include <stddef.h>

#include "core/vm.h"

#define XLCFG_FILE_MAX   (1u << 20)
#define XLCFG_STRING_MAX (64u << 10)
#define XLCFG_LIST_MAX   64
#define XLCFG_EDU_MAX    8

/* Parses text[0, len) (need not be NUL-terminated; file is only used in
 * messages) into c, which the caller has vm_config_init()ed (and given
 * on_reboot = VM_ACTION_RESTART, xl's default, if it wants). Returns 0, or
 * -EINVAL / -ENOTSUP / -ENOSPC / -EEXIST / -ENOMEM with one line in err:
 * "FILE:LINE: KEY: why" ("vm.cfg:3: bootloader: not supported by isle",
 * "vm.cfg:2: syntax error: unterminated string"). */
int xlcfg_parse(const char *text, size_t len, const char *file, struct vm_config *c,
		char *err, size_t errlen);

/* One `KEY=VALUE` (or `KEY+=VALUE`) of `isle create CFG KEY=VALUE...`,
 * applied after the file as xl does. VALUE has the file's value grammar
 * (memory=512, name="x", vif=['bridge=br0']; a bare word such as name=x
 * is a syntax error, as in xl) and, as in xl, one argument may hold
 * several statements separated by ';' ("vcpus=2; maxvcpus=2"). `=`
 * replaces (a list replaces the file's devices of that kind, edu= its edu
 * devices); `+=` appends to disk/vif/pci or concatenates to name, kernel,
 * ramdisk or cmdline. root= and extra= cannot be overridden (the file's
 * cmdline is already made): give cmdline= instead. Errors as
 * xlcfg_parse's, "KEY=VALUE: KEY: why". */
int xlcfg_override(struct vm_config *c, const char *kv, char *err, size_t errlen);

#endif
