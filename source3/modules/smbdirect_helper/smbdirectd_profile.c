/*
 * smbdirectd: where the time of an offloaded READ or WRITE goes
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "smbdirectd_profile.h"

static const char *const op_names[SMBDIRECTD_PROFILE_NUM_OPS] = {
	[SMBDIRECTD_PROFILE_READ] = "read",
	[SMBDIRECTD_PROFILE_WRITE] = "write",
};

static const char *const span_names[SMBDIRECTD_PROFILE_NUM_SPANS] = {
	[SMBDIRECTD_PROFILE_TO_SMBD] = "to_smbd",
	[SMBDIRECTD_PROFILE_IN_SMBD] = "in_smbd",
	[SMBDIRECTD_PROFILE_TO_CLIENT] = "to_client",
	[SMBDIRECTD_PROFILE_TOTAL] = "total",
};

unsigned smbdirectd_profile_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned k = 0;

	while (us >= 2 && k < SMBDIRECTD_PROFILE_BUCKETS - 1) {
		us >>= 1;
		k++;
	}
	return k;
}

void smbdirectd_profile_add(struct smbdirectd_profile *p,
			    enum smbdirectd_profile_op op,
			    enum smbdirectd_profile_span span,
			    uint64_t ns)
{
	struct smbdirectd_profile_hist *h = &p->hist[op][span];

	h->count += 1;
	h->sum_ns += ns;
	if (ns > h->max_ns) {
		h->max_ns = ns;
	}
	h->buckets[smbdirectd_profile_bucket(ns)] += 1;
}

static bool stamped(const struct timespec *t)
{
	return t->tv_sec != 0 || t->tv_nsec != 0;
}

/* b - a in ns; 0 if the clock seems to have gone back. */
static uint64_t span_ns(const struct timespec *a, const struct timespec *b)
{
	int64_t d = ((int64_t)b->tv_sec - (int64_t)a->tv_sec) * 1000000000 +
		    ((int64_t)b->tv_nsec - (int64_t)a->tv_nsec);

	return d > 0 ? (uint64_t)d : 0;
}

void smbdirectd_profile_request_done(struct smbdirectd_profile *p,
				     enum smbdirectd_profile_op op,
				     const struct smbdirectd_profile_stamps *s,
				     const struct timespec *now)
{
	if (!stamped(&s->received) || !stamped(&s->relayed) ||
	    !stamped(&s->answered)) {
		return;
	}
	smbdirectd_profile_add(p,
			       op,
			       SMBDIRECTD_PROFILE_TO_SMBD,
			       span_ns(&s->received, &s->relayed));
	smbdirectd_profile_add(p,
			       op,
			       SMBDIRECTD_PROFILE_IN_SMBD,
			       span_ns(&s->relayed, &s->answered));
	smbdirectd_profile_add(p,
			       op,
			       SMBDIRECTD_PROFILE_TO_CLIENT,
			       span_ns(&s->answered, now));
	smbdirectd_profile_add(p,
			       op,
			       SMBDIRECTD_PROFILE_TOTAL,
			       span_ns(&s->received, now));
}

char *smbdirectd_profile_lines(TALLOC_CTX *mem_ctx,
			       const struct smbdirectd_profile *p)
{
	char *text = talloc_strdup(mem_ctx, "");
	unsigned op, span, b;

	for (op = 0; op < SMBDIRECTD_PROFILE_NUM_OPS; op++) {
		for (span = 0; span < SMBDIRECTD_PROFILE_NUM_SPANS; span++) {
			const struct smbdirectd_profile_hist *h =
				&p->hist[op][span];

			if (text == NULL || h->count == 0) {
				continue;
			}
			text = talloc_asprintf_append(
				text,
				"profile op=%s span=%s count=%" PRIu64
				" sum_us=%" PRIu64 " max_us=%" PRIu64 " hist=",
				op_names[op],
				span_names[span],
				h->count,
				h->sum_ns / 1000,
				h->max_ns / 1000);
			for (b = 0; b < SMBDIRECTD_PROFILE_BUCKETS; b++) {
				text = talloc_asprintf_append(text,
							      "%s%" PRIu64,
							      b == 0 ? "" : ",",
							      h->buckets[b]);
			}
			text = talloc_strdup_append(text, "\n");
		}
	}
	return text;
}

bool smbdirectd_profile_quantile(const char *hist, double q, uint64_t *upper_us)
{
	uint64_t counts[SMBDIRECTD_PROFILE_BUCKETS];
	uint64_t total = 0;
	uint64_t seen = 0;
	const char *s = hist;
	unsigned n = 0;
	unsigned b;

	if (q <= 0 || q > 1) {
		return false;
	}
	while (n < SMBDIRECTD_PROFILE_BUCKETS) {
		char *end = NULL;

		if (*s < '0' || *s > '9') {
			return false;
		}
		counts[n] = strtoull(s, &end, 10);
		total += counts[n];
		n++;
		s = end;
		if (*s != ',') {
			break;
		}
		s++;
	}
	if (*s != '\0' || n != SMBDIRECTD_PROFILE_BUCKETS || total == 0) {
		return false;
	}
	for (b = 0; b < n; b++) {
		seen += counts[b];
		if ((double)seen >= q * (double)total) {
			break;
		}
	}
	if (b >= n - 1) {
		b = n - 1;
	}
	/* bucket b ends at 2^(b+1) us; the last one has no end */
	*upper_us = b == n - 1 ? UINT64_MAX : (uint64_t)2 << b;
	return true;
}
