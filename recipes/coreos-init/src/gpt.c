/*
 * coreos-init-helper: GUID Partition Table reading and writing (UEFI 2.x,
 * chapter 5.3).  Both copies are read and checked; the primary one is
 * trusted when it is valid, the backup otherwise.
 */
#include "helper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- CRC-32 (IEEE 802.3, reflected, as the GPT uses) -------------------- */

uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static int ready;
	uint32_t c;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	c = 0xFFFFFFFFu;
	while (n--)
		c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ---- GUIDs ------------------------------------------------------------ */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int guid_parse(const char *s, uint8_t out[16])
{
	/* text byte order -> on-disk position: the first three groups are
	 * stored little-endian, the last two as they are written */
	static const int pos[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	int k = 0;

	if (strlen(s) != GUID_STR_LEN)
		return -1;
	for (int i = 0; i < GUID_STR_LEN;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[pos[k++]] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}

void guid_format(const uint8_t g[16], char *buf)
{
	snprintf(buf, GUID_STR_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12],
		 g[13], g[14], g[15]);
}

/* ---- reading ---------------------------------------------------------- */

static uint64_t entries_sectors(uint32_t num, uint32_t size, uint32_t sector)
{
	uint64_t bytes = (uint64_t)num * size;
	return (bytes + sector - 1) / sector;
}

/* Reads and checks the header at lba and its entry array. */
static void read_copy(int fd, struct gpt *g, struct gpt_copy *c, uint64_t lba, int is_primary)
{
	uint8_t *h;
	uint32_t hsize, num, esize, crc;
	uint64_t first, last, elba, esect;

	c->valid = 0;
	c->lba = lba;
	free(c->header);
	free(c->entries);
	c->entries = NULL;
	c->header = h = calloc(1, g->sector);
	if (!h) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return;
	}
	if (lba >= g->total_sectors) {
		snprintf(c->why, sizeof(c->why), "LBA %llu is beyond the end of the disk",
			 (unsigned long long)lba);
		return;
	}
	if (read_at(fd, h, g->sector, lba * g->sector) < 0) {
		snprintf(c->why, sizeof(c->why), "cannot read LBA %llu: %s", (unsigned long long)lba,
			 strerror(errno));
		return;
	}
	if (memcmp(h, "EFI PART", 8) != 0) {
		snprintf(c->why, sizeof(c->why), "no GPT signature at LBA %llu", (unsigned long long)lba);
		return;
	}
	hsize = get32(h + 12);
	if (hsize < GPT_HEADER_MIN || hsize > g->sector) {
		snprintf(c->why, sizeof(c->why), "bad header size %u", hsize);
		return;
	}
	crc = get32(h + 16);
	put32(h + 16, 0);
	if (crc32_ieee(h, hsize) != crc) {
		put32(h + 16, crc);
		snprintf(c->why, sizeof(c->why), "header CRC mismatch at LBA %llu", (unsigned long long)lba);
		return;
	}
	put32(h + 16, crc);
	if (get64(h + 24) != lba) {
		snprintf(c->why, sizeof(c->why), "header at LBA %llu says it is at LBA %llu",
			 (unsigned long long)lba, (unsigned long long)get64(h + 24));
		return;
	}
	first = get64(h + 40);
	last = get64(h + 48);
	elba = get64(h + 72);
	num = get32(h + 80);
	esize = get32(h + 84);
	if (esize < GPT_ENTRY_MIN || esize % 8 != 0 || num == 0 ||
	    (uint64_t)num * esize > GPT_MAX_ENTRIES_BYTES) {
		snprintf(c->why, sizeof(c->why), "bad entry array geometry (%u entries of %u bytes)",
			 num, esize);
		return;
	}
	esect = entries_sectors(num, esize, g->sector);
	if (first > last || first < 2 || last >= g->total_sectors) {
		snprintf(c->why, sizeof(c->why), "bad usable range %llu-%llu",
			 (unsigned long long)first, (unsigned long long)last);
		return;
	}
	if (is_primary ? (elba < 2 || elba + esect > first)
		       : (elba <= last || elba + esect > lba)) {
		snprintf(c->why, sizeof(c->why), "entry array at LBA %llu overlaps the usable area",
			 (unsigned long long)elba);
		return;
	}
	c->entries = malloc((size_t)num * esize);
	if (!c->entries) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return;
	}
	if (read_at(fd, c->entries, (size_t)num * esize, elba * g->sector) < 0) {
		snprintf(c->why, sizeof(c->why), "cannot read the entry array: %s", strerror(errno));
		return;
	}
	if (crc32_ieee(c->entries, (size_t)num * esize) != get32(h + 88)) {
		snprintf(c->why, sizeof(c->why), "entry array CRC mismatch (header at LBA %llu)",
			 (unsigned long long)lba);
		return;
	}
	c->valid = 1;
	c->why[0] = '\0';
}

static void take_fields(struct gpt *g)
{
	const uint8_t *h = g->use->header;

	g->header_size = get32(h + 12);
	g->alternate_lba = get64(h + 32);
	g->first_usable = get64(h + 40);
	g->last_usable = get64(h + 48);
	memcpy(g->disk_guid, h + 56, 16);
	g->entries_lba = get64(h + 72);
	g->num_entries = get32(h + 80);
	g->entry_size = get32(h + 84);
}

