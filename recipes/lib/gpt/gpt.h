/*
 * The GUID Partition Table (UEFI 2.10 chapter 5.3) and CoreOS's gptprio
 * slot choice, written once for the three programs that read the GPT
 * themselves: coreos-boot (a freestanding UEFI application),
 * coreos-init-helper and coreos-gptprio (static glibc programs).  Each
 * recipe lists `libraries: [gpt]`, gets this folder as $SRCDIR/lib/gpt and
 * compiles gpt.c with its own flags.
 *
 * gpt.c calls no C library function: the caller passes one buffer
 * (gpt_buffer_size()), the I/O callbacks, and formats its own messages from
 * the problem codes below.
 *
 * How much a reader accepts differs between the three programs: each has
 * its rules (gpt_rules_boot, _init, _gptprio below).  The boot loader and
 * the initramfs trust the primary copy when it is valid and fall back to
 * the backup, as GRUB does; coreos-gptprio changes nothing unless both
 * copies are valid and agree.
 *
 * Tested by test.sh on golden samples written by sfdisk and sgdisk
 * (samples/), which the three programs' own tests also use.
 */
#ifndef CORESDK_GPT_H
#define CORESDK_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "le.h"

/* Header fields, byte offsets (UEFI 2.10 §5.3.2). */
#define GPT_HDR_SIGNATURE 0
#define GPT_HDR_REVISION 8
#define GPT_HDR_SIZE 12
#define GPT_HDR_CRC 16
#define GPT_HDR_MY_LBA 24
#define GPT_HDR_ALTERNATE_LBA 32
#define GPT_HDR_FIRST_USABLE 40
#define GPT_HDR_LAST_USABLE 48
#define GPT_HDR_DISK_GUID 56
#define GPT_HDR_ENTRIES_LBA 72
#define GPT_HDR_ENTRY_COUNT 80
#define GPT_HDR_ENTRY_SIZE 84
#define GPT_HDR_ENTRIES_CRC 88
#define GPT_HEADER_MIN 92 /* the fields above, unpadded */
#define GPT_REVISION_1_0 0x00010000u

/* Entry fields, byte offsets (UEFI 2.10 §5.3.3). */
#define GPT_ENT_TYPE 0
#define GPT_ENT_UNIQUE 16
#define GPT_ENT_FIRST_LBA 32
#define GPT_ENT_LAST_LBA 40
#define GPT_ENT_ATTRS 48
#define GPT_ENT_NAME 56
#define GPT_ENT_NAME_UNITS 36 /* UTF-16LE code units */
#define GPT_ENTRY_MIN 128

/* gptprio attribute bits, as cgpt defines them (spec coreos-disk-and-boot.md
 * §1.6): priority 48-51, tries 52-55, successful 56. */
#define GPT_PRIORITY_SHIFT 48
#define GPT_TRIES_SHIFT 52
#define GPT_SUCCESSFUL_SHIFT 56
#define GPT_PRIORITY_MAX 15u
#define GPT_TRIES_MAX 15u

#define GPT_GUID_TEXT 36 /* "7130c94a-213a-4e5a-8e26-6cce9662f132" */

