/*
 * coreos-init-helper: small I/O utilities.
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

void msg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write, so that lines of concurrent writers do not interleave */
	dprintf(STDERR_FILENO, "%s: %s\n", PROG, line);
}

int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int is_blockdev(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISBLK(st.st_mode);
}

int dev_geometry(int fd, uint32_t *sector, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISBLK(st.st_mode)) {
		int ss = 0;
		if (ioctl(fd, BLKSSZGET, &ss) < 0 || ss < 512 || ss > 65536 || (ss & (ss - 1)))
			ss = 512;
		if (ioctl(fd, BLKGETSIZE64, bytes) < 0)
			return -1;
		*sector = (uint32_t)ss;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		*sector = 512;
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	errno = ENOTBLK;
	return -1;
}
