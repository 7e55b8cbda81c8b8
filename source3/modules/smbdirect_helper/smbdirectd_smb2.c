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

#include "replace.h"
#include "lib/util/byteorder.h"
#include "smbdirectd_smb2.h"

/* Offset of Channel inside the READ and WRITE request bodies. */
#define SMB2_READ_CHANNEL 0x24
#define SMB2_WRITE_CHANNEL 0x20

bool smbdirectd_smb2_find_rdma_channel(const uint8_t *pdu,
				       size_t len,
				       struct smbdirectd_smb2_rdma_use *use)
{
	size_t ofs = 0;
	size_t index = 0;

	while (ofs < len && len - ofs >= SMB2_HDR_BODY) {
		const uint8_t *hdr = pdu + ofs;
		size_t avail = len - ofs;
		uint32_t next;
		uint16_t cmd;
		size_t chan_ofs = 0;

		if (PULL_LE_U32(hdr, 0) != SMB2_MAGIC) {
			return false;
		}
		cmd = PULL_LE_U16(hdr, SMB2_HDR_OPCODE);
		next = PULL_LE_U32(hdr, SMB2_HDR_NEXT_COMMAND);
		if (next != 0 && (next < SMB2_HDR_BODY || next > avail)) {
			return false;
		}
		if (next != 0) {
			avail = next;
		}

		if (cmd == SMB2_OP_READ) {
			chan_ofs = SMB2_HDR_BODY + SMB2_READ_CHANNEL;
		} else if (cmd == SMB2_OP_WRITE) {
			chan_ofs = SMB2_HDR_BODY + SMB2_WRITE_CHANNEL;
		}
		if (chan_ofs != 0 && avail >= chan_ofs + 4) {
			uint32_t channel = PULL_LE_U32(hdr, chan_ofs);

			if (channel != SMB2_CHANNEL_NONE) {
				use->command = cmd;
				use->channel = channel;
				use->message_id =
					PULL_LE_U64(hdr, SMB2_HDR_MESSAGE_ID);
				use->index = index;
				return true;
			}
		}
		if (next == 0) {
			break;
		}
		ofs += next;
		index += 1;
	}
	return false;
}
