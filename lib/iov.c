/* Scatter-gather copies (contract in include/isle/iov.h). */
#include <stdint.h>
#include <string.h>

#include "isle/iov.h"
#include "isle/util.h"

/* One walk for both directions: to_iov copies buf into the list. */
static size_t iov_copy(const struct iovec *iov, unsigned int cnt, size_t off, uint8_t *buf,
		       size_t len, int to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = MIN(iov[i].iov_len - off, len - done);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, buf + done, n);
		else
			memcpy(buf + done, (const uint8_t *)iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t off, void *buf, size_t len)
{
	return iov_copy(iov, cnt, off, buf, len, 0);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int cnt, size_t off, const void *buf,
		    size_t len)
{
	return iov_copy(iov, cnt, off, (uint8_t *)(uintptr_t)buf, len, 1);
}

size_t iov_size(const struct iovec *iov, unsigned int cnt)
{
	size_t total = 0;

	for (unsigned int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}
