/*
 * coreos-boot: a small UEFI boot loader for CoreOS-style A/B /usr slots.
 *
 * It lives at \EFI\BOOT\BOOTX64.EFI on the ESP and does what CoreOS GRUB's
 * `gptprio.next` + grub.cfg did (spec: coreos-disk-and-boot.md 2.1, 3):
 *
 *   1. read the GPT of the disk it was loaded from (primary, else backup);
 *   2. pick the CoreOS usr partition (type 5DFBF5F4-2848-4BAC-AA5E-
 *      0D9A20B745A6) with (tries > 0 || successful) and the highest priority
 *      (> 0); ties go to the lowest-numbered entry;
 *   3. if it has tries left, use one up and write both GPT copies back;
 *   4. boot \coreos\vmlinuz-<a|b> (Linux EFI stub) with the command line
 *      "<\coreos\cmdline-<a|b>> initrd=\coreos\initrd-<a|b>
 *       verity.usr=PARTUUID=<unique GUID>".
 *
 * On an error after a try was used up for an unproven slot, the machine is
 * reset so that the next boot falls back to the other slot unattended.
 *
 * Attribute bits (cgpt): priority 48-51, tries 52-55, successful 56.
 */
#include <efi.h>
#include <efilib.h>
#include <efigpt.h>

#define PRIO_SHIFT 48
#define TRIES_SHIFT 52
#define SUCC_SHIFT 56

#define HEADER_MIN 92                  /* UEFI GPT header fields, unpadded */
#define MAX_ENTRY_BYTES (1024 * 1024) /* far above the usual 128 x 128 B */
#define CMDLINE_MAX 4096              /* bytes of \coreos\cmdline-<x> */
#define ERROR_DELAY_US (5 * 1000 * 1000)

#define MSG(fmt, ...) Print(L"coreos-boot: " fmt L"\n", ##__VA_ARGS__)
#define ERR(fmt, ...) MSG(L"error: " fmt, ##__VA_ARGS__)

static EFI_GUID usr_type = {
	0x5dfbf5f4, 0x2848, 0x4bac,
	{0xaa, 0x5e, 0x0d, 0x9a, 0x20, 0xb7, 0x45, 0xa6}};

/* One GPT copy: the whole header sector, validity, and its entry array. */
struct gpt_copy {
	UINT8 *hdr; /* BlockSize bytes */
	UINT8 *ents;
	BOOLEAN ok;
};

struct disk {
	EFI_BLOCK_IO *bio;
	EFI_DISK_IO *dio;
	UINT32 media, bs;
	EFI_LBA last;
	struct gpt_copy pri, bak;
	struct gpt_copy *good; /* the copy we trust (primary if it is valid) */
	UINTN ents_bytes;
};

#define HDR(c) ((EFI_PARTITION_TABLE_HEADER *)(c)->hdr)

static EFI_STATUS disk_io(struct disk *d, BOOLEAN write, EFI_LBA lba,
			  UINTN size, void *buf)
{
	UINT64 off = lba * d->bs;
	if (write)
		return d->dio->WriteDisk(d->dio, d->media, off, size, buf);
	return d->dio->ReadDisk(d->dio, d->media, off, size, buf);
}

static UINT32 crc32(const void *buf, UINTN size)
{
	UINT32 crc = 0;
	BS->CalculateCrc32((void *)buf, size, &crc);
	return crc;
}

static UINTN sectors(struct disk *d, UINTN bytes)
{
	return (bytes + d->bs - 1) / d->bs;
}

/* Header CRC: HeaderSize bytes with the CRC field counted as zero. */
static UINT32 header_crc(EFI_PARTITION_TABLE_HEADER *h)
{
	UINT32 saved = h->Header.CRC32, crc;
	h->Header.CRC32 = 0;
	crc = crc32(h, h->Header.HeaderSize);
	h->Header.CRC32 = saved;
	return crc;
}

/* Read the GPT header at `lba` and its entry array into `c`, and check
 * signature, size, location, header CRC and entry-array CRC. */
