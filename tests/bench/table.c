/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * table.c - the flow-table study (tests/bench/run.sh table): for each flow
 * count, fill the kernel BPF hash (as nat_ct: two entries a flow, two x
 * flows max) and a table of 64-byte slots in a BPF array (linear probing,
 * load factor 0.8, so 160 bytes a flow), then time one established
 * lookup + update per BPF_PROG_TEST_RUN run (table.bpf.c), visiting the
 * flows round robin and in random order. Prints tab-separated rows:
 *   table  FLOWS  ORDER  HASH_NS  SLOTS_NS  HASH_B_PER_FLOW  SLOTS_B_PER_FLOW  AVG_PROBES  MAX_PROBES
 *
 *   table OBJ FLOWS...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xdpnat.h"
#include "table.h"

#define LOAD_FACTOR	0.8
#define REPEAT		1000000
#define ROUNDS		7

static long long memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static unsigned timed(int prog)
{
	unsigned best = ~0u;
	char pkt[64] = { 0 };

	for (int r = 0; r < ROUNDS; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = REPEAT);
		if (bpf_prog_test_run_opts(prog, &o) || o.retval != 2 /* XDP_PASS */)
			return 0;
		if (o.duration < best)
			best = o.duration;
	}
	return best;
}

static int study(const char *obj, __u32 flows)
{
	__u32 nslots = (__u32)(2.0 * flows / LOAD_FACTOR) + 1;
	struct bpf_object *o = bpf_object__open_file(obj, NULL);
	unsigned long probes = 0, maxp = 0;
	int hash, slots, order, cfgfd;
	static __u32 ord[TABLE_ORDER_MAX];
	__u32 norder = flows < TABLE_ORDER_MAX ? flows : TABLE_ORDER_MAX;

	if (!o)
		return -errno;
	bpf_map__set_max_entries(bpf_object__find_map_by_name(o, "tbl_hash"), 2 * flows);
	bpf_map__set_max_entries(bpf_object__find_map_by_name(o, "tbl_slots"), nslots);
	if (bpf_object__load(o))
		return -errno;
	hash = bpf_object__find_map_fd_by_name(o, "tbl_hash");
	slots = bpf_object__find_map_fd_by_name(o, "tbl_slots");
	order = bpf_object__find_map_fd_by_name(o, "tbl_order");
	cfgfd = bpf_object__find_map_fd_by_name(o, "tbl_cfg");

	/* both directions of every flow, in the order the data path inserts
	 * them (reply first); the slots built here with Robin Hood insertion
	 * (an entry far from its home slot takes the place of one nearer to
	 * its own), which keeps probe runs short at a load factor of 0.8,
	 * then written to the array */
	struct table_slot *t = calloc(nslots, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (__u32 f = 0; f < flows; f++) {
		for (int dir = 1; dir >= 0; dir--) {
			struct nat_ct_key k;
			struct nat_ct_value v = { .to_sport = 1 };
			struct table_slot e = { .to_sport = 1 };
			__u32 i, dist = 0;

			table_key_dir(&k, f, dir);
			if (bpf_map_update_elem(hash, &k, &v, BPF_NOEXIST))
				return -errno;
			e.k = k;
			i = table_index(&k, nslots);
			while (t[i].k.proto) {
				__u32 home = table_index(&t[i].k, nslots);
				__u32 theirs = i >= home ? i - home : i + nslots - home;

				if (theirs < dist) {
					struct table_slot tmp = t[i];

					t[i] = e;
					e = tmp;
					dist = theirs;
				}
				if (++i >= nslots)
					i = 0;
				dist++;
			}
			t[i] = e;
		}
	}
	for (__u32 i = 0; i < nslots; i++) {
		if (t[i].k.proto) {
			__u32 home = table_index(&t[i].k, nslots);
			__u32 d = (i >= home ? i - home : i + nslots - home) + 1;

			probes += d;
			if (d > maxp)
				maxp = d;
		}
		if (bpf_map_update_elem(slots, &i, &t[i], BPF_ANY))
			return -errno;
	}
	free(t);
	if (maxp > TABLE_PROBES) {
		fprintf(stderr, "table: a run longer than %d slots\n", TABLE_PROBES);
		return -E2BIG;
	}
	long long mh = memlock(hash), ms = memlock(slots);
	for (int rnd = 0; rnd < 2; rnd++) {
		struct table_cfg b = { rnd ? TABLE_ORDER_MAX : norder, nslots };
		__u32 zero = 0;

		srand(42);
		for (__u32 n = 0; n < b.norder; n++) {
			ord[n] = rnd ? (__u32)(((unsigned long long)rand() << 16 ^ (unsigned)rand()) % flows) : n;
			bpf_map_update_elem(order, &n, &ord[n], BPF_ANY);
		}
		if (bpf_map_update_elem(cfgfd, &zero, &b, BPF_ANY))
			return -errno;
		unsigned th = timed(bpf_program__fd(bpf_object__find_program_by_name(o, "table_hash")));
		unsigned ts = timed(bpf_program__fd(bpf_object__find_program_by_name(o, "table_slots")));
		printf("table\t%u\t%s\t%u\t%u\t%.0f\t%.0f\t%.2f\t%lu\n", flows, rnd ? "random" : "round-robin",
		       th, ts, (double)mh / flows, (double)ms / flows, (double)probes / (2.0 * flows), maxp);
	}
	bpf_object__close(o);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: table OBJ FLOWS...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		int err = study(argv[1], (__u32)strtoul(argv[i], NULL, 0));

		if (err) {
			fprintf(stderr, "table: %u flows: %s\n", (unsigned)strtoul(argv[i], NULL, 0),
				strerror(-err));
			return 1;
		}
	}
	return 0;
}
