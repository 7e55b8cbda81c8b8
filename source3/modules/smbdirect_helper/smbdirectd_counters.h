/*
 * smbdirectd: what a connection and the whole daemon count
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_COUNTERS_H_
#define _SMBDIRECTD_COUNTERS_H_

#include "replace.h"
#include <talloc.h>

/* Bytes and messages moved, per connection and for the whole daemon. */
struct smbdirectd_counters {
	uint64_t pdus_to_smbd;
	uint64_t bytes_to_smbd;
	uint64_t pdus_to_client;
	uint64_t bytes_to_client;
	uint64_t rdma_sends;
	uint64_t rdma_recvs;
	uint64_t errors;

	/* SMB2 WRITE whose data came by RDMA READ from the client */
	uint64_t offload_write_ops;
	uint64_t offload_write_bytes;
	/* SMB2 READ whose data went by RDMA WRITE to the client */
	uint64_t offload_read_ops;
	uint64_t offload_read_bytes;
	/* offloaded requests that failed (RDMA error, bad descriptors) */
	uint64_t offload_failures;
	/*
	 * Of the offloaded ones: those vfs_smbdirect moved between the file
	 * and the pool itself (the zero-copy link); the rest were copied
	 * through the loopback connection and smbd.
	 */
	uint64_t zero_copy_write_ops;
	uint64_t zero_copy_write_bytes;
	uint64_t zero_copy_read_ops;
	uint64_t zero_copy_read_bytes;
	/*
	 * Signed READ/WRITE requests with an RDMA channel whose signature
	 * verified and that were signed again for smbd; and those refused
	 * because it did not verify (or there was no key to verify it).
	 */
	uint64_t signed_offload_ops;
	uint64_t signature_refused;
};

void smbdirectd_counters_add(struct smbdirectd_counters *sum,
			     const struct smbdirectd_counters *c);

/* "key=value" pairs of a set of counters, for the status file and logs. */
char *smbdirectd_counters_string(TALLOC_CTX *mem_ctx,
				 const struct smbdirectd_counters *c);

#endif
