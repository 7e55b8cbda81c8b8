/*
 * vfs_smbdirect: the messages between smbd (vfs_smbdirect_io.c sends the
 * requests and reads the answers) and its forked I/O helpers
 * (vfs_smbdirect_helper_child.c)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _VFS_SMBDIRECT_HELPERS_WIRE_H_
#define _VFS_SMBDIRECT_HELPERS_WIRE_H_

#include <stdint.h>
#include "vfs_smbdirect_helpers.h"

#define SDIO_MAGIC_REQ 0x51494453	/* "SDIQ" */
#define SDIO_MAGIC_REP 0x52494453	/* "SDIR" */

/* The request carries a buffer's descriptor after the file's. */
#define SDIO_F_BUF_FD 0x0001
/* ... and that buffer's guard after it (with SDIO_F_BUF_FD only). */
#define SDIO_F_GUARD_FD 0x0002

#define SDIO_NUM_BUFS (1 + SMBDIRECT_IO_MAX_EXT_BUFFERS)

/* The wire format: both sides are the same binary, so host order. */
struct sdio_wire_req {
	uint32_t magic;
	uint16_t op;		/* enum smbdirect_io_op */
	uint16_t flags;		/* SDIO_F_* */
	uint32_t buf_id;	/* 0: own buffer, else a registered one */
	uint32_t delay_ms;	/* testing only */
	uint64_t buf_size;	/* size of the buffer object to map */
	uint64_t buf_offset;	/* where the data starts in it */
	uint64_t length;
	int64_t offset;		/* in the file */
	uint64_t seqnum;
};

struct sdio_wire_rep {
	uint32_t magic;
	int32_t error;		/* errno when result == -1 */
	int64_t result;
	uint64_t duration_ns;
	uint64_t seqnum;
};

#endif
