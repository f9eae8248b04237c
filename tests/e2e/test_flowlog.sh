#!/bin/bash
# The NAT log (`flow-log FILE`) and the live view (`xdpnat top`, `xdpnat
# flows` filters).
#  - A flow-log path in a missing directory: `xdpnat check` names FILE:LINE,
#    `xdpnat run` refuses to start and attaches nothing.
#  - A short HTTP download through masquerade: exactly one start and one end
#    line for its connection, with the client's inside address:port, the
#    WAN address, the server, reason "closed" and the bytes of the download.
#  - A UDP flow left idle past `timeout udp`: its end line says "timeout".
#  - logrotate: after `mv` and SIGHUP the daemon writes to a new file.
#  - `xdpnat top --once` during a paced download shows that flow with a
#    rate; `xdpnat flows --host/--port/--wan/--kind` select the right flows.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require curl jq

UDP=$E2E_LIB_DIR/udp_tool.py
PACED=$E2E_LIB_DIR/paced_server.py

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }

LOG=$E2E_TMP/log/flows.log
mkdir -p "$E2E_TMP/log"

# ---------------------------------------------------------------- bad path
BAD=$E2E_TMP/bad.conf
cat > "$BAD" <<EOF2
wan wan0
lan lan0
outbound wan0
flow-log $E2E_TMP/no-such-dir/flows.log
EOF2
chmod 600 "$BAD"
out=$(e2e_in router "$E2E_XDPNAT" check -c "$BAD" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "^$BAD:4: flow-log .*no-such-dir" \
	&& e2e_ok "check: a flow-log in a missing directory is an error at FILE:4" \
	|| e2e_fail "check: a flow-log in a missing directory is an error at FILE:4" "rc=$rc $out"
badrun=$(e2e_xdpnat_conf "$BAD")
out=$(timeout 10 ip netns exec "$(e2e_ns router)" "$E2E_XDPNAT" run -f -c "$badrun" 2>&1); rc=$?
xdp=$(ip -n "$(e2e_ns router)" link show wan0 | grep -c 'prog/xdp')
[ $rc -ne 0 ] && [ "$xdp" = 0 ] \
	&& e2e_ok "run refuses a flow-log in a missing directory and attaches nothing" \
	|| e2e_fail "run refuses a flow-log in a missing directory" "rc=$rc xdp=$xdp $out"
mkdir -p "$E2E_TMP/ro"; touch "$E2E_TMP/ro/flows.log"; chmod 400 "$E2E_TMP/ro/flows.log"
sed -i "s|^flow-log .*|flow-log $E2E_TMP/ro/flows.log|" "$BAD"
chmod 644 "$BAD"; chmod 711 "$E2E_TMP"	# for the unprivileged user that checks it
out=$(e2e_in router setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$E2E_XDPNAT" check -c "$BAD" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "^$BAD:4: flow-log .*Permission denied" \
	&& e2e_ok "check: a flow-log file that cannot be written is an error at FILE:4" \
	|| e2e_fail "check: a flow-log file that cannot be written is an error at FILE:4" "rc=$rc $out"
chmod 700 "$E2E_TMP"
sed -i "s|^flow-log .*|flow-log $BAD/flows.log|" "$BAD"
out=$(e2e_in router "$E2E_XDPNAT" check -c "$BAD" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "^$BAD:4: flow-log .*is not a directory" \
	&& e2e_ok "check: a flow-log under a regular file is an error at FILE:4" \
	|| e2e_fail "check: a flow-log under a regular file is an error at FILE:4" "rc=$rc $out"

# ---------------------------------------------------------------- the log
CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
lan lan0
outbound wan0
timeout tcp-closing 1
timeout udp 2
flow-log $LOG
EOF2
WWW=$E2E_TMP/www; mkdir -p "$WWW"
SIZE=200000
head -c $SIZE /dev/urandom > "$WWW/small.bin"
head -c 4000000 /dev/urandom > "$WWW/big.bin"
e2e_http_server inet 203.0.113.10 80 "$WWW"
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7
e2e_bg inet python3 -u "$PACED" 203.0.113.10 81 "$WWW" 400000
e2e_wait_for -t 5 grep -q serving "$E2E_BG_LOG"

e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with flow-log"; e2e_finish; }
e2e_ok "xdpnat starts with flow-log $LOG"

# lines of the log about the flow from inside endpoint $1 (jq filter on it)
lines_of() { jq -c --arg in "$1" 'select(.inside == $in)' "${2:-$LOG}" 2>/dev/null; }

port=$(e2e_in lanc curl -s -m 10 -o /dev/null -w '%{local_port}' http://203.0.113.10/small.bin)
inside=192.168.0.10:$port
e2e_log "curl's connection: $inside"
# closed: its end is logged once the GC removes it (tcp-closing 1 s)
e2e_wait_for -t 10 sh -c "jq -e --arg in '$inside' 'select(.inside == \$in and .event == \"end\")' '$LOG' >/dev/null 2>&1"
lines=$(lines_of "$inside")
e2e_log "$lines"
starts=$(echo "$lines" | jq -c 'select(.event == "start")')
ends=$(echo "$lines" | jq -c 'select(.event == "end")')
[ "$(echo "$starts" | grep -c .)" = 1 ] && [ "$(echo "$ends" | grep -c .)" = 1 ] \
	&& e2e_ok "one start and one end line for the HTTP connection" \
	|| e2e_fail "one start and one end line for the HTTP connection" "$lines"
for l in "$starts" "$ends"; do
	echo "$l" | jq -e '.proto == "tcp" and .kind == "masq" and .wan == "wan0" and
		.remote == "203.0.113.10:80" and (.outside | startswith("198.51.100.1:")) and
		(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$"))' >/dev/null || bad=1
done
[ "$(echo "$starts" | jq -r .outside)" = "$(echo "$ends" | jq -r .outside)" ] || bad=1
[ -z "${bad:-}" ] && e2e_ok "start and end name inside $inside, outside 198.51.100.1:port, remote 203.0.113.10:80, wan0" \
	|| e2e_fail "start and end name the right addresses" "$lines"
echo "$ends" | jq -e --argjson n $SIZE '.reason == "closed" and .bytes_in >= $n and
	.bytes_in <= $n * 1.05 + 4000 and .bytes_out > 0 and .bytes_out < 20000 and
	.packets_in > 0 and .packets_out > 0 and .duration_s >= 0 and .duration_s < 10' >/dev/null \
	&& e2e_ok "end line: reason closed, bytes_in $(echo "$ends" | jq .bytes_in) for a $SIZE-byte body" \
	|| e2e_fail "end line: reason closed and the download's bytes" "$ends"

# UDP, idle past `timeout udp 2`
e2e_in lanc python3 "$UDP" send 203.0.113.10 7 100 >/dev/null
e2e_wait_for -t 10 sh -c "jq -e 'select(.proto == \"udp\" and .event == \"end\")' '$LOG' >/dev/null 2>&1"
u=$(jq -c 'select(.proto == "udp" and .remote == "203.0.113.10:7")' "$LOG")
echo "$u" | jq -e 'select(.event == "end") | .reason == "timeout" and .packets_out >= 1 and
	.packets_in >= 1 and .bytes_out >= 128' >/dev/null && [ "$(echo "$u" | grep -c .)" = 2 ] \
	&& e2e_ok "an idle UDP flow: start, then end with reason timeout" \
	|| e2e_fail "an idle UDP flow ends with reason timeout" "$u"

# logrotate: mv, SIGHUP, the next flow goes to a new file
mv "$LOG" "$LOG.1"
kill -HUP "$E2E_XDPNAT_PID"
e2e_wait_for -t 5 test -f "$LOG"
port=$(e2e_in lanc curl -s -m 10 -o /dev/null -w '%{local_port}' http://203.0.113.10/small.bin)
e2e_wait_for -t 5 sh -c "jq -e --arg in '192.168.0.10:$port' 'select(.inside == \$in)' '$LOG' >/dev/null 2>&1"
[ -n "$(lines_of "192.168.0.10:$port")" ] && [ -z "$(lines_of "192.168.0.10:$port" "$LOG.1")" ] \
	&& e2e_ok "after mv and SIGHUP the next flow is logged in a new $LOG" \
	|| e2e_fail "after mv and SIGHUP the next flow is logged in a new file" \
		"$(ls -l "$E2E_TMP/log")"
# a flow made while no daemon runs waits in the ring for the next one
e2e_xdpnat_stop
e2e_in lanc python3 "$UDP" send 203.0.113.10 7 100 >/dev/null
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat restarts with flow-log"; e2e_finish; }
e2e_wait_for -t 5 sh -c "jq -e 'select(.proto == \"udp\" and .event == \"start\")' '$LOG' >/dev/null 2>&1"
[ "$(jq -c 'select(.proto == "udp" and .event == "start")' "$LOG" | grep -c .)" = 1 ] \
	&& e2e_ok "a flow started while the daemon was stopped is logged by the next daemon" \
	|| e2e_fail "a flow started while the daemon was stopped is logged by the next daemon" \
		"$(cat "$LOG"; sed 's/^/# /' "$E2E_XDPNAT_LOG")"
lost=$(e2e_xdpnat stats --json | jq '.datapath.flowlog_lost // .flowlog_lost // empty' 2>/dev/null)
e2e_log "flowlog_lost: ${lost:-?}"

# ---------------------------------------------------------------- top, flows filters
# two paced downloads, from lanc and from lans
e2e_bg lanc curl -s -m 30 -o /dev/null http://203.0.113.10:81/big.bin
e2e_bg lans curl -s -m 30 -o /dev/null http://203.0.113.10:81/big.bin
sleep 1
top=$(e2e_xdpnat top --once --interval 1 2>&1)
e2e_log "$top"
row=$(echo "$top" | grep -E '^tcp .*192\.168\.0\.10:.*203\.0\.113\.10:81 ')
rate=$(echo "$row" | awk '{print $NF}')
[ -n "$row" ] && [ -n "$rate" ] && [ "$rate" != 0 ] \
	&& echo "$top" | grep -qE '^wan0 +2 ' \
	&& e2e_ok "top --once shows the paced download with its rate, and wan0 with 2 flows" \
	|| e2e_fail "top --once shows the paced download with a rate" "$top"
j=$(e2e_xdpnat top --once --interval 1 --json --host 192.168.0.10 2>&1)
echo "$j" | jq -e '(.flows | length) == 1 and (.flows[0] | .remote == "203.0.113.10:81" and
	.bits_in_per_s > 1000000 and .bits_in_per_s < 8000000)' >/dev/null \
	&& e2e_ok "top --json --host: that download alone, at about its pace (3.2 Mbit/s)" \
	|| e2e_fail "top --json --host: the download's rate is about the pacing" "$j"

count() { e2e_xdpnat flows --json "$@" | jq length; }
f=$(e2e_xdpnat flows --json --port 81)
[ "$(echo "$f" | jq length)" = 2 ] && [ "$(echo "$f" | jq -r '.[0].remote')" = 203.0.113.10:81 ] \
	&& e2e_ok "flows --port 81: the two downloads" || e2e_fail "flows --port 81" "$f"
f=$(e2e_xdpnat flows --json --kind masq --host 192.168.0.10 --wan wan0)
[ "$(echo "$f" | jq length)" = 1 ] && [ "$(echo "$f" | jq -r '.[0].inside')" != "${f#192.168.0.10:}" ] \
	&& echo "$f" | jq -e '.[0].inside | startswith("192.168.0.10:")' >/dev/null \
	&& e2e_ok "flows --kind masq --host 192.168.0.10 --wan wan0: lanc's download only" \
	|| e2e_fail "flows --kind masq --host --wan" "$f"
n1=$(count --host 203.0.113.10); n2=$(count --host 192.168.0.99); n3=$(count --kind forward)
n4=$(count --port 80); n5=$(count --host 192.168.0.254 --port 81)
[ "$n1" = 2 ] && [ "$n2" = 0 ] && [ "$n3" = 0 ] && [ "$n4" = 0 ] && [ "$n5" = 1 ] \
	&& e2e_ok "flows filters: remote host 2, unknown host 0, kind forward 0, port 80 0, lans+81 1" \
	|| e2e_fail "flows filters" "$n1 $n2 $n3 $n4 $n5"
out=$(e2e_xdpnat flows --kind bogus 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "kind" && e2e_ok "flows --kind bogus is refused" \
	|| e2e_fail "flows --kind bogus is refused" "rc=$rc $out"
out=$(e2e_xdpnat flows --wan nosuch0 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "nosuch0" && e2e_ok "flows --wan of no interface is refused" \
	|| e2e_fail "flows --wan of no interface is refused" "rc=$rc $out"

e2e_xdpnat_stop && e2e_ok "xdpnat stops cleanly" || e2e_fail "xdpnat stops cleanly"
e2e_finish
