#!/bin/bash
# Bridges as xdpnat interfaces, as on an OpenWrt router: a LAN bridge
# `br-lan` with two ports (host A and host B, each in its own namespace on
# a veth whose router end is enslaved to br-lan), and in a second part a
# WAN bridge `br-wan` with the WAN veth enslaved. A bridge has no native
# XDP: xdpnat runs on it in generic mode.
#
#   inet   eth0 198.51.100.2/24, lo 203.0.113.10/32 (the Internet server)
#   router wan0 198.51.100.1/24 (part 2: enslaved to br-wan, which has it)
#          br-lan 192.168.1.1/24, ports pa, pb
#   hosta  eth0 192.168.1.10/24 (peer of pa): HTTP server, forward 8080 -> :80
#   hostb  eth0 192.168.1.20/24 (peer of pb): client
#
# Checks: masquerade (HTTP download, sha256, the server sees the WAN
# address), the forward from the Internet (sha256, host A sees the real
# client), hairpin from host B to the WAN address reaching host A (sha256,
# host A sees the WAN address), FTP through the ALG both ways (host B to an
# Internet server, the Internet to a server on host A: the 227 rewritten
# and honoured), xdpnat status of the bridge (link type,
# generic XDP and its note), no LAN address on the WAN link; then br-wan:
# masquerade and the forward through it.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require curl tcpdump python3 sha256sum vsftpd
. "$E2E_LIB_DIR/ftp_lib.sh"

R() { ip -n "$(e2e_ns router)" "$@"; }

topo() {
	e2e_ns_add inet router hosta hostb || return 1
	e2e_sysctl router net.ipv4.ip_forward=1
	e2e_veth router wan0 inet eth0 || return 1
	e2e_addr router wan0 198.51.100.1/24
	e2e_addr inet eth0 198.51.100.2/24
	e2e_addr inet lo 203.0.113.10/32
	e2e_host_if inet eth0
	e2e_router_peer_if inet eth0
	R route add default via 198.51.100.2 dev wan0
	R link add br-lan type bridge || return 1
	R link set br-lan type bridge stp_state 0 forward_delay 0
	R link set br-lan up
	e2e_veth router pa hosta eth0 || return 1
	e2e_veth router pb hostb eth0 || return 1
	R link set pa master br-lan
	R link set pb master br-lan
	e2e_addr router br-lan 192.168.1.1/24
	e2e_addr hosta eth0 192.168.1.10/24
	e2e_addr hostb eth0 192.168.1.20/24
	e2e_host_if hosta eth0
	e2e_host_if hostb eth0
	ip -n "$(e2e_ns hosta)" route add default via 192.168.1.1
	ip -n "$(e2e_ns hostb)" route add default via 192.168.1.1
	e2e_wait_for -t 5 e2e_in hostb ping -c1 -W1 -q 192.168.1.1 >/dev/null 2>&1
}

e2e_check "topology: br-lan with ports pa (host A) and pb (host B)" topo || e2e_finish

CONF=$E2E_TMP/router.conf
cat >"$CONF" <<EOF
wan wan0
lan br-lan
outbound wan0
forward tcp wan0 8080 to 192.168.1.10:80
forward tcp wan0 21 to 192.168.1.10
alg ftp
EOF

ftp_files || { e2e_fail "FTP test files"; e2e_finish; }
WWW=$E2E_TMP/www; mkdir -p "$WWW"
head -c 8000000 /dev/urandom >"$WWW/big.bin"
SUM=$(sha256sum <"$WWW/big.bin" | cut -d' ' -f1)
e2e_http_server inet 203.0.113.10 80 "$WWW"; INET_LOG=$E2E_HTTP_LOG
e2e_http_server hosta 192.168.1.10 80 "$WWW"; HOSTA_LOG=$E2E_HTTP_LOG

CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet eth0 "$CAP" ip
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts on wan0 and br-lan"; e2e_finish; }
e2e_ok "xdpnat starts on wan0 and br-lan"

# sha256 of a download: fetch ROLE URL
fetch() { e2e_in "$1" curl -s -m 20 "$2" | sha256sum | cut -d' ' -f1; }
# the last request a server logged came from ADDR
last_client_is() { tail -n 1 "$1" | grep -q "^${2//./\\.} "; }

