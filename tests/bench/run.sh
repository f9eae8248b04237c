#!/bin/bash
# tests/bench/run.sh - the xdpnat benchmark (`make bench`). See doc/readme/bench.md.
#
#   tests/bench/run.sh [micro] [macro] [newflows] [flowlog] [tcp] [memory] [table] [targets]   default: all
#   (targets: issue 15's targets met or not, from this run's rows or those of
#   BENCH_TARGETS_CSV=FILE; keep it last)
#
# Environment: BUILD (default build), BENCH_WARM / BENCH_INTERVAL (seconds
# of warm-up and of measurement per macro point, default 1 / 2),
# BENCH_FLOWS (flow counts of the sweep, default "1 10 100 1000 10000 100000"),
# BENCH_PATHS (default "linux nft xdpnat fwd"), BENCH_REPEAT (passes over each
# macro sweep, runs of the new-flow section; the best counts; default 2),
# BENCH_ZIPF_MIN (the macro's Zipf mix runs at the counts of BENCH_FLOWS
# from this one up; default 1000),
# BENCH_MEM_FLOWS (conntrack-max values of the memory section).
#
# Output: a table on stdout and in tests/bench/results/latest.txt, the chart
# tests/bench/results/pps-vs-flows.png, raw rows in tests/bench/results/latest.csv.
# All traffic stays inside namespaces this script creates (xn-<pid>-*); they
# are deleted on exit (tests/e2e/lib.sh).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

sections=${*:-micro macro newflows flowlog tcp memory table targets}
WARM=${BENCH_WARM:-1}
INTERVAL=${BENCH_INTERVAL:-2}
REPEAT=${BENCH_REPEAT:-2}
FLOWS=${BENCH_FLOWS:-1 10 100 1000 10000 100000}
PATHS=${BENCH_PATHS:-linux nft xdpnat fwd}
B=$E2E_BUILD/tests/bench
RES=tests/bench/results
mkdir -p "$RES"
OUT=$E2E_TMP/out.txt		# the report, copied to $RES/latest.txt at the end
CSV=$E2E_TMP/rows.csv		# section,path,flows,offered_pps,delivered_pps,note
: >"$OUT"
echo "section,path,flows,offered_pps,delivered_pps,note" >"$CSV"

say() { echo "$*" | tee -a "$OUT"; }
note() { echo "# $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }

# ---------------------------------------------------------------- build
# The BPF objects come from `make tests`; the two C tools are built here
# (the Makefile has no rule for C programs in tests/bench).
build() {
	local objs="" o
	# make targets spelled with $BUILD exactly as make's BUILD is
	for o in gen sink fwd micro_wrap table; do objs="$objs $BUILD/tests/bench/$o.bpf.o"; done
	# shellcheck disable=SC2086
	make -s BUILD="$BUILD" $objs "$BUILD/xdpnat.skel.h" >&2 || return 1
	local cflags=(-O2 -g -Wall -Wextra -Werror -std=gnu11 -Iinclude -Itests/bench "-I$E2E_BUILD")
	if [ ! -x "$B/xnbench" ] || [ tests/bench/xnbench.c -nt "$B/xnbench" ] || [ tests/bench/bench.h -nt "$B/xnbench" ] ||
	   [ tests/bench/bench_zipf.h -nt "$B/xnbench" ]; then
		gcc "${cflags[@]}" -o "$B/xnbench" tests/bench/xnbench.c -lbpf -lm || return 1
	fi
	# micro fills and reads nat_ct through the controller's slot-table code,
	# and marks its forward as the controller does (fwdports.c)
	[ -f tests/bench/micro.c ] && if [ ! -x "$B/micro" ] || [ tests/bench/micro.c -nt "$B/micro" ] ||
	   [ "$E2E_BUILD/xdpnat.skel.h" -nt "$B/micro" ] || [ tests/bench/bench.h -nt "$B/micro" ] ||
	   [ tests/bench/bench_zipf.h -nt "$B/micro" ] || [ ctl/common/cttab.c -nt "$B/micro" ] ||
	   [ ctl/common/cttab.h -nt "$B/micro" ] || [ include/nat_ct_slots.h -nt "$B/micro" ] ||
	   [ ctl/common/fwdports.c -nt "$B/micro" ]; then
		gcc "${cflags[@]}" -Ictl -o "$B/micro" tests/bench/micro.c ctl/common/cttab.c \
			ctl/common/fwdports.c -lbpf -lelf -lz -lm ||
			return 1
	fi
	if [ ! -x "$B/table" ] || [ tests/bench/table.c -nt "$B/table" ] || [ tests/bench/table.h -nt "$B/table" ]; then
		gcc "${cflags[@]}" -o "$B/table" tests/bench/table.c -lbpf || return 1
	fi
	return 0
}
build || { echo "bench: build failed" >&2; exit 1; }

# ---------------------------------------------------------------- machine
machine_info() {
	say "xdpnat benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), git $(git rev-parse --short HEAD 2>/dev/null || echo -)$(git diff --quiet 2>/dev/null || echo '+dirty')"
	say "kernel:  $(uname -r) $(uname -m)"
	say "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
	say "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	say "load:    $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine skews absolute numbers)"
	say "xdpnat:  $(xdpnat_state)"
	say ""
}

# xdpnat's data path is usable when bpf/xdpnat.bpf.c is more than the stub
xdpnat_state() {
	if [ ! -x "$E2E_XDPNAT" ]; then echo "no $E2E_XDPNAT"; return; fi
	if grep -q 'STUB' bpf/xdpnat.bpf.c 2>/dev/null; then echo "bpf/xdpnat.bpf.c is still a stub"; return; fi
	echo "$E2E_XDPNAT"
}

# ---------------------------------------------------------------- macro topology
# gen (gen0 192.168.0.2) --- (lan0 192.168.0.1/16) rtr (wan0 198.51.100.1/24) --- sink (sink0 198.51.100.2)
# UDP to 203.0.113.10:9 (routed via the sink); sources 192.168.1.1:1024.. and up.
# The sink drops everything in XDP and never answers ARP: the router has a
# permanent neighbour entry for it. The generator writes the router's MAC
# into its frames itself. Router interfaces get GRO on, so frames XDP_TXed
# or redirected into them are delivered (their peers' veth rule, lib.sh).
macro_topo() {
	e2e_ns_del gen rtr sink
	e2e_ns_add gen rtr sink || return 1
	e2e_sysctl rtr net.ipv4.ip_forward=1
	e2e_veth gen gen0 rtr lan0 || return 1
	e2e_veth rtr wan0 sink sink0 || return 1
	e2e_addr gen gen0 192.168.0.2/16
	e2e_addr rtr lan0 192.168.0.1/16
	e2e_addr rtr wan0 198.51.100.1/24
	e2e_addr sink sink0 198.51.100.2/24
	e2e_in rtr ethtool -K lan0 gro on >/dev/null
	e2e_in rtr ethtool -K wan0 gro on >/dev/null
	e2e_in sink ethtool -K sink0 gro on >/dev/null
	e2e_in gen ethtool -K gen0 gro on >/dev/null
	ip -n "$(e2e_ns rtr)" route add default via 198.51.100.2 dev wan0
	ip -n "$(e2e_ns gen)" route add default via 192.168.0.1
	SINK_MAC=$(cat "/sys/class/net/sink0/address" 2>/dev/null || e2e_in sink cat /sys/class/net/sink0/address)
	SINK_MAC=$(e2e_in sink cat /sys/class/net/sink0/address)
	RTR_LAN_MAC=$(e2e_in rtr cat /sys/class/net/lan0/address)
	GEN_MAC=$(e2e_in gen cat /sys/class/net/gen0/address)
	ip -n "$(e2e_ns rtr)" neigh replace 198.51.100.2 lladdr "$SINK_MAC" dev wan0 nud permanent
	ip -n "$(e2e_ns rtr)" neigh replace 192.168.0.2 lladdr "$GEN_MAC" dev lan0 nud permanent
}

