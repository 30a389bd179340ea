/*
 * The GUID Partition Table and the gptprio slot choice; see gpt.h.
 * Freestanding: no C library calls, not even memcpy (the UEFI build has no
 * C library behind it).
 */
#include "gpt.h"

const uint8_t gpt_usr_type[16] = {
	0xf4, 0xf5, 0xfb, 0x5d, 0x48, 0x28, 0xac, 0x4b,
	0xaa, 0x5e, 0x0d, 0x9a, 0x20, 0xb7, 0x45, 0xa6,
};

/* The loader reads like GRUB: UEFI's entry sizes, and a backup of another
 * shape than the primary is damaged (it is rebuilt when the loader writes). */
const struct gpt_rules gpt_rules_boot = {
	.max_entries_bytes = 1u << 20, /* far above the usual 128 x 128 B */
	.checks = GPT_CHECK_ENTRY_SIZE_POW2 | GPT_CHECK_SAME_SHAPE,
};

/* The initramfs moves the backup and grows ROOT on the first boot, so the
 * usable area and the entry arrays around it must make sense. */
const struct gpt_rules gpt_rules_init = {
	.max_entries_bytes = 1u << 20,
	.checks = GPT_CHECK_USABLE,
};

/* coreos-gptprio changes nothing unless both copies are valid and agree. */
const struct gpt_rules gpt_rules_gptprio = {
	.max_entries_bytes = 4u << 20,
	.max_entry_size = 4096,
	.checks = GPT_CHECK_REVISION | GPT_CHECK_ENTRY_SIZE_POW2 | GPT_CHECK_ALTERNATE |
		  GPT_REQUIRE_BOTH,
};

/* ---- bytes --------------------------------------------------------------- */

static void copy_bytes(uint8_t *to, const uint8_t *from, size_t n)
{
	while (n--)
		*to++ = *from++;
}

static void zero_bytes(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = 0;
}

static int same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	while (n--)
		if (*a++ != *b++)
			return 0;
	return 1;
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static int ready;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t gpt_crc32(const void *data, size_t len)
{
	return crc32_update(0xffffffffu, data, len) ^ 0xffffffffu;
}

/* A header's CRC: HeaderSize bytes with the CRC field counted as zero. */
static uint32_t header_crc(const uint8_t *h, uint32_t size)
{
	static const uint8_t zero[4];
	uint32_t crc = crc32_update(0xffffffffu, h, GPT_HDR_CRC);

	crc = crc32_update(crc, zero, 4);
	return crc32_update(crc, h + GPT_HDR_CRC + 4, size - GPT_HDR_CRC - 4) ^ 0xffffffffu;
}

/* ---- reading ------------------------------------------------------------- */

static uint64_t sectors_for(const struct gpt *g, uint64_t bytes)
{
	return (bytes + g->sector - 1) / g->sector;
}

static uint64_t capacity(const struct gpt_rules *rules, uint32_t sector)
{
	return ((uint64_t)rules->max_entries_bytes + sector - 1) / sector * sector;
}

size_t gpt_buffer_size(const struct gpt_rules *rules, uint32_t sector)
{
	return (size_t)(2 * (sector + capacity(rules, sector)));
}

void gpt_setup(struct gpt *g, const struct gpt_rules *rules, const struct gpt_io *io,
	       uint32_t sector, uint64_t sectors, void *buffer)
{
	uint8_t *b = buffer;
	size_t cap = (size_t)capacity(rules, sector);

	zero_bytes((uint8_t *)g, sizeof(*g));
	g->rules = *rules;
	g->io = *io;
	g->sector = sector;
	g->sectors = sectors;
	g->primary.header = b;
	g->primary.entries = b + sector;
	g->backup.header = b + sector + cap;
	g->backup.entries = b + 2 * sector + cap;
}

static int fail(struct gpt_copy *c, enum gpt_problem p, uint64_t found, uint64_t expected)
{
	c->problem = p;
	c->found = found;
	c->expected = expected;
	return 0;
}

static int covers(uint64_t start, uint64_t count, uint64_t lba)
{
	return lba >= start && lba - start < count;
}

