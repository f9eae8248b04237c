/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* counters.c - see counters.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common/counters.h"

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

#define S(f, kind, metric, help) { #f, offsetof(struct nat_stats, f), kind, metric, help }
static const struct counter_field stats_fields[] = {
	S(rx_packets, COUNTER_TOTAL, "rx_packets_total", "Packets seen by xdpnat on any hook."),
	S(xdp_forwarded, COUNTER_TOTAL, "xdp_forwarded_packets_total",
	  "Packets translated and redirected in XDP (the fast path)."),
	S(tc_translated, COUNTER_TOTAL, "tc_translated_packets_total",
	  "Packets translated on the kernel path (tc)."),
	S(passed_untouched, COUNTER_TOTAL, "passed_untouched_packets_total",
	  "Packets not for xdpnat, passed to the kernel as they were."),
	S(passed_to_kernel, COUNTER_TOTAL, "passed_to_kernel_packets_total",
	  "Packets of xdpnat that XDP could not forward, left to the kernel path."),
	S(flows_created, COUNTER_TOTAL, "flows_created_total", "Flows created by the data path."),
	S(icmp_errors_translated, COUNTER_TOTAL, "icmp_errors_translated_total",
	  "ICMP errors whose quoted packet was translated."),
	S(fragments_translated, COUNTER_TOTAL, "fragments_translated_total",
	  "Non-first IPv4 fragments translated."),
	S(drop_malformed, COUNTER_DROP, "malformed", "bad IHL, short headers, bogus lengths"),
	S(drop_no_port, COUNTER_DROP, "no_port", "port allocation failed"),
	S(drop_ct_full, COUNTER_DROP, "ct_full", "conntrack table full"),
	S(drop_frag_unknown, COUNTER_DROP, "frag_unknown", "fragment of an unknown datagram"),
	S(drop_no_flow, COUNTER_DROP, "no_flow", "would have leaked a LAN source address"),
	S(drop_wan_mismatch, COUNTER_DROP, "wan_mismatch", "flow bound to another WAN"),
	S(drop_gate, COUNTER_DROP, "gate", "gated forward without a live FTP session"),
	S(alg_to_user, COUNTER_TOTAL, "alg_to_user_packets_total",
	  "Control-flow packets sent to the FTP ALG."),
	S(drop_alg_down, COUNTER_DROP, "alg_down", "inspected control flow, no ALG socket"),
	S(alg_no_queue, COUNTER_DROP, "alg_no_queue", "control flow on an rx queue without socket"),
	S(alg_off_flows, COUNTER_TOTAL, "alg_off_flows_total",
	  "FTP control flows created while the ALG was off (never inspected)."),
	S(alg_off_passed, COUNTER_TOTAL, "alg_off_passed_packets_total",
	  "Packets of inspected control flows forwarded uninspected while the ALG was off."),
	S(drop_alg_no_route, COUNTER_DROP, "alg_no_route", "ALG data XDP cannot route yet"),
	S(expect_used, COUNTER_TOTAL, "expectations_used_total",
	  "Data connections admitted by an FTP ALG expectation."),
	S(ct_evicted, COUNTER_TOTAL, "flows_evicted_total",
	  "Unassured flows evicted by the data path to make room for a new one."),
	S(drop_inbound, COUNTER_DROP, "inbound", "unsolicited from a WAN to a LAN address"),
	S(drop_spoofed, COUNTER_DROP, "spoofed", "matched a flow on the wrong interface"),
	S(frag_src_limited, COUNTER_TOTAL, "frag_src_limited_total",
	  "First fragments not recorded: their source was over its rate."),
	S(tcp_out_of_window, COUNTER_TOTAL, "tcp_out_of_window_packets_total",
	  "TCP segments outside the tracked window (forwarded, state untouched)."),
	S(gate_full, COUNTER_TOTAL, "gate_full_total",
	  "FTP control sessions not counted because nat_gate was full."),
	S(passed_vlan, COUNTER_TOTAL, "passed_vlan_packets_total",
	  "VLAN-tagged frames on an untagged interface, passed untouched."),
	S(csum_finished, COUNTER_TOTAL, "csum_finished_packets_total",
	  "Unfinished TCP/UDP checksums finished by XDP and redirected."),
	S(csum_kept, COUNTER_TOTAL, "csum_kept_packets_total",
	  "Unfinished TCP/UDP checksums kept unfinished on the kernel path."),
	S(csum_to_kernel, COUNTER_TOTAL, "csum_to_kernel_packets_total",
	  "Packets with unfinished checksums left to the kernel path."),
	S(eim_created, COUNTER_TOTAL, "eim_mappings_created_total",
	  "Endpoint-independent mappings (RFC 4787) created."),
	S(eim_full, COUNTER_TOTAL, "eim_full_total",
	  "New flows without a mapping (nat_eim full or no free port): port per destination."),
	S(eim_inbound, COUNTER_TOTAL, "eim_inbound_flows_total",
	  "Flows opened from outside to a mapping by its filter."),
	S(flowlog_lost, COUNTER_TOTAL, "flowlog_lost_events_total",
	  "Flow log events lost: the ring buffer was full."),
	S(tcp_bulk_passed, COUNTER_TOTAL, "tcp_bulk_passed_packets_total",
	  "Packets of bulk TCP flows left to the kernel path for GRO/GSO (nat_config.tcp_bulk_bytes)."),
	S(local_socket, COUNTER_TOTAL, "local_socket_packets_total",
	  "Packets to a mapping's port that a socket of the router took instead (no flow made)."),
	S(ct_reply_lazy, COUNTER_TOTAL, "ct_reply_lazy_total",
	  "Reply entries of UDP flows made by the flow's first reply, not by its first packet."),
};
_Static_assert(NFIELDS(stats_fields) == sizeof(struct nat_stats) / sizeof(__u64),
	       "every nat_stats field is listed");