# The generator wired straight to the sink, no router: the cost of
# generating and sinking a frame, subtracted to get the router's own cost.
macro_topo_direct() {
	e2e_ns_del gen rtr sink
	e2e_ns_add gen sink || return 1
	e2e_veth gen gen0 sink sink0 || return 1
	e2e_in sink ethtool -K sink0 gro on >/dev/null
	GEN_MAC=$(e2e_in gen cat /sys/class/net/gen0/address)
	RTR_LAN_MAC=$(e2e_in sink cat /sys/class/net/sink0/address)
}

# path setup/teardown on the router: linux (plain forwarding), nft
# (nftables masquerade), fwd (bare XDP forwarder), xdpnat (the daemon)
path_up() {
	case $1 in
	linux) ;;
	nft)
		e2e_in rtr nft -f - <<-EOF
		table ip xnbench {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan0" masquerade
			}
		}
		EOF
		;;
	fwd)
		e2e_in rtr ip link set dev lan0 xdpdrv obj "$B/fwd.bpf.o" sec xdp &&
		e2e_in rtr ip link set dev wan0 xdpdrv obj "$B/fwd.bpf.o" sec xdp
		;;
	xdpnat)
		[ "$(xdpnat_state)" = "$E2E_XDPNAT" ] || return 1
		local conf=$E2E_TMP/bench-xdpnat.conf
		printf 'wan wan0\nlan lan0\noutbound wan0\n' >"$conf"
		# conntrack-max: the default (65536) unless the point needs more; a
		# larger table costs memory and cache/TLB misses, so size it per
		# point like an operator would (fresh-flow runs: 1048576)
		local need=${2:-1} ct=${BENCH_XDPNAT_CTMAX:-}
		if [ -z "$ct" ]; then
			ct=65536
			[ "$need" = 0 ] && ct=1048576
			# (flows, not entries: nat_ct has two entries per flow)
			while [ "$ct" -lt $((need * 5 / 4)) ]; do ct=$((ct * 2)); done
		fi
		printf 'conntrack-max %s\n' "$ct" >>"$conf"
		[ -n "${XDPNAT_EXTRA_CONF:-}" ] && printf '%s\n' "$XDPNAT_EXTRA_CONF" >>"$conf"
		chmod 600 "$conf"
		if ! e2e_in rtr "$E2E_XDPNAT" check -c "$conf" >/dev/null 2>&1; then
			printf 'wan wan0\nlan lan0\noutbound wan0\n' >"$conf"
		fi
		e2e_xdpnat_start rtr "$conf" >&2
		;;
	esac
}

path_down() {
	case $1 in
	nft) e2e_in rtr nft delete table ip xnbench 2>/dev/null ;;
	fwd)
		e2e_in rtr ip link set dev lan0 xdpdrv off
		e2e_in rtr ip link set dev wan0 xdpdrv off ;;
	xdpnat)
		e2e_xdpnat_stop
		# and its pinned maps: a daemon started on the same pin-dir
		# would adopt the previous point's flows and counters (a table
		# sized for fewer flows then overflows: drop_ct_full)
		e2e_in rtr "$E2E_XDPNAT" detach -c "$E2E_XDPNAT_CONF" >/dev/null 2>&1
		[ -n "${E2E_BPFFS:-}" ] && rm -rf "${E2E_BPFFS:?}/xdpnat"
		;;
	esac
	return 0
}

# measure NFLOWS MODE SECONDS_WARM SECONDS_INTERVAL: sets M_OFF, M_DEL
# (offered and delivered pps, 0 on failure). One xnbench process generates
# in the gen namespace and attaches/reads the sink in the sink namespace, so
# offered and delivered are counted over the identical window.
measure() {
	local nflows=$1 mode=$2 warm=$3 interval=$4 g off del
	M_OFF=0 M_DEL=0
	g=$(XNBENCH_SINK="/run/netns/$(e2e_ns sink):sink0:$B/sink.bpf.o" XNBENCH_SEQ=${M_SEQ:-0} \
		e2e_in gen taskset -c 0 "$B/xnbench" gen "$B/gen.bpf.o" gen0 "$warm" "$interval" "$nflows" "$mode" \
		"$GEN_MAC" "$RTR_LAN_MAC" 192.168.1.1 203.0.113.10 9 2>&1)
	off=$(echo "$g" | sed -n 's/.* pps=\([0-9]*\) .*/\1/p')
	del=$(echo "$g" | sed -n 's/.* delivered_pps=\([0-9]*\).*/\1/p')
	if [ -z "$off" ] || [ -z "$del" ]; then
		note "measure failed: $g"
		return 1
	fi
	M_OFF=$off M_DEL=$del
}

fmt_pps() { awk -v p="$1" 'BEGIN { if (p == "" || p == "n/a") print "n/a"; else printf "%.3f", p / 1e6 }'; }

declare -A DEL OFF NOTE

# point PATH NFLOWS MODE: fresh topology, path up, POINT_RUNS (default 1)
# measurements, path down. OFF[k] DEL[k] keep the best of every call for
# k=PATH,NFLOWS,MODE (best = highest delivered: on a shared machine
# interference only ever lowers a rate); NOTE[k] says why a point has
# none. The macro sections call it once per pass, $REPEAT passes over
# their whole sweep, so that a point's
# measurements are minutes apart: a burst of other work on the host then
# spoils one of them, where back to back it spoiled them all (it did: a
# run whose last points, the 10,000 and 100,000 flows, were slower on
# every path, the generator wired straight to the sink too). point_rows
# writes the bests to $CSV after the passes.
point() {
	local p=$1 f=$2 mode=$3 k=$1,$2,$3 best_o=${OFF[$1,$2,$3]:-0} best_d=${DEL[$1,$2,$3]:--1}
	if [ "$p" = direct ]; then
		macro_topo_direct || { [ -n "${DEL[$k]:-}" ] || NOTE[$k]="topology failed"; return 1; }
	else
		macro_topo || { [ -n "${DEL[$k]:-}" ] || NOTE[$k]="topology failed"; return 1; }
	fi
	if ! path_up "$p" "$f"; then
		if [ -z "${DEL[$k]:-}" ]; then
			NOTE[$k]="n/a: $p not runnable"
			[ "$p" = xdpnat ] && NOTE[$k]="n/a: xdpnat not runnable"
		fi
		path_down "$p"
		return 1
	fi
	unset "NOTE[$k]"
	# POINT_RUNS runs back to back (the new-flow section). In fresh mode
	# run r numbers its flows from r x 2^20 on (a run makes fewer than
	# 2^20), as one long run would: every packet of every run is a new
	# flow. (Each xnbench run used to start at flow 0 again, so a second
	# run sent the first run's flows again, established by then: about
	# 160,000 of nft's, about 50,000 of xdpnat's slow first run: nft's
	# best run was flattered the more.)
	local run seq
	for ((run = 0; run < ${POINT_RUNS:-1}; run++)); do
		seq=0
		[ "$mode" = fresh ] && seq=$((run << 20))
		M_SEQ=$seq measure "$f" "$mode" "$WARM" "$INTERVAL"
		[ "$M_DEL" -gt "$best_d" ] && best_d=$M_DEL best_o=$M_OFF
		note "macro $p flows=$f mode=$mode run $run: offered=$M_OFF delivered=$M_DEL"
	done
	[ "$p" = xdpnat ] && e2e_xdpnat stats 2>/dev/null | sed "s/^/# xdpnat stats ($f flows, $mode): /" >&2
	CT_FULL=""
	if [ "$p" = nft ]; then
		local cnt max
		cnt=$(e2e_in rtr cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null)
		max=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null)
		note "nf_conntrack_count in rtr: $cnt of $max"
		[ -n "$cnt" ] && [ -n "$max" ] && [ "$cnt" -ge $((max * 9 / 10)) ] &&
			CT_FULL="warning: the netfilter conntrack table reached $cnt of $max entries during this point"
	fi
	path_down "$p"
	OFF[$k]=$best_o DEL[$k]=$best_d
}

