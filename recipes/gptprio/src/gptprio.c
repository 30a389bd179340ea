/*
 * coreos-gptprio: read and flip the A/B slot bits of CoreOS /usr partitions
 * in a GPT.  It replaces the part of CoreOS's cgpt that an installed system
 * needs (gptprio.next's userspace twin, cgpt prioritize, coreos-setgoodroot).
 *
 * Usage:
 *   coreos-gptprio show DISK
 *   coreos-gptprio next DISK
 *   coreos-gptprio set DISK N [--priority P] [--tries T] [--successful 0|1]
 *   coreos-gptprio prioritize DISK N
 *   coreos-gptprio mark-good DISK N
 *   coreos-gptprio mark-bad DISK N
 *
 * Only entries whose type GUID is the CoreOS usr type
 * 5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6 are shown or changed: attribute bits
 * 48-63 are type specific, so the same bits mean something else elsewhere.
 *
 * Attribute bits (as cgpt defines them): priority 48-51, tries 52-55,
 * successful 56.
 *
 * Safety rules:
 *   - the sector size is 512 bytes (a block device with another logical
 *     sector size is refused);
 *   - both GPT copies (header signature, revision, sizes, locations, header
 *     CRC32, entry-array CRC32) are validated and must agree before anything
 *     is changed; a damaged or inconsistent table is refused with exit 2;
 *   - a write changes only the 8-byte attribute field of entries and the two
 *     CRC32 fields of each header; the backup copy is written first, then the
 *     primary, each with pwrite() followed by fsync(); the result is read
 *     back and validated.
 *
 * Exit status: 0 success, 1 failure (no bootable partition, partition is not
 * a usr partition, I/O error), 2 damaged or unsupported partition table,
 * 64 usage error.
 */
#define _DEFAULT_SOURCE 1
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(BLKSSZGET)
#define BLKSSZGET _IO(0x12, 104)
#endif

#define PROG "coreos-gptprio"

#define EXIT_FAIL 1
#define EXIT_DAMAGED 2
#define EXIT_USAGE 64

#define SECTOR 512u
#define GPT_REVISION_1_0 0x00010000u
#define GPT_HEADER_MIN 92u
#define ENTRY_MIN 128u
#define ENTRY_MAX 4096u
#define ENTRIES_MAX_BYTES (4u * 1024u * 1024u)

/* Header field offsets (UEFI 2.x, "GPT Header"). */
#define H_SIG 0
#define H_REVISION 8
#define H_SIZE 12
#define H_CRC 16
#define H_MY_LBA 24
#define H_ALT_LBA 32
#define H_FIRST_USABLE 40
#define H_LAST_USABLE 48
#define H_DISK_GUID 56
#define H_ENTRIES_LBA 72
#define H_NUM_ENTRIES 80
#define H_ENTRY_SIZE 84
#define H_ENTRIES_CRC 88

/* Entry field offsets. */
#define E_TYPE 0
#define E_UNIQUE 16
#define E_ATTRS 48
#define E_ATTRS_LEN 8
#define E_NAME 56
#define E_NAME_CHARS 36

#define PRIO_SHIFT 48
#define TRIES_SHIFT 52
#define SUCC_SHIFT 56
#define PRIO_MAX 15u
#define TRIES_MAX 15u

