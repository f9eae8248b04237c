#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# test_metrics.sh - the Prometheus endpoint (`metrics <ip>:<port>`) end to
# end: `xdpnat check` refuses an address that is not local, a WAN's address
# without allow-wan, 0.0.0.0 without allow-wan and a port another program
# holds (file:line); the daemon does not start with such an address; during
# a real transfer through the NAT the scrape passes `promtool check
# metrics` and its counters move (the WAN's bytes in, flows, packets);
# DDNS failures show; the Grafana dashboard in doc/ names only exported
# metrics; slowloris, idle and huge-request clients are cut off within
# their bounds while the daemon still reloads on SIGHUP at once and
# another client is served; a reload to a WAN address is refused and the
# old endpoint keeps serving.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require curl python3 promtool
CLIENT=$E2E_LIB_DIR/metrics_client.py
DASH=$E2E_ROOT/doc/grafana-xdpnat.json

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }

base_conf() {	# FILE extra-lines...
	local f=$1
	shift
	{
		echo "wan wan0"
		echo "lan lan0"
		echo "outbound wan0"
		echo "pin-dir $E2E_BPFFS/xdpnat"
		echo "run-dir $E2E_RUN_DIR/xdpnat"
		echo "state-dir $E2E_TMP/state"
		printf '%s\n' "$@"
	} >"$f.tmp"
	mv "$f.tmp" "$f"
	chmod 600 "$f"
}

check_conf() {	# conf: xdpnat check in the router namespace
	e2e_in router "$E2E_XDPNAT" check -c "$1"
}

# ---------------------------------------------------------------- bad addresses
C=$E2E_TMP/c.conf
base_conf "$C" "metrics 192.168.0.1:9100"
e2e_check "check: metrics on the LAN address is fine" check_conf "$C"

refused() {	# description metrics-line message: check fails with FILE:7: message
	base_conf "$C" "$2"
	check_conf "$C" >"$E2E_TMP/out" 2>&1
	if grep -qF "$C:7: $3" "$E2E_TMP/out"; then e2e_ok "$1"; else e2e_fail "$1" "$(cat "$E2E_TMP/out")"; fi
}
refused "check: a WAN's address is refused at file:line" "metrics 198.51.100.1:9100" \
	"metrics: 198.51.100.1 is the address of wan wan0"
base_conf "$C" "metrics 198.51.100.1:9100 allow-wan"
e2e_check "check: a WAN's address with allow-wan is accepted" check_conf "$C"
refused "check: 0.0.0.0 without allow-wan is refused at file:line" "metrics 0.0.0.0:9100" \
	"metrics on 0.0.0.0 listens on the WANs' addresses too"
refused "check: an address that is not local is refused at file:line" "metrics 10.99.99.99:9100" \
	"metrics: cannot listen on 10.99.99.99:9100: no interface of this host has that address"

# another program holds the port
e2e_bg router python3 -c 'import socket,time
s=socket.socket(); s.bind(("192.168.0.1", 9101)); s.listen(); time.sleep(60)'
HOLDER=$E2E_BG_PID
e2e_wait_for -t 5 e2e_in router bash -c 'ss -ltn | grep -q 192.168.0.1:9101'
refused "check: a port in use by another program is refused at file:line" \
	"metrics 192.168.0.1:9101" "metrics: cannot listen on 192.168.0.1:9101: Address already in use"

# the daemon does not start half-configured
e2e_bpffs
if e2e_in router timeout 10 "$E2E_XDPNAT" run -f -c "$C" >"$E2E_TMP/run.out" 2>&1; then
	e2e_fail "run: a metrics port in use stops the start" "$(cat "$E2E_TMP/run.out")"
elif ip -n "$(e2e_ns router)" -d link show dev wan0 | grep -q 'prog/xdp'; then
	e2e_fail "run: a metrics port in use stops the start" "XDP attached to wan0"
else
	e2e_ok "run: a metrics port in use stops the start (exit 1, nothing attached)"