# point_rows MODE "FLOWS" "PATHS": the best of each point as a row of $CSV
point_rows() {
	local p f
	for f in $2; do
		for p in $3; do
			[ -n "${DEL[$p,$f,$1]:-}" ] && echo "$1,$p,$f,${OFF[$p,$f,$1]},${DEL[$p,$f,$1]}," >>"$CSV"
		done
	done
	return 0
}

# Rows of a macro table, MODE (rr or zipf) over FLOWS ("1 10 ...") and
# PATHS: the header, delivered/offered per path, and each path's ratio
# to the bare forwarder (when it was run).
rows_cells() {	# MODE FLOWS PATHS HEADER
	local mode=$1 flows=$2 paths=$3 p f line
	line=$(printf '%-26s' "$4")
	for f in $flows; do line="$line$(printf ' %13s' "$f")"; done
	say "$line"
	for p in $paths; do
		line=$(printf '%-26s' "$(path_name "$p")")
		for f in $flows; do line="$line$(printf ' %13s' "$(cell "$p,$f,$mode")")"; done
		say "$line"
	done
	has_paths "$paths" fwd || return 0
	for p in $paths; do
		[ "$p" = fwd ] || rows_ratio "$mode" "$flows" "$p" fwd
	done
}

has_paths() {	# "PATHS" P...: every P is in PATHS
	local p
	for p in "${@:2}"; do case " $1 " in *" $p "*) ;; *) return 1 ;; esac; done
}

rows_ratio() {	# MODE FLOWS A B: the row "A / B (delivered)"
	local mode=$1 flows=$2 a=$3 b=$4 f line
	line=$(printf '%-26s' "$a / $b (delivered)")
	for f in $flows; do
		line="$line$(printf ' %13s' "$(ratio "${DEL[$a,$f,$mode]:-}" "${DEL[$b,$f,$mode]:-}")")"
	done
	say "$line"
}

macro() {
	say "== Macro: 64-byte UDP, gen -> router -> sink (veth; XDP live-frames generator pinned to CPU 0)"
	say "   per point: fresh namespaces, warm-up ${WARM}s, ${INTERVAL}s counted; the best of $REPEAT passes over"
	say "   the sweep (a point's measurements minutes apart); Mpps delivered/offered"
	say "   (veth: generator, router and sink all run on the generator's CPU, in turn: the"
	say "   generator is throttled by the router, so offered ~ delivered unless something drops)"
	local p f line pass
	for ((pass = 0; pass < REPEAT; pass++)); do
		for f in $FLOWS; do
			point direct "$f" rr
			for p in $PATHS; do point "$p" "$f" rr; done
		done
	done
	e2e_ns_del gen rtr sink
	point_rows rr "$FLOWS" "direct $PATHS"
	rows_cells rr "$FLOWS" "$PATHS" "path \\ flows"
	line=$(printf '%-26s' "no router (gen -> sink)")
	local direct=0
	for f in $FLOWS; do
		line="$line$(printf ' %13s' "$(cell "direct,$f,rr")")"
		[ "${DEL[direct,$f,rr]:-0}" -gt "$direct" ] && direct=${DEL[direct,$f,rr]}
	done
	say "$line"
	# The generator's and sink's cost does not depend on the flow count;
	# the fastest "no router" measurement is the one least disturbed by
	# other work on the machine, so it is the baseline for every column.
	say "   router ns/packet = 1/delivered - 1/(fastest no-router rate, $(fmt_pps "$direct") Mpps):"
	say "   the router's own cost per packet in the pipeline"
	for p in $PATHS; do
		line=$(printf '%-26s' "$p ns/pkt")
		for f in $FLOWS; do line="$line$(printf ' %13s' "$(router_ns "${DEL[$p,$f,rr]:-}" "$direct")")"; done
		say "$line"
	done
	has_paths "$PATHS" nft xdpnat && rows_ratio rr "$FLOWS" xdpnat nft
	for p in $PATHS; do [ -n "${NOTE[$p,${FLOWS%% *},rr]:-}" ] && say "   $p: ${NOTE[$p,${FLOWS%% *},rr]}"; done
	say ""
	chart
	macro_zipf
}

# The heavy-tailed mix next to the round robin above: the same flows, but
# packet i is flow zipf[i % 2^20], a fixed sequence drawn from a Zipf
# distribution (s = 1.0) over the flows with the ranks randomly permuted
# over the flow numbers (tests/bench/bench_zipf.h); at the flow counts of
# BENCH_FLOWS from BENCH_ZIPF_MIN (default 1000) up, for fwd, nft and
# xdpnat (those of BENCH_PATHS).
macro_zipf() {
	local zflows="" zpaths="" p f line pass
	for f in $FLOWS; do [ "$f" -ge "${BENCH_ZIPF_MIN:-1000}" ] && zflows="$zflows $f"; done
	for p in $PATHS; do case $p in fwd|nft|xdpnat) zpaths="$zpaths $p" ;; esac; done
	zflows=${zflows# } zpaths=${zpaths# }
	[ -n "$zflows" ] && [ -n "$zpaths" ] || return 0
	say "== Macro, heavy-tailed mix: the same, packet i is flow zipf[i mod 2^20] (Zipf s=1.0 over the"
	say "   flows, ranks randomly permuted, fixed seed; bench_zipf.h); Mpps delivered/offered"
	for ((pass = 0; pass < REPEAT; pass++)); do
		for f in $zflows; do
			for p in $zpaths; do point "$p" "$f" zipf; done
		done
	done
	e2e_ns_del gen rtr sink
	point_rows zipf "$zflows" "$zpaths"
	rows_cells zipf "$zflows" "$zpaths" "path \\ flows (Zipf)"
	has_paths "$zpaths" nft xdpnat && rows_ratio zipf "$zflows" xdpnat nft
	for p in $zpaths; do
		for f in $zflows; do
			[ -n "${NOTE[$p,$f,zipf]:-}" ] && { say "   $p: ${NOTE[$p,$f,zipf]}"; break; }
		done
	done
	say ""
}

