/*
 * Unit tests for signed RDMA offload: smbdirectd_smb2_sign.[ch] (verify,
 * sign again) with the rewriting of smbdirectd_smb2.[ch], for the three
 * SMB2 signing algorithms, and smbdirectd_session_keys.c's reading of an
 * smbXsrv_session_global.tdb record.
 *
 * Every signature is made and checked with Samba's own
 * libcli/smb/smb2_signing.c, as the client and smbd would: a request is
 * signed "by the client", verified, rewritten and signed again by
 * smbdirectd, then checked "by smbd"; a READ response the other way.
 *
 * HMAC-SHA256 (SMB 2.x signing) and AES-GMAC are covered only here: the
 * test client cifs.ko 6.1 uses RDMA with SMB 3.x only and never offers
 * GMAC (see selftest/tests/test_signed_offload.sh).
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "librpc/gen_ndr/ndr_smbXsrv.h"
#include "libcli/smb/smb2_signing.h"
#include "smbdirectd_smb2.h"
#include "smbdirectd_smb2_sign.h"
#include "smbdirectd_session_keys.h"

#include <setjmp.h>
#include <cmocka.h>

/* header offsets, [MS-SMB2] 2.2.1.2 */
#define H_FLAGS 0x10
#define H_NEXT 0x14
#define H_MID 0x18
#define H_SID 0x28
#define H_SIG 0x30

#define RD_LENGTH 0x44
#define RD_CHANNEL 0x64
#define RD_CI_OFS 0x6C
#define RD_CI_LEN 0x6E
#define WR_LENGTH 0x44
#define WR_CHANNEL 0x60
#define WR_REMAINING 0x64
#define WR_CI_OFS 0x68
#define WR_CI_LEN 0x6A
#define RR_DATA_OFS 0x42
#define RR_DATA_LEN 0x44
#define RR_DATA_REMAINING 0x48

#define SID 0x00000000000A0001ULL
#define MAX_RW (8 * 1024 * 1024)

static const uint16_t algos[] = {
	SMB2_SIGNING_HMAC_SHA256,
	SMB2_SIGNING_AES128_CMAC,
	SMB2_SIGNING_AES128_GMAC,
};

struct keyring {
	struct smb2_signing_key *key;
	uint64_t want_sid;
	unsigned lookups;
	unsigned refreshes;
};

static struct smb2_signing_key *key_fn(uint64_t session_id, bool refresh,
				       void *private_data)
{
	struct keyring *k = private_data;

	k->lookups += 1;
	if (refresh) {
		k->refreshes += 1;
	}
	if (session_id != k->want_sid) {
		return NULL;
	}
	return k->key;
}

static struct smb2_signing_key *new_key(TALLOC_CTX *mem_ctx, uint16_t algo,
					uint8_t seed)
{
	uint8_t raw[16] = {0};
	DATA_BLOB blob = data_blob_const(raw, sizeof(raw));
	struct smb2_signing_key *key = NULL;
	size_t i;

	for (i = 0; i < sizeof(raw); i++) {
		raw[i] = (uint8_t)(seed + i * 13);
	}
	assert_true(NT_STATUS_IS_OK(smb2_signing_key_sign_create(
		mem_ctx, algo, &blob, NULL, &key)));
	return key;
}

static uint8_t *new_hdr(TALLOC_CTX *mem_ctx, size_t len, uint16_t command,
			uint64_t mid)
{
	uint8_t *b = talloc_zero_size(mem_ctx, len);

	assert_non_null(b);
	memcpy(b, "\xfeSMB", 4);
	SSVAL(b, 0x04, 64);
	SSVAL(b, 0x06, 1);
	SSVAL(b, 0x0C, command);
	SSVAL(b, 0x0E, 64);
	SBVAL(b, H_MID, mid);
	SIVAL(b, 0x24, 0x11223344);
	SBVAL(b, H_SID, SID);
	return b;
}

