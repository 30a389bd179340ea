/*
 * coreos-init-helper: shared declarations.
 *
 * The helper is the small, static C half of the CoreOS-style initramfs: the
 * parts of early boot that a busybox shell cannot do (reading the GPT,
 * device-mapper ioctls, rewriting the GPT on first boot).  See helper.c for
 * the command line.
 */
#ifndef COREOS_INIT_HELPER_H
#define COREOS_INIT_HELPER_H

#define _GNU_SOURCE 1
#define _FILE_OFFSET_BITS 64

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROG "coreos-init-helper"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 64

#include "fdio.h" /* read_at, write_at: recipes/lib/gpt */
#include "gpt.h"  /* the GPT and get16...put64: recipes/lib/gpt */

/* ---- util.c ---------------------------------------------------------- */

/* "coreos-init-helper: <message>\n" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a small text file (sysfs attribute), strips the trailing newline.
 * Returns 0, or -1 with errno set. */
int read_text(const char *path, char *buf, size_t size);

/* Device geometry: logical sector size and size in bytes.  Block devices
 * are asked with ioctls; a regular file (a disk image) has 512-byte sectors
 * and its file size. */
int dev_geometry(int fd, uint32_t *sector, uint64_t *bytes);

/* Returns 1 if fd is a block device. */
int is_blockdev(int fd);

/* ---- gpt.c: the disk's GPT, read with the library ------------------------ */

struct disk_gpt {
	struct gpt t;          /* t.use: the copy to trust, the primary if valid */
	char primary_why[160]; /* why a copy is not valid ("" if it is) */
	char backup_why[160];
	int fd;
	void *buffer; /* t's */
};

/* Reads both copies from fd.  Returns 0 if at least one copy is valid,
 * -1 (with a message in why) otherwise.  Free with disk_gpt_free(). */
int disk_gpt_read(int fd, struct disk_gpt *d, char *why, size_t whylen);
void disk_gpt_free(struct disk_gpt *d);

/* Writes both copies from the trusted one (entries and header fields as
 * changed there), the backup header at backup_lba: the backup first, then
 * the primary, each followed by fsync.  Messages on failure; 0 or -1. */
int disk_gpt_write(struct disk_gpt *d, uint64_t backup_lba);

/* ---- commands ---------------------------------------------------------- */
int cmd_find(int argc, char **argv);
int cmd_verity_open(int argc, char **argv);
int cmd_first_boot(int argc, char **argv);
int cmd_slot(int argc, char **argv);
int cmd_watchdog_arm(int argc, char **argv);

#endif
