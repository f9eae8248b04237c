#!/bin/bash
# VLAN-tagged frames on interfaces xdpnat is attached to untagged: they
# belong to another network and pass untouched, counted in passed_vlan.
# The test machines have no 8021q module, so no VLAN subinterface: tagged
# frames come from a raw socket (the tag in the frame, as a switch port
# delivers it), and a VLAN subinterface's traffic leaving through its
# parent is played by vlan_push.bpf.o on the parent's tc egress (the tag
# held outside the frame until the driver inserts it) for packets that
# take the kernel path there.
#
#   inet   eth0 198.51.100.2/24, lo 203.0.113.10/32
#   router wan0 198.51.100.1/24, lan0 192.168.0.1/24; 10.7.0.0/16 ("VLAN 7's
#          network") routed out of wan0, tagged there by vlan_push
#   lanh   eth0 192.168.0.10/24
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require tcpdump python3 tc
PUSH=$E2E_BUILD/tests/e2e/vlan_push.bpf.o
[ -f "$PUSH" ] || e2e_skip_all "$PUSH not built (make tests)"

topo() {
	e2e_ns_add inet router lanh || return 1
	e2e_sysctl router net.ipv4.ip_forward=1
	e2e_veth router wan0 inet eth0 || return 1
	e2e_veth router lan0 lanh eth0 || return 1
	e2e_addr router wan0 198.51.100.1/24
	e2e_addr router lan0 192.168.0.1/24
	e2e_addr inet eth0 198.51.100.2/24
	e2e_addr inet lo 203.0.113.10/32
	e2e_addr lanh eth0 192.168.0.10/24
	e2e_host_if inet eth0
	e2e_host_if lanh eth0
	e2e_router_peer_if inet eth0
	e2e_router_peer_if lanh eth0
	ip -n "$(e2e_ns router)" route add default via 198.51.100.2 dev wan0
	ip -n "$(e2e_ns router)" route add 10.7.0.0/16 via 198.51.100.2 dev wan0
	ip -n "$(e2e_ns lanh)" route add default via 192.168.0.1
	e2e_wait_for -t 5 e2e_in lanh ping -c1 -W1 -q 192.168.0.1 >/dev/null 2>&1
}
e2e_check "topology" topo || e2e_finish

CONF=$E2E_TMP/router.conf
printf 'wan wan0\nlan lan0\noutbound wan0\nforward tcp wan0 8080 to 192.168.0.10:80\n' >"$CONF"
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts"; e2e_finish; }
e2e_ok "xdpnat starts"
counter() { e2e_xdpnat stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$1"; }

# send_tagged ROLE DEV DST_MAC SRC DST DPORT TPIDS... : three TCP SYNs
# SRC -> DST:DPORT with the given tags (outermost first) from a raw socket
send_tagged() {
	e2e_in "$1" python3 - "$@" <<'EOF'
import socket, struct, sys
_, _, dev, dmac, src, dst, dport, *tpids = sys.argv
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
sa, da = socket.inet_aton(src), socket.inet_aton(dst)
tcp = struct.pack("!HHIIBBHHH", 40000, int(dport), 1, 0, 5 << 4, 2, 64240, 0, 0)
tcp = tcp[:16] + struct.pack("!H", csum(sa + da + struct.pack("!BBH", 0, 6, 20) + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0, sa, da)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
smac = bytes.fromhex(open("/sys/class/net/%s/address" % dev).read().strip().replace(":", ""))
tags = b"".join(struct.pack("!HH", int(t, 16), 7) for t in tpids)
frame = bytes.fromhex(dmac.replace(":", "")) + smac + tags + b"\x08\x00" + ip + tcp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
for _ in range(3):
    s.send(frame)
EOF
}
WAN_MAC=$(e2e_in router cat /sys/class/net/wan0/address)
LAN_MAC=$(e2e_in router cat /sys/class/net/lan0/address)

# --- tagged frames arriving (the tag in the frame)
v0=$(counter passed_vlan)
send_tagged inet eth0 "$WAN_MAC" 198.51.100.2 198.51.100.1 8080 8100
send_tagged inet eth0 "$WAN_MAC" 198.51.100.2 198.51.100.1 8080 88a8 8100
send_tagged lanh eth0 "$LAN_MAC" 192.168.0.10 203.0.113.10 80 8100
sleep 0.3
v1=$(counter passed_vlan)
flows=$(e2e_xdpnat flows)
[ $((v1 - v0)) = 9 ] && echo "$flows" | grep -q '^0 flows' \
	&& e2e_ok "tagged SYNs on wan0 (to a forward, 802.1Q and QinQ) and on lan0: passed, counted (passed_vlan +9), no flow" \
	|| e2e_fail "tagged SYNs passed and counted, no flow" "passed_vlan $v0 -> $v1" "$flows"
# the same SYN untagged does start the forward's flow
send_tagged inet eth0 "$WAN_MAC" 198.51.100.2 198.51.100.1 8080
sleep 0.3
e2e_xdpnat flows | grep -qE '^tcp +forward ' && e2e_ok "the same SYN untagged starts a forward flow" \
	|| e2e_fail "the same SYN untagged starts a forward flow" "$(e2e_xdpnat flows)"

# --- a VLAN's traffic leaving through wan0 with its tag held aside
CAP=$E2E_TMP/wan.pcap
e2e_check "vlan_push on wan0 egress (pref 1, before xdpnat's filter)" \
	e2e_in router tc filter add dev wan0 egress pref 1 bpf da obj "$PUSH" sec tc
e2e_capture_start inet eth0 "$CAP"
v0=$(counter passed_vlan) nf0=$(counter drop_no_flow) tc0=$(counter tc_translated)
# (-R: with IP options the packets take the kernel path, as a VLAN
# subinterface's traffic does, and reach tc egress of wan0)
e2e_in lanh ping -R -c 3 -i 0.2 -W 1 10.7.0.5 >/dev/null 2>&1
e2e_in lanh ping -c 2 -i 0.2 -W 2 203.0.113.10 >/dev/null 2>&1; untagged=$?
e2e_capture_stop "$CAP"
v1=$(counter passed_vlan) nf1=$(counter drop_no_flow) tc1=$(counter tc_translated)
tagged=$(e2e_capture_count "$CAP" vlan 7 and src host 192.168.0.10 and dst host 10.7.0.5)
[ "$tagged" = 3 ] && [ $((v1 - v0)) = 3 ] && [ "$nf1" = "$nf0" ] \
	&& e2e_ok "VLAN 7's packets leave wan0 tagged and untouched (3 seen on the link, passed_vlan +3, none dropped)" \
	|| e2e_fail "VLAN 7's packets leave untouched" "captured $tagged, passed_vlan $v0 -> $v1, drop_no_flow $nf0 -> $nf1" \
		"$(tcpdump -e -n -r "$CAP" 2>/dev/null | head)"
[ "$untagged" = 0 ] && [ "$(e2e_capture_count "$CAP" not vlan and src net 192.168.0.0/16)" = 0 ] \
	&& e2e_ok "untagged traffic beside it is masqueraded as before (ping, no LAN source untagged on the link)" \
	|| e2e_fail "untagged traffic beside it is masqueraded" "ping rc $untagged, tc_translated $tc0 -> $tc1" \
		"$(tcpdump -e -n -r "$CAP" 2>/dev/null | head)"

e2e_xdpnat_stop && e2e_ok "daemon stops cleanly" || e2e_fail "daemon stops cleanly"
e2e_finish