cell() {	# key -> "delivered/offered" in Mpps, or n/a
	if [ -n "${NOTE[$1]:-}" ] || [ -z "${DEL[$1]:-}" ]; then echo n/a
	else echo "$(fmt_pps "${DEL[$1]}")/$(fmt_pps "${OFF[$1]}")"; fi
}

# ---------------------------------------------------------------- new flows/s
# Every packet has a 5-tuple never seen before (gen mode "fresh"): delivered
# pps = flows set up per second. The window is short on purpose: the Linux
# conntrack table is global (nf_conntrack_max, not ours to change) and
# fills at these rates; xdpnat gets conntrack-max 1048576.
newflows() {
	say "== New flows/s: UDP, a new source port/address on every packet (warm-up 0.05s, 0.5s counted, best of $REPEAT runs)"
	say "   the runs are back to back in one router, each numbering its flows on past the previous"
	say "   run's (every packet a new flow); a router's first run can be slow (xdpnat: a fresh"
	say "   table's pages are slow to touch the first time on this VM), so the best run counts"
	local p paths="" ct_full=""
	for p in nft xdpnat; do case " $PATHS " in *" $p "*) paths="$paths $p" ;; esac; done
	for p in $paths; do
		POINT_RUNS=$REPEAT WARM=0.05 INTERVAL=0.5 point "$p" 0 fresh
		[ "$p" = nft ] && [ -n "${CT_FULL:-}" ] && ct_full=$CT_FULL
	done
	e2e_ns_del gen rtr sink
	point_rows fresh 0 "$paths"
	for p in $paths; do
		say "$(printf '%-26s %s' "$(path_name "$p")" "$(cell "$p,0,fresh") Mpps (new flows/s delivered/offered)")"
		[ -n "${NOTE[$p,0,fresh]:-}" ] && say "   ${NOTE[$p,0,fresh]}"
		[ "$p" = nft ] && [ -n "$ct_full" ] && say "   $ct_full"
	done
	say "   xdpnat / nft: $(ratio "${DEL[xdpnat,0,fresh]:-}" "${DEL[nft,0,fresh]:-}")"
	say ""
}

# ---------------------------------------------------------------- NAT log
# `flow-log FILE`: every new flow is a start line written by the daemon from
# the data path's ring buffer. Paced at FLOWLOG_RATE new UDP flows/s (a new
# source port every packet) for FLOWLOG_SECS s, then unpaced for 1 s; after
# each run the daemon drains the ring. Reported: flows the data path made,
# start lines in the file, events it counted as lost (ring full), and the
# writer's rate (lines / time from the first packet until the file stopped
# growing).
FLOWLOG_RATE=${BENCH_FLOWLOG_RATE:-100000}
FLOWLOG_SECS=${BENCH_FLOWLOG_SECS:-3}

# stat ROLE-less: one counter of `xdpnat stats --json`
flowlog_stat() { e2e_xdpnat stats --json 2>/dev/null | jq -r "[.. | objects | .\"$1\"? | numbers] | first // 0"; }

# flowlog_run LABEL PPS SECS: one run on fresh namespaces and a fresh log
flowlog_run() {
	local label=$1 pps=$2 secs=$3 log=$E2E_TMP/bench-flows.log g t0 t1 n prev same created lost lines
	rm -f "$log"
	macro_topo || { say "   $label: topology failed"; return 1; }
	XDPNAT_EXTRA_CONF="flow-log $log" path_up xdpnat 0 ||
		{ say "   $label: xdpnat not runnable"; path_down xdpnat; return 1; }
	t0=$(date +%s.%N)
	g=$(XNBENCH_PPS=$pps XNBENCH_REPEAT=$([ "$pps" = 0 ] && echo 65536 || echo 2000) \
		e2e_in gen taskset -c 0 "$B/xnbench" gen "$B/gen.bpf.o" gen0 0 "$secs" 0 fresh \
		"$GEN_MAC" "$RTR_LAN_MAC" 192.168.1.1 203.0.113.10 9 2>&1)
	# drained: the file has not grown for 1 s
	prev=-1 same=0 t1=$t0
	for _ in $(seq 300); do
		n=$(wc -l <"$log" 2>/dev/null || echo 0)
		if [ "$n" = "$prev" ]; then
			same=$((same + 1)); [ $same -ge 10 ] && break
		else
			same=0 prev=$n t1=$(date +%s.%N)
		fi
		sleep 0.1
	done
	created=$(flowlog_stat flows_created)
	lost=$(flowlog_stat flowlog_lost)
	note "flowlog $label: drained after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; daemon: $(grep -E 'flow-log|lost' "$E2E_XDPNAT_LOG" | tail -3 | tr '\n' ' ')"
	path_down xdpnat
	# the next run must not adopt this one's flows (and counters)
	e2e_in rtr "$E2E_XDPNAT" detach -c "$E2E_XDPNAT_CONF" >/dev/null 2>&1
	lines=$(grep -c '"event":"start"' "$log" 2>/dev/null || echo 0)
	note "flowlog $label: $g; created=$created lines=$lines lost=$lost"
	# offered/s: the counted window's rate; the whole run's if the window
	# was empty (unpaced, the generator can send all its flows in warm-up)
	local offered
	offered=$(echo "$g" | sed -n 's/.* pps=\([0-9]*\) .*/\1/p')
	[ -n "$offered" ] || offered=$(echo "$g" | sed -n 's/.*total_pkts=\([0-9]*\) total_seconds=\([0-9.]*\).*/\1 \2/p' |
		awk '$2 > 0 { printf "%.0f", $1 / $2 }')
	say "$(printf '%-28s %12s %12s %12s %12s %14s' "$label" \
		"$offered" "$created" "$lines" "$lost" \
		"$(awk -v n="$lines" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')")"
	echo "flowlog,$label,$created,$pps,$lines,lost=$lost" >>"$CSV"
}

flowlog() {
	say "== NAT log (flow-log to a file): new UDP flows, one start line each (ring: 8 MiB)"
	command -v jq >/dev/null || { say "   n/a: no jq"; say ""; return; }
	say "$(printf '%-28s %12s %12s %12s %12s %14s' run 'offered/s' 'flows made' 'lines' 'lost' 'lines/s')"
	flowlog_run "paced ${FLOWLOG_RATE}/s, ${FLOWLOG_SECS} s" "$FLOWLOG_RATE" "$FLOWLOG_SECS"
	flowlog_run "unpaced, 1 s" 0 1
	e2e_ns_del gen rtr sink
	say "   lines/s: start lines / time from the first packet until the file stopped growing"
	say "   (a lower bound of the writer's rate); lost: nat_stats.flowlog_lost (ring full)"
	say ""
}

# ---------------------------------------------------------------- TCP
# iperf3 through the router, 1 and 8 connections (-P), both directions:
# up = gen -> sink (LAN -> WAN), down = sink -> gen (`iperf3 -R`: the sink
# sends). The hosts' veths have tx checksum offload off (complete checksums
# reach XDP, see tests/e2e/lib.sh), which also turns TSO off: they send
# MTU-sized segments, so what the router coalesces (GRO) is up to it.
# BENCH_TCP_SECS (default 4) per run; BENCH_TCP_PATHS (default "nft xdpnat").
TCP_SECS=${BENCH_TCP_SECS:-4}
TCP_PATHS=${BENCH_TCP_PATHS:-nft xdpnat}

# tcp_run STREAMS DIR: one iperf3 client run on the current topology; prints
# "GBITS RETRANSMITS", nothing on failure.
tcp_run() {
	local streams=$1 dir=$2 rev=""
	[ "$dir" = down ] && rev=-R
	e2e_in gen iperf3 -c 198.51.100.2 -t "$TCP_SECS" -P "$streams" $rev -J 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f %d" % (d["end"]["sum_received"]["bits_per_second"]/1e9, d["end"]["sum_sent"].get("retransmits", 0)))' 2>/dev/null
}

tcp_bench() {
	say "== TCP throughput: iperf3, ${TCP_SECS} s per run, gen -> router -> sink (host tx offload off, MTU 1500)"
	say "   up = gen -> sink (LAN -> WAN), down = sink -> gen (iperf3 -R); Gbit/s received (retransmits)"
	command -v iperf3 >/dev/null || { say "   n/a: no iperf3"; say ""; return; }
	local p s d r srv
	declare -A TCP_R
	for p in $TCP_PATHS; do
		macro_topo || return 1
		ip -n "$(e2e_ns rtr)" neigh del 198.51.100.2 dev wan0
		ip -n "$(e2e_ns rtr)" neigh del 192.168.0.2 dev lan0
		e2e_in gen ethtool -K gen0 tx off >/dev/null
		e2e_in sink ethtool -K sink0 tx off >/dev/null
		if ! path_up "$p"; then
			TCP_R[$p]="n/a: $p not runnable"
			path_down "$p"
			continue
		fi
		e2e_bg sink iperf3 -s -B 198.51.100.2
		srv=$E2E_BG_PID
		# (not a test connection: iperf3 would count it as a failed client)
		e2e_wait_for -t 5 e2e_in sink bash -c 'ss -Hltn "sport = :5201" | grep -q .'
		for s in 1 8; do
			for d in up down; do
				r=$(tcp_run "$s" "$d")
				TCP_R[$p,$s,$d]=${r:-failed}
				note "tcp $p streams=$s $d: ${r:-failed}"
				[ -n "$r" ] && echo "tcp,$p,$s,,${r% *},$d" >>"$CSV"
			done
		done
		[ "$p" = xdpnat ] && e2e_xdpnat stats 2>/dev/null | sed "s/^/# xdpnat stats (tcp): /" >&2
		e2e_kill "$srv"
		path_down "$p"
	done
	e2e_ns_del gen rtr sink
	say "$(printf '%-22s %18s %18s %18s %18s' path '1 stream up' '1 stream down' '8 streams up' '8 streams down')"
	local line c
	for p in $TCP_PATHS; do
		line=$(printf '%-22s' "$(path_name "$p")")
		if [ -n "${TCP_R[$p]:-}" ]; then
			say "$line ${TCP_R[$p]}"
			continue
		fi
		for s in 1 8; do
			for d in up down; do
				r=${TCP_R[$p,$s,$d]}
				if [ "$r" = failed ]; then c=failed; else c="${r% *} (${r#* })"; fi
				line="$line$(printf ' %18s' "$c")"
			done
		done
		say "$line"
	done
	case " $TCP_PATHS " in *" nft "*" xdpnat "*|*" xdpnat "*" nft "*)
		line=$(printf '%-22s' "xdpnat / nft")
		for s in 1 8; do
			for d in up down; do
				line="$line$(printf ' %18s' "$(ratio "${TCP_R[xdpnat,$s,$d]% *}" "${TCP_R[nft,$s,$d]% *}")")"
			done
		done
		say "$line" ;;
	esac
	say ""
}

