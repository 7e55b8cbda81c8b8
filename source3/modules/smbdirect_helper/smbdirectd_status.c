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
#include "smbdirectd_ctx.h"
#include "smbdirectd_listen.h"
#include "smbdirectd_pool.h"
#include "smbdirectd_status.h"
#include "proto/smbdirect_proto.h"

/*
 * One line per live connection, from what the connections publish
 * (struct smbdirectd_conn_status).
 */
static char *status_conn_lines(struct smbdirectd_ctx *ctx,
			       TALLOC_CTX *mem_ctx,
			       char *text)
{
	const struct smbdirectd_conn_status *cs = NULL;

	for (cs = ctx->conn_status; cs != NULL && text != NULL;
	     cs = cs->next) {
		const struct smbdirect_proto *p = cs->proto;

		text = talloc_asprintf_append(
			text,
			"conn id=%" PRIu64 " peer=%s smbd_port=%u smbd_pid=%d "
			"state=%s zero_copy=%s "
			"max_send=%u max_receive=%u max_read_write=%u "
			"send_credits=%u receive_credits=%u %s\n",
			cs->id,
			cs->peer,
			cs->smbd_port,
			(int)cs->smbd_pid,
			cs->state,
			cs->zero_copy ? "attached" : "no",
			p != NULL ? p->max_send_size : 0,
			p != NULL ? p->max_receive_size : 0,
			p != NULL ? p->max_read_write_size : 0,
			p != NULL ? p->credits.send_credits : 0,
			p != NULL ? p->credits.recv_granted : 0,
			smbdirectd_counters_string(mem_ctx, cs->counters));
	}
	return text;
}

void smbdirectd_status_write(struct smbdirectd_ctx *ctx)
{
	TALLOC_CTX *frame = talloc_stackframe();
	struct smbdirectd_counters all = ctx->totals;
	const struct smbdirectd_conn_status *cs = NULL;
	struct timeval now = timeval_current();
	char *text = NULL;
	char *path = NULL;
	char *tmp = NULL;
	int fd;

	/* the closed connections' totals and the live ones' counters */
	for (cs = ctx->conn_status; cs != NULL; cs = cs->next) {
		smbdirectd_counters_add(&all, cs->counters);
	}
	/*
	 * written_usec: when (µs since the epoch), so that a reader can tell
	 * a file written after its own last step from an older one.
	 */
	text = talloc_asprintf(
		frame,
		"daemon pid=%d written_usec=%" PRIu64 " connections=%u"
		" accepted=%" PRIu64
		" refused=%" PRIu64 " pool_bytes=%zu pool_in_use=%zu"
		" pool_waiters=%zu pool_waits=%" PRIu64 " listen=%s %s\n",
		(int)getpid(),
		(uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_usec,
		ctx->num_conns,
		ctx->accepted,
		ctx->refused,
		ctx->pool != NULL ? smbdirectd_pool_size(ctx->pool) : 0,
		ctx->pool != NULL ? smbdirectd_pool_in_use(ctx->pool) : 0,
		ctx->pool != NULL ? smbdirectd_pool_waiters(ctx->pool) : 0,
		ctx->pool != NULL ? smbdirectd_pool_waits(ctx->pool) : 0,
		smbdirectd_listen_describe(frame, ctx),
		smbdirectd_counters_string(frame, &all));
	text = status_conn_lines(ctx, frame, text);
	if (text != NULL) {
		char *prof = smbdirectd_profile_lines(frame, &ctx->profile);

		text = prof != NULL ? talloc_strdup_append(text, prof) : NULL;
	}
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

/* ------------------------------------------------------------------ */
/* smbdirectd --status: read the file the running daemon writes        */

struct status_kv {
	char *key;
	char *value;
};

/* "word k=v k=v ..." -> pairs (on mem_ctx); the first word in *kind. */
static size_t status_split(TALLOC_CTX *mem_ctx,
			   char *line,
			   char **kind,
			   struct status_kv **kvs)
{
	char *save = NULL;
	char *tok = NULL;
	size_t n = 0;

	*kvs = NULL;
	*kind = strtok_r(line, " \n", &save);
	while ((tok = strtok_r(NULL, " \n", &save)) != NULL) {
		char *eq = strchr(tok, '=');

		if (eq == NULL) {
			continue;
		}
		*eq = '\0';
		*kvs = talloc_realloc(mem_ctx, *kvs, struct status_kv, n + 1);
		if (*kvs == NULL) {
			return 0;
		}
		(*kvs)[n].key = tok;
		(*kvs)[n].value = eq + 1;
		n++;
	}
	return n;
}

static const char *kv_get(const struct status_kv *kvs,
			  size_t n,
			  const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(kvs[i].key, key) == 0) {
			return kvs[i].value;
		}
	}
	return "?";
}

