/*
 * The GPT library's I/O on a POSIX file descriptor (a block device or a
 * disk image file), for the two glibc programs (coreos-init-helper,
 * coreos-gptprio); the UEFI loader has its own callbacks.
 */
#ifndef CORESDK_FDIO_H
#define CORESDK_FDIO_H

#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

/* pread/pwrite exactly len bytes at off: 0, or -1 with errno set (a short
 * read or write at the end of the device is reported as EIO). */
int read_at(int fd, void *buf, size_t len, uint64_t off);
int write_at(int fd, const void *buf, size_t len, uint64_t off);

/* Callbacks on *fd for gpt_setup(): the codes they return are errno
 * values; flush is fsync. */
struct gpt_io gpt_fd_io(int *fd);

#endif
