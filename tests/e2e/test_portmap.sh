#!/bin/bash
# PCP (RFC 6887) and NAT-PMP (RFC 6886): LAN hosts ask the router for a
# forward themselves (`port-mapping lan0 ...`).
#  A. NAT-PMP with Debian's natpmpc from a LAN host: the public address is the
#     WAN's; a TCP mapping that an Internet host then reaches (HTTP), shown by
#     `xdpnat status` and, with its flow, by `xdpnat flows` as kind "pcp".
#  B. PCP (tests/e2e/pcp_client.py): a MAP for UDP answered SUCCESS with the
#     nonce echoed, the WAN address, a port of the range, the lifetime asked
#     for and an epoch; UDP from the Internet then reaches the LAN host. A
#     PEER for a flow the host has answers with that flow's outside endpoint.
#  C. refusals: a PCP or NAT-PMP request from the WAN side (to the WAN or the
#     LAN address) gets no answer; the per-host
#     limit (max-per-host 3) gets USER_EX_QUOTA from PCP and "out of
#     resources" from NAT-PMP; THIRD_PARTY is NOT_AUTHORIZED; another nonce
#     for the same mapping is NOT_AUTHORIZED; a truncated MAP is
#     MALFORMED_REQUEST; a request flood is rate limited (counted).
#  D. restart (SIGTERM + run): the mappings survive, still reachable, and the
#     epoch goes on (not reset); SIGKILL + run keeps them too.
#  E. reload with a static forward on the UDP mapping's port: the static
#     forward wins, the mapping is gone.
#  F. the WAN address changes: a LAN listener on 224.0.0.1:5350 hears the
#     NAT-PMP announcement of the new address and a PCP ANNOUNCE; the TCP
#     mapping is reached on the new address.
#  J. wan0 deleted and made again (a new ifindex, as pppd's ppp0): the TCP
#     mapping follows the new device.
#  G. natpmpc deletes the TCP mapping (lifetime 0): the Internet host no
#     longer reaches it.
#  H. expiry: with max-lifetime 2 (a reload), a mapping is reachable, then
#     gone within a second of its end.
#  I. `protocols pcp` (a reload): NAT-PMP gets UNSUPP_VERSION, PCP answers.
#  K. a port held by an RFC 4787 mapping (nat_eim_ports): lans sends UDP
#     from port K of the range, which its mapping keeps outside (port
#     preservation); lanc asking PCP for outside K gets another port, lans
#     asking for its own K gets K (its mapping's, not the port it
#     suggests), and the Internet reaches lans there.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require natpmpc curl python3 jq

PCP=$E2E_LIB_DIR/pcp_client.py
UDP=$E2E_LIB_DIR/udp_tool.py
STATE=$E2E_TMP/state

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
lan lan0
outbound wan0
forward tcp wan0 8080 to 192.168.0.254:80
port-mapping lan0 ports 20000-20100 max-per-host 3 max-lifetime 3600
state-dir $STATE
EOF2

WWW=$E2E_TMP/www; mkdir -p "$WWW"; echo "hello from lanc" > "$WWW/index.html"
e2e_http_server lanc 192.168.0.10 8000 "$WWW"
e2e_bg lanc python3 -u "$UDP" echo 192.168.0.10 9000

e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with port-mapping lan0"; e2e_finish; }
e2e_ok "xdpnat starts with port-mapping lan0"

# ---------------------------------------------------------------- A. NAT-PMP
out=$(e2e_in lanc natpmpc -g 192.168.0.1 2>&1)
echo "$out" | grep -q "Public IP address : 198.51.100.1" \
	&& e2e_ok "natpmpc: the public address is the WAN's (198.51.100.1)" \
	|| e2e_fail "natpmpc: the public address is the WAN's" "$out"

out=$(e2e_in lanc natpmpc -g 192.168.0.1 -a 20010 8000 tcp 600 2>&1)
TPORT=$(echo "$out" | sed -n 's/.*Mapped public port \([0-9]*\) protocol TCP to local port 8000.*/\1/p')
[ "$TPORT" = 20010 ] && e2e_ok "natpmpc maps public port 20010/tcp to 192.168.0.10:8000" \
	|| e2e_fail "natpmpc maps public port 20010/tcp to 192.168.0.10:8000" "$out"
TPORT=${TPORT:-20010}

got=$(e2e_in inet curl -s -m 5 "http://198.51.100.1:$TPORT/")
[ "$got" = "hello from lanc" ] && e2e_ok "an Internet host reaches the LAN server through the NAT-PMP mapping" \
	|| e2e_fail "an Internet host reaches the LAN server through the NAT-PMP mapping" "got '$got'"

