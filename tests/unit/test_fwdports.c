/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_fwdports.c - nat_fwd_ports, the bitmap of forwarded ports: where a
 * port's bit lies (the data path reads the same words, bpf/nat_fwdports.h),
 * and the map kept against a real nat_forwards (needs root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "common/fwdports.h"

static struct nat_fwd_ports *bits_new(void)
{
	struct nat_fwd_ports *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	return b;
}

/* bit port % 64 of word port / 64, TCP and UDP apart */
static void test_layout(void **state)
{
	struct nat_fwd_ports *b = bits_new();

	(void)state;
	fwdports_add(b, IPPROTO_TCP, 0);
	fwdports_add(b, IPPROTO_TCP, 63);
	fwdports_add(b, IPPROTO_TCP, 64);
	fwdports_add(b, IPPROTO_UDP, 65535);
	fwdports_add(b, IPPROTO_UDP, 40013);
	assert_int_equal(b->tcp[0], 1ULL | 1ULL << 63);
	assert_int_equal(b->tcp[1], 1ULL);
	assert_int_equal(b->udp[1023], 1ULL << 63);
	assert_int_equal(b->udp[40013 / 64], 1ULL << (40013 % 64));
	assert_true(fwdports_has(b, IPPROTO_TCP, 63));
	assert_false(fwdports_has(b, IPPROTO_UDP, 63));
	assert_false(fwdports_has(b, IPPROTO_TCP, 40013));
	assert_false(fwdports_has(b, IPPROTO_TCP, 65));
	/* a protocol without bits: always "maybe forwarded" */
	fwdports_add(b, IPPROTO_ICMP, 7);
	assert_true(fwdports_has(b, IPPROTO_ICMP, 7));
	assert_true(fwdports_has(b, 132, 9));
	free(b);
}

static int fwd_put(int fd, uint8_t proto, uint16_t port)
{
	struct nat_fwd_key k = { .ifindex = 7, .port = htons(port), .proto = proto };
	struct nat_fwd_value v = { .addr = htonl(0xc0a80002), .port = htons(port) };

	return bpf_map_update_elem(fd, &k, &v, BPF_ANY);
}

/* set() adds a bit and keeps the others; sync() makes the map what
 * nat_forwards holds, bits of removed forwards cleared */
static void test_map(void **state)
{
	int fwd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_fwd", sizeof(struct nat_fwd_key),
				 sizeof(struct nat_fwd_value), 64, NULL);
	int bits = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_fwdports", 4,
				  sizeof(struct nat_fwd_ports), 1, NULL);
	struct nat_fwd_ports *b = bits_new();
	struct nat_fwd_key gone = { .ifindex = 7, .port = htons(8080), .proto = IPPROTO_TCP };

	(void)state;
	assert_true(fwd >= 0 && bits >= 0);
	assert_int_equal(fwdports_set(bits, IPPROTO_TCP, 8080), 0);
	assert_int_equal(fwd_put(fwd, IPPROTO_TCP, 8080), 0);
	assert_int_equal(fwdports_set(bits, IPPROTO_UDP, 53), 0);
	assert_int_equal(fwd_put(fwd, IPPROTO_UDP, 53), 0);
	assert_int_equal(fwdports_read(bits, b), 0);
	assert_true(fwdports_has(b, IPPROTO_TCP, 8080));
	assert_true(fwdports_has(b, IPPROTO_UDP, 53));
	assert_false(fwdports_has(b, IPPROTO_UDP, 8080));

	assert_int_equal(bpf_map_delete_elem(fwd, &gone), 0);
	assert_int_equal(fwdports_read(bits, b), 0);
	assert_true(fwdports_has(b, IPPROTO_TCP, 8080));	/* left set: only a lookup */
	assert_int_equal(fwdports_sync(bits, fwd), 0);
	assert_int_equal(fwdports_read(bits, b), 0);
	assert_false(fwdports_has(b, IPPROTO_TCP, 8080));
	assert_true(fwdports_has(b, IPPROTO_UDP, 53));
	free(b);
	close(fwd);
	close(bits);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