/* cifs.ko's READ with one RDMA descriptor (0x80 bytes) */
static uint8_t *rdma_read(TALLOC_CTX *mem_ctx, uint64_t mid, uint32_t len)
{
	uint8_t *b = new_hdr(mem_ctx, 0x80, SMB2_OP_READ, mid);

	SSVAL(b, 0x40, 49);
	SIVAL(b, RD_LENGTH, len);
	SBVAL(b, 0x48, 0x10000);
	SBVAL(b, 0x50, 0x1111);
	SBVAL(b, 0x58, 0x2222);
	SIVAL(b, RD_CHANNEL, SMB2_CHANNEL_RDMA_V1);
	SSVAL(b, RD_CI_OFS, 0x70);
	SSVAL(b, RD_CI_LEN, 16);
	SBVAL(b, 0x70, 0xFFFF888812340000ULL);
	SIVAL(b, 0x78, 0xABCD0001);
	SIVAL(b, 0x7C, len);
	return b;
}

/* cifs.ko's RDMA WRITE (0x80 bytes) */
static uint8_t *rdma_write(TALLOC_CTX *mem_ctx, uint64_t mid, uint32_t len)
{
	uint8_t *b = new_hdr(mem_ctx, 0x80, SMB2_OP_WRITE, mid);

	SSVAL(b, 0x40, 49);
	SIVAL(b, WR_LENGTH, 0);
	SBVAL(b, 0x48, 0x20000);
	SBVAL(b, 0x50, 0x3333);
	SBVAL(b, 0x58, 0x4444);
	SIVAL(b, WR_CHANNEL, SMB2_CHANNEL_RDMA_V1_INVALIDATE);
	SIVAL(b, WR_REMAINING, len);
	SSVAL(b, WR_CI_OFS, 0x70);
	SSVAL(b, WR_CI_LEN, 16);
	SBVAL(b, 0x70, 0xFFFF888856780000ULL);
	SIVAL(b, 0x78, 0xABCD0002);
	SIVAL(b, 0x7C, len);
	return b;
}

/* Sign one element (at elem, elem_len bytes) as a peer would. */
static void peer_sign(struct smb2_signing_key *key, uint8_t *elem,
		      size_t elem_len)
{
	struct iovec iov[2] = {
		{ .iov_base = elem, .iov_len = SMB2_HDR_BODY },
		{ .iov_base = elem + SMB2_HDR_BODY,
		  .iov_len = elem_len - SMB2_HDR_BODY },
	};

	assert_true(NT_STATUS_IS_OK(smb2_signing_sign_pdu(key, iov, 2)));
}

/* Check one element as smbd (or the client) would. */
static bool peer_check(struct smb2_signing_key *key, const uint8_t *elem,
		       size_t elem_len)
{
	struct iovec iov[2] = {
		{ .iov_base = discard_const_p(uint8_t, elem),
		  .iov_len = SMB2_HDR_BODY },
		{ .iov_base = discard_const_p(uint8_t, elem + SMB2_HDR_BODY),
		  .iov_len = elem_len - SMB2_HDR_BODY },
	};

	return NT_STATUS_IS_OK(smb2_signing_check_pdu(key, iov, 2));
}

static bool check_all(struct smb2_signing_key *key, const uint8_t *pdu,
		      size_t len, size_t want_elems)
{
	struct smbdirectd_smb2_elem elems[SMBDIRECTD_SMB2_MAX_CHAIN];
	size_t n = 0;
	size_t i;

	assert_true(smbdirectd_smb2_split(pdu, len, elems, &n));
	assert_int_equal(n, want_elems);
	for (i = 0; i < n; i++) {
		if (!peer_check(key, pdu + elems[i].ofs, elems[i].len)) {
			return false;
		}
	}
	return true;
}

