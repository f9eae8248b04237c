/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_migrate.c - ctl/daemon/migrate.c: layouts compared and converted
 * by BTF, and entries copied between real BPF maps (root needed) whose
 * BTF the test builds itself:
 *
 *   struct v1 { __u32 a; __u64 b; }            the "old build"
 *   struct v2 { __u32 a; __u16 c; __u64 b; }   a field added, b moved
 *   struct v3 { __u32 a; __u32 b; }            b changed size
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "xdpnat.h"
#include "daemon/migrate.h"

struct v1 { __u32 a; __u32 pad; __u64 b; };
struct v2 { __u32 a; __u16 c; __u16 pad; __u64 b; };

struct types {
	struct btf *btf;
	int u16, u32, u64, v1, v2, v3;
};

static struct types build_btf(void)
{
	struct types t = { .btf = btf__new_empty() };

	assert_non_null(t.btf);
	t.u16 = btf__add_int(t.btf, "short unsigned int", 2, 0);
	t.u32 = btf__add_int(t.btf, "unsigned int", 4, 0);
	t.u64 = btf__add_int(t.btf, "long long unsigned int", 8, 0);
	t.v1 = btf__add_struct(t.btf, "v1", 16);
	assert_int_equal(btf__add_field(t.btf, "a", t.u32, 0, 0), 0);
	assert_int_equal(btf__add_field(t.btf, "pad", t.u32, 32, 0), 0);
	assert_int_equal(btf__add_field(t.btf, "b", t.u64, 64, 0), 0);
	t.v2 = btf__add_struct(t.btf, "v2", 16);
	assert_int_equal(btf__add_field(t.btf, "a", t.u32, 0, 0), 0);
	assert_int_equal(btf__add_field(t.btf, "c", t.u16, 32, 0), 0);
	assert_int_equal(btf__add_field(t.btf, "pad", t.u16, 48, 0), 0);
	assert_int_equal(btf__add_field(t.btf, "b", t.u64, 64, 0), 0);
	t.v3 = btf__add_struct(t.btf, "v3", 8);
	assert_int_equal(btf__add_field(t.btf, "a", t.u32, 0, 0), 0);
	assert_int_equal(btf__add_field(t.btf, "b", t.u32, 32, 0), 0);
	assert_int_equal(btf__load_into_kernel(t.btf), 0);
	return t;
}

static int map_new(const struct types *t, enum bpf_map_type type, int val_id, __u32 vsz,
		   __u32 max)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .btf_fd = btf__fd(t->btf),
		    .btf_key_type_id = (__u32)t->u32, .btf_value_type_id = (__u32)val_id);
	int fd = bpf_map_create(type, "t_migrate", 4, vsz, max, &o);

	if (fd < 0)
		fail_msg("bpf_map_create: %s (root needed)", strerror(errno));
	return fd;
}

static struct migrate_target target(const struct types *t, enum bpf_map_type type, int val_id,
				    __u32 vsz, __u32 max)
{
	struct migrate_target g = {
		.type = type, .key_size = 4, .value_size = vsz, .max_entries = max,
		.btf = t->btf, .key_type_id = (__u32)t->u32, .value_type_id = (__u32)val_id,
	};

	return g;
}

static void fill_v1(int fd, __u32 n)
{
	for (__u32 k = 0; k < n; k++) {
		struct v1 v = { .a = k, .b = 1000000000000ULL + k };

		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	}
}

static void test_types_equal(void **state)
{
	struct types t = build_btf();

	(void)state;
	assert_true(migrate_types_equal(t.btf, (__u32)t.v1, t.btf, (__u32)t.v1));
	assert_false(migrate_types_equal(t.btf, (__u32)t.v1, t.btf, (__u32)t.v2));
	assert_false(migrate_types_equal(t.btf, (__u32)t.v1, t.btf, (__u32)t.v3));
	btf__free(t.btf);
}