static BOOLEAN load_copy(struct disk *d, EFI_LBA lba, struct gpt_copy *c)
{
	EFI_PARTITION_TABLE_HEADER *h = HDR(c);
	UINT64 bytes, n;

	c->ok = FALSE;
	if (lba < 1 || lba > d->last ||
	    EFI_ERROR(disk_io(d, FALSE, lba, d->bs, h)))
		return FALSE;
	if (CompareMem(h, EFI_PTAB_HEADER_ID, 8) != 0 ||
	    h->Header.HeaderSize < HEADER_MIN || h->Header.HeaderSize > d->bs ||
	    h->Header.CRC32 != header_crc(h) || h->MyLBA != lba)
		return FALSE;
	bytes = (UINT64)h->NumberOfPartitionEntries * h->SizeOfPartitionEntry;
	if (h->SizeOfPartitionEntry < sizeof(EFI_PARTITION_ENTRY) ||
	    (h->SizeOfPartitionEntry & (h->SizeOfPartitionEntry - 1)) != 0 ||
	    bytes == 0 ||
	    bytes > MAX_ENTRY_BYTES)
		return FALSE;
	n = sectors(d, bytes);
	/* The array must be on the disk and must not cover the header. */
	if (h->PartitionEntryLBA < 1 || h->PartitionEntryLBA > d->last ||
	    n > d->last - h->PartitionEntryLBA + 1 ||
	    (lba >= h->PartitionEntryLBA && lba < h->PartitionEntryLBA + n))
		return FALSE;
	if (EFI_ERROR(disk_io(d, FALSE, h->PartitionEntryLBA, bytes, c->ents)) ||
	    crc32(c->ents, bytes) != h->PartitionEntryArrayCRC32)
		return FALSE;
	c->ok = TRUE;
	return TRUE;
}

/* The whole disk behind the ESP: the Block I/O handle whose device path is
 * the ESP's path without its final HardDrive (partition) node. */
static EFI_STATUS open_disk(EFI_HANDLE esp, struct disk *d)
{
	EFI_DEVICE_PATH *esp_dp = DevicePathFromHandle(esp), *n, *last = NULL;
	EFI_HANDLE *handles = NULL;
	UINTN count = 0, prefix, i;
	EFI_STATUS st;

	if (esp_dp == NULL)
		return EFI_NOT_FOUND;
	for (n = esp_dp; !IsDevicePathEnd(n); n = NextDevicePathNode(n))
		last = n;
	if (last == NULL || DevicePathType(last) != MEDIA_DEVICE_PATH ||
	    DevicePathSubType(last) != MEDIA_HARDDRIVE_DP)
		return EFI_UNSUPPORTED; /* not loaded from a disk partition */
	prefix = (UINT8 *)last - (UINT8 *)esp_dp;

	st = LibLocateHandle(ByProtocol, &BlockIoProtocol, NULL, &count,
			     &handles);
	if (EFI_ERROR(st))
		return st;
	st = EFI_NOT_FOUND;
	for (i = 0; i < count; i++) {
		EFI_DEVICE_PATH *dp = DevicePathFromHandle(handles[i]);
		EFI_BLOCK_IO *bio;

		if (dp == NULL || DevicePathSize(dp) != prefix + END_DEVICE_PATH_LENGTH ||
		    CompareMem(dp, esp_dp, prefix) != 0)
			continue;
		if (EFI_ERROR(BS->HandleProtocol(handles[i], &BlockIoProtocol,
						 (void **)&bio)) ||
		    bio->Media->LogicalPartition)
			continue;
		st = BS->HandleProtocol(handles[i], &DiskIoProtocol,
					(void **)&d->dio);
		if (EFI_ERROR(st))
			break;
		d->bio = bio;
		d->media = bio->Media->MediaId;
		d->bs = bio->Media->BlockSize;
		d->last = bio->Media->LastBlock;
		break;
	}
	FreePool(handles);
	return st;
}

/* Read both copies: the primary at LBA 1, the backup where a valid primary
 * says (else, or if nothing valid is there, at the last LBA).  The primary
 * is trusted if it is valid, as GRUB does; otherwise the backup. */