/* READ: client signs, we verify, rewrite, sign again, smbd checks. */
static void test_read_round_trip(void **state)
{
	size_t a;

	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		TALLOC_CTX *frame = talloc_stackframe();
		struct keyring k = {
			.key = new_key(frame, algos[a], 1),
			.want_sid = SID,
		};
		struct smbdirectd_smb2_rdma_req *reqs = NULL;
		size_t num_reqs = 0;
		struct smbdirect_err err = {0};
		uint8_t *pdu = rdma_read(frame, 7, 65536);
		uint8_t *out = NULL;
		size_t out_len = 0;
		uint64_t mid = 99;

		SIVAL(pdu, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
		peer_sign(k.key, pdu, 0x80);
		assert_true(smbdirectd_smb2_any_signed(pdu, 0x80));
		assert_int_equal(smbdirectd_smb2_verify(pdu, 0x80, key_fn, &k,
							&mid, &err), 0);
		assert_int_equal(mid, 0);

		assert_int_equal(smbdirectd_smb2_parse_rdma(frame, pdu, 0x80,
							    MAX_RW, 16, &reqs,
							    &num_reqs, &err),
				 0);
		assert_int_equal(num_reqs, 1);
		assert_true(reqs[0].is_signed);
		out = smbdirectd_smb2_inline_request(frame, pdu, 0x80, reqs,
						     num_reqs, NULL, &out_len,
						     &err);
		assert_non_null(out);
		assert_int_equal(IVAL(out, RD_CHANNEL), 0);
		/* rewritten, the client's signature no longer holds */
		assert_false(check_all(k.key, out, out_len, 1));
		assert_int_equal(smbdirectd_smb2_sign(out, out_len, NULL, 0,
						      key_fn, &k, &mid, &err),
				 0);
		assert_true(check_all(k.key, out, out_len, 1));
		assert_true(IVAL(out, H_FLAGS) & SMB2_HDR_FLAG_SIGNED);
		TALLOC_FREE(frame);
	}
}

/* WRITE: both ways smbdirectd builds it (whole PDU; head + pool tail). */
static void test_write_round_trip(void **state)
{
	size_t a;

	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		TALLOC_CTX *frame = talloc_stackframe();
		struct keyring k = {
			.key = new_key(frame, algos[a], 2),
			.want_sid = SID,
		};
		struct smbdirectd_smb2_rdma_req *reqs = NULL;
		struct smbdirectd_smb2_write_data wd = {0};
		size_t num_reqs = 0;
		struct smbdirect_err err = {0};
		uint8_t *pdu = rdma_write(frame, 8, 10000);
		uint8_t *payload = talloc_size(frame, 10000);
		uint8_t *out = NULL;
		uint8_t *head = NULL;
		uint8_t *wire = NULL;
		size_t out_len = 0;
		size_t head_len = 0;
		uint64_t mid = 0;
		size_t i;

		assert_non_null(payload);
		for (i = 0; i < 10000; i++) {
			payload[i] = (uint8_t)(i * 31 + a);
		}
		SIVAL(pdu, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
		peer_sign(k.key, pdu, 0x80);
		assert_int_equal(smbdirectd_smb2_verify(pdu, 0x80, key_fn, &k,
							&mid, &err), 0);
		assert_int_equal(smbdirectd_smb2_parse_rdma(frame, pdu, 0x80,
							    MAX_RW, 16, &reqs,
							    &num_reqs, &err),
				 0);
		assert_int_equal(num_reqs, 1);

		/* the whole new PDU */
		wd = (struct smbdirectd_smb2_write_data) {
			.data = payload, .len = 10000,
		};
		out = smbdirectd_smb2_inline_request(frame, pdu, 0x80, reqs, 1,
						     &wd, &out_len, &err);
		assert_non_null(out);
		assert_int_equal(out_len, 0x70 + 10000);
		assert_int_equal(smbdirectd_smb2_sign(out, out_len, NULL, 0,
						      key_fn, &k, &mid, &err),
				 0);
		assert_true(check_all(k.key, out, out_len, 1));

		/* head signed with the payload as tail */
		head = smbdirectd_smb2_inline_write_head(frame, pdu, 0x80,
							 &reqs[0], &head_len,
							 &err);
		assert_non_null(head);
		assert_int_equal(head_len, 0x70);
		assert_int_equal(smbdirectd_smb2_sign(head, head_len, payload,
						      10000, key_fn, &k, &mid,
						      &err),
				 0);
		wire = talloc_size(frame, head_len + 10000);
		assert_non_null(wire);
		memcpy(wire, head, head_len);
		memcpy(wire + head_len, payload, 10000);
		assert_true(check_all(k.key, wire, head_len + 10000, 1));
		/* both ways give the same bytes, signature included */
		assert_memory_equal(wire, out, out_len);
		/* a payload byte changed: smbd must refuse it */
		wire[head_len + 5000] ^= 1;
		assert_false(check_all(k.key, wire, head_len + 10000, 1));
		TALLOC_FREE(frame);
	}
}

