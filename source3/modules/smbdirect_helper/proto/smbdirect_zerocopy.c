/*
 * The zero-copy table shared by smbdirectd and vfs_smbdirect: the state
 * changes of smbdirect_zerocopy.h. No I/O here, so it is unit-tested on
 * its own; both sides link it.
 *
 * Copyright (C) The vfs_smbdirect authors 2026
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include "smbdirect_zerocopy.h"
#include <string.h>

static uint32_t zc_load(const struct smbdirect_zc_entry *e)
{
	return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
}

static void zc_store(struct smbdirect_zc_entry *e, uint32_t state)
{
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
}

static bool zc_index_ok(const struct smbdirect_zc_table *t, int idx)
{
	return idx >= 0 && (uint32_t)idx < t->num_entries &&
	       (uint32_t)idx < SMBDIRECT_ZC_ENTRIES;
}

void smbdirect_zc_table_init(struct smbdirect_zc_table *t,
			     uint64_t pool_size)
{
	memset(t, 0, sizeof(*t));
	t->magic = SMBDIRECT_ZC_MAGIC;
	t->version = SMBDIRECT_ZC_VERSION;
	t->num_entries = SMBDIRECT_ZC_ENTRIES;
	t->entry_size = sizeof(struct smbdirect_zc_entry);
	t->pool_size = pool_size;
	t->next_seq = 1;
}

int smbdirect_zc_publish(struct smbdirect_zc_table *t,
			 const struct smbdirect_zc_entry *e)
{
	uint32_t i;

	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		struct smbdirect_zc_entry *s = &t->entries[i];

		if (zc_load(s) != SMBDIRECT_ZC_FREE) {
			continue;
		}
		s->op = e->op;
		s->seq = t->next_seq++;
		s->message_id = e->message_id;
		s->file_id_persistent = e->file_id_persistent;
		s->file_id_volatile = e->file_id_volatile;
		s->offset = e->offset;
		s->pool_offset = e->pool_offset;
		s->length = e->length;
		s->result = 0;
		zc_store(s, SMBDIRECT_ZC_PUBLISHED);
		return (int)i;
	}
	return -1;
}

static bool zc_same_file(const struct smbdirect_zc_entry *s,
			 uint64_t file_id_persistent,
			 uint64_t file_id_volatile)
{
	return s->file_id_persistent == file_id_persistent &&
	       s->file_id_volatile == file_id_volatile;
}

bool smbdirect_zc_write_key_busy(const struct smbdirect_zc_table *t,
				 uint64_t file_id_persistent,
				 uint64_t file_id_volatile,
				 uint64_t offset,
				 uint32_t length)
{
	uint32_t i;

	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		const struct smbdirect_zc_entry *s = &t->entries[i];

		if (zc_load(s) == SMBDIRECT_ZC_FREE) {
			continue;
		}
		if (s->op == SMBDIRECT_ZC_OP_WRITE &&
		    zc_same_file(s, file_id_persistent, file_id_volatile) &&
		    s->offset == offset && s->length == length) {
			return true;
		}
	}
	return false;
}

bool smbdirect_zc_retire(struct smbdirect_zc_table *t, int idx)
{
	struct smbdirect_zc_entry *s = NULL;
	uint32_t state;

	if (!zc_index_ok(t, idx)) {
		return true;
	}
	s = &t->entries[idx];
	state = zc_load(s);
	while (state != SMBDIRECT_ZC_FREE) {
		if (state == SMBDIRECT_ZC_CLAIMED) {
			return false;
		}
		/* a module claiming at this moment either wins or fails */
		if (__atomic_compare_exchange_n(&s->state, &state,
						SMBDIRECT_ZC_FREE, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			break;
		}
	}
	return true;
}

bool smbdirect_zc_table_valid(const struct smbdirect_zc_table *t,
			      size_t size,
			      uint64_t pool_size)
{
	if (size < sizeof(*t)) {
		return false;
	}
	return t->magic == SMBDIRECT_ZC_MAGIC &&
	       t->version == SMBDIRECT_ZC_VERSION &&
	       t->num_entries == SMBDIRECT_ZC_ENTRIES &&
	       t->entry_size == sizeof(struct smbdirect_zc_entry) &&
	       t->pool_size == pool_size;
}

/*
 * The slot must lie inside the pool the module mapped: the table is
 * smbdirectd's word, but a wrong word must not make smbd write outside
 * its mapping.
 */
static bool zc_slot_ok(const struct smbdirect_zc_table *t,
		       const struct smbdirect_zc_entry *s)
{
	return s->pool_offset <= t->pool_size &&
	       s->length <= t->pool_size - s->pool_offset;
}

