#!/bin/bash
# Dual-WAN failover (README "Dual-ISP offices"): the seed's two ISPs with an
# ECMP default route, both WANs tracked by probes to a server beyond the
# ISPs. ISP1 fails upstream (its namespace drops everything it would
# forward; the router's wan0 link stays up): new LAN flows must all leave
# by wan1, a download through a forward on wan1 must complete intact, and
# the office's DDNS name (bound to wan0, `failover wan1`) must move to
# wan1's address, the update itself going out by wan1. After recovery it
# all comes back. A WAN whose carrier goes down fails over at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ddns_lib.sh"
e2e_require_root
e2e_require curl python3 nft

e2e_topo_dual || { e2e_fail "topology"; e2e_finish; }
# The DDNS server is beyond both ISPs: an update must cross a live WAN.
ddns_server_start inet "$E2E_TMP/ddns" 203.0.113.10 || { e2e_fail "DDNS test server starts"; e2e_finish; }
DDNS_OPTS="server $DDNS_URL ca-file $E2E_TMP/ddns/ca.crt user alice password-file $E2E_TMP/ddns/pass"
R=$(e2e_ns router)
ROUTE0=$(ip -n "$R" -d route show default)
CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0 gateway 198.51.100.2 track 203.0.113.10 interval 1 down 3 up 3
wan wan1 gateway 192.0.2.2 track 203.0.113.10 interval 1 down 3 up 3
lan lan0
outbound wan0
outbound wan1
forward tcp wan0 8080 to 192.168.0.254:80
forward tcp wan1 8081 to 192.168.0.254:80
state-dir $E2E_TMP/state
ddns wan0 dyndns2 office.example.net $DDNS_OPTS failover wan1
metrics 127.0.0.1:9109
EOF2
e2e_check "xdpnat check accepts track and failover" e2e_in router "$E2E_XDPNAT" check -c "$CONF"
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts"; e2e_finish; }
e2e_ok "xdpnat starts with two tracked WANs"

fo_state() {	# WAN -> up|down from status.json
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failover"][sys.argv[2]]["state"])' \
		"$E2E_RUN_DIR/xdpnat/status.json" "$1" 2>/dev/null
}
fo_field() {	# WAN FIELD
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failover"][sys.argv[2]][sys.argv[3]])' \
		"$E2E_RUN_DIR/xdpnat/status.json" "$1" "$2" 2>/dev/null
}
is_state() { [ "$(fo_state "$1")" = "$2" ]; }
office() { ddns_requests office.example.net | tr '\n' ' '; }
office_is() { [ "$(office)" = "$1" ]; }
e2e_check "DDNS: the office name gets wan0's address" e2e_wait_for -t 10 office_is "198.51.100.1 "
e2e_check "both WANs answer their probes" e2e_wait_for -t 10 \
	bash -c "[ \"\$(python3 -c 'import json; d=json.load(open(\"$E2E_RUN_DIR/xdpnat/status.json\"))[\"failover\"]; print(d[\"wan0\"][\"probes\"][:1] + d[\"wan1\"][\"probes\"][:1])')\" = '++' ]"

WWW=$E2E_TMP/www; mkdir -p "$WWW"; echo hello > "$WWW/index.html"
head -c 3000000 /dev/urandom > "$WWW/big.bin"
want=$(sha256sum < "$WWW/big.bin" | cut -d' ' -f1)
e2e_http_server lans 192.168.0.254 80 "$WWW"
e2e_http_server inet 203.0.113.10 80 "$WWW"; INET_LOG=$E2E_HTTP_LOG

# Before: ECMP spreads new flows over both WANs (and leaves flows on wan0).
for i in $(seq 16); do e2e_in lanc curl -sf -m 3 -o /dev/null http://203.0.113.10/; done
n1=$(grep -c '^198\.51\.100\.1 ' "$INET_LOG")
[ "$n1" -gt 0 ] && e2e_ok "before the failure ECMP uses wan0 too ($n1 of 16)" \
	|| e2e_fail "ECMP uses wan0 before the failure" "$(cut -d' ' -f1 "$INET_LOG" | sort | uniq -c)"

# A slow download through the forward on wan1, across the failure.
e2e_bg inet bash -c "curl -s -m 60 --limit-rate 300k http://192.0.2.1:8081/big.bin | sha256sum"
DL_PID=$E2E_BG_PID DL_LOG=$E2E_BG_LOG
sleep 1