/* READ response: smbd signs, we rewrite to the RDMA form, sign again. */
static void test_read_response(void **state)
{
	size_t a;

	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		TALLOC_CTX *frame = talloc_stackframe();
		struct keyring k = {
			.key = new_key(frame, algos[a], 3),
			.want_sid = SID,
		};
		struct smbdirectd_smb2_read_rsp r = {0};
		struct smbdirect_err err = {0};
		size_t len = 0x50 + 4096;
		uint8_t *rsp = new_hdr(frame, len, SMB2_OP_READ, 9);
		uint8_t *out = NULL;
		size_t out_len = 0;
		uint64_t mid = 0;

		SIVAL(rsp, H_FLAGS, SMB2_HDR_FLAG_REDIRECT);
		SSVAL(rsp, 0x40, 17);
		SCVAL(rsp, RR_DATA_OFS, 0x50);
		SIVAL(rsp, RR_DATA_LEN, 4096);
		memset(rsp + 0x50, 0x42, 4096);
		peer_sign(k.key, rsp, len);

		assert_true(smbdirectd_smb2_find_read_rsp(rsp, len, 9, &r,
							  &err));
		assert_true(r.is_signed);
		assert_int_equal(r.data_len, 4096);
		out = smbdirectd_smb2_rdma_read_response(frame, rsp, len, &r,
							 4096, &out_len, &err);
		assert_non_null(out);
		assert_int_equal(out_len, 0x50);
		assert_int_equal(IVAL(out, RR_DATA_LEN), 0);
		assert_int_equal(IVAL(out, RR_DATA_REMAINING), 4096);
		assert_false(check_all(k.key, out, out_len, 1));
		assert_int_equal(smbdirectd_smb2_sign(out, out_len, NULL, 0,
						      key_fn, &k, &mid, &err),
				 0);
		assert_true(check_all(k.key, out, out_len, 1));
		TALLOC_FREE(frame);
	}
}

/* A compound: READ + related READ (SessionId all ones), each signed. */
static void test_compound(void **state)
{
	size_t a;

	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		TALLOC_CTX *frame = talloc_stackframe();
		struct keyring k = {
			.key = new_key(frame, algos[a], 4),
			.want_sid = SID,
		};
		struct smbdirectd_smb2_rdma_req *reqs = NULL;
		size_t num_reqs = 0;
		struct smbdirect_err err = {0};
		uint8_t *pdu = talloc_zero_size(frame, 0x100);
		uint8_t *e1 = rdma_read(frame, 10, 8192);
		uint8_t *e2 = rdma_read(frame, 11, 4096);
		uint8_t *out = NULL;
		size_t out_len = 0;
		uint64_t mid = 0;

		assert_non_null(pdu);
		SIVAL(e1, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
		SIVAL(e1, H_NEXT, 0x80);
		SIVAL(e2, H_FLAGS,
		      SMB2_HDR_FLAG_SIGNED | SMB2_HDR_FLAG_CHAINED);
		SBVAL(e2, H_SID, UINT64_MAX);
		memcpy(pdu, e1, 0x80);
		memcpy(pdu + 0x80, e2, 0x80);
		peer_sign(k.key, pdu, 0x80);
		peer_sign(k.key, pdu + 0x80, 0x80);

		assert_int_equal(smbdirectd_smb2_verify(pdu, 0x100, key_fn, &k,
							&mid, &err), 0);
		/* the related element inherits the session: no other lookup */
		assert_int_equal(k.refreshes, 0);
		assert_int_equal(smbdirectd_smb2_parse_rdma(frame, pdu, 0x100,
							    MAX_RW, 16, &reqs,
							    &num_reqs, &err),
				 0);
		assert_int_equal(num_reqs, 2);
		out = smbdirectd_smb2_inline_request(frame, pdu, 0x100, reqs, 2,
						     NULL, &out_len, &err);
		assert_non_null(out);
		assert_int_equal(smbdirectd_smb2_sign(out, out_len, NULL, 0,
						      key_fn, &k, &mid, &err),
				 0);
		assert_true(check_all(k.key, out, out_len, 2));

		/* the second element tampered with: refused, its MessageId */
		pdu[0x80 + 0x48] ^= 0x01; /* its file offset */
		assert_int_equal(smbdirectd_smb2_verify(pdu, 0x100, key_fn, &k,
							&mid, &err), EACCES);
		assert_int_equal(mid, 11);
		TALLOC_FREE(frame);
	}
}

