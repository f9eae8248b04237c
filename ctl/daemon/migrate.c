/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* migrate.c - adopt or convert the maps of a previous run (see migrate.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "common/cttab.h"
#include "daemon/migrate.h"

#define TYPE_DEPTH_MAX	16	/* nesting followed; our structs are 3 deep */

static const struct btf_type *resolved(const struct btf *btf, __u32 *id)
{
	int r = btf__resolve_type(btf, *id);

	if (r < 0)
		return NULL;
	*id = (__u32)r;
	return btf__type_by_id(btf, *id);
}

static bool names_equal(const struct btf *a, __u32 oa, const struct btf *b, __u32 ob)
{
	return !strcmp(btf__name_by_offset(a, oa), btf__name_by_offset(b, ob));
}

static bool equal(const struct btf *a, __u32 ida, const struct btf *b, __u32 idb, int depth)
{
	const struct btf_type *ta = resolved(a, &ida), *tb = resolved(b, &idb);

	if (!ta || !tb || depth > TYPE_DEPTH_MAX || btf_kind(ta) != btf_kind(tb))
		return false;
	switch (btf_kind(ta)) {
	case BTF_KIND_INT:
		return ta->size == tb->size && btf_int_encoding(ta) == btf_int_encoding(tb) &&
		       btf_int_bits(ta) == btf_int_bits(tb) && btf_int_offset(ta) == btf_int_offset(tb);
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_PTR:
		return btf__resolve_size(a, ida) == btf__resolve_size(b, idb);
	case BTF_KIND_ARRAY:
		return btf_array(ta)->nelems == btf_array(tb)->nelems &&
		       equal(a, btf_array(ta)->type, b, btf_array(tb)->type, depth + 1);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		if (ta->size != tb->size || btf_vlen(ta) != btf_vlen(tb))
			return false;
		for (__u16 i = 0; i < btf_vlen(ta); i++) {
			const struct btf_member *ma = btf_members(ta) + i, *mb = btf_members(tb) + i;

			if (!names_equal(a, ma->name_off, b, mb->name_off) ||
			    btf_member_bit_offset(ta, i) != btf_member_bit_offset(tb, i) ||
			    btf_member_bitfield_size(ta, i) != btf_member_bitfield_size(tb, i) ||
			    !equal(a, ma->type, b, mb->type, depth + 1))
				return false;
		}
		return true;
	default:
		return false;
	}
}

bool migrate_types_equal(const struct btf *a, __u32 ida, const struct btf *b, __u32 idb)
{
	return equal(a, ida, b, idb, 0);
}

/* ---------------------------------------------------------------- conversion */

struct planner {
	const struct btf *ob, *nb;
	struct migrate_conv *c;
	char *why;
	size_t why_len;
	const char *path;		/* member being planned, for why */
};

static int fail(struct planner *p, const char *what)
{
	snprintf(p->why, p->why_len, "field %s %s", p->path[0] ? p->path : "(whole)", what);
	return -1;
}

static int add_op(struct planner *p, uint32_t from, uint32_t to, uint32_t len)
{
	struct migrate_conv *c = p->c;

	if (c->n && c->op[c->n - 1].from + c->op[c->n - 1].len == from &&
	    c->op[c->n - 1].to + c->op[c->n - 1].len == to) {
		c->op[c->n - 1].len += len;	/* contiguous: one copy */
		return 0;
	}
	if (c->n == MIGRATE_OPS_MAX)
		return fail(p, "needs too many copies");
	c->op[c->n].from = from;
	c->op[c->n].to = to;
	c->op[c->n].len = len;
	c->n++;
	return 0;
}

/* The member of struct `t` (in btf) named `name`, or -1. */
static int member_named(const struct btf *btf, const struct btf_type *t, const char *name)
{
	for (__u16 i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, btf_members(t)[i].name_off), name))
			return i;
	return -1;
}

