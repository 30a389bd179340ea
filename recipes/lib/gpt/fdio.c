/* The GPT library's I/O on a POSIX file descriptor; see fdio.h. */
#define _DEFAULT_SOURCE 1
#define _FILE_OFFSET_BITS 64

#include "fdio.h"

#include <errno.h>
#include <sys/types.h>
#include <unistd.h>

/* pread or pwrite until all len bytes are done (the buffer is only read
 * when writing). */
static int transfer(int fd, uint8_t *p, size_t len, uint64_t off, int writing)
{
	while (len > 0) {
		ssize_t n = writing ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO; /* past the end of the device */
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int read_at(int fd, void *buf, size_t len, uint64_t off) { return transfer(fd, buf, len, off, 0); }

int write_at(int fd, const void *buf, size_t len, uint64_t off)
{
	return transfer(fd, (uint8_t *)buf, len, off, 1);
}

/* 0 means success to the library, so a failure must not report errno 0. */
static uint64_t code(int rc) { return rc == 0 ? 0 : errno ? (uint64_t)errno : EIO; }

static uint64_t fd_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	return code(read_at(*(int *)ctx, buf, len, off));
}

static uint64_t fd_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	return code(write_at(*(int *)ctx, buf, len, off));
}

static uint64_t fd_flush(void *ctx) { return code(fsync(*(int *)ctx)); }

struct gpt_io gpt_fd_io(int *fd)
{
	struct gpt_io io = {fd_read, fd_write, fd_flush, fd};

	return io;
}