path_name() {
	case $1 in
	linux) echo "linux forwarding, no NAT" ;;
	nft) echo "nftables masquerade" ;;
	fwd) echo "bare XDP forwarder" ;;
	xdpnat) echo "xdpnat" ;;
	*) echo "$1" ;;
	esac
}

router_ns() {	# delivered_pps direct_pps -> ns per packet spent in the router
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a + 0 == 0 || b + 0 == 0 || a + 0 > b + 0) print "n/a"; else printf "%.0f", 1e9 / a - 1e9 / b }'
}

ratio() {	# a b -> a/b with 2 decimals, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

chart() {
	command -v gnuplot >/dev/null || { say "(no gnuplot: no chart)"; return; }
	local dat=$E2E_TMP/pps.dat p f cols=""
	{
		printf 'flows'
		for p in $PATHS; do printf ' %s' "$p"; done
		echo
		for f in $FLOWS; do
			printf '%s' "$f"
			for p in $PATHS; do
				if [ -n "${NOTE[$p,$f,rr]:-}" ] || [ -z "${DEL[$p,$f,rr]:-}" ]; then printf ' NaN'
				else printf ' %s' "$(fmt_pps "${DEL[$p,$f,rr]}")"; fi
			done
			echo
		done
	} >"$dat"
	local i=2
	for p in $PATHS; do
		cols="$cols${cols:+, }'$dat' using 1:$i with linespoints lw 2 title '$(path_name "$p")'"
		i=$((i + 1))
	done
	gnuplot <<-EOF 2>&1 | sed 's/^/# gnuplot: /' >&2
	set terminal pngcairo size 900,560 noenhanced
	set output '$RES/pps-vs-flows.png'
	set title 'Delivered Mpps vs. concurrent flows (64-byte UDP, veth, $(uname -r), $(nproc) cores)'
	set xlabel 'flows'
	set ylabel 'Mpps delivered'
	set logscale x
	set yrange [0:*]
	set key outside bottom center horizontal
	set grid
	set datafile missing 'NaN'
	plot $cols
	EOF
	say "chart: $RES/pps-vs-flows.png"
	say ""
}

# ---------------------------------------------------------------- micro
# One namespace "mic" with the router's two interfaces (peers in "micp");
# neighbours are permanent so bpf_fib_lookup succeeds without ARP.
micro() {
	say "== Micro: BPF_PROG_TEST_RUN, ns/packet (fastest of 9 x 500000 runs; 64-byte UDP)"
	e2e_ns_del mic micp
	e2e_ns_add mic micp || return 1
	e2e_sysctl mic net.ipv4.ip_forward=1
	e2e_veth mic lan0 micp lanp || return 1
	e2e_veth mic wan0 micp wanp || return 1
	e2e_addr mic lan0 192.168.0.1/24
	e2e_addr mic wan0 198.51.100.1/24
	local lanp wanp out
	lanp=$(e2e_in micp cat /sys/class/net/lanp/address)
	wanp=$(e2e_in micp cat /sys/class/net/wanp/address)
	ip -n "$(e2e_ns mic)" neigh replace 192.168.0.10 lladdr "$lanp" dev lan0 nud permanent
	ip -n "$(e2e_ns mic)" neigh replace 192.168.0.254 lladdr "$lanp" dev lan0 nud permanent
	ip -n "$(e2e_ns mic)" neigh replace 198.51.100.2 lladdr "$wanp" dev wan0 nud permanent
	ip -n "$(e2e_ns mic)" route add default via 198.51.100.2 dev wan0
	# MICRO_PERF: a command prefix, split into words on purpose
	# shellcheck disable=SC2086
	out=$(e2e_in mic env MICRO_LANC_MAC="$lanp" MICRO_INET_MAC="$wanp" \
		${MICRO_PERF:-} taskset -c 0 "$B/micro" run "$B/fwd.bpf.o" "$B/micro_wrap.bpf.o" lan0 wan0 2>&1)
	e2e_ns_del mic micp
	echo "$out" | sed 's/^/# micro: /' >&2
	local base
	base=$(echo "$out" | awk -F'\t' '$1 == "harness" {print $2}')
	[ -n "$base" ] || { say "micro: harness failed: $out"; say ""; return 1; }
	say "   harness (restore frame + tail call, subtracted below): $base ns"
	say "$(printf '%-40s %9s %9s  %s' case 'net ns' 'vs fwd' 'check')"
	local name ns why c_l2w c_w2l ceil label
	c_l2w=$(echo "$out" | awk -F'\t' '$2 == "fwd_l2w" {print $3}')
	c_w2l=$(echo "$out" | awk -F'\t' '$2 == "fwd_w2l" {print $3}')
	while IFS=$'\t' read -r _ name ns why; do
		case $name in
		fwd_l2w) label="bare forwarder LAN->WAN (ceiling)"; ceil=$c_l2w ;;
		fwd_w2l) label="bare forwarder WAN->LAN (ceiling)"; ceil=$c_w2l ;;
		nat_est_l2w) label="xdpnat established LAN->WAN"; ceil=$c_l2w ;;
		nat_est_w2l) label="xdpnat established reply WAN->LAN"; ceil=$c_w2l ;;
		nat_fwd_w2l) label="xdpnat forward in WAN->LAN"; ceil=$c_w2l ;;
		nat_fwd_l2w) label="xdpnat forward reply LAN->WAN"; ceil=$c_l2w ;;
		nat_est_tcp_l2w) label="xdpnat established TCP LAN->WAN"; ceil=$c_l2w ;;
		nat_est_l2w_unfinished) label="xdpnat est. LAN->WAN, unfinished csum"; ceil=$c_l2w ;;
		nat_est_l2w_nocache) label="  same, FIB lookup per packet (no cache)"; ceil=$c_l2w ;;
		nat_est_l2w_zipf*) label="  same, Zipf s=1.0 over ${name##*_zipf} flows"; ceil=$c_l2w ;;
		nat_est_l2w_random*) label="  same, random order over ${name##*_random} flows"; ceil=$c_l2w ;;
		nat_est_l2w_[0-9]*) label="  same, round robin over ${name##*_} flows"; ceil=$c_l2w ;;
		nat_new_l2w) label="xdpnat new flow LAN->WAN"; ceil=$c_l2w ;;
		*) label=$name; ceil="" ;;
		esac
		if [ "${ns%%.*}" = -1 ]; then
			say "$(printf '%-40s %9s %9s  %s' "$label" n/a n/a "$why")"
		else
			say "$(printf '%-40s %9s %9s  %s' "$label" "$ns" "$(ratio "$ns" "$ceil")x" "$why")"
		fi
		echo "micro,$name,,,$ns,$why" >>"$CSV"
	done < <(echo "$out" | grep $'^case\t')
	echo "$out" | grep -E $'^(nat|zipf|stats)\t' | cut -f2- | sed 's/^/   /' | tee -a "$OUT"
	# What a cache miss costs here: the floor of the round-robin cases
	# (micro.c memlat). 10 MiB: nat_ct at the default conntrack-max (the
	# macro's 10,000 flows); 40 MiB: the micro's nat_ct (262144); 160 MiB:
	# 1048576 (the new-flow macro). USED@MIB: the lines a macro point
	# reads, its flows' entries at random places of its table (10,000
	# flows: conntrack-max 65536, 10 MiB; 100,000: 131072, 20 MiB). The
	# same points again in 2 MiB pages ('h'): what of it is TLB misses.
	local lat line="" ws="" hs="" v
	lat=$(taskset -c 0 "$B/micro" memlat 1 10 40 160 10000@10 100000@20 \
		10000@10h 100000@20h 40h 2>&1)
	while IFS=$'\t' read -r _ mib ns _; do
		v="$ns ns"
		[ "${ns%%.*}" = -1 ] && v="n/a (no huge pages)"
		case $mib in
		*h) mib=${mib%h}
		    case $mib in
		    *@*) hs="$hs${hs:+, }${mib%@*} lines in ${mib#*@} MiB $v" ;;
		    *) hs="$hs${hs:+, }$mib MiB $v" ;;
		    esac
		    mib=${mib}h ;;
		*@*) ws="$ws${ws:+, }${mib%@*} lines in ${mib#*@} MiB $v" ;;
		*) line="$line${line:+, }$mib MiB $v" ;;
		esac
		echo "memlat,$mib,,,$ns," >>"$CSV"
	done < <(echo "$lat" | grep $'^memlat\t')
	say "   a cache miss on this machine (dependent loads at random lines of 4 KiB pages, micro memlat):"
	say "   ${line:-n/a: $lat}"
	[ -n "$ws" ] && say "   the macro's points (their flows' lines at random places of their table): $ws"
	[ -n "$hs" ] && say "   the same in 2 MiB pages (what is left without TLB misses; BPF maps have 4 KiB pages): $hs"
	say ""
}

