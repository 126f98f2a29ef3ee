/* xl's verbs for VMs on KVM (vmm/control/xl.c): `isle create CFG`, `list`,
 * `destroy`, `shutdown`, `reboot`, `pause`, `unpause`, `console`,
 * `mem-set`, `block-`/`network-`/`pci-` `attach`/`detach`/`list`. Each is
 * a thin client of the named VM's control socket (rundir.h, api.h);
 * `create` starts the VM process in the background. */
#ifndef ISLE_VMM_XL_H
#define ISLE_VMM_XL_H

#include <stdbool.h>

bool xl_is_verb(const char *arg);
/* argv[0] is the verb. Exit status: 0, 1 on failure, 2 on bad usage or a
 * bad config (with the message xl would print). */
int xl_main(int argc, char **argv);

#endif