/* What is wrong; `found`/`expected` of the copy carry the values named. */
enum gpt_problem {
	GPT_OK = 0,
	/* one copy */
	GPT_HEADER_OFF_DISK,      /* found: the LBA, expected: sectors on the disk */
	GPT_HEADER_UNREADABLE,    /* found: the read callback's code */
	GPT_NO_SIGNATURE,         /* found: the LBA */
	GPT_BAD_REVISION,         /* found: Revision */
	GPT_BAD_HEADER_SIZE,      /* found: HeaderSize */
	GPT_HEADER_CRC_MISMATCH,  /* found: stored CRC, expected: computed */
	GPT_WRONG_MY_LBA,         /* found: MyLBA, expected: where it was read */
	GPT_WRONG_ALTERNATE,      /* found: AlternateLBA, expected: 1 (backup) */
	GPT_BAD_ALTERNATE,        /* found: AlternateLBA */
	GPT_BAD_ENTRY_SIZE,       /* found: SizeOfPartitionEntry */
	GPT_BAD_ENTRY_COUNT,      /* found: NumberOfPartitionEntries */
	GPT_BAD_USABLE_RANGE,     /* found: FirstUsableLBA, expected: LastUsableLBA */
	GPT_BAD_ENTRIES_LOCATION, /* found: PartitionEntryLBA, expected: its sectors */
	GPT_ENTRIES_UNREADABLE,   /* found: the read callback's code */
	GPT_ENTRIES_CRC_MISMATCH, /* found: stored CRC, expected: computed */
	GPT_SHAPE_DIFFERS,        /* a valid backup with another entry count or size */
	/* the table */
	GPT_NO_VALID_COPY,
	GPT_HEADERS_DISAGREE, /* disk GUID, usable range or entry geometry */
	GPT_ARRAYS_OVERLAP,
	GPT_ARRAYS_DIFFER,
	/* writing */
	GPT_LAYOUT_INVALID, /* a copy would leave the disk or cover the usable area */
	GPT_WRITE_FAILED,   /* g->failed, g->error: the copy and the callback's code */
	GPT_FLUSH_FAILED,
};

/* Checks on top of the ones every reader makes (signature, header size and
 * CRC, MyLBA, entry size >= 128 and a multiple of 8, entry count, entry
 * array on the disk and off its own header, entry array CRC). */
enum gpt_check {
	GPT_CHECK_REVISION = 1 << 0,        /* Revision is 1.0 */
	GPT_CHECK_ENTRY_SIZE_POW2 = 1 << 1, /* 128 x 2^n, as UEFI requires */
	/* AlternateLBA is on the disk and not the header itself, the entry
	 * array does not cover it, and the backup's points to LBA 1 */
	GPT_CHECK_ALTERNATE = 1 << 2,
	/* FirstUsableLBA..LastUsableLBA lies on the disk and the entry array
	 * outside it, on the header's side */
	GPT_CHECK_USABLE = 1 << 3,
	/* a valid backup with another entry count or size than a valid
	 * primary counts as damaged (GPT_SHAPE_DIFFERS) */
	GPT_CHECK_SAME_SHAPE = 1 << 4,
	/* both copies must be valid (the backup where the primary says, no
	 * search at the last LBA) and describe the same table */
	GPT_REQUIRE_BOTH = 1 << 5,
};

struct gpt_rules {
	uint32_t max_entries_bytes; /* entry count x size; a sector multiple */
	uint32_t max_entry_size;    /* 0: only max_entries_bytes limits it */
	unsigned checks;            /* enum gpt_check */
};

/* What each program accepts, declared together so that they can be
 * compared, and tested on the same golden samples (samples/). */
extern const struct gpt_rules gpt_rules_boot;    /* coreos-boot */
extern const struct gpt_rules gpt_rules_init;    /* coreos-init-helper */
extern const struct gpt_rules gpt_rules_gptprio; /* coreos-gptprio */

/* Byte-addressed I/O on the whole disk.  Each returns 0, or a nonzero code
 * of the caller's (an errno value, an EFI_STATUS) kept for its messages.
 * flush may be NULL. */
struct gpt_io {
	uint64_t (*read)(void *ctx, uint64_t offset, void *buf, size_t len);
	uint64_t (*write)(void *ctx, uint64_t offset, const void *buf, size_t len);
	uint64_t (*flush)(void *ctx);
	void *ctx;
};

struct gpt_copy {
	uint8_t *header;  /* the header's sector as read (or prepared) */
	uint8_t *entries; /* the entry array's sectors */
	uint64_t lba;     /* where the header was looked for */
	int valid;
	enum gpt_problem problem;
	uint64_t found, expected;
};

struct gpt {
	struct gpt_rules rules;
	struct gpt_io io;
	uint32_t sector;  /* logical sector size in bytes */
	uint64_t sectors; /* disk size in sectors */
	struct gpt_copy primary, backup;
	struct gpt_copy *use; /* the copy to trust: the primary if valid */
	enum gpt_problem problem;
	const struct gpt_copy *failed; /* after GPT_WRITE/FLUSH_FAILED */
	uint64_t error;
};

