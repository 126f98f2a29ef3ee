/* Image locking for isle-tapdisk, in the spirit of QEMU's: open file
 * description (OFD) locks on the whole image, shared for read-only opens and
 * exclusive for read-write ones, so two writers (or a writer and a reader)
 * never serve the same image. OFD locks belong to the open file description,
 * not the process: they conflict even between two opens in one process, and
 * they go away when the last descriptor for that open is closed.
 *
 * Whole-file locks also keep QEMU away: its per-permission byte locks fall
 * inside our range, so each refuses an image the other is writing. */
#ifndef ISLE_BLKBACK_LOCK_H
#define ISLE_BLKBACK_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Takes the lock without waiting. Returns 0, or -EBUSY with a message that
 * names the holder ("image /x is locked for writing by isle-tapdisk (pid
 * 1234)"), or another -errno. A filesystem without OFD lock support gets a
 * warning and 0: refusing every such image would be worse. */
int lock_acquire(int fd, bool exclusive, const char *path, char *err, size_t errlen);

/* Drops the lock early; closing the descriptor does the same. */
void lock_release(int fd);

/* Best effort: the pid holding a lock on fd's inode that conflicts with a
 * lock of type want (F_RDLCK or F_WRLCK), and the lock's type. Returns 0, or
 * -ENOENT when no holder is found (it may be in another pid namespace). */
int lock_find_holder(int fd, short want, pid_t *pid, short *type);

#endif
