/*
 * coreos-init-helper verity-open NAME DEVICE ROOTHASH [--hash-offset BYTES] [--verify-all]
 *
 * DEVICE holds a file system image (normally squashfs) followed by the
 * dm-verity hash area that `veritysetup format --hash-offset=<H>` wrote,
 * superblock included:
 *
 *   0 .. bytes_used           squashfs
 *   .. H                      zero padding to a 4 KiB boundary
 *   H .. H+512                verity superblock ("verity\0\0", version 1)
 *   H + hash_block_size ..    the hash tree, top level first
 *
 * H is squashfs bytes_used rounded up to 4096 unless --hash-offset says
 * otherwise.  The superblock is checked field by field, then a read-only
 * device-mapper device NAME with one "verity" target is created through
 * /dev/mapper/control, and /dev/mapper/NAME is made.  Before the device is
 * trusted, its first block, the squashfs metadata (inode, directory,
 * fragment and id tables at the end of the image) and its last block are
 * read through it: a wrong root hash or corrupted data makes those reads
 * fail with EIO, and then the device is removed again and the exit status
 * is 1.  Corruption elsewhere in file data makes later reads of that data
 * fail with EIO (the target runs in its default mode, not restart/panic).
 * With --verify-all every data block is read before the device is trusted:
 * the initramfs asks for that when the slot is on trial, so that a /usr
 * with damage anywhere is refused before anything runs from it.
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define VERITY_SB_SIZE 512
#define SQUASHFS_SB_SIZE 96

struct verity_sb {
	uint32_t version, hash_type;
	uint8_t uuid[16];
	char algorithm[33];
	uint32_t data_block_size, hash_block_size;
	uint64_t data_blocks;
	uint16_t salt_size;
	uint8_t salt[256];
};

static const struct {
	const char *name;
	unsigned digest;
} algorithms[] = {{"sha256", 32}, {"sha512", 64}, {"sha1", 20}};

static int pow2_between(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* Number of hash blocks the tree over data_blocks needs (all levels). */
static uint64_t tree_blocks(uint64_t data_blocks, uint32_t hash_block_size, unsigned digest)
{
	/* dm-verity packs a power-of-two number of digests per hash block */
	uint64_t per = 1, total = 0, n = data_blocks;

	while (per * 2 <= hash_block_size / digest)
		per *= 2;
	do {
		n = (n + per - 1) / per;
		total += n;
	} while (n > 1);
	return total;
}

static int parse_sb(const uint8_t *b, struct verity_sb *sb, unsigned *digest, char *why, size_t wl)
{
	if (memcmp(b, "verity\0\0", 8) != 0) {
		snprintf(why, wl, "no verity superblock (signature \"verity\") at the hash offset");
		return -1;
	}
	sb->version = get32(b + 8);
	sb->hash_type = get32(b + 12);
	memcpy(sb->uuid, b + 16, 16);
	memcpy(sb->algorithm, b + 32, 32);
	sb->algorithm[32] = '\0';
	sb->data_block_size = get32(b + 64);
	sb->hash_block_size = get32(b + 68);
	sb->data_blocks = get64(b + 72);
	sb->salt_size = get16(b + 80);
	if (sb->version != 1) {
		snprintf(why, wl, "unsupported verity superblock version %u", sb->version);
		return -1;
	}
	if (sb->hash_type > 1) {
		snprintf(why, wl, "unsupported verity hash type %u", sb->hash_type);
		return -1;
	}
	*digest = 0;
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (strcmp(sb->algorithm, algorithms[i].name) == 0)
			*digest = algorithms[i].digest;
	if (*digest == 0) {
		snprintf(why, wl, "unsupported verity hash algorithm '%.32s'", sb->algorithm);
		return -1;
	}
	if (!pow2_between(sb->data_block_size, 512, 4096) ||
	    !pow2_between(sb->hash_block_size, 512, 4096)) {
		snprintf(why, wl, "bad verity block sizes (data %u, hash %u)", sb->data_block_size,
			 sb->hash_block_size);
		return -1;
	}
	if (sb->data_blocks == 0 || sb->data_blocks > (UINT64_MAX >> 13)) {
		snprintf(why, wl, "bad verity data block count %llu",
			 (unsigned long long)sb->data_blocks);
		return -1;
	}
	if (sb->salt_size > 256) {
		snprintf(why, wl, "bad verity salt size %u", sb->salt_size);
		return -1;
	}
	memcpy(sb->salt, b + 88, sb->salt_size);
	for (int i = 82; i < 88; i++)
		if (b[i]) {
			snprintf(why, wl, "verity superblock padding is not zero");
			return -1;
		}
	return 0;
}