# ISP1 fails upstream: it forwards nothing any more; wan0's link stays up.
e2e_in isp1 nft -f - <<'EOF2'
table ip isp_outage {
	chain outage { type filter hook forward priority 0; policy drop; }
}
EOF2
T0=$SECONDS
e2e_check "wan0 is marked down within 15 s of the upstream failure" e2e_wait_for -t 15 is_state wan0 down
echo "# wan0 down after $((SECONDS - T0)) s"
ip -n "$R" link show wan0 | grep -q 'state UP' && e2e_ok "wan0's link is still up (an upstream failure)" \
	|| e2e_fail "wan0's link stays up"
is_state wan1 up && e2e_ok "wan1 stays up" || e2e_fail "wan1 stays up" "$(fo_state wan1)"
rt=$(ip -n "$R" route show default)
echo "$rt" | grep -q wan1 && ! echo "$rt" | grep -q wan0 \
	&& e2e_ok "the default route avoids wan0: $(echo $rt)" || e2e_fail "default route without wan0" "$rt"

: > "$INET_LOG"
ok=0
for i in $(seq 10); do e2e_in lanc curl -sf -m 3 -o /dev/null http://203.0.113.10/ && ok=$((ok + 1)); done
n2=$(grep -c '^192\.0\.2\.1 ' "$INET_LOG")
[ $ok = 10 ] && [ "$n2" = 10 ] && e2e_ok "10/10 new LAN connections succeed, all from wan1's address" \
	|| e2e_fail "new LAN connections leave by wan1" "$ok succeeded, $n2 from 192.0.2.1: $(cut -d' ' -f1 "$INET_LOG" | sort | uniq -c)"

e2e_check "DDNS: the office name moves to wan1's address" e2e_wait_for -t 10 office_is "198.51.100.1 192.0.2.1 "
peer=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["peer"])' "$DDNS_LOG")
[ "$peer" = 192.0.2.1 ] && e2e_ok "the DDNS update went out by wan1 ($peer)" \
	|| e2e_fail "DDNS update leaves by the live WAN" "peer $peer"

wait_dl() { ! kill -0 "$DL_PID" 2>/dev/null; }
e2e_wait_for -t 30 wait_dl
got=$(cut -d' ' -f1 "$DL_LOG")
[ "$got" = "$want" ] && e2e_ok "a 3 MB download through the forward on wan1 completed intact across the failover" \
	|| e2e_fail "download on wan1 survives the failover" "got ${got:-nothing}"
fr=$(fo_field wan0 flows_removed)
[ "${fr:-0}" -gt 0 ] && e2e_ok "flows bound to wan0 were removed and counted ($fr)" \
	|| e2e_fail "flows bound to wan0 removed" "flows_removed=${fr:-?}"
st=$(e2e_xdpnat status)
echo "$st" | grep -E '^  wan[01] +(up|down) +since' | sed 's/^/# /'
echo "$st" | grep -qE '^  wan0 +down +since .*steered away' && e2e_ok "xdpnat status shows wan0 down and steered" \
	|| e2e_fail "status shows the failover" "$st"

