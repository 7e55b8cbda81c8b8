/*
 * SMB Direct ([MS-SMBD]) wire format: encode, decode and validate.
 *
 * Pure protocol code: no verbs, no rdma_cm, no global state, so it can be
 * unit tested and fuzzed on any host.  Every size coming from the peer is
 * treated as hostile: sums are computed in 64 bits before comparing.
 *
 * Copyright (C) 2025 The vfs_smbdirect authors
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECT_PDU_H_
#define _SMBDIRECT_PDU_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

/* [MS-SMBD] 1.7: the only protocol version defined. */
#define SMBDIRECT_PROTOCOL_V1 0x0100

/* [MS-SMBD] 2.2.1 / 2.2.2 / 2.2.3 message sizes. */
#define SMBDIRECT_NEGOTIATE_REQ_SIZE 20
#define SMBDIRECT_NEGOTIATE_RESP_SIZE 32
#define SMBDIRECT_DATA_MIN_HDR_SIZE 20	/* message without payload */
#define SMBDIRECT_DATA_HDR_SIZE 24	/* header + 4 bytes padding */

/* The DataOffset we always use when there is a payload ([MS-SMBD] 3.1.5.4). */
#define SMBDIRECT_DATA_OFFSET SMBDIRECT_DATA_HDR_SIZE

/* [MS-SMBD] 2.2.3 Flags */
#define SMBDIRECT_FLAG_RESPONSE_REQUESTED 0x0001

/* [MS-SMBD] 3.1.5.6 / 3.1.5.7 lower bounds. */
#define SMBDIRECT_MIN_RECEIVE_SIZE 128
#define SMBDIRECT_MIN_FRAGMENTED_SIZE 131072

/* [MS-SMBD] 2.2.3.1 SMB_DIRECT_BUFFER_DESCRIPTOR_V1 */
#define SMBDIRECT_BUFFER_DESC_V1_SIZE 16

/* NTSTATUS values carried in the negotiate response Status field. */
#define SMBDIRECT_STATUS_SUCCESS 0x00000000
#define SMBDIRECT_STATUS_NOT_SUPPORTED 0xC00000BB
#define SMBDIRECT_STATUS_INSUFFICIENT_RESOURCES 0xC000009A

/*
 * Error report filled by every function that can fail.
 *
 * code is the errno-style value the function also returns; reason is a
 * precise, human readable sentence for the daemon's log, e.g.
 * "negotiate: MaxReceiveSize 64 below minimum 128".
 *
 * Conventions for code:
 *   EPROTO     the peer violated the protocol: disconnect
 *   EOPNOTSUPP the peer asked for an unsupported protocol version
 *   EDEADLK    peer and we both hold no send credits: disconnect
 *   EAGAIN     not an error: no send credit right now, retry later
 *   EMSGSIZE   a local message is too large to be sent
 *   EINVAL     the caller passed invalid arguments or parameters
 *   ENOMEM     allocation failure
 */
#define SMBDIRECT_ERR_REASON_SIZE 256
struct smbdirect_err {
	int code;
	char reason[SMBDIRECT_ERR_REASON_SIZE];
};

/*
 * Record an error in err (which may be NULL) and return code, so callers
 * can write "return smbdirect_err_set(err, EPROTO, ...);".
 */
