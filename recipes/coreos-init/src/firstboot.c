/*
 * coreos-init-helper first-boot DISK
 *
 * A freshly built image carries the placeholder disk GUID
 * 00000000-0000-0000-0000-000000000001.  While it does, this
 *   1. moves the backup GPT (entries + header) to the end of the disk if the
 *      disk is larger than the table says (an image written to a bigger
 *      disk, `qemu-img resize`), and raises the last usable LBA;
 *   2. grows the ROOT partition (type coreos-resize, else the name "ROOT")
 *      to the last usable LBA if it is the last partition;
 *   3. sets a random (RFC 4122 version 4) disk GUID;
 *   4. writes the backup copy, then the primary one (fsync after each, so a
 *      crash leaves at least one valid copy; the next boot sees the
 *      placeholder again in the old primary and starts over), and asks the
 *      kernel to re-read the table (BLKRRPART).
 * The file system on ROOT is grown later, online, by the booted system.
 *
 * With any other disk GUID it prints "not a first boot" and changes nothing,
 * except that a damaged copy of the GPT is rewritten from the intact one.
 * DISK may also be an image file (then there is no re-read).
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t placeholder[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const char resize_type[] = "3884dd41-8582-4404-b9a8-e9b84f2df50e";

static int random_bytes(uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ENOSYS)
				return -1;
			int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return -1;
			r = read(fd, p, n);
			close(fd);
			if (r <= 0)
				return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Keeps a protective MBR's 0xEE entry covering the whole (grown) disk. */
static void update_pmbr(int fd, uint64_t total_sectors)
{
	uint8_t mbr[512];
	uint32_t want = total_sectors - 1 > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)(total_sectors - 1);

	if (read_at(fd, mbr, sizeof(mbr), 0) < 0 || mbr[510] != 0x55 || mbr[511] != 0xAA)
		return;
	for (int i = 0; i < 4; i++) {
		uint8_t *p = mbr + 446 + 16 * i;
		if (p[4] == 0xEE && get32(p + 8) == 1 && get32(p + 12) != want) {
			put32(p + 12, want);
			if (write_at(fd, mbr, sizeof(mbr), 0) < 0)
				msg("cannot update the protective MBR: %s", strerror(errno));
			else
				printf("updated the protective MBR to cover %llu sectors\n",
				       (unsigned long long)want + 1);
			return;
		}
	}
}

/* Tells the kernel about the new table: BLKRRPART, or, while partitions are
 * in use, BLKPG for the one partition that grew. */
static void reread(int fd, const struct gpt *g, int grown)
{
	if (!is_blockdev(fd))
		return;
	if (ioctl(fd, BLKRRPART) == 0) {
		printf("re-read the partition table\n");
		return;
	}
	int e = errno;
	if (grown > 0) {
		const uint8_t *ent = gpt_entry(g, (uint32_t)(grown - 1));
		uint64_t first = get64(ent + GPT_ENT_FIRST_LBA), last = get64(ent + GPT_ENT_LAST_LBA);
		struct blkpg_partition part = {
			.start = (long long)(first * g->sector),
			.length = (long long)((last - first + 1) * g->sector),
			.pno = grown,
		};
		struct blkpg_ioctl_arg arg = {
			.op = BLKPG_RESIZE_PARTITION,
			.datalen = sizeof(part),
			.data = &part,
		};
		if (ioctl(fd, BLKPG, &arg) == 0) {
			printf("told the kernel partition %d grew (BLKRRPART: %s)\n", grown, strerror(e));
			return;
		}
	}
	msg("the kernel keeps the old partition table until reboot (BLKRRPART: %s)", strerror(e));
}

static int find_root_entry(const struct gpt *g)
{
	uint8_t type[16];
	int by_name = -1;

	gpt_guid_parse(resize_type, type);
	for (uint32_t i = 0; i < gpt_entry_count(g); i++) {
		const uint8_t *e = gpt_entry(g, i);
		char name[128];
		if (!gpt_entry_used(e))
			continue;
		if (memcmp(e, type, 16) == 0)
			return (int)i;
		gpt_entry_name(e, name, sizeof(name));
		if (by_name < 0 && strcmp(name, "ROOT") == 0)
			by_name = (int)i;
	}
	return by_name;
}

static int repair(struct disk_gpt *d)
{
	const struct gpt *g = &d->t;

	if (!g->primary.valid && g->backup.valid) {
		if (disk_gpt_write(d, g->backup.lba) < 0)
			return -1;
		printf("repaired the primary GPT from the backup copy (%s)\n", d->primary_why);
		return 1;
	}
	if (g->primary.valid && !g->backup.valid) {
		uint64_t alternate = get64(g->use->header + GPT_HDR_ALTERNATE_LBA);
		if (alternate >= g->sectors || alternate <= get64(g->use->header + GPT_HDR_LAST_USABLE)) {
			msg("the backup GPT is damaged (%s) and its place (LBA %llu) is not on the disk",
			    d->backup_why, (unsigned long long)alternate);
			return -1;
		}
		if (disk_gpt_write(d, alternate) < 0)
			return -1;
		printf("repaired the backup GPT from the primary copy (%s)\n", d->backup_why);
		return 1;
	}
	return 0;
}