int gpt_read(int fd, struct gpt *g, char *why, size_t whylen)
{
	uint64_t bytes;
	uint64_t backup_lba;

	memset(g, 0, sizeof(*g));
	if (dev_geometry(fd, &g->sector, &bytes) < 0) {
		snprintf(why, whylen, "cannot get the size: %s", strerror(errno));
		return -1;
	}
	g->total_sectors = bytes / g->sector;
	if (g->total_sectors < 4) {
		snprintf(why, whylen, "too small for a GPT");
		return -1;
	}
	read_copy(fd, g, &g->primary, 1, 1);
	/* The backup is where the primary says; a disk that grew since the
	 * table was written still has it there, not at its last LBA. */
	backup_lba = g->total_sectors - 1;
	if (g->primary.valid && get64(g->primary.header + 32) < g->total_sectors)
		backup_lba = get64(g->primary.header + 32);
	read_copy(fd, g, &g->backup, backup_lba, 0);
	if (!g->backup.valid && backup_lba != g->total_sectors - 1) {
		struct gpt_copy second = {0};
		read_copy(fd, g, &second, g->total_sectors - 1, 0);
		if (second.valid) {
			free(g->backup.header);
			free(g->backup.entries);
			g->backup = second;
		} else {
			free(second.header);
			free(second.entries);
		}
	}
	if (g->primary.valid)
		g->use = &g->primary;
	else if (g->backup.valid)
		g->use = &g->backup;
	else {
		snprintf(why, whylen, "no valid GPT (primary: %s; backup: %s)", g->primary.why,
			 g->backup.why);
		return -1;
	}
	take_fields(g);
	return 0;
}

void gpt_free(struct gpt *g)
{
	free(g->primary.header);
	free(g->primary.entries);
	free(g->backup.header);
	free(g->backup.entries);
	memset(g, 0, sizeof(*g));
}

uint8_t *gpt_entry(const struct gpt *g, uint32_t i)
{
	return g->use->entries + (size_t)i * g->entry_size;
}

int gpt_entry_used(const uint8_t *e)
{
	for (int i = 0; i < 16; i++)
		if (e[i])
			return 1;
	return 0;
}

void gpt_entry_name(const uint8_t *e, char *buf, size_t size)
{
	size_t o = 0;

	for (int i = 0; i < 36; i++) {
		unsigned u = get16(e + 56 + 2 * i);
		if (u == 0)
			break;
		if (u < 0x80) {
			if (o + 1 >= size)
				break;
			buf[o++] = (char)u;
		} else if (u < 0x800) {
			if (o + 2 >= size)
				break;
			buf[o++] = (char)(0xC0 | u >> 6);
			buf[o++] = (char)(0x80 | (u & 0x3F));
		} else {
			/* UTF-16 code units up to U+FFFF; a surrogate pair
			 * comes out as two 3-byte sequences, which is fine
			 * for comparing names (CoreOS names are ASCII) */
			if (o + 3 >= size)
				break;
			buf[o++] = (char)(0xE0 | u >> 12);
			buf[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
			buf[o++] = (char)(0x80 | (u & 0x3F));
		}
	}
	buf[o] = '\0';
}

/* ---- writing ---------------------------------------------------------- */

static void build_header(const struct gpt *g, uint8_t *h, uint64_t my_lba, uint64_t alt_lba,
			 uint64_t elba, uint32_t ecrc)
{
	memset(h, 0, g->sector);
	memcpy(h, g->use->header, g->header_size);
	put64(h + 24, my_lba);
	put64(h + 32, alt_lba);
	put64(h + 40, g->first_usable);
	put64(h + 48, g->last_usable);
	memcpy(h + 56, g->disk_guid, 16);
	put64(h + 72, elba);
	put32(h + 80, g->num_entries);
	put32(h + 84, g->entry_size);
	put32(h + 88, ecrc);
	put32(h + 16, 0);
	put32(h + 16, crc32_ieee(h, g->header_size));
}

int gpt_write(int fd, struct gpt *g, uint64_t last_lba, const uint8_t *entries)
{
	uint64_t esect = entries_sectors(g->num_entries, g->entry_size, g->sector);
	size_t ebytes = (size_t)g->num_entries * g->entry_size;
	uint64_t primary_elba = g->primary.valid ? get64(g->primary.header + 72) : 2;
	uint64_t backup_elba = last_lba - esect;
	uint8_t *earea = calloc(esect, g->sector);
	uint8_t *h = malloc(g->sector);
	uint32_t ecrc;
	int rc = -1;

	if (!earea || !h) {
		msg("out of memory");
		goto out;
	}
	if (last_lba >= g->total_sectors || backup_elba <= g->last_usable ||
	    primary_elba + esect > g->first_usable) {
		msg("refusing to write an inconsistent GPT (last LBA %llu, usable %llu-%llu)",
		    (unsigned long long)last_lba, (unsigned long long)g->first_usable,
		    (unsigned long long)g->last_usable);
		goto out;
	}
	memcpy(earea, entries, ebytes);
	ecrc = crc32_ieee(earea, ebytes);

	/* backup first: until the primary is rewritten, the old primary stays
	 * valid; once it is, both are */
	build_header(g, h, last_lba, 1, backup_elba, ecrc);
	if (write_at(fd, earea, esect * g->sector, backup_elba * g->sector) < 0 ||
	    write_at(fd, h, g->sector, last_lba * g->sector) < 0 || fsync(fd) < 0) {
		msg("cannot write the backup GPT: %s", strerror(errno));
		goto out;
	}
	build_header(g, h, 1, last_lba, primary_elba, ecrc);
	if (write_at(fd, earea, esect * g->sector, primary_elba * g->sector) < 0 ||
	    write_at(fd, h, g->sector, g->sector) < 0 || fsync(fd) < 0) {
		msg("cannot write the primary GPT: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(earea);
	free(h);
	return rc;
}