static bool is_number(const char *s)
{
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
	}
	return true;
}

static void print_json_object(const struct status_kv *kvs, size_t n)
{
	size_t i;

	printf("{");
	for (i = 0; i < n; i++) {
		/* values never hold quotes or backslashes: addresses, words */
		if (strcmp(kvs[i].key, "hist") == 0) {
			/* a profile histogram: "n,n,..." counts */
			printf("%s\"%s\": [%s]", i ? ", " : "", kvs[i].key,
			       kvs[i].value);
		} else if (is_number(kvs[i].value)) {
			printf("%s\"%s\": %s", i ? ", " : "", kvs[i].key,
			       kvs[i].value);
		} else {
			printf("%s\"%s\": \"%s\"", i ? ", " : "", kvs[i].key,
			       kvs[i].value);
		}
	}
	printf("}");
}

static double mib(const char *bytes)
{
	return strtod(bytes, NULL) / (1024.0 * 1024.0);
}

static void print_human(const char *kind, const struct status_kv *k, size_t n)
{
	if (strcmp(kind, "daemon") == 0) {
		printf("smbdirectd pid %s: %s connection(s) open, %s accepted, "
		       "%s refused; offload pool %.0f of %.0f MiB in use, %s "
		       "waiting (%s waits so far)\n"
		       "  listening (rdma_cm address:port): %s\n",
		       kv_get(k, n, "pid"), kv_get(k, n, "connections"),
		       kv_get(k, n, "accepted"), kv_get(k, n, "refused"),
		       mib(kv_get(k, n, "pool_in_use")),
		       mib(kv_get(k, n, "pool_bytes")),
		       kv_get(k, n, "pool_waiters"),
		       kv_get(k, n, "pool_waits"),
		       kv_get(k, n, "listen"));
	} else {
		printf("connection %s from %s: %s, smbd pid %s (via "
		       "127.0.0.1:%s)\n"
		       "  sizes: send %s, receive %s, read/write %s; credits: "
		       "send %s, receive %s\n",
		       kv_get(k, n, "id"), kv_get(k, n, "peer"),
		       kv_get(k, n, "state"), kv_get(k, n, "smbd_pid"),
		       kv_get(k, n, "smbd_port"), kv_get(k, n, "max_send"),
		       kv_get(k, n, "max_receive"),
		       kv_get(k, n, "max_read_write"),
		       kv_get(k, n, "send_credits"),
		       kv_get(k, n, "receive_credits"));
	}
	printf("  RDMA offload: WRITE %s ops / %.1f MiB, READ %s ops / %.1f "
	       "MiB, failures %s\n"
	       "  of which zero copy (vfs_smbdirect moved file <-> pool): "
	       "WRITE %s ops / %.1f MiB, READ %s ops / %.1f MiB\n"
	       "  signed: %s requests verified and signed again, %s "
	       "refused\n"
	       "  relayed: %s PDUs / %.1f MiB to smbd, %s PDUs / %.1f MiB to "
	       "clients; errors %s\n",
	       kv_get(k, n, "offload_write_ops"),
	       mib(kv_get(k, n, "offload_write_bytes")),
	       kv_get(k, n, "offload_read_ops"),
	       mib(kv_get(k, n, "offload_read_bytes")),
	       kv_get(k, n, "offload_failures"),
	       kv_get(k, n, "zero_copy_write_ops"),
	       mib(kv_get(k, n, "zero_copy_write_bytes")),
	       kv_get(k, n, "zero_copy_read_ops"),
	       mib(kv_get(k, n, "zero_copy_read_bytes")),
	       kv_get(k, n, "signed_offload_ops"),
	       kv_get(k, n, "signature_refused"),
	       kv_get(k, n, "pdus_to_smbd"), mib(kv_get(k, n, "bytes_to_smbd")),
	       kv_get(k, n, "pdus_to_client"),
	       mib(kv_get(k, n, "bytes_to_client")), kv_get(k, n, "errors"));
}