fi
e2e_kill "$HOLDER"

# ---------------------------------------------------------------- scraping a transfer
mkdir -p "$E2E_TMP/www"
head -c 12000000 /dev/urandom >"$E2E_TMP/www/big"
e2e_bg inet python3 -u "$E2E_LIB_DIR/paced_server.py" 203.0.113.10 80 "$E2E_TMP/www" 2000000
e2e_wait_for -t 5 e2e_in inet bash -c 'ss -ltn | grep -q 203.0.113.10:80'

CONF=$E2E_TMP/router.conf
# a DDNS name whose server is down: its failures must show
base_conf "$CONF" "metrics 192.168.0.1:9100" "timeout icmp 2" \
	"ddns wan0 custom nat.example.com url http://198.51.100.2:8053/u?h={host}&a={addr}"
e2e_check "daemon starts with metrics" e2e_xdpnat_start router "$CONF"
e2e_wait_for -t 5 grep -q "metrics: serving http://192.168.0.1:9100/metrics" "$E2E_XDPNAT_LOG"

scrape() {	# ROLE OUT
	e2e_in "$1" curl -sf --max-time 5 -o "$2" http://192.168.0.1:9100/metrics
}
metric() {	# FILE 'name{labels}' -> value
	awk -v m="$2" '$1 == m { print $2; f = 1 } END { if (!f) print "missing" }' "$1"
}

e2e_bg lanc curl -s --max-time 30 -o /dev/null http://203.0.113.10/big
DL=$E2E_BG_PID
sleep 1.5
e2e_check "scrape during a transfer" scrape lanc "$E2E_TMP/m1"
sleep 1.5
e2e_check "second scrape" scrape lanc "$E2E_TMP/m2"
e2e_check "promtool check metrics accepts the output" \
	sh -c "promtool check metrics < '$E2E_TMP/m2'"

# A series of scrapes while the download runs: the values must keep
# growing; with XDPNAT_METRICS_PLOT=FILE.png they are also plotted
# (gnuplot: the README's picture of what a dashboard would draw).
: >"$E2E_TMP/series"
t0=${EPOCHREALTIME/./}
for i in $(seq 12); do
	scrape lanc "$E2E_TMP/s" || continue
	now=${EPOCHREALTIME/./}
	echo "$(( (now - t0) / 1000 )) $(metric "$E2E_TMP/s" 'xdpnat_wan_bytes_total{wan="wan0",direction="rx"}') $(metric "$E2E_TMP/s" 'xdpnat_wan_bytes_total{wan="wan0",direction="tx"}') $(metric "$E2E_TMP/s" 'xdpnat_flows{kind="masquerade",state="established"}')" >>"$E2E_TMP/series"
	sleep 0.25
done
e2e_check "12 scrapes during the transfer: WAN rx bytes never go back" \
	awk 'NR > 1 && $2 < prev { exit 1 } { prev = $2 } END { exit NR < 10 }' "$E2E_TMP/series"
if [ -n "${XDPNAT_METRICS_PLOT:-}" ] && command -v gnuplot >/dev/null; then
	awk 'NR > 1 { dt = ($1 - t) / 1000; printf "%.2f %.3f %.3f %d\n", $1 / 1000, ($2 - rx) * 8 / dt / 1e6, ($3 - tx) * 8 / dt / 1e6, $4 }
	     { t = $1; rx = $2; tx = $3 }' "$E2E_TMP/series" >"$E2E_TMP/plot.dat"
	gnuplot <<EOF && e2e_log "plot: $XDPNAT_METRICS_PLOT"