/* v1 -> v2 by names: a and b keep their values (b at its new offset), c
 * (new) starts at zero. */
static void test_conv_by_names(void **state)
{
	struct types t = build_btf();
	struct migrate_conv c;
	struct v1 in = { .a = 7, .pad = 0xffffffff, .b = 0x1122334455667788ULL };
	struct v2 out;
	char why[128] = "";

	(void)state;
	assert_int_equal(migrate_conv_plan(t.btf, (__u32)t.v1, t.btf, (__u32)t.v2, &c, why,
					   sizeof(why)), 0);
	memset(&out, 0xaa, sizeof(out));
	migrate_conv_apply(&c, &in, &out);
	assert_int_equal(out.a, 7);
	assert_int_equal(out.c, 0);
	assert_int_equal(out.b, 0x1122334455667788ULL);
	/* pad changed size (u32 -> u16): padding is never copied, so that is fine */
	btf__free(t.btf);
}

static void test_conv_refused(void **state)
{
	struct types t = build_btf();
	struct migrate_conv c;
	char why[128] = "";

	(void)state;
	assert_int_equal(migrate_conv_plan(t.btf, (__u32)t.v1, t.btf, (__u32)t.v3, &c, why,
					   sizeof(why)), -1);
	assert_non_null(strstr(why, "field b"));
	btf__free(t.btf);
}

/* Same layout, same size: the map is reused as it is. */
static void test_decide_reuse(void **state)
{
	struct types t = build_btf();
	int old = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 64);
	struct migrate_target g = target(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 64);
	struct migrate_map m = {};

	(void)state;
	assert_int_equal(migrate_decide(&g, old, &m), 0);
	assert_int_equal(m.how, MIGRATE_REUSE);
	migrate_done(&m);
	btf__free(t.btf);
}

/* A larger table (conntrack-max raised): every entry copied. A smaller
 * one: what does not fit is counted as lost, never silently dropped. */
static void test_resize(void **state)
{
	struct types t = build_btf();
	int old = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 200);
	int big = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 400);
	int small = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 50);
	struct migrate_target g = target(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 400);
	struct migrate_map m = {};
	struct v1 v;
	__u32 k = 123;

	(void)state;
	fill_v1(old, 150);
	assert_int_equal(migrate_decide(&g, dup(old), &m), 0);
	assert_int_equal(m.how, MIGRATE_CONVERT);
	assert_non_null(strstr(m.why, "200 -> 400"));
	assert_int_equal(migrate_copy(&m, big, false), 0);
	assert_int_equal(m.copied, 150);
	assert_int_equal(m.lost, 0);
	assert_int_equal(bpf_map_lookup_elem(big, &k, &v), 0);
	assert_int_equal(v.b, 1000000000000ULL + 123);
	migrate_done(&m);

	g.max_entries = 50;
	memset(&m, 0, sizeof(m));
	assert_int_equal(migrate_decide(&g, old, &m), 0);
	assert_int_equal(migrate_copy(&m, small, false), 0);
	assert_int_equal(m.copied, 50);
	assert_int_equal(m.lost, 100);
	migrate_done(&m);
	close(big);
	close(small);
	btf__free(t.btf);
}

/* nat_eim_ports `from` converted, as the loader does, into `to` (a map of
 * to_max elements): the conversion's counts in *m. */
static void ports_convert(int from, int to, __u32 to_max, struct migrate_map *m)
{
	struct migrate_target g = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8,
				    .max_entries = to_max, .map_flags = BPF_F_MMAPABLE };

	memset(m, 0, sizeof(*m));
	assert_int_equal(migrate_decide(&g, dup(from), m), 0);
	assert_int_equal(m->how, MIGRATE_CONVERT);
	snprintf(m->name, sizeof(m->name), "%s", XDPNAT_MAP_EIM_PORTS);
	assert_int_equal(migrate_copy(m, to, false), 0);
}