# ---------------------------------------------------------------- memory
# Every map the loader (ctl/daemon/loader.c) sizes from conntrack-max:
# nat_ct (an array of 1 + ceil(2.5 x conntrack-max) 64-byte slots for at
# most 2 entries a flow, preallocated and mmap()able), nat_eim (3 entries a flow at
# most, BPF_F_NO_PREALLOC: its memlock is the bucket array up front plus
# what the mappings in use take, so it is also filled to its bound and read
# again) and nat_unassured (conntrack-max / 4, clamped, preallocated).
# memlock from /proc/self/fdinfo: the kernel's own accounting.
NAT_EIM_PORTS_BYTES=$((3 * 65536 * 8))	# a table of nat_eim_ports (include/xdpnat.h)
BENCH_MEM_FLOWS=${BENCH_MEM_FLOWS:-65536 262144 1048576}
memory() {
	say "== Memory per flow of conntrack-max: the maps sized from it (nat_ct, nat_eim, nat_unassured; memlock)"
	local out
	# shellcheck disable=SC2086
	out=$("$B/micro" memory $BENCH_MEM_FLOWS 2>&1) || { say "memory: $out"; say ""; return 1; }
	say "$(printf '%10s %12s %12s %12s %13s %8s %13s %8s %8s' conntrack-max 'nat_ct B' 'nat_eim B' \
		'unassured B' 'up front B' 'B/flow' 'eim full B' 'B/entry' 'B/flow')"
	local f ct eim una fixed full n up upf fullf per ctb ctpf slots=""
	for f in $BENCH_MEM_FLOWS; do
		ct=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memmap" && $2 == f && $3 == "nat_ct" {print $7}')
		# nat_ct's own size: max_entries slots of value_size (64) bytes
		ctb=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memmap" && $2 == f && $3 == "nat_ct" {print $4 * $6}')
		ctpf=$(awk -v a="${ctb:-0}" -v f="$f" 'BEGIN { printf "%.1f", a / f }')
		slots="$slots $f: $ctb B ($ctpf B/flow);"
		eim=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memmap" && $2 == f && $3 == "nat_eim" {print $7}')
		una=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memmap" && $2 == f && $3 == "nat_unassured" {print $7}')
		fixed=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memfixed" && $2 == f {print $3}')
		n=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memeim" && $2 == f {print $3}')
		full=$(echo "$out" | awk -F'\t' -v f="$f" '$1 == "memeim" && $2 == f {print $4}')
		if [ -z "$ct" ] || [ -z "$eim" ] || [ -z "$una" ] || [ -z "$full" ]; then
			say "memory: no rows for $f: $out"
			continue
		fi
		up=$((ct + eim + una))
		upf=$(awk -v a="$up" -v f="$f" 'BEGIN { printf "%.1f", a / f }')
		fullf=$(awk -v a="$((ct + full + una))" -v f="$f" 'BEGIN { printf "%.1f", a / f }')
		per=$(awk -v a="$full" -v b="$eim" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "n/a" }')
		say "$(printf '%10s %12s %12s %12s %13s %8s %13s %8s %8s' "$f" "$ct" "$eim" "$una" "$up" "$upf" "$full" "$per" "$fullf")"
		{
			echo "memory,nat_ct,$f,,,memlock=$ct slots_bytes=$ctb slots_bytes_per_flow=$ctpf"
			echo "memory,nat_eim,$f,,,memlock=$eim full_memlock=$full full_entries=$n"
			echo "memory,nat_unassured,$f,,,memlock=$una"
			echo "memory,total,$f,,,upfront_per_flow=$upf eim_full_per_flow=$fullf eim_bytes_per_entry=$per other_maps=$fixed"
		} >>"$CSV"
	done
	say "   up front: memlock of the three maps after loading (nat_ct and nat_unassured preallocated,"
	say "   nat_eim's bucket array); eim full: nat_eim filled to its bound (2 entries per flow, an"
	say "   INSIDE and a PEER one: the worst case; flows of one inside endpoint share a mapping, most"
	say "   mappings keep their port and have neither); B/entry: what one live"
	say "   nat_eim entry adds; the last B/flow: all three maps with nat_eim full."
	say "   nat_ct's slots (max_entries x 64 B, 1 + ceil(2.5 x conntrack-max) slots):${slots%;}"
	say "   Not counted (fixed size, not scaled by conntrack-max): the other maps, $(echo "$out" | awk -F'\t' '$1 == "memfixed" {print $3; exit}') B in all,"
	say "   of which nat_eim_ports, the owners of the outside ports, is $((NAT_EIM_PORTS_BYTES)) B a WAN (one WAN here)."
	local obj
	obj=$(awk '$1 == "nf_conntrack" {print $4}' /proc/slabinfo 2>/dev/null)
	[ -n "$obj" ] && say "   for comparison, nf_conntrack: $obj B per entry (slab object) + hash bucket, max $(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null) entries"
	say ""
}