set terminal pngcairo size 900,420 font "sans,10"
set output "$XDPNAT_METRICS_PLOT"
set title "xdpnat /metrics scraped in a loop (about 2 scrapes a second) during a paced 16 Mbit/s download\n(test_metrics.sh, plotted with gnuplot: not a Grafana screenshot)" noenhanced
set xlabel "seconds"
set ylabel "Mbit/s: rate of xdpnat_wan_bytes_total" noenhanced
set y2label "xdpnat_flows{kind=masquerade,state=established}" noenhanced
set y2tics 1
set y2range [0:3]
set yrange [0:*]
set key bottom right noenhanced
set grid
plot "$E2E_TMP/plot.dat" using 1:2 with linespoints title "wan0 rx", \
     "" using 1:3 with linespoints title "wan0 tx", \
     "" using 1:4 axes x1y2 with steps title "established masquerade flows"
EOF
fi

gt() { python3 -c 'import sys; a, b = sys.argv[1:]; sys.exit(0 if a != "missing" and b != "missing" and float(b) > float(a) else 1)' "$1" "$2"; }
for m in 'xdpnat_wan_bytes_total{wan="wan0",direction="rx"}' \
	 'xdpnat_wan_packets_total{wan="wan0",direction="tx"}' \
	 'xdpnat_rx_packets_total' 'xdpnat_xdp_forwarded_packets_total'; do
	a=$(metric "$E2E_TMP/m1" "$m") b=$(metric "$E2E_TMP/m2" "$m")
	gt "$a" "$b" && e2e_ok "$m grows during the transfer ($a -> $b)" \
		|| e2e_fail "$m grows during the transfer" "$a -> $b"
done
rx=$(metric "$E2E_TMP/m2" 'xdpnat_wan_bytes_total{wan="wan0",direction="rx"}')
[ "$rx" != missing ] && [ "$rx" -ge 2000000 ] && e2e_ok "WAN rx bytes count the download ($rx >= 2 MB after 3 s)" \
	|| e2e_fail "WAN rx bytes count the download" "$rx"
est=$(metric "$E2E_TMP/m2" 'xdpnat_flows{kind="masquerade",state="established"}')
[ "$est" != missing ] && [ "$est" -ge 1 ] && e2e_ok "the download is an established masquerade flow ($est)" \
	|| e2e_fail "the download is an established masquerade flow" "$est"
e2e_check "limits: flows_limit 65536, conntrack_entries_limit 131072" sh -c \
	"grep -qx 'xdpnat_flows_limit 65536' '$E2E_TMP/m2' && grep -qx 'xdpnat_conntrack_entries_limit 131072' '$E2E_TMP/m2'"
ndrop=$(grep -c '^xdpnat_drops_total{reason=' "$E2E_TMP/m2")
[ "$ndrop" -ge 12 ] && e2e_ok "every data path drop counter is exported ($ndrop reasons)" \
	|| e2e_fail "every data path drop counter is exported" "$ndrop"
e2e_check "start time and build info" sh -c \
	"grep -q '^xdpnat_start_time_seconds [1-9]' '$E2E_TMP/m2' && grep -q '^xdpnat_build_info{version=' '$E2E_TMP/m2'"
ddns_failed() {
	scrape lanc "$E2E_TMP/m3" &&
	grep -q '^xdpnat_ddns_failures_total{name="nat.example.com",wan="wan0"} [1-9]' "$E2E_TMP/m3" &&
	grep -q '^xdpnat_ddns_last_result{name="nat.example.com",wan="wan0"} 0' "$E2E_TMP/m3"
}
e2e_check "DDNS: a failing name shows last_result 0 and its failures" e2e_wait_for -t 10 ddns_failed
e2e_check "the Grafana dashboard is valid JSON and uses exported metrics only" \
	python3 - "$DASH" "$E2E_TMP/m2" <<'EOF'
