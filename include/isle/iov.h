/* Copies between a flat buffer and a scatter-gather list (struct iovec),
 * starting off bytes into the list. Used by every device that parses
 * requests out of descriptor chains (blkback, netback, the net control queue).
 *
 * Contract: both return the bytes copied, which is less than len when the
 * list ends first (the caller decides whether a short copy is an error);
 * an off past the end copies nothing. Entries of length 0 are skipped. */
#ifndef ISLE_IOV_H
#define ISLE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

size_t iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t off, void *buf,
		  size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int cnt, size_t off, const void *buf,
		    size_t len);
/* The total length of the list, saturating at SIZE_MAX. */
size_t iov_size(const struct iovec *iov, unsigned int cnt);

#endif
