/*
 * SMB Direct ([MS-SMBD] 3.1.4.2, 3.1.5.4, 3.1.5.8) fragmentation of
 * outgoing upper-layer PDUs and reassembly of incoming ones.
 *
 * Copyright (C) 2025 The vfs_smbdirect authors
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECT_FRAGMENT_H_
#define _SMBDIRECT_FRAGMENT_H_

#include "smbdirect_pdu.h"

/*
 * One data transfer message of an outgoing PDU: the slice
 * [payload_ofs, payload_ofs + payload_len) of the PDU, sent behind a
 * header carrying remaining_data_length and data_offset.
 */
struct smbdirect_frag {
	size_t payload_ofs;
	uint32_t payload_len;
	uint32_t remaining_data_length;	/* PDU bytes after this slice */
	uint32_t data_offset;		/* 24, or 0 for an empty PDU */
	bool last;			/* remaining_data_length == 0 */
};

/*
 * Walks one outgoing PDU.  Each slice is at most max_send_size - 24
 * bytes ([MS-SMBD] 3.1.5.4: DataOffset 24, DataOffset + DataLength <=
 * MaxSendSize), RemainingDataLength counts down to 0.  An empty PDU
 * yields one empty message (DataOffset and DataLength 0).
 */
struct smbdirect_frag_tx {
	size_t pdu_len;
	size_t next_ofs;
	uint32_t max_payload;
	bool done;
};

/*
 * Prepare tx for a PDU of pdu_len bytes.
 * EMSGSIZE if pdu_len > max_fragmented_send_size (the peer's
 * MaxFragmentedSize, [MS-SMBD] 3.1.4.2); EINVAL if max_send_size leaves
 * no room for payload behind the 24 byte header.
 */
int smbdirect_frag_tx_init(struct smbdirect_frag_tx *tx,
			   size_t pdu_len,
			   uint32_t max_send_size,
			   uint32_t max_fragmented_send_size,
			   struct smbdirect_err *err);

/* True once every message of the PDU was handed out. */
bool smbdirect_frag_tx_done(const struct smbdirect_frag_tx *tx);

/*
 * Hand out the next message of the PDU in *frag and advance.
 * Returns false (frag untouched) when tx is done.
 */
bool smbdirect_frag_tx_next(struct smbdirect_frag_tx *tx,
			    struct smbdirect_frag *frag);

/*
 * Whole plan at once, for callers that want the list up front:
 * *frags (allocated on mem_ctx) gets *num_frags entries.
 */
int smbdirect_frag_plan(TALLOC_CTX *mem_ctx,
			size_t pdu_len,
			uint32_t max_send_size,
			uint32_t max_fragmented_send_size,
			struct smbdirect_frag **frags,
			size_t *num_frags,
			struct smbdirect_err *err);

/*
 * Reassembly of incoming PDUs ([MS-SMBD] Connection.FragmentReassembly*).
 *
 * Payloads are copied out of the receive buffer, so the daemon may
 * repost a receive as soon as smbdirect_reassembly_push() returns; this
 * is why a max fragmented size larger than receive_credit_max receive
 * buffers cannot stall the peer here (cifs.ko and ksmbd, which keep the
 * buffers queued, must limit it).
 */
struct smbdirect_reassembly;

/*
 * Create an empty reassembly state accepting PDUs of up to
 * max_fragmented_size bytes (our Connection.MaxFragmentedRecvSize).
 */
struct smbdirect_reassembly *smbdirect_reassembly_create(
	TALLOC_CTX *mem_ctx,
	uint32_t max_fragmented_size);

/* True while a fragmented PDU is partially received. */
bool smbdirect_reassembly_in_progress(const struct smbdirect_reassembly *r);

/*
 * Feed one data transfer message: hdr was validated by
 * smbdirect_data_hdr_pull() and data points to its hdr->data_length
 * payload bytes.
 *
 * Returns 0 and sets *pdu (allocated on mem_ctx) and *pdu_len when this
 * message completed a PDU; returns 0 with *pdu = NULL when more
 * fragments are needed or the message carried no payload (credit-only
 * and keepalive messages may arrive between fragments).
 *
 * EPROTO when:
 *  - DataLength + RemainingDataLength exceeds the max fragmented size
 *  - DataLength is 0 but RemainingDataLength is not
 *  - a continuation carries more data than the PDU announced
 *  - RemainingDataLength disagrees with the bytes still expected
 * ENOMEM on allocation failure.  After an error the state is undefined;
 * the connection must be dropped.
 */
int smbdirect_reassembly_push(struct smbdirect_reassembly *r,
			      const struct smbdirect_data_hdr *hdr,
			      const uint8_t *data,
			      TALLOC_CTX *mem_ctx,
			      uint8_t **pdu,
			      size_t *pdu_len,
			      struct smbdirect_err *err);

#endif /* _SMBDIRECT_FRAGMENT_H_ */
