#!/bin/bash
# Self-test of tests/e2e/lib.sh: the basic and dual topologies WITHOUT xdpnat,
# NATed by plain nftables masquerade in the router namespace. Proves that the
# topologies route, that a private address does not get through the
# "Internet" un-NATed, and that cleanup removes everything.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require ip nft curl python3 ethtool tcpdump

masq() {	# ROLE WAN_IFS... : nft masquerade on the router (its namespace only)
	local r=$1
	shift
	local ifs
	ifs=$(printf '"%s", ' "$@")
	e2e_in "$r" nft -f - <<-EOF
	table ip xn_selftest {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			oifname { ${ifs%, } } masquerade
		}
	}
	EOF
}

# ---- basic topology
e2e_check "basic topology builds" e2e_topo_basic
for r in inet router sw lanc lans; do
	e2e_check "namespace $(e2e_ns "$r") exists" test -e "/run/netns/$(e2e_ns "$r")"
done
e2e_check "lanc reaches the router's LAN address" e2e_in lanc ping -c1 -W2 192.168.0.1
e2e_check "lanc reaches lans over the LAN switch" e2e_in lanc ping -c1 -W2 192.168.0.254
e2e_check_not "without NAT lanc gets no reply from the Internet (no route back)" \
	e2e_in lanc ping -c1 -W1 198.51.100.2
e2e_check "nft masquerade in the router namespace" masq router wan0
e2e_check "host nftables untouched (no xn_selftest table outside)" \
	bash -c '! nft list tables 2>/dev/null | grep -q xn_selftest'
e2e_check "with masquerade lanc pings the inet host" e2e_in lanc ping -c2 -i0.2 -W2 198.51.100.2
e2e_check "lanc pings the remote server address behind inet" e2e_in lanc ping -c1 -W2 203.0.113.10

mkdir -p "$E2E_TMP/www"
head -c 200000 /dev/urandom >"$E2E_TMP/www/blob"
want=$(sha256sum <"$E2E_TMP/www/blob")
e2e_http_server inet 203.0.113.10 8080 "$E2E_TMP/www"
e2e_capture_start inet eth0 "$E2E_TMP/wan.pcap"
got=$(e2e_in lanc curl -sS --max-time 10 http://203.0.113.10:8080/blob | sha256sum)
e2e_capture_stop "$E2E_TMP/wan.pcap"
if [ "$got" = "$want" ]; then e2e_ok "HTTP download through the NAT, payload hash matches"
else e2e_fail "HTTP download through the NAT, payload hash matches" "got $got" "want $want"; fi
e2e_check "HTTP server saw the router's WAN address 198.51.100.1" \
	grep -q '^198\.51\.100\.1 .*GET /blob' "$E2E_HTTP_LOG"
e2e_check_not "HTTP server saw no private address" grep -q '^192\.168\.' "$E2E_HTTP_LOG"
n=$(e2e_capture_count "$E2E_TMP/wan.pcap" tcp)
e2e_check "WAN capture has the TCP traffic ($n packets)" test "$n" -gt 10
n=$(e2e_capture_count "$E2E_TMP/wan.pcap" net 192.168.0.0/16)
e2e_check "WAN capture: no private address on the wire ($n packets)" test "$n" = 0

# ---- dual-WAN topology, in the same test: namespaces must not collide
e2e_kill "$E2E_HTTP_PID"
e2e_ns_del inet router sw lanc lans
e2e_check "e2e_ns_del removed the basic topology" bash -c "! ip netns list | grep -q '^xn-$$-'"
e2e_check "dual topology builds" e2e_topo_dual
e2e_check "router default route is ECMP over wan0 and wan1" \
	bash -c "ip -n $(e2e_ns router) route show default | grep -q 'nexthop via 198.51.100.2 dev wan0' &&
		 ip -n $(e2e_ns router) route show default | grep -q 'nexthop via 192.0.2.2 dev wan1'"
e2e_check "router reaches inet via isp1" e2e_in router ping -c1 -W2 -I 198.51.100.1 203.0.113.10
e2e_check "router reaches inet via isp2" e2e_in router ping -c1 -W2 -I 192.0.2.1 203.0.113.10
# Strict rp_filter at the ISP: wan1's address sent out of wan0 must be dropped.
e2e_in router ip route add 203.0.113.99/32 via 198.51.100.2 dev wan0
e2e_in inet ip addr add 203.0.113.99/32 dev lo
e2e_check_not "isp1 drops a packet with isp2's customer address (rp_filter)" \
	e2e_in router ping -c1 -W1 -I 192.0.2.1 203.0.113.99
e2e_in router ip route del 203.0.113.99/32
e2e_check "nft masquerade on both WANs" masq router wan0 wan1
e2e_http_server inet 203.0.113.10 8081 "$E2E_TMP/www"
ok=0
for _ in 1 2 3 4 5 6 7 8; do
	e2e_in lanc curl -sS --max-time 5 -o /dev/null "http://203.0.113.10:8081/blob" && ok=$((ok + 1))
done
e2e_check "8 HTTP requests over ECMP dual WAN all succeed ($ok)" test "$ok" = 8
e2e_check "server saw only WAN addresses" \
	bash -c "! grep -E '^[0-9.]+ ' '$E2E_HTTP_LOG' | grep -vE '^(198\.51\.100\.1|192\.0\.2\.1) '"

# ---- cleanup: a child run of this library leaves nothing behind
child=$(bash -c ". '$E2E_LIB_DIR/lib.sh'; e2e_topo_basic >/dev/null 2>&1; e2e_bg inet sleep 300; echo \$\$ \$E2E_BG_PID; kill -TERM \$\$")
cpid=${child% *} cbg=${child#* }
sleep 0.3
e2e_check "cleanup on SIGTERM deletes the child's namespaces" \
	bash -c "! ip netns list | grep -q '^xn-$cpid-'"
e2e_check "cleanup on SIGTERM kills the child's background processes" \
	bash -c "! kill -0 $cbg 2>/dev/null"
e2e_check "cleanup removes the child's run dir" test ! -e "/run/xn-$cpid"
e2e_finish
