/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_cttab_race.c - nat_ct's slot protocol (include/nat_ct_slots.h)
 * under concurrency, on a real mmap()ed BPF array (needs root): two
 * threads inserting the same keys, as two CPUs allocating the same outside
 * port would, must never both succeed; and entries must stay findable
 * while other keys come and go and the GC's tidy runs at the same time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "common/cttab.h"

#define CTMAX	4096
#define KEYS	3000

static struct nat_cttab tab;
static int tab_fd = -1;

static struct nat_ct_key key_of(uint32_t n, uint32_t salt)
{
	struct nat_ct_key k = {
		.saddr = 0x0a000000u + n, .daddr = 0xc6336401u ^ salt,
		.sport = (__be16)(1024 + (n & 0x3fff)), .dport = (__be16)(53 + salt),
		.proto = 17,
	};
	return k;
}

static int setup(void **state)
{
	(void)state;
	tab_fd = cttab_create(CTMAX);
	if (tab_fd < 0 || cttab_map(&tab, tab_fd))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cttab_unmap(&tab);
	if (tab_fd >= 0)
		close(tab_fd);
	return 0;
}

struct racer {
	uint32_t id;
	uint32_t won[KEYS];
	pthread_barrier_t *go;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	for (uint32_t n = 0; n < KEYS; n++) {
		struct nat_ct_key k = key_of(n, 0);
		struct nat_ct_value v = { .to_saddr = r->id, .packets = n };

		r->won[n] = ct_put(&tab, &k, &v, BPF_NOEXIST) == 0;
	}
	return NULL;
}

/* Two threads insert the same 3000 keys at once: each key is won by
 * exactly one of them, is in the table once, and the header counts 3000. */
static void test_same_keys_one_winner(void **state)
{
	static struct racer a = { .id = 1 }, b = { .id = 2 };
	pthread_barrier_t go;
	pthread_t ta, tb;
	uint64_t seen = 0;

	(void)state;
	pthread_barrier_init(&go, NULL, 2);
	a.go = b.go = &go;
	pthread_create(&ta, NULL, race, &a);
	pthread_create(&tb, NULL, race, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	for (uint32_t n = 0; n < KEYS; n++) {
		struct nat_ct_key k = key_of(n, 0);
		struct nat_ct_value v;

		assert_int_equal(a.won[n] + b.won[n], 1);
		assert_int_equal(ct_get(&tab, &k, &v), 0);
		assert_int_equal(v.to_saddr, a.won[n] ? 1 : 2);
	}
	for (uint32_t i = 1; i <= tab.nslots; i++)
		seen += tab.slots[i].key.pad[0] == NAT_CT_SLOT_LIVE;
	assert_int_equal(seen, KEYS);
	assert_int_equal(cttab_head(&tab)->entries, KEYS);
	assert_int_equal(cttab_tidy(&tab), KEYS);
}

static atomic_bool stop;

static void *churn(void *arg)
{
	(void)arg;
	for (uint32_t round = 0; !atomic_load(&stop); round++)
		for (uint32_t n = 0; n < 2000; n++) {
			struct nat_ct_key k = key_of(n, 1 + (round & 1));
			struct nat_ct_value v = { .packets = round };

			if (ct_put(&tab, &k, &v, BPF_NOEXIST) == 0)
				ct_del(&tab, &k);
		}
	return NULL;
}

static void *tidy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		cttab_tidy(&tab);
	return NULL;
}

/* The 3000 entries of the test above stay findable, every one, while
 * 2000 other keys are inserted and deleted over and over and the tidy
 * turns freed slots back into empty ones at the same time. */
static void test_entries_survive_churn_and_tidy(void **state)
{
	pthread_t tc, tt;
	unsigned missing = 0;

	(void)state;
	atomic_store(&stop, false);
	pthread_create(&tc, NULL, churn, NULL);
	pthread_create(&tt, NULL, tidy, NULL);
	for (int pass = 0; pass < 200; pass++)
		for (uint32_t n = 0; n < KEYS; n++) {
			struct nat_ct_key k = key_of(n, 0);

			missing += ct_find(&tab, &k) == NULL;
		}
	atomic_store(&stop, true);
	pthread_join(tc, NULL);
	pthread_join(tt, NULL);
	assert_int_equal(missing, 0);
	assert_int_equal(cttab_tidy(&tab), KEYS);
	assert_int_equal(cttab_head(&tab)->entries, KEYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_keys_one_winner),
		cmocka_unit_test(test_entries_survive_churn_and_tidy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