/* nat_eim_ports for one more WAN, and for one fewer: table t is copied to
 * table t through the maps' memory; taken ports count, headers do not. */
static void test_eim_ports_tables(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, mm, .map_flags = BPF_F_MMAPABLE);
	int one = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_ports1", 4, 8, NAT_EIM_PORT_TABLE, &mm);
	int two = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_ports2", 4, 8, 2 * NAT_EIM_PORT_TABLE, &mm);
	int back = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_ports1b", 4, 8, NAT_EIM_PORT_TABLE, &mm);
	struct nat_eim_port hdr = { .addr = 7 }, e = { .addr = 0x0200000a, .port = 0x8813 }, got;
	__u32 k0 = 0, k1 = (__u32)nat_eim_port_index(0, 17, 5000);
	__u32 k2 = (__u32)nat_eim_port_index(1, 6, 443);
	struct migrate_map m;

	(void)state;
	assert_true(one >= 0 && two >= 0 && back >= 0);
	assert_int_equal(bpf_map_update_elem(one, &k0, &hdr, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(one, &k1, &e, BPF_ANY), 0);
	ports_convert(one, two, 2 * NAT_EIM_PORT_TABLE, &m);
	assert_int_equal(m.copied, 1);
	assert_int_equal(m.lost, 0);
	assert_int_equal(bpf_map_lookup_elem(two, &k1, &got), 0);
	assert_memory_equal(&got, &e, sizeof(e));
	assert_int_equal(bpf_map_lookup_elem(two, &k0, &got), 0);
	assert_int_equal(got.addr, 7);
	migrate_done(&m);

	/* two tables to one: the second table's port is lost, and counted */
	assert_int_equal(bpf_map_update_elem(two, &k2, &e, BPF_ANY), 0);
	ports_convert(two, back, NAT_EIM_PORT_TABLE, &m);
	assert_int_equal(m.copied, 1);
	assert_int_equal(m.lost, 1);
	assert_int_equal(bpf_map_lookup_elem(back, &k1, &got), 0);
	assert_memory_equal(&got, &e, sizeof(e));
	migrate_done(&m);
	close(one);
	close(two);
	close(back);
}

/* An upgrade that changed the layout: entries converted by field names. */
static void test_layout_upgrade(void **state)
{
	struct types t = build_btf();
	int old = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 64);
	int nw = map_new(&t, BPF_MAP_TYPE_HASH, t.v2, 16, 64);
	struct migrate_target g = target(&t, BPF_MAP_TYPE_HASH, t.v2, 16, 64);
	struct migrate_map m = {};
	struct v2 v;
	__u32 k = 9;

	(void)state;
	fill_v1(old, 20);
	assert_int_equal(migrate_decide(&g, old, &m), 0);
	assert_int_equal(m.how, MIGRATE_CONVERT);
	assert_string_equal(m.why, "layout changed");
	assert_int_equal(migrate_copy(&m, nw, false), 0);
	assert_int_equal(m.copied, 20);
	assert_int_equal(bpf_map_lookup_elem(nw, &k, &v), 0);
	assert_int_equal(v.a, 9);
	assert_int_equal(v.c, 0);
	assert_int_equal(v.b, 1000000000009ULL);
	migrate_done(&m);
	close(nw);
	btf__free(t.btf);
}

/* A layout that cannot be converted, or another map type: nothing is
 * adopted and the entries lost are counted for the log. */
static void test_fresh_counts_loss(void **state)
{
	struct types t = build_btf();
	int old = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 64);
	struct migrate_target g = target(&t, BPF_MAP_TYPE_HASH, t.v3, 8, 64);
	struct migrate_map m = {};

	(void)state;
	fill_v1(old, 12);
	assert_int_equal(migrate_decide(&g, dup(old), &m), 0);
	assert_int_equal(m.how, MIGRATE_FRESH);
	assert_int_equal(m.lost, 12);
	assert_non_null(strstr(m.why, "field b"));
	assert_int_equal(m.old_fd, -1);

	g = target(&t, BPF_MAP_TYPE_LRU_HASH, t.v1, 16, 64);
	memset(&m, 0, sizeof(m));
	assert_int_equal(migrate_decide(&g, old, &m), 0);
	assert_int_equal(m.how, MIGRATE_FRESH);
	assert_int_equal(m.lost, 12);
	assert_string_equal(m.why, "its map type changed");
	btf__free(t.btf);
}

