/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * routegen.h - keeps the XDP fast path's next-hop caches honest.
 *
 * The data path caches, per flow direction, where bpf_fib_lookup sent the
 * last packet (struct nat_nh). This module owns the two maps that cache
 * depends on:
 *  - nat_routegen: bumped whenever routing may have changed (a route, rule,
 *    IPv4 neighbour, link, address or forwarding-setting notification from
 *    rtnetlink), at most once per NAT_ROUTEGEN_MIN_MS; a bump invalidates
 *    every cached next hop;
 *  - nat_ifslots: ifindex, MTU and MAC address of each interface xdpnat is
 *    attached to, by slot, refreshed from every link notification.
 * One libmnl socket, read from the daemon's poll loop.
 */
#ifndef XDPNAT_ROUTEGEN_H
#define XDPNAT_ROUTEGEN_H

#include <stdint.h>

struct routegen;

/* An interface xdpnat is attached to. */
struct routegen_link {
	int ifindex;
	int slot;			/* nat_iface.slot, 0 .. XDPNAT_MAX_IFACES - 1 */
};

/* Subscribe to the notifications; gen_fd / ifslots_fd are nat_routegen
 * and nat_ifslots. NULL with errno on failure. */
struct routegen *routegen_open(int gen_fd, int ifslots_fd);

int routegen_fd(const struct routegen *rg);

/* The attached interfaces (after start and after every reload): rewrites
 * nat_ifslots from a link dump and bumps the generation. -errno if the
 * dump failed (retried at the next flush; until then no slot is filled
 * and the data path does a FIB lookup per packet). */
int routegen_set_links(struct routegen *rg, const struct routegen_link *links, int n,
		       uint64_t now_ms);

/* Read what is queued (call when routegen_fd() is readable), then bump if
 * due. now_ms: CLOCK_MONOTONIC in ms. */
int routegen_process(struct routegen *rg, uint64_t now_ms);

/* Bump if a change is pending and the last bump is old enough. */
void routegen_flush(struct routegen *rg, uint64_t now_ms);

/* poll() timeout until a pending bump is due: -1 when none is pending. */
int routegen_timeout_ms(const struct routegen *rg, uint64_t now_ms);

/* nat_routegen.gen as last written. */
uint32_t routegen_gen(const struct routegen *rg);

void routegen_close(struct routegen *rg);

#endif /* XDPNAT_ROUTEGEN_H */