static int plan(struct planner *p, __u32 oid, uint32_t ooff, __u32 nid, uint32_t noff, int depth)
{
	const struct btf_type *ot = resolved(p->ob, &oid), *nt = resolved(p->nb, &nid);

	if (!ot || !nt || depth > TYPE_DEPTH_MAX)
		return fail(p, "has a type that cannot be read");
	if (equal(p->ob, oid, p->nb, nid, depth))
		return add_op(p, ooff, noff, (uint32_t)btf__resolve_size(p->nb, nid));
	if (btf_kind(ot) != btf_kind(nt))
		return fail(p, "changed kind");
	if (btf_kind(nt) == BTF_KIND_ARRAY &&
	    equal(p->ob, btf_array(ot)->type, p->nb, btf_array(nt)->type, depth + 1)) {
		__u32 n = btf_array(ot)->nelems < btf_array(nt)->nelems ? btf_array(ot)->nelems
									: btf_array(nt)->nelems;
		int esz = btf__resolve_size(p->nb, btf_array(nt)->type);

		return n && esz > 0 ? add_op(p, ooff, noff, n * (uint32_t)esz) : 0;
	}
	if (btf_kind(nt) != BTF_KIND_STRUCT)
		return fail(p, "changed size or type");
	for (__u16 i = 0; i < btf_vlen(nt); i++) {
		const struct btf_member *nm = btf_members(nt) + i;
		const char *name = btf__name_by_offset(p->nb, nm->name_off);
		const char *outer = p->path;
		int oi = name[0] ? member_named(p->ob, ot, name) : -1;
		int rc;

		/* a new field starts at zero; so does padding, which the rules
		 * of xdpnat.h keep zeroed and which changes size as fields come */
		if (oi < 0 || !strncmp(name, "pad", 3))
			continue;
		if (btf_member_bitfield_size(nt, i) || btf_member_bitfield_size(ot, (__u32)oi) ||
		    btf_member_bit_offset(nt, i) % 8 || btf_member_bit_offset(ot, (__u32)oi) % 8) {
			p->path = name;
			return fail(p, "is a bit field");
		}
		p->path = name;
		rc = plan(p, btf_members(ot)[oi].type, ooff + btf_member_bit_offset(ot, (__u32)oi) / 8,
			  nm->type, noff + btf_member_bit_offset(nt, i) / 8, depth + 1);
		p->path = outer;
		if (rc)
			return rc;
	}
	return 0;
}

int migrate_conv_plan(const struct btf *old_btf, __u32 old_id, const struct btf *new_btf,
		      __u32 new_id, struct migrate_conv *c, char *why, size_t why_len)
{
	struct planner p = { .ob = old_btf, .nb = new_btf, .c = c, .why = why,
			     .why_len = why_len, .path = "" };
	int osz = btf__resolve_size(old_btf, old_id), nsz = btf__resolve_size(new_btf, new_id);

	memset(c, 0, sizeof(*c));
	if (osz <= 0 || nsz <= 0)
		return fail(&p, "has no size");
	c->old_size = (uint32_t)osz;
	c->new_size = (uint32_t)nsz;
	if (plan(&p, old_id, 0, new_id, 0, 0))
		return -1;
	if (!c->n)
		return fail(&p, "shares no field with the new layout");
	return 0;
}

void migrate_conv_apply(const struct migrate_conv *c, const void *in, void *out)
{
	memset(out, 0, c->new_size);
	for (unsigned i = 0; i < c->n; i++)
		memcpy((char *)out + c->op[i].to, (const char *)in + c->op[i].from, c->op[i].len);
}

/* The identity plan of `size` bytes (a map whose layout did not change). */
static void conv_identity(struct migrate_conv *c, uint32_t size)
{
	memset(c, 0, sizeof(*c));
	c->old_size = c->new_size = size;
	c->n = 1;
	c->op[0].len = size;
}

/* ---------------------------------------------------------------- planning */

static bool is_hash(__u32 type)
{
	return type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static bool is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/* Entries of a hash map (bounded walk), for the log of what is lost. */
static uint64_t count_entries(int fd, const struct bpf_map_info *info)
{
	unsigned char key[256], next[256];
	uint64_t n = 0, steps = 0;
	void *prev = NULL;

	if (!is_hash(info->type) || info->key_size > sizeof(key))
		return 0;
	while (steps++ < 4ULL * info->max_entries + 16 && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, info->key_size);
		prev = key;
		n++;
	}
	return n;
}

/* Both layouts from BTF: 1 equal, 0 different (plans in m), -1 no BTF to
 * compare, -2 different and not convertible (m->why says why). */
