/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * migrate.h - adopt the maps a previous run left behind, so that a
 * restart, a crash or an upgrade loses no flow.
 *
 * A stopped daemon leaves the data path attached and its maps pinned. The
 * next `xdpnat run` looks at each map of the object it is about to load
 * and at the map of the same name that is still there (its pin, or else
 * the map of our program still attached to an interface) and decides:
 *
 *  - REUSE: same type, flags, size and layout. The new programs use the
 *    very same map (bpf_map__reuse_fd): nothing is copied, nothing lost.
 *    A ring buffer of the same size too: what waits in it is read next.
 *  - CONVERT: same type, but another size (a new `conntrack-max`) or
 *    another layout (an upgrade that changed a struct). A new map is made
 *    and every entry copied into it, field by field: a field of the new
 *    layout takes the bytes of the old field of the same name and type
 *    (nested structs by path), new fields and padding start at zero. The layouts come
 *    from the maps' BTF, so no version number has to be remembered. The
 *    copy runs twice: before the programs are swapped, and after, for
 *    entries the old programs made in between.
 *  - FRESH: nothing to adopt, or nothing that can be (an XSKMAP holds
 *    sockets of a process that is gone; a map whose type or key layout
 *    changed). The log says how many entries were lost and why.
 *
 * Functions take map fds and BTF, so unit tests drive them with maps they
 * create themselves.
 */
#ifndef XDPNAT_MIGRATE_H
#define XDPNAT_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/bpf.h>

struct btf;
struct bpf_map;

enum migrate_how {
	MIGRATE_FRESH = 0,
	MIGRATE_REUSE,
	MIGRATE_CONVERT,
};

#define MIGRATE_OPS_MAX	64

/* How to fill one struct of the new layout from one of the old. */
struct migrate_conv {
	uint32_t old_size, new_size;
	unsigned n;
	struct { uint32_t from, to, len; } op[MIGRATE_OPS_MAX];
};

/* One map of the object and what is left of its previous incarnation. */
struct migrate_map {
	char name[BPF_OBJ_NAME_LEN];
	enum migrate_how how;
	int old_fd;			/* -1: none */
	struct bpf_map_info old;	/* of old_fd */
	struct migrate_conv key, val;	/* CONVERT */
	char why[160];			/* CONVERT or a FRESH that lost entries */
	uint64_t copied, lost;		/* CONVERT, both passes */
};

/*
 * Compare two BTF types: true when they describe the same bytes the same
 * way (kinds, sizes, member names and offsets, recursively; typedefs and
 * qualifiers looked through).
 */
bool migrate_types_equal(const struct btf *a, __u32 ida, const struct btf *b, __u32 idb);

/*
 * Plan the copy of an old type into a new one, by member names. Fails
 * (-1, *why set) when nothing of the new type can be filled from the old,
 * or a member of the same name has another kind or size.
 */
int migrate_conv_plan(const struct btf *old_btf, __u32 old_id, const struct btf *new_btf,
		      __u32 new_id, struct migrate_conv *c, char *why, size_t why_len);

/* Fill `out` (c->new_size bytes) from `in` (c->old_size bytes). */
void migrate_conv_apply(const struct migrate_conv *c, const void *in, void *out);

/* What the new map will be. */
struct migrate_target {
	__u32 type, key_size, value_size, max_entries, map_flags;
	const struct btf *btf;		/* of the new object; NULL: none */
	__u32 key_type_id, value_type_id;
};

/*
 * Decide what to do with `old_fd` (-1: nothing) for a new map `t`: REUSE
 * (may be used as it is), CONVERT (m->key, m->val planned) or FRESH (old_fd
 * closed; m->why and m->lost say what was lost, if anything). Takes
 * ownership of old_fd.
 */
int migrate_decide(const struct migrate_target *t, int old_fd, struct migrate_map *m);

/*
 * Decide for map `map` of an object not loaded yet, given `old_fd` (the
 * previous map of that name, or -1): REUSE calls bpf_map__reuse_fd.
 * Takes ownership of old_fd (closed unless kept for CONVERT).
 */
int migrate_plan(struct bpf_map *map, const struct btf *obj_btf, int old_fd,
		 struct migrate_map *m);

/*
 * Copy every entry of m->old_fd into new_fd (a CONVERT map of the loaded
 * object). `fill_only`: insert only keys new_fd does not have yet (the
 * second pass, after the programs were swapped). Adds to m->copied and
 * m->lost (entries that did not fit or did not convert). 0 or -errno.
 */
int migrate_copy(struct migrate_map *m, int new_fd, bool fill_only);

/* Close old_fd. */
void migrate_done(struct migrate_map *m);

#endif /* XDPNAT_MIGRATE_H */
