#!/bin/bash
# Core NAT on real traffic: masquerade (TCP, UDP, ICMP), forwards (one port,
# shifted range, range to one port, UDP), hairpin on a bridged LAN, ICMP
# errors (traceroute, port unreachable), fragments both ways, IPv6 untouched,
# no LAN source on the WAN link, SIGHUP during a transfer; the TCP/UDP
# checksum of every packet as its receiver has it. test_nat_core_offload.sh
# and test_nat_core_generic.sh run it again on links with their default
# offloads (unfinished checksums from every sender), natively and in
# generic XDP mode (lib.sh: E2E_OFFLOADS, E2E_XDP_MODE).
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require curl iperf3 traceroute tcpdump python3 sha256sum
UDP=$E2E_LIB_DIR/udp_tool.py

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
e2e_log "links: $(e2e_mode)"
# Generic XDP with unfinished checksums from every sender: XDP leaves those
# packets to the kernel path (README, "Links and checksums"), so the checks
# of the XDP fast path below do not apply.
FAST=1
[ "$E2E_XDP_MODE" = generic ] && [ "$E2E_OFFLOADS" = default ] && FAST=0
NOFAST="generic XDP, unfinished checksums: the kernel path carries them"
if [ "$E2E_OFFLOADS" = default ]; then
	# no ethtool -K anywhere: every sender leaves its checksums unfinished
	off=""
	for rd in "lanc eth0" "lans eth0" "inet eth0"; do
		set -- $rd
		e2e_in "$1" ethtool -k "$2" | grep -q '^tx-checksumming: on' || off="$off $1/$2"
	done
	[ -z "$off" ] && e2e_ok "default offloads: tx checksumming is on for every host" \
		|| e2e_fail "default offloads: tx checksumming is on for every host" "off:$off"
fi

# IPv6 beside IPv4: the router forwards it, xdpnat must leave it alone.
e2e_sysctl router net.ipv6.conf.all.forwarding=1
for rd in "router lan0" "router wan0" "lanc eth0" "inet eth0"; do
	set -- $rd
	e2e_sysctl "$1" "net.ipv6.conf.$2.disable_ipv6=0"
	e2e_sysctl "$1" "net.ipv6.conf.$2.accept_dad=0"
done
e2e_addr router lan0 fd00:1::1/64
e2e_addr router wan0 fd00:2::1/64
e2e_addr lanc eth0 fd00:1::10/64
e2e_addr inet eth0 fd00:2::2/64
ip -n "$(e2e_ns lanc)" -6 route add default via fd00:1::1
ip -n "$(e2e_ns inet)" -6 route add fd00:1::/64 via fd00:2::1

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
lan lan0
outbound wan0
forward tcp wan0 8080 to 192.168.0.254:80
forward tcp wan0 8000-8009 to 192.168.0.254:9000-9009
forward tcp wan0 7000-7009 to 192.168.0.254:80
forward udp wan0 5353 to 192.168.0.254:5300
EOF2

