/*
 * coreos-init-helper slot DISK NUMBER
 * coreos-init-helper watchdog-arm SECONDS
 *
 * A /usr slot is on trial from the update that installs it until its boot
 * is judged good (gptprio successful bit).  `slot` prints the gptprio bits
 * of partition NUMBER (1-based) of DISK as "priority=P tries=T
 * successful=S"; it fails (exit 1) when the entry is not a CoreOS usr
 * partition.  The initramfs reads them so that a boot on trial is guarded.
 *
 * `watchdog-arm` starts /dev/watchdog with a timeout of SECONDS and closes
 * it without the magic 'V', so the watchdog keeps running: unless someone
 * stops it in time (the boot check, after marking the slot good), the
 * machine resets and the bootloader, finding the slot's tries used up,
 * boots the other one.  Nothing from the /usr on trial takes part in that.
 * The driver may round the timeout; the one it took is printed.
 */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define WATCHDOG_DEVICE "/dev/watchdog"

static int parse_number(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return errno || end == text || *end || text[0] == '-' || *out == 0 || *out > max ? -1 : 0;
}

int cmd_slot(int argc, char **argv)
{
	struct disk_gpt d;
	struct gpt_prio prio;
	unsigned long number;
	char why[400];
	const uint8_t *entry;
	int fd, rc = EXIT_FAIL;

	if (argc != 3 || parse_number(argv[2], 0xffffffffUL, &number) < 0) {
		msg("usage: %s slot DISK NUMBER (a partition number from 1)", PROG);
		return EXIT_USAGE;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		msg("cannot open %s: %s", argv[1], strerror(errno));
		return EXIT_FAIL;
	}
	if (disk_gpt_read(fd, &d, why, sizeof(why)) < 0) {
		msg("%s: %s", argv[1], why);
		close(fd);
		return EXIT_FAIL;
	}
	if (number > gpt_entry_count(&d.t)) {
		msg("%s has no partition %lu (the GPT has %u entries)", argv[1], number,
		    gpt_entry_count(&d.t));
		goto out;
	}
	entry = gpt_entry(&d.t, (uint32_t)(number - 1));
	if (!gpt_is_usr(entry)) {
		msg("partition %lu of %s is not a CoreOS usr partition: it has no slot bits", number,
		    argv[1]);
		goto out;
	}
	prio = gpt_prio_get(entry);
	printf("priority=%u tries=%u successful=%u\n", prio.priority, prio.tries, prio.successful);
	rc = EXIT_OK;
out:
	disk_gpt_free(&d);
	close(fd);
	return rc;
}

int cmd_watchdog_arm(int argc, char **argv)
{
	struct watchdog_info info;
	unsigned long seconds;
	int fd, timeout;

	if (argc != 2 || parse_number(argv[1], 65535, &seconds) < 0) {
		msg("usage: %s watchdog-arm SECONDS (1 to 65535)", PROG);
		return EXIT_USAGE;
	}
	fd = open(WATCHDOG_DEVICE, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		msg("cannot open %s: %s", WATCHDOG_DEVICE, strerror(errno));
		return EXIT_FAIL;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, WDIOC_GETSUPPORT, &info) < 0)
		snprintf((char *)info.identity, sizeof(info.identity), "unknown driver");
	timeout = (int)seconds;
	if (ioctl(fd, WDIOC_SETTIMEOUT, &timeout) < 0) {
		/* the device is running now; close it the way that stops it */
		msg("%s (%s) refuses a timeout of %lu s: %s", WATCHDOG_DEVICE, info.identity, seconds,
		    strerror(errno));
		if (write(fd, "V", 1) != 1)
			msg("cannot stop %s again: %s", WATCHDOG_DEVICE, strerror(errno));
		close(fd);
		return EXIT_FAIL;
	}
	ioctl(fd, WDIOC_KEEPALIVE, 0);
	/* closed without 'V': the watchdog keeps counting */
	close(fd);
	printf("armed %s (%s): the machine resets in %d s unless the boot is judged good\n",
	       WATCHDOG_DEVICE, info.identity, timeout);
	return EXIT_OK;
}