static int compare_layouts(const struct migrate_target *t, struct migrate_map *m)
{
	struct btf *old_btf;
	int rc;

	if (!m->old.btf_id || !m->old.btf_key_type_id || !m->old.btf_value_type_id || !t->btf ||
	    !t->key_type_id || !t->value_type_id)
		return -1;
	old_btf = btf__load_from_kernel_by_id(m->old.btf_id);
	if (!old_btf)
		return -1;
	if (migrate_types_equal(old_btf, m->old.btf_key_type_id, t->btf, t->key_type_id) &&
	    migrate_types_equal(old_btf, m->old.btf_value_type_id, t->btf, t->value_type_id))
		rc = 1;
	else if (!migrate_conv_plan(old_btf, m->old.btf_key_type_id, t->btf, t->key_type_id,
				    &m->key, m->why, sizeof(m->why)) &&
		 !migrate_conv_plan(old_btf, m->old.btf_value_type_id, t->btf, t->value_type_id,
				    &m->val, m->why, sizeof(m->why)))
		rc = 0;
	else
		rc = -2;
	btf__free(old_btf);
	return rc;
}

/* Give up on the old map; `why` (NULL: nothing worth saying) goes to the
 * log with the number of entries lost. */
static void go_fresh(struct migrate_map *m, const char *why)
{
	if (why) {
		if (!m->why[0])
			snprintf(m->why, sizeof(m->why), "%s", why);
		m->lost = count_entries(m->old_fd, &m->old);
	}
	m->how = MIGRATE_FRESH;
	close(m->old_fd);
	m->old_fd = -1;
}

int migrate_decide(const struct migrate_target *t, int old_fd, struct migrate_map *m)
{
	__u32 len = sizeof(m->old);
	int layout;

	m->old_fd = old_fd;
	m->how = MIGRATE_FRESH;
	if (old_fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(old_fd, &m->old, &len)) {
		go_fresh(m, NULL);
		return 0;
	}
	if (m->old.type != t->type) {
		go_fresh(m, "its map type changed");
		return 0;
	}
	/* a ring buffer (nat_flowlog): the events the previous run's data path
	 * left there are read by the new daemon; a ring of another size is new */
	if (m->old.type == BPF_MAP_TYPE_RINGBUF) {
		if (m->old.max_entries == t->max_entries && m->old.map_flags == t->map_flags)
			m->how = MIGRATE_REUSE;
		else
			go_fresh(m, NULL);
		return 0;
	}
	if (!is_hash(m->old.type) && !is_array(m->old.type)) {
		go_fresh(m, NULL);	/* e.g. XSKMAP: sockets of a process that is gone */
		return 0;
	}
	layout = compare_layouts(t, m);
	if (layout == -1 && m->old.key_size == t->key_size && m->old.value_size == t->value_size)
		layout = 1;	/* no BTF to compare: the sizes are all we have */
	if (layout == -1 || layout == -2) {
		go_fresh(m, layout == -1 ? "its layout changed and it has no BTF to convert by"
					 : m->why);
		return 0;
	}
	if (layout == 1 && m->old.max_entries == t->max_entries && m->old.map_flags == t->map_flags) {
		m->how = MIGRATE_REUSE;
		return 0;
	}
	if (layout == 1) {
		conv_identity(&m->key, m->old.key_size);
		conv_identity(&m->val, m->old.value_size);
		snprintf(m->why, sizeof(m->why), "size %u -> %u entries", m->old.max_entries,
			 t->max_entries);
	} else {
		snprintf(m->why, sizeof(m->why), "layout changed");
	}
	if (is_array(m->old.type) && m->key.new_size != sizeof(__u32)) {
		go_fresh(m, "an array with another index type");
		return 0;
	}
	m->how = MIGRATE_CONVERT;
	return 0;
}

/* nat_ct's header says the table is of this build's slot hash
 * (NAT_CT_MAGIC); a table of an older one is converted, not adopted. */
static bool ct_header_current(const struct migrate_map *m)
{
	struct nat_ct_head h;

	if (m->old.value_size != sizeof(struct nat_ct_slot))
		return true;	/* not a slot table: migrate_decide() judged it */
	return cttab_read_head(m->old_fd, &h) != -EINVAL;
}

