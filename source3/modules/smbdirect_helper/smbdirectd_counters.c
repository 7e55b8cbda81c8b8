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

#include "replace.h"
#include "smbdirectd_counters.h"

void smbdirectd_counters_add(struct smbdirectd_counters *sum,
			     const struct smbdirectd_counters *c)
{
	sum->pdus_to_smbd += c->pdus_to_smbd;
	sum->bytes_to_smbd += c->bytes_to_smbd;
	sum->pdus_to_client += c->pdus_to_client;
	sum->bytes_to_client += c->bytes_to_client;
	sum->rdma_sends += c->rdma_sends;
	sum->rdma_recvs += c->rdma_recvs;
	sum->errors += c->errors;
	sum->offload_write_ops += c->offload_write_ops;
	sum->offload_write_bytes += c->offload_write_bytes;
	sum->offload_read_ops += c->offload_read_ops;
	sum->offload_read_bytes += c->offload_read_bytes;
	sum->offload_failures += c->offload_failures;
	sum->zero_copy_write_ops += c->zero_copy_write_ops;
	sum->zero_copy_write_bytes += c->zero_copy_write_bytes;
	sum->zero_copy_read_ops += c->zero_copy_read_ops;
	sum->zero_copy_read_bytes += c->zero_copy_read_bytes;
	sum->signed_offload_ops += c->signed_offload_ops;
	sum->signature_refused += c->signature_refused;
}

char *smbdirectd_counters_string(TALLOC_CTX *mem_ctx,
				 const struct smbdirectd_counters *c)
{
	return talloc_asprintf(
		mem_ctx,
		"pdus_to_smbd=%" PRIu64 " bytes_to_smbd=%" PRIu64
		" pdus_to_client=%" PRIu64 " bytes_to_client=%" PRIu64
		" rdma_sends=%" PRIu64 " rdma_recvs=%" PRIu64
		" errors=%" PRIu64 " offload_write_ops=%" PRIu64
		" offload_write_bytes=%" PRIu64 " offload_read_ops=%" PRIu64
		" offload_read_bytes=%" PRIu64 " offload_failures=%" PRIu64
		" zero_copy_write_ops=%" PRIu64
		" zero_copy_write_bytes=%" PRIu64
		" zero_copy_read_ops=%" PRIu64 " zero_copy_read_bytes=%" PRIu64
		" signed_offload_ops=%" PRIu64 " signature_refused=%" PRIu64,
		c->pdus_to_smbd,
		c->bytes_to_smbd,
		c->pdus_to_client,
		c->bytes_to_client,
		c->rdma_sends,
		c->rdma_recvs,
		c->errors,
		c->offload_write_ops,
		c->offload_write_bytes,
		c->offload_read_ops,
		c->offload_read_bytes,
		c->offload_failures,
		c->zero_copy_write_ops,
		c->zero_copy_write_bytes,
		c->zero_copy_read_ops,
		c->zero_copy_read_bytes,
		c->signed_offload_ops,
		c->signature_refused);
}
