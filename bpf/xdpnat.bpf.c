/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* STUB: being written. Program names and maps are final. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "xdpnat.h"
#include "nat_maps.h"

SEC("xdp")
int xdpnat_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int xdpnat_tc_egress(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