int migrate_plan(struct bpf_map *map, const struct btf *obj_btf, int old_fd,
		 struct migrate_map *m)
{
	const struct migrate_target t = {
		.type = bpf_map__type(map), .key_size = bpf_map__key_size(map),
		.value_size = bpf_map__value_size(map), .max_entries = bpf_map__max_entries(map),
		.map_flags = bpf_map__map_flags(map), .btf = obj_btf,
		.key_type_id = bpf_map__btf_key_type_id(map),
		.value_type_id = bpf_map__btf_value_type_id(map),
	};

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", bpf_map__name(map));
	migrate_decide(&t, old_fd, m);
	if (m->how == MIGRATE_REUSE && !strcmp(m->name, XDPNAT_MAP_CT) && !ct_header_current(m)) {
		/* the same array, but its entries sit where another hash put
		 * them: inserted anew into a new table (copy_ct) */
		conv_identity(&m->key, m->old.key_size);
		conv_identity(&m->val, m->old.value_size);
		snprintf(m->why, sizeof(m->why), "its slot hash changed");
		m->how = MIGRATE_CONVERT;
	}
	if (m->how != MIGRATE_REUSE)
		return 0;
	if (!bpf_map__reuse_fd(map, m->old_fd)) {
		migrate_done(m);	/* reuse_fd keeps a copy of its own */
		return 0;
	}
	/* the kernel disagrees after all: copy instead */
	conv_identity(&m->key, m->old.key_size);
	conv_identity(&m->val, m->old.value_size);
	snprintf(m->why, sizeof(m->why), "cannot be reused as it is");
	m->how = MIGRATE_CONVERT;
	return 0;
}

/* ---------------------------------------------------------------- copying */

struct copy_ctx {
	struct migrate_map *m;
	int new_fd;
	bool fill_only;
	bool percpu;
	int ncpu;
	uint32_t ostride, nstride;	/* per-CPU value strides */
	unsigned char *oval, *nval, *nkey;
};

static void copy_one(struct copy_ctx *x, const void *okey)
{
	struct migrate_map *m = x->m;
	__u64 flags = x->fill_only ? BPF_NOEXIST : BPF_ANY;

	if (bpf_map_lookup_elem(m->old_fd, okey, x->oval))
		return;		/* gone meanwhile */
	migrate_conv_apply(&m->key, okey, x->nkey);
	for (int c = 0; c < (x->percpu ? x->ncpu : 1); c++)
		migrate_conv_apply(&m->val, x->oval + (size_t)c * x->ostride,
				   x->nval + (size_t)c * x->nstride);
	if (!bpf_map_update_elem(x->new_fd, x->nkey, x->nval, flags))
		m->copied++;
	else if (errno != EEXIST)
		m->lost++;	/* no room (a smaller table) or refused */
}

/*
 * nat_ct is a hash table of its own in an array (include/nat_ct_slots.h):
 * an entry's slot depends on the table's size and seed, so its LIVE
 * entries are inserted into the new table, not copied slot by slot. Both
 * passes do it; the second one adds what the old programs made meanwhile.
 */
static int copy_ct(struct migrate_map *m, int new_fd)
{
	struct nat_cttab t;
	unsigned char *ov = calloc(1, m->old.value_size);
	struct nat_ct_slot ns;
	int err = cttab_map(&t, new_fd);

	if (err || !ov) {
		free(ov);
		cttab_unmap(&t);
		return err ? err : -ENOMEM;
	}
	for (__u32 i = 1; i < m->old.max_entries; i++) {
		int rc;

		if (bpf_map_lookup_elem(m->old_fd, &i, ov) ||
		    m->old.value_size < sizeof(struct nat_ct_key) ||
		    ((const struct nat_ct_key *)ov)->pad[0] != NAT_CT_SLOT_LIVE)
			continue;
		memset(&ns, 0, sizeof(ns));
		migrate_conv_apply(&m->val, ov, &ns);
		ns.key.pad[0] = 0;
		rc = ct_put(&t, &ns.key, &ns.val, BPF_NOEXIST);
		if (!rc)
			m->copied++;
		else if (rc != -EEXIST)
			m->lost++;
	}
	free(ov);
	cttab_unmap(&t);
	return 0;
}

/*
 * nat_eim_ports sized for another number of WANs: both maps are mapped and
 * table t is copied to table t word by word (not 196,608 lookups and
 * updates a table). Taken ports count as copied, those of tables the new
 * map has no room for as lost; a table's header is copied, not counted.
 */
