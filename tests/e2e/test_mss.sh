#!/bin/bash
# MSS clamping: `wan wan0 mss-clamp 1400`. Every SYN and SYN-ACK crossing
# wan0 leaves xdpnat with MSS 1400 at most, in both directions and for a
# forward too, as tcpdump sees them on the wire; downloads work. Then
# `mss-clamp auto` on a WAN with MTU 1492 (PPPoE-like): 1452.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require curl tcpdump sha256sum

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0 mss-clamp 1400
lan lan0
outbound wan0
forward tcp wan0 8080 to 192.168.0.254:80
EOF2

WWW=$E2E_TMP/www; mkdir -p "$WWW"
head -c 3000000 /dev/urandom > "$WWW/big.bin"
SUM=$(sha256sum < "$WWW/big.bin" | cut -d' ' -f1)
e2e_http_server inet 203.0.113.10 80 "$WWW"
e2e_http_server lans 192.168.0.254 80 "$WWW"

# SYN and SYN-ACK segments in capture FILE from SRC: their tcpdump -v lines
syns() { tcpdump -n -v -r "$1" "src $2 and tcp[tcpflags] & tcp-syn != 0" 2>/dev/null; }
# every one of them has an MSS option of exactly WANT (and there is one)
all_mss() {
	local lines=$1 want=$2
	[ -n "$lines" ] || return 1
	! echo "$lines" | grep -E 'Flags \[S' | grep -vq "mss $want[],]"
}

WCAP=$E2E_TMP/wan.pcap LCAP=$E2E_TMP/lanc.pcap SCAP=$E2E_TMP/lans.pcap
e2e_capture_start inet eth0 "$WCAP" tcp
e2e_capture_start lanc eth0 "$LCAP" tcp
e2e_capture_start lans eth0 "$SCAP" tcp
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with mss-clamp 1400"; e2e_finish; }
e2e_ok "xdpnat starts with wan wan0 mss-clamp 1400"

got=$(e2e_in lanc curl -s -m 30 http://203.0.113.10/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "3 MB download through masquerade with mss-clamp 1400 is intact" \
	|| e2e_fail "download through masquerade with mss-clamp 1400" "got $got want $SUM"
got=$(e2e_in inet curl -s -m 30 http://198.51.100.1:8080/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "3 MB download through the forward with mss-clamp 1400 is intact" \
	|| e2e_fail "download through the forward with mss-clamp 1400" "got $got want $SUM"
e2e_capture_stop "$WCAP"; e2e_capture_stop "$LCAP"; e2e_capture_stop "$SCAP"

# the client's own SYN carries 1460 (its MTU is 1500): proof the clamp did it
out=$(syns "$LCAP" 192.168.0.10)
echo "$out" | grep -q 'mss 1460' && e2e_ok "the LAN client sends its SYN with mss 1460" \
	|| e2e_fail "the LAN client sends its SYN with mss 1460" "$out"
out=$(syns "$WCAP" 198.51.100.1)
sa=$(echo "$out" | grep -E 'Flags \[S\]')
all_mss "$sa" 1400 && echo "$sa" | grep -q '198\.51\.100\.1\.[0-9]* > 203\.0\.113\.10\.80:' \
	&& e2e_ok "the client's SYN leaves wan0 with mss 1400 (tcpdump on the Internet side)" \
	|| e2e_fail "the client's SYN leaves wan0 with mss 1400" "$out"
sa=$(echo "$out" | grep -E 'Flags \[S\.\]')
all_mss "$sa" 1400 && e2e_ok "the forward's SYN-ACK leaves wan0 with mss 1400" \
	|| e2e_fail "the forward's SYN-ACK leaves wan0 with mss 1400" "$out"
out=$(syns "$LCAP" 203.0.113.10)
all_mss "$out" 1400 && e2e_ok "the Internet server's SYN-ACK reaches the LAN client with mss 1400" \
	|| e2e_fail "the SYN-ACK reaches the LAN client with mss 1400" "$out"
out=$(syns "$SCAP" 198.51.100.2)
all_mss "$out" 1400 && e2e_ok "the forward's SYN from the Internet reaches the LAN server with mss 1400" \
	|| e2e_fail "the forward's SYN reaches the LAN server with mss 1400" "$out"
# tcpdump -v flags a bad TCP checksum as "incorrect": no clamped segment
# has one (bulk data is left out: the receivers' GRO merges it into
# super-segments whose checksum tcpdump cannot judge)
bad=$(for f in "$WCAP" "$LCAP" "$SCAP"; do
	tcpdump -n -v -r "$f" 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null; done | grep -c incorrect)
n=$(for f in "$WCAP" "$LCAP" "$SCAP"; do
	tcpdump -n -r "$f" 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null; done | wc -l)
[ "$bad" = 0 ] && [ "$n" -ge 8 ] && e2e_ok "every SYN and SYN-ACK in the captures ($n) has a correct checksum" \
	|| e2e_fail "every SYN and SYN-ACK has a correct checksum" "$bad of $n incorrect"

# mss-clamp auto: the WAN's MTU (1492, like PPPoE) minus 40
e2e_xdpnat_stop
ip -n "$(e2e_ns router)" link set wan0 mtu 1492
ip -n "$(e2e_ns inet)" link set eth0 mtu 1492
sed -i 's/^wan wan0 .*/wan wan0 mss-clamp auto/' "$CONF"
WCAP=$E2E_TMP/wan2.pcap
e2e_capture_start inet eth0 "$WCAP" tcp
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with mss-clamp auto"; e2e_finish; }
got=$(e2e_in lanc curl -s -m 30 http://203.0.113.10/big.bin | sha256sum | cut -d' ' -f1)
[ "$got" = "$SUM" ] && e2e_ok "download with mss-clamp auto on a 1492-byte WAN is intact" \
	|| e2e_fail "download with mss-clamp auto" "got $got want $SUM"
e2e_capture_stop "$WCAP"
out=$(syns "$WCAP" 198.51.100.1)
all_mss "$out" 1452 && e2e_ok "mss-clamp auto, MTU 1492: the SYN leaves wan0 with mss 1452" \
	|| e2e_fail "mss-clamp auto, MTU 1492: the SYN leaves wan0 with mss 1452" "$out"

e2e_xdpnat_stop && e2e_ok "xdpnat stops cleanly" || e2e_fail "xdpnat stops cleanly"
e2e_finish
