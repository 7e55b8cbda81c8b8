/*
 * smbdirectd: the status file (live connections and counters)
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "includes.h"
#include "lib/util/sys_rw_data.h"
#include "smbdirectd.h"
#include "smbdirectd_conn.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_status.h"

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
		" offload_read_bytes=%" PRIu64 " offload_failures=%" PRIu64,
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
		c->offload_failures);
}

void smbdirectd_status_write(struct smbdirectd_ctx *ctx)
{
	TALLOC_CTX *frame = talloc_stackframe();
	struct smbdirectd_counters all = ctx->totals;
	char *text = NULL;
	char *path = NULL;
	char *tmp = NULL;
	int fd;

	smbdirectd_conn_sum_counters(ctx, &all);
	text = talloc_asprintf(
		frame,
		"daemon pid=%d connections=%u accepted=%" PRIu64
		" refused=%" PRIu64 " pool_bytes=%zu pool_in_use=%zu"
		" pool_waiters=%zu %s\n",
		(int)getpid(),
		ctx->num_conns,
		ctx->accepted,
		ctx->refused,
		ctx->pool != NULL ? smbdirectd_pool_size(ctx->pool) : 0,
		ctx->pool != NULL ? smbdirectd_pool_in_use(ctx->pool) : 0,
		ctx->pool != NULL ? smbdirectd_pool_waiters(ctx->pool) : 0,
		smbdirectd_counters_string(frame, &all));
	text = smbdirectd_conn_status_lines(ctx, frame, text);
	path = talloc_asprintf(frame, "%s/%s", lp_pid_directory(),
			       SMBDIRECTD_STATUS_FILE);
	tmp = talloc_asprintf(frame, "%s.tmp", path);
	if (text == NULL || path == NULL || tmp == NULL) {
		TALLOC_FREE(frame);
		return;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		DBG_DEBUG("open(%s): %s\n", tmp, strerror(errno));
		TALLOC_FREE(frame);
		return;
	}
	if (write_data(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(tmp);
		TALLOC_FREE(frame);
		return;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
	}
	TALLOC_FREE(frame);
}

static void status_timer(struct tevent_context *ev,
			 struct tevent_timer *te,
			 struct timeval now,
			 void *private_data)
{
	struct smbdirectd_ctx *ctx = talloc_get_type_abort(
		private_data, struct smbdirectd_ctx);

	smbdirectd_status_write(ctx);
	te = tevent_add_timer(ev,
			      ctx,
			      timeval_current_ofs(
				      SMBDIRECTD_STATUS_INTERVAL_SEC, 0),
			      status_timer,
			      ctx);
	if (te == NULL) {
		DBG_ERR("status timer: out of memory\n");
	}
}

bool smbdirectd_status_start(struct smbdirectd_ctx *ctx)
{
	struct tevent_timer *te = NULL;

	smbdirectd_status_write(ctx);
	te = tevent_add_timer(ctx->ev,
			      ctx,
			      timeval_current_ofs(
				      SMBDIRECTD_STATUS_INTERVAL_SEC, 0),
			      status_timer,
			      ctx);
	return te != NULL;
}
