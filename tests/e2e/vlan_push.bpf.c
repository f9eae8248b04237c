/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * vlan_push.bpf.c - a stand-in for a VLAN subinterface in the e2e tests
 * (the test machines have no 8021q module). On tc egress it gives every
 * IPv4 packet to 10.7.0.0/16 ("the network of VLAN 7") an 802.1Q tag,
 * VLAN 7, held outside the frame's data for the driver to insert, as
 * vlan_dev_hard_start_xmit() leaves it on a parent that offloads tagging;
 * then the next filter runs. Loaded with `tc filter ... pref 1 bpf da obj`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_UNSPEC_	(-1)

SEC("tc")
int vlan_push(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) <= end && eth->h_proto == bpf_htons(0x0800) &&
	    (ip->daddr & bpf_htonl(0xffff0000)) == bpf_htonl(0x0a070000))
		bpf_skb_vlan_push(skb, bpf_htons(0x8100), 7);
	return TC_ACT_UNSPEC_;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