#define C(f, kind, metric, help) { #f, offsetof(struct nat_ctl_stats, f), kind, metric, help }
static const struct counter_field ctl_fields[] = {
	C(ct_expired, COUNTER_TOTAL, "flows_expired_total",
	  "Flows removed by the garbage collector (timed out)."),
	C(ct_addr_change, COUNTER_TOTAL, "flows_addr_change_total",
	  "Flows removed because their WAN address changed."),
	C(gc_runs, COUNTER_TOTAL, "gc_runs_total", "Garbage collector passes."),
	C(daemon_pid, COUNTER_CLI_ONLY, NULL, NULL),
	C(daemon_started, COUNTER_CLI_ONLY, NULL, NULL),	/* start_time_seconds */
	C(eim_expired, COUNTER_TOTAL, "eim_mappings_expired_total",
	  "Endpoint-independent mappings removed by the garbage collector."),
};
_Static_assert(NFIELDS(ctl_fields) == sizeof(struct nat_ctl_stats) / sizeof(__u64),
	       "every nat_ctl_stats field is listed");

#define A(f, kind, metric, help) { #f, offsetof(struct nat_alg_stats, f), kind, metric, help }
static const struct counter_field alg_fields[] = {
	A(alg_sessions, COUNTER_GAUGE, "alg_sessions", "FTP control flows the ALG inspects now."),
	A(alg_expects_live, COUNTER_GAUGE, "alg_expectations",
	  "Expectations the FTP ALG holds open now."),
	A(alg_rx, COUNTER_TOTAL, "alg_rx_frames_total", "Frames the ALG read from AF_XDP."),
	A(alg_tx, COUNTER_TOTAL, "alg_tx_frames_total", "Frames the ALG sent."),
	A(alg_rewritten, COUNTER_TOTAL, "alg_rewritten_segments_total",
	  "Segments whose payload the ALG changed."),
	A(alg_dropped, COUNTER_TOTAL, "alg_dropped_segments_total",
	  "Segments dropped by the ALG's protocol core."),
	A(alg_out_of_window, COUNTER_TOTAL, "alg_out_of_window_segments_total",
	  "Segments too far from the stream's next byte (dropped)."),
	A(alg_syn_ignored, COUNTER_TOTAL, "alg_syn_ignored_total",
	  "SYNs on a live session passed untouched."),
	A(alg_bad_frame, COUNTER_TOTAL, "alg_bad_frames_total",
	  "Frames without metadata, not IPv4 TCP, or with bad lengths."),
	A(alg_no_tx_room, COUNTER_TOTAL, "alg_no_tx_room_total",
	  "Segments dropped: the egress socket had no free frame."),
	A(alg_no_flow, COUNTER_TOTAL, "alg_no_flow_total",
	  "Segments forwarded as they were: their flow was gone."),
	A(alg_uninspected, COUNTER_TOTAL, "alg_uninspected_flows_total",
	  "Control flows handed to XDP uninspected."),
	A(alg_evicted, COUNTER_TOTAL, "alg_evicted_sessions_total",
	  "ALG sessions dropped from a full table."),
	A(alg_handed_back, COUNTER_TOTAL, "alg_handed_back_flows_total",
	  "Control flows made opaque (AUTH TLS, not FTP)."),
	A(alg_expects_opened, COUNTER_TOTAL, "alg_expectations_opened_total",
	  "Expectations opened."),
	A(alg_expects_cancelled, COUNTER_TOTAL, "alg_expectations_cancelled_total",
	  "Expectations cancelled by the protocol core."),
	A(alg_expects_replaced, COUNTER_TOTAL, "alg_expectations_replaced_total",
	  "Expectations replaced by a newer one of the same session."),
	A(alg_expects_refused, COUNTER_TOTAL, "alg_expectations_refused_total",
	  "Expectations not opened (a limit was reached)."),
	A(alg_save_failed, COUNTER_TOTAL, "alg_save_failures_total",
	  "Failed writes of ALG session state."),
};
_Static_assert(NFIELDS(alg_fields) == sizeof(struct nat_alg_stats) / sizeof(__u64),
	       "every nat_alg_stats field is listed");

const struct counter_table counters_stats = { XDPNAT_MAP_STATS, stats_fields,
					      NFIELDS(stats_fields) };
const struct counter_table counters_ctl = { XDPNAT_MAP_CTL_STATS, ctl_fields, NFIELDS(ctl_fields) };
const struct counter_table counters_alg = { XDPNAT_MAP_ALG_STATS, alg_fields, NFIELDS(alg_fields) };

uint64_t counter_value(const void *base, const struct counter_field *f)
{
	uint64_t v;

	memcpy(&v, (const char *)base + f->offset, sizeof(v));
	return v;
}

int counters_read_stats(int fd, struct nat_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct nat_stats *percpu;
	__u32 zero = 0;
	int err = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	percpu = calloc((size_t)ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, percpu))
		err = -errno;
	for (int cpu = 0; !err && cpu < ncpu; cpu++)
		for (size_t i = 0; i < NFIELDS(stats_fields); i++) {
			uint64_t v = counter_value(sum, &stats_fields[i]) +
				     counter_value(&percpu[cpu], &stats_fields[i]);

			memcpy((char *)sum + stats_fields[i].offset, &v, sizeof(v));
		}
	free(percpu);
	return err;
}