/* Reads the header at lba and its entry array into c and checks them. */
static int load(struct gpt *g, struct gpt_copy *c, uint64_t lba)
{
	const unsigned checks = g->rules.checks;
	uint8_t *h = c->header;
	uint32_t size, stored, computed, count, esize;
	uint64_t alt, first, last, elba, n, err;

	c->valid = 0;
	c->lba = lba;
	fail(c, GPT_OK, 0, 0);
	if (lba < 1 || lba >= g->sectors)
		return fail(c, GPT_HEADER_OFF_DISK, lba, g->sectors);
	err = g->io.read(g->io.ctx, lba * g->sector, h, g->sector);
	if (err)
		return fail(c, GPT_HEADER_UNREADABLE, err, 0);
	if (!same_bytes(h + GPT_HDR_SIGNATURE, (const uint8_t *)"EFI PART", 8))
		return fail(c, GPT_NO_SIGNATURE, lba, 0);
	if ((checks & GPT_CHECK_REVISION) && get32(h + GPT_HDR_REVISION) != GPT_REVISION_1_0)
		return fail(c, GPT_BAD_REVISION, get32(h + GPT_HDR_REVISION), GPT_REVISION_1_0);
	size = get32(h + GPT_HDR_SIZE);
	if (size < GPT_HEADER_MIN || size > g->sector)
		return fail(c, GPT_BAD_HEADER_SIZE, size, 0);
	stored = get32(h + GPT_HDR_CRC);
	computed = header_crc(h, size);
	if (stored != computed)
		return fail(c, GPT_HEADER_CRC_MISMATCH, stored, computed);
	if (get64(h + GPT_HDR_MY_LBA) != lba)
		return fail(c, GPT_WRONG_MY_LBA, get64(h + GPT_HDR_MY_LBA), lba);
	alt = get64(h + GPT_HDR_ALTERNATE_LBA);
	if (checks & GPT_CHECK_ALTERNATE) {
		if (lba != 1 && alt != 1)
			return fail(c, GPT_WRONG_ALTERNATE, alt, 1);
		if (alt == lba || alt < 1 || alt >= g->sectors)
			return fail(c, GPT_BAD_ALTERNATE, alt, 0);
	}
	count = get32(h + GPT_HDR_ENTRY_COUNT);
	esize = get32(h + GPT_HDR_ENTRY_SIZE);
	if (esize < GPT_ENTRY_MIN || esize % 8 != 0 ||
	    ((checks & GPT_CHECK_ENTRY_SIZE_POW2) && (esize & (esize - 1)) != 0) ||
	    (g->rules.max_entry_size && esize > g->rules.max_entry_size))
		return fail(c, GPT_BAD_ENTRY_SIZE, esize, 0);
	if (count == 0 || (uint64_t)count * esize > g->rules.max_entries_bytes)
		return fail(c, GPT_BAD_ENTRY_COUNT, count, 0);
	n = sectors_for(g, (uint64_t)count * esize);
	first = get64(h + GPT_HDR_FIRST_USABLE);
	last = get64(h + GPT_HDR_LAST_USABLE);
	if ((checks & GPT_CHECK_USABLE) && (first > last || first < 2 || last >= g->sectors))
		return fail(c, GPT_BAD_USABLE_RANGE, first, last);
	elba = get64(h + GPT_HDR_ENTRIES_LBA);
	if (elba < 1 || elba >= g->sectors || n > g->sectors - elba || covers(elba, n, lba) ||
	    ((checks & GPT_CHECK_ALTERNATE) && covers(elba, n, alt)))
		return fail(c, GPT_BAD_ENTRIES_LOCATION, elba, n);
	if ((checks & GPT_CHECK_USABLE) &&
	    (lba == 1 ? elba < 2 || elba + n > first : elba <= last || elba + n > lba))
		return fail(c, GPT_BAD_ENTRIES_LOCATION, elba, n);
	err = g->io.read(g->io.ctx, elba * g->sector, c->entries, (size_t)(n * g->sector));
	if (err)
		return fail(c, GPT_ENTRIES_UNREADABLE, err, 0);
	stored = get32(h + GPT_HDR_ENTRIES_CRC);
	computed = gpt_crc32(c->entries, (size_t)count * esize);
	if (stored != computed)
		return fail(c, GPT_ENTRIES_CRC_MISMATCH, stored, computed);
	c->valid = 1;
	return 1;
}

static int same_field(const struct gpt_copy *a, const struct gpt_copy *b, unsigned offset,
		      size_t len)
{
	return same_bytes(a->header + offset, b->header + offset, len);
}

