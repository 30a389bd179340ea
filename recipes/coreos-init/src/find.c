/*
 * coreos-init-helper find SPEC
 *
 * Prints the /dev node of the block device SPEC names:
 *   PARTUUID=<guid>    GPT unique partition GUID (any case)
 *   PARTLABEL=<name>   GPT partition name
 *   LABEL=<label>      ext2/3/4 or FAT file system label
 *   UUID=<uuid>        ext2/3/4 UUID or FAT volume id (XXXX-XXXX)
 *   /dev/<node>        itself, if it is a block device
 *
 * It never waits: devices appear asynchronously during boot, so the init
 * calls it in a loop.  Exit 0 and the node on stdout when found, 1 when not.
 */
#include "helper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Devices that never hold the partitions we look for, or whose reads may
 * block (optical drives without media, unconnected nbd). */
static int skip_name(const char *n)
{
	static const char *const prefixes[] = {"loop", "ram", "zram", "dm-", "sr", "fd", "nbd", "md"};

	if (n[0] == '.')
		return 1;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(n, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static int is_block_node(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

/* The kernel's name of partition number partno of disk, whose table starts
 * at start512 (in 512-byte units); 0 when the kernel has not (yet) created
 * it with that start. */
static int partition_name(const char *disk, unsigned partno, uint64_t start512, char *out,
			  size_t outlen)
{
	char path[1024], text[64];
	struct dirent **list;
	int n, found = 0;

	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	n = scandir(path, &list, NULL, alphasort);
	if (n < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		if (!found && d[0] != '.') {
			snprintf(path, sizeof(path), "/sys/block/%s/%s/partition", disk, d);
			if (read_text(path, text, sizeof(text)) == 0 &&
			    strtoul(text, NULL, 10) == partno) {
				snprintf(path, sizeof(path), "/sys/block/%s/%s/start", disk, d);
				if (read_text(path, text, sizeof(text)) == 0 &&
				    strtoull(text, NULL, 10) == start512) {
					snprintf(out, outlen, "/dev/%s", d);
					found = 1;
				}
			}
		}
		free(list[i]);
	}
	free(list);
	return found;
}

enum gpt_key { BY_PARTUUID, BY_PARTLABEL };

static int find_gpt(enum gpt_key key, const char *value)
{
	uint8_t want[16];
	struct dirent **list;
	int n, rc = EXIT_FAIL, pending = 0;
	char node[300];

	if (key == BY_PARTUUID && gpt_guid_parse(value, want) < 0) {
		msg("PARTUUID=%s is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", value);
		return EXIT_USAGE;
	}
	n = scandir("/sys/block", &list, NULL, alphasort);
	if (n < 0) {
		msg("cannot list /sys/block: %s", strerror(errno));
		return EXIT_FAIL;
	}
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		char path[1024], why[400];
		struct disk_gpt g;
		int fd;

		if (rc == EXIT_OK || skip_name(d))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/size", d);
		if (read_text(path, why, sizeof(why)) < 0 || strcmp(why, "0") == 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", d);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (disk_gpt_read(fd, &g, why, sizeof(why)) == 0) {
			for (uint32_t k = 0; k < gpt_entry_count(&g.t) && rc != EXIT_OK; k++) {
				const uint8_t *e = gpt_entry(&g.t, k);
				char name[128];
				int match;

				if (!gpt_entry_used(e))
					continue;
				if (key == BY_PARTUUID) {
					match = memcmp(e + GPT_ENT_UNIQUE, want, 16) == 0;
				} else {
					gpt_entry_name(e, name, sizeof(name));
					match = strcmp(name, value) == 0;
				}
				if (!match)
					continue;
				if (partition_name(d, k + 1, get64(e + GPT_ENT_FIRST_LBA) * (g.t.sector / 512), node,
						   sizeof(node)) &&
				    is_block_node(node)) {
					printf("%s\n", node);
					rc = EXIT_OK;
				} else {
					pending = 1;
				}
			}
			disk_gpt_free(&g);
		}
		close(fd);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (rc != EXIT_OK)
		msg(pending ? "%s=%s is in a partition table, but its device node is not there (yet)"
			    : "no partition with %s=%s",
		    key == BY_PARTUUID ? "PARTUUID" : "PARTLABEL", value);
	return rc;
}

/* ---- file system labels --------------------------------------------------- */

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

/* Fills label and uuid of the file system on fd; 0 if it is ext or FAT. */
static int probe_fs(int fd, char *label, size_t llen, char *uuid, size_t ulen)
{
	uint8_t b[2048];
	const uint8_t *sb = b + 1024;

	if (read_at(fd, b, sizeof(b), 0) < 0)
		return -1;
	if (get16(sb + 56) == 0xEF53) {
		size_t n = strnlen((const char *)sb + 120, 16);
		snprintf(label, llen, "%.*s", (int)n, (const char *)sb + 120);
		const uint8_t *u = sb + 104;
		snprintf(uuid, ulen,
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
			 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
			 u[13], u[14], u[15]);
		return 0;
	}
	if (b[510] == 0x55 && b[511] == 0xAA) {
		int off_sig = -1;
		if (memcmp(b + 82, "FAT32   ", 8) == 0)
			off_sig = 66;
		else if (memcmp(b + 54, "FAT1", 4) == 0)
			off_sig = 38;
		if (off_sig >= 0 && (b[off_sig] == 0x29 || b[off_sig] == 0x28)) {
			uint32_t id = get32(b + off_sig + 1);
			snprintf(label, llen, "%.11s", (const char *)b + off_sig + 5);
			trim(label);
			if (strcmp(label, "NO NAME") == 0)
				label[0] = '\0';
			snprintf(uuid, ulen, "%04X-%04X", id >> 16, id & 0xFFFF);
			return 0;
		}
	}
	return -1;
}

static int find_fs(int by_uuid, const char *value)
{
	struct dirent **list;
	int n, matches = 0;
	char first[1024] = "";

	n = scandir("/sys/class/block", &list, NULL, alphasort);
	if (n < 0) {
		msg("cannot list /sys/class/block: %s", strerror(errno));
		return EXIT_FAIL;
	}
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		char path[1024], label[64], uuid[64], size[32];
		int fd;

		if (!skip_name(d)) {
			snprintf(path, sizeof(path), "/sys/class/block/%s/size", d);
			if (read_text(path, size, sizeof(size)) == 0 && strtoull(size, NULL, 10) >= 4) {
				snprintf(path, sizeof(path), "/dev/%s", d);
				fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
				if (fd >= 0) {
					if (probe_fs(fd, label, sizeof(label), uuid, sizeof(uuid)) == 0 &&
					    (by_uuid ? strcasecmp(uuid, value) == 0
						     : strcmp(label, value) == 0) &&
					    is_block_node(path)) {
						if (matches++ == 0)
							snprintf(first, sizeof(first), "%s", path);
					}
					close(fd);
				}
			}
		}
		free(list[i]);
	}
	free(list);
	if (matches == 0) {
		msg("no file system with %s=%s", by_uuid ? "UUID" : "LABEL", value);
		return EXIT_FAIL;
	}
	if (matches > 1)
		msg("%d file systems have %s=%s; using %s", matches, by_uuid ? "UUID" : "LABEL", value,
		    first);
	printf("%s\n", first);
	return EXIT_OK;
}

int cmd_find(int argc, char **argv)
{
	const char *spec;

	if (argc != 2) {
		msg("usage: %s find PARTUUID=<guid>|PARTLABEL=<name>|LABEL=<label>|UUID=<uuid>|/dev/<node>",
		    PROG);
		return EXIT_USAGE;
	}
	spec = argv[1];
	if (strncasecmp(spec, "PARTUUID=", 9) == 0)
		return find_gpt(BY_PARTUUID, spec + 9);
	if (strncmp(spec, "PARTLABEL=", 10) == 0)
		return find_gpt(BY_PARTLABEL, spec + 10);
	if (strncmp(spec, "LABEL=", 6) == 0)
		return find_fs(0, spec + 6);
	if (strncmp(spec, "UUID=", 5) == 0)
		return find_fs(1, spec + 5);
	if (strncmp(spec, "/dev/", 5) == 0) {
		if (is_block_node(spec)) {
			printf("%s\n", spec);
			return EXIT_OK;
		}
		msg("%s is not a block device (yet)", spec);
		return EXIT_FAIL;
	}
	msg("cannot understand device spec '%s' (want PARTUUID=, PARTLABEL=, LABEL=, UUID= or /dev/...)",
	    spec);
	return EXIT_USAGE;
}