import json, re, sys
dash = json.load(open(sys.argv[1]))
names = {l.split("{")[0].split(" ")[0] for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
exprs = []
def walk(o):
    if isinstance(o, dict):
        if "expr" in o: exprs.append(o["expr"])
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(dash)
assert len(exprs) >= 8, exprs
funcs = {"rate", "irate", "sum", "by", "increase", "time", "max", "min", "without", "topk", "clamp_min", "avg", "on", "label_replace"}
bad = [t for e in exprs for t in re.findall(r"\b(xdpnat_[a-z_]+)", e) if t not in names]
assert not bad, bad
print(len(exprs), "expressions ok")
EOF

# ---------------------------------------------------------------- hostile clients
e2e_check "GET /other is 404, POST /metrics is 405" sh -c "
	[ \"\$(ip netns exec $(e2e_ns lanc) curl -s -o /dev/null -w '%{http_code}' http://192.168.0.1:9100/other)\" = 404 ] &&
	[ \"\$(ip netns exec $(e2e_ns lanc) curl -s -o /dev/null -w '%{http_code}' -X POST http://192.168.0.1:9100/metrics)\" = 405 ]"
huge=$(e2e_in lanc python3 "$CLIENT" huge 192.168.0.1 9100 20000)
case $huge in
*431*|closed) e2e_ok "a 20 kB request is refused ($huge)" ;;
*) e2e_fail "a 20 kB request is refused" "$huge" ;;
esac

# eight slowloris connections fill every slot
e2e_bg lanc python3 -u "$CLIENT" slowloris 192.168.0.1 9100 8 6
SLOW=$E2E_BG_PID SLOWLOG=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q connected "$SLOWLOG"
served_again() { e2e_in lans curl -sf --max-time 1 -o /dev/null http://192.168.0.1:9100/metrics; }
e2e_check_not "a 9th connection is closed at once while 8 are held" served_again
t0=${EPOCHREALTIME/./}
kill -HUP "$E2E_XDPNAT_PID"
reload_logged() { [ "$(grep -c 'reload: reading' "$E2E_XDPNAT_LOG")" -ge 1 ]; }
if e2e_wait_for -t 1 reload_logged; then
	t1=${EPOCHREALTIME/./}
	e2e_ok "slowloris holds every slot: a SIGHUP is still handled at once ($(( (t1 - t0) / 1000 )) ms)"
else
	e2e_fail "slowloris holds every slot: a SIGHUP is still handled at once" "$(tail -5 "$E2E_XDPNAT_LOG")"
fi
t0=${EPOCHREALTIME/./}
if e2e_wait_for -t 4 served_again; then
	t1=${EPOCHREALTIME/./}
	e2e_ok "another client is served once the 2 s bound frees a slot ($(( (t1 - t0) / 1000 )) ms)"
else
	e2e_fail "another client is served once the 2 s bound frees a slot"
fi
wait "$SLOW" 2>/dev/null
late=$(awk '/^closed/ && $4 > 3.0 { n++ } /^open/ { n++ } END { print n + 0 }' "$SLOWLOG")
nclosed=$(grep -c '^closed' "$SLOWLOG")
[ "$nclosed" = 8 ] && [ "$late" = 0 ] && e2e_ok "every slowloris connection was closed within 3 s" \
	|| e2e_fail "every slowloris connection was closed within 3 s" "$(cat "$SLOWLOG")"

# idle connections: the same bound
e2e_bg lanc python3 -u "$CLIENT" idle 192.168.0.1 9100 8 4
IDLE=$E2E_BG_PID
e2e_wait_for -t 5 grep -q connected "$E2E_BG_LOG"
t0=${EPOCHREALTIME/./}
e2e_check "8 idle connections: a scrape succeeds within 3 s" e2e_wait_for -t 3 served_again
e2e_kill "$IDLE"
e2e_check "the daemon is alive and reports status" e2e_xdpnat status

# ---------------------------------------------------------------- expiry
# A flow that expires takes its counters out of nat_ct: the WAN totals
# must keep them (ctflow's retired totals), never go back.
e2e_check "ping through the NAT (an ICMP flow of 20 packets each way)" \
	e2e_in lanc ping -c 20 -i 0.05 -q 203.0.113.10
e2e_check "scrape with the ICMP flow alive" scrape lanc "$E2E_TMP/e1"
icmp_gone() {
	scrape lanc "$E2E_TMP/e2" &&
	grep -q '^xdpnat_flows{kind="masquerade",state="established"} 0' "$E2E_TMP/e2" &&
	gt "$(metric "$E2E_TMP/e1" xdpnat_flows_expired_total)" "$(metric "$E2E_TMP/e2" xdpnat_flows_expired_total)"
}
e2e_kill "$DL"	# the download's flow would not expire (tcp timeouts)
e2e_in router "$E2E_XDPNAT" flows -c "$E2E_XDPNAT_CONF" >/dev/null 2>&1
if e2e_wait_for -t 10 icmp_gone; then
	e2e_ok "the ICMP flow expired (xdpnat_flows_expired_total grew)"
	ok=1
	for m in 'xdpnat_wan_packets_total{wan="wan0",direction="tx"}' \
		 'xdpnat_wan_packets_total{wan="wan0",direction="rx"}' \
		 'xdpnat_wan_bytes_total{wan="wan0",direction="tx"}'; do
		a=$(metric "$E2E_TMP/e1" "$m") b=$(metric "$E2E_TMP/e2" "$m")
		python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) >= float(sys.argv[1]) else 1)' "$a" "$b" || ok=0
		e2e_log "$m: $a -> $b"
	done
	# held at the last value is not enough: new traffic must add to it
	e2e_in lanc ping -c 5 -i 0.05 -q 203.0.113.10 >/dev/null
	scrape lanc "$E2E_TMP/e3"
	m='xdpnat_wan_packets_total{wan="wan0",direction="tx"}'
	a=$(metric "$E2E_TMP/e1" "$m") b=$(metric "$E2E_TMP/e3" "$m")
	e2e_log "after 5 more pings: $m: $b"
	[ "$b" != missing ] && [ "$b" -ge $((a + 5)) ] || ok=0
	[ $ok = 1 ] && e2e_ok "WAN counters keep the expired flow's packets and bytes" \
		|| e2e_fail "WAN counters keep the expired flow's packets and bytes"
