#!/bin/bash
# RFC 4787 behaviour of masquerade (nat_eim, bpf/nat_eim.h):
#  - endpoint-independent mapping: two LAN hosts send UDP from the same
#    source port 5000 to two servers; each host keeps one outside port for
#    both servers, the first its own 5000, the second another one;
#  - a STUN client (Debian's stun, RFC 3489 classification against stund
#    with two addresses) sees "Independent Mapping" with the default
#    filtering, and "Independent Filter" with `filtering
#    endpoint-independent`, "Address Dependent Filter" with
#    `address-dependent`;
#  - with endpoint-independent filtering a host that was never sent to
#    reaches the mapping, with the default it does not;
#  - hairpin of a mapping (REQ-9): a LAN host reaches another LAN host's
#    outside address and port, and sees that host's mapping as the source;
#  - a socket of the router on a mapping's port gets its own answers and
#    what strangers send there, not the LAN host (endpoint-independent);
#  - the UDP timeout default is 120 s (REQ-5).
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require stun stund python3
UDP=$E2E_LIB_DIR/udp_tool.py
PEER=$E2E_LIB_DIR/eim_peer.py

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
e2e_addr inet lo 203.0.113.20/32
e2e_addr inet lo 203.0.113.30/32
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7; LOG_A=$E2E_BG_LOG
e2e_bg inet python3 -u "$UDP" echo 203.0.113.20 7; LOG_B=$E2E_BG_LOG
e2e_bg inet stund -h 203.0.113.10 -a 203.0.113.20

conf() {	# filtering
	cat > "$E2E_TMP/router.conf" <<EOF2
wan wan0
lan lan0
outbound wan0 filtering $1
EOF2
}
port_seen() { awk -v a="$2" '$1 == a {print $2}' "$1" | tail -1; }	# LOG addr

conf address-port-dependent
e2e_xdpnat_start router "$E2E_TMP/router.conf" || { e2e_fail "xdpnat starts"; e2e_finish; }
e2e_xdpnat stats 2>/dev/null | grep -q '^timeout_udp\|udp' || true
udp_to=$(bpftool map dump pinned "$E2E_BPFFS/xdpnat/nat_config" 2>/dev/null | grep -o '"timeout_udp": [0-9]*' | awk '{print $2}')
[ "$udp_to" = 120 ] && e2e_ok "UDP timeout default is 120 s (RFC 4787 REQ-5)" \
	|| e2e_fail "UDP timeout default is 120 s" "timeout_udp=$udp_to"

# ---------------------------------------------------------------- mapping
e2e_in lanc python3 "$PEER" 5000 203.0.113.10:7 203.0.113.20:7 >/dev/null
c_a=$(port_seen "$LOG_A" 198.51.100.1); c_b=$(port_seen "$LOG_B" 198.51.100.1)
e2e_in lans python3 "$PEER" 5000 203.0.113.10:7 203.0.113.20:7 >/dev/null
s_a=$(port_seen "$LOG_A" 198.51.100.1); s_b=$(port_seen "$LOG_B" 198.51.100.1)
[ "$c_a" = 5000 ] && [ "$c_b" = 5000 ] \
	&& e2e_ok "first host: source port 5000 kept for both servers (port preservation)" \
	|| e2e_fail "first host keeps 5000 for both servers" "A:$c_a B:$c_b"
[ -n "$s_a" ] && [ "$s_a" = "$s_b" ] && [ "$s_a" != 5000 ] \
	&& e2e_ok "second host, same source port: one outside port ($s_a) for both servers" \
	|| e2e_fail "second host: one outside port for both servers" "A:$s_a B:$s_b"
# a restart counts the moved mapping (the second host's) into a new
# nat_eim_moved, and the second host keeps its mapping
moved_sum() {	# the counts of nat_eim_moved's cells (the ready flag apart)
	bpftool -j map dump pinned "$E2E_BPFFS/xdpnat/nat_eim_moved" 2>/dev/null | python3 -c '
import json, sys
d = [e.get("formatted", e) for e in json.load(sys.stdin)]
print(sum(e["value"]["count"] for e in d if e["key"] != 16384),
      [e["value"]["count"] for e in d if e["key"] == 16384][0])'
}
e2e_xdpnat_stop
e2e_xdpnat_start router "$E2E_TMP/router.conf" || { e2e_fail "xdpnat restarts"; e2e_finish; }
m=$(moved_sum)
grep -q "nat_eim_moved: moved mappings counted: 1" "$E2E_XDPNAT_LOG" && [ "$m" = "1 1" ] \
	&& e2e_ok "restart: the moved mapping counted anew in nat_eim_moved (cells, ready: $m)" \
	|| e2e_fail "restart counts the moved mapping" "cells, ready: $m" "$(cat "$E2E_XDPNAT_LOG")"
