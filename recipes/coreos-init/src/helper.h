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

/* ---- util.c ---------------------------------------------------------- */

/* "coreos-init-helper: <message>\n" on stderr. */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pread/pwrite exactly len bytes at off; -1 with errno set otherwise (a
 * short read past the end of the device is reported as EIO). */
int read_at(int fd, void *buf, size_t len, uint64_t off);
int write_at(int fd, const void *buf, size_t len, uint64_t off);

/* Reads a small text file (sysfs attribute), strips the trailing newline.
 * Returns 0, or -1 with errno set. */
int read_text(const char *path, char *buf, size_t size);

/* Device geometry: logical sector size and size in bytes.  Block devices
 * are asked with ioctls; a regular file (a disk image) has 512-byte sectors
 * and its file size. */
int dev_geometry(int fd, uint32_t *sector, uint64_t *bytes);

/* Returns 1 if fd is a block device. */
int is_blockdev(int fd);

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- gpt.c: GUIDs as stored in a GPT (first three fields little-endian) */

#define GUID_STR_LEN 36
/* Parses "7130c94a-213a-4e5a-8e26-6cce9662f132" (any case) into the
 * on-disk byte order.  Returns 0 or -1. */
int guid_parse(const char *s, uint8_t out[16]);
/* Formats on-disk bytes as lowercase text (buf >= 37 bytes). */
void guid_format(const uint8_t g[16], char *buf);

/* ---- gpt.c ----------------------------------------------------------- */

#define GPT_HEADER_MIN 92
#define GPT_ENTRY_MIN 128
#define GPT_MAX_ENTRIES_BYTES (1u << 20)

/* One validated copy of the GPT. */
struct gpt_copy {
	int valid;
	char why[160];      /* why it is not valid */
	uint64_t lba;       /* where the header was looked for */
	uint8_t *header;    /* one sector */
	uint8_t *entries;   /* num_entries * entry_size bytes */
};

struct gpt {
	uint32_t sector;        /* logical sector size in bytes */
	uint64_t total_sectors; /* device size in sectors */
	struct gpt_copy primary, backup;
	const struct gpt_copy *use; /* the copy to trust: primary if valid */
	/* fields of the trusted copy */
	uint64_t first_usable, last_usable, alternate_lba, entries_lba;
	uint32_t num_entries, entry_size, header_size;
	uint8_t disk_guid[16];
};

/* Reads both copies.  Returns 0 if at least one copy is valid (g->use set),
 * -1 (with a message in why) otherwise.  Free with gpt_free(). */
int gpt_read(int fd, struct gpt *g, char *why, size_t whylen);
void gpt_free(struct gpt *g);

/* Entry accessors on the trusted copy (index 0-based). */
uint8_t *gpt_entry(const struct gpt *g, uint32_t i);
int gpt_entry_used(const uint8_t *e);
/* The entry's UTF-16LE name converted to UTF-8 (non-ASCII kept as UTF-8). */
void gpt_entry_name(const uint8_t *e, char *buf, size_t size);

/* Writes both copies from the trusted one's fields and entries: the backup
 * header at last_lba (entries right before it), then the primary.  Each is
 * followed by fsync.  Updates the in-memory fields. */
int gpt_write(int fd, struct gpt *g, uint64_t last_lba, const uint8_t *entries);

uint32_t crc32_ieee(const uint8_t *p, size_t n);

/* ---- commands ---------------------------------------------------------- */
int cmd_find(int argc, char **argv);
int cmd_verity_open(int argc, char **argv);
int cmd_first_boot(int argc, char **argv);

#endif