/* Both copies valid: do they describe the same table? */
static enum gpt_problem agreement(const struct gpt *g)
{
	const struct gpt_copy *p = &g->primary, *b = &g->backup;
	uint64_t pe = get64(p->header + GPT_HDR_ENTRIES_LBA), be = get64(b->header + GPT_HDR_ENTRIES_LBA);
	uint64_t bytes = (uint64_t)get32(p->header + GPT_HDR_ENTRY_COUNT) *
			 get32(p->header + GPT_HDR_ENTRY_SIZE);
	uint64_t n = sectors_for(g, bytes);

	if (!same_field(p, b, GPT_HDR_DISK_GUID, 16) || !same_field(p, b, GPT_HDR_FIRST_USABLE, 16) ||
	    !same_field(p, b, GPT_HDR_ENTRY_COUNT, 8) || !same_field(p, b, GPT_HDR_SIZE, 4))
		return GPT_HEADERS_DISAGREE;
	if (pe < be + n && be < pe + n)
		return GPT_ARRAYS_OVERLAP;
	if (!same_bytes(p->entries, b->entries, (size_t)bytes))
		return GPT_ARRAYS_DIFFER;
	return GPT_OK;
}

static int same_shape(const struct gpt_copy *a, const struct gpt_copy *b)
{
	return same_field(a, b, GPT_HDR_ENTRY_COUNT, 4) && same_field(a, b, GPT_HDR_ENTRY_SIZE, 4);
}

enum gpt_problem gpt_read(struct gpt *g)
{
	struct gpt_copy *p = &g->primary, *b = &g->backup;
	uint64_t last = g->sectors - 1, alt;

	g->use = NULL;
	b->valid = 0;
	fail(b, GPT_OK, 0, 0);
	load(g, p, 1);
	if (g->rules.checks & GPT_REQUIRE_BOTH) {
		if (!p->valid)
			return g->problem = p->problem;
		if (!load(g, b, get64(p->header + GPT_HDR_ALTERNATE_LBA)))
			return g->problem = b->problem;
		g->problem = agreement(g);
		if (g->problem == GPT_OK)
			g->use = p;
		return g->problem;
	}

	/* A disk that grew since the table was written still has its backup
	 * where the primary says, not at its last LBA. */
	alt = last;
	if (p->valid && get64(p->header + GPT_HDR_ALTERNATE_LBA) < g->sectors)
		alt = get64(p->header + GPT_HDR_ALTERNATE_LBA);
	if (!load(g, b, alt) && alt != last) {
		/* if the last LBA holds nothing either, say what was wrong where
		 * the backup should have been */
		enum gpt_problem problem = b->problem;
		uint64_t found = b->found, expected = b->expected;
		if (!load(g, b, last)) {
			b->lba = alt;
			fail(b, problem, found, expected);
		}
	}
	if ((g->rules.checks & GPT_CHECK_SAME_SHAPE) && p->valid && b->valid && !same_shape(p, b)) {
		b->valid = 0;
		fail(b, GPT_SHAPE_DIFFERS, 0, 0);
	}
	g->use = p->valid ? p : b->valid ? b : NULL;
	return g->problem = g->use ? GPT_OK : GPT_NO_VALID_COPY;
}

uint32_t gpt_entry_count(const struct gpt *g) { return get32(g->use->header + GPT_HDR_ENTRY_COUNT); }

uint32_t gpt_entry_size(const struct gpt *g) { return get32(g->use->header + GPT_HDR_ENTRY_SIZE); }

uint64_t gpt_entries_sectors(const struct gpt *g)
{
	return sectors_for(g, (uint64_t)gpt_entry_count(g) * gpt_entry_size(g));
}

uint8_t *gpt_entry(const struct gpt *g, uint32_t i)
{
	return g->use->entries + (size_t)i * gpt_entry_size(g);
}

uint64_t gpt_backup_lba(const struct gpt *g)
{
	return g->backup.valid ? g->backup.lba : get64(g->use->header + GPT_HDR_ALTERNATE_LBA);
}

/* ---- writing ------------------------------------------------------------- */

/* Fills c's header for its place: kept copies keep their own bytes but for
 * the table fields, the others start from the trusted header. */