# The WAN link is watched from the Internet side for the whole test.
CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet eth0 "$CAP" ip
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts"; e2e_finish; }
e2e_ok "xdpnat starts and reports running"
mode=$(e2e_xdpnat status --json | python3 -c '
import json, sys
print(" ".join(sorted({i.get("xdp_mode", i.get("xdp", "?")) for i in json.load(sys.stdin).get("interfaces", [])})))' 2>/dev/null)
want=native; [ "$E2E_XDP_MODE" = generic ] && want=generic
[ "$mode" = "$want" ] && e2e_ok "XDP is attached in $want mode" \
	|| e2e_fail "XDP is attached in $want mode" "modes: ${mode:-?}" "$(e2e_xdpnat status)"
# the receivers' view of every TCP/UDP checksum, for the whole test
e2e_csum_watch_start inet eth0 inet
e2e_csum_watch_start lanc eth0 lanc
e2e_csum_watch_start lans eth0 lans

# Servers
WWW=$E2E_TMP/www; mkdir -p "$WWW"
head -c 20000000 /dev/urandom > "$WWW/big.bin"
SUM=$(sha256sum < "$WWW/big.bin" | cut -d' ' -f1)
e2e_http_server inet 203.0.113.10 80 "$WWW"; INET_HTTP_LOG=$E2E_HTTP_LOG
e2e_http_server lans 192.168.0.254 80 "$WWW"; LANS_HTTP_LOG=$E2E_HTTP_LOG
e2e_http_server lans 192.168.0.254 9005 "$WWW"; LANS9005_LOG=$E2E_HTTP_LOG
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7; INET_UDP_LOG=$E2E_BG_LOG
e2e_bg lans python3 -u "$UDP" echo 192.168.0.254 5300; LANS_UDP_LOG=$E2E_BG_LOG
e2e_bg inet iperf3 -s -B 203.0.113.10 -1
sleep 0.5

# --- masquerade
got=$(e2e_in lanc curl -s -m 20 http://203.0.113.10/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "HTTP download through masquerade is intact (sha256)" \
	|| e2e_fail "HTTP download through masquerade is intact" "got $got want $SUM"
grep -q '^198\.51\.100\.1 ' "$INET_HTTP_LOG" && ! grep -q '^192\.168\.' "$INET_HTTP_LOG" \
	&& e2e_ok "the Internet server sees the WAN address" \
	|| e2e_fail "the Internet server sees the WAN address" "$(cat "$INET_HTTP_LOG")"
e2e_check "ping through masquerade (ICMP echo id translated)" e2e_in lanc ping -c 3 -i 0.2 -W 2 203.0.113.10
e2e_check "UDP round trip through masquerade" e2e_in lanc python3 "$UDP" send 203.0.113.10 7 200
grep -q '^198\.51\.100\.1 ' "$INET_UDP_LOG" && e2e_ok "the UDP server sees the WAN address" \
	|| e2e_fail "the UDP server sees the WAN address" "$(cat "$INET_UDP_LOG")"
e2e_check "4000-byte UDP datagram, fragmented both ways, round trip intact" \
	e2e_in lanc python3 "$UDP" send 203.0.113.10 7 4000
e2e_check "ICMP port unreachable reaches the LAN UDP client" \
	e2e_in lanc python3 "$UDP" refused 203.0.113.10 9
# each of those three flows got its reply entry from its first answer
# (the echo, the first fragment of the echo, the port unreachable)
lazy=$(e2e_xdpnat stats | awk '$1 == "ct_reply_lazy" {print $2}')
[ "${lazy:-0}" -ge 3 ] && e2e_ok "xdpnat stats: $lazy UDP reply entries made by a flow's first answer" \
	|| e2e_fail "xdpnat stats: UDP reply entries made by a flow's first answer" "ct_reply_lazy=${lazy:-?}"
# every GC pass (a second each here) rebuilds nat_udp_keyed in the other
# epoch's bitmap (README "Connection tracking"): its control element says
# filled, and shows both epochs within a few seconds
keyed_ctl() {	# the control element (index NAT_UDP_KEYED_CTL = 1024): "READY EPOCH"
	bpftool -j map lookup pinned "$E2E_BPFFS/xdpnat/nat_udp_keyed" key 0 4 0 0 2>/dev/null |
		python3 -c 'import json,sys; b = json.load(sys.stdin)["formatted"]["value"]["bits"]; print(b[0], b[1])'
}
seen=""
for _ in $(seq 12); do
	seen="$seen $(keyed_ctl)"
	sleep 0.5
done
case $seen in *"1 0"*"1 1"*|*"1 1"*"1 0"*)
	e2e_ok "nat_udp_keyed: filled, and its epoch switches with every GC pass" ;;
*)	e2e_fail "nat_udp_keyed: filled, and its epoch switches with every GC pass" "READY EPOCH:$seen" ;;
esac
out=$(e2e_in lanc traceroute -n -q 1 -w 2 -m 5 203.0.113.10 2>&1)
echo "$out" | grep -qE '^ *1 +192\.168\.0\.1 ' && echo "$out" | grep -qE '^ *2 +203\.0\.113\.10 ' \
	&& e2e_ok "traceroute through the NAT (router hop, then the destination's port unreachable)" \
	|| e2e_fail "traceroute through the NAT" "$out"