static EFI_STATUS read_gpt(struct disk *d)
{
	EFI_LBA alt;

	d->pri.hdr = AllocateZeroPool(d->bs);
	d->bak.hdr = AllocateZeroPool(d->bs);
	d->pri.ents = AllocatePool(MAX_ENTRY_BYTES);
	d->bak.ents = AllocatePool(MAX_ENTRY_BYTES);
	if (d->bs < 512 || !d->pri.hdr || !d->bak.hdr || !d->pri.ents ||
	    !d->bak.ents)
		return EFI_OUT_OF_RESOURCES;
	load_copy(d, 1, &d->pri);
	alt = d->pri.ok ? HDR(&d->pri)->AlternateLBA : d->last;
	if (!load_copy(d, alt, &d->bak) && alt != d->last)
		load_copy(d, d->last, &d->bak);
	/* A backup with another shape cannot take the primary's entries. */
	if (d->pri.ok && d->bak.ok &&
	    (HDR(&d->pri)->NumberOfPartitionEntries !=
		     HDR(&d->bak)->NumberOfPartitionEntries ||
	     HDR(&d->pri)->SizeOfPartitionEntry !=
		     HDR(&d->bak)->SizeOfPartitionEntry))
		d->bak.ok = FALSE;
	d->good = d->pri.ok ? &d->pri : d->bak.ok ? &d->bak : NULL;
	if (d->good == NULL)
		return EFI_VOLUME_CORRUPTED;
	if (!d->pri.ok)
		MSG(L"warning: primary GPT is damaged, using the backup");
	if (!d->bak.ok)
		MSG(L"warning: backup GPT is damaged");
	d->ents_bytes = (UINTN)HDR(d->good)->NumberOfPartitionEntries *
			HDR(d->good)->SizeOfPartitionEntry;
	return EFI_SUCCESS;
}

static EFI_PARTITION_ENTRY *entry(struct disk *d, UINTN i)
{
	return (EFI_PARTITION_ENTRY *)(d->good->ents +
				       i * HDR(d->good)->SizeOfPartitionEntry);
}

static UINT32 attr(EFI_PARTITION_ENTRY *e, UINTN shift, UINT64 mask)
{
	return (UINT32)((e->Attributes >> shift) & mask);
}

/* gptprio.next: highest priority among usr entries that have tries left
 * or are proven good; priority 0 never boots; ties -> lowest number. */
static INTN select_slot(struct disk *d)
{
	UINT32 best_prio = 0;
	UINTN i;
	INTN best = -1;

	for (i = 0; i < HDR(d->good)->NumberOfPartitionEntries; i++) {
		EFI_PARTITION_ENTRY *e = entry(d, i);
		UINT32 prio = attr(e, PRIO_SHIFT, 0xf);

		if (CompareMem(&e->PartitionTypeGUID, &usr_type, sizeof(usr_type)))
			continue;
		if ((attr(e, TRIES_SHIFT, 0xf) > 0 || attr(e, SUCC_SHIFT, 1)) &&
		    prio > best_prio) {
			best_prio = prio;
			best = (INTN)i;
		}
	}
	return best;
}

/* Give copy `c` the trusted entries and fresh CRCs.  A valid copy keeps
 * its own location fields; a damaged one is rebuilt from the good header
 * at `lba`, pointing to `alt`, with its array at `ents_lba`. */
static void fill_copy(struct disk *d, struct gpt_copy *c, EFI_LBA lba,
		      EFI_LBA alt, EFI_LBA ents_lba)
{
	EFI_PARTITION_TABLE_HEADER *h = HDR(c);

	if (!c->ok) {
		CopyMem(c->hdr, d->good->hdr, d->bs);
		h->MyLBA = lba;
		h->AlternateLBA = alt;
		h->PartitionEntryLBA = ents_lba;
	}
	if (c != d->good)
		CopyMem(c->ents, d->good->ents, d->ents_bytes);
	h->PartitionEntryArrayCRC32 = crc32(d->good->ents, d->ents_bytes);
	h->Header.CRC32 = header_crc(h);
}

/* Write both GPT copies (GRUB's gptprio.next repairs a damaged one this
 * way too): backup first, so an interrupted write leaves the primary whole. */
static EFI_STATUS write_gpt(struct disk *d)
{
	EFI_PARTITION_TABLE_HEADER *g = HDR(d->good);
	EFI_LBA n = sectors(d, d->ents_bytes), bak_lba;
	EFI_STATUS st;

	/* Where a rebuilt copy goes must not overlap the usable area. */
	bak_lba = d->bak.ok ? HDR(&d->bak)->MyLBA : HDR(&d->pri)->AlternateLBA;
	if ((!d->pri.ok && 2 + n > g->FirstUsableLBA) ||
	    (!d->bak.ok && (bak_lba > d->last || bak_lba <= n ||
			    bak_lba - n <= g->LastUsableLBA)))
		return EFI_VOLUME_CORRUPTED;

	fill_copy(d, &d->pri, 1, bak_lba, 2);
	fill_copy(d, &d->bak, bak_lba, 1, bak_lba - n);
	st = disk_io(d, TRUE, HDR(&d->bak)->PartitionEntryLBA, d->ents_bytes,
		     d->bak.ents);
	if (!EFI_ERROR(st))
		st = disk_io(d, TRUE, bak_lba, d->bs, d->bak.hdr);
	if (!EFI_ERROR(st))
		st = disk_io(d, TRUE, HDR(&d->pri)->PartitionEntryLBA,
			     d->ents_bytes, d->pri.ents);
	if (!EFI_ERROR(st))
		st = disk_io(d, TRUE, 1, d->bs, d->pri.hdr);
	if (!EFI_ERROR(st))
		st = d->bio->FlushBlocks(d->bio);
	/* Read back: both copies must now validate. */
	if (!EFI_ERROR(st) &&
	    (!load_copy(d, 1, &d->pri) || !load_copy(d, bak_lba, &d->bak)))
		st = EFI_DEVICE_ERROR;
	d->good = &d->pri;
	return st;
}

