#include <libfdisk/libfdisk.h>
