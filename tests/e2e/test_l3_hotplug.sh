#!/bin/bash
# An L3 WAN that comes and goes, as pppd's ppp0 does: the daemon starts
# while it does not exist, attaches when it appears, forgets it when it is
# deleted and attaches again when it is created anew (a new ifindex, a new
# address). Masquerade, a forward and DDNS follow each incarnation, and no
# LAN source ever leaves it. The "PPP link" is two TUN devices joined by
# tun_relay.py; killing the relay deletes both, as pppd does when the line
# drops.
. "$(dirname "$0")/lib.sh"
. "$E2E_LIB_DIR/ddns_lib.sh"
e2e_require_root
e2e_require curl tcpdump python3 openssl

e2e_ns_add inet router || { e2e_fail "namespaces"; e2e_finish; }
e2e_sysctl router net.ipv4.ip_forward=1
e2e_addr inet lo 203.0.113.10/32
_e2e_lan || { e2e_fail "LAN"; e2e_finish; }
_e2e_settle

RELAY_PID=
declare -a IDX
link_up() {	# ADDR : create ppp0 (router) / tinet (inet), address them, route
	e2e_tun_link ppp0 "$1" && RELAY_PID=$E2E_TUN_RELAY_PID
}
link_down() {	# the relay exits: both TUN devices are deleted
	e2e_kill "$RELAY_PID"
	RELAY_PID=
	e2e_wait_for -t 5 sh -c "! ip -n $(e2e_ns router) link show ppp0 >/dev/null 2>&1"
}
ppp0_line() { e2e_xdpnat status 2>&1 | grep -E '^ *ppp0 '; }

D=$E2E_TMP/ddns
ddns_server_start router "$D" || { e2e_fail "DDNS test server"; e2e_finish; }
CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan ppp0 mss-clamp auto
lan lan0
outbound ppp0
forward tcp ppp0 8080 to 192.168.0.254:80
state-dir $E2E_TMP/state
ddns ppp0 oray line.example server $DDNS_URL ca-file $D/ca.crt user alice password-file $D/pass
EOF2

# 1. start without ppp0
e2e_xdpnat_start router "$CONF" && e2e_ok "the daemon starts while the WAN ppp0 does not exist" \
	|| { e2e_fail "the daemon starts while ppp0 does not exist"; e2e_finish; }
grep -q "wan ppp0 (line 1): no such interface yet" "$E2E_XDPNAT_LOG" \
	&& e2e_ok "the log says ppp0 is waited for" || e2e_fail "the log says ppp0 is waited for" "$(cat "$E2E_XDPNAT_LOG")"
l=$(ppp0_line)
echo "$l" | grep -q absent && e2e_ok "status: ppp0 absent" || e2e_fail "status: ppp0 absent" "$(e2e_xdpnat status 2>&1)"

WWW=$E2E_TMP/www; mkdir -p "$WWW"
head -c 2000000 /dev/urandom > "$WWW/big.bin"
SUM=$(sha256sum < "$WWW/big.bin" | cut -d' ' -f1)
e2e_http_server lans 192.168.0.254 80 "$WWW"
e2e_http_server inet 203.0.113.10 80 "$WWW"; INET_LOG=$E2E_HTTP_LOG