/* Canonical lowercase text form of a GUID (first three fields are stored
 * little-endian). */
static void guid_to_str(const EFI_GUID *g, CHAR8 out[37])
{
	static const UINT8 order[16] = {3, 2, 1, 0, 5, 4, 7, 6,
					8, 9, 10, 11, 12, 13, 14, 15};
	static const CHAR8 hex[] = "0123456789abcdef";
	const UINT8 *b = (const UINT8 *)g;
	UINTN i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[order[i]] >> 4];
		out[o++] = hex[b[order[i]] & 0xf];
	}
	out[o] = '\0';
}

/* UTF-8 -> UCS-2 (what LoadOptions carry). Sequences beyond the BMP,
 * malformed input and control characters other than tab are refused. */
static BOOLEAN utf8_to_ucs2(const UINT8 *s, UINTN n, CHAR16 *out)
{
	UINTN i = 0, o = 0, k, more;
	UINT32 c, min;

	while (i < n) {
		c = s[i++];
		if (c < 0x80) {
			more = 0, min = 0;
		} else if ((c & 0xe0) == 0xc0) {
			c &= 0x1f, more = 1, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			c &= 0x0f, more = 2, min = 0x800;
		} else {
			return FALSE;
		}
		if (more > n - i)
			return FALSE;
		for (k = 0; k < more; k++, i++) {
			if ((s[i] & 0xc0) != 0x80)
				return FALSE;
			c = c << 6 | (s[i] & 0x3f);
		}
		if (c < min || (c >= 0xd800 && c <= 0xdfff) ||
		    (c < 0x20 && c != '\t') || c == 0x7f)
			return FALSE;
		out[o++] = (CHAR16)c;
	}
	out[o] = 0;
	return TRUE;
}

/* \coreos\cmdline-<x>: one line of text, trailing whitespace removed. */
static EFI_STATUS read_cmdline(EFI_HANDLE esp, CHAR16 *path, CHAR16 **out)
{
	EFI_FILE_HANDLE root, f;
	UINT8 *buf = AllocatePool(CMDLINE_MAX + 1);
	UINTN n = CMDLINE_MAX + 1;
	EFI_STATUS st;

	*out = AllocatePool((CMDLINE_MAX + 1) * sizeof(CHAR16));
	root = LibOpenRoot(esp);
	if (buf == NULL || *out == NULL || root == NULL)
		return EFI_OUT_OF_RESOURCES;
	st = root->Open(root, &f, path, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st)) {
		root->Close(root);
		ERR(L"cannot open %s on the ESP: %r", path, st);
		return st;
	}
	st = f->Read(f, &n, buf);
	f->Close(f);
	root->Close(root);
	if (EFI_ERROR(st)) {
		ERR(L"cannot read %s: %r", path, st);
		return st;
	}
	if (n > CMDLINE_MAX) {
		ERR(L"%s is longer than %d bytes", path, CMDLINE_MAX);
		return EFI_BAD_BUFFER_SIZE;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (!utf8_to_ucs2(buf, n, *out)) {
		ERR(L"%s is not one line of UTF-8 text (BMP only)", path);
		return EFI_INVALID_PARAMETER;
	}
	FreePool(buf);
	return EFI_SUCCESS;
}

/* Boot the chosen slot; returns only on failure. *reset is set once a try
 * of an unproven slot has been used up, so failing over needs a reboot. */