got=$(fetch hostb http://203.0.113.10/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$INET_LOG" 198.51.100.1 \
	&& e2e_ok "masquerade from a bridge port: download intact, the server sees the WAN address" \
	|| e2e_fail "masquerade from a bridge port" "sha256 $got (want $SUM)" "$(tail -n 2 "$INET_LOG")"
got=$(fetch hosta http://203.0.113.10/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$INET_LOG" 198.51.100.1 \
	&& e2e_ok "masquerade from the other bridge port: download intact" \
	|| e2e_fail "masquerade from the other bridge port" "sha256 $got (want $SUM)" "$(tail -n 2 "$INET_LOG")"

got=$(fetch inet http://198.51.100.1:8080/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$HOSTA_LOG" 198.51.100.2 \
	&& e2e_ok "forward 8080 -> host A on br-lan: download intact, host A sees the real client" \
	|| e2e_fail "forward 8080 -> host A on br-lan" "sha256 $got (want $SUM)" "$(tail -n 2 "$HOSTA_LOG")"

got=$(fetch hostb http://198.51.100.1:8080/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$HOSTA_LOG" 198.51.100.1 \
	&& e2e_ok "hairpin between bridge ports: host B reaches host A via the WAN address, host A sees the WAN address" \
	|| e2e_fail "hairpin between bridge ports" "sha256 $got (want $SUM)" "$(tail -n 2 "$HOSTA_LOG")"

# --- FTP through the ALG: its packets between wan0 (native) and br-lan
# (generic) go through the ALG's own AF_XDP sockets, not a redirect
ftp_server inet 203.0.113.10 inet
ftp_check_get "FTP from host B on br-lan to an Internet server (PASV via the ALG): download intact" \
	hostb ftp://203.0.113.10/big.bin --disable-epsv --no-ftp-skip-pasv-ip
ftp_server hosta 192.168.1.10 hosta
ftp_check_get "FTP from the Internet to host A on br-lan (forward 21, the 227 rewritten and honoured): download intact" \
	inet ftp://198.51.100.1/big.bin --disable-epsv --no-ftp-skip-pasv-ip
a2u=$(ftp_stat alg_to_user) nr=$(ftp_stat drop_alg_no_route)
[ "${a2u:-0}" -gt 0 ] && [ "${nr:-1}" = 0 ] \
	&& e2e_ok "control packets went to the ALG ($a2u), none dropped as unroutable" \
	|| e2e_fail "control packets went to the ALG" "alg_to_user $a2u drop_alg_no_route $nr"

# --- xdpnat status: link type, path and what generic mode means
st=$(e2e_xdpnat status 2>&1)
echo "$st" | grep -qE '^  br-lan +lan +bridge +xdp generic \+ tc +192\.168\.1\.1$' \
	&& echo "$st" | grep -A1 -E '^  br-lan ' | tail -n 1 | grep -qE '^ {15}generic XDP: .*kernel path' \
	&& e2e_ok "status: br-lan is a bridge on xdp generic + tc, with the note on generic XDP" \
	|| e2e_fail "status: br-lan is a bridge on xdp generic + tc, with the note" "$st"
echo "$st" | grep -qE '^  wan0 +wan +veth +xdp native \+ tc +198\.51\.100\.1 via 198\.51\.100\.2$' \
	&& e2e_ok "status: wan0 is a veth on xdp native + tc" || e2e_fail "status: wan0 is a veth on xdp native + tc" "$st"
js=$(e2e_xdpnat status --json 2>&1)
echo "$js" | python3 -c '
import json, sys
i = {x["name"]: x for x in json.load(sys.stdin)["interfaces"]}
b, w = i["br-lan"], i["wan0"]
assert (b["link_type"], b["link_kind"], b["arphrd"], b["path"]) == ("bridge", "bridge", 1, "xdp generic + tc"), b
assert b["note"].startswith("generic XDP"), b
assert (w["link_type"], w["path"]) == ("veth", "xdp native + tc"), w
' && e2e_ok "status --json: link_type, link_kind, arphrd, path and note of br-lan and wan0" \
	|| e2e_fail "status --json: link types and paths" "$js"

# Replies from the native wan0 into the generic br-lan took the kernel path
# (a native program cannot redirect into a bridge); hairpin and uploads
# stayed in XDP.
counter() { e2e_xdpnat stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["datapath"][sys.argv[1]])' "$1"; }
ptk=$(counter passed_to_kernel) fwd=$(counter xdp_forwarded)
[ "${ptk:-0}" -gt 1000 ] && [ "${fwd:-0}" -gt 1000 ] \
	&& e2e_ok "wan0 -> br-lan on the kernel path ($ptk packets), br-lan -> wan0 and hairpin in XDP ($fwd)" \
	|| e2e_fail "paths taken" "passed_to_kernel $ptk xdp_forwarded $fwd"

e2e_capture_stop "$CAP"
total=$(e2e_capture_count "$CAP")
leaks=$(e2e_capture_count "$CAP" src net 192.168.0.0/16 or dst net 192.168.0.0/16)
[ "${total:-0}" -gt 1000 ] && [ "${leaks:-1}" = 0 ] \
	&& e2e_ok "WAN capture: $total packets, none with a LAN address" \
	|| e2e_fail "WAN capture: no LAN address" "total $total, leaks $leaks"

# --- part 2: the WAN is a bridge too (br-wan with wan0 enslaved), and a
# second LAN on a plain veth (native): traffic from it into br-wan takes
# the kernel path and is translated on tc egress of br-wan.
e2e_xdpnat_stop && e2e_xdpnat detach >/dev/null 2>&1 \
	|| e2e_fail "daemon stops and detaches before part 2"
topo_wan_bridge() {
	R addr flush dev wan0
	R link add br-wan type bridge || return 1
	R link set br-wan type bridge stp_state 0 forward_delay 0
	R link set wan0 master br-wan
	R link set br-wan up
	R addr add 198.51.100.1/24 dev br-wan
	R route replace default via 198.51.100.2 dev br-wan
	e2e_ns_add hostc || return 1
	e2e_veth router lan1 hostc eth0 || return 1
	e2e_addr router lan1 192.168.2.1/24
	e2e_addr hostc eth0 192.168.2.10/24
	e2e_host_if hostc eth0
	e2e_router_peer_if hostc eth0
	ip -n "$(e2e_ns hostc)" route add default via 192.168.2.1
	e2e_wait_for -t 5 e2e_in hostc ping -c1 -W1 -q 192.168.2.1 >/dev/null 2>&1
}
e2e_check "topology: br-wan with wan0 enslaved; lan1 (veth) to host C" topo_wan_bridge || e2e_finish
CONF2=$E2E_TMP/router2.conf
cat >"$CONF2" <<EOF
wan br-wan
lan br-lan
lan lan1
outbound br-wan
forward tcp br-wan 8080 to 192.168.1.10:80
EOF
CAP2=$E2E_TMP/wan2.pcap
e2e_capture_start inet eth0 "$CAP2" ip
e2e_xdpnat_start router "$CONF2" || { e2e_fail "xdpnat starts on br-wan, br-lan and lan1"; e2e_finish; }
e2e_ok "xdpnat starts on br-wan, br-lan and lan1"

got=$(fetch hostb http://203.0.113.10/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$INET_LOG" 198.51.100.1 \
	&& e2e_ok "br-wan: masquerade from br-lan (bridge to bridge): download intact, the server sees the WAN address" \
	|| e2e_fail "br-wan: masquerade from br-lan" "sha256 $got (want $SUM)" "$(tail -n 2 "$INET_LOG")"
got=$(fetch hostc http://203.0.113.10/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$INET_LOG" 198.51.100.1 \
	&& e2e_ok "br-wan: masquerade from lan1 (veth to bridge): download intact, the server sees the WAN address" \
	|| e2e_fail "br-wan: masquerade from lan1" "sha256 $got (want $SUM)" "$(tail -n 2 "$INET_LOG")"
got=$(fetch inet http://198.51.100.1:8080/big.bin)
[ "$got" = "$SUM" ] && last_client_is "$HOSTA_LOG" 198.51.100.2 \
	&& e2e_ok "br-wan: forward 8080 -> host A on br-lan: download intact, host A sees the real client" \
	|| e2e_fail "br-wan: forward 8080 -> host A" "sha256 $got (want $SUM)" "$(tail -n 2 "$HOSTA_LOG")"
tct=$(counter tc_translated)
[ "${tct:-0}" -gt 100 ] && e2e_ok "lan1 -> br-wan on the kernel path, translated on tc egress of br-wan ($tct packets)" \
	|| e2e_fail "lan1 -> br-wan translated on tc egress" "tc_translated $tct"
st=$(e2e_xdpnat status 2>&1)
echo "$st" | grep -qE '^  br-wan +wan +bridge +xdp generic \+ tc +198\.51\.100\.1 via 198\.51\.100\.2$' \
	&& echo "$st" | grep -qE '^  lan1 +lan +veth +xdp native \+ tc +192\.168\.2\.1$' \
	&& e2e_ok "status: br-wan a bridge on xdp generic + tc, lan1 a veth on xdp native + tc" \
	|| e2e_fail "status: br-wan and lan1" "$st"
e2e_capture_stop "$CAP2"
total=$(e2e_capture_count "$CAP2")
leaks=$(e2e_capture_count "$CAP2" src net 192.168.0.0/16 or dst net 192.168.0.0/16)
[ "${total:-0}" -gt 1000 ] && [ "${leaks:-1}" = 0 ] \
	&& e2e_ok "WAN capture behind br-wan: $total packets, none with a LAN address" \
	|| e2e_fail "WAN capture behind br-wan: no LAN address" "total $total, leaks $leaks"

e2e_xdpnat_stop && e2e_ok "daemon stops cleanly" || e2e_fail "daemon stops cleanly"
e2e_finish