# ---------------------------------------------------------------- table
# The flow-table study (table.c, table.bpf.c): one established lookup +
# update in the kernel's BPF hash (nat_ct before its slot table) against 64-byte slots with
# open addressing in a BPF array (Robin Hood, load factor 0.8, 160 B a
# flow), flows visited round robin and in random order.
BENCH_TABLE_FLOWS=${BENCH_TABLE_FLOWS:-1 1024 16384 131072 1048576}
table() {
	say "== Flow-table study: one lookup + update, ns (BPF_PROG_TEST_RUN, fastest of 7 x 1000000 runs)"
	local out
	# shellcheck disable=SC2086
	out=$(taskset -c 0 "$B/table" "$B/table.bpf.o" $BENCH_TABLE_FLOWS 2>&1) || { say "table: $out"; say ""; return 1; }
	say "$(printf '%10s %-12s %10s %10s %8s %10s %10s %11s' flows order 'hash ns' 'slots ns' 'hash/sl' 'hash B/fl' 'slots B/fl' 'probes a/max')"
	local f o h sl hb sb pa pm
	while IFS=$'\t' read -r _ f o h sl hb sb pa pm; do
		say "$(printf '%10s %-12s %10s %10s %8s %10s %10s %11s' "$f" "$o" "$h" "$sl" "$(ratio "$h" "$sl")" "$hb" "$sb" "$pa/$pm")"
		echo "table,$o,$f,,,hash_ns=$h slots_ns=$sl hash_bytes_per_flow=$hb slots_bytes_per_flow=$sb probes_avg=$pa probes_max=$pm" >>"$CSV"
	done < <(echo "$out" | grep $'^table\t')
	say "   hash: BPF_MAP_TYPE_HASH of nat_ct's key and value, two entries a flow, as nat_ct was;"
	say "   slots: a BPF array of 64-byte slots (16-byte key + 48-byte value in one cache line),"
	say "   linear probing with Robin Hood insertion at load factor 0.8 (160 B a flow). A study of"
	say "   the table alone, not the data path: it measures what issue 15's proposed layout would gain."
	say ""
}

# ---------------------------------------------------------------- targets
# Issue 15's targets, each with the number measured and met / NOT met /
# n/a, computed from the rows of this run ($CSV; BENCH_TARGETS_CSV=FILE
# reads another run's rows instead, e.g. tests/bench/results/latest.csv).
TCSV=""

# tval SECTION_PREFIX VALUE: VALUE, or why there is none
t_has() { grep -q "^$1," "$TCSV"; }
# macro/newflows delivered pps of MODE,PATH,FLOWS (the best row)
t_del() { awk -F, -v m="$1" -v p="$2" -v f="$3" '$1 == m && $2 == p && $3 == f && $5 + 0 > best { best = $5 + 0 } END { if (best > 0) print best }' "$TCSV"; }
# micro ns of case NAME (failed cases are -1: none)
t_micro() { awk -F, -v n="$1" '$1 == "micro" && $2 == n && $5 + 0 > 0 { v = $5 } END { if (v != "") print v }' "$TCSV"; }