static EFI_STATUS boot(EFI_HANDLE image, BOOLEAN *reset)
{
	EFI_LOADED_IMAGE *self, *child_li;
	EFI_HANDLE esp, child;
	struct disk d = {0};
	CHAR16 *file_cmdline, *cmdline, *path, letter, name[37] = {0};
	CHAR8 guid[37];
	EFI_PARTITION_ENTRY *e;
	UINT32 prio, tries, succ;
	INTN i;
	EFI_STATUS st;

	st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&self);
	if (EFI_ERROR(st)) {
		ERR(L"no LoadedImage protocol: %r", st);
		return st;
	}
	esp = self->DeviceHandle;
	st = open_disk(esp, &d);
	if (EFI_ERROR(st)) {
		ERR(L"cannot find the disk holding the ESP: %r", st);
		return st;
	}
	st = read_gpt(&d);
	if (EFI_ERROR(st)) {
		ERR(L"no valid GPT (primary and backup both damaged): %r", st);
		return st;
	}

	i = select_slot(&d);
	if (i < 0) {
		ERR(L"no bootable /usr partition (none has priority > 0 and "
		    L"tries > 0 or successful = 1)");
		return EFI_NOT_FOUND;
	}
	e = entry(&d, (UINTN)i);
	prio = attr(e, PRIO_SHIFT, 0xf);
	tries = attr(e, TRIES_SHIFT, 0xf);
	succ = attr(e, SUCC_SHIFT, 1);
	if (CompareMem(e->PartitionName, L"USR-A", 6 * sizeof(CHAR16)) == 0)
		letter = 'a';
	else if (CompareMem(e->PartitionName, L"USR-B", 6 * sizeof(CHAR16)) == 0)
		letter = 'b';
	else {
		CopyMem(name, e->PartitionName, sizeof(e->PartitionName));
		ERR(L"partition %d is named \"%s\", not USR-A or USR-B",
		    (UINT32)i + 1, name);
		return EFI_UNSUPPORTED;
	}

	if (tries > 0) {
		e->Attributes &= ~((UINT64)0xf << TRIES_SHIFT);
		e->Attributes |= (UINT64)(tries - 1) << TRIES_SHIFT;
		st = write_gpt(&d);
		if (EFI_ERROR(st)) {
			/* Booting a try we could not record could loop forever. */
			ERR(L"cannot update the GPT (tries of partition %d): %r",
			    (UINT32)i + 1, st);
			return st;
		}
		*reset = !succ;
	}
	MSG(L"USR-%c (partition %d, priority %d, tries %d->%d, successful %d)",
	    letter - 'a' + 'A', (UINT32)i + 1, prio, tries,
	    tries ? tries - 1 : 0, succ);

	path = PoolPrint(L"\\coreos\\cmdline-%c", letter);
	st = read_cmdline(esp, path, &file_cmdline);
	if (EFI_ERROR(st))
		return st;
	guid_to_str(&e->UniquePartitionGUID, guid);
	cmdline = PoolPrint(L"%s initrd=\\coreos\\initrd-%c verity.usr=PARTUUID=%a",
			    file_cmdline, letter, guid);
	path = PoolPrint(L"\\coreos\\vmlinuz-%c", letter);
	if (cmdline == NULL || path == NULL)
		return EFI_OUT_OF_RESOURCES;
	MSG(L"cmdline %s", cmdline);

	st = BS->LoadImage(FALSE, image, FileDevicePath(esp, path), NULL, 0,
			   &child);
	if (EFI_ERROR(st)) {
		if (st == EFI_SECURITY_VIOLATION) /* loaded, but not allowed */
			BS->UnloadImage(child);
		ERR(L"cannot load %s: %r", path, st);
		return st;
	}
	st = BS->HandleProtocol(child, &LoadedImageProtocol, (void **)&child_li);
	if (EFI_ERROR(st)) {
		ERR(L"no LoadedImage protocol on %s: %r", path, st);
		return st;
	}
	/* The Linux EFI stub takes its command line (and initrd=) from here. */
	child_li->LoadOptions = cmdline;
	child_li->LoadOptionsSize = (UINT32)((StrLen(cmdline) + 1) * sizeof(CHAR16));
	st = BS->StartImage(child, NULL, NULL);
	ERR(L"%s returned: %r", path, st);
	return EFI_ERROR(st) ? st : EFI_LOAD_ERROR;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	BOOLEAN reset = FALSE;
	EFI_STATUS st;

	InitializeLib(image, systab);
	st = boot(image, &reset);
	if (reset) {
		/* The try is spent; the next boot picks the fallback slot. */
		MSG(L"resetting in 5 seconds");
		BS->Stall(ERROR_DELAY_US);
		RT->ResetSystem(EfiResetCold, st, 0, NULL);
	}
	BS->Stall(ERROR_DELAY_US);
	return st;
}