int cmd_first_boot(int argc, char **argv)
{
	const char *disk;
	struct disk_gpt d;
	struct gpt *g = &d.t;
	struct stat st;
	char why[400], text[GPT_GUID_TEXT + 1];
	uint8_t *header, *guid;
	uint64_t last_lba, esect, last_usable, new_last_usable, alternate, old_backup;
	int fd, rc = EXIT_FAIL, root, grown = 0, flags = O_RDWR | O_CLOEXEC;

	if (argc != 2) {
		msg("usage: %s first-boot DISK", PROG);
		return EXIT_USAGE;
	}
	disk = argv[1];
	if (stat(disk, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL; /* fails while a partition is mounted */
	fd = open(disk, flags);
	if (fd < 0) {
		msg("cannot open %s: %s", disk, strerror(errno));
		return EXIT_FAIL;
	}
	if (disk_gpt_read(fd, &d, why, sizeof(why)) < 0) {
		msg("%s: %s", disk, why);
		close(fd);
		return EXIT_FAIL;
	}
	/* the trusted copy's header: what is changed here is written to both */
	header = g->use->header;
	guid = header + GPT_HDR_DISK_GUID;

	if (memcmp(guid, placeholder, 16) != 0) {
		int r;
		gpt_guid_format(guid, text);
		printf("not a first boot (disk GUID %s)\n", text);
		r = repair(&d);
		if (r > 0)
			reread(fd, g, 0);
		rc = r < 0 ? EXIT_FAIL : EXIT_OK;
		goto out;
	}

	/* 1. the backup copy goes to the end of the disk */
	last_lba = g->sectors - 1;
	esect = gpt_entries_sectors(g);
	alternate = get64(header + GPT_HDR_ALTERNATE_LBA);
	last_usable = get64(header + GPT_HDR_LAST_USABLE);
	old_backup = g->backup.valid ? g->backup.lba : alternate;
	if (g->use == &g->primary && alternate > last_lba) {
		msg("%s is smaller than its GPT says (backup header at LBA %llu, last LBA %llu)", disk,
		    (unsigned long long)alternate, (unsigned long long)last_lba);
		goto out;
	}
	new_last_usable = last_lba - esect - 1;
	if (new_last_usable > last_usable) {
		printf("moved the backup GPT to the end of the disk (LBA %llu); last usable LBA %llu -> %llu\n",
		       (unsigned long long)last_lba, (unsigned long long)last_usable,
		       (unsigned long long)new_last_usable);
		last_usable = new_last_usable;
		put64(header + GPT_HDR_LAST_USABLE, last_usable);
	}

	/* 2. ROOT grows to the end */
	root = find_root_entry(g);
	if (root < 0) {
		printf("no ROOT partition (type coreos-resize or name ROOT); not growing anything\n");
	} else {
		uint8_t *e = gpt_entry(g, (uint32_t)root);
		uint64_t first = get64(e + GPT_ENT_FIRST_LBA), end = get64(e + GPT_ENT_LAST_LBA);
		int is_last = 1;
		for (uint32_t i = 0; i < gpt_entry_count(g); i++) {
			const uint8_t *o = gpt_entry(g, i);
			if ((int)i != root && gpt_entry_used(o) && get64(o + GPT_ENT_LAST_LBA) > end)
				is_last = 0;
		}
		gpt_entry_name(e, why, sizeof(why));
		if (!is_last) {
			printf("partition %d (%s) is not the last one; not growing it\n", root + 1, why);
		} else if (end < last_usable && first <= end) {
			printf("grew partition %d (%s) from %llu to %llu sectors (+%llu MiB)\n", root + 1,
			       why, (unsigned long long)(end - first + 1),
			       (unsigned long long)(last_usable - first + 1),
			       (unsigned long long)((last_usable - end) * g->sector >> 20));
			put64(e + GPT_ENT_LAST_LBA, last_usable);
			grown = root + 1;
		}
	}

	/* 3. a random disk GUID */
	if (random_bytes(guid, 16) < 0) {
		msg("cannot get random bytes: %s", strerror(errno));
		goto out;
	}
	guid[7] = (uint8_t)((guid[7] & 0x0F) | 0x40); /* version 4 */
	guid[8] = (uint8_t)((guid[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	gpt_guid_format(guid, text);
	printf("set the disk GUID to %s\n", text);

	/* 4. write: backup, then primary */
	if (last_lba != old_backup)
		update_pmbr(fd, g->sectors);
	if (disk_gpt_write(&d, last_lba) < 0)
		goto out;
	if (old_backup != last_lba && old_backup > 1 && old_backup < g->sectors) {
		/* the old backup header now lies inside ROOT, past its file
		 * system: wipe it so nothing mistakes it for a table */
		uint8_t *zero = calloc(1, g->sector);
		uint8_t *h = malloc(g->sector);
		if (zero && h && read_at(fd, h, g->sector, old_backup * g->sector) == 0 &&
		    memcmp(h, "EFI PART", 8) == 0)
			if (write_at(fd, zero, g->sector, old_backup * g->sector) < 0 || fsync(fd) < 0)
				msg("cannot wipe the old backup header: %s", strerror(errno));
		free(zero);
		free(h);
	}

	/* check what is on the disk now */
	{
		struct disk_gpt check;
		if (disk_gpt_read(fd, &check, why, sizeof(why)) < 0 || !check.t.primary.valid ||
		    !check.t.backup.valid ||
		    memcmp(check.t.use->header + GPT_HDR_DISK_GUID, guid, 16) != 0) {
			msg("%s: the GPT does not read back correctly (primary: %s; backup: %s)", disk,
			    check.t.primary.valid ? "ok" : check.primary_why,
			    check.t.backup.valid ? "ok" : check.backup_why);
			disk_gpt_free(&check);
			goto out;
		}
		disk_gpt_free(&check);
	}
	reread(fd, g, grown);
	rc = EXIT_OK;
out:
	disk_gpt_free(&d);
	close(fd);
	return rc;
}