# each incarnation of ppp0: attached, masquerade, forward, DDNS, no leak
incarnation() {	# N ADDR
	local n=$1 addr=$2 cap=$E2E_TMP/wan$1.pcap got idx pidx
	link_up "$addr" || { e2e_fail "#$n: ppp0 comes up" "$(cat "$E2E_BG_LOG")"; return; }
	e2e_capture_start inet tinet "$cap" ip
	idx=$(e2e_in router cat /sys/class/net/ppp0/ifindex)
	IDX[$n]=$idx
	e2e_wait_for -t 5 sh -c "ip -n $(e2e_ns router) -d link show ppp0 | grep -q prog/xdp"
	pidx=$(e2e_in router ip -d link show ppp0 | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}')
	name=$(bpftool prog show id "${pidx:-0}" 2>/dev/null | grep -o 'name [a-z0-9_]*' | awk '{print $2}')
	[ "$name" = xdpnat_xdp_l3w ] && e2e_ok "#$n: ppp0 (ifindex $idx) attached with the L3 program when it appeared" \
		|| e2e_fail "#$n: ppp0 attached when it appeared" "prog ${pidx:-none} ${name:-?}" "$(tail -5 "$E2E_XDPNAT_LOG")"
	e2e_wait_for -t 5 sh -c "$E2E_XDPNAT status -c $E2E_XDPNAT_CONF 2>&1 | grep -E '^ *ppp0 ' | grep -q ${addr%%/*}" 2>/dev/null
	ppp0_line | grep -q "xdp generic + tc.*${addr%%/*}" && e2e_ok "#$n: status shows ppp0 on xdp generic + tc with $addr" \
		|| e2e_fail "#$n: status shows ppp0 attached with its address" "$(e2e_xdpnat status 2>&1)"
	got=$(e2e_in lanc curl -s -m 30 http://203.0.113.10/big.bin | sha256sum | cut -d' ' -f1)
	[ "$got" = "$SUM" ] && e2e_ok "#$n: 2 MB download through masquerade on ppp0 intact" \
		|| e2e_fail "#$n: download through masquerade on ppp0" "got $got"
	grep -q "^${addr%%/*} " "$INET_LOG" && e2e_ok "#$n: the server sees ppp0's address $addr" \
		|| e2e_fail "#$n: the server sees ppp0's address" "$(cat "$INET_LOG")"
	got=$(e2e_in inet curl -s -m 30 "http://${addr%%/*}:8080/big.bin" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$SUM" ] && e2e_ok "#$n: forward 8080 on the new ppp0 reaches the inside server" \
		|| e2e_fail "#$n: forward on the new ppp0" "got $got"
	e2e_check "#$n: ping through ppp0" e2e_in lanc ping -c 2 -i 0.2 -W 2 203.0.113.10
	local _ ok=1
	for _ in $(seq 100); do
		[ "$(ddns_requests line.example | tail -1)" = "${addr%%/*}" ] && { ok=0; break; }
		sleep 0.1
	done
	[ $ok = 0 ] && e2e_ok "#$n: DDNS updated line.example to $addr" \
		|| e2e_fail "#$n: DDNS updated to the new address" "$(ddns_requests line.example)"
	e2e_capture_stop "$cap"
	local leak all
	leak=$(e2e_capture_count "$cap" src net 192.168.0.0/16)
	all=$(e2e_capture_count "$cap")
	[ "$leak" = 0 ] && [ "$all" -gt 500 ] && e2e_ok "#$n: no LAN source on ppp0 ($all packets)" \
		|| e2e_fail "#$n: no LAN source on ppp0" "$leak of $all"
}

incarnation 1 198.51.100.1
link_down && e2e_ok "ppp0 deleted (the line dropped)" || e2e_fail "ppp0 deleted"
e2e_wait_for -t 5 sh -c "$E2E_XDPNAT status -c $E2E_XDPNAT_CONF 2>&1 | grep -E '^ *ppp0 ' | grep -q absent" 2>/dev/null
ppp0_line | grep -q absent && e2e_ok "status: ppp0 absent again, the daemon still runs" \
	|| e2e_fail "status: ppp0 absent after deletion" "$(e2e_xdpnat status 2>&1)"
grep -q "ppp0 (ifindex [0-9]*) is gone" "$E2E_XDPNAT_LOG" && e2e_ok "the log says ppp0 is gone" \
	|| e2e_fail "the log says ppp0 is gone" "$(tail -20 "$E2E_XDPNAT_LOG")"
incarnation 2 198.51.100.77
[ "${IDX[1]}" != "${IDX[2]}" ] && e2e_ok "the second ppp0 is a new device (ifindex ${IDX[1]} -> ${IDX[2]})" \
	|| e2e_fail "the second ppp0 is a new device" "${IDX[*]}"
fw=$(bpftool -j map dump pinned "$E2E_BPFFS/xdpnat/nat_forwards" 2>/dev/null |
	python3 -c 'import json,sys; print(" ".join(sorted({str(e["formatted"]["key"]["ifindex"]) for e in json.load(sys.stdin)})))')
[ "$fw" = "${IDX[2]}" ] && e2e_ok "nat_forwards holds the forward for the new ppp0 only" \
	|| e2e_fail "nat_forwards follows ppp0's ifindex" "ifindexes in nat_forwards: $fw"
e2e_check "daemon stops cleanly" e2e_xdpnat_stop
link_down
e2e_finish