# (the daemon saves what status reads once a second)
e2e_wait_for -t 3 bash -c "'$E2E_XDPNAT' status -c '$E2E_XDPNAT_CONF' | grep -q natpmp" 2>/dev/null
out=$(e2e_xdpnat status 2>&1)
echo "$out" | grep -Eq "tcp 192\.168\.0\.10:8000 -> 198\.51\.100\.1:$TPORT .*natpmp" \
	&& e2e_ok "xdpnat status lists the mapping (natpmp)" \
	|| e2e_fail "xdpnat status lists the mapping (natpmp)" "$out"
out=$(e2e_xdpnat flows 2>&1)
echo "$out" | grep -Eq "^tcp +pcp +192\.168\.0\.10:8000 +198\.51\.100\.1:$TPORT" \
	&& e2e_ok "xdpnat flows shows the Internet host's connection as kind pcp" \
	|| e2e_fail "xdpnat flows shows the connection as kind pcp" "$out"

# ---------------------------------------------------------------- B. PCP MAP
NONCE=0123456789abcdef01234567
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --lifetime 300 --nonce $NONCE)
e2e_log "PCP MAP answer: $out"
if echo "$out" | jq -e --arg n $NONCE '.version == 2 and .r == 1 and .opcode == 1 and .result == 0
	and .nonce == $n and .protocol == 17 and .internal_port == 9000 and .lifetime == 300
	and .ext_addr == "198.51.100.1" and .ext_port >= 20000 and .ext_port <= 20100' >/dev/null; then
	e2e_ok "PCP MAP udp 9000: SUCCESS, nonce echoed, WAN address, port in range, lifetime 300"
else
	e2e_fail "PCP MAP udp 9000 answered SUCCESS with the right fields" "$out"
fi
UPORT=$(echo "$out" | jq -r '.ext_port // 0')
EPOCH1=$(echo "$out" | jq -r '.epoch // 0')

e2e_check "UDP from the Internet reaches the LAN host through the PCP mapping" \
	e2e_in inet python3 "$UDP" send 198.51.100.1 "$UPORT" 100

out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --lifetime 300 --nonce $NONCE)
[ "$(echo "$out" | jq -r .ext_port)" = "$UPORT" ] && [ "$(echo "$out" | jq -r .result)" = 0 ] \
	&& e2e_ok "a PCP refresh with the same nonce keeps the outside port" \
	|| e2e_fail "a PCP refresh with the same nonce keeps the outside port" "$out"

# PEER: the outside address and port of a flow the host already has
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7000
ECHO_LOG=$E2E_BG_LOG
e2e_wait_for -t 3 e2e_in inet bash -c "ss -lun | grep -q ':7000 '"
e2e_in lanc python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.0.10", 9500))
s.settimeout(2)
s.sendto(b"hello", ("203.0.113.10", 7000))
s.recv(100)
'
e2e_wait_for -t 3 test -s "$ECHO_LOG"
seen=$(awk '{ print $1 ":" $2; exit }' "$ECHO_LOG")
out=$(e2e_in lanc python3 "$PCP" peer 192.168.0.1 udp 9500 203.0.113.10 7000 --lifetime 30)
[ "$(echo "$out" | jq -r '"\(.ext_addr):\(.ext_port)"')" = "$seen" ] && [ "$(echo "$out" | jq -r .result)" = 0 ] \
	&& e2e_ok "PCP PEER for a UDP flow: SUCCESS with the outside endpoint the peer sees ($seen)" \
	|| e2e_fail "PCP PEER for a UDP flow answers with its outside endpoint ($seen)" "$out"
out=$(e2e_in lanc python3 "$PCP" peer 192.168.0.1 udp 9501 203.0.113.10 7000)
[ "$(echo "$out" | jq -r .result)" = 8 ] \
	&& e2e_ok "PCP PEER for a flow that does not exist: NO_RESOURCES" \
	|| e2e_fail "PCP PEER for a flow that does not exist: NO_RESOURCES" "$out"

# ---------------------------------------------------------------- C. refusals
out=$(e2e_in inet python3 "$PCP" map 198.51.100.1 udp 9100 --client-addr 198.51.100.2 --timeout 1)
[ "$(echo "$out" | jq -c .answer)" = null ] \
	&& e2e_ok "a PCP request from the WAN side gets no answer" \
	|| e2e_fail "a PCP request from the WAN side gets no answer" "$out"

