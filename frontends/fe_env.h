/* The environment the frontends (driver side of the split drivers) run in.
 *
 * The frontends are freestanding C: they are linked into the test guest
 * (tests/guest, no libc, ring 3, identity-mapped RAM) and, hosted, into the
 * unit tests. Everything they need from around them is declared here and
 * nowhere else:
 *  - memcpy/memset/memcmp: the guest's libc.c or the host's libc;
 *  - barriers and atomics: compiler builtins, no library;
 *  - fe_virt_to_phys(): the address the DEVICE must use for a buffer of ours
 *    (the test guest: identity; unit tests: an offset into fake guest RAM).
 *    A buffer handed to a device must be physically contiguous;
 *  - fe_now_us(): a monotonic microsecond clock, to bound every wait;
 *  - fe_relax(): what to do inside a polling loop.
 * The environment defines the three fe_* functions; nothing else is assumed.
 *
 * Byte order: virtio 1.x rings and registers are little-endian, and so is
 * every target we build for; the assertion below keeps it that way. */
#ifndef FRONTENDS_FE_ENV_H
#define FRONTENDS_FE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if __STDC_HOSTED__
#include <errno.h>
#include <string.h>
#else
/* The kernel's UAPI errno values, the same numbers glibc uses, without
 * dragging glibc's errno.h (and its thread-local errno) into the guest. */
#include <linux/errno.h>
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the frontends write virtio's little-endian layouts natively");

/* Supplied by the environment (see above). */
uint64_t fe_virt_to_phys(const void *p);
uint64_t fe_now_us(void);

static inline void fe_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("pause" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

/* Ordering between our ring stores/loads and the device, which reads and
 * writes the same memory concurrently (another CPU, or a VMM thread).
 * fe_mb() is the full fence: needed where a store of ours must be visible
 * before a load of something the device writes (the notification
 * suppression handshake); the others are one-directional. */
static inline void fe_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void fe_rmb(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

static inline void fe_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Single loads and stores of shared fields: never torn, never re-read. */
#define FE_READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FE_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* A deadline us microseconds from now, and whether it has passed: every
 * wait on the device is bounded by one. */
static inline uint64_t fe_deadline_us(uint64_t us)
{
	return fe_now_us() + us;
}

static inline bool fe_expired(uint64_t deadline)
{
	return fe_now_us() >= deadline;
}

#endif
