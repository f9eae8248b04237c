/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cttab.h - the controller's side of nat_ct, the flow table of 64-byte
 * slots (protocol: include/nat_ct_slots.h; the data path's side:
 * bpf/nat_cttab.h). The table is a BPF_F_MMAPABLE array: the controller
 * maps it once and reads and changes entries in place, with the same
 * compare-and-swap protocol as the data path, and without a system call.
 *
 * ct_get/ct_put/ct_del/ct_take stand where bpf_map_lookup_elem,
 * bpf_map_update_elem, bpf_map_delete_elem and
 * bpf_map_lookup_and_delete_elem would on a hash map, with the same
 * return values (0 or -errno) and flags.
 */
#ifndef XDPNAT_CTTAB_H
#define XDPNAT_CTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "nat_ct_slots.h"

struct nat_cttab {
	struct nat_ct_slot *slots;	/* slots[0] is the header; NULL: not mapped */
	size_t len;			/* of the mapping */
	__u32 nslots;
	__u64 hkey[NAT_CT_HKEYS];	/* the header's hash keys */
};

/* Map nat_ct (fd) and check its header. 0, or -errno (t stays unmapped). */
int cttab_map(struct nat_cttab *t, int fd);
void cttab_unmap(struct nat_cttab *t);

/* Read the header of the table fd (not mapped): 0 if it is one of this
 * build's (NAT_CT_MAGIC), -EINVAL if not, or -errno. */
int cttab_read_head(int fd, struct nat_ct_head *h);

/* Write the header of a new, empty table of `nslots` slots (the array
 * has 1 + nslots entries) for `limit` entries. */
int cttab_format(int fd, __u32 nslots, __u32 limit, const __u64 hkey[NAT_CT_HKEYS]);

/* Random hash keys for a new table. */
void cttab_new_keys(__u64 hkey[NAT_CT_HKEYS]);

/* Hash keys made from a seed (splitmix64), for tests that replay a run
 * and want its entries in the same slots. */
void cttab_keys_from_seed(__u64 seed, __u64 hkey[NAT_CT_HKEYS]);

/* A new, formatted nat_ct for conntrack_max flows (tests, benchmarks): its
 * fd, or -errno. */
int cttab_create(__u32 conntrack_max);

/* The slots a table for conntrack-max flows needs (header included). */
__u32 cttab_entries_for(__u32 conntrack_max);

const struct nat_ct_head *cttab_head(const struct nat_cttab *t);

int ct_get(const struct nat_cttab *t, const struct nat_ct_key *k, struct nat_ct_value *v);
int ct_put(const struct nat_cttab *t, const struct nat_ct_key *k, const struct nat_ct_value *v,
	   __u64 flags);
int ct_del(const struct nat_cttab *t, const struct nat_ct_key *k);
int ct_take(const struct nat_cttab *t, const struct nat_ct_key *k, struct nat_ct_value *v);

/* The entry in place (its fields may change under the reader), or NULL. */
struct nat_ct_value *ct_find(const struct nat_cttab *t, const struct nat_ct_key *k);

/* A copy of slot i's entry, pad zeroed: false if the slot is not LIVE (or
 * was freed while it was copied). */
bool ct_slot_read(const struct nat_cttab *t, __u32 i, struct nat_ct_key *k,
		  struct nat_ct_value *v);

/*
 * Call fn for every LIVE entry, with a copy of key and value; stop when it
 * returns non-zero (that value is returned). Entries added or removed
 * meanwhile may or may not be seen.
 */
typedef int (*ct_visit_fn)(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg);
int ct_for_each(const struct nat_cttab *t, ct_visit_fn fn, void *arg);

/*
 * map_sweep() (common/mapsweep.h) for nat_ct: delete every LIVE entry for
 * which doomed(key, val, ctx) is true, calling deleted() after each one
 * deleted. Returns the number deleted.
 */
long ct_sweep(const struct nat_cttab *t, bool (*doomed)(const void *key, const void *val, void *ctx),
	      void *ctx, void (*deleted)(const void *key, const void *val, void *ctx));

/*
 * Housekeeping for the GC: turn every tombstone (DEAD slot) that no entry
 * after it in its run needs to be found (no such entry has its home at or
 * before it) back into an empty slot, so that searches for keys that are
 * not there keep stopping early however many flows came and went; and
 * set head.entries to the LIVE slots counted. Returns that number.
 */
long cttab_tidy(const struct nat_cttab *t);

/* The same for slot i alone (the GC does it as its walk goes): true if it
 * was a tombstone and is empty now. */
bool ct_tidy_slot(const struct nat_cttab *t, __u32 i);

/* Set head.entries (the GC, from what its pass counted). */
void cttab_set_entries(const struct nat_cttab *t, __u64 n);

#endif /* XDPNAT_CTTAB_H */
