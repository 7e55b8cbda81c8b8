/*
 * The zero-copy agreement between smbdirectd and vfs_smbdirect
 *
 * Both sides include this header; it is the whole contract.
 *
 * smbdirectd moves the payload of an offloaded SMB2 READ/WRITE between
 * the client and its registered pool by RDMA. Without this agreement the
 * payload then crosses the loopback TCP connection and smbd's heap. With
 * it, vfs_smbdirect (inside the smbd that serves the connection) moves
 * the payload straight between the file and the pool slot:
 *
 * 1. Attach. At tree connect the module connects to smbdirectd's control
 *    socket (a UNIX socket only root may use) and sends an attach request
 *    naming smbdirectd's end of its loopback connection (the TCP port
 *    smbd sees as the peer). smbdirectd answers with two descriptors:
 *    the memfd of its registered pool and the memfd of this connection's
 *    table (struct smbdirect_zc_table). From then on smbdirectd
 *    publishes the connection's offloaded requests in the table.
 *
 * 2. READ. smbdirectd publishes (MessageId, FileId, offset, length, pool
 *    offset) before it forwards the READ. smbd applies all its checks
 *    (access, share modes, byte-range locks, leases) and, on a share
 *    with "use sendfile = yes", calls SMB_VFS_SENDFILE with the response
 *    header. The module claims the entry whose MessageId is that
 *    header's, preads the file into the pool slot, marks the entry DONE
 *    with the byte count, and only then writes the header alone to the
 *    socket. smbdirectd reads the header, finds the entry DONE and takes
 *    the payload from the slot: the stream carries no payload for it.
 *
 * 3. WRITE. smbdirectd publishes (FileId, offset, length, pool offset)
 *    and forwards the WRITE with its payload written from the pool slot
 *    (smbd 4.17 must be able to drain those bytes from the socket on its
 *    error paths, so they are always sent). With "min receivefile size"
 *    set, smbd checks the request and calls SMB_VFS_RECVFILE; the module
 *    claims the entry with the same FileId, offset and length, pwrites
 *    the file from the pool slot and discards the bytes on the socket
 *    without copying them (MSG_TRUNC). smbdirectd never publishes two
 *    WRITEs with the same key at once, so the claim is unambiguous.
 *
 * 3a. Asynchronous READ and WRITE (smbd's defaults: "aio read size" and
 *    "aio write size" 1, no sendfile, no recvfile). smbd hands the
 *    request to SMB_VFS_PREAD_SEND / PWRITE_SEND. The module claims the
 *    entry by MessageId and the whole key (FileId, offset, length:
 *    smbdirect_zc_claim()), and a forked helper process preads into or
 *    pwrites from the slot directly (it maps the pool too). smbd's own
 *    buffer is not touched: for a WRITE it holds the payload copy smbd
 *    read from the socket, which is not written; for a READ smbd sends
 *    its buffer's (unused) bytes after the header, and the module marks
 *    the entry DONE_RELAYED: smbdirectd drops those bytes unread
 *    (MSG_TRUNC) and RDMA-writes the slot.
 *
 * 4. Retire. When smbd's response to the request arrives, smbdirectd
 *    frees the entry. An entry nobody claimed (module not loaded on that
 *    share, sendfile off, a signed request, an error before the I/O)
 *    simply went the copying way: correctness never depends on the
 *    module. A module that gives up after claiming marks the entry
 *    DECLINED before the bytes go on the socket.
 *
 * Concurrency: smbdirectd alone moves an entry FREE -> PUBLISHED (after
 * filling it in) and back to FREE; the module alone moves PUBLISHED ->
 * CLAIMED (compare-and-swap) -> DONE, DONE_RELAYED or DECLINED. State
 * changes are release stores, state reads acquire loads. Retiring is a
 * compare-and-swap too: an entry smbdirectd takes back while PUBLISHED
 * can no longer be claimed, and one that is CLAIMED cannot be retired.
 *
 * The slot of a CLAIMED entry belongs to the module: smbdirectd never
 * reuses it, even after smbd's response or the end of the connection,
 * until the entry leaves CLAIMED or every process that may map the pool
 * through this link is gone. The module leaves CLAIMED only once no
 * process of its own can still touch the slot (its helper answered, or
 * was seen to exit: a process unmaps its memory before its descriptors
 * close). The guard tells smbdirectd about the second case: the attach
 * request carries the read end of a pipe whose write end smbd and each
 * helper that maps the pool keep open; end of file on it means none of
 * them runs any more.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECT_ZEROCOPY_H_
#define _SMBDIRECT_ZEROCOPY_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Change the version with any change to the layouts below. */
#define SMBDIRECT_ZC_MAGIC 0x5a43424dU /* "MBCZ" */
#define SMBDIRECT_ZC_VERSION 2

/* Entries per connection: enough for the credits cifs.ko and Windows use. */
#define SMBDIRECT_ZC_ENTRIES 256

/* The control socket's default name in smbd's lock directory. */
#define SMBDIRECT_ZC_SOCKET_NAME "smbdirectd.sock"

