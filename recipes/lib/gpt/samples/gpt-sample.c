/*
 * gpt-sample: reads a disk image with the GPT library and prints what it
 * found in the format of the golden samples' .expected files (sample.sh).
 *
 *   gpt-sample [--rules boot|init|gptprio] [--repair] IMG
 *
 * --rules reads with that program's rules (default boot); --repair writes
 * both copies from the trusted one first (as the programs do when they
 * write) and prints what reads back.  Exit status: 0 when a copy is usable,
 * 2 when none is, 1 on other errors, 64 on usage errors.
 */
#define _DEFAULT_SOURCE 1
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "gpt.h"

static const char *state(const struct gpt_copy *c)
{
	switch (c->problem) {
	case GPT_OK: return c->valid ? "ok" : "not-read";
	case GPT_HEADER_OFF_DISK: return "off-disk";
	case GPT_HEADER_UNREADABLE: return "header-unreadable";
	case GPT_NO_SIGNATURE: return "no-signature";
	case GPT_BAD_REVISION: return "revision";
	case GPT_BAD_HEADER_SIZE: return "header-size";
	case GPT_HEADER_CRC_MISMATCH: return "header-crc";
	case GPT_WRONG_MY_LBA: return "my-lba";
	case GPT_WRONG_ALTERNATE: case GPT_BAD_ALTERNATE: return "alternate";
	case GPT_BAD_ENTRY_SIZE: return "entry-size";
	case GPT_BAD_ENTRY_COUNT: return "entry-count";
	case GPT_BAD_USABLE_RANGE: return "usable-range";
	case GPT_BAD_ENTRIES_LOCATION: return "entries-location";
	case GPT_ENTRIES_UNREADABLE: return "entries-unreadable";
	case GPT_ENTRIES_CRC_MISMATCH: return "entries-crc";
	case GPT_SHAPE_DIFFERS: return "shape";
	default: return "invalid";
	}
}

static const char *guid_text(const uint8_t *g)
{
	static char text[GPT_GUID_TEXT + 1];

	gpt_guid_format(g, text);
	for (char *p = text; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	return text;
}

static void print(const struct gpt *g)
{
	int slot;

	printf("primary %s\nbackup %s\n", state(&g->primary), state(&g->backup));
	printf("use %s\n", !g->use ? "none" : g->use == &g->primary ? "primary" : "backup");
	if (!g->use)
		return;
	printf("disk %s\n", guid_text(g->use->header + GPT_HDR_DISK_GUID));
	for (uint32_t i = 0; i < gpt_entry_count(g); i++) {
		const uint8_t *e = gpt_entry(g, i);
		char name[4 * GPT_ENT_NAME_UNITS + 1];
		if (!gpt_entry_used(e))
			continue;
		printf("partition %u type=%s", i + 1, guid_text(e + GPT_ENT_TYPE));
		gpt_entry_name(e, name, sizeof(name));
		printf(" guid=%s first=%llu last=%llu attrs=0x%016llx name=%s\n", guid_text(e + GPT_ENT_UNIQUE),
		       (unsigned long long)get64(e + GPT_ENT_FIRST_LBA),
		       (unsigned long long)get64(e + GPT_ENT_LAST_LBA),
		       (unsigned long long)get64(e + GPT_ENT_ATTRS), name);
	}
	slot = gpt_next_slot(gpt_entry(g, 0), gpt_entry_count(g), gpt_entry_size(g));
	if (slot < 0)
		printf("slot none\n");
	else
		printf("slot %d\n", slot + 1);
}

static int read_disk(int *fd, const struct gpt_rules *rules, struct gpt *g, void **buffer)
{
	struct gpt_io io = gpt_fd_io(fd);
	off_t end = lseek(*fd, 0, SEEK_END);

	if (end < 0)
		return -1;
	free(*buffer);
	*buffer = malloc(gpt_buffer_size(rules, 512));
	if (!*buffer)
		return -1;
	gpt_setup(g, rules, &io, 512, (uint64_t)end / 512, *buffer);
	gpt_read(g);
	return 0;
}

int main(int argc, char **argv)
{
	const struct gpt_rules *rules = &gpt_rules_boot;
	int repair = 0, fd, i;
	void *buffer = NULL;
	struct gpt g;

	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "--repair") == 0)
			repair = 1;
		else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc - 1) {
			i++;
			if (strcmp(argv[i], "boot") == 0)
				rules = &gpt_rules_boot;
			else if (strcmp(argv[i], "init") == 0)
				rules = &gpt_rules_init;
			else if (strcmp(argv[i], "gptprio") == 0)
				rules = &gpt_rules_gptprio;
			else
				break;
		} else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: gpt-sample [--rules boot|init|gptprio] [--repair] IMG\n");
		return 64;
	}
	fd = open(argv[i], (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0 || read_disk(&fd, rules, &g, &buffer) < 0) {
		fprintf(stderr, "gpt-sample: %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	if (repair && g.use) {
		enum gpt_problem p = gpt_prepare(&g, gpt_backup_lba(&g));
		if (p == GPT_OK)
			p = gpt_write(&g);
		if (p != GPT_OK) {
			fprintf(stderr, "gpt-sample: %s: writing failed (problem %d, code %llu)\n", argv[i],
				(int)p, (unsigned long long)g.error);
			return 1;
		}
		if (read_disk(&fd, rules, &g, &buffer) < 0) {
			fprintf(stderr, "gpt-sample: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
	}
	print(&g);
	free(buffer);
	close(fd);
	return g.use ? 0 : 2;
}