int smbdirect_err_set(struct smbdirect_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset err to "no error" (code 0, empty reason). err may be NULL. */
void smbdirect_err_clear(struct smbdirect_err *err);

/* [MS-SMBD] 2.2.1 Negotiate Request */
struct smbdirect_negotiate_req {
	uint16_t min_version;
	uint16_t max_version;
	uint16_t reserved;
	uint16_t credits_requested;
	uint32_t preferred_send_size;
	uint32_t max_receive_size;
	uint32_t max_fragmented_size;
};

/* [MS-SMBD] 2.2.2 Negotiate Response */
struct smbdirect_negotiate_resp {
	uint16_t min_version;
	uint16_t max_version;
	uint16_t negotiated_version;
	uint16_t reserved;
	uint16_t credits_requested;
	uint16_t credits_granted;
	uint32_t status;
	uint32_t max_read_write_size;
	uint32_t preferred_send_size;
	uint32_t max_receive_size;
	uint32_t max_fragmented_size;
};

/* [MS-SMBD] 2.2.3 Data Transfer Message header (without Padding/Buffer) */
struct smbdirect_data_hdr {
	uint16_t credits_requested;
	uint16_t credits_granted;
	uint16_t flags;
	uint16_t reserved;
	uint32_t remaining_data_length;
	uint32_t data_offset;
	uint32_t data_length;
};

/* SMB_DIRECT_BUFFER_DESCRIPTOR_V1 */
struct smbdirect_buffer_desc_v1 {
	uint64_t offset;
	uint32_t token;
	uint32_t length;
};

/*
 * Decode a negotiate request.  Only the length is checked here (at least
 * 20 bytes, trailing bytes ignored as [MS-SMBD] 3.1.5.6 says "at least");
 * field semantics are judged by smbdirect_proto_negotiate().
 */
int smbdirect_negotiate_req_pull(const uint8_t *buf,
				 size_t len,
				 struct smbdirect_negotiate_req *req,
				 struct smbdirect_err *err);

/* Encode a negotiate request into exactly 20 bytes. */
void smbdirect_negotiate_req_push(const struct smbdirect_negotiate_req *req,
				  uint8_t buf[SMBDIRECT_NEGOTIATE_REQ_SIZE]);

/* Decode a negotiate response (at least 32 bytes; no semantic checks). */
int smbdirect_negotiate_resp_pull(const uint8_t *buf,
				  size_t len,
				  struct smbdirect_negotiate_resp *resp,
				  struct smbdirect_err *err);

/* Encode a negotiate response into exactly 32 bytes. */
void smbdirect_negotiate_resp_push(const struct smbdirect_negotiate_resp *resp,
				   uint8_t buf[SMBDIRECT_NEGOTIATE_RESP_SIZE]);

/*
 * Decode and structurally validate a data transfer message of len bytes
 * ([MS-SMBD] 3.1.5.8, the checks that need no connection state):
 *
 *  - len >= 20
 *  - CreditsRequested >= 1
 *  - DataOffset is 8-byte aligned
 *  - DataOffset + DataLength <= len (computed without 32-bit wrap)
 *  - DataLength > 0 implies DataOffset >= 24 (payload must not overlap
 *    the header)
 *  - DataLength == 0 implies RemainingDataLength == 0 (3.1.5.4: a message
 *    without payload is never part of a fragmented sequence)
 *
 * The limit DataLength + RemainingDataLength <= max fragmented size needs
 * connection state and is checked by the reassembly code.
 */
int smbdirect_data_hdr_pull(const uint8_t *buf,
			    size_t len,
			    struct smbdirect_data_hdr *hdr,
			    struct smbdirect_err *err);

/*
 * Encode a data transfer message header.  With data_length == 0 the
 * header is 20 bytes and data_offset must be 0; otherwise data_offset
 * must be 24 and 24 bytes (header plus zeroed Padding) are written.
 * Returns the number of bytes written (20 or 24), or 0 if hdr breaks
 * these rules.
 */
size_t smbdirect_data_hdr_push(const struct smbdirect_data_hdr *hdr,
			       uint8_t buf[SMBDIRECT_DATA_HDR_SIZE]);

/*
 * Decode an array of SMB_DIRECT_BUFFER_DESCRIPTOR_V1 (SMB2 READ/WRITE
 * channel info).  len must be a non-zero multiple of 16; descriptors of
 * Length 0 are rejected.  *total_length receives the sum of all Length
 * fields (64 bits, cannot wrap).  *descs is allocated on mem_ctx.
 */
int smbdirect_buffer_descs_pull(TALLOC_CTX *mem_ctx,
				const uint8_t *buf,
				size_t len,
				struct smbdirect_buffer_desc_v1 **descs,
				size_t *num_descs,
				uint64_t *total_length,
				struct smbdirect_err *err);

/*
 * Encode num_descs descriptors into buf, which must hold
 * num_descs * 16 bytes (buf_len).  Returns the bytes written or 0 when
 * buf_len is too small.
 */
size_t smbdirect_buffer_descs_push(const struct smbdirect_buffer_desc_v1 *descs,
				   size_t num_descs,
				   uint8_t *buf,
				   size_t buf_len);

#endif /* _SMBDIRECT_PDU_H_ */