/* 5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6 in on-disk (mixed-endian) order. */
static const uint8_t usr_type_guid[16] = {
	0xf4, 0xf5, 0xfb, 0x5d, 0x48, 0x28, 0xac, 0x4b,
	0xaa, 0x5e, 0x0d, 0x9a, 0x20, 0xb7, 0x45, 0xa6,
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void vmsg(const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 as UEFI (and zlib) define it: reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF. */
static uint32_t crc32_buf(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static int ready;
	uint32_t c;
	size_t i;

	if (!ready) {
		for (uint32_t k = 0; k < 256; k++) {
			c = k;
			for (int b = 0; b < 8; b++)
				c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[k] = c;
		}
		ready = 1;
	}
	c = 0xffffffffu;
	for (i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* CRC of a header: header_size bytes with the CRC field taken as zero. */
static uint32_t header_crc(const uint8_t *hdr, uint32_t size)
{
	uint8_t tmp[SECTOR] = {0};
	memcpy(tmp, hdr, size);
	put_le32(tmp + H_CRC, 0);
	return crc32_buf(tmp, size);
}

static void format_guid(const uint8_t *g, char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x-%02x%02x%02x%02x%02x%02x",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9],
		 g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* UTF-16LE name -> printable ASCII; anything else (space, control, non-ASCII)
 * becomes '?', so that a `show` line always has whitespace-free fields.
 * An empty name is printed as "-". */
static void format_label(const uint8_t *name, char out[E_NAME_CHARS + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < E_NAME_CHARS; i++) {
		unsigned u = (unsigned)name[2 * i] | (unsigned)name[2 * i + 1] << 8;
		if (u == 0)
			break;
		out[n++] = (u > 0x20 && u < 0x7f) ? (char)u : '?';
	}
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
}

/* Strict unsigned decimal: digits only, no sign, no overflow, <= max. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO; /* short device or file */
			return -1;
		}
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = pwrite(fd, p, len, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* GPT model                                                           */

struct gpt_copy {
	const char *what;    /* "primary" / "backup" */
	uint8_t hdr[SECTOR]; /* the whole header sector as read */
	uint64_t hdr_lba;
	uint64_t ents_lba;
	uint32_t hdr_size;
	uint32_t num;
	uint32_t esz;
	size_t ents_bytes;  /* num * esz: the CRC-covered part */
	size_t ents_region; /* ents_bytes rounded up to whole sectors */
	uint8_t *ents;      /* ents_region bytes as read */
};

struct disk {
	const char *path;
	int fd;
	uint64_t nsec; /* number of 512-byte sectors */
	struct gpt_copy pri, bak;
	uint8_t *work; /* working copy of the entries (ents_bytes) */
};

static int damaged(const struct disk *d, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, PROG ": %s: ", d->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; refusing to use a damaged or unsupported GPT "
	      "(repair it first, e.g. with 'cgpt repair' or gdisk)\n",
	      stderr);
	return EXIT_DAMAGED;
}

static int range_contains(uint64_t start, uint64_t count, uint64_t lba)
{
	return lba >= start && lba - start < count;
}

/* Read and validate one header + entry array at hdr_lba.
 * Returns 0 or an exit status. */
static int load_copy(struct disk *d, struct gpt_copy *c, uint64_t hdr_lba,
		     uint64_t expect_alt)
{
	uint8_t *h = c->hdr;
	uint32_t stored, computed;
	uint64_t alt, nsec_ents;

	c->hdr_lba = hdr_lba;
	if (hdr_lba >= d->nsec)
		return damaged(d, "%s GPT header LBA %" PRIu64
			       " is beyond the end of the disk (%" PRIu64
			       " sectors)", c->what, hdr_lba, d->nsec);
	if (read_full(d->fd, h, SECTOR, hdr_lba * SECTOR) != 0) {
		msg("%s: cannot read %s GPT header: %s", d->path, c->what,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (memcmp(h + H_SIG, "EFI PART", 8) != 0)
		return damaged(d, "no %s GPT header signature at LBA %" PRIu64,
			       c->what, hdr_lba);
	if (get_le32(h + H_REVISION) != GPT_REVISION_1_0)
		return damaged(d, "%s GPT header has unsupported revision 0x%08"
			       PRIx32, c->what, get_le32(h + H_REVISION));
	c->hdr_size = get_le32(h + H_SIZE);
	if (c->hdr_size < GPT_HEADER_MIN || c->hdr_size > SECTOR)
		return damaged(d, "%s GPT header size %" PRIu32 " is invalid",
			       c->what, c->hdr_size);
	stored = get_le32(h + H_CRC);
	computed = header_crc(h, c->hdr_size);
	if (stored != computed)
		return damaged(d, "%s GPT header CRC mismatch (stored 0x%08" PRIx32
			       ", computed 0x%08" PRIx32 ")",
			       c->what, stored, computed);
	if (get_le64(h + H_MY_LBA) != hdr_lba)
		return damaged(d, "%s GPT header says it lives at LBA %" PRIu64
			       ", found at %" PRIu64, c->what,
			       get_le64(h + H_MY_LBA), hdr_lba);
	alt = get_le64(h + H_ALT_LBA);
	if (expect_alt != 0 && alt != expect_alt)
		return damaged(d, "%s GPT header points to LBA %" PRIu64
			       " instead of %" PRIu64 " for the other copy",
			       c->what, alt, expect_alt);
	if (alt == hdr_lba || alt >= d->nsec || alt < 1)
		return damaged(d, "%s GPT header has an invalid alternate LBA %"
			       PRIu64, c->what, alt);

	c->num = get_le32(h + H_NUM_ENTRIES);
	c->esz = get_le32(h + H_ENTRY_SIZE);
	if (c->esz < ENTRY_MIN || c->esz > ENTRY_MAX ||
	    (c->esz & (c->esz - 1)) != 0)
		return damaged(d, "%s GPT has invalid entry size %" PRIu32,
			       c->what, c->esz);
	if (c->num == 0 ||
	    (uint64_t)c->num * c->esz > ENTRIES_MAX_BYTES)
		return damaged(d, "%s GPT has an invalid number of entries (%"
			       PRIu32 ")", c->what, c->num);
	c->ents_bytes = (size_t)c->num * c->esz;
	nsec_ents = (c->ents_bytes + SECTOR - 1) / SECTOR;
	c->ents_region = (size_t)nsec_ents * SECTOR;
	c->ents_lba = get_le64(h + H_ENTRIES_LBA);
	if (c->ents_lba < 2 || c->ents_lba >= d->nsec ||
	    nsec_ents > d->nsec - c->ents_lba ||
	    range_contains(c->ents_lba, nsec_ents, hdr_lba) ||
	    range_contains(c->ents_lba, nsec_ents, alt))
		return damaged(d, "%s GPT entry array location (LBA %" PRIu64
			       ", %" PRIu64 " sectors) is invalid",
			       c->what, c->ents_lba, nsec_ents);

	c->ents = calloc(1, c->ents_region);
	if (c->ents == NULL) {
		msg("out of memory");
		return EXIT_FAIL;
	}
	if (read_full(d->fd, c->ents, c->ents_region,
		      c->ents_lba * SECTOR) != 0) {
		msg("%s: cannot read %s GPT entries: %s", d->path, c->what,
		    strerror(errno));
		return EXIT_FAIL;
	}
	stored = get_le32(h + H_ENTRIES_CRC);
	computed = crc32_buf(c->ents, c->ents_bytes);
	if (stored != computed)
		return damaged(d, "%s GPT entry array CRC mismatch (stored 0x%08"
			       PRIx32 ", computed 0x%08" PRIx32 ")",
			       c->what, stored, computed);
	return 0;
}

static int disk_load(struct disk *d);

/* Open and lock DISK, then load and validate its GPT. */
static int disk_open(struct disk *d, const char *path, int writable)
{
	struct stat st;
	off_t end;

	memset(d, 0, sizeof(*d));
	d->path = path;
	d->pri.what = "primary";
	d->bak.what = "backup";
	d->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (d->fd < 0) {
		msg("cannot open %s: %s", path, strerror(errno));
		return EXIT_FAIL;
	}
	if (fstat(d->fd, &st) != 0) {
		msg("cannot stat %s: %s", path, strerror(errno));
		return EXIT_FAIL;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		msg("%s is neither a block device nor a regular file", path);
		return EXIT_FAIL;
	}
#ifdef BLKSSZGET
	if (S_ISBLK(st.st_mode)) {
		int ss = 0;
		if (ioctl(d->fd, BLKSSZGET, &ss) == 0 && ss != (int)SECTOR) {
			msg("%s: logical sector size is %d; only 512-byte "
			    "sectors are supported", path, ss);
			return EXIT_DAMAGED;
		}
	}
#endif
	/* Serialise against other instances (and tell udev to wait, which
	 * honours BSD locks on whole-disk devices).  Give up after ~10 s
	 * rather than hang a boot. */
	for (int tries = 0;; tries++) {
		const struct timespec pause = {0, 100 * 1000 * 1000};
		if (flock(d->fd, (writable ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			msg("cannot lock %s: %s", path, strerror(errno));
			return EXIT_FAIL;
		}
		if (tries >= 100) {
			msg("%s is locked by another process; giving up", path);
			return EXIT_FAIL;
		}
		nanosleep(&pause, NULL);
	}
	end = lseek(d->fd, 0, SEEK_END);
	if (end < 0) {
		msg("cannot determine the size of %s: %s", path,
		    strerror(errno));
		return EXIT_FAIL;
	}
	d->nsec = (uint64_t)end / SECTOR;
	return disk_load(d);
}

/* Read both copies through d->fd, check each and check that they agree. */
static int disk_load(struct disk *d)
{
	int rc;

	if (d->nsec < 3)
		return damaged(d, "too small to hold a GPT (%" PRIu64 " sectors)",
			       d->nsec);

	rc = load_copy(d, &d->pri, 1, 0);
	if (rc)
		return rc;
	rc = load_copy(d, &d->bak, get_le64(d->pri.hdr + H_ALT_LBA), 1);
	if (rc)
		return rc;

	/* The two copies must describe the same table. */
	if (memcmp(d->pri.hdr + H_DISK_GUID, d->bak.hdr + H_DISK_GUID, 16) ||
	    get_le64(d->pri.hdr + H_FIRST_USABLE) !=
		    get_le64(d->bak.hdr + H_FIRST_USABLE) ||
	    get_le64(d->pri.hdr + H_LAST_USABLE) !=
		    get_le64(d->bak.hdr + H_LAST_USABLE) ||
	    d->pri.num != d->bak.num || d->pri.esz != d->bak.esz ||
	    d->pri.hdr_size != d->bak.hdr_size)
		return damaged(d, "primary and backup GPT headers disagree");
	{
		uint64_t pn = d->pri.ents_region / SECTOR;
		uint64_t bn = d->bak.ents_region / SECTOR;
		if (d->pri.ents_lba < d->bak.ents_lba + bn &&
		    d->bak.ents_lba < d->pri.ents_lba + pn)
			return damaged(d, "primary and backup GPT entry arrays "
				       "overlap");
	}
	if (memcmp(d->pri.ents, d->bak.ents, d->pri.ents_bytes) != 0)
		return damaged(d, "primary and backup GPT entry arrays differ");

	d->work = malloc(d->pri.ents_bytes);
	if (d->work == NULL) {
		msg("out of memory");
		return EXIT_FAIL;
	}
	memcpy(d->work, d->pri.ents, d->pri.ents_bytes);
	return 0;
}

static void disk_free(struct disk *d)
{
	free(d->pri.ents);
	free(d->bak.ents);
	free(d->work);
	d->pri.ents = d->bak.ents = d->work = NULL;
}

static void disk_close(struct disk *d)
{
	disk_free(d);
	if (d->fd >= 0)
		close(d->fd); /* also drops the lock */
	d->fd = -1;
}

static uint8_t *entry(const struct disk *d, uint32_t i)
{
	return d->work + (size_t)i * d->pri.esz;
}

static int is_usr(const struct disk *d, uint32_t i)
{
	return memcmp(entry(d, i) + E_TYPE, usr_type_guid, 16) == 0;
}

struct slot {
	unsigned prio, tries, succ;
};

static struct slot get_slot(const struct disk *d, uint32_t i)
{
	uint64_t a = get_le64(entry(d, i) + E_ATTRS);
	struct slot s;
	s.prio = (unsigned)(a >> PRIO_SHIFT) & 0xfu;
	s.tries = (unsigned)(a >> TRIES_SHIFT) & 0xfu;
	s.succ = (unsigned)(a >> SUCC_SHIFT) & 0x1u;
	return s;
}

static void put_slot(struct disk *d, uint32_t i, struct slot s)
{
	uint8_t *e = entry(d, i);
	uint64_t a = get_le64(e + E_ATTRS);
	a &= ~((uint64_t)0xf << PRIO_SHIFT | (uint64_t)0xf << TRIES_SHIFT |
	       (uint64_t)0x1 << SUCC_SHIFT);
	a |= (uint64_t)(s.prio & 0xfu) << PRIO_SHIFT |
	     (uint64_t)(s.tries & 0xfu) << TRIES_SHIFT |
	     (uint64_t)(s.succ & 0x1u) << SUCC_SHIFT;
	put_le64(e + E_ATTRS, a);
}

/* Only the attribute field of any entry may differ from what was read. */
static int only_attrs_changed(const struct disk *d)
{
	for (uint32_t i = 0; i < d->pri.num; i++) {
		const uint8_t *a = d->pri.ents + (size_t)i * d->pri.esz;
		const uint8_t *b = entry(d, i);
		if (memcmp(a, b, E_ATTRS) != 0 ||
		    memcmp(a + E_ATTRS + E_ATTRS_LEN, b + E_ATTRS + E_ATTRS_LEN,
			   d->pri.esz - E_ATTRS - E_ATTRS_LEN) != 0)
			return 0;
	}
	return 1;
}

static int write_copy(struct disk *d, struct gpt_copy *c)
{
	uint8_t before[SECTOR];

	memcpy(before, c->hdr, SECTOR);
	memcpy(c->ents, d->work, c->ents_bytes);
	put_le32(c->hdr + H_ENTRIES_CRC, crc32_buf(c->ents, c->ents_bytes));
	put_le32(c->hdr + H_CRC, header_crc(c->hdr, c->hdr_size));
	/* Paranoia: nothing but the two CRC fields may have changed. */
	if (memcmp(before, c->hdr, H_CRC) != 0 ||
	    memcmp(before + H_CRC + 4, c->hdr + H_CRC + 4,
		   H_ENTRIES_CRC - H_CRC - 4) != 0 ||
	    memcmp(before + H_ENTRIES_CRC + 4, c->hdr + H_ENTRIES_CRC + 4,
		   SECTOR - H_ENTRIES_CRC - 4) != 0) {
		msg("internal error: header bytes other than CRCs changed");
		return EXIT_FAIL;
	}
	/* Entries first, then the header whose CRC covers them. */
	if (write_full(d->fd, c->ents, c->ents_region,
		       c->ents_lba * SECTOR) != 0 ||
	    write_full(d->fd, c->hdr, SECTOR, c->hdr_lba * SECTOR) != 0) {
		msg("%s: writing the %s GPT failed: %s", d->path, c->what,
		    strerror(errno));
		return EXIT_FAIL;
	}
	if (fsync(d->fd) != 0) {
		msg("%s: fsync after writing the %s GPT failed: %s", d->path,
		    c->what, strerror(errno));
		return EXIT_FAIL;
	}
	return 0;
}

/* Write the working entries to both copies if anything changed. */
static int disk_commit(struct disk *d)
{
	struct disk check;
	int rc;

	if (memcmp(d->work, d->pri.ents, d->pri.ents_bytes) == 0)
		return 0; /* nothing to do */
	if (!only_attrs_changed(d)) {
		msg("internal error: entry bytes other than attributes changed");
		return EXIT_FAIL;
	}
	/* Backup first: if we are interrupted, the primary still holds the
	 * complete old table (the copies then disagree and later runs refuse
	 * until the table is repaired, e.g. with 'cgpt repair'). */
	rc = write_copy(d, &d->bak);
	if (rc)
		return rc;
	rc = write_copy(d, &d->pri);
	if (rc)
		return rc;

	/* Read back and validate what is now on the disk, through the same
	 * (locked) file descriptor. */
	memset(&check, 0, sizeof(check));
	check.path = d->path;
	check.fd = d->fd;
	check.nsec = d->nsec;
	check.pri.what = "primary";
	check.bak.what = "backup";
	rc = disk_load(&check);
	if (rc == 0 &&
	    memcmp(check.work, d->work, d->pri.ents_bytes) != 0) {
		msg("%s: read-back after writing does not match", d->path);
		rc = EXIT_FAIL;
	} else if (rc != 0) {
		msg("%s: read-back after writing failed", d->path);
		rc = EXIT_FAIL;
	}
	disk_free(&check);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */

/* Validate a user-given partition number: must exist and be usr type. */
static int check_usr_part(const struct disk *d, unsigned long n)
{
	if (n < 1 || n > d->pri.num) {
		msg("%s: no partition %lu (the table has %" PRIu32 " entries)",
		    d->path, n, d->pri.num);
		return EXIT_FAIL;
	}
	if (!is_usr(d, (uint32_t)(n - 1))) {
		msg("%s: partition %lu is not a CoreOS usr partition "
		    "(type 5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6)", d->path, n);
		return EXIT_FAIL;
	}
	return 0;
}

static void show(const struct disk *d)
{
	for (uint32_t i = 0; i < d->pri.num; i++) {
		char guid[37], label[E_NAME_CHARS + 1];
		struct slot s;
		if (!is_usr(d, i))
			continue;
		s = get_slot(d, i);
		format_guid(entry(d, i) + E_UNIQUE, guid);
		format_label(entry(d, i) + E_NAME, label);
		printf("%" PRIu32 " %s %s priority=%u tries=%u successful=%u\n",
		       i + 1, label, guid, s.prio, s.tries, s.succ);
	}
}

/* gptprio.next (spec 2.1). */
static int next(struct disk *d)
{
	unsigned best_prio = 0;
	uint32_t best = 0;
	int found = 0;
	struct slot s;
	char guid[37];
	int rc;

	for (uint32_t i = 0; i < d->pri.num; i++) {
		if (!is_usr(d, i))
			continue;
		s = get_slot(d, i);
		if ((s.tries > 0 || s.succ) && s.prio > best_prio) {
			best_prio = s.prio;
			best = i;
			found = 1;
		}
	}
	if (!found) {
		msg("%s: no bootable usr partition (none has priority > 0 and "
		    "tries > 0 or successful = 1)", d->path);
		return EXIT_FAIL;
	}
	s = get_slot(d, best);
	if (s.tries > 0) {
		s.tries--;
		put_slot(d, best, s);
		rc = disk_commit(d);
		if (rc)
			return rc;
	}
	format_guid(entry(d, best) + E_UNIQUE, guid);
	printf("%" PRIu32 " %s\n", best + 1, guid);
	return 0;
}

/* cgpt prioritize -i N (spec 2.3), over usr-type entries only:
 * group entries by priority, move N alone into a top group, sort groups by
 * priority (descending, stable in table order), leave a trailing priority-0
 * group at 0, then assign min(#groups, 15), counting down, never below 1. */
static void prioritize(struct disk *d, uint32_t target)
{
	/* group key per usr entry: 16 (> any 4-bit priority) for the target */
	unsigned key[16 + 1];
	unsigned newprio[16 + 1];
	unsigned ngroups = 0, top;
	int present[17] = {0};

	for (uint32_t i = 0; i < d->pri.num; i++) {
		if (!is_usr(d, i))
			continue;
		present[i == target ? 16 : get_slot(d, i).prio] = 1;
	}
	/* Groups in descending key order. */
	for (int k = 16; k >= 0; k--)
		if (present[k])
			key[ngroups++] = (unsigned)k;
	/* Never lower anything to zero: a trailing 0 group stays at 0. */
	if (ngroups > 0 && key[ngroups - 1] == 0)
		ngroups--;
	top = ngroups > PRIO_MAX ? PRIO_MAX : ngroups;
	for (unsigned g = 0; g < ngroups; g++) {
		newprio[g] = top;
		if (top > 1)
			top--;
	}
	for (uint32_t i = 0; i < d->pri.num; i++) {
		unsigned k;
		struct slot s;
		if (!is_usr(d, i))
			continue;
		s = get_slot(d, i);
		k = i == target ? 16 : s.prio;
		for (unsigned g = 0; g < ngroups; g++) {
			if (key[g] == k) {
				s.prio = newprio[g];
				put_slot(d, i, s);
				break;
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void usage(FILE *f)
{
	fputs("usage: " PROG " show DISK\n"
	      "       " PROG " next DISK\n"
	      "       " PROG " set DISK N [--priority P] [--tries T] "
	      "[--successful 0|1]\n"
	      "       " PROG " prioritize DISK N\n"
	      "       " PROG " mark-good DISK N\n"
	      "       " PROG " mark-bad DISK N\n"
	      "Reads and changes the A/B boot bits (priority 0-15, tries "
	      "0-15, successful 0/1)\n"
	      "of CoreOS usr partitions (type "
	      "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6) in both GPT copies.\n"
	      "DISK is a block device or an image file (512-byte sectors).\n"
	      "Exit status: 0 ok, 1 failure, 2 damaged GPT, 64 usage error.\n",
	      f);
}

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	usage(stderr);
	return EXIT_USAGE;
}

enum cmd { C_SHOW, C_NEXT, C_SET, C_PRIORITIZE, C_GOOD, C_BAD };

static int run(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum cmd cmd;
		int needs_n;
	} cmds[] = {
		{"show", C_SHOW, 0},	     {"next", C_NEXT, 0},
		{"set", C_SET, 1},	     {"prioritize", C_PRIORITIZE, 1},
		{"mark-good", C_GOOD, 1},    {"mark-bad", C_BAD, 1},
	};
	enum cmd cmd = C_SHOW;
	int needs_n = -1, nargs, rc;
	unsigned long n = 0, val;
	long set_prio = -1, set_tries = -1, set_succ = -1;
	const char *path;
	struct disk d;

	if (argc < 2)
		return usage_error("missing command");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			cmd = cmds[i].cmd;
			needs_n = cmds[i].needs_n;
		}
	}
	if (needs_n < 0)
		return usage_error("unknown command '%s'", argv[1]);
	nargs = needs_n ? 4 : 3;
	if (argc < nargs)
		return usage_error("%s: missing %s", argv[1],
				   argc < 3 ? "DISK" : "partition number N");
	path = argv[2];
	if (path[0] == '\0')
		return usage_error("empty DISK");
	if (needs_n) {
		if (parse_uint(argv[3], 1000000, &n) != 0 || n == 0)
			return usage_error("invalid partition number '%s'",
					   argv[3]);
	}
	if (cmd == C_SET) {
		for (int i = 4; i < argc; i++) {
			const char *opt = argv[i], *arg;
			size_t ol;
			long *dst;
			unsigned long max;
			if (strncmp(opt, "--priority", ol = 10) == 0) {
				dst = &set_prio;
				max = PRIO_MAX;
			} else if (strncmp(opt, "--tries", ol = 7) == 0) {
				dst = &set_tries;
				max = TRIES_MAX;
			} else if (strncmp(opt, "--successful", ol = 12) == 0) {
				dst = &set_succ;
				max = 1;
			} else {
				return usage_error("set: unknown option '%s'",
						   opt);
			}
			if (opt[ol] == '=') {
				arg = opt + ol + 1;
			} else if (opt[ol] == '\0') {
				if (i + 1 >= argc)
					return usage_error("set: %s needs a "
							   "value", opt);
				arg = argv[++i];
			} else {
				return usage_error("set: unknown option '%s'",
						   opt);
			}
			if (parse_uint(arg, max, &val) != 0)
				return usage_error("set: invalid value '%s' "
						   "for %.*s (0-%lu)", arg,
						   (int)ol, opt, max);
			*dst = (long)val;
		}
		if (set_prio < 0 && set_tries < 0 && set_succ < 0)
			return usage_error("set: nothing to set (use "
					   "--priority, --tries or "
					   "--successful)");
	} else if (argc > nargs) {
		return usage_error("%s: unexpected argument '%s'", argv[1],
				   argv[nargs]);
	}

	rc = disk_open(&d, path, cmd != C_SHOW);
	if (rc) {
		disk_close(&d);
		return rc;
	}
	if (needs_n) {
		rc = check_usr_part(&d, n);
		if (rc) {
			disk_close(&d);
			return rc;
		}
	}

	switch (cmd) {
	case C_SHOW:
		show(&d);
		break;
	case C_NEXT:
		rc = next(&d);
		break;
	case C_SET: {
		struct slot s = get_slot(&d, (uint32_t)(n - 1));
		if (set_prio >= 0)
			s.prio = (unsigned)set_prio;
		if (set_tries >= 0)
			s.tries = (unsigned)set_tries;
		if (set_succ >= 0)
			s.succ = (unsigned)set_succ;
		put_slot(&d, (uint32_t)(n - 1), s);
		rc = disk_commit(&d);
		break;
	}
	case C_PRIORITIZE:
		prioritize(&d, (uint32_t)(n - 1));
		rc = disk_commit(&d);
		break;
	case C_GOOD: {
		/* coreos-setgoodroot: cgpt add -S1 -T0; cgpt prioritize */
		struct slot s = get_slot(&d, (uint32_t)(n - 1));
		s.succ = 1;
		s.tries = 0;
		put_slot(&d, (uint32_t)(n - 1), s);
		prioritize(&d, (uint32_t)(n - 1));
		rc = disk_commit(&d);
		break;
	}
	case C_BAD: {
		/* ChromeOS "BAD": never boot this slot again. */
		struct slot s = {0, 0, 0};
		put_slot(&d, (uint32_t)(n - 1), s);
		rc = disk_commit(&d);
		break;
	}
	}
	disk_close(&d);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		msg("error writing to standard output: %s", strerror(errno));
		if (rc == 0)
			rc = EXIT_FAIL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	return run(argc, argv);
}