# the metrics endpoint shows the WANs' health (promtool, when there)
m=$(e2e_in router curl -sf --max-time 5 http://127.0.0.1:9109/metrics)
echo "$m" | grep -q '^xdpnat_wan_up{wan="wan0"} 0$' && echo "$m" | grep -q '^xdpnat_wan_up{wan="wan1"} 1$' \
	&& echo "$m" | grep -qE '^xdpnat_wan_dead_flows_removed_total\{wan="wan0"\} [1-9]' \
	&& e2e_ok "metrics: xdpnat_wan_up wan0 0, wan1 1, wan0's removed flows counted" \
	|| e2e_fail "metrics show the WANs' health" "$(echo "$m" | grep -E '^xdpnat_wan_(up|dead)')"
if command -v promtool >/dev/null; then
	echo "$m" | promtool check metrics >/dev/null 2>"$E2E_TMP/promtool.out" \
		&& e2e_ok "promtool accepts the metrics with WAN health" \
		|| e2e_fail "promtool accepts the metrics" "$(cat "$E2E_TMP/promtool.out")"
fi

# A reload with the same tracking keeps the verdict and the steering.
kill -HUP "$E2E_XDPNAT_PID"
sleep 2
rt=$(ip -n "$R" route show default)
is_state wan0 down && ! echo "$rt" | grep -q wan0 && e2e_ok "SIGHUP keeps wan0 down and steered" \
	|| e2e_fail "SIGHUP keeps the failover" "$(fo_state wan0) / $rt"

# ISP1 recovers.
e2e_in isp1 nft delete table ip isp_outage
e2e_check "wan0 is up again after ISP1 recovers" e2e_wait_for -t 15 is_state wan0 up
rt=$(ip -n "$R" -d route show default)
[ "$rt" = "$ROUTE0" ] && e2e_ok "the ECMP default route is back exactly as it was" \
	|| e2e_fail "default route restored" "now: $rt; was: $ROUTE0"
e2e_in router curl -sf --max-time 5 http://127.0.0.1:9109/metrics | grep -q '^xdpnat_wan_up{wan="wan0"} 1$' \
	&& e2e_ok "metrics: xdpnat_wan_up wan0 1 again" || e2e_fail "metrics: wan0 up again"
e2e_check "DDNS: the office name returns to wan0's address" e2e_wait_for -t 10 \
	office_is "198.51.100.1 192.0.2.1 198.51.100.1 "
: > "$INET_LOG"
for i in $(seq 16); do e2e_in lanc curl -sf -m 3 -o /dev/null http://203.0.113.10/; done
n1=$(grep -c '^198\.51\.100\.1 ' "$INET_LOG")
[ "$n1" -gt 0 ] && e2e_ok "new connections use wan0 again ($n1 of 16)" \
	|| e2e_fail "new connections use wan0 again" "$(cut -d' ' -f1 "$INET_LOG" | sort | uniq -c)"

# Carrier loss: the router's wan0 loses carrier when its peer goes down.
e2e_in isp1 ip link set down0 down
T0=$EPOCHREALTIME
e2e_check "wan0 without carrier is down at once (2 s)" e2e_wait_for -t 2 is_state wan0 down
[ "$(fo_field wan0 reason)" = link ] && e2e_ok "the reason is the link" || e2e_fail "reason link" "$(fo_field wan0 reason)"
rt=$(ip -n "$R" route show default)
! echo "$rt" | grep -q wan0 && e2e_ok "the default route avoids wan0 without carrier" \
	|| e2e_fail "default route avoids wan0 without carrier" "$rt"
e2e_in isp1 ip link set down0 up
e2e_check "wan0 is up again with its carrier" e2e_wait_for -t 15 is_state wan0 up

# The probe target fails beyond both ISPs: both WANs are marked down, and
# then nothing is steered (the target is the likelier culprit).
e2e_in inet ip addr del 203.0.113.10/32 dev lo
both_down() { is_state wan0 down && is_state wan1 down; }
e2e_check "a target unanswered on both WANs marks both down" e2e_wait_for -t 15 both_down
rt=$(ip -n "$R" -d route show default)
[ "$rt" = "$ROUTE0" ] && e2e_ok "both down: nothing is steered (ECMP route as configured)" \
	|| e2e_fail "both down: nothing steered" "$rt"
grep -q 'every tracked WAN is down' "$E2E_XDPNAT_LOG" && e2e_ok "both down: said so in the log" \
	|| e2e_fail "both down logged"
e2e_in inet ip addr add 203.0.113.10/32 dev lo
both_up() { is_state wan0 up && is_state wan1 up; }
e2e_check "both up again when the target answers" e2e_wait_for -t 15 both_up
grep 'failover:' "$E2E_XDPNAT_LOG" | sed 's/^/# log: /'

# A reload without `track`: probing stops, its rules and tables go.
sed -i 's/ track 203\.0\.113\.10 interval 1 down 3 up 3//' "$E2E_XDPNAT_CONF"
kill -HUP "$E2E_XDPNAT_PID"
no_tracking() {
	! grep -q '"failover"' "$E2E_RUN_DIR/xdpnat/status.json" &&
	! ip -n "$R" rule show | grep -q 30820
}
e2e_check "SIGHUP without track: no probing, no probe rules" e2e_wait_for -t 5 no_tracking

grep -q 'failover: wan wan0 down' "$E2E_XDPNAT_LOG" && e2e_ok "the state changes are logged" \
	|| e2e_fail "state changes logged"
e2e_xdpnat_stop && e2e_ok "daemon stops cleanly" || e2e_fail "daemon stops cleanly"
rt=$(ip -n "$R" -d route show default)
[ "$rt" = "$ROUTE0" ] && ! ip -n "$R" rule show | grep -q 30820 \
	&& e2e_ok "after stop: routes as before, probe rules and tables gone" \
	|| e2e_fail "clean after stop" "$rt / $(ip -n "$R" rule show)"
e2e_finish