static bool zc_claim(struct smbdirect_zc_entry *s)
{
	uint32_t expected = SMBDIRECT_ZC_PUBLISHED;

	return __atomic_compare_exchange_n(&s->state, &expected,
					   SMBDIRECT_ZC_CLAIMED, false,
					   __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

int smbdirect_zc_claim_read(struct smbdirect_zc_table *t,
			    uint64_t message_id,
			    uint64_t file_id_persistent,
			    uint64_t file_id_volatile,
			    uint64_t offset,
			    uint32_t count)
{
	uint32_t i;

	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		struct smbdirect_zc_entry *s = &t->entries[i];

		if (zc_load(s) != SMBDIRECT_ZC_PUBLISHED) {
			continue;
		}
		if (s->op != SMBDIRECT_ZC_OP_READ ||
		    s->message_id != message_id) {
			continue;
		}
		if (!zc_same_file(s, file_id_persistent, file_id_volatile) ||
		    s->offset != offset || count > s->length ||
		    !zc_slot_ok(t, s)) {
			return -1;
		}
		return zc_claim(s) ? (int)i : -1;
	}
	return -1;
}

int smbdirect_zc_claim(struct smbdirect_zc_table *t,
		       uint32_t op,
		       uint64_t message_id,
		       uint64_t file_id_persistent,
		       uint64_t file_id_volatile,
		       uint64_t offset,
		       uint32_t count)
{
	uint32_t i;

	if (op != SMBDIRECT_ZC_OP_READ && op != SMBDIRECT_ZC_OP_WRITE) {
		return -1;
	}
	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		struct smbdirect_zc_entry *s = &t->entries[i];

		if (zc_load(s) != SMBDIRECT_ZC_PUBLISHED) {
			continue;
		}
		if (s->op != op || s->message_id != message_id) {
			continue;
		}
		if (!zc_same_file(s, file_id_persistent, file_id_volatile) ||
		    s->offset != offset || count > s->length ||
		    (op == SMBDIRECT_ZC_OP_WRITE && count != s->length) ||
		    !zc_slot_ok(t, s)) {
			return -1;
		}
		return zc_claim(s) ? (int)i : -1;
	}
	return -1;
}

int smbdirect_zc_claim_write(struct smbdirect_zc_table *t,
			     uint64_t file_id_persistent,
			     uint64_t file_id_volatile,
			     uint64_t offset,
			     uint32_t length)
{
	struct smbdirect_zc_entry *best = NULL;
	int best_idx = -1;
	uint32_t i;

	for (i = 0; i < SMBDIRECT_ZC_ENTRIES; i++) {
		struct smbdirect_zc_entry *s = &t->entries[i];

		if (zc_load(s) != SMBDIRECT_ZC_PUBLISHED) {
			continue;
		}
		if (s->op != SMBDIRECT_ZC_OP_WRITE ||
		    !zc_same_file(s, file_id_persistent, file_id_volatile) ||
		    s->offset != offset || s->length != length) {
			continue;
		}
		if (best == NULL || s->seq < best->seq) {
			best = s;
			best_idx = (int)i;
		}
	}
	if (best == NULL || !zc_slot_ok(t, best) || !zc_claim(best)) {
		return -1;
	}
	return best_idx;
}

void smbdirect_zc_finish(struct smbdirect_zc_table *t, int idx,
			 uint32_t result)
{
	if (!zc_index_ok(t, idx)) {
		return;
	}
	t->entries[idx].result = result;
	zc_store(&t->entries[idx], SMBDIRECT_ZC_DONE);
}

void smbdirect_zc_finish_relayed(struct smbdirect_zc_table *t, int idx,
				 uint32_t result)
{
	if (!zc_index_ok(t, idx)) {
		return;
	}
	t->entries[idx].result = result;
	zc_store(&t->entries[idx], SMBDIRECT_ZC_DONE_RELAYED);
}

void smbdirect_zc_decline(struct smbdirect_zc_table *t, int idx)
{
	if (!zc_index_ok(t, idx)) {
		return;
	}
	zc_store(&t->entries[idx], SMBDIRECT_ZC_DECLINED);
}

enum smbdirect_zc_state smbdirect_zc_state(const struct smbdirect_zc_table *t,
					   int idx)
{
	if (!zc_index_ok(t, idx)) {
		return SMBDIRECT_ZC_FREE;
	}
	return (enum smbdirect_zc_state)zc_load(&t->entries[idx]);
}