e2e_in lans python3 "$PEER" 5000 203.0.113.10:7 >/dev/null
[ "$(port_seen "$LOG_A" 198.51.100.1)" = "$s_a" ] \
	&& e2e_ok "restart: the second host keeps its mapping ($s_a)" \
	|| e2e_fail "second host's mapping after a restart" "$(port_seen "$LOG_A" 198.51.100.1) want $s_a"
# the port's owner, as an operator looks it up: element (table 0, UDP row
# 1) * 65536 + port of nat_eim_ports, named fields
owner() {	# port -> "addr:port" of its owner, "free", or nothing
	local k=$((65536 + $1))
	bpftool -j map lookup pinned "$E2E_BPFFS/xdpnat/nat_eim_ports" key \
		$((k & 255)) $((k >> 8 & 255)) $((k >> 16 & 255)) $((k >> 24)) 2>/dev/null | python3 -c '
import json, socket, struct, sys
v = json.load(sys.stdin)
v = v.get("formatted", v)["value"]
print("free" if not v["addr"] else "%s:%d" % (socket.inet_ntoa(struct.pack("<I", v["addr"])),
                                            socket.ntohs(v["port"])))'
}
o5000=$(owner 5000); o_s=$(owner "$s_a")
[ "$o5000" = 192.168.0.10:5000 ] && [ "$o_s" = 192.168.0.254:5000 ] \
	&& e2e_ok "nat_eim_ports names each port's owner (5000: $o5000, $s_a: $o_s)" \
	|| e2e_fail "nat_eim_ports owners" "5000: $o5000, $s_a: $o_s"
# and as `xdpnat mappings` lists them
ml=$(e2e_xdpnat mappings 2>&1)
mj=$(e2e_xdpnat mappings --json 2>&1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["count"], d["moved"], sorted((m["outside"], m["inside"], m["moved"]) for m in d["mappings"]
                                     if m["proto"] == "udp" and m["wan"] == "wan0"))' 2>&1)
echo "$ml" | grep -Eq "^wan0 +udp +198\.51\.100\.1:5000 +192\.168\.0\.10:5000 +no " \
	&& echo "$ml" | grep -Eq "^wan0 +udp +198\.51\.100\.1:$s_a +192\.168\.0\.254:5000 +yes " \
	&& echo "$mj" | grep -q "^2 1 " \
	&& e2e_ok "xdpnat mappings lists both mappings, the moved one marked (--json too)" \
	|| e2e_fail "xdpnat mappings" "$ml" "$mj"

st=$(e2e_xdpnat stats 2>/dev/null)
created=$(echo "$st" | awk '$1 == "eim_created" {print $2}')
[ "${created:-0}" -ge 2 ] && e2e_ok "eim_created counts the two mappings ($created)" \
	|| e2e_fail "eim_created" "$st"

# a host that was never sent to: not let in by the default filter
got=$(e2e_in inet python3 - "$s_a" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.30", 0)); s.sendto(b"x", ("198.51.100.1", int(sys.argv[1]))); print("sent")
PY
)
sleep 0.3
st2=$(e2e_xdpnat stats 2>/dev/null)
[ "$(echo "$st2" | awk '$1 == "eim_inbound" {print $2}')" = 0 ] \
	&& e2e_ok "address-port-dependent: a stranger is not let in to the mapping" \
	|| e2e_fail "address-port-dependent refuses strangers" "$st2"

stun_type() { e2e_in lanc timeout 20 stun 203.0.113.10 -p "$1" 2>&1 | grep -E 'Mapping|Filter|NAT' | head -3; }
t=$(stun_type 6100)
echo "$t" | grep -q "Independent Mapping" && echo "$t" | grep -q "Port Dependent Filter" \
	&& e2e_ok "STUN: Independent Mapping, Port Dependent Filter (default)" \
	|| e2e_fail "STUN with the default filtering" "$t"
e2e_xdpnat_stop

