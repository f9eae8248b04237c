#!/bin/bash
# test_dhcp.sh - a WAN whose address comes from DHCP, and changes.
#
#   lanc eth0 192.168.0.10 -- lan0 [router, xdpnat] wan0 (DHCP) -- eth0 isp
#                                                          198.51.100.1/24
# The ISP runs dnsmasq (DHCP only) handing out one address, first .50, then
# (restarted with another range, authoritative: it NAKs the old lease) .60,
# and a small HTTP server that logs the source address it sees. It has no
# route to 192.168.0.0/24: a leaked private source gets no answer.
# The router runs dhclient with this test's own script (addresses and the
# default route only: never the host's resolv.conf or other files), which
# does what Debian's dhclient-script does on a new lease: flush the old
# address, add the new one.
#
# Checks: xdpnat starts on a WAN without address; the DHCP address reaches
# `xdpnat status` and masquerade; after the ISP renumbers, within a second
# status shows the new address, flows of the old one are gone, and a fresh
# connection leaves with the new address; the same lease again changes
# nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ddns_lib.sh"
e2e_require_root
e2e_require ip dnsmasq dhclient curl python3 ethtool jq
[ -x "$E2E_XDPNAT" ] || e2e_skip_all "no $E2E_XDPNAT (run make first)"

ISP=198.51.100.1
ADDR1=198.51.100.50
ADDR2=198.51.100.60
DNSMASQ_PID="" DHCLIENT_PID=""

topology() {
	e2e_ns_add isp router lanc || return 1
	e2e_sysctl router net.ipv4.ip_forward=1
	e2e_veth router wan0 isp eth0 || return 1
	e2e_veth router lan0 lanc eth0 || return 1
	e2e_addr isp eth0 "$ISP/24"
	e2e_addr router lan0 192.168.0.1/24
	e2e_addr lanc eth0 192.168.0.10/24
	ip -n "$(e2e_ns lanc)" route add default via 192.168.0.1
	e2e_host_if isp eth0
	e2e_host_if lanc eth0
	e2e_router_peer_if isp eth0
	e2e_router_peer_if lanc eth0
}

dnsmasq_start() {	# ADDRESS: the only one it hands out
	rm -f "$E2E_TMP/dnsmasq.leases"
	e2e_bg isp dnsmasq --no-daemon --port=0 --conf-file=/dev/null --interface=eth0 \
		--bind-interfaces --dhcp-authoritative --dhcp-range="$1,$1,255.255.255.0,1h" \
		--dhcp-option="3,$ISP" --dhcp-leasefile="$E2E_TMP/dnsmasq.leases" \
		--pid-file="$E2E_TMP/dnsmasq.pid" --log-dhcp
	DNSMASQ_PID=$E2E_BG_PID DNSMASQ_LOG=$E2E_BG_LOG
	e2e_wait_for -t 5 grep -q "DHCP, IP range" "$DNSMASQ_LOG"
}

dhclient_start() {
	e2e_bg router dhclient -d -v -cf "$E2E_TMP/dhclient.conf" -sf "$E2E_TMP/dhclient-script" \
		-lf "$E2E_TMP/dhclient.leases" -pf "$E2E_TMP/dhclient.pid" wan0
	DHCLIENT_PID=$E2E_BG_PID DHCLIENT_LOG=$E2E_BG_LOG
}

wan_has() {	# ADDRESS: wan0 has it, and only it
	local a
	a=$(ip -n "$(e2e_ns router)" -4 -o addr show dev wan0 | awk '{ sub("/.*", "", $4); print $4 }')
	[ "$a" = "$1" ]
}

status_shows() {	# PATTERN: `xdpnat status` prints a wan0 line matching it
	e2e_xdpnat status 2>/dev/null | grep -E "^ *wan0 .*$1"
}

# The source address the ISP's server saw for a new connection from lanc.
fetch_source() {
	local n
	n=$(wc -l <"$E2E_HTTP_LOG")
	e2e_in lanc curl -sS -m 3 -o /dev/null "http://$ISP:8080/" || return 1
	sleep 0.1
	tail -n +"$((n + 1))" "$E2E_HTTP_LOG" | grep 'GET /' | awk '{ print $1 }' | tail -1
}

source_is() {	# ADDRESS
	local s
	s=$(fetch_source) || return 1
	echo "server saw: $s"
	[ "$s" = "$1" ]
}

