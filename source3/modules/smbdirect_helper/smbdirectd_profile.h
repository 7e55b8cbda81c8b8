/*
 * smbdirectd: where the time of an offloaded READ or WRITE goes
 *
 * Every offloaded request is stamped when it arrives, when it is relayed
 * to smbd and when smbd's answer is read; when its response is queued for
 * the client the four spans below go into daemon-wide histograms, which
 * the status file carries (issue #14: measure per request before
 * changing the design). Plain C and talloc: unit-tested on its own.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef _SMBDIRECTD_PROFILE_H_
#define _SMBDIRECTD_PROFILE_H_

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <talloc.h>

enum smbdirectd_profile_op {
	SMBDIRECTD_PROFILE_READ,
	SMBDIRECTD_PROFILE_WRITE,
	SMBDIRECTD_PROFILE_NUM_OPS
};

enum smbdirectd_profile_span {
	/* received -> relayed: parsing, a WRITE's RDMA READ, pool waits */
	SMBDIRECTD_PROFILE_TO_SMBD,
	/* relayed -> answer read: smbd, vfs_smbdirect, its helpers, file */
	SMBDIRECTD_PROFILE_IN_SMBD,
	/*
	 * answer read -> response queued: rewriting, a READ's RDMA WRITE
	 * queued (conn_post_send_wr() posts both after the handler)
	 */
	SMBDIRECTD_PROFILE_TO_CLIENT,
	/* received -> response queued */
	SMBDIRECTD_PROFILE_TOTAL,
	SMBDIRECTD_PROFILE_NUM_SPANS
};

/*
 * Bucket 0 holds spans under 2 us, bucket k (1 <= k < last) those of
 * [2^k, 2^(k+1)) us, the last one everything from 2^23 us (8.4 s) on.
 */
#define SMBDIRECTD_PROFILE_BUCKETS 24

struct smbdirectd_profile_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t buckets[SMBDIRECTD_PROFILE_BUCKETS];
};

struct smbdirectd_profile {
	struct smbdirectd_profile_hist hist[SMBDIRECTD_PROFILE_NUM_OPS]
					   [SMBDIRECTD_PROFILE_NUM_SPANS];
};

/* The moments of one request (all zero: not reached). */
struct smbdirectd_profile_stamps {
	struct timespec received;
	struct timespec relayed;
	struct timespec answered;
};

unsigned smbdirectd_profile_bucket(uint64_t ns);

void smbdirectd_profile_add(struct smbdirectd_profile *p,
			    enum smbdirectd_profile_op op,
			    enum smbdirectd_profile_span span,
			    uint64_t ns);

/*
 * The request's response was queued at now: add its four spans. A
 * request never relayed or never answered adds nothing.
 */
void smbdirectd_profile_request_done(struct smbdirectd_profile *p,
				     enum smbdirectd_profile_op op,
				     const struct smbdirectd_profile_stamps *s,
				     const struct timespec *now);

/*
 * The status file's lines, one per histogram with a count:
 * "profile op=read span=in_smbd count=N sum_us=N max_us=N hist=b0,..."
 */
char *smbdirectd_profile_lines(TALLOC_CTX *mem_ctx,
			       const struct smbdirectd_profile *p);

/*
 * From a "hist=" value: the upper bound in us of the bucket holding the
 * q-quantile (0 < q <= 1) of the spans; false if hist is not one.
 */
bool smbdirectd_profile_quantile(const char *hist,
				 double q,
				 uint64_t *upper_us);

#endif
