/*
 * smbdirectd: the SMB2 wire offsets of READ and WRITE requests and READ
 * responses that smbdirectd_smb2.c parses and smbdirectd_smb2_rewrite.c
 * writes ([MS-SMB2] 2.2.19-2.2.21); private to those two
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_SMB2_WIRE_H_
#define _SMBDIRECTD_SMB2_WIRE_H_

/*
 * READ and WRITE requests: StructureSize 49 announces a 48 byte fixed
 * body; the variable part (Buffer) starts at 0x70 from the header.
 */
#define RW_REQ_BODY_LEN 0x30
#define RW_REQ_FIXED_LEN (SMB2_HDR_BODY + RW_REQ_BODY_LEN)

/* [MS-SMB2] 2.2.19 READ request body */
/* READ and WRITE share these */
#define RW_REQ_OFFSET 0x08
#define RW_REQ_FILE_ID 0x10
#define RD_REQ_LENGTH 0x04
#define RD_REQ_CHANNEL 0x24
#define RD_REQ_REMAINING 0x28
#define RD_REQ_CHANINFO_OFS 0x2C
#define RD_REQ_CHANINFO_LEN 0x2E

/* [MS-SMB2] 2.2.21 WRITE request body */
#define WR_REQ_DATA_OFS 0x02
#define WR_REQ_LENGTH 0x04
#define WR_REQ_CHANNEL 0x20
#define WR_REQ_REMAINING 0x24
#define WR_REQ_CHANINFO_OFS 0x28
#define WR_REQ_CHANINFO_LEN 0x2A

/* [MS-SMB2] 2.2.20 READ response body */
#define RD_RSP_STRUCT_SIZE 0x00
#define RD_RSP_DATA_OFS 0x02 /* one byte */
#define RD_RSP_RESERVED 0x03
#define RD_RSP_DATA_LEN 0x04
#define RD_RSP_DATA_REMAINING 0x08
#define RD_RSP_FLAGS 0x0C
#define RD_RSP_BODY_LEN 0x10
#define RD_RSP_FIXED_LEN (SMB2_HDR_BODY + RD_RSP_BODY_LEN)
#define RD_RSP_STRUCT_SIZE_VALUE 17

/* NTSTATUS values, as plain numbers: this file does not use NTSTATUS. */
#define SMBDIRECTD_STATUS_SUCCESS 0x00000000
#define SMBDIRECTD_STATUS_PENDING 0x00000103

/*
 * The Direct TCP transport header towards smbd (and [MS-SMB2] 2.1)
 * carries a 24-bit length.
 */
#define SMBDIRECTD_SMB2_MAX_PDU_LEN 0xFFFFFF

/* Compound elements but the last start on 8-byte boundaries. */
#define SMB2_CHAIN_ALIGN 8

#endif