static void place(struct gpt *g, struct gpt_copy *c, int keep, uint64_t lba, uint64_t alt,
		  uint64_t elba)
{
	const struct gpt_copy *t = g->use;
	uint32_t size = get32(t->header + GPT_HDR_SIZE);
	size_t bytes = (size_t)gpt_entry_count(g) * gpt_entry_size(g);
	size_t region = (size_t)(gpt_entries_sectors(g) * g->sector);

	if (c != t) {
		if (keep) {
			copy_bytes(c->header + GPT_HDR_FIRST_USABLE, t->header + GPT_HDR_FIRST_USABLE, 16);
			copy_bytes(c->header + GPT_HDR_DISK_GUID, t->header + GPT_HDR_DISK_GUID, 16);
		} else {
			copy_bytes(c->header, t->header, size);
		}
		copy_bytes(c->entries, t->entries, bytes);
	}
	if (!keep) {
		zero_bytes(c->header + size, g->sector - size);
		zero_bytes(c->entries + bytes, region - bytes);
	}
	size = get32(c->header + GPT_HDR_SIZE);
	put64(c->header + GPT_HDR_MY_LBA, lba);
	put64(c->header + GPT_HDR_ALTERNATE_LBA, alt);
	put64(c->header + GPT_HDR_ENTRIES_LBA, elba);
	put32(c->header + GPT_HDR_ENTRIES_CRC, gpt_crc32(c->entries, bytes));
	put32(c->header + GPT_HDR_CRC, header_crc(c->header, size));
}

static int keeps_place(const struct gpt *g, const struct gpt_copy *c, uint64_t lba)
{
	return c->valid && c->lba == lba && same_shape(c, g->use);
}

/* The caller moved the usable range away from what c was checked against. */
static int usable_moved(const struct gpt *g, const struct gpt_copy *c)
{
	return !same_field(c, g->use, GPT_HDR_FIRST_USABLE, 16);
}

enum gpt_problem gpt_prepare(struct gpt *g, uint64_t backup_lba)
{
	struct gpt_copy *p = &g->primary, *b = &g->backup;
	const uint8_t *th = g->use->header;
	uint64_t n = gpt_entries_sectors(g);
	uint64_t first = get64(th + GPT_HDR_FIRST_USABLE), last = get64(th + GPT_HDR_LAST_USABLE);
	int keep_p = keeps_place(g, p, 1), keep_b = keeps_place(g, b, backup_lba);
	uint64_t pe = keep_p ? get64(p->header + GPT_HDR_ENTRIES_LBA) : 2;
	uint64_t be = keep_b ? get64(b->header + GPT_HDR_ENTRIES_LBA) : backup_lba - n;

	if ((!keep_p || usable_moved(g, p)) && pe + n > first)
		return GPT_LAYOUT_INVALID;
	if ((!keep_b || usable_moved(g, b)) &&
	    (backup_lba >= g->sectors || backup_lba <= n || be <= last || be + n > backup_lba))
		return GPT_LAYOUT_INVALID;
	place(g, b, keep_b, backup_lba, 1, be);
	place(g, p, keep_p, 1, backup_lba, pe);
	return GPT_OK;
}

static enum gpt_problem write_copy(struct gpt *g, const struct gpt_copy *c)
{
	const uint8_t *h = c->header;
	size_t region = (size_t)(gpt_entries_sectors(g) * g->sector);
	uint64_t err;

	/* Entries first, then the header whose CRC covers them. */
	err = g->io.write(g->io.ctx, get64(h + GPT_HDR_ENTRIES_LBA) * g->sector, c->entries, region);
	if (!err)
		err = g->io.write(g->io.ctx, get64(h + GPT_HDR_MY_LBA) * g->sector, h, g->sector);
	if (err) {
		g->failed = c;
		g->error = err;
		return GPT_WRITE_FAILED;
	}
	err = g->io.flush ? g->io.flush(g->io.ctx) : 0;
	if (err) {
		g->failed = c;
		g->error = err;
		return GPT_FLUSH_FAILED;
	}
	return GPT_OK;
}

enum gpt_problem gpt_write(struct gpt *g)
{
	enum gpt_problem p = write_copy(g, &g->backup);

	return p != GPT_OK ? p : write_copy(g, &g->primary);
}

/* ---- entries and GUIDs --------------------------------------------------- */