out=$(e2e_in lanc iperf3 -c 203.0.113.10 -t 3 -J 2>&1)
bps=$(echo "$out" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' 2>/dev/null)
[ "${bps:-0}" -gt 10000000 ] && e2e_ok "iperf3 TCP through masquerade ($((bps / 1000000)) Mbit/s)" \
	|| e2e_fail "iperf3 TCP through masquerade" "$(echo "$out" | tail -5)"
# Past nat_config.tcp_bulk_bytes (1 MiB) a direction of a TCP flow takes the
# kernel path (GRO/GSO): the upload in every mode (passed untouched from the
# LAN), the 20 MB download above unless its checksums looked unfinished
# (default offloads: finished in XDP instead). Intact all the same (sha256,
# the checksum watchers).
bulk=$(e2e_xdpnat stats | awk '$1 == "tcp_bulk_passed" {print $2}')
[ "${bulk:-0}" -gt 100 ] && e2e_ok "bulk TCP left XDP for the kernel path past tcp_bulk_bytes ($bulk packets)" \
	|| e2e_fail "bulk TCP left XDP for the kernel path past tcp_bulk_bytes" "tcp_bulk_passed=${bulk:-?}"
e2e_bg inet iperf3 -s -B 203.0.113.10 -1; sleep 0.3
e2e_in lanc iperf3 -c 203.0.113.10 -u -b 20M -t 3 -J > "$E2E_TMP/iperf-udp.json" 2>&1 &
IPERF=$!
# a steady stream: its direction is forwarded from the next-hop cache
sleep 1.5
nhc=$(e2e_xdpnat stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conntrack"]["nh_cached"])' 2>/dev/null)
if [ $FAST = 0 ]; then
	e2e_skip "xdpnat stats counts cached next hops during a UDP stream" "$NOFAST"
else
	[ "${nhc:-0}" -ge 1 ] && e2e_ok "xdpnat stats: $nhc flow direction(s) forwarded from the next-hop cache during a UDP stream" \
		|| e2e_fail "xdpnat stats counts cached next hops during a UDP stream" "nh_cached=${nhc:-?}"
fi
wait "$IPERF"
out=$(cat "$E2E_TMP/iperf-udp.json")
lost=$(echo "$out" | python3 -c 'import json,sys; s=json.load(sys.stdin)["end"]["sum"]; print("%d %d" % (s["packets"], s["lost_packets"]))' 2>/dev/null)
set -- $lost
# (loss bound 5%: the test shares 2 cores with everything else; a NAT fault loses all)
[ "${1:-0}" -gt 1000 ] && [ "${2:-1}" -le $(( ${1:-0} / 20 )) ] \
	&& e2e_ok "iperf3 UDP through masquerade ($1 packets, $2 lost)" \
	|| e2e_fail "iperf3 UDP through masquerade" "packets/lost: $lost" "$(echo "$out" | tail -5)"

# --- forwards (the remote address is preserved)
got=$(e2e_in inet curl -s -m 10 http://198.51.100.1:8080/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "forward tcp 8080 -> 192.168.0.254:80, download intact" \
	|| e2e_fail "forward tcp 8080 -> 192.168.0.254:80"
grep -q '^198\.51\.100\.2 ' "$LANS_HTTP_LOG" && e2e_ok "the inside server sees the real client address" \
	|| e2e_fail "the inside server sees the real client address" "$(cat "$LANS_HTTP_LOG")"
e2e_check "shifted range 8000-8009 -> 9000-9009: 8005 reaches 9005" \
	e2e_in inet curl -sf -m 5 -o /dev/null http://198.51.100.1:8005/
grep -q '^198\.51\.100\.2 ' "$LANS9005_LOG" && e2e_ok "shifted range: server on 9005 saw the client" \
	|| e2e_fail "shifted range: server on 9005 saw the client" "$(cat "$LANS9005_LOG")"
e2e_check_not "shifted range: 8004 does not reach a closed 9004" \
	e2e_in inet curl -sf -m 3 -o /dev/null http://198.51.100.1:8004/
e2e_check "range to one port: 7003 reaches 80" e2e_in inet curl -sf -m 5 -o /dev/null http://198.51.100.1:7003/
e2e_check "range to one port: 7009 reaches 80" e2e_in inet curl -sf -m 5 -o /dev/null http://198.51.100.1:7009/
e2e_check "forward udp 5353 -> 192.168.0.254:5300 round trip" \
	e2e_in inet python3 "$UDP" send 198.51.100.1 5353 100
grep -q '^198\.51\.100\.2 ' "$LANS_UDP_LOG" && e2e_ok "UDP forward: the server sees the real client" \
	|| e2e_fail "UDP forward: the server sees the real client" "$(cat "$LANS_UDP_LOG")"
e2e_check_not "a port that is not forwarded is not reachable" \
	e2e_in inet curl -sf -m 3 -o /dev/null http://198.51.100.1:8081/

# --- hairpin: LAN client -> WAN address -> LAN server on the same segment
got=$(e2e_in lanc curl -s -m 10 http://198.51.100.1:8080/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "hairpin: LAN client downloads from the LAN server via the WAN address" \
	|| e2e_fail "hairpin download"
tail -n 1 "$LANS_HTTP_LOG" | grep -q '^198\.51\.100\.1 ' && e2e_ok "hairpin: the server sees the WAN address (replies come back through the router)" \
	|| e2e_fail "hairpin: the server sees the WAN address" "$(tail -n 3 "$LANS_HTTP_LOG")"

# --- IPv6 passes untouched
e2e_check "IPv6 ping through the router is untouched" e2e_in lanc ping -6 -c 2 -W 2 fd00:2::2

# --- SIGHUP with a changed file during a long transfer
(e2e_in lanc curl -s -m 30 --limit-rate 5M http://203.0.113.10/big.bin | sha256sum | cut -d' ' -f1 > "$E2E_TMP/hup.sum") &
CURL_PID=$!
sleep 1.5
echo "forward tcp wan0 8443 to 192.168.0.254:80" >> "$E2E_XDPNAT_CONF"
kill -HUP "$E2E_XDPNAT_PID"
wait "$CURL_PID"
[ "$(cat "$E2E_TMP/hup.sum")" = "$SUM" ] && e2e_ok "SIGHUP during a transfer: the transfer completes intact" \
	|| e2e_fail "SIGHUP during a transfer" "$(cat "$E2E_TMP/hup.sum")"
e2e_check "SIGHUP applied the new forward 8443" e2e_in inet curl -sf -m 5 -o /dev/null http://198.51.100.1:8443/

# --- the fast path did the work, and nothing was dropped as malformed
stats=$(e2e_xdpnat stats --json)
fwd=$(echo "$stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("xdp_forwarded", d.get("datapath",{}).get("xdp_forwarded",0)))' 2>/dev/null)
if [ $FAST = 0 ]; then
	e2e_skip "established flows are forwarded in XDP" "$NOFAST"
else
	[ "${fwd:-0}" -gt 10000 ] && e2e_ok "established flows are forwarded in XDP ($fwd packets)" \
		|| e2e_fail "established flows are forwarded in XDP" "$stats"
fi
flows=$(e2e_xdpnat flows)
echo "$flows" | grep -q '192.168.0.10' && e2e_ok "xdpnat flows lists the LAN client's flows" \
	|| e2e_fail "xdpnat flows lists the LAN client's flows" "$flows"

# --- the next-hop cache: the daemon fills the interface slots from the
# kernel, established flows are served from the cache, and a routing
# change moves the route generation at once
pin=$E2E_BPFFS/xdpnat
wan_if=$(e2e_in router cat /sys/class/net/wan0/ifindex) wan_mac=$(e2e_in router cat /sys/class/net/wan0/address)
lan_if=$(e2e_in router cat /sys/class/net/lan0/ifindex) lan_mac=$(e2e_in router cat /sys/class/net/lan0/address)
lanc_mac=$(e2e_in lanc cat /sys/class/net/eth0/address)
slots=$(bpftool -j map dump pinned "$pin/nat_ifslots" 2>&1)
if echo "$slots" | python3 -c '
import json, sys
want = {int(sys.argv[1]): sys.argv[2], int(sys.argv[3]): sys.argv[4]}
got = {}
for e in json.load(sys.stdin):
    v = e["formatted"]["value"]
    if v["ifindex"]:
        got[v["ifindex"]] = (":".join("%02x" % b for b in v["mac"]), v["mtu"])
sys.exit(0 if all(got.get(i) == (m, 1500) for i, m in want.items()) else 1)
' "$wan_if" "$wan_mac" "$lan_if" "$lan_mac"; then
	e2e_ok "nat_ifslots holds wan0 and lan0 (ifindex, MAC, MTU 1500) as the kernel has them"
else
	e2e_fail "nat_ifslots holds wan0 and lan0" "$slots"
fi
# replies of the HTTP downloads (203.0.113.10:80 -> the WAN address) went
# to the LAN client from the cache: slot of lan0 + 1, the client's MAC
lan_slot=$(bpftool -j map dump pinned "$pin/nat_ifaces" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["formatted"]["key"] == int(sys.argv[1]): print(e["formatted"]["value"]["slot"])' "$lan_if")
cached=$(ct_dump_live "$pin/nat_ct" | python3 -c '
import json, socket, struct, sys
n = 0
for e in json.load(sys.stdin):
    k, v = e["formatted"]["key"], e["formatted"]["value"]
    if k["proto"] == 6 and k["sport"] == socket.htons(80) and v["to_daddr"] == struct.unpack("<I", socket.inet_aton("192.168.0.10"))[0] \
       and v["nh"]["slot"] == int(sys.argv[1]) + 1 and ":".join("%02x" % b for b in v["nh"]["dmac"]) == sys.argv[2]:
        n += 1
print(n)' "${lan_slot:--9}" "$lanc_mac")
if [ $FAST = 0 ]; then
	e2e_skip "download replies carry a cached next hop" "$NOFAST"
else
	[ "${cached:-0}" -ge 1 ] && e2e_ok "download replies carry a cached next hop (lan0 slot, the client's MAC) in $cached flow(s)" \
		|| e2e_fail "download replies carry a cached next hop" "lan slot ${lan_slot:-?}" \
			"$(ct_dump_live "$pin/nat_ct" | python3 -m json.tool | head -60)"
fi
bumps() { bpftool -j map lookup pinned "$pin/nat_routegen" key 0 0 0 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"]["bumps"])'; }
b0=$(bumps)
ip -n "$(e2e_ns router)" route add 10.99.0.0/24 via 198.51.100.2 dev wan0
b1=$b0
for _ in $(seq 20); do b1=$(bumps); [ "$b1" != "$b0" ] && break; sleep 0.05; done
ip -n "$(e2e_ns router)" route del 10.99.0.0/24 via 198.51.100.2 dev wan0
[ "$b1" -gt "$b0" ] && e2e_ok "a route added on the router moves nat_routegen (bumps $b0 -> $b1)" \
	|| e2e_fail "a route added on the router moves nat_routegen" "bumps $b0 -> $b1"

# --- checksums: every TCP/UDP packet arrived complete, or unfinished with an
# skb that says so (what a real device or the kernel then finishes)
e2e_csum_watch_check inet "checksums at the Internet server"
e2e_csum_watch_check lanc "checksums at the LAN client"
e2e_csum_watch_check lans "checksums at the LAN server"
if [ "$E2E_OFFLOADS" = default ]; then
	cs=$(e2e_xdpnat stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d.get("datapath", d)
print(d.get("csum_finished", 0), d.get("csum_kept", 0), d.get("csum_to_kernel", 0))' 2>/dev/null)
	set -- $cs
	if [ "$E2E_XDP_MODE" = generic ]; then
		[ "${3:-0}" -gt 1000 ] && [ "${2:-0}" -gt 1000 ] && [ "${1:-1}" = 0 ] \
			&& e2e_ok "generic XDP: unfinished checksums left to the kernel path ($3 packets), kept unfinished where XDP translated them ($2)" \
			|| e2e_fail "generic XDP: unfinished checksums left to the kernel path" "finished/kept/to kernel: $cs"
	else
		[ "${1:-0}" -gt 1000 ] && e2e_ok "native XDP: unfinished checksums finished before the redirect ($1 packets, $2 kept on the kernel path)" \
			|| e2e_fail "native XDP: unfinished checksums finished before the redirect" "finished/kept/to kernel: $cs"
	fi
fi

# --- no LAN source address on the WAN link, ever
e2e_capture_stop "$CAP"
total=$(e2e_capture_count "$CAP")
leaks=$(e2e_capture_count "$CAP" src net 192.168.0.0/16 or dst net 192.168.0.0/16)
[ "${total:-0}" -gt 1000 ] && [ "${leaks:-1}" = 0 ] \
	&& e2e_ok "WAN capture: $total packets, none with a LAN address" \
	|| e2e_fail "WAN capture: no LAN address" "total $total, leaks $leaks"

e2e_xdpnat_stop && e2e_ok "daemon stops cleanly" || e2e_fail "daemon stops cleanly"
e2e_check "xdpnat detach" e2e_xdpnat detach
out=$(e2e_in router ip -d link show; e2e_in router tc qdisc show)
echo "$out" | grep -qE 'xdp|clsact' && e2e_fail "detach restores the interfaces (no XDP, no clsact)" "$out" \
	|| e2e_ok "detach restores the interfaces (no XDP, no clsact)"
e2e_finish