/* Tampered PDUs, forged signatures, no key: refused, never re-signed. */
static void test_refused(void **state)
{
	size_t a;

	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		TALLOC_CTX *frame = talloc_stackframe();
		struct keyring k = {
			.key = new_key(frame, algos[a], 5),
			.want_sid = SID,
		};
		struct smb2_signing_key *other = new_key(frame, algos[a], 6);
		struct smbdirect_err err = {0};
		uint8_t *pdu = rdma_write(frame, 12, 4096);
		uint8_t *copy = NULL;
		uint64_t mid = 0;

		SIVAL(pdu, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
		peer_sign(k.key, pdu, 0x80);
		copy = talloc_memdup(frame, pdu, 0x80);

		/* a changed descriptor (where the data comes from) */
		copy[0x78] ^= 0x80;
		k.refreshes = 0;
		assert_int_equal(smbdirectd_smb2_verify(copy, 0x80, key_fn, &k,
							&mid, &err), EACCES);
		assert_int_equal(mid, 12);
		assert_non_null(strstr(err.reason, "does not verify"));
		/* a bad signature makes it read the key again, once */
		assert_int_equal(k.refreshes, 1);

		/* a forged signature */
		memcpy(copy, pdu, 0x80);
		memset(copy + H_SIG, 0x5A, 16);
		assert_int_equal(smbdirectd_smb2_verify(copy, 0x80, key_fn, &k,
							&mid, &err), EACCES);

		/* signed with another key (another session's, say) */
		memcpy(copy, pdu, 0x80);
		peer_sign(other, copy, 0x80);
		assert_int_equal(smbdirectd_smb2_verify(copy, 0x80, key_fn, &k,
							&mid, &err), EACCES);

		/* no key for the session */
		k.want_sid = SID + 1;
		assert_int_equal(smbdirectd_smb2_verify(pdu, 0x80, key_fn, &k,
							&mid, &err), ENOKEY);
		assert_int_equal(smbdirectd_smb2_sign(pdu, 0x80, NULL, 0,
						      key_fn, &k, &mid, &err),
				 ENOKEY);
		k.want_sid = SID;

		/* SessionId 0: Samba's check would pass it unchecked */
		memcpy(copy, pdu, 0x80);
		SBVAL(copy, H_SID, 0);
		assert_int_equal(smbdirectd_smb2_verify(copy, 0x80, key_fn, &k,
							&mid, &err), EPROTO);

		/* the untouched original still verifies */
		assert_int_equal(smbdirectd_smb2_verify(pdu, 0x80, key_fn, &k,
							&mid, &err), 0);
		TALLOC_FREE(frame);
	}
}