# ... nor one sent from the WAN side to the router's LAN address
e2e_in inet ip route add 192.168.0.1/32 via 198.51.100.1
out=$(e2e_in inet python3 "$PCP" map 192.168.0.1 udp 9100 --client-addr 198.51.100.2 --timeout 1)
[ "$(echo "$out" | jq -c .answer)" = null ] \
	&& e2e_ok "a PCP request from the WAN side to the LAN address gets no answer" \
	|| e2e_fail "a PCP request from the WAN side to the LAN address gets no answer" "$out"
out=$(e2e_in inet timeout 5 natpmpc -g 192.168.0.1 2>&1)
echo "$out" | grep -q "Public IP address" \
	&& e2e_fail "a NAT-PMP request from the WAN side gets no answer" "$out" \
	|| e2e_ok "a NAT-PMP request from the WAN side gets no answer"
e2e_in inet ip route del 192.168.0.1/32 via 198.51.100.1

# ... nor one to the LAN's broadcast address (not one of the router's)
out=$(e2e_in lanc python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.settimeout(1)
s.sendto(b"\0\0", ("192.168.0.255", 5351))
try:
    print("answer", s.recvfrom(100))
except socket.timeout:
    print("none")
')
[ "$out" = none ] && e2e_ok "a NAT-PMP request to the LAN broadcast address gets no answer" \
	|| e2e_fail "a NAT-PMP request to the LAN broadcast address gets no answer" "$out"

out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9001 --lifetime 300)
[ "$(echo "$out" | jq -r .result)" = 0 ] && e2e_ok "third mapping of the host: SUCCESS" \
	|| e2e_fail "third mapping of the host: SUCCESS" "$out"
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9002 --lifetime 300)
[ "$(echo "$out" | jq -r .result)" = 10 ] \
	&& e2e_ok "fourth mapping over max-per-host 3: PCP USER_EX_QUOTA" \
	|| e2e_fail "fourth mapping over max-per-host 3: PCP USER_EX_QUOTA" "$out"
out=$(e2e_in lanc natpmpc -g 192.168.0.1 -a 20050 9003 udp 600 2>&1)
echo "$out" | grep -qi "out of resources\|resultcode=4\|NATPMP_ERR_OUTOFRESOURCES" \
	&& e2e_ok "fourth mapping over max-per-host 3: NAT-PMP out of resources" \
	|| e2e_fail "fourth mapping over max-per-host 3: NAT-PMP out of resources" "$out"
out=$(e2e_in lans python3 "$PCP" map 192.168.0.1 udp 9002 --lifetime 300)
[ "$(echo "$out" | jq -r .result)" = 0 ] \
	&& e2e_ok "another LAN host still gets a mapping (the limit is per host)" \
	|| e2e_fail "another LAN host still gets a mapping" "$out"

out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9005 --third-party 192.168.0.254)
[ "$(echo "$out" | jq -r .result)" = 2 ] \
	&& e2e_ok "PCP MAP with THIRD_PARTY: NOT_AUTHORIZED" \
	|| e2e_fail "PCP MAP with THIRD_PARTY: NOT_AUTHORIZED" "$out"
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --nonce ffffffffffffffffffffffff)
[ "$(echo "$out" | jq -r .result)" = 2 ] \
	&& e2e_ok "PCP MAP of the same mapping with another nonce: NOT_AUTHORIZED" \
	|| e2e_fail "PCP MAP with another nonce: NOT_AUTHORIZED" "$out"
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --client-addr 192.168.0.99)
[ "$(echo "$out" | jq -r .result)" = 12 ] \
	&& e2e_ok "PCP MAP naming another client address: ADDRESS_MISMATCH" \
	|| e2e_fail "PCP MAP naming another client address: ADDRESS_MISMATCH" "$out"
# a MAP header with 8 of its 36 bytes of opcode data
out=$(e2e_in lanc python3 "$PCP" raw 192.168.0.1 \
	"0201000000000258""00000000000000000000ffffc0a8000a""0011223344556677")
[ "$(echo "$out" | jq -r .result)" = 3 ] && [ "$(echo "$out" | jq -r .r)" = 1 ] \
	&& e2e_ok "a truncated PCP MAP: MALFORMED_REQUEST" \
	|| e2e_fail "a truncated PCP MAP: MALFORMED_REQUEST" "$out"
