/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_maps.h - every map of the data path, in one place. Layouts come from
 * include/xdpnat.h; sizes marked "set by the loader" are resized from the
 * configuration before the object is loaded. All maps are pinned by the
 * controller (not by LIBBPF_PIN_BY_NAME: the pin directory is configurable).
 */
#ifndef NAT_MAPS_H
#define NAT_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_config);
} nat_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct nat_iface);
} nat_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_MAX_IFACES);
	__type(key, __be32);
	__type(value, __u32);
} nat_wanaddr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_MAX_FORWARD_PORTS);	/* set by the loader from the forwards */
	__type(key, struct nat_fwd_key);
	__type(value, struct nat_fwd_value);
} nat_forwards SEC(".maps");

/* The ports nat_forwards may hold (include/xdpnat.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_fwd_ports);
} nat_fwd_ports SEC(".maps");

/* Slot 0 is the header; see include/nat_ct_slots.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 + XDPNAT_CT_MAX_DEFAULT * 5 / 2);	/* set by the loader */
	__type(key, __u32);
	__type(value, struct nat_ct_slot);
} nat_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPNAT_FRAG_MAX);
	__type(key, struct nat_frag_key);
	__type(value, struct nat_frag_value);
} nat_frag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_stats);
} nat_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_ctl_stats);
} nat_ctl_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_EXPECT_MAX);
	__type(key, struct nat_expect_key);
	__type(value, struct nat_expect_value);
} nat_expect SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_GATE_MAX);
	__type(key, struct nat_gate_key);
	__type(value, struct nat_gate_value);
} nat_gate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPNAT_MAX_IFACES * XDPNAT_XSK_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} nat_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_ALG_MAX);
	__type(key, struct nat_ct_key);
	__type(value, struct nat_alg_value);
} nat_alg SEC(".maps");

/* 4 KiB a value: allocated per entry (one per inspected FTP control
 * session) instead of 16 MiB up front. Only the controller touches it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPNAT_ALG_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nat_ct_key);
	__type(value, struct nat_alg_state);
} nat_alg_state SEC(".maps");

/* The ALG's counters: the data path never touches it; it is here so the
 * loader makes and pins it with every other map. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_alg_stats);
} nat_alg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPNAT_REFUSED_MAX);
	__type(key, struct nat_refused_key);
	__type(value, struct nat_refused_value);
} nat_refused SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPNAT_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct nat_ifslot);
} nat_ifslots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_routegen);
} nat_routegen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPNAT_FRAG_SRC_MAX);
	__type(key, __be32);
	__type(value, struct nat_frag_src);
} nat_frag_src SEC(".maps");

/* The owners of the WANs' outside ports (nat_eim.h): one table per WAN. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NAT_EIM_PORT_TABLE);	/* set by the loader: one table a WAN */
	__type(key, __u32);
	__type(value, struct nat_eim_port);
} nat_eim_ports SEC(".maps");

/* The rest of the endpoint-independent mappings (nat_eim.h): allocated as
 * used, not preallocated, so a table sized for the worst case (an INSIDE
 * and a PEER entry per flow) costs what the entries in use cost. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * XDPNAT_CT_MAX_DEFAULT);	/* set by the loader: 2 x conntrack-max */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nat_eim_key);
	__type(value, struct nat_eim_value);
} nat_eim SEC(".maps");

/* Moved mappings per cell of their inside endpoint (include/xdpnat.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NAT_EIM_MOVED_CELLS + 1);
	__type(key, __u32);
	__type(value, struct nat_eim_moved);
} nat_eim_moved SEC(".maps");

/* Ports that a UDP entry to a WAN address may be keyed by (include/xdpnat.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NAT_UDP_KEYED_CTL + 1);
	__type(key, __u32);
	__type(value, struct nat_udp_keyed);
} nat_udp_keyed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPNAT_UNASSURED_MIN);	/* set by the loader */
	__type(key, __u32);
	__type(value, struct nat_ct_key);
} nat_unassured SEC(".maps");

/* Flow events for the NAT log (include/xdpnat.h, nat_flowlog). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPNAT_FLOWLOG_RING_BYTES);
} nat_flowlog SEC(".maps");

/* Entries of nat_unassured (set by the loader before load; read through a
 * volatile pointer so clang cannot fold it to this initial value). */
volatile const __u32 unassured_ring = XDPNAT_UNASSURED_MIN;

/* nat_ct's slots and hash keys (its header's, set by the loader). */
volatile const __u32 ct_nslots;
volatile const __u64 ct_hkey[NAT_CT_HKEYS];

/* Next ring slot to write, and to look at for an eviction. Not state worth
 * keeping across a restart: a new run starts both at 0. */
__u64 unassured_head;
__u64 unassured_evict;

#endif /* NAT_MAPS_H */
