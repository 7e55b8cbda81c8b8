/*
 * vfs_smbdirect: the module's side of the zero-copy link with smbdirectd
 * (smbdirect_helper/proto/smbdirect_zerocopy.h). No smbd internals here: plain
 * descriptors and ids, so the VFS glue in vfs_smbdirect.c stays thin.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _VFS_SMBDIRECT_ZEROCOPY_H_
#define _VFS_SMBDIRECT_ZEROCOPY_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <talloc.h>

struct smbdirect_zc_link;

/*
 * Attach the smbd connection on transport_fd to smbdirectd through the
 * control socket at socket_path: map its pool and this connection's
 * table. NULL with errno: EAFNOSUPPORT when transport_fd is not a
 * loopback TCP connection (a client of smbd's own), ENOENT when
 * smbdirectd knows no such connection, anything else when smbdirectd is
 * not there or failed; *what then names the step that failed.
 */
struct smbdirect_zc_link *smbdirect_zc_attach(TALLOC_CTX *mem_ctx,
					      const char *socket_path,
					      int transport_fd,
					      const char **what);

/*
 * The port of smbdirectd's end when fd is a loopback TCP connection
 * (what names the connection to smbdirectd); false for anything else.
 */
bool smbdirect_zc_peer_port(int fd, uint16_t *port);

/* The file's SMB2 FileId and the byte range of a READ or WRITE. */
struct smbdirect_zc_io {
	uint64_t file_id_persistent;
	uint64_t file_id_volatile;
	int file_fd;
	off_t offset;
	size_t count;
};

/*
 * SMB_VFS_SENDFILE: if smbdirectd published the READ whose response
 * header is hdr, read the file into its pool slot, then write hdr alone
 * to sock. *claimed false: not ours (or given back before anything was
 * sent), the caller sends the usual way. Claimed, returns io->count or
 * -1 with errno (smbd then ends the connection).
 */
ssize_t smbdirect_zc_sendfile(struct smbdirect_zc_link *link,
			      int sock,
			      const uint8_t *hdr,
			      size_t hdr_len,
			      const struct smbdirect_zc_io *io,
			      bool *claimed);

/*
 * SMB_VFS_RECVFILE: if smbdirectd published this WRITE, write the file
 * from its pool slot and discard the io->count payload bytes waiting on
 * sock without copying them. *claimed false: not ours, nothing read.
 * Claimed, returns io->count, or -1 with errno after draining the
 * socket all the same.
 */
ssize_t smbdirect_zc_recvfile(struct smbdirect_zc_link *link,
			      int sock,
			      const struct smbdirect_zc_io *io,
			      bool *claimed);

/*
 * The asynchronous path (SMB_VFS_PREAD_SEND / PWRITE_SEND, run in a
 * forked helper): claim the published READ or WRITE (op is
 * SMBDIRECT_ZC_OP_READ or _WRITE) with this MessageId and io's FileId,
 * offset and count. Returns the entry's index and in *pool_offset where
 * its slot starts in the pool (smbdirect_zc_pool_fd), or -1: not ours,
 * smbd's buffer is used as usual.
 */
int smbdirect_zc_async_claim(struct smbdirect_zc_link *link,
			     uint32_t op,
			     uint64_t message_id,
			     const struct smbdirect_zc_io *io,
			     uint64_t *pool_offset);
/*
 * The helper is done with the slot of entry idx (it answered, or it was
 * seen to exit): result is what pread/pwrite returned (-1: failed).
 * A READ is DONE_RELAYED (smbd relays its own unused buffer, smbdirectd
 * drops it), a WRITE DONE only when all of it was written.
 */
void smbdirect_zc_async_done(struct smbdirect_zc_link *link,
			     int idx,
			     ssize_t result);
/*
 * For smbdirect_io_args.ext_release: the request of entry idx was freed
 * and no helper touches its slot any more: give it up (DECLINED).
 */
void *smbdirect_zc_async_token(struct smbdirect_zc_link *link, int idx);
void smbdirect_zc_async_release(void *token);

/* The pool for the helpers: its memfd, size and the link's guard. */
int smbdirect_zc_pool_fd(const struct smbdirect_zc_link *link);
/* The pool as this process maps it (smbd's own asynchronous I/O). */
uint8_t *smbdirect_zc_pool_base(const struct smbdirect_zc_link *link);
uint64_t smbdirect_zc_pool_size(const struct smbdirect_zc_link *link);
int smbdirect_zc_guard_fd(const struct smbdirect_zc_link *link);

#endif