else
	e2e_fail "the ICMP flow expired (xdpnat_flows_expired_total grew)" "$(grep '^xdpnat_flows{' "$E2E_TMP/e2" | grep -v ' 0$')"
	e2e_fail "WAN counters keep the expired flow's packets and bytes" "not run"
fi

# ---------------------------------------------------------------- reload
base_conf "$E2E_XDPNAT_CONF" "metrics 198.51.100.1:9100"
kill -HUP "$E2E_XDPNAT_PID"
refused() { grep -q "reload: .*metrics: 198.51.100.1 is the address of wan wan0" "$E2E_XDPNAT_LOG"; }
e2e_check "reload to a WAN address is refused with file:line" e2e_wait_for -t 5 refused
e2e_check "the old endpoint keeps serving after the refused reload" \
	e2e_wait_for -t 3 served_again
base_conf "$E2E_XDPNAT_CONF" "metrics 192.168.0.1:9102"
kill -HUP "$E2E_XDPNAT_PID"
moved() { e2e_in lans curl -sf --max-time 1 -o /dev/null http://192.168.0.1:9102/metrics; }
e2e_check "reload moves the endpoint to a new port" e2e_wait_for -t 5 moved
e2e_check_not "the old port is closed" served_again
e2e_check "status.json names the endpoint" grep -q '"metrics":"192.168.0.1:9102"' \
	"$E2E_RUN_DIR/xdpnat/status.json"
e2e_check "xdpnat status shows it" sh -c \
	"ip netns exec $(e2e_ns router) '$E2E_XDPNAT' status -c '$E2E_XDPNAT_CONF' | grep -qx 'metrics: http://192.168.0.1:9102/metrics'"
e2e_check "xdpnat check accepts the address the running daemon serves" \
	check_conf "$E2E_XDPNAT_CONF"
e2e_xdpnat_stop
e2e_finish