out=$(e2e_in lanc python3 "$PCP" raw 192.168.0.1 "0101000000000000")
[ "$(echo "$out" | jq -r .result)" = 1 ] && [ "$(echo "$out" | jq -r .version)" = 2 ] \
	&& e2e_ok "PCP version 1: UNSUPP_VERSION naming version 2" \
	|| e2e_fail "PCP version 1: UNSUPP_VERSION naming version 2" "$out"

# a flood from lans: 300 requests at once, most dropped by the rate limit
e2e_in lans python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"\0\0", ("192.168.0.1", 5351))
'
sleep 2
rl=$(jq -r .counters.dropped_rate "$STATE/portmap.json" 2>/dev/null)
[ "${rl:-0}" -ge 150 ] && e2e_ok "a flood of 300 requests from one host: $rl dropped by the rate limit" \
	|| e2e_fail "a flood from one host is rate limited" "dropped_rate=$rl"
got=$(e2e_in lanc natpmpc -g 192.168.0.1 2>&1)
echo "$got" | grep -q "Public IP address : 198.51.100.1" \
	&& e2e_ok "another host is still answered during the flood's aftermath" \
	|| e2e_fail "another host is still answered" "$got"

# ---------------------------------------------------------------- D. restart
e2e_xdpnat_stop || e2e_fail "daemon stops cleanly"
sleep 1
e2e_xdpnat_start router "$CONF" || { e2e_fail "daemon starts again"; e2e_finish; }
got=$(e2e_in inet curl -s -m 5 "http://198.51.100.1:$TPORT/")
[ "$got" = "hello from lanc" ] && e2e_ok "after a restart the NAT-PMP mapping is still reachable" \
	|| e2e_fail "after a restart the NAT-PMP mapping is still reachable" "got '$got'"
e2e_check "after a restart the PCP UDP mapping is still reachable" \
	e2e_in inet python3 "$UDP" send 198.51.100.1 "$UPORT" 100
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --lifetime 300 --nonce $NONCE)
EPOCH2=$(echo "$out" | jq -r '.epoch // 0')
[ "$(echo "$out" | jq -r .ext_port)" = "$UPORT" ] && [ "$EPOCH2" -ge "$((EPOCH1 + 1))" ] \
	&& e2e_ok "after a restart the PCP mapping keeps its port and the epoch goes on ($EPOCH1 -> $EPOCH2)" \
	|| e2e_fail "after a restart the mapping keeps its port and the epoch goes on" "epoch $EPOCH1 -> $out"

# a crash (SIGKILL) keeps them too: the table was saved within a second
sleep 1.5
e2e_xdpnat_kill
e2e_xdpnat_start router "$CONF" || { e2e_fail "daemon starts after SIGKILL"; e2e_finish; }
got=$(e2e_in inet curl -s -m 5 "http://198.51.100.1:$TPORT/")
[ "$got" = "hello from lanc" ] && e2e_ok "after SIGKILL and a new run the NAT-PMP mapping is still reachable" \
	|| e2e_fail "after SIGKILL and a new run the NAT-PMP mapping is still reachable" "got '$got'"

# ---------------------------------------------------------------- E. reload
echo "forward udp wan0 $UPORT to 192.168.0.254:9" >> "$CONF"
conf=$(e2e_xdpnat_conf "$CONF")
kill -HUP "$E2E_XDPNAT_PID"
e2e_wait_for -t 5 grep -q "reload: applied" "$E2E_XDPNAT_LOG"
sleep 1.5
out=$(e2e_xdpnat status 2>&1)
if ! echo "$out" | grep -Eq "udp 192\.168\.0\.10:9000 -> "; then
	e2e_ok "reload: a static forward on the PCP mapping's port wins, the mapping is gone"
else
	e2e_fail "reload: a static forward on the PCP mapping's port wins" "$out"
fi
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --lifetime 300 --nonce $NONCE --ext-port "$UPORT")
[ "$(echo "$out" | jq -r .result)" = 0 ] && [ "$(echo "$out" | jq -r .ext_port)" != "$UPORT" ] \
	&& e2e_ok "a new PCP MAP asking for that port gets another one" \
	|| e2e_fail "a new PCP MAP asking for the static forward's port gets another one" "$out"

