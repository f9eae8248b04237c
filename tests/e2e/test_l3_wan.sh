#!/bin/bash
# A WAN without a link-layer header, as PPP/PPPoE, WireGuard or any tun
# device is: two TUN devices joined by a relay (tun_relay.py), MTU 1492,
# `ip addr add A peer B` on each side. xdpnat attaches its L3 programs
# (generic XDP xdpnat_xdp_l3w, tc xdpnat_tc_l3) and must masquerade TCP,
# UDP and ICMP, serve a forward, and never let a LAN source out of it.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require curl tcpdump python3 sha256sum
UDP=$E2E_LIB_DIR/udp_tool.py

e2e_ns_add inet router || { e2e_fail "namespaces"; e2e_finish; }
e2e_sysctl router net.ipv4.ip_forward=1
# the relay creates both devices in the router's namespace, then one
# moves to the Internet side (e2e_tun_link in lib.sh)
e2e_tun_link wan0 198.51.100.1 || { e2e_fail "tun link"; e2e_finish; }
e2e_addr inet lo 203.0.113.10/32
_e2e_lan || { e2e_fail "LAN"; e2e_finish; }
_e2e_settle

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
lan lan0
outbound wan0
forward tcp wan0 8080 to 192.168.0.254:80
EOF2

CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet tinet "$CAP" ip
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts on an L3 WAN"; e2e_finish; }
e2e_ok "xdpnat starts on an L3 WAN"
out=$(e2e_xdpnat status 2>&1)
echo "$out" | grep -E '^ *wan0 ' | grep -q tun && echo "$out" | grep -E '^ *wan0 ' | grep -q "xdp generic + tc" \
	&& e2e_ok "status: wan0 is a tun link on xdp generic + tc" \
	|| e2e_fail "status: wan0 is a tun link on xdp generic + tc" "$out"
prog=$(e2e_in router ip -d link show wan0 | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}')
name=$(bpftool prog show id "${prog:-0}" 2>/dev/null | grep -o 'name [a-z0-9_]*' | awk '{print $2}')
[ "$name" = xdpnat_xdp_l3w ] && e2e_ok "wan0 runs the L3 XDP program (generic mode)" \
	|| e2e_fail "wan0 runs the L3 XDP program" "prog ${prog:-none} name ${name:-?}"

WWW=$E2E_TMP/www; mkdir -p "$WWW"
head -c 5000000 /dev/urandom > "$WWW/big.bin"
SUM=$(sha256sum < "$WWW/big.bin" | cut -d' ' -f1)
e2e_http_server inet 203.0.113.10 80 "$WWW"; INET_HTTP_LOG=$E2E_HTTP_LOG
e2e_http_server lans 192.168.0.254 80 "$WWW"; LANS_HTTP_LOG=$E2E_HTTP_LOG
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7; INET_UDP_LOG=$E2E_BG_LOG
sleep 0.5

s0=$(e2e_xdpnat stats 2>/dev/null)
got=$(e2e_in lanc curl -s -m 30 http://203.0.113.10/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "5 MB HTTP download through masquerade on the L3 WAN is intact (sha256)" \
	|| e2e_fail "HTTP download through masquerade on the L3 WAN" "got $got want $SUM"
grep -q '^198\.51\.100\.1 ' "$INET_HTTP_LOG" && ! grep -q '^192\.168\.' "$INET_HTTP_LOG" \
	&& e2e_ok "the Internet server sees the WAN address" \
	|| e2e_fail "the Internet server sees the WAN address" "$(cat "$INET_HTTP_LOG")"
e2e_check "ping through masquerade on the L3 WAN" e2e_in lanc ping -c 3 -i 0.2 -W 2 203.0.113.10
e2e_check "UDP round trip through masquerade on the L3 WAN" e2e_in lanc python3 "$UDP" send 203.0.113.10 7 200
e2e_check "3000-byte UDP datagram, fragmented both ways, round trip intact" \
	e2e_in lanc python3 "$UDP" send 203.0.113.10 7 3000
grep -q '^198\.51\.100\.1 ' "$INET_UDP_LOG" && e2e_ok "the UDP server sees the WAN address" \
	|| e2e_fail "the UDP server sees the WAN address" "$(cat "$INET_UDP_LOG")"

got=$(e2e_in inet curl -s -m 30 http://198.51.100.1:8080/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "forward tcp 8080 -> 192.168.0.254:80 over the L3 WAN, download intact" \
	|| e2e_fail "forward over the L3 WAN" "got $got"
grep -q '^198\.51\.100\.2 ' "$LANS_HTTP_LOG" && e2e_ok "the inside server sees the real client address" \
	|| e2e_fail "the inside server sees the real client address" "$(cat "$LANS_HTTP_LOG")"

stat() { echo "$1" | awk -v k="$2" '$1 == k {print $2}'; }
s1=$(e2e_xdpnat stats 2>/dev/null)
fx=$(( $(stat "$s1" xdp_forwarded) - $(stat "$s0" xdp_forwarded) ))
tc=$(( $(stat "$s1" tc_translated) - $(stat "$s0" tc_translated) ))
# What XDP forwards WAN -> LAN here: the masquerade download's segments
# until its direction passes tcp_bulk_bytes (1 MiB: at least 700 frames of
# at most 1500 bytes; the rest goes to the kernel path for GRO), and the
# ACKs of the forward's download, as many as the sender's stack makes
# (973-1855 in runs of 2026-12-02). Without the L3 fast path: none.
[ "$fx" -ge 500 ] && e2e_ok "WAN -> LAN in XDP: the frames got their Ethernet header and were redirected ($fx)" \
	|| e2e_fail "WAN -> LAN forwarded in XDP" "xdp_forwarded +$fx"
[ "$tc" -gt 100 ] && e2e_ok "LAN -> WAN translated on the L3 WAN's tc egress ($tc)" \
	|| e2e_fail "LAN -> WAN translated on tc egress" "tc_translated +$tc"

# the leak guard on an L3 link: a LAN host's packet that no flow covers
# (a TCP segment without SYN) must not leave wan0
e2e_in lanc python3 - <<'PY' 2>/dev/null
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
tcp = struct.pack("!HHIIBBHHH", 45678, 80, 1, 1, 5 << 4, 0x10, 1000, 0, 0)
s.sendto(tcp, ("203.0.113.10", 0))
PY
sleep 0.5
e2e_capture_stop "$CAP"
n=$(e2e_capture_count "$CAP" src net 192.168.0.0/16)
all=$(e2e_capture_count "$CAP")
[ "$n" = 0 ] && [ "$all" -gt 1000 ] && e2e_ok "no LAN source address on the L3 WAN ($all packets captured)" \
	|| e2e_fail "no LAN source address on the L3 WAN" "$n of $all packets from 192.168/16"

e2e_check "daemon stops cleanly" e2e_xdpnat_stop
e2e_finish