/* Bytes of the one buffer gpt_setup() takes: two header sectors and two
 * entry arrays of at most rules->max_entries_bytes. */
size_t gpt_buffer_size(const struct gpt_rules *rules, uint32_t sector);
void gpt_setup(struct gpt *g, const struct gpt_rules *rules, const struct gpt_io *io,
	       uint32_t sector, uint64_t sectors, void *buffer);

/* Reads and checks the primary copy at LBA 1 and the backup where the
 * primary says (without GPT_REQUIRE_BOTH: where a valid primary says if
 * that is on the disk, else at the last LBA, and there too if the first
 * place holds no valid copy).  Returns GPT_OK with g->use set, or:
 * without GPT_REQUIRE_BOTH, GPT_NO_VALID_COPY; with it, the problem of the
 * first invalid copy (the primary if !g->primary.valid) or a disagreement. */
enum gpt_problem gpt_read(struct gpt *g);

/* Makes both copies hold the trusted copy's entries and table fields (disk
 * GUID, usable range), as the caller may have changed them there, with the
 * backup header at backup_lba and fresh CRCs.  A valid copy that stays
 * where it is and has the same entry geometry keeps its own bytes
 * otherwise (entry array location, reserved bytes); any other copy is
 * rebuilt from the trusted header: the primary's array at LBA 2, the
 * backup's right before its header.  Rebuilt copies (and any whose usable
 * range the caller moved) must fit: GPT_LAYOUT_INVALID otherwise. */
enum gpt_problem gpt_prepare(struct gpt *g, uint64_t backup_lba);

/* Writes what gpt_prepare() made: the backup (entries, then header, then
 * flush) first, so that an interruption leaves the old primary whole, then
 * the primary. */
enum gpt_problem gpt_write(struct gpt *g);

/* Where the backup belongs: where a valid one is, else where the trusted
 * header says. */
uint64_t gpt_backup_lba(const struct gpt *g);

/* The trusted copy's geometry and entries (index 0-based). */
uint32_t gpt_entry_count(const struct gpt *g);
uint32_t gpt_entry_size(const struct gpt *g);
uint64_t gpt_entries_sectors(const struct gpt *g);
uint8_t *gpt_entry(const struct gpt *g, uint32_t i);

/* An entry is used when its type GUID is not all zero. */
int gpt_entry_used(const uint8_t *entry);
/* The UTF-16LE name as UTF-8 (a surrogate pair comes out as two 3-byte
 * sequences, which is enough for comparing names), cut to fit size. */
void gpt_entry_name(const uint8_t *entry, char *buf, size_t size);

/* CRC-32 as UEFI (and zlib) define it: reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF. */
uint32_t gpt_crc32(const void *data, size_t len);

/* GUID text <-> on-disk bytes; the first three fields are stored
 * little-endian, the last two as written. */
void gpt_guid_format(const uint8_t guid[16], char out[GPT_GUID_TEXT + 1]); /* lowercase */
int gpt_guid_parse(const char *text, uint8_t out[16]);                      /* 0 or -1 */

/* ---- gptprio (spec coreos-disk-and-boot.md §2.1) ------------------------ */

/* 5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6, the CoreOS usr partition type.
 * Attribute bits 48-63 are type specific: only these entries have slots. */
extern const uint8_t gpt_usr_type[16];
int gpt_is_usr(const uint8_t *entry);

struct gpt_prio {
	unsigned priority, tries, successful;
};
struct gpt_prio gpt_prio_get(const uint8_t *entry);
/* Sets the three fields and leaves every other attribute bit alone. */
void gpt_prio_put(uint8_t *entry, struct gpt_prio prio);

/* GRUB's gptprio.next: among usr entries with tries > 0 or successful, the
 * one with the highest priority; priority 0 is never chosen and ties go
 * to the lowest-numbered entry.  Returns its index, or -1. */
int gpt_next_slot(const uint8_t *entries, uint32_t count, uint32_t entry_size);
/* Uses up one try of the chosen entry; returns 1 if it had one (the table
 * must then be written), 0 for a proven slot without tries. */
int gpt_use_try(uint8_t *entry);

#endif