# ---------------------------------------------------------------- F. WAN address change
ANN=$E2E_TMP/announce.json
e2e_bg lanc python3 -u "$PCP" listen 8
ANN_LOG=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q ready "$ANN_LOG"
# (deleting the primary address first: a secondary would go with it)
e2e_in router ip addr del 198.51.100.1/24 dev wan0
e2e_in router ip addr add 198.51.100.3/24 dev wan0
e2e_in router ip route replace default via 198.51.100.2 dev wan0
e2e_wait_for -t 8 grep -q '"addr": "198.51.100.3"' "$ANN_LOG" \
	&& e2e_ok "WAN address change: NAT-PMP announces 198.51.100.3 to 224.0.0.1:5350" \
	|| e2e_fail "WAN address change: NAT-PMP announcement" "$(cat "$ANN_LOG")"
grep -q '"opcode": 0, "result": 0' "$ANN_LOG" \
	&& e2e_ok "WAN address change: a PCP ANNOUNCE goes to 224.0.0.1:5350" \
	|| e2e_fail "WAN address change: PCP ANNOUNCE" "$(cat "$ANN_LOG")"
cp "$ANN_LOG" "$ANN"
got=$(e2e_in inet curl -s -m 5 "http://198.51.100.3:$TPORT/")
[ "$got" = "hello from lanc" ] && e2e_ok "the NAT-PMP mapping follows the new WAN address" \
	|| e2e_fail "the NAT-PMP mapping follows the new WAN address" "got '$got'"

# ---------------------------------------------------------------- J. WAN device made anew
# (pppd's ppp0 is deleted and made again: a new ifindex, same name)
old_if=$(e2e_in router cat /sys/class/net/wan0/ifindex)
ip -n "$(e2e_ns router)" link del wan0
e2e_wait_for -t 5 grep -q "wan0 (ifindex $old_if) is gone" "$E2E_XDPNAT_LOG"
e2e_veth router wan0 inet eth0
e2e_addr router wan0 198.51.100.3/24
e2e_addr inet eth0 198.51.100.2/24
e2e_host_if inet eth0
e2e_router_peer_if inet eth0
ip -n "$(e2e_ns router)" route replace default via 198.51.100.2 dev wan0
new_if=$(e2e_in router cat /sys/class/net/wan0/ifindex)
e2e_wait_for -t 5 grep -q "wan0 (ifindex $new_if) added as wan" "$E2E_XDPNAT_LOG"
e2e_wait_for -t 5 bash -c "'$E2E_XDPNAT' status -c '$E2E_XDPNAT_CONF' | grep -q '198.51.100.3 via'" 2>/dev/null
got=$(e2e_in inet curl -s -m 5 "http://198.51.100.3:$TPORT/")
[ "$got" = "hello from lanc" ] \
	&& e2e_ok "wan0 deleted and made again (ifindex $old_if -> $new_if): the mapping follows it" \
	|| e2e_fail "wan0 made again: the mapping follows it" "got '$got'; $(tail -5 "$E2E_XDPNAT_LOG")"

# ---------------------------------------------------------------- G. delete
out=$(e2e_in lanc natpmpc -g 192.168.0.1 -a "$TPORT" 8000 tcp 0 2>&1)
e2e_log "natpmpc delete: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
got=$(e2e_in inet curl -s -m 3 "http://198.51.100.3:$TPORT/")
[ -z "$got" ] && e2e_ok "natpmpc lifetime 0 deletes the mapping: the Internet host no longer reaches it" \
	|| e2e_fail "natpmpc lifetime 0 deletes the mapping" "got '$got'"
sleep 1.5
out=$(e2e_xdpnat status 2>&1)
echo "$out" | grep -Eq "tcp 192\.168\.0\.10:8000 -> " \
	&& e2e_fail "the deleted mapping is gone from xdpnat status" "$out" \
	|| e2e_ok "the deleted mapping is gone from xdpnat status"

# ---------------------------------------------------------------- H. expiry
sed -i 's/max-lifetime 3600/max-lifetime 2/' "$CONF"
conf=$(e2e_xdpnat_conf "$CONF")
n=$(grep -c "reload: applied" "$E2E_XDPNAT_LOG")
kill -HUP "$E2E_XDPNAT_PID"
e2e_wait_for -t 5 bash -c "[ \$(grep -c 'reload: applied' '$E2E_XDPNAT_LOG') -gt $n ]"
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp 9000 --lifetime 600 --nonce $NONCE)
XPORT=$(echo "$out" | jq -r '.ext_port // 0')
[ "$(echo "$out" | jq -r .lifetime)" = 2 ] && e2e_ok "max-lifetime 2: a request for 600 s gets 2 s" \
	|| e2e_fail "max-lifetime 2: a request for 600 s gets 2 s" "$out"
e2e_check "before it expires the mapping is reachable" \
	e2e_in inet python3 "$UDP" send 198.51.100.3 "$XPORT" 100
