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
 * Attribute bits (cgpt): priority 48-51, tries 52-55, successful 56.  The
 * GPT code and the slot choice are the library's (recipes/lib/gpt), shared
 * with coreos-gptprio and the initramfs.
 */
#include <efi.h>
#include <efilib.h>

#include "gpt.h"

#define CMDLINE_MAX 4096              /* bytes of \coreos\cmdline-<x> */
#define ERROR_DELAY_US (5 * 1000 * 1000)

#define MSG(fmt, ...) Print(L"coreos-boot: " fmt L"\n", ##__VA_ARGS__)
#define ERR(fmt, ...) MSG(L"error: " fmt, ##__VA_ARGS__)

struct disk {
	EFI_BLOCK_IO *bio;
	EFI_DISK_IO *dio;
	UINT32 media, bs;
	EFI_LBA last;
	struct gpt g;
};

/* The GPT library's I/O: Disk I/O at byte offsets, status codes kept. */
static UINT64 disk_read(void *ctx, UINT64 off, void *buf, UINTN len)
{
	struct disk *d = ctx;
	return d->dio->ReadDisk(d->dio, d->media, off, len, buf);
}

static UINT64 disk_write(void *ctx, UINT64 off, const void *buf, UINTN len)
{
	struct disk *d = ctx;
	return d->dio->WriteDisk(d->dio, d->media, off, len, (void *)buf);
}

static UINT64 disk_flush(void *ctx)
{
	struct disk *d = ctx;
	return d->bio->FlushBlocks(d->bio);
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
	struct gpt_io io = {disk_read, disk_write, disk_flush, d};
	void *buffer;

	if (d->bs < 512)
		return EFI_OUT_OF_RESOURCES;
	buffer = AllocatePool(gpt_buffer_size(&gpt_rules_boot, d->bs));
	if (buffer == NULL)
		return EFI_OUT_OF_RESOURCES;
	gpt_setup(&d->g, &gpt_rules_boot, &io, d->bs, d->last + 1, buffer);
	if (gpt_read(&d->g) != GPT_OK)
		return EFI_VOLUME_CORRUPTED;
	if (!d->g.primary.valid)
		MSG(L"warning: primary GPT is damaged, using the backup");
	if (!d->g.backup.valid)
		MSG(L"warning: backup GPT is damaged");
	return EFI_SUCCESS;
}

/* Write both GPT copies (GRUB's gptprio.next repairs a damaged one this
 * way too), then read them back: both must now validate. */
static EFI_STATUS write_gpt(struct disk *d)
{
	UINT64 backup = gpt_backup_lba(&d->g);

	if (gpt_prepare(&d->g, backup) != GPT_OK)
		return EFI_VOLUME_CORRUPTED;
	if (gpt_write(&d->g) != GPT_OK)
		return (EFI_STATUS)d->g.error;
	if (gpt_read(&d->g) != GPT_OK || !d->g.primary.valid || !d->g.backup.valid ||
	    d->g.backup.lba != backup)
		return EFI_DEVICE_ERROR;
	return EFI_SUCCESS;
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
	CHAR16 *file_cmdline, *cmdline, *path, letter, name[GPT_ENT_NAME_UNITS + 1] = {0};
	char guid[GPT_GUID_TEXT + 1];
	struct gpt_prio p;
	UINT8 *e;
	int i;
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

	i = gpt_next_slot(gpt_entry(&d.g, 0), gpt_entry_count(&d.g), gpt_entry_size(&d.g));
	if (i < 0) {
		ERR(L"no bootable /usr partition (none has priority > 0 and "
		    L"tries > 0 or successful = 1)");
		return EFI_NOT_FOUND;
	}
	e = gpt_entry(&d.g, (UINT32)i);
	p = gpt_prio_get(e);
	if (CompareMem(e + GPT_ENT_NAME, L"USR-A", 6 * sizeof(CHAR16)) == 0)
		letter = 'a';
	else if (CompareMem(e + GPT_ENT_NAME, L"USR-B", 6 * sizeof(CHAR16)) == 0)
		letter = 'b';
	else {
		CopyMem(name, e + GPT_ENT_NAME, GPT_ENT_NAME_UNITS * sizeof(CHAR16));
		ERR(L"partition %d is named \"%s\", not USR-A or USR-B",
		    (UINT32)i + 1, name);
		return EFI_UNSUPPORTED;
	}

	if (gpt_use_try(e)) {
		st = write_gpt(&d);
		if (EFI_ERROR(st)) {
			/* Booting a try we could not record could loop forever. */
			ERR(L"cannot update the GPT (tries of partition %d): %r",
			    (UINT32)i + 1, st);
			return st;
		}
		*reset = !p.successful;
		e = gpt_entry(&d.g, (UINT32)i); /* the table as read back */
	}
	MSG(L"USR-%c (partition %d, priority %d, tries %d->%d, successful %d)",
	    letter - 'a' + 'A', (UINT32)i + 1, p.priority, p.tries,
	    p.tries ? p.tries - 1 : 0, p.successful);

	path = PoolPrint(L"\\coreos\\cmdline-%c", letter);
	st = read_cmdline(esp, path, &file_cmdline);
	if (EFI_ERROR(st))
		return st;
	gpt_guid_format(e + GPT_ENT_UNIQUE, guid);
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