/* The second pass after the programs were swapped only adds what the old
 * programs created meanwhile; what the new ones wrote is left alone. */
static void test_fill_only(void **state)
{
	struct types t = build_btf();
	int old = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 64);
	int nw = map_new(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 128);
	struct migrate_target g = target(&t, BPF_MAP_TYPE_HASH, t.v1, 16, 128);
	struct migrate_map m = {};
	struct v1 v = { .a = 1, .b = 42 };
	__u32 k = 3, late = 40;

	(void)state;
	fill_v1(old, 10);
	assert_int_equal(migrate_decide(&g, old, &m), 0);
	assert_int_equal(migrate_copy(&m, nw, false), 0);
	assert_int_equal(bpf_map_update_elem(nw, &k, &v, BPF_EXIST), 0);	/* new program */
	fill_v1(old, 10);
	v.a = late;
	assert_int_equal(bpf_map_update_elem(old, &late, &v, BPF_ANY), 0);	/* old program */
	assert_int_equal(migrate_copy(&m, nw, true), 0);
	assert_int_equal(m.copied, 11);
	assert_int_equal(m.lost, 0);
	assert_int_equal(bpf_map_lookup_elem(nw, &k, &v), 0);
	assert_int_equal(v.b, 42);
	assert_int_equal(bpf_map_lookup_elem(nw, &late, &v), 0);
	migrate_done(&m);
	close(nw);
	btf__free(t.btf);
}

/* Per-CPU arrays (nat_stats) keep every CPU's counters. */
static void test_percpu_array(void **state)
{
	struct types t = build_btf();
	int ncpu = libbpf_num_possible_cpus();
	int old = map_new(&t, BPF_MAP_TYPE_PERCPU_ARRAY, t.v1, 16, 1);
	int nw = map_new(&t, BPF_MAP_TYPE_PERCPU_ARRAY, t.v2, 16, 1);
	struct migrate_target g = target(&t, BPF_MAP_TYPE_PERCPU_ARRAY, t.v2, 16, 1);
	struct migrate_map m = {};
	struct v1 *in = calloc((size_t)ncpu, sizeof(*in));
	struct v2 *out = calloc((size_t)ncpu, sizeof(*out));
	__u32 zero = 0;

	(void)state;
	assert_true(ncpu > 0 && in && out);
	for (int c = 0; c < ncpu; c++)
		in[c].b = 100 + (__u64)c;
	assert_int_equal(bpf_map_update_elem(old, &zero, in, BPF_ANY), 0);
	assert_int_equal(migrate_decide(&g, old, &m), 0);
	assert_int_equal(m.how, MIGRATE_CONVERT);
	assert_int_equal(migrate_copy(&m, nw, false), 0);
	assert_int_equal(bpf_map_lookup_elem(nw, &zero, out), 0);
	for (int c = 0; c < ncpu; c++)
		assert_int_equal(out[c].b, 100 + (__u64)c);
	migrate_done(&m);
	close(nw);
	free(in);
	free(out);
	btf__free(t.btf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types_equal),
		cmocka_unit_test(test_conv_by_names),
		cmocka_unit_test(test_conv_refused),
		cmocka_unit_test(test_decide_reuse),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_eim_ports_tables),
		cmocka_unit_test(test_layout_upgrade),
		cmocka_unit_test(test_fresh_counts_loss),
		cmocka_unit_test(test_fill_only),
		cmocka_unit_test(test_percpu_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