int gpt_entry_used(const uint8_t *e)
{
	for (int i = 0; i < 16; i++)
		if (e[GPT_ENT_TYPE + i])
			return 1;
	return 0;
}

void gpt_entry_name(const uint8_t *e, char *buf, size_t size)
{
	size_t o = 0;

	for (int i = 0; i < GPT_ENT_NAME_UNITS; i++) {
		unsigned u = get16(e + GPT_ENT_NAME + 2 * i);
		if (u == 0)
			break;
		if (u < 0x80) {
			if (o + 1 >= size)
				break;
			buf[o++] = (char)u;
		} else if (u < 0x800) {
			if (o + 2 >= size)
				break;
			buf[o++] = (char)(0xc0 | u >> 6);
			buf[o++] = (char)(0x80 | (u & 0x3f));
		} else {
			if (o + 3 >= size)
				break;
			buf[o++] = (char)(0xe0 | u >> 12);
			buf[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
			buf[o++] = (char)(0x80 | (u & 0x3f));
		}
	}
	buf[o] = '\0';
}

/* Text byte i of a GUID is stored at on-disk position guid_order[i]. */
static const uint8_t guid_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

static int is_dash(int i) { return i == 8 || i == 13 || i == 18 || i == 23; }

void gpt_guid_format(const uint8_t guid[16], char out[GPT_GUID_TEXT + 1])
{
	static const char hex[] = "0123456789abcdef";
	int o = 0;

	for (int i = 0; i < 16; i++) {
		if (is_dash(o))
			out[o++] = '-';
		out[o++] = hex[guid[guid_order[i]] >> 4];
		out[o++] = hex[guid[guid_order[i]] & 0xf];
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int gpt_guid_parse(const char *s, uint8_t out[16])
{
	int k = 0;

	for (int i = 0; i < GPT_GUID_TEXT; i++) {
		if (s[i] == '\0')
			return -1;
		if (is_dash(i)) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		int hi = hexval(s[i]), lo = s[i + 1] ? hexval(s[i + 1]) : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[guid_order[k++]] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[GPT_GUID_TEXT] == '\0' ? 0 : -1;
}

/* ---- gptprio ------------------------------------------------------------- */

int gpt_is_usr(const uint8_t *e) { return same_bytes(e + GPT_ENT_TYPE, gpt_usr_type, 16); }

struct gpt_prio gpt_prio_get(const uint8_t *e)
{
	uint64_t a = get64(e + GPT_ENT_ATTRS);
	struct gpt_prio p;

	p.priority = (unsigned)(a >> GPT_PRIORITY_SHIFT) & 0xfu;
	p.tries = (unsigned)(a >> GPT_TRIES_SHIFT) & 0xfu;
	p.successful = (unsigned)(a >> GPT_SUCCESSFUL_SHIFT) & 0x1u;
	return p;
}

void gpt_prio_put(uint8_t *e, struct gpt_prio p)
{
	uint64_t a = get64(e + GPT_ENT_ATTRS);

	a &= ~((uint64_t)0xf << GPT_PRIORITY_SHIFT | (uint64_t)0xf << GPT_TRIES_SHIFT |
	       (uint64_t)0x1 << GPT_SUCCESSFUL_SHIFT);
	a |= (uint64_t)(p.priority & 0xfu) << GPT_PRIORITY_SHIFT |
	     (uint64_t)(p.tries & 0xfu) << GPT_TRIES_SHIFT |
	     (uint64_t)(p.successful & 0x1u) << GPT_SUCCESSFUL_SHIFT;
	put64(e + GPT_ENT_ATTRS, a);
}

int gpt_next_slot(const uint8_t *entries, uint32_t count, uint32_t entry_size)
{
	unsigned best_priority = 0;
	int best = -1;

	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = entries + (size_t)i * entry_size;
		struct gpt_prio p;
		if (!gpt_is_usr(e))
			continue;
		p = gpt_prio_get(e);
		if ((p.tries > 0 || p.successful) && p.priority > best_priority) {
			best_priority = p.priority;
			best = (int)i;
		}
	}
	return best;
}

int gpt_use_try(uint8_t *e)
{
	struct gpt_prio p = gpt_prio_get(e);

	if (p.tries == 0)
		return 0;
	p.tries--;
	gpt_prio_put(e, p);
	return 1;
}
