#!/bin/bash
# Dual WAN (the seed's dual-ISP router): an ECMP default route over two
# ISPs that both drop packets with foreign source addresses (strict
# rp_filter). Forwards on each WAN must be answered out of that WAN from
# its address; masqueraded flows must use the address of the WAN they leave.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ddns_lib.sh"
e2e_require_root
e2e_require curl python3

e2e_topo_dual || { e2e_fail "topology"; e2e_finish; }
# One DDNS name per WAN (test server on the router's loopback): each must
# get its own WAN's address, never the other's.
ddns_server_start router "$E2E_TMP/ddns" || { e2e_fail "DDNS test server starts"; e2e_finish; }
DDNS_OPTS="server $DDNS_URL ca-file $E2E_TMP/ddns/ca.crt user alice password-file $E2E_TMP/ddns/pass"
CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
wan wan1
lan lan0
outbound wan0
outbound wan1
forward tcp wan0 8080 to 192.168.0.254:80
forward tcp wan1 8081 to 192.168.0.254:80
state-dir $E2E_TMP/state
ddns wan0 dyndns2 isp1.example.net $DDNS_OPTS
ddns wan1 dyndns2 isp2.example.net $DDNS_OPTS
EOF2
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts"; e2e_finish; }
e2e_ok "xdpnat starts on two WANs"
ddns_both() {
	[ "$(ddns_requests isp1.example.net | tr '\n' ' ')" = "198.51.100.1 " ] &&
	[ "$(ddns_requests isp2.example.net | tr '\n' ' ')" = "192.0.2.1 " ]
}
e2e_check "DDNS: each WAN's name gets that WAN's own address, once" e2e_wait_for -t 5 ddns_both

WWW=$E2E_TMP/www; mkdir -p "$WWW"; echo hello > "$WWW/index.html"
e2e_http_server lans 192.168.0.254 80 "$WWW"; LANS_LOG=$E2E_HTTP_LOG
e2e_http_server inet 203.0.113.10 80 "$WWW"; INET_LOG=$E2E_HTTP_LOG

# nat_config.flags through bpftool, as an operator would (struct nat_config
# in include/xdpnat.h: flags is the eighth u32; the rest is kept as it is).
set_flags() {
	local pin=$E2E_BPFFS/xdpnat/nat_config bytes
	bytes=$(e2e_in router bpftool -j map lookup pinned "$pin" key 0 0 0 0 | python3 -c '
import json, struct, sys
v = bytearray(int(b, 16) for b in json.load(sys.stdin)["value"])
struct.pack_into("<I", v, 28, int(sys.argv[1]))
print(" ".join(str(b) for b in v))' "$1")
	e2e_in router bpftool map update pinned "$pin" key 0 0 0 0 value $bytes
}

# Many connections with different source ports: the ECMP hash (L4 policy)
# would send about half of each WAN's replies out of the other WAN. Once
# with the XDP fast path, once with everything on the kernel path (where
# the kernel's ECMP choice is overridden on tc egress).
N=24
for phase in "fast path" "kernel path"; do
	if [ "$phase" = "kernel path" ]; then
		set_flags 1 && e2e_ok "NAT_CFG_F_NO_FASTPATH set at runtime with bpftool" \
			|| e2e_fail "set nat_config.flags with bpftool"
		: > "$LANS_LOG"; : > "$INET_LOG"
	fi
	for wan in "198.51.100.1 8080" "192.0.2.1 8081"; do
		set -- $wan
		ok=0
		for i in $(seq $N); do
			e2e_in inet curl -sf -m 3 -o /dev/null "http://$1:$2/" && ok=$((ok + 1))
		done
		[ $ok = $N ] && e2e_ok "$phase: forward on $1:$2: $ok/$N connections answered through the same WAN" \
			|| e2e_fail "$phase: forward on $1:$2: symmetric return" "$ok/$N connections succeeded"
	done
	[ "$(grep -c '^100\.64\.' "$LANS_LOG")" -ge $((2 * N)) ] \
		&& e2e_ok "$phase: the inside server saw the real client addresses" \
		|| e2e_fail "the inside server saw the real client addresses" "$(head -3 "$LANS_LOG")"

	ok=0
	for i in $(seq $N); do
		e2e_in lanc curl -sf -m 3 -o /dev/null http://203.0.113.10/ && ok=$((ok + 1))
	done
	[ $ok = $N ] && e2e_ok "$phase: masquerade: $ok/$N connections succeed over ECMP" \
		|| e2e_fail "$phase: masquerade over ECMP" "$ok/$N"
	n1=$(grep -c '^198\.51\.100\.1 ' "$INET_LOG")
	n2=$(grep -c '^192\.0\.2\.1 ' "$INET_LOG")
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ $((n1 + n2)) = $N ] \
		&& e2e_ok "$phase: masquerade uses the address of the WAN each flow leaves by ($n1 via wan0, $n2 via wan1)" \
		|| e2e_fail "masquerade uses each WAN's own address" "wan0 $n1, wan1 $n2 of $N"