/* What Samba would panic on is refused before it gets there. */
static void test_sign_refuses_unsignable(void **state)
{
	TALLOC_CTX *frame = talloc_stackframe();
	struct keyring k = {
		.key = new_key(frame, SMB2_SIGNING_AES128_GMAC, 7),
		.want_sid = SID,
	};
	struct smbdirect_err err = {0};
	uint8_t *pdu = rdma_read(frame, 0, 4096);
	uint64_t mid = 0;

	SIVAL(pdu, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
	assert_int_equal(smbdirectd_smb2_sign(pdu, 0x80, NULL, 0, key_fn, &k,
					      &mid, &err),
			 EPROTO);
	SBVAL(pdu, H_MID, UINT64_MAX);
	assert_int_equal(smbdirectd_smb2_sign(pdu, 0x80, NULL, 0, key_fn, &k,
					      &mid, &err),
			 EPROTO);
	TALLOC_FREE(frame);
}

/* Encrypted (transform) and unsigned PDUs are left alone. */
static void test_transform_and_unsigned(void **state)
{
	TALLOC_CTX *frame = talloc_stackframe();
	struct smbdirectd_smb2_rdma_req *reqs = NULL;
	size_t num_reqs = 99;
	struct smbdirect_err err = {0};
	uint8_t *pdu = rdma_read(frame, 13, 4096);
	uint8_t *tr = talloc_zero_size(frame, 52 + 0x80);

	assert_non_null(tr);
	assert_false(smbdirectd_smb2_any_signed(pdu, 0x80));
	memcpy(tr, "\xfdSMB", 4);
	memcpy(tr + 52, pdu, 0x80);
	SIVAL(tr + 52, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
	assert_false(smbdirectd_smb2_any_signed(tr, 52 + 0x80));
	assert_int_equal(smbdirectd_smb2_parse_rdma(frame, tr, 52 + 0x80,
						    MAX_RW, 16, &reqs,
						    &num_reqs, &err),
			 0);
	assert_int_equal(num_reqs, 0);
	TALLOC_FREE(frame);
}

/* ------------------------------------------------------------------ */
/* smbXsrv_session_global.tdb records                                  */

static DATA_BLOB session_record(TALLOC_CTX *mem_ctx, uint64_t wire_id,
				const char *ours, uint16_t algo,
				size_t key_len)
{
	struct smbXsrv_channel_global0 ch[2] = {
		{
			.channel_id = 1,
			.local_address = "ipv4:10.77.0.1:445",
			.remote_address = "ipv4:10.77.0.1:50000",
			.remote_name = "tcp",
			.signing_key_blob = data_blob_talloc(mem_ctx,
				"AAAAAAAAAAAAAAAA", 16),
			.signing_algo = SMB2_SIGNING_AES128_CMAC,
		},
		{
			.channel_id = 2,
			.local_address = "ipv4:127.0.0.1:445",
			.remote_address = ours,
			.remote_name = "smbdirectd",
			.signing_key_blob = data_blob_talloc(mem_ctx,
				"BBBBBBBBBBBBBBBBBBBB", key_len),
			.signing_algo = algo,
		},
	};
	struct smbXsrv_session_global0 g = {
		.session_global_id = (uint32_t)wire_id,
		.session_wire_id = wire_id,
		.num_channels = 2,
		.channels = ch,
	};
	struct smbXsrv_session_globalB b = {
		.version = SMBXSRV_VERSION_0,
		.info.info0 = &g,
	};
	DATA_BLOB blob = {0};
	enum ndr_err_code ndr_err;

	ndr_err = ndr_push_struct_blob(
		&blob, mem_ctx, &b,
		(ndr_push_flags_fn_t)ndr_push_smbXsrv_session_globalB);
	assert_true(NDR_ERR_CODE_IS_SUCCESS(ndr_err));
	return blob;
}

static void test_record_picks_our_channel(void **state)
{
	TALLOC_CTX *frame = talloc_stackframe();
	const char *ours = "ipv4:127.0.0.1:41234";
	struct smb2_signing_key *key = NULL;
	DATA_BLOB rec;
	NTSTATUS status;
	size_t a;

	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		rec = session_record(frame, 0x1234, ours, algos[a], 16);
		status = smbdirectd_session_key_from_record(
			frame, rec.data, rec.length, 0x1234, ours, &key);
		assert_true(NT_STATUS_IS_OK(status));
		assert_non_null(key);
		assert_int_equal(key->sign_algo_id, algos[a]);
		assert_int_equal(key->blob.length, 16);
		assert_memory_equal(key->blob.data, "BBBBBBBBBBBBBBBB", 16);
		TALLOC_FREE(key);
	}

	/* the other channel's remote address picks the other key */
	rec = session_record(frame, 0x1234, ours, SMB2_SIGNING_AES128_CMAC,
			     16);
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, 0x1234, "ipv4:10.77.0.1:50000",
		&key);
	assert_true(NT_STATUS_IS_OK(status));
	assert_memory_equal(key->blob.data, "AAAAAAAAAAAAAAAA", 16);
	TALLOC_FREE(key);

	/* no channel from this port (another connection of smbdirectd) */
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, 0x1234, "ipv4:127.0.0.1:41235",
		&key);
	assert_true(NT_STATUS_EQUAL(status, NT_STATUS_NOT_FOUND));
	assert_null(key);

	/* not the record of this session */
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, 0x1235, ours, &key);
	assert_true(NT_STATUS_EQUAL(status,
				    NT_STATUS_INTERNAL_DB_CORRUPTION));

	/* no key yet (SESSION_SETUP not finished) */
	rec = session_record(frame, 0x1234, ours, SMB2_SIGNING_AES128_CMAC, 0);
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, 0x1234, ours, &key);
	assert_true(NT_STATUS_EQUAL(status, NT_STATUS_NOT_FOUND));

	/* a key of a length smbd never writes */
	rec = session_record(frame, 0x1234, ours, SMB2_SIGNING_AES128_CMAC, 20);
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, 0x1234, ours, &key);
	assert_true(NT_STATUS_EQUAL(status,
				    NT_STATUS_INTERNAL_DB_CORRUPTION));

	/* an algorithm we cannot sign with */
	rec = session_record(frame, 0x1234, ours, 0x0007, 16);
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, 0x1234, ours, &key);
	assert_true(NT_STATUS_EQUAL(status, NT_STATUS_HMAC_NOT_SUPPORTED));

	/* truncated: does not parse */
	rec = session_record(frame, 0x1234, ours, SMB2_SIGNING_AES128_CMAC,
			     16);
	status = smbdirectd_session_key_from_record(
		frame, rec.data, rec.length / 2, 0x1234, ours, &key);
	assert_true(NT_STATUS_EQUAL(status,
				    NT_STATUS_INTERNAL_DB_CORRUPTION));
	TALLOC_FREE(frame);
}

