/* The few helpers the blobs need, header-only so no libc is pulled in. */
#ifndef CREST_PIE_LIB_H
#define CREST_PIE_LIB_H

#include <stdint.h>
#include <stddef.h>
#include "pie-syscalls.h"
#include "arch-crc.h"

#define PIE_PAGE_SIZE	4096UL

#endif