/* One "profile" line: a span of the offloaded requests, in us. */
static void print_profile_human(const struct status_kv *k, size_t n)
{
	const char *hist = kv_get(k, n, "hist");
	double count = strtod(kv_get(k, n, "count"), NULL);
	double sum = strtod(kv_get(k, n, "sum_us"), NULL);
	uint64_t p50 = 0;
	uint64_t p99 = 0;

	if (count <= 0 || !smbdirectd_profile_quantile(hist, 0.5, &p50) ||
	    !smbdirectd_profile_quantile(hist, 0.99, &p99)) {
		return;
	}
	printf("  %-5s %-9s %8.0f requests, mean %8.0f us, "
	       "p50 < %" PRIu64 " us, p99 < %" PRIu64 " us, max %s us\n",
	       kv_get(k, n, "op"), kv_get(k, n, "span"), count, sum / count,
	       p50, p99, kv_get(k, n, "max_us"));
}

/*
 * The profile lines of the status file, after the daemon and its
 * connections: a JSON array, or a table.
 */
static void print_profile(FILE *f, TALLOC_CTX *mem_ctx, bool json)
{
	char line[4096];
	bool first = true;

	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		struct status_kv *kvs = NULL;
		char *kind = NULL;
		size_t n = status_split(mem_ctx, line, &kind, &kvs);

		if (kind == NULL || n == 0 || strcmp(kind, "profile") != 0) {
			continue;
		}
		if (json) {
			printf("%s", first ? "" : ", ");
			print_json_object(kvs, n);
		} else {
			if (first) {
				printf("offloaded requests since start, where "
				       "their time went (to_smbd: received to "
				       "relayed; in_smbd: to smbd's answer; "
				       "to_client: to the response queued):\n");
			}
			print_profile_human(kvs, n);
		}
		first = false;
	}
}

int smbdirectd_status_print(bool json)
{
	TALLOC_CTX *frame = talloc_stackframe();
	char *path = talloc_asprintf(frame, "%s/%s", lp_pid_directory(),
				     SMBDIRECTD_STATUS_FILE);
	char line[4096];
	bool first_conn = true;
	bool daemon_seen = false;
	FILE *f = NULL;

	f = path != NULL ? fopen(path, "r") : NULL;
	if (f == NULL) {
		printf("smbdirectd is not running: no %s (start it, or check "
		       "'pid directory' in smb.conf)\n",
		       path != NULL ? path : "status file");
		TALLOC_FREE(frame);
		return 1;
	}
	if (json) {
		printf("{");
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct status_kv *kvs = NULL;
		char *kind = NULL;
		size_t n = status_split(frame, line, &kind, &kvs);

		if (kind == NULL || n == 0 || strcmp(kind, "profile") == 0) {
			continue;
		}
		if (strcmp(kind, "daemon") == 0) {
			const char *pid = kv_get(kvs, n, "pid");

			daemon_seen = true;
			if (kill((pid_t)strtol(pid, NULL, 10), 0) != 0 &&
			    errno == ESRCH) {
				fprintf(stderr,
					"note: smbdirectd pid %s is not "
					"running; these are its last figures\n",
					pid);
			}
			if (json) {
				printf("\"daemon\": ");
				print_json_object(kvs, n);
				printf(", \"connections\": [");
			} else {
				print_human(kind, kvs, n);
			}
			continue;
		}
		if (json) {
			printf("%s", first_conn ? "" : ", ");
			print_json_object(kvs, n);
		} else {
			print_human(kind, kvs, n);
		}
		first_conn = false;
	}
	if (json && daemon_seen) {
		printf("], \"profile\": [");
		print_profile(f, frame, true);
		printf("]}\n");
	} else if (json) {
		printf("\"daemon\": null}\n");
	} else {
		print_profile(f, frame, false);
	}
	fclose(f);
	TALLOC_FREE(frame);
	return daemon_seen ? 0 : 1;
}