/* ---- device mapper ---------------------------------------------------- */

static void dm_init(struct dm_ioctl *io, size_t size, const char *name)
{
	memset(io, 0, size);
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = (uint32_t)size;
	io->data_start = sizeof(struct dm_ioctl);
	snprintf(io->name, sizeof(io->name), "%s", name);
}

static int dm_control(void)
{
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		/* no devtmpfs node (yet): make it from sysfs */
		char text[32];
		unsigned ma, mi;
		if (read_text("/sys/class/misc/device-mapper/dev", text, sizeof(text)) == 0 &&
		    sscanf(text, "%u:%u", &ma, &mi) == 2) {
			mkdir("/dev/mapper", 0755);
			mknod("/dev/mapper/control", S_IFCHR | 0600, makedev(ma, mi));
			fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
		} else {
			errno = ENOENT;
		}
	}
	if (fd < 0)
		msg("cannot open /dev/mapper/control: %s (is dm_mod loaded?)", strerror(errno));
	return fd;
}

static int dm_simple(int ctl, unsigned long req, const char *name, uint32_t flags, const char *uuid,
		     uint64_t *dev_out)
{
	union {
		struct dm_ioctl io;
		uint8_t raw[sizeof(struct dm_ioctl) + 1024];
	} u;

	dm_init(&u.io, sizeof(u), name);
	u.io.flags = flags;
	if (uuid)
		snprintf(u.io.uuid, sizeof(u.io.uuid), "%s", uuid);
	if (ioctl(ctl, req, &u) < 0)
		return -1;
	if (dev_out)
		*dev_out = u.io.dev;
	return 0;
}

static int dm_load_table(int ctl, const char *name, uint64_t sectors, const char *params)
{
	size_t spec_off = (sizeof(struct dm_ioctl) + 7) & ~(size_t)7;
	size_t plen = (strlen(params) + 1 + 7) & ~(size_t)7;
	size_t size = spec_off + sizeof(struct dm_target_spec) + plen;
	uint8_t *buf = calloc(1, size);
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	struct dm_target_spec *spec = (struct dm_target_spec *)(buf + spec_off);
	int rc;

	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	dm_init(io, size, name);
	io->data_start = (uint32_t)spec_off;
	io->target_count = 1;
	io->flags = DM_READONLY_FLAG;
	spec->sector_start = 0;
	spec->length = sectors;
	spec->next = (uint32_t)(size - spec_off);
	snprintf(spec->target_type, sizeof(spec->target_type), "verity");
	strcpy((char *)(spec + 1), params);
	rc = ioctl(ctl, DM_TABLE_LOAD, buf);
	free(buf);
	return rc;
}

/* ---- the command ---------------------------------------------------------- */

/* Reads [off, off+len) of fd in chunks; 0, or -1 with *bad = failing offset. */
static int read_range(int fd, uint64_t off, uint64_t len, uint64_t *bad)
{
	static uint8_t buf[128 * 1024];

	while (len > 0) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : (size_t)len;
		if (read_at(fd, buf, n, off) < 0) {
			*bad = off;
			return -1;
		}
		off += n;
		len -= n;
	}
	return 0;
}

static void usage(void)
{
	msg("usage: %s verity-open NAME DEVICE ROOTHASH [--hash-offset BYTES] [--verify-all]", PROG);
}