no_flow_with() {	# ADDRESS: no flow in `xdpnat flows` mentions it
	local out
	out=$(e2e_xdpnat flows 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	! grep -qF "$1:" <<<"$out" && ! grep -qE "(^|[^0-9.])${1//./\\.}([^0-9]|$)" <<<"$out"
}

flow_with() { ! no_flow_with "$1"; }

addr_changes() {	# nat_ctl_stats.ct_addr_change
	e2e_xdpnat stats 2>/dev/null | awk '/ct_addr_change/ { print $NF; exit }'
}

dump_logs() {
	local f
	for f in "$E2E_XDPNAT_LOG" "$DHCLIENT_LOG" "$DNSMASQ_LOG"; do
		[ -f "${f:-}" ] || continue
		echo "# --- $f"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
}

# ---------------------------------------------------------------- setup
e2e_check "topology: isp, router, lanc" topology || e2e_finish
e2e_dhclient_files
mkdir -p "$E2E_TMP/www" && echo hello >"$E2E_TMP/www/index.html"
e2e_http_server isp $ISP 8080 "$E2E_TMP/www"
# The DDNS name follows the WAN (the seed's FTP server's passive address):
# a test HTTPS server of the dyndns2 protocol on the router's loopback.
e2e_check "DDNS test server starts" ddns_server_start router "$E2E_TMP/ddns" || e2e_finish
cat >"$E2E_TMP/router.conf" <<EOF
wan wan0
lan lan0
outbound wan0
state-dir $E2E_TMP/state
flow-log $E2E_TMP/flows.log
ddns wan0 dyndns2 ftp.example.net server $DDNS_URL ca-file $E2E_TMP/ddns/ca.crt user alice password-file $E2E_TMP/ddns/pass
EOF
ddns_seen() { [ "$(ddns_requests ftp.example.net | tr '\n' ' ')" = "$1" ]; }
e2e_check "dnsmasq serves $ADDR1" dnsmasq_start $ADDR1 || e2e_finish

# ---------------------------------------------------------------- first lease
e2e_check "xdpnat starts with the WAN still without address" \
	e2e_xdpnat_start router "$E2E_TMP/router.conf" || { dump_logs; e2e_finish; }
e2e_check "status: wan0 has no address, passes traffic untouched" status_shows "none"
dhclient_start
e2e_check "dhclient gets $ADDR1 on wan0" e2e_wait_for -t 20 wan_has $ADDR1
e2e_check "within 1 s status shows $ADDR1" e2e_wait_for -t 1 status_shows "$ADDR1"
e2e_check "status shows the gateway from DHCP" e2e_wait_for -t 1 status_shows "via $ISP"
e2e_check "masquerade uses the DHCP address ($ADDR1)" source_is $ADDR1
e2e_check "DDNS: one update, with $ADDR1" e2e_wait_for -t 5 ddns_seen "$ADDR1 "
e2e_in lanc ping -c1 -W1 -q $ISP >/dev/null 2>&1	# one more flow, ICMP
e2e_check "flows are bound to $ADDR1" flow_with $ADDR1
before=$(addr_changes)

# ---------------------------------------------------------------- renumbering
e2e_kill "$DHCLIENT_PID"			# exits without releasing the lease
e2e_kill "$DNSMASQ_PID"
e2e_check "dnsmasq restarted, serving only $ADDR2" dnsmasq_start $ADDR2
dhclient_start					# asks for $ADDR1 again: NAK, then $ADDR2
e2e_check "dhclient gets $ADDR2 on wan0 (old lease refused)" e2e_wait_for -t 30 wan_has $ADDR2
e2e_check "within 1 s status shows $ADDR2" e2e_wait_for -t 1 status_shows "$ADDR2"
e2e_check "flows of $ADDR1 are gone" no_flow_with $ADDR1
after=$(addr_changes)
e2e_check "ct_addr_change counted the removed flows ($before -> $after)" \
	test "${after:-0}" -gt "${before:-0}"
# the NAT log: each removed flow ends with reason addr-change, as many as
# were counted, every one on the old address
addr_change_ends() {
	local n
	n=$(jq -c --arg a "$ADDR1:" 'select(.event == "end" and .reason == "addr-change" and
		(.outside | startswith($a)))' "$E2E_TMP/flows.log" | grep -c .)
	[ "$n" -ge 1 ] && [ "$n" = "$((after - before))" ] &&
		[ "$(jq -c 'select(.reason == "addr-change")' "$E2E_TMP/flows.log" | grep -c .)" = "$n" ]
}
e2e_check "flow-log: the removed flows end with reason addr-change ($((after - before)))" \
	e2e_wait_for -t 3 addr_change_ends
e2e_check "a fresh connection leaves with $ADDR2" source_is $ADDR2
e2e_check "DDNS: exactly one more update, with $ADDR2" e2e_wait_for -t 5 ddns_seen "$ADDR1 $ADDR2 "
# One line "address A1 -> A2" when the flush and the add were read together,
# else "no address (was A1...)" then "address none -> A2".
e2e_check "daemon logged the change" grep -qE \
	"wan wan0: (address ${ADDR1//./\\.} -> |no address: .*was ${ADDR1//./\\.})" \
	"$E2E_XDPNAT_LOG"
e2e_check "daemon logged the new address" grep -qF -- "-> $ADDR2, " "$E2E_XDPNAT_LOG"

# ---------------------------------------------------------------- same lease
# A new dhclient asks for $ADDR2 again and gets it: the script re-adds the
# same address and route (the kernel re-announces both). Nothing changes.
e2e_in lanc ping -c1 -W1 -q $ISP >/dev/null 2>&1
nlog=$(grep -c "^wan wan0:" "$E2E_XDPNAT_LOG")
e2e_kill "$DHCLIENT_PID"
dhclient_start
e2e_check "dhclient gets the same lease again" \
	e2e_wait_for -t 20 grep -q "bound to $ADDR2" "$DHCLIENT_LOG"
sleep 0.3
e2e_check "same lease: nothing logged, nothing changed" \
	test "$(grep -c "^wan wan0:" "$E2E_XDPNAT_LOG")" = "$nlog"
e2e_check "same lease: flows of $ADDR2 kept" flow_with $ADDR2
e2e_check "same lease: no DDNS update" ddns_seen "$ADDR1 $ADDR2 "
e2e_check "xdpnat stops cleanly" e2e_xdpnat_stop

[ "$E2E_NFAIL" = 0 ] || dump_logs
e2e_finish
