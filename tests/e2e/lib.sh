# shellcheck shell=bash
# tests/e2e/lib.sh - shared library of the end-to-end tests, the demo and the
# benchmark. Source it from bash:
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_require_root; e2e_require tcpdump curl
#   e2e_topo_basic
#   e2e_check "lan client reaches the Internet" e2e_in lanc ping -c1 -W2 198.51.100.2
#   e2e_finish
#
# What it gives:
#  - namespaces with unique names "xn-<pid>-<role>" (e2e_ns ROLE prints the
#    name, e2e_in ROLE CMD... runs CMD in it); every namespace, background
#    process, bpffs mount and temporary file is registered and removed by
#    e2e_cleanup, which runs on EXIT, INT and TERM (on failure too). Set
#    E2E_KEEP=1 to keep the namespaces and files for debugging (processes are
#    still killed).
#  - topologies: e2e_topo_basic, e2e_topo_dual (addresses below);
#  - TAP output: e2e_ok, e2e_fail, e2e_skip, e2e_check, e2e_finish;
#  - xdpnat: e2e_xdpnat_start ROLE CONF, e2e_xdpnat_stop (SIGTERM),
#    e2e_xdpnat_kill (SIGKILL), e2e_xdpnat ARGS...;
#  - e2e_wait_for, e2e_bg (background process in a namespace),
#    e2e_capture_start / e2e_capture_stop (tcpdump, for leak checks).
#
# Nothing here touches the host's interfaces, routes, sysctls or firewall:
# veth pairs are created directly inside the namespaces (`ip -n A link add X
# type veth peer name Y netns B`), sysctls are set with `ip netns exec`
# (net.* sysctls are per namespace), nft rules only inside namespaces.
#
# Addresses (documentation ranges; nothing outside the namespaces is used):
#   basic:  inet   eth0 198.51.100.2/24, lo 203.0.113.10/32 ("remote server";
#                  reached through the router's default route), NO route to
#                  192.168.0.0/24: a leaked private source gets no reply,
#                  like on the real Internet.
#           router wan0 198.51.100.1/24 (peer: inet eth0), default via .2
#                  lan0 192.168.0.1/24 (peer: sw port "rtr"), ip_forward=1
#           sw     bridge br0 with ports rtr, lanc, lans (the LAN switch: one
#                  L2 segment, so hairpin NAT between LAN hosts is testable)
#           lanc   eth0 192.168.0.10/24, default via 192.168.0.1
#           lans   eth0 192.168.0.254/24, default via 192.168.0.1
#   dual:   router wan0 198.51.100.1/24 -- isp1 198.51.100.2
#                  wan1 192.0.2.1/24    -- isp2 192.0.2.2
#                  lan0 192.168.0.1/24  -- sw (lanc, lans as in basic)
#                  default: ECMP nexthop via 198.51.100.2 dev wan0
#                                nexthop via 192.0.2.2 dev wan1
#           isp1   up0 100.64.1.1/30 -- inet 100.64.1.2 (inet's up1)
#           isp2   up0 100.64.2.1/30 -- inet 100.64.2.2 (inet's up2)
#                  ISPs forward, rp_filter=1 (strict), default route towards
#                  inet and only their own customer prefix on the router side:
#                  a packet that leaves by the wrong WAN with the other WAN's
#                  source address (or a private one) is dropped by the ISP.
#           inet   lo 203.0.113.10/32, routes 198.51.100.0/24 via isp1 and
#                  192.0.2.0/24 via isp2, nothing for 192.168.0.0/24.
#
# veth and XDP (see /work/shared/ENVIRONMENT.md): a frame that XDP redirects
# (or XDP_TXes) into a veth is delivered only when the veth's PEER has an XDP
# program or GRO enabled; otherwise the kernel silently drops it. The router's
# interfaces run xdpnat, which redirects between them, so every peer of a
# router interface gets GRO on (`ethtool -K dev gro on`): simpler than loading
# an XDP_PASS program (no object, no attach/detach) and checked to work by the
# benchmark (tests/bench), whose generator XDP_TXes into a veth whose peer only
# has GRO. tests/e2e/xdp_pass.bpf.c is not needed.
#
# Checksums (E2E_OFFLOADS): by default ("off") tx checksum offload is turned
# off on the hosts' veths (`ethtool -K dev tx off`), so every sender hands
# complete TCP/UDP checksums, as traffic from a NIC has them. With
# E2E_OFFLOADS=default no link is touched: senders in the namespaces leave
# TCP/UDP checksums unfinished (CHECKSUM_PARTIAL, only the pseudo-header sum
# in the field) as containers and VMs on a real router do, and xdpnat must
# finish them or keep them unfinished as the skb goes on (README, "Links and
# checksums"). The *_offload.sh tests run the core and FTP tests that way.
#
# XDP mode (E2E_XDP_MODE): by default the daemon attaches in native mode
# (every veth has it). E2E_XDP_MODE=generic attaches xdpnat's own programs in
# generic mode before the daemon starts (e2e_xdpnat_start), which takes them
# over in that mode, as it does after a restart.

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_ROOT=$(cd "$E2E_LIB_DIR/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) E2E_BUILD=$BUILD ;; *) E2E_BUILD=$E2E_ROOT/$BUILD ;; esac
E2E_XDPNAT=${E2E_XDPNAT:-$E2E_BUILD/xdpnat}
E2E_ID=$$
E2E_TMP=$(mktemp -d "/tmp/xn-$E2E_ID.XXXXXX")
E2E_RUN_DIR=/run/xn-$E2E_ID		# run-dir of xdpnat, and its bpffs
E2E_BPFFS=$E2E_RUN_DIR/bpffs		# mounted on first use (e2e_xdpnat_start)
E2E_NSLIST=()				# namespaces we created
E2E_PIDS=()				# background processes we started
E2E_MOUNTS=()				# mounts we made
declare -A E2E_CAPS=()			# capture file -> tcpdump pid
E2E_N=0 E2E_NFAIL=0
E2E_XDPNAT_PID="" E2E_XDPNAT_NS="" E2E_XDPNAT_CONF=""
E2E_TIMEOUT=${E2E_TIMEOUT:-10}

# ---------------------------------------------------------------- cleanup

e2e_cleanup() {
	local rc=$? p n i m
	trap - EXIT INT TERM
	set +e
	# (stderr of this block is dropped: bash reports every job it kills)
	{
	for f in "${!E2E_CAPS[@]}"; do kill -INT "${E2E_CAPS[$f]}" 2>/dev/null; done
	for p in "${E2E_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		n=0
		for p in "${E2E_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && n=1; done
		[ $n = 0 ] && break
		sleep 0.1
	done
	for p in "${E2E_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for n in "${E2E_NSLIST[@]}"; do
		# anything still running in one of our namespaces (children of
		# what we started) goes too: these namespaces are ours only
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
	wait
	} 2>/dev/null
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "# E2E_KEEP=1: kept namespaces ${E2E_NSLIST[*]} and $E2E_TMP" >&2
		exit "$rc"
	fi
	for n in "${E2E_NSLIST[@]}"; do ip netns del "$n" 2>/dev/null; done
	for ((i = ${#E2E_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${E2E_MOUNTS[$i]}
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$E2E_RUN_DIR" "$E2E_TMP"
	exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- TAP

e2e_ok() {	# desc
	E2E_N=$((E2E_N + 1))
	echo "ok $E2E_N - $1"
}

e2e_fail() {	# desc [details...]
	E2E_N=$((E2E_N + 1)) E2E_NFAIL=$((E2E_NFAIL + 1))
	echo "not ok $E2E_N - $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'
	return 0
}

e2e_skip() {	# desc reason
	E2E_N=$((E2E_N + 1))
	echo "ok $E2E_N - $1 # SKIP ${2:-}"
}

# e2e_check desc cmd... : ok if cmd exits 0; its output is shown on failure.
e2e_check() {
	local desc=$1 rc
	shift
	# not in $(...): cmd runs in this shell, so e.g. a topology builder's
	# registrations (namespaces, pids) are kept
	"$@" >"$E2E_TMP/check.out" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		e2e_ok "$desc"
	else
		e2e_fail "$desc" "command: $*" "exit $rc" "$(tail -n 20 "$E2E_TMP/check.out")"
	fi
	return $rc
}

# e2e_check_not desc cmd... : ok if cmd FAILS (e.g. a leak must not get through)
e2e_check_not() {
	local desc=$1 rc
	shift
	"$@" >"$E2E_TMP/check.out" 2>&1
	rc=$?
	if [ $rc != 0 ]; then
		e2e_ok "$desc"
	else
		e2e_fail "$desc" "command unexpectedly succeeded: $*" "$(tail -n 20 "$E2E_TMP/check.out")"
	fi
	[ $rc != 0 ]
}

# Print the plan and exit: 0 if nothing failed (cleanup runs from the trap).
e2e_finish() {
	echo "1..$E2E_N"
	[ "$E2E_NFAIL" = 0 ] && exit 0
	echo "# $E2E_NFAIL of $E2E_N failed"
	exit 1
}

# Skip the whole test (TAP "1..0 # SKIP") when something is missing.
e2e_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

e2e_require_root() {
	[ "$(id -u)" = 0 ] || e2e_skip_all "needs root"
}

e2e_require() {	# commands or files that must exist
	local c
	for c in "$@"; do
		case $c in
		/*) [ -e "$c" ] || e2e_skip_all "missing $c" ;;
		*) command -v "$c" >/dev/null 2>&1 || e2e_skip_all "missing command $c" ;;
		esac
	done
}

e2e_log() { echo "# $*"; }

# ---------------------------------------------------------------- nat_ct
# nat_ct is an array of 64-byte slots (include/nat_ct_slots.h), not a hash
# map: `bpftool map dump` lists every slot, header and empty ones too.
# These read the pinned table through ct_slots.py (mmap(), see there).

# ct_dump_live PIN : the LIVE entries as a JSON array in the shape `bpftool
# -j map dump` gave for the hash map: {"key": [hex bytes], "value": [hex
# bytes], "formatted": {"key": {...}, "value": {...}}} per entry.
ct_dump_live() { python3 "$E2E_LIB_DIR/ct_slots.py" dump "$1"; }
# ct_count_live PIN : how many LIVE entries.
ct_count_live() { python3 "$E2E_LIB_DIR/ct_slots.py" count "$1"; }
# ct_head PIN FIELD : a field of the header (entries magic nslots limit
# hkey) or max_entries.
ct_head() {
	python3 "$E2E_LIB_DIR/ct_slots.py" head "$1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
# ct_insert PIN KEYHEX VALUEHEX : add an entry where the data path would
# place it (ct_slots.py insert); prints its slot.
ct_insert() { python3 "$E2E_LIB_DIR/ct_slots.py" insert "$@"; }

# ---------------------------------------------------------------- namespaces

e2e_ns() { echo "xn-$E2E_ID-$1"; }		# ROLE -> namespace name

e2e_in() {	# ROLE cmd...
	local ns
	ns=$(e2e_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

e2e_ns_add() {	# ROLE...
	local r ns
	for r in "$@"; do
		ns=$(e2e_ns "$r")
		ip netns add "$ns" || return 1
		E2E_NSLIST+=("$ns")
		ip -n "$ns" link set lo up
		# IPv4 only: no IPv6 autoconf/MLD noise in captures and counters
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
	done
}

e2e_ns_del() {	# ROLE... : delete namespaces now (and drop them from the registry)
	local r ns p i
	for r in "$@"; do
		ns=$(e2e_ns "$r")
		for p in $(ip netns pids "$ns" 2>/dev/null); do { kill -KILL "$p"; wait "$p"; } 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
		for i in "${!E2E_NSLIST[@]}"; do
			[ "${E2E_NSLIST[$i]}" = "$ns" ] && unset "E2E_NSLIST[$i]"
		done
	done
	E2E_NSLIST=("${E2E_NSLIST[@]}")
}

# e2e_veth ROLE_A DEV_A ROLE_B DEV_B : a veth pair between two namespaces,
# created inside them (never in the host namespace), both ends up.
e2e_veth() {
	local na nb
	na=$(e2e_ns "$1") nb=$(e2e_ns "$3")
	ip -n "$na" link add "$2" type veth peer name "$4" netns "$nb" || return 1
	ip -n "$na" link set "$2" up
	ip -n "$nb" link set "$4" up
}

e2e_addr() { ip -n "$(e2e_ns "$1")" addr add "$3" dev "$2"; }	# ROLE DEV CIDR
e2e_sysctl() { ip netns exec "$(e2e_ns "$1")" sysctl -qw "$2"; }	# ROLE key=value

E2E_OFFLOADS=${E2E_OFFLOADS:-off}
E2E_XDP_MODE=${E2E_XDP_MODE:-native}

# A host-side veth: complete checksums, unless E2E_OFFLOADS=default (see the
# top of this file).
e2e_host_if() {
	[ "$E2E_OFFLOADS" = default ] && return 0
	e2e_in "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

# e2e_mode : a word for test names about the link setup of this run.
e2e_mode() {
	local m=""
	[ "$E2E_OFFLOADS" = default ] && m="default offloads"
	[ "$E2E_XDP_MODE" = generic ] && m="${m:+$m, }generic XDP"
	echo "${m:-tx offload off}"
}
# The peer of a router interface: accept XDP-redirected frames (see above).
e2e_router_peer_if() { e2e_in "$1" ethtool -K "$2" gro on >/dev/null 2>&1 || true; }

# The LAN: switch namespace "sw" with bridge br0 and the two hosts.
_e2e_lan() {
	e2e_ns_add sw lanc lans || return 1
	ip -n "$(e2e_ns sw)" link add br0 type bridge || return 1
	ip -n "$(e2e_ns sw)" link set br0 type bridge stp_state 0 forward_delay 0
	ip -n "$(e2e_ns sw)" link set br0 up
	e2e_veth router lan0 sw rtr || return 1
	e2e_veth lanc eth0 sw lanc || return 1
	e2e_veth lans eth0 sw lans || return 1
	local p
	for p in rtr lanc lans; do ip -n "$(e2e_ns sw)" link set "$p" master br0; done
	e2e_router_peer_if sw rtr
	e2e_addr router lan0 192.168.0.1/24
	e2e_addr lanc eth0 192.168.0.10/24
	e2e_addr lans eth0 192.168.0.254/24
	e2e_host_if lanc eth0
	e2e_host_if lans eth0
	ip -n "$(e2e_ns lanc)" route add default via 192.168.0.1
	ip -n "$(e2e_ns lans)" route add default via 192.168.0.1
}

e2e_topo_basic() {
	e2e_ns_add inet router || return 1
	e2e_sysctl router net.ipv4.ip_forward=1
	e2e_veth router wan0 inet eth0 || return 1
	e2e_addr router wan0 198.51.100.1/24
	e2e_addr inet eth0 198.51.100.2/24
	e2e_addr inet lo 203.0.113.10/32
	e2e_host_if inet eth0
	e2e_router_peer_if inet eth0
	ip -n "$(e2e_ns router)" route add default via 198.51.100.2 dev wan0
	_e2e_lan || return 1
	_e2e_settle
}

e2e_topo_dual() {
	e2e_ns_add inet router isp1 isp2 || return 1
	e2e_sysctl router net.ipv4.ip_forward=1
	local i
	for i in 1 2; do
		e2e_sysctl isp$i net.ipv4.ip_forward=1
		e2e_sysctl isp$i net.ipv4.conf.all.rp_filter=1
		e2e_sysctl isp$i net.ipv4.conf.default.rp_filter=1
	done
	e2e_veth router wan0 isp1 down0 || return 1
	e2e_veth router wan1 isp2 down0 || return 1
	e2e_veth isp1 up0 inet up1 || return 1
	e2e_veth isp2 up0 inet up2 || return 1
	for i in 1 2; do
		e2e_sysctl isp$i net.ipv4.conf.down0.rp_filter=1
		e2e_sysctl isp$i net.ipv4.conf.up0.rp_filter=1
		e2e_router_peer_if isp$i down0
		e2e_host_if isp$i down0
		e2e_host_if isp$i up0
		e2e_host_if inet up$i
	done
	e2e_addr router wan0 198.51.100.1/24
	e2e_addr isp1 down0 198.51.100.2/24
	e2e_addr router wan1 192.0.2.1/24
	e2e_addr isp2 down0 192.0.2.2/24
	e2e_addr isp1 up0 100.64.1.1/30
	e2e_addr inet up1 100.64.1.2/30
	e2e_addr isp2 up0 100.64.2.1/30
	e2e_addr inet up2 100.64.2.2/30
	e2e_addr inet lo 203.0.113.10/32
	ip -n "$(e2e_ns isp1)" route add default via 100.64.1.2
	ip -n "$(e2e_ns isp2)" route add default via 100.64.2.2
	ip -n "$(e2e_ns inet)" route add 198.51.100.0/24 via 100.64.1.1
	ip -n "$(e2e_ns inet)" route add 192.0.2.0/24 via 100.64.2.1
	ip -n "$(e2e_ns router)" route add default \
		nexthop via 198.51.100.2 dev wan0 nexthop via 192.0.2.2 dev wan1
	# hash on L4 ports too, so different flows really spread over both WANs
	e2e_sysctl router net.ipv4.fib_multipath_hash_policy=1
	_e2e_lan || return 1
	_e2e_settle
}

# Wait for IPv4 addresses to be usable (no DAD for IPv4, but links come up
# asynchronously) - a cheap check that the router answers on both sides.
# e2e_tun_link DEV ADDR : a PPP-like L3 WAN: two TUN devices joined by
# tun_relay.py (DEV in the router, tinet in inet), `ADDR peer 198.51.100.2`
# on DEV and the reverse on tinet, MTU 1492, the router's default route
# through DEV. Sets E2E_TUN_RELAY_PID (killing it deletes both devices, as
# pppd does when the line drops).
e2e_tun_link() {	# DEV ADDR
	local dev=$1 addr=$2
	e2e_bg router python3 -u "$E2E_LIB_DIR/tun_relay.py" "$dev" tinet
	E2E_TUN_RELAY_PID=$E2E_BG_PID
	e2e_wait_for -t 5 grep -q ready "$E2E_BG_LOG" || { e2e_log "$(cat "$E2E_BG_LOG")"; return 1; }
	ip -n "$(e2e_ns router)" link set tinet netns "$(e2e_ns inet)" &&
	ip -n "$(e2e_ns router)" addr add "$addr" peer 198.51.100.2 dev "$dev" &&
	ip -n "$(e2e_ns inet)" addr add 198.51.100.2 peer "$addr" dev tinet &&
	ip -n "$(e2e_ns router)" link set "$dev" mtu 1492 up &&
	ip -n "$(e2e_ns inet)" link set tinet mtu 1492 up &&
	ip -n "$(e2e_ns router)" route add default dev "$dev"
}

_e2e_settle() {
	e2e_wait_for -t 5 e2e_in lanc ping -c1 -W1 -q 192.168.0.1 >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- processes

# e2e_wait_for [-t SECONDS] cmd... : poll cmd every 0.1 s until it exits 0.
e2e_wait_for() {
	local t=$E2E_TIMEOUT
	if [ "$1" = -t ]; then t=$2; shift 2; fi
	local now end
	now=${EPOCHREALTIME/./}
	end=$((now + t * 1000000))
	while :; do
		"$@" && return 0
		now=${EPOCHREALTIME/./}
		[ "$now" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# e2e_bg ROLE cmd... : start cmd in the namespace in the background, output to
# $E2E_BG_LOG; sets E2E_BG_PID and E2E_BG_LOG (do not call it in $(...):
# the process would not be registered for cleanup).
e2e_bg() {
	local ns
	ns=$(e2e_ns "$1")
	shift
	E2E_BG_SEQ=$((${E2E_BG_SEQ:-0} + 1))
	# unique even when called in a subshell ($BASHPID differs there)
	E2E_BG_LOG=$E2E_TMP/bg-$BASHPID-$E2E_BG_SEQ.log
	ip netns exec "$ns" "$@" >"$E2E_BG_LOG" 2>&1 &
	E2E_BG_PID=$!
	E2E_PIDS+=("$E2E_BG_PID")
}

e2e_kill() {	# pid: stop a process started with e2e_bg, wait for it
	kill -TERM "$1" 2>/dev/null || return 0
	local i
	for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	{ kill -KILL "$1"; wait "$1"; } 2>/dev/null
	return 0
}

# e2e_capture_start ROLE DEV FILE [filter...] : tcpdump in the background
# until e2e_capture_stop FILE. Returns once tcpdump is capturing.
e2e_capture_start() {
	local role=$1 dev=$2 file=$3
	shift 3
	e2e_bg "$role" tcpdump -Z root --immediate-mode -n -U -i "$dev" -w "$file" "$@"
	E2E_CAPS[$file]=$E2E_BG_PID
	e2e_wait_for -t 5 grep -q "listening on" "$E2E_BG_LOG"
}

# e2e_capture_stop FILE : stop the capture; the file is then complete.
e2e_capture_stop() {
	local pid=${E2E_CAPS[$1]:-}
	[ -n "$pid" ] || return 1
	sleep 0.2	# let the last packets reach tcpdump
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "E2E_CAPS[$1]"
	return 0
}

# e2e_csum_watch_start ROLE DEV NAME : judge the TCP/UDP checksum of every
# packet arriving at DEV as its receiver has it (csum_watch.py: complete,
# or unfinished with an skb that says so), until e2e_csum_watch_check NAME.
declare -A E2E_CSUMW=()
e2e_csum_watch_start() {
	local out=$E2E_TMP/csum-$3.txt
	e2e_bg "$1" python3 -u "$E2E_LIB_DIR/csum_watch.py" "$2" "$out"
	E2E_CSUMW[$3]=$E2E_BG_PID
	e2e_wait_for -t 5 test -e "$out.ready"
}

# e2e_csum_watch_check NAME WHAT : stop the watcher; ok when it judged at
# least one packet and found none bad. Prints nothing else; the counts are
# in the test's name.
e2e_csum_watch_check() {
	local pid=${E2E_CSUMW[$1]:-} out=$E2E_TMP/csum-$1.txt res
	[ -n "$pid" ] || { e2e_fail "$2" "no watcher $1"; return; }
	sleep 0.2
	e2e_kill "$pid"
	unset "E2E_CSUMW[$1]"
	res=$(head -n 1 "$out" 2>/dev/null)
	if [[ $res =~ complete=([0-9]+)\ unfinished=([0-9]+)\ bad=0 ]] &&
	   [ $((BASH_REMATCH[1] + BASH_REMATCH[2])) -gt 0 ]; then
		e2e_ok "$2 ($res)"
	else
		e2e_fail "$2" "${res:-no result}" "$(tail -n +2 "$out" 2>/dev/null)"
	fi
}

# e2e_capture_count FILE [filter...] : number of packets in a capture matching filter
e2e_capture_count() {
	local f=$1
	shift
	tcpdump -n -r "$f" "$@" 2>/dev/null | wc -l
}

# A small HTTP server: e2e_http_server ROLE ADDR PORT DIR ; logs requests
# (client address first on each line) to $E2E_BG_LOG.
e2e_http_server() {
	e2e_bg "$1" python3 -u "$E2E_LIB_DIR/http_server.py" "$2" "$3" "$4"
	E2E_HTTP_LOG=$E2E_BG_LOG E2E_HTTP_PID=$E2E_BG_PID
	e2e_wait_for -t 5 e2e_in "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# e2e_dhclient_files : $E2E_TMP/dhclient-script and dhclient.conf for
# `dhclient -cf ... -sf ...` in a namespace: the script sets only the
# address (flushing an old one first, as Debian's does) and the default
# route, and never touches resolv.conf or any other file of the host.
e2e_dhclient_files() {
	cat >"$E2E_TMP/dhclient-script" <<-'EOF'
	#!/bin/sh
	case $reason in
	PREINIT)
		ip link set dev "$interface" up ;;
	BOUND|RENEW|REBIND|REBOOT)
		cur=$(ip -4 -o addr show dev "$interface" | awk '{ sub("/.*", "", $4); print $4; exit }')
		[ -n "$cur" ] && [ "$cur" != "$new_ip_address" ] && ip -4 addr flush dev "$interface"
		ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" \
			valid_lft "$new_dhcp_lease_time" preferred_lft "$new_dhcp_lease_time"
		for r in $new_routers; do
			ip -4 route replace default via "$r" dev "$interface"
			break
		done ;;
	EXPIRE|FAIL|RELEASE|STOP)
		ip -4 addr flush dev "$interface" ;;
	esac
	exit 0
	EOF
	chmod 755 "$E2E_TMP/dhclient-script"
	echo 'request subnet-mask, broadcast-address, routers;' >"$E2E_TMP/dhclient.conf"
}

# ---------------------------------------------------------------- xdpnat

# e2e_bpffs : a private bpffs for this test, mounted in the root mount
# namespace under /run. (/sys/fs/bpf is no use: `ip netns exec` remounts
# /sys, so pins made there are invisible to the next `ip netns exec`.)
e2e_bpffs() {
	mountpoint -q "$E2E_BPFFS" 2>/dev/null && return 0
	mkdir -p "$E2E_BPFFS" || return 1
	mount -t bpf bpf "$E2E_BPFFS" || return 1
	E2E_MOUNTS+=("$E2E_BPFFS")
}

# e2e_xdpnat_conf CONF : the config actually used: CONF plus this test's
# pin-dir and run-dir (unless CONF sets them). Prints the path.
e2e_xdpnat_conf() {
	local out=$E2E_TMP/xdpnat.conf
	{
		cat "$1"
		grep -q '^[[:space:]]*pin-dir' "$1" || echo "pin-dir $E2E_BPFFS/xdpnat"
		grep -q '^[[:space:]]*run-dir' "$1" || echo "run-dir $E2E_RUN_DIR/xdpnat"
	} >"$out"
	chmod 600 "$out"
	echo "$out"
}

# e2e_xdpnat ARGS... : run an xdpnat command (status, stats, ...) in the
# router namespace against the running daemon's config.
e2e_xdpnat() {
	e2e_in "$E2E_XDPNAT_NS" "$E2E_XDPNAT" "$@" -c "$E2E_XDPNAT_CONF"
}

# e2e_xdpnat_start ROLE CONF : start `xdpnat run -c CONF` in the namespace in
# the background; wait until `xdpnat status` exits 0 (E2E_TIMEOUT s). On
# failure prints the daemon's log as TAP comments and returns 1.
e2e_xdpnat_start() {
	local role=$1 conf
	[ -x "$E2E_XDPNAT" ] || { e2e_log "no $E2E_XDPNAT"; return 1; }
	e2e_bpffs || { e2e_log "cannot mount bpffs at $E2E_BPFFS"; return 1; }
	mkdir -p "$E2E_RUN_DIR"
	conf=$(e2e_xdpnat_conf "$2")
	E2E_XDPNAT_NS=$role E2E_XDPNAT_CONF=$conf
	[ "$E2E_XDP_MODE" = generic ] && { _e2e_xdp_generic "$role" "$conf" || return 1; }
	e2e_bg "$role" "$E2E_XDPNAT" run -f -c "$conf"
	E2E_XDPNAT_PID=$E2E_BG_PID E2E_XDPNAT_LOG=$E2E_BG_LOG
	local end=$((SECONDS + E2E_TIMEOUT + 1))
	while [ $SECONDS -lt $end ]; do
		if ! kill -0 "$E2E_XDPNAT_PID" 2>/dev/null; then
			wait "$E2E_XDPNAT_PID"
			e2e_log "xdpnat run exited ($?):"
			sed 's/^/#   /' "$E2E_XDPNAT_LOG"
			E2E_XDPNAT_PID=""
			return 1
		fi
		e2e_xdpnat status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	e2e_log "xdpnat status did not succeed within ${E2E_TIMEOUT}s; daemon log:"
	sed 's/^/#   /' "$E2E_XDPNAT_LOG"
	e2e_xdpnat_stop
	return 1
}

# E2E_XDP_MODE=generic: xdpnat's program of each interface's role, attached
# in generic mode where no XDP program is yet; the daemon takes it over in
# place and in that mode (as after a restart).
_e2e_xdp_generic() {	# ROLE CONF
	local ns kind ifname
	ns=$(e2e_ns "$1")
	while read -r kind ifname _; do
		case $kind in wan|lan) ;; *) continue ;; esac
		ip -n "$ns" -d link show "$ifname" 2>/dev/null | grep -q 'prog/xdp' && continue
		ip -n "$ns" link set dev "$ifname" xdpgeneric obj "$E2E_BUILD/xdpnat.bpf.o" \
			program "xdpnat_xdp_$kind" >/dev/null 2>&1 ||
			{ e2e_log "cannot attach xdpnat_xdp_$kind to $ifname in generic mode"; return 1; }
	done <"$2"
}

# e2e_xdpnat_stop : SIGTERM the daemon, wait (5 s, then SIGKILL). Returns
# the daemon's exit status (0 = clean shutdown).
e2e_xdpnat_stop() {
	local pid=$E2E_XDPNAT_PID i rc
	[ -n "$pid" ] || return 0
	E2E_XDPNAT_PID=""
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		e2e_log "xdpnat did not exit on SIGTERM within 5s, killing"
		kill -KILL "$pid" 2>/dev/null
	fi
	{ wait "$pid"; rc=$?; } 2>/dev/null
	return $rc
}

# e2e_xdpnat_kill : SIGKILL the daemon (a crash: it cleans up nothing, its
# pid file stays) and wait for it. The next e2e_xdpnat_start adopts what it
# left attached.
e2e_xdpnat_kill() {
	local pid=$E2E_XDPNAT_PID
	[ -n "$pid" ] || return 0
	E2E_XDPNAT_PID=""
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	return 0
}