int cmd_verity_open(int argc, char **argv)
{
	const char *pos[3];
	int npos = 0, have_offset = 0, verify_all = 0;
	uint64_t hash_offset = 0;
	const char *name, *device, *hash_arg;
	char roothash[129], salt_hex[513], why[256], params[1024], uuid[DM_UUID_LEN], node[300];
	uint8_t sqsb[SQUASHFS_SB_SIZE], vb[VERITY_SB_SIZE];
	struct verity_sb sb;
	unsigned digest;
	int fd = -1, ctl = -1, dfd = -1, created = 0, rc = EXIT_FAIL, squashfs = 0;
	uint64_t devbytes, bytes_used = 0, inode_table = 0, dm_dev = 0;
	uint64_t data_bytes, hash_start, tree, sectors, bad = 0;
	struct stat st;
	uint32_t sector;

	for (int i = 1; i < argc; i++) {
		char *end;
		const char *v = NULL;
		if (strcmp(argv[i], "--verify-all") == 0) {
			verify_all = 1;
			continue;
		}
		if (strcmp(argv[i], "--hash-offset") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--hash-offset=", 14) == 0)
			v = argv[i] + 14;
		else if (argv[i][0] == '-' && argv[i][1] == '-') {
			usage();
			return EXIT_USAGE;
		} else if (npos < 3) {
			pos[npos++] = argv[i];
			continue;
		} else {
			usage();
			return EXIT_USAGE;
		}
		errno = 0;
		hash_offset = strtoull(v, &end, 0);
		if (errno || *end || end == v || hash_offset % 512) {
			msg("--hash-offset: '%s' is not a byte offset that is a multiple of 512", v);
			return EXIT_USAGE;
		}
		have_offset = 1;
	}
	if (npos != 3) {
		usage();
		return EXIT_USAGE;
	}
	name = pos[0];
	device = pos[1];
	hash_arg = pos[2];
	if (!*name || strlen(name) >= DM_NAME_LEN || strchr(name, '/')) {
		msg("bad device-mapper name '%s'", name);
		return EXIT_USAGE;
	}
	{
		size_t n = strlen(hash_arg);
		if (n < 40 || n > 128 || n % 2) {
			msg("root hash '%s' is not a hex digest", hash_arg);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i <= n; i++) {
			char c = hash_arg[i];
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (i < n && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
				msg("root hash '%s' is not a hex digest", hash_arg);
				return EXIT_USAGE;
			}
			roothash[i] = c;
		}
	}

	fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		msg("cannot open %s: %s", device, strerror(errno));
		goto out;
	}
	if (!S_ISBLK(st.st_mode)) {
		msg("%s is not a block device", device);
		goto out;
	}
	if (dev_geometry(fd, &sector, &devbytes) < 0) {
		msg("cannot get the size of %s: %s", device, strerror(errno));
		goto out;
	}
	if (read_at(fd, sqsb, sizeof(sqsb), 0) < 0) {
		msg("cannot read %s: %s", device, strerror(errno));
		goto out;
	}
	if (memcmp(sqsb, "hsqs", 4) == 0) {
		squashfs = 1;
		bytes_used = get64(sqsb + 40);
		inode_table = get64(sqsb + 64);
		if (get16(sqsb + 28) != 4 || bytes_used < SQUASHFS_SB_SIZE || bytes_used > devbytes ||
		    inode_table >= bytes_used) {
			msg("%s: bad squashfs superblock (version %u, bytes_used %llu, device %llu bytes)",
			    device, get16(sqsb + 28), (unsigned long long)bytes_used,
			    (unsigned long long)devbytes);
			goto out;
		}
		if (!have_offset)
			hash_offset = (bytes_used + 4095) & ~(uint64_t)4095;
	} else if (!have_offset) {
		msg("%s does not start with a squashfs superblock; give --hash-offset", device);
		goto out;
	}
	if (hash_offset + VERITY_SB_SIZE > devbytes) {
		msg("%s: hash offset %llu is beyond the end of the device (%llu bytes)", device,
		    (unsigned long long)hash_offset, (unsigned long long)devbytes);
		goto out;
	}
	if (read_at(fd, vb, sizeof(vb), hash_offset) < 0) {
		msg("cannot read %s at %llu: %s", device, (unsigned long long)hash_offset,
		    strerror(errno));
		goto out;
	}
	if (parse_sb(vb, &sb, &digest, why, sizeof(why)) < 0) {
		msg("%s: %s (hash offset %llu)", device, why, (unsigned long long)hash_offset);
		goto out;
	}
	if (strlen(roothash) != 2 * digest) {
		msg("root hash has %zu hex digits, %s needs %u", strlen(roothash), sb.algorithm,
		    2 * digest);
		goto out;
	}
	data_bytes = sb.data_blocks * sb.data_block_size;
	if (data_bytes > hash_offset) {
		msg("%s: verity data area (%llu blocks of %u) overlaps the hash area at %llu", device,
		    (unsigned long long)sb.data_blocks, sb.data_block_size,
		    (unsigned long long)hash_offset);
		goto out;
	}
	if (squashfs && data_bytes < bytes_used) {
		msg("%s: verity covers %llu bytes, but the squashfs is %llu bytes", device,
		    (unsigned long long)data_bytes, (unsigned long long)bytes_used);
		goto out;
	}
	if (data_bytes % sector) {
		msg("%s: verity data size %llu is not a multiple of the %u-byte sector", device,
		    (unsigned long long)data_bytes, sector);
		goto out;
	}
	/* as veritysetup: the tree starts at the first hash block after the
	 * superblock */
	hash_start = (hash_offset + VERITY_SB_SIZE + sb.hash_block_size - 1) / sb.hash_block_size;
	tree = tree_blocks(sb.data_blocks, sb.hash_block_size, digest);
	if ((hash_start + tree) * sb.hash_block_size > devbytes) {
		msg("%s: the hash tree (%llu blocks from block %llu) does not fit on the device", device,
		    (unsigned long long)tree, (unsigned long long)hash_start);
		goto out;
	}
	if (sb.salt_size == 0)
		strcpy(salt_hex, "-");
	for (unsigned i = 0; i < sb.salt_size; i++)
		snprintf(salt_hex + 2 * i, 3, "%02x", sb.salt[i]);
	sectors = data_bytes / 512;
	snprintf(params, sizeof(params), "%u %u:%u %u:%u %u %u %llu %llu %s %s %s", sb.hash_type,
		 major(st.st_rdev), minor(st.st_rdev), major(st.st_rdev), minor(st.st_rdev),
		 sb.data_block_size, sb.hash_block_size, (unsigned long long)sb.data_blocks,
		 (unsigned long long)hash_start, sb.algorithm, roothash, salt_hex);
	close(fd);
	fd = -1;

	/* the uuid libcryptsetup would give it, so veritysetup/udev know it */
	snprintf(uuid, sizeof(uuid), "CRYPT-VERITY-");
	for (int i = 0; i < 16; i++)
		snprintf(uuid + strlen(uuid), 3, "%02x", sb.uuid[i]);
	snprintf(uuid + strlen(uuid), sizeof(uuid) - strlen(uuid), "-%s", name);

	ctl = dm_control();
	if (ctl < 0)
		goto out;
	if (dm_simple(ctl, DM_DEV_CREATE, name, 0, uuid, &dm_dev) < 0) {
		msg("cannot create device-mapper device %s: %s", name,
		    errno == EBUSY ? "it exists already" : strerror(errno));
		goto out;
	}
	created = 1;
	if (dm_load_table(ctl, name, sectors, params) < 0) {
		msg("the kernel refused the verity table for %s (%s; see dmesg): %s", name,
		    strerror(errno), params);
		goto out;
	}
	if (dm_simple(ctl, DM_DEV_SUSPEND, name, 0, NULL, NULL) < 0) {
		msg("cannot activate %s: %s", name, strerror(errno));
		goto out;
	}

	snprintf(node, sizeof(node), "/dev/mapper/%s", name);
	if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    st.st_rdev != makedev(major(dm_dev), minor(dm_dev))) {
		mkdir("/dev/mapper", 0755);
		unlink(node);
		if (mknod(node, S_IFBLK | 0600, makedev(major(dm_dev), minor(dm_dev))) < 0) {
			msg("cannot create %s: %s", node, strerror(errno));
			goto out;
		}
	}

	dfd = open(node, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		msg("cannot open %s: %s", node, strerror(errno));
		goto out;
	}
	{
		/* block 0; then, for squashfs, everything from the inode table
		 * on (all metadata, ends with the last block); otherwise just the
		 * last block */
		uint64_t meta = squashfs ? inode_table & ~(uint64_t)(sb.data_block_size - 1)
					 : data_bytes - sb.data_block_size;
		uint64_t first = verify_all ? data_bytes : sb.data_block_size;
		if (verify_all)
			meta = data_bytes; /* the first range covers it all */
		if (read_range(dfd, 0, first, &bad) < 0 ||
		    read_range(dfd, meta, data_bytes - meta, &bad) < 0) {
			msg("%s on %s failed verification: reading data block %llu: %s "
			    "(wrong root hash or corrupted /usr); removed it",
			    node, device, (unsigned long long)(bad / sb.data_block_size),
			    strerror(errno));
			goto out;
		}
	}
	printf("%s: verity %s on %s, %llu data blocks%s, hash tree at block %llu\n", node,
	       sb.algorithm, device, (unsigned long long)sb.data_blocks,
	       verify_all ? " (all read and verified)" : "", (unsigned long long)hash_start);
	rc = EXIT_OK;
out:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	if (rc != EXIT_OK && created) {
		if (dm_simple(ctl, DM_DEV_REMOVE, name, 0, NULL, NULL) < 0)
			msg("cannot remove %s again: %s", name, strerror(errno));
		snprintf(node, sizeof(node), "/dev/mapper/%s", name);
		unlink(node);
	}
	if (ctl >= 0)
		close(ctl);
	return rc;
}