/* A key read from a record signs what Samba's check accepts. */
static void test_record_key_signs(void **state)
{
	TALLOC_CTX *frame = talloc_stackframe();
	const char *ours = "ipv4:127.0.0.1:41234";
	DATA_BLOB rec = session_record(frame, SID, ours,
				       SMB2_SIGNING_AES128_GMAC, 16);
	DATA_BLOB raw = data_blob_const("BBBBBBBBBBBBBBBB", 16);
	struct smb2_signing_key *smbd_key = NULL;
	struct keyring k = { .want_sid = SID };
	struct smbdirect_err err = {0};
	uint8_t *pdu = rdma_read(frame, 14, 4096);
	uint64_t mid = 0;

	assert_true(NT_STATUS_IS_OK(smbdirectd_session_key_from_record(
		frame, rec.data, rec.length, SID, ours, &k.key)));
	assert_true(NT_STATUS_IS_OK(smb2_signing_key_sign_create(
		frame, SMB2_SIGNING_AES128_GMAC, &raw, NULL, &smbd_key)));
	SIVAL(pdu, H_FLAGS, SMB2_HDR_FLAG_SIGNED);
	assert_int_equal(smbdirectd_smb2_sign(pdu, 0x80, NULL, 0, key_fn, &k,
					      &mid, &err),
			 0);
	assert_true(peer_check(smbd_key, pdu, 0x80));
	TALLOC_FREE(frame);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_round_trip),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_read_response),
		cmocka_unit_test(test_compound),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_sign_refuses_unsignable),
		cmocka_unit_test(test_transform_and_unsigned),
		cmocka_unit_test(test_record_picks_our_channel),
		cmocka_unit_test(test_record_key_signs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
