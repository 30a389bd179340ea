/*
 * coreos-init-helper: the disk's GUID Partition Table through the GPT
 * library (recipes/lib/gpt): file descriptor I/O, buffers and messages.
 * Both copies are read and checked; the primary one is trusted when it is
 * valid, the backup otherwise.
 */
#include "helper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void describe(const struct gpt_copy *c, char *why, size_t len)
{
	const uint8_t *h = c->header;
	unsigned long long lba = c->lba, found = c->found, expected = c->expected;

	switch (c->problem) {
	case GPT_OK:
		why[0] = '\0';
		break;
	case GPT_HEADER_OFF_DISK:
		snprintf(why, len, lba ? "LBA %llu is beyond the end of the disk" : "LBA %llu holds the MBR",
			 lba);
		break;
	case GPT_HEADER_UNREADABLE:
		snprintf(why, len, "cannot read LBA %llu: %s", lba, strerror((int)found));
		break;
	case GPT_NO_SIGNATURE:
		snprintf(why, len, "no GPT signature at LBA %llu", lba);
		break;
	case GPT_BAD_HEADER_SIZE:
		snprintf(why, len, "bad header size %llu", found);
		break;
	case GPT_HEADER_CRC_MISMATCH:
		snprintf(why, len, "header CRC mismatch at LBA %llu", lba);
		break;
	case GPT_WRONG_MY_LBA:
		snprintf(why, len, "header at LBA %llu says it is at LBA %llu", lba, found);
		break;
	case GPT_BAD_ENTRY_SIZE:
	case GPT_BAD_ENTRY_COUNT:
		snprintf(why, len, "bad entry array geometry (%u entries of %u bytes)",
			 get32(h + GPT_HDR_ENTRY_COUNT), get32(h + GPT_HDR_ENTRY_SIZE));
		break;
	case GPT_BAD_USABLE_RANGE:
		snprintf(why, len, "bad usable range %llu-%llu", found, expected);
		break;
	case GPT_BAD_ENTRIES_LOCATION:
		snprintf(why, len, "entry array at LBA %llu overlaps the usable area", found);
		break;
	case GPT_ENTRIES_UNREADABLE:
		snprintf(why, len, "cannot read the entry array: %s", strerror((int)found));
		break;
	case GPT_ENTRIES_CRC_MISMATCH:
		snprintf(why, len, "entry array CRC mismatch (header at LBA %llu)", lba);
		break;
	default:
		snprintf(why, len, "invalid (problem %d)", (int)c->problem);
		break;
	}
}

int disk_gpt_read(int fd, struct disk_gpt *d, char *why, size_t whylen)
{
	struct gpt_io io;
	uint32_t sector;
	uint64_t bytes;
	enum gpt_problem p;

	memset(d, 0, sizeof(*d));
	d->fd = fd;
	if (dev_geometry(fd, &sector, &bytes) < 0) {
		snprintf(why, whylen, "cannot get the size: %s", strerror(errno));
		return -1;
	}
	if (bytes / sector < 4) {
		snprintf(why, whylen, "too small for a GPT");
		return -1;
	}
	d->buffer = malloc(gpt_buffer_size(&gpt_rules_init, sector));
	if (!d->buffer) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	io = gpt_fd_io(&d->fd);
	gpt_setup(&d->t, &gpt_rules_init, &io, sector, bytes / sector, d->buffer);
	p = gpt_read(&d->t);
	describe(&d->t.primary, d->primary_why, sizeof(d->primary_why));
	describe(&d->t.backup, d->backup_why, sizeof(d->backup_why));
	if (p != GPT_OK) {
		snprintf(why, whylen, "no valid GPT (primary: %s; backup: %s)", d->primary_why,
			 d->backup_why);
		disk_gpt_free(d);
		return -1;
	}
	return 0;
}

void disk_gpt_free(struct disk_gpt *d)
{
	free(d->buffer);
	d->buffer = NULL;
	d->t.use = NULL;
}

int disk_gpt_write(struct disk_gpt *d, uint64_t backup_lba)
{
	struct gpt *g = &d->t;
	const uint8_t *h = g->use->header;

	if (gpt_prepare(g, backup_lba) != GPT_OK) {
		msg("refusing to write an inconsistent GPT (last LBA %llu, usable %llu-%llu)",
		    (unsigned long long)backup_lba,
		    (unsigned long long)get64(h + GPT_HDR_FIRST_USABLE),
		    (unsigned long long)get64(h + GPT_HDR_LAST_USABLE));
		return -1;
	}
	if (gpt_write(g) != GPT_OK) {
		msg("cannot write the %s GPT: %s", g->failed == &g->primary ? "primary" : "backup",
		    strerror((int)g->error));
		return -1;
	}
	return 0;
}
