#!/bin/bash
# demo/demo.sh - xdpnat doing its main job, in network namespaces (`make demo`).
#
#   LAN client 192.168.0.10 ---+
#                              +-- switch -- lan0 [router: xdpnat] wan0 -- "Internet" 198.51.100.2
#   LAN server 192.168.0.254 --+                                           (+ server 203.0.113.10)
#
# Shows: masquerade (ping, HTTP download, what the server sees), a port
# forward from the Internet to the LAN server, hairpin (the LAN client using
# the public address), the flow table and counters, and a capture of the WAN
# link with no private address on it. Everything runs in namespaces named
# xn-<pid>-*, removed on exit. Needs root and a built tree (make).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/e2e/lib.sh
e2e_require_root
e2e_require curl python3 tcpdump ethtool nft

step() { printf '\n### %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }

step "Topology: namespaces inet, router, sw (LAN switch), lanc, lans"
e2e_topo_basic || { echo "demo: cannot build the topology" >&2; exit 1; }
ip netns list | grep "^xn-$$-" | sed 's/^/  /'

step "Servers: HTTP on the Internet host (203.0.113.10:8000) and on the LAN server (192.168.0.254:80)"
mkdir -p "$E2E_TMP/www-inet" "$E2E_TMP/www-lan"
head -c 1000000 /dev/urandom >"$E2E_TMP/www-inet/file"
echo "hello from the LAN server" >"$E2E_TMP/www-lan/index.html"
e2e_http_server inet 203.0.113.10 8000 "$E2E_TMP/www-inet"
INET_LOG=$E2E_HTTP_LOG
e2e_http_server lans 0.0.0.0 80 "$E2E_TMP/www-lan"
LANS_LOG=$E2E_HTTP_LOG

step "Without NAT the LAN cannot reach the Internet (the Internet has no route to 192.168.0.0/24)"
e2e_check_not "lanc -> 203.0.113.10 fails without NAT" e2e_in lanc ping -c1 -W1 203.0.113.10

step "xdpnat configuration"
CONF=$E2E_TMP/demo.conf
cat >"$CONF" <<EOF
wan wan0
lan lan0
outbound wan0
forward tcp wan0 8080 to 192.168.0.254:80
EOF
sed 's/^/  /' "$CONF"
e2e_capture_start inet eth0 "$E2E_TMP/wan.pcap" ip
if ! e2e_xdpnat_start router "$CONF"; then
	e2e_fail "xdpnat starts"
	e2e_finish
fi
e2e_ok "xdpnat run is up ($(e2e_xdpnat status >/dev/null 2>&1 && echo 'status: running'))"
show e2e_in router ip -brief link show

step "Masquerade: the LAN client reaches the Internet"
e2e_check "ping 203.0.113.10 from lanc" e2e_in lanc ping -c3 -i0.2 -W2 203.0.113.10
want=$(sha256sum <"$E2E_TMP/www-inet/file")
got=$(e2e_in lanc curl -sS --max-time 10 http://203.0.113.10:8000/file | sha256sum)
if [ "$got" = "$want" ]; then e2e_ok "1 MB HTTP download from lanc, sha256 matches"
else e2e_fail "1 MB HTTP download from lanc, sha256 matches"; fi
echo "  the Internet server saw:"
sed 's/^/    /' "$INET_LOG" | grep GET
e2e_check "the Internet server saw the router's address 198.51.100.1" grep -q '^198\.51\.100\.1 .*GET /file' "$INET_LOG"

step "Port forward: the Internet reaches the LAN server through 198.51.100.1:8080"
show e2e_in inet curl -sS --max-time 5 http://198.51.100.1:8080/
e2e_check "inet -> 198.51.100.1:8080 reaches lans:80" \
	bash -c "ip netns exec $(e2e_ns inet) curl -sS --max-time 5 http://198.51.100.1:8080/ | grep -q 'hello from the LAN server'"

step "Hairpin: the LAN client uses the public address of the forward"
e2e_check "lanc -> 198.51.100.1:8080 reaches lans:80" \
	bash -c "ip netns exec $(e2e_ns lanc) curl -sS --max-time 5 http://198.51.100.1:8080/ | grep -q 'hello from the LAN server'"
echo "  the LAN server saw:"
grep GET "$LANS_LOG" | sed 's/^/    /'

step "Flow table and counters"
show e2e_xdpnat flows
show e2e_xdpnat stats

step "The WAN link (captured on the Internet side) carried no private address"
e2e_capture_stop "$E2E_TMP/wan.pcap"
n=$(e2e_capture_count "$E2E_TMP/wan.pcap")
leak=$(e2e_capture_count "$E2E_TMP/wan.pcap" net 192.168.0.0/16)
e2e_check "$n packets on the WAN link, $leak with a 192.168.0.0/16 address" test "$leak" = 0 -a "$n" -gt 0

step "Stopping xdpnat (interfaces are left as they were found)"
e2e_check "xdpnat exits cleanly on SIGTERM" e2e_xdpnat_stop
e2e_check "no XDP program left on the router's interfaces" \
	bash -c "! ip -n $(e2e_ns router) link show | grep -q 'xdp'"
e2e_finish
