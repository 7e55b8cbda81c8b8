/*
 * smbdirectd: what the relay needs to know of the SMB2 PDUs it carries
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_SMB2_H_
#define _SMBDIRECTD_SMB2_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "libcli/smb/smb2_constants.h"

/* [MS-SMB2] 2.2.19 / 2.2.21 Channel values (Samba 4.17 has none) */
#define SMB2_CHANNEL_NONE 0
#define SMB2_CHANNEL_RDMA_V1 1
#define SMB2_CHANNEL_RDMA_V1_INVALIDATE 2
#define SMB2_CHANNEL_RDMA_TRANSFORM 3

struct smbdirectd_smb2_rdma_use {
	uint16_t command;	/* SMB2_OP_READ or SMB2_OP_WRITE */
	uint32_t channel;
	uint64_t message_id;
	size_t index;		/* position in the compound chain, from 0 */
};

/*
 * Walk the compound chain of a request PDU (without the 4-byte stream
 * header) and report the first READ or WRITE whose Channel asks for
 * RDMA. Returns true and fills *use in that case.
 *
 * Encrypted (0xFD 'SMB') and compressed (0xFC 'SMB') messages cannot be
 * inspected and a chain that is malformed is left for smbd to reject:
 * both return false. Nothing outside [pdu, pdu + len) is read.
 */
bool smbdirectd_smb2_find_rdma_channel(const uint8_t *pdu,
				       size_t len,
				       struct smbdirectd_smb2_rdma_use *use);

#endif