# t_line LABEL SECTION VALUE OP LIMIT [UNIT [EXTRA]]: one target line
t_line() {
	local label=$1 sec=$2 v=$3 op=$4 lim=$5 unit=${6:-} extra=${7:-} res
	if ! t_has "$sec"; then
		res="n/a (section not run)"; v=-
	elif [ -z "$v" ] || [ "$v" = n/a ]; then
		res="n/a (not measured in this run)"; v=-
	else
		res=$(awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN { ok = op == ">=" ? v + 0 >= l + 0 : v + 0 <= l + 0; print ok ? "met" : "NOT met" }')
	fi
	say "$(printf '  %-54s %-9s %-14s %s' "$label" "$op $lim$unit" "$v$([ "$v" = - ] || echo "$unit")" "$res")${extra:+   ($extra)}"
	echo "target,$(echo "$label" | tr -s ' ,' '_'),,,$v,$res" >>"$CSV"
}

# t_tcp STREAMS: xdpnat >= nft in every direction both were measured in
t_tcp() {
	local n=$1 label out
	label="TCP, $n stream$([ "$n" = 1 ] || echo s): xdpnat >= nftables"
	if ! t_has tcp; then
		say "$(printf '  %-54s %-9s %-14s %s' "$label" ">= nft" - "n/a (section not run)")"
		echo "target,tcp_$n,,,-,n/a (section not run)" >>"$CSV"
		return
	fi
	# per direction (an empty DIR is LAN->WAN, "up"): the best row of each path
	out=$(awk -F, -v n="$n" '$1 == "tcp" && $3 == n && ($2 == "nft" || $2 == "xdpnat") {
			d = $6 == "" ? "up" : $6; k = $2 SUBSEP d
			if (!(k in best) || $5 + 0 > best[k]) best[k] = $5 + 0; dirs[d] = 1 }
		END { if (length(dirs) == 0) { print "n/a (no rows)|none"; exit }
			all = 1; any = 0; s = ""
			for (d in dirs) {
				if (!((("nft" SUBSEP d) in best) && (("xdpnat" SUBSEP d) in best))) { s = s " " d ": incomplete;"; continue }
				x = best["xdpnat" SUBSEP d]; f = best["nft" SUBSEP d]; any = 1
				if (x < f) all = 0
				s = s sprintf(" %s %.2f vs %.2f Gbit/s (%.2fx);", d, x, f, f > 0 ? x / f : 0)
			}
			sub(/;$/, "", s); sub(/^ /, "", s)
			print (any ? (all ? "met" : "NOT met") : "n/a (no xdpnat/nft pair)") "|" s }' "$TCSV")
	say "$(printf '  %-54s %-9s %-14s %s' "$label" ">= nft" "see ->" "${out%%|*}")   (xdpnat vs nft: ${out#*|})"
	echo "target,tcp_$n,,,${out#*|},${out%%|*}" >>"$CSV"
}

# t_ceiling FWD_PPS XDPNAT_1_PPS FWD_1_PPS LAT FLOWS: the ratio to expect
# if each packet paid, on top of the forwarder's time at this point,
# xdpnat's own extra time of one flow and one access to its flow's line
# (LAT ns, micro memlat USED@MIB), overlapping nothing: an estimate of
# where this machine puts the point, not a bound (the CPU may overlap some
# of the access with other work)
t_ceiling() {
	[ -n "$1" ] && [ -n "$2" ] && [ -n "$3" ] && [ -n "$4" ] || return 0
	awk -v f="$1" -v x1="$2" -v f1="$3" -v l="$4" -v n="$5" 'BEGIN {
		t = 1e9 / f; e = 1e9 / x1 - 1e9 / f1; if (e < 0) e = 0
		printf "one flow %.1f ns over fwd + one access to %d lines %.1f ns: %.2f expected", e, n, l, t / (t + e + l) }'
}

targets() {
	TCSV=${BENCH_TARGETS_CSV:-$CSV}
	[ -r "$TCSV" ] || { say "targets: cannot read $TCSV"; return 1; }
	say "== Targets (issue 15), from $([ "$TCSV" = "$CSV" ] && echo "this run's rows" || echo "$TCSV")"
	say "$(printf '  %-54s %-9s %-14s %s' target limit measured result)"
	local f x fw nf mem lat
	for f in 10000 100000; do
		x=$(t_del rr xdpnat $f) fw=$(t_del rr fwd $f) nf=$(t_del rr nft $f)
		lat=$(awk -F, -v k="$f@$([ $f = 10000 ] && echo 10 || echo 20)" \
			'$1 == "memlat" && $2 == k { print $5 }' "$TCSV")
		t_line "established $f flows (round robin): xdpnat / fwd" rr "$(ratio "$x" "$fw")" ">=" \
			"$([ $f = 10000 ] && echo 0.9 || echo 0.6)" "" \
			"$(t_ceiling "$fw" "$(t_del rr xdpnat 1)" "$(t_del rr fwd 1)" "$lat" "$f")"
		t_line "established $f flows (round robin): xdpnat / nft" rr "$(ratio "$x" "$nf")" ">=" 4
	done
	x=$(awk -F, '$1 == "memlat" && $2 == 40 { print $5 }' "$TCSV")
	t_line "micro: round robin over 131072 flows" micro "$(t_micro nat_est_l2w_131072)" "<=" 130 " ns" \
		"floor: one cache miss in the 40 MiB nat_ct costs ${x:-?} ns here, plus $(t_micro nat_est_l2w || echo ?) ns of one flow's work"
	x=$(t_micro nat_est_l2w) fw=$(t_micro fwd_l2w)
	t_line "micro: one flow (nat_est_l2w) / forwarder" micro "$(ratio "$x" "$fw")" "<=" 1.3 "" \
		"${x:-?} ns vs ${fw:-?} ns"
	t_tcp 1
	t_tcp 8
	x=$(t_del fresh xdpnat 0) nf=$(t_del fresh nft 0)
	t_line "new flows/s: xdpnat / nft" fresh "$(ratio "$x" "$nf")" ">=" 3 "" \
		"$(fmt_pps "$x") vs $(fmt_pps "$nf") M/s"
	# memory: the largest conntrack-max of the run
	mem=$(awk -F, '$1 == "memory" && $2 == "total" && $3 + 0 >= m { m = $3 + 0; r = $0 } END { print r }' "$TCSV")
	f=$(echo "$mem" | cut -d, -f3)
	t_line "memory per flow of conntrack-max ${f:-?}, up front" memory \
		"$(echo "$mem" | sed -n 's/.*upfront_per_flow=\([0-9.]*\).*/\1/p')" "<=" 160 " B" \
		"nat_ct + nat_eim buckets + nat_unassured"
	t_line "  same, with nat_eim full (2 entries/flow, worst case)" memory \
		"$(echo "$mem" | sed -n 's/.*eim_full_per_flow=\([0-9.]*\).*/\1/p')" "<=" 160 " B" \
		"$(echo "$mem" | sed -n 's/.*eim_bytes_per_entry=\([0-9.]*\).*/\1/p') B per live nat_eim entry"
	say "  information (no target): the heavy-tailed (Zipf) mix"
	x=$(t_micro nat_est_l2w_zipf131072) fw=$(t_micro fwd_l2w)
	if [ -n "$x" ]; then
		say "    micro, Zipf s=1.0 over 131072 flows: $x ns ($(ratio "$x" "$fw")x the forwarder; round robin: $(t_micro nat_est_l2w_131072) ns, random order: $(t_micro nat_est_l2w_random131072) ns)"
	else
		say "    micro, Zipf s=1.0 over 131072 flows: n/a"
	fi
	local any=""
	while read -r f; do
		any=1
		x=$(t_del zipf xdpnat "$f") fw=$(t_del zipf fwd "$f") nf=$(t_del zipf nft "$f")
		say "    macro, Zipf over $f flows: xdpnat / fwd $(ratio "$x" "$fw"), xdpnat / nft $(ratio "$x" "$nf") (round robin: $(ratio "$(t_del rr xdpnat "$f")" "$(t_del rr fwd "$f")"), $(ratio "$(t_del rr xdpnat "$f")" "$(t_del rr nft "$f")"))"
	done < <(awk -F, '$1 == "zipf" { print $3 }' "$TCSV" | sort -nu)
	[ -n "$any" ] || say "    macro, Zipf: n/a (section not run)"
	say ""
}

# ---------------------------------------------------------------- sections
case " $sections " in *" macro "*|*" newflows "*|*" tcp "*) machine_info ;; *) machine_info ;; esac
for s in $sections; do
	case $s in
	micro) type micro >/dev/null 2>&1 && micro ;;
	macro) macro ;;
	newflows) type newflows >/dev/null 2>&1 && newflows ;;
	flowlog) flowlog ;;
	tcp) type tcp_bench >/dev/null 2>&1 && tcp_bench ;;
	memory) type memory >/dev/null 2>&1 && memory ;;
	table) table ;;
	targets) targets ;;
	*) echo "bench: unknown section $s" >&2; exit 2 ;;
	esac
done
say "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end"
cp "$OUT" "$RES/latest.txt"
cp "$CSV" "$RES/latest.csv"
echo "results: $RES/latest.txt"