done
after=$(e2e_xdpnat stats --json)
tc=$(echo "$after" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("datapath", d); print(d["tc_translated"])' 2>/dev/null)
[ "${tc:-0}" -gt 100 ] && e2e_ok "the kernel-path phase was translated on tc ($tc packets)" \
	|| e2e_fail "the kernel-path phase was translated on tc" "$after"

# Path-MTU discovery through the NAT: the ISPs' uplinks get a smaller MTU
# (only on the ISP side, so the server still advertises a 1460-byte MSS and
# only the ISP router knows), so full-size segments from the LAN die there;
# its "fragmentation needed" (sent to the WAN address, about the translated
# packet) must reach the LAN client translated back, or the upload stalls.
for i in 1 2; do
	e2e_in isp$i ip link set up0 mtu 1280
done
head -c 4000000 /dev/urandom > "$E2E_TMP/up.bin"
want=$(sha256sum < "$E2E_TMP/up.bin" | cut -d' ' -f1)
got=$(e2e_in lanc curl -s -m 20 -T "$E2E_TMP/up.bin" http://203.0.113.10/up.bin)
[ "$got" = "$want" ] && e2e_ok "path-MTU discovery: a 4 MB upload crosses a 1280-byte link behind the ISP intact" \
	|| e2e_fail "path-MTU discovery through the NAT" "server got ${got:-nothing}, want $want"
icmp=$(e2e_xdpnat stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("datapath", d); print(d["icmp_errors_translated"])' 2>/dev/null)
[ "${icmp:-0}" -gt 0 ] && e2e_ok "the ISP's fragmentation-needed errors were translated ($icmp)" \
	|| e2e_fail "fragmentation-needed errors translated" "icmp_errors_translated=${icmp:-?}"

# Each WAN has its own table of mappings (nat_eim_ports), bound to its
# interface: the flows above left mappings on both. A reload that swaps
# the wan lines swaps the tables' WANs: each table, bound to the other
# interface, is cleared, and new flows map on the table of their WAN.
ml=$(e2e_xdpnat mappings 2>&1)
echo "$ml" | grep -Eq '^wan0 +tcp +198\.51\.100\.1:[0-9]+ +192\.168\.0\.10:' \
	&& echo "$ml" | grep -Eq '^wan1 +tcp +192\.0\.2\.1:[0-9]+ +192\.168\.0\.10:' \
	&& e2e_ok "xdpnat mappings: the client's mappings on each WAN, with that WAN's address" \
	|| e2e_fail "mappings on both WANs" "$ml"
sed -i -e 's/^wan wan0$/wan wanX/' -e 's/^wan wan1$/wan wan0/' -e 's/^wan wanX$/wan wan1/' "$E2E_XDPNAT_CONF"
kill -HUP "$E2E_XDPNAT_PID"
swapped() {
	grep -q "wan wan0: its mapping table (nat_eim_ports 1) was another interface's: cleared" "$E2E_XDPNAT_LOG" &&
	grep -q "wan wan1: its mapping table (nat_eim_ports 0) was another interface's: cleared" "$E2E_XDPNAT_LOG"
}
e2e_wait_for -t 5 swapped \
	&& e2e_ok "reload with the wan lines swapped: both tables cleared and bound anew" \
	|| e2e_fail "reload with the wan lines swapped rebinds both tables" "$(tail -5 "$E2E_XDPNAT_LOG")"
: > "$INET_LOG"
ok=0
for i in $(seq 10); do
	e2e_in lanc curl -sf -m 3 -o /dev/null --local-port $((30000 + i)) http://203.0.113.10/ && ok=$((ok + 1))
done
ml=$(e2e_xdpnat mappings 2>&1)
bad=$(echo "$ml" | awk '$1 == "wan0" && $3 !~ /^198\.51\.100\.1:/ || $1 == "wan1" && $3 !~ /^192\.0\.2\.1:/' | head -3)
n=$(echo "$ml" | grep -Ec ':3000[1-9] |:30010 ')
[ "$ok" = 10 ] && [ -z "$bad" ] && [ "$n" -ge 10 ] \
	&& e2e_ok "after the swap: 10/10 connections, each mapped on its WAN's table ($n mappings of ports 30001-30010)" \
	|| e2e_fail "masquerade after the tables were swapped" "ok $ok/10, mismatched: $bad" "$ml"

st=$(e2e_xdpnat status)
echo "$st" | grep -q 198.51.100.1 && echo "$st" | grep -q 192.0.2.1 \
	&& e2e_ok "xdpnat status shows both WAN addresses" || e2e_fail "status shows both WANs" "$st"

# A restart with one WAN fewer: nat_eim_ports is made for one table and the
# old one's tables copied into it, table 0 (wan1's since the swap) kept,
# table 1 (wan0's) counted as lost. UDP mappings made just before (ten
# source ports, spread over both WANs by ECMP) are the evidence.
for p in $(seq 31001 31010); do
	e2e_in lanc python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", int(sys.argv[1])))
s.sendto(b"x", ("203.0.113.10", 9))' "$p"
done
udp_w1() { e2e_xdpnat mappings 2>/dev/null | awk '$1 == "wan1" && $2 == "udp" && $4 ~ /:310(0[1-9]|10)$/ {print $3, $4}' | sort; }
before=$(udp_w1)
sed '/wan0/d' "$CONF" > "$E2E_TMP/one-wan.conf"
e2e_xdpnat_stop
e2e_xdpnat_start router "$E2E_TMP/one-wan.conf" || { e2e_fail "xdpnat restarts with one WAN"; e2e_finish; }
conv=$(grep -o 'nat_eim_ports: adopted with a conversion.*' "$E2E_XDPNAT_LOG")
after=$(udp_w1)
[ -n "$before" ] && [ "$before" = "$after" ] && echo "$conv" | grep -Eq '393216 -> 196608 entries\): [1-9][0-9]* entries copied, [1-9][0-9]* lost' \
	&& e2e_ok "restart with one WAN fewer: nat_eim_ports converted table by table, wan1's $(echo "$before" | wc -l) UDP mappings kept (${conv#*: })" \
	|| e2e_fail "restart with one WAN fewer keeps the kept WAN's mappings" "log: $conv" "before: $before" "after: $after"
e2e_xdpnat_stop && e2e_ok "daemon stops cleanly" || e2e_fail "daemon stops cleanly"
e2e_finish
