/*
 * coreos-init-helper: the C half of the coreos-init initramfs.
 *
 *   coreos-init-helper find SPEC
 *   coreos-init-helper verity-open NAME DEVICE ROOTHASH [--hash-offset BYTES] [--verify-all]
 *   coreos-init-helper first-boot DISK
 *   coreos-init-helper slot DISK NUMBER
 *   coreos-init-helper watchdog-arm SECONDS
 *
 * Exit status: 0 success, 1 failure, 64 usage error.  Messages go to stderr,
 * prefixed "coreos-init-helper: "; results (a device node, what was done)
 * go to stdout.  Statically linked: it runs from the initramfs, which has
 * no C library.
 */
#include "helper.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
	msg("usage: %s find SPEC | verity-open NAME DEVICE ROOTHASH [--hash-offset BYTES] "
	    "[--verify-all] | first-boot DISK | slot DISK NUMBER | watchdog-arm SECONDS",
	    PROG);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "find") == 0)
		rc = cmd_find(argc - 1, argv + 1);
	else if (strcmp(argv[1], "verity-open") == 0)
		rc = cmd_verity_open(argc - 1, argv + 1);
	else if (strcmp(argv[1], "first-boot") == 0)
		rc = cmd_first_boot(argc - 1, argv + 1);
	else if (strcmp(argv[1], "slot") == 0)
		rc = cmd_slot(argc - 1, argv + 1);
	else if (strcmp(argv[1], "watchdog-arm") == 0)
		rc = cmd_watchdog_arm(argc - 1, argv + 1);
	else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage();
		return EXIT_OK;
	} else
		return usage();
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = EXIT_FAIL;
	return rc;
}