# ---------------------------------------------------------------- full cone
conf endpoint-independent
e2e_xdpnat_start router "$E2E_TMP/router.conf" || { e2e_fail "xdpnat starts (endpoint-independent)"; e2e_finish; }
t=$(stun_type 6200)
echo "$t" | grep -q "Independent Mapping" && echo "$t" | grep -q "Independent Filter" \
	&& ! echo "$t" | grep -q "Dependent Filter" \
	&& e2e_ok "STUN: Independent Mapping, Independent Filter (endpoint-independent)" \
	|| e2e_fail "STUN with filtering endpoint-independent" "$t"

# a stranger reaches lanc's mapping; lans reaches it by hairpin
e2e_bg lanc python3 -u "$PEER" 6300 203.0.113.10:7 --wait 8; L=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q sent "$L"
p=$(port_seen "$LOG_A" 198.51.100.1)
e2e_in inet python3 - "$p" <<'PY' >/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.bind(("203.0.113.30", 4444)); s.sendto(b"stranger", ("198.51.100.1", int(sys.argv[1])))
try: s.recvfrom(100)
except Exception: pass
PY
e2e_in lans python3 "$PEER" 6301 "198.51.100.1:$p" >/dev/null
e2e_wait_for -t 3 grep -q "got 198.51.100.1" "$L"
grep -q "got 203.0.113.30 4444 stranger" "$L" \
	&& e2e_ok "endpoint-independent: a host never sent to reaches the mapping (port $p)" \
	|| e2e_fail "endpoint-independent filtering lets a stranger in" "$(cat "$L")"
hp=$(awk '$1 == "got" && $2 == "198.51.100.1" {print $3}' "$L" | head -1)
lans_map=$(e2e_xdpnat flows 2>/dev/null | grep -c "192.168.0.254:6301" || true)
[ -n "$hp" ] && e2e_ok "hairpin: lans reaches lanc's mapping 198.51.100.1:$p, seen from 198.51.100.1:$hp (its own mapping)" \
	|| e2e_fail "hairpin of a mapping" "$(cat "$L")" "$(e2e_xdpnat flows 2>&1 | head -20)"

# a socket of the router and a LAN host's mapping on one port (6500): the
# router's own query gets its answer, and a stranger's datagram goes to the
# router's socket (bound to the port, as a service's), not to the mapping
e2e_bg lanc python3 -u "$PEER" 6500 203.0.113.20:7 --wait 6; LM=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q sent "$LM"
ls0=$(e2e_xdpnat stats 2>/dev/null | awk '$1 == "local_socket" {print $2}')
e2e_bg router python3 -u "$PEER" 6500 203.0.113.10:7 --wait 4; LR=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q sent "$LR"
e2e_in inet python3 - <<'PY' >/dev/null
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.30", 4445)); s.sendto(b"stranger", ("198.51.100.1", 6500))
PY
e2e_wait_for -t 3 grep -q "got 203.0.113.30 4445" "$LR"
ls1=$(e2e_xdpnat stats 2>/dev/null | awk '$1 == "local_socket" {print $2}')
[ "$(port_seen "$LOG_B" 198.51.100.1)" = 6500 ] && ! grep -q "no echo" "$LR" \
	&& grep -q "got 203.0.113.30 4445 stranger" "$LR" && ! grep -q "got 203.0.113" "$LM" \
	&& [ "$((ls1 - ls0))" -ge 2 ] \
	&& e2e_ok "a router socket on a mapping's port (6500): its answer and a stranger's datagram reach it, not the LAN host (local_socket +$((ls1 - ls0)))" \
	|| e2e_fail "router socket and mapping on one port" "router: $(cat "$LR")" "lanc: $(cat "$LM")" \
		"port seen by B: $(port_seen "$LOG_B" 198.51.100.1); local_socket $ls0 -> $ls1"
e2e_xdpnat_stop

# ---------------------------------------------------------------- address-dependent
conf address-dependent
e2e_xdpnat_start router "$E2E_TMP/router.conf" || { e2e_fail "xdpnat starts (address-dependent)"; e2e_finish; }
t=$(stun_type 6400)
echo "$t" | grep -q "Independent Mapping" && echo "$t" | grep -q "Address Dependent Filter" \
	&& e2e_ok "STUN: Independent Mapping, Address Dependent Filter (address-dependent)" \
	|| e2e_fail "STUN with filtering address-dependent" "$t"
e2e_check "daemon stops cleanly" e2e_xdpnat_stop
e2e_finish