static int copy_eim_ports(struct migrate_map *m, int new_fd, __u32 new_max)
{
	size_t osz = (size_t)m->old.max_entries * sizeof(__u64);
	size_t nsz = (size_t)new_max * sizeof(__u64);
	__u64 *o, *n;

	if (m->old.value_size != sizeof(__u64) || m->old.max_entries % NAT_EIM_PORT_TABLE ||
	    new_max % NAT_EIM_PORT_TABLE)
		return -EINVAL;
	o = mmap(NULL, osz, PROT_READ, MAP_SHARED, m->old_fd, 0);
	if (o == MAP_FAILED)
		return -errno;
	n = mmap(NULL, nsz, PROT_READ | PROT_WRITE, MAP_SHARED, new_fd, 0);
	if (n == MAP_FAILED) {
		int err = -errno;

		munmap(o, osz);
		return err;
	}
	for (__u32 i = 0; i < m->old.max_entries; i++) {
		__u64 w = __atomic_load_n(&o[i], __ATOMIC_RELAXED);
		bool header = i % NAT_EIM_PORT_TABLE == 0;

		if (!w)
			continue;
		if (i < new_max) {
			__atomic_store_n(&n[i], w, __ATOMIC_RELAXED);
			m->copied += !header;
		} else {
			m->lost += !header;
		}
	}
	munmap(o, osz);
	munmap(n, nsz);
	return 0;
}

int migrate_copy(struct migrate_map *m, int new_fd, bool fill_only)
{
	struct copy_ctx x = { .m = m, .new_fd = new_fd, .fill_only = fill_only };
	struct bpf_map_info ni = {};
	__u32 len = sizeof(ni);
	unsigned char *okey = NULL, *prev_key = NULL;
	int err = 0;

	if (m->how != MIGRATE_CONVERT)
		return 0;
	if (bpf_obj_get_info_by_fd(new_fd, &ni, &len))
		return -errno;
	if (!strcmp(m->name, XDPNAT_MAP_CT))
		return ni.value_size == sizeof(struct nat_ct_slot) ? copy_ct(m, new_fd) : -EINVAL;
	/* the ports the old programs claim meanwhile are lost to the copy;
	 * the GC's next pass takes those of live flows again */
	if (!strcmp(m->name, XDPNAT_MAP_EIM_PORTS))
		return fill_only ? 0 : copy_eim_ports(m, new_fd, ni.max_entries);
	if (is_array(m->old.type) && fill_only)
		return 0;	/* an array has every index already */
	x.percpu = is_percpu(m->old.type);
	x.ncpu = x.percpu ? libbpf_num_possible_cpus() : 1;
	if (x.ncpu < 1)
		return -EINVAL;
	x.ostride = x.percpu ? (m->old.value_size + 7) & ~7u : m->old.value_size;
	x.nstride = x.percpu ? (ni.value_size + 7) & ~7u : ni.value_size;
	x.oval = calloc((size_t)x.ncpu, x.ostride);
	x.nval = calloc((size_t)x.ncpu, x.nstride);
	x.nkey = calloc(1, ni.key_size);
	okey = calloc(1, m->old.key_size);
	prev_key = calloc(1, m->old.key_size);
	if (!x.oval || !x.nval || !x.nkey || !okey || !prev_key) {
		err = -ENOMEM;
	} else if (is_array(m->old.type)) {
		for (__u32 i = 0; i < m->old.max_entries; i++) {
			if (i >= ni.max_entries) {
				m->lost += m->old.max_entries - i;
				break;
			}
			copy_one(&x, &i);
		}
	} else {
		uint64_t steps = 0;
		void *prev = NULL;

		while (steps++ < 4ULL * m->old.max_entries + 16 &&
		       !bpf_map_get_next_key(m->old_fd, prev, okey)) {
			copy_one(&x, okey);
			memcpy(prev_key, okey, m->old.key_size);
			prev = prev_key;
		}
	}
	free(x.oval);
	free(x.nval);
	free(x.nkey);
	free(okey);
	free(prev_key);
	return err;
}

void migrate_done(struct migrate_map *m)
{
	if (m->old_fd >= 0)
		close(m->old_fd);
	m->old_fd = -1;
}
