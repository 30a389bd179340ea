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
 * successful 56.  The GPT itself and the slot choice are the library's
 * (recipes/lib/gpt), shared with the boot loader and the initramfs.
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

#include "fdio.h"
#include "gpt.h"

#if defined(__linux__) && !defined(BLKSSZGET)
#define BLKSSZGET _IO(0x12, 104)
#endif

#define PROG "coreos-gptprio"

#define EXIT_FAIL 1
#define EXIT_DAMAGED 2
#define EXIT_USAGE 64

#define SECTOR 512u

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

/* UTF-16LE name -> printable ASCII; anything else (space, control, non-ASCII)
 * becomes '?', so that a `show` line always has whitespace-free fields.
 * An empty name is printed as "-". */
static void format_label(const uint8_t *name, char out[GPT_ENT_NAME_UNITS + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < GPT_ENT_NAME_UNITS; i++) {
		unsigned u = get16(name + 2 * i);
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

/* ------------------------------------------------------------------ */
/* The disk                                                            */

struct disk {
	const char *path;
	int fd;
	uint64_t nsec; /* number of 512-byte sectors */
	struct gpt g;  /* both copies, as read */
	void *buffer;  /* g's */
	uint8_t *work; /* working copy of the entries */
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

/* What gpt_read() found wrong, as an exit status and a message. */
static int refuse(const struct disk *d, enum gpt_problem p)
{
	const struct gpt_copy *c = d->g.primary.valid ? &d->g.backup : &d->g.primary;
	const char *what = c == &d->g.primary ? "primary" : "backup";

	switch (p) {
	case GPT_OK:
		return 0;
	case GPT_HEADER_OFF_DISK:
		return damaged(d, "%s GPT header LBA %" PRIu64 " is beyond the end of the disk (%" PRIu64
			       " sectors)", what, c->found, c->expected);
	case GPT_HEADER_UNREADABLE:
	case GPT_ENTRIES_UNREADABLE:
		msg("%s: cannot read %s GPT %s: %s", d->path, what,
		    p == GPT_HEADER_UNREADABLE ? "header" : "entries", strerror((int)c->found));
		return EXIT_FAIL;
	case GPT_NO_SIGNATURE:
		return damaged(d, "no %s GPT header signature at LBA %" PRIu64, what, c->found);
	case GPT_BAD_REVISION:
		return damaged(d, "%s GPT header has unsupported revision 0x%08" PRIx64, what, c->found);
	case GPT_BAD_HEADER_SIZE:
		return damaged(d, "%s GPT header size %" PRIu64 " is invalid", what, c->found);
	case GPT_HEADER_CRC_MISMATCH:
		return damaged(d, "%s GPT header CRC mismatch (stored 0x%08" PRIx64 ", computed 0x%08"
			       PRIx64 ")", what, c->found, c->expected);
	case GPT_WRONG_MY_LBA:
		return damaged(d, "%s GPT header says it lives at LBA %" PRIu64 ", found at %" PRIu64,
			       what, c->found, c->expected);
	case GPT_WRONG_ALTERNATE:
		return damaged(d, "%s GPT header points to LBA %" PRIu64 " instead of %" PRIu64
			       " for the other copy", what, c->found, c->expected);
	case GPT_BAD_ALTERNATE:
		return damaged(d, "%s GPT header has an invalid alternate LBA %" PRIu64, what, c->found);
	case GPT_BAD_ENTRY_SIZE:
		return damaged(d, "%s GPT has invalid entry size %" PRIu64, what, c->found);
	case GPT_BAD_ENTRY_COUNT:
		return damaged(d, "%s GPT has an invalid number of entries (%" PRIu64 ")", what,
			       c->found);
	case GPT_BAD_ENTRIES_LOCATION:
		return damaged(d, "%s GPT entry array location (LBA %" PRIu64 ", %" PRIu64
			       " sectors) is invalid", what, c->found, c->expected);
	case GPT_ENTRIES_CRC_MISMATCH:
		return damaged(d, "%s GPT entry array CRC mismatch (stored 0x%08" PRIx64
			       ", computed 0x%08" PRIx64 ")", what, c->found, c->expected);
	case GPT_HEADERS_DISAGREE:
		return damaged(d, "primary and backup GPT headers disagree");
	case GPT_ARRAYS_OVERLAP:
		return damaged(d, "primary and backup GPT entry arrays overlap");
	case GPT_ARRAYS_DIFFER:
		return damaged(d, "primary and backup GPT entry arrays differ");
	default:
		return damaged(d, "%s GPT is invalid (problem %d)", what, (int)p);
	}
}

static int disk_load(struct disk *d);

/* Open and lock DISK, then load and validate its GPT. */
static int disk_open(struct disk *d, const char *path, int writable)
{
	struct stat st;
	off_t end;

	memset(d, 0, sizeof(*d));
	d->path = path;
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

/* Read both copies through d->fd; both must be valid and agree. */
static int disk_load(struct disk *d)
{
	struct gpt_io io = gpt_fd_io(&d->fd);
	size_t bytes;
	int rc;

	if (d->nsec < 3)
		return damaged(d, "too small to hold a GPT (%" PRIu64 " sectors)",
			       d->nsec);
	d->buffer = malloc(gpt_buffer_size(&gpt_rules_gptprio, SECTOR));
	if (d->buffer == NULL) {
		msg("out of memory");
		return EXIT_FAIL;
	}
	gpt_setup(&d->g, &gpt_rules_gptprio, &io, SECTOR, d->nsec, d->buffer);
	rc = refuse(d, gpt_read(&d->g));
	if (rc)
		return rc;
	bytes = (size_t)gpt_entry_count(&d->g) * gpt_entry_size(&d->g);
	d->work = malloc(bytes);
	if (d->work == NULL) {
		msg("out of memory");
		return EXIT_FAIL;
	}
	memcpy(d->work, d->g.primary.entries, bytes);
	return 0;
}

static void disk_free(struct disk *d)
{
	free(d->buffer);
	free(d->work);
	d->buffer = NULL;
	d->work = NULL;
}

static void disk_close(struct disk *d)
{
	disk_free(d);
	if (d->fd >= 0)
		close(d->fd); /* also drops the lock */
	d->fd = -1;
}

static uint32_t entry_count(const struct disk *d) { return gpt_entry_count(&d->g); }

static size_t entries_bytes(const struct disk *d)
{
	return (size_t)entry_count(d) * gpt_entry_size(&d->g);
}

static uint8_t *entry(const struct disk *d, uint32_t i)
{
	return d->work + (size_t)i * gpt_entry_size(&d->g);
}

static int is_usr(const struct disk *d, uint32_t i) { return gpt_is_usr(entry(d, i)); }

static struct gpt_prio get_slot(const struct disk *d, uint32_t i)
{
	return gpt_prio_get(entry(d, i));
}

static void put_slot(struct disk *d, uint32_t i, struct gpt_prio s)
{
	gpt_prio_put(entry(d, i), s);
}

/* Only the attribute field of any entry may differ from what was read. */
static int only_attrs_changed(const struct disk *d)
{
	const uint32_t esz = gpt_entry_size(&d->g);
	const size_t attrs_end = GPT_ENT_ATTRS + 8;

	for (uint32_t i = 0; i < entry_count(d); i++) {
		const uint8_t *a = d->g.primary.entries + (size_t)i * esz;
		const uint8_t *b = entry(d, i);
		if (memcmp(a, b, GPT_ENT_ATTRS) != 0 ||
		    memcmp(a + attrs_end, b + attrs_end, esz - attrs_end) != 0)
			return 0;
	}
	return 1;
}

/* Paranoia: nothing but the two CRC fields of a header may change. */
static int only_crcs_changed(const uint8_t *before, const uint8_t *after)
{
	return memcmp(before, after, GPT_HDR_CRC) == 0 &&
	       memcmp(before + GPT_HDR_CRC + 4, after + GPT_HDR_CRC + 4,
		      GPT_HDR_ENTRIES_CRC - GPT_HDR_CRC - 4) == 0 &&
	       memcmp(before + GPT_HDR_ENTRIES_CRC + 4, after + GPT_HDR_ENTRIES_CRC + 4,
		      SECTOR - GPT_HDR_ENTRIES_CRC - 4) == 0;
}

/* Write the working entries to both copies if anything changed. */
static int disk_commit(struct disk *d)
{
	uint8_t before_pri[SECTOR], before_bak[SECTOR];
	enum gpt_problem p;
	struct disk check;
	int rc;

	if (memcmp(d->work, d->g.primary.entries, entries_bytes(d)) == 0)
		return 0; /* nothing to do */
	if (!only_attrs_changed(d)) {
		msg("internal error: entry bytes other than attributes changed");
		return EXIT_FAIL;
	}
	memcpy(before_pri, d->g.primary.header, SECTOR);
	memcpy(before_bak, d->g.backup.header, SECTOR);
	memcpy(d->g.primary.entries, d->work, entries_bytes(d));
	if (gpt_prepare(&d->g, d->g.backup.lba) != GPT_OK ||
	    !only_crcs_changed(before_pri, d->g.primary.header) ||
	    !only_crcs_changed(before_bak, d->g.backup.header)) {
		msg("internal error: header bytes other than CRCs changed");
		return EXIT_FAIL;
	}
	/* Backup first: if we are interrupted, the primary still holds the
	 * complete old table (the copies then disagree and later runs refuse
	 * until the table is repaired, e.g. with 'cgpt repair'). */
	p = gpt_write(&d->g);
	if (p != GPT_OK) {
		msg("%s: %s the %s GPT failed: %s", d->path,
		    p == GPT_FLUSH_FAILED ? "fsync after writing" : "writing",
		    d->g.failed == &d->g.primary ? "primary" : "backup", strerror((int)d->g.error));
		return EXIT_FAIL;
	}

	/* Read back and validate what is now on the disk, through the same
	 * (locked) file descriptor. */
	memset(&check, 0, sizeof(check));
	check.path = d->path;
	check.fd = d->fd;
	check.nsec = d->nsec;
	rc = disk_load(&check);
	if (rc == 0 &&
	    memcmp(check.work, d->work, entries_bytes(d)) != 0) {
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
	if (n < 1 || n > entry_count(d)) {
		msg("%s: no partition %lu (the table has %" PRIu32 " entries)",
		    d->path, n, entry_count(d));
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
	for (uint32_t i = 0; i < entry_count(d); i++) {
		char guid[GPT_GUID_TEXT + 1], label[GPT_ENT_NAME_UNITS + 1];
		struct gpt_prio s;
		if (!is_usr(d, i))
			continue;
		s = get_slot(d, i);
		gpt_guid_format(entry(d, i) + GPT_ENT_UNIQUE, guid);
		format_label(entry(d, i) + GPT_ENT_NAME, label);
		printf("%" PRIu32 " %s %s priority=%u tries=%u successful=%u\n",
		       i + 1, label, guid, s.priority, s.tries, s.successful);
	}
}

/* gptprio.next (spec 2.1). */
static int next(struct disk *d)
{
	char guid[GPT_GUID_TEXT + 1];
	int best, rc;

	best = gpt_next_slot(d->work, entry_count(d), gpt_entry_size(&d->g));
	if (best < 0) {
		msg("%s: no bootable usr partition (none has priority > 0 and "
		    "tries > 0 or successful = 1)", d->path);
		return EXIT_FAIL;
	}
	if (gpt_use_try(entry(d, (uint32_t)best))) {
		rc = disk_commit(d);
		if (rc)
			return rc;
	}
	gpt_guid_format(entry(d, (uint32_t)best) + GPT_ENT_UNIQUE, guid);
	printf("%d %s\n", best + 1, guid);
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

	for (uint32_t i = 0; i < entry_count(d); i++) {
		if (!is_usr(d, i))
			continue;
		present[i == target ? 16 : get_slot(d, i).priority] = 1;
	}
	/* Groups in descending key order. */
	for (int k = 16; k >= 0; k--)
		if (present[k])
			key[ngroups++] = (unsigned)k;
	/* Never lower anything to zero: a trailing 0 group stays at 0. */
	if (ngroups > 0 && key[ngroups - 1] == 0)
		ngroups--;
	top = ngroups > GPT_PRIORITY_MAX ? GPT_PRIORITY_MAX : ngroups;
	for (unsigned g = 0; g < ngroups; g++) {
		newprio[g] = top;
		if (top > 1)
			top--;
	}
	for (uint32_t i = 0; i < entry_count(d); i++) {
		unsigned k;
		struct gpt_prio s;
		if (!is_usr(d, i))
			continue;
		s = get_slot(d, i);
		k = i == target ? 16 : s.priority;
		for (unsigned g = 0; g < ngroups; g++) {
			if (key[g] == k) {
				s.priority = newprio[g];
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
				max = GPT_PRIORITY_MAX;
			} else if (strncmp(opt, "--tries", ol = 7) == 0) {
				dst = &set_tries;
				max = GPT_TRIES_MAX;
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
		struct gpt_prio s = get_slot(&d, (uint32_t)(n - 1));
		if (set_prio >= 0)
			s.priority = (unsigned)set_prio;
		if (set_tries >= 0)
			s.tries = (unsigned)set_tries;
		if (set_succ >= 0)
			s.successful = (unsigned)set_succ;
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
		struct gpt_prio s = get_slot(&d, (uint32_t)(n - 1));
		s.successful = 1;
		s.tries = 0;
		put_slot(&d, (uint32_t)(n - 1), s);
		prioritize(&d, (uint32_t)(n - 1));
		rc = disk_commit(&d);
		break;
	}
	case C_BAD: {
		/* ChromeOS "BAD": never boot this slot again. */
		struct gpt_prio s = {0, 0, 0};
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