sleep 3.5
e2e_check_not "after its lifetime the mapping is gone: UDP from the Internet no longer gets through" \
	e2e_in inet python3 "$UDP" send 198.51.100.3 "$XPORT" 100
grep -q "port-mapping: udp 192.168.0.10:9000 -> port $XPORT removed" "$E2E_XDPNAT_LOG" \
	&& e2e_ok "the daemon logs the expiry" || e2e_fail "the daemon logs the expiry" "$(tail -5 "$E2E_XDPNAT_LOG")"

# ---------------------------------------------------------------- I. protocols pcp
sed -i 's/^port-mapping lan0 /port-mapping lan0 protocols pcp /' "$CONF"
conf=$(e2e_xdpnat_conf "$CONF")
n=$(grep -c "reload: applied" "$E2E_XDPNAT_LOG")
kill -HUP "$E2E_XDPNAT_PID"
e2e_wait_for -t 5 bash -c "[ \$(grep -c 'reload: applied' '$E2E_XDPNAT_LOG') -gt $n ]"
sleep 0.5
out=$(e2e_in lanc python3 "$PCP" raw 192.168.0.1 0000)
[ "$(echo "$out" | jq -r '"\(.version) \(.result)"')" = "2 1" ] \
	&& e2e_ok "protocols pcp: a NAT-PMP request gets UNSUPP_VERSION naming version 2" \
	|| e2e_fail "protocols pcp: a NAT-PMP request gets UNSUPP_VERSION" "$out"
out=$(e2e_in lanc python3 "$PCP" announce 192.168.0.1)
[ "$(echo "$out" | jq -r .result)" = 0 ] && e2e_ok "protocols pcp: PCP is still served" \
	|| e2e_fail "protocols pcp: PCP is still served" "$out"

# ---------------------------------------------------------------- K. RFC 4787 mappings
# a port of the range no PCP/NAT-PMP mapping holds (the table as saved),
# so that lans's mapping keeps it (a forwarded port is never a mapping's)
sleep 1.1
K=$(jq -r '[.mappings[].outside_port] as $u | [range(20050; 20100) | select(. as $p | $u | index($p) | not)][0]' \
	"$STATE/portmap.json")
e2e_in lans python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('192.168.0.254', $K))
s.settimeout(2)
s.sendto(b'hello', ('203.0.113.10', 7000))
s.recv(100)
"
owner=$(e2e_xdpnat mappings --json 2>/dev/null | jq -r --arg k ":$K" '.mappings[] |
	select(.proto == "udp" and (.outside | endswith($k))) | .inside')
[ "$owner" = "192.168.0.254:$K" ] && e2e_ok "lans's UDP from port $K keeps outside port $K (xdpnat mappings)" \
	|| e2e_fail "lans's mapping holds outside port $K" "$(e2e_xdpnat mappings 2>&1)"
out=$(e2e_in lanc python3 "$PCP" map 192.168.0.1 udp "$K" --ext-port "$K" --lifetime 60 --nonce $NONCE)
p=$(echo "$out" | jq -r '.ext_port // 0')
[ "$(echo "$out" | jq -r .result)" = 0 ] && [ "$p" != "$K" ] && [ "$p" -ge 20000 ] && [ "$p" -le 20100 ] \
	&& e2e_ok "PCP MAP of lanc asking for outside $K, held by lans's mapping: another port ($p)" \
	|| e2e_fail "PCP MAP asking for a port held by another host's mapping gets another port" "$out"
# (max-lifetime is 2 s since H: the listener first, then the mapping)
e2e_bg lans python3 -u "$UDP" echo 192.168.0.254 "$K"
e2e_wait_for -t 3 e2e_in lans bash -c "ss -lun | grep -q ':$K '"
out=$(e2e_in lans python3 "$PCP" map 192.168.0.1 udp "$K" --ext-port $((K + 1)) --lifetime 60 \
	--nonce 00112233445566778899aabb)
[ "$(echo "$out" | jq -r '"\(.result) \(.ext_port)"')" = "0 $K" ] \
	&& e2e_ok "PCP MAP of lans for its own $K (suggesting $((K + 1))): its mapping's port $K" \
	|| e2e_fail "PCP MAP of the mapping's own endpoint gets the mapping's port" "$out"
e2e_check "the Internet reaches lans on outside port $K" \
	e2e_in inet python3 "$UDP" send "$(echo "$out" | jq -r .ext_addr)" "$K" 100

e2e_finish