/* The SMB2 opcodes of READ and WRITE ([MS-SMB2] 2.2.1). */
#define SMBDIRECT_ZC_OP_READ 0x0008
#define SMBDIRECT_ZC_OP_WRITE 0x0009

enum smbdirect_zc_state {
	SMBDIRECT_ZC_FREE = 0,
	SMBDIRECT_ZC_PUBLISHED = 1,
	SMBDIRECT_ZC_CLAIMED = 2,
	SMBDIRECT_ZC_DONE = 3,
	SMBDIRECT_ZC_DECLINED = 4,
	/* DONE, and smbd relays result bytes of its own after the header */
	SMBDIRECT_ZC_DONE_RELAYED = 5,
};

struct smbdirect_zc_entry {
	uint32_t state; /* enum smbdirect_zc_state, atomic */
	uint32_t op;	/* SMBDIRECT_ZC_OP_READ or _WRITE */
	uint64_t seq;	/* publication order */
	uint64_t message_id;
	uint64_t file_id_persistent;
	uint64_t file_id_volatile;
	uint64_t offset;      /* in the file */
	uint64_t pool_offset; /* of the slot in the pool memfd */
	uint32_t length;      /* of the request and of the slot */
	uint32_t result;      /* DONE: bytes the module moved */
};

struct smbdirect_zc_table {
	uint32_t magic;
	uint32_t version;
	uint32_t num_entries;
	uint32_t entry_size;
	uint64_t pool_size;
	uint64_t next_seq; /* smbdirectd's */
	struct smbdirect_zc_entry entries[SMBDIRECT_ZC_ENTRIES];
};

/*
 * Attach request, module to smbdirectd, over the control socket. It
 * carries one descriptor (SCM_RIGHTS): the guard's read end.
 */
struct smbdirect_zc_attach_req {
	uint32_t magic;
	uint32_t version;
	uint32_t smbdirectd_port; /* the loopback peer port smbd sees */
	uint32_t reserved;
};

/*
 * Attach response. With status 0 it carries two descriptors
 * (SCM_RIGHTS): the pool memfd, then the table memfd.
 */
struct smbdirect_zc_attach_rsp {
	uint32_t magic;
	uint32_t version;
	int32_t status; /* 0 or an errno value */
	uint32_t reserved;
	uint64_t pool_size;
	uint64_t table_size;
};

/* smbdirectd's side */
void smbdirect_zc_table_init(struct smbdirect_zc_table *t,
			     uint64_t pool_size);
/*
 * Fill a free entry from *e (state and seq are set here) and publish it.
 * Returns its index, or -1 when the table is full.
 */
int smbdirect_zc_publish(struct smbdirect_zc_table *t,
			 const struct smbdirect_zc_entry *e);
/* Is a WRITE with this key published and not yet retired? */
bool smbdirect_zc_write_key_busy(const struct smbdirect_zc_table *t,
				 uint64_t file_id_persistent,
				 uint64_t file_id_volatile,
				 uint64_t offset,
				 uint32_t length);
/*
 * Take an entry back (FREE). False when it is CLAIMED: the module works
 * on its slot, which must then stay reserved until it is not.
 */
bool smbdirect_zc_retire(struct smbdirect_zc_table *t, int idx);

/* vfs_smbdirect's side */
/* Is a mapped table of size bytes one this module understands? */
bool smbdirect_zc_table_valid(const struct smbdirect_zc_table *t,
			      size_t size,
			      uint64_t pool_size);
/*
 * Claim the published READ with this MessageId when FileId and offset
 * match and count fits. Returns the index, or -1.
 */
int smbdirect_zc_claim_read(struct smbdirect_zc_table *t,
			    uint64_t message_id,
			    uint64_t file_id_persistent,
			    uint64_t file_id_volatile,
			    uint64_t offset,
			    uint32_t count);
/*
 * The asynchronous path: claim the published entry of op with this
 * MessageId when FileId and offset match and count fits (a WRITE: count
 * is the length). Returns the index, or -1.
 */
int smbdirect_zc_claim(struct smbdirect_zc_table *t,
		       uint32_t op,
		       uint64_t message_id,
		       uint64_t file_id_persistent,
		       uint64_t file_id_volatile,
		       uint64_t offset,
		       uint32_t count);
/* Claim the oldest published WRITE with exactly this key, or -1. */
int smbdirect_zc_claim_write(struct smbdirect_zc_table *t,
			     uint64_t file_id_persistent,
			     uint64_t file_id_volatile,
			     uint64_t offset,
			     uint32_t length);
void smbdirect_zc_finish(struct smbdirect_zc_table *t, int idx,
			 uint32_t result);
/* A READ done, smbd relays result bytes of its own: DONE_RELAYED. */
void smbdirect_zc_finish_relayed(struct smbdirect_zc_table *t, int idx,
				 uint32_t result);
void smbdirect_zc_decline(struct smbdirect_zc_table *t, int idx);

/* Both: the state of an entry (acquire). */
enum smbdirect_zc_state smbdirect_zc_state(const struct smbdirect_zc_table *t,
					   int idx);

#endif
