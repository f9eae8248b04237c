#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# test_controller.sh - the `xdpnat` controller end to end, in namespaces:
# check, run (attach, pins, run files), status/flows/stats from a separate
# `ip netns exec`, bpftool on the pinned maps, SIGHUP (forwards, interfaces
# added and removed, a bad file), a second daemon refused, SIGTERM (the data
# path stays, status says so), detach (every interface as before), SIGKILL
# and a new run that adopts what is left.
#
# Topology: router namespace R with rwan <-> wpeer (namespace W) and
# rlan <-> lpeer, rlan2 <-> lpeer2 (namespace L). Needs root.
# Output: TAP. BUILD=build-dir selects the binary (default: build).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
XDPNAT=$PWD/$BUILD/xdpnat

ID=$$
R=xn-ctl-r-$ID W=xn-ctl-w-$ID L=xn-ctl-l-$ID
TMP=$(mktemp -d /tmp/xn-ctl-XXXXXX)
RUN=/run/xn-ctl-$ID
CONF=$TMP/xdpnat.conf
LOG=$TMP/daemon.log
PIN=/sys/fs/bpf/xdpnat
DPID=

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() {	# description command...
	local d=$1; shift
	if "$@" >"$TMP/out" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$TMP/out"; fi
}
check_fails() {	# description command...  (the command must fail)
	local d=$1; shift
	if "$@" >"$TMP/out" 2>&1; then not_ok "$d"; sed 's/^/# /' "$TMP/out"; else ok "$d"; fi
}

cleanup() {
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	for ns in "$R" "$W" "$L"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP" "$RUN"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root"; exit 0; fi
if [ ! -x "$XDPNAT" ]; then echo "Bail out! $XDPNAT not built"; exit 1; fi

in_r() { ip netns exec "$R" "$@"; }
x() { ip netns exec "$R" "$XDPNAT" "$@" -c "$CONF"; }	# each call: its own netns exec
pinned() { echo "/proc/$DPID/root$PIN/$1"; }

setup_net() {
	ip netns add "$R" && ip netns add "$W" && ip netns add "$L" || return 1
	ip -n "$R" link add rwan type veth peer name wpeer netns "$W"
	ip -n "$R" link add rlan type veth peer name lpeer netns "$L"
	ip -n "$R" link add rlan2 type veth peer name lpeer2 netns "$L"
	ip -n "$R" addr add 192.0.2.1/24 dev rwan
	ip -n "$R" addr add 10.9.0.1/24 dev rlan
	ip -n "$R" addr add 10.9.1.1/24 dev rlan2
	# a bridge (no ports needed): generic XDP, added by a reload below
	ip -n "$R" link add rbr type bridge
	ip -n "$R" addr add 10.9.2.1/24 dev rbr
	ip -n "$R" link set rbr up
	ip -n "$W" addr add 192.0.2.2/24 dev wpeer
	ip -n "$L" addr add 10.9.0.2/24 dev lpeer
	ip -n "$L" addr add 10.9.1.2/24 dev lpeer2
	for dev in rwan rlan rlan2 lo; do ip -n "$R" link set "$dev" up; done
	for dev in wpeer lo; do ip -n "$W" link set "$dev" up; done
	for dev in lpeer lpeer2 lo; do ip -n "$L" link set "$dev" up; done
	# XDP_REDIRECT into a veth is delivered only if the peer has GRO (or XDP)
	ip netns exec "$W" ethtool -K wpeer gro on >/dev/null 2>&1
	ip netns exec "$L" ethtool -K lpeer gro on >/dev/null 2>&1
	ip -n "$L" route add default via 10.9.0.1
	ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
}

write_conf() {	# extra lines...
	{
		echo "wan rwan"
		echo "lan rlan"
		echo "outbound rwan"
		echo "run-dir $RUN"
		echo "state-dir $TMP/state"
		printf '%s\n' "$@"
	} >"$CONF"
}

start_daemon() {
	ip netns exec "$R" "$XDPNAT" run -f -c "$CONF" >"$LOG" 2>&1 &
	DPID=$!
	for _ in $(seq 50); do	# status.json of this daemon, not a killed one's
		grep -q "\"pid\":$DPID," "$RUN/status.json" 2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

wait_log() {	# pattern: the daemon logged it within 5 s
	for _ in $(seq 50); do grep -q "$1" "$LOG" && return 0; sleep 0.1; done
	return 1
}

xdp_count() { ip -n "$R" -d link show | grep -c 'prog/xdp'; }
clsact_on() { in_r tc qdisc show dev "$1" | grep -q clsact; }
xdp_on() { ip -n "$R" -d link show dev "$1" | grep -q 'prog/xdp'; }

# nat_ct entries are built from include/xdpnat.h: "KEYHEX VALUEHEX" of a
# struct nat_ct_key and a struct nat_ct_value, for ct_insert.
ct_entry_hex() {	# key(saddr sport daddr dport) to(saddr sport daddr dport) dir kind wan_ifindex
	python3 - "$@" <<'EOF'
import socket, struct, sys, time
a = sys.argv[1:]
def ep(ip, port): return socket.inet_aton(ip), struct.pack("!H", int(port))
s, sp = ep(a[0], a[1]); d, dp = ep(a[2], a[3])
ts, tsp = ep(a[4], a[5]); td, tdp = ep(a[6], a[7])
key = s + d + sp + dp + bytes([17, 0, 0, 0])
tick = (time.monotonic_ns() >> 21) & 0xffffffff	# nat_tick()
bits = int(a[8]) | int(a[9]) << 2 | 2 << 5	# dir:2 kind:3 state:3 (ESTABLISHED)
# wan_ifindex, the bitfields, flags, packets 3, last_seen, bytes 300, td_end, td_ack, nh
val = ts + td + tsp + tdp + struct.pack("<HBBIIQII8s", int(a[10]), bits, 0, 3, tick, 300,
                                        0, 0, bytes(8))
assert len(key) == 16 and len(val) == 48
print(key.hex(), val.hex())
EOF
}
# nat_ct is a table of slots (include/nat_ct_slots.h): an entry goes where
# the data path would look for it (tests/e2e/ct_slots.py).
ct_insert() { python3 tests/e2e/ct_slots.py insert "$@"; }	# PIN KEYHEX VALUEHEX

config_with_udp_timeout() {	# seconds -> the whole nat_config value, other fields as they are
	bpftool -j map lookup pinned "$(pinned nat_config)" key 0 0 0 0 | python3 -c '
import json, struct, sys
v = bytearray(int(b, 16) for b in json.load(sys.stdin)["value"])
v[12:16] = struct.pack("<I", int(sys.argv[1]))	# timeout_udp, 4th __u32 of struct nat_config
print(" ".join("%02x" % c for c in v))' "$1"
}

forward_ports() {	# outside ports in nat_forwards, sorted, from bpftool's named fields
	bpftool -j map dump pinned "$(pinned nat_forwards)" | python3 -c '
import json, sys
sw = lambda x: ((x & 0xff) << 8) | (x >> 8)
print(" ".join(sorted(str(sw(e["formatted"]["key"]["port"])) for e in json.load(sys.stdin))))'
}

# ---------------------------------------------------------------- tests
check "namespaces and veth pairs" setup_net

write_conf "forward tcp rwan 8080 to 10.9.0.2:80" "forward tcp rwan 9000 to 10.9.0.2"
check "check accepts a good file" x check
grep -q "$CONF: ok" "$TMP/out" && ok "check prints 'FILE: ok'" || not_ok "check prints 'FILE: ok'"

cp "$CONF" "$TMP/good.conf"
echo "forward tcp nosuch 1 to 10.0.0.1" >>"$CONF"
echo "frobnicate" >>"$CONF"
check_fails "check rejects a bad file" x check
[ "$(grep -c "^$CONF:[0-9]*: " "$TMP/out")" -ge 2 ] && ok "check prints every error as FILE:LINE: message" \
	|| { not_ok "check prints every error as FILE:LINE: message"; sed 's/^/# /' "$TMP/out"; }
check_fails "run refuses a bad file" timeout -s INT 10 ip netns exec "$R" "$XDPNAT" run -f -c "$CONF"
[ "$(xdp_count)" = 0 ] && ! clsact_on rwan && ok "a refused run attached nothing" || not_ok "a refused run attached nothing"
cp "$TMP/good.conf" "$CONF"

# A foreign XDP program on rlan: run must refuse and leave rwan untouched too.
foreign_xdp_obj() {
	printf '%s\n' '#include <linux/bpf.h>' \
		'__attribute__((section("xdp"), used)) int foreign_xdp(struct xdp_md *c) { return XDP_PASS; }' \
		'char _license[] __attribute__((section("license"), used)) = "GPL";' >"$TMP/foreign.c"
	clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" -c "$TMP/foreign.c" -o "$TMP/foreign.o"
}
if foreign_xdp_obj && ip -n "$R" link set dev rlan xdpgeneric obj "$TMP/foreign.o" sec xdp 2>"$TMP/out"; then
	check_fails "run refuses to replace another XDP program" timeout -s INT 10 ip netns exec "$R" "$XDPNAT" run -f -c "$CONF"
	grep -q "already has an XDP program" "$TMP/out" && ok "the refusal says why" || not_ok "the refusal says why"
	! xdp_on rwan && ! clsact_on rwan && ok "rwan rolled back after the refusal" || not_ok "rwan rolled back after the refusal"
	xdp_on rlan && ok "the foreign program is still on rlan" || not_ok "the foreign program is still on rlan"
	ip -n "$R" link set dev rlan xdpgeneric off
else
	ok "run refuses to replace another XDP program # SKIP cannot attach a foreign program"
fi

# A clsact someone else made (with a filter of theirs) must survive us.
in_r tc qdisc add dev rlan clsact
check "a foreign clsact with a u32 filter on rlan" in_r tc filter add dev rlan egress prio 7 u32 match u32 0 0 classid 1:1

check "daemon starts (ip netns exec, foreground)" start_daemon
[ "$(xdp_count)" = 2 ] && ok "XDP attached to rwan and rlan" || not_ok "XDP attached to rwan and rlan"
grep -q '"xdp_mode":"native"' "$RUN/status.json" && ok "status.json: native mode" || not_ok "status.json: native mode"
in_r tc filter show dev rwan egress | grep -q 'xdpnat_tc' && ok "tc egress filter on rwan" || not_ok "tc egress filter on rwan"
in_r tc filter show dev rlan egress | grep -q 'xdpnat_tc' && in_r tc filter show dev rlan egress | grep -q u32 \
	&& ok "tc egress filter on rlan next to the foreign one" || not_ok "tc egress filter on rlan next to the foreign one"
[ "$(cat "$RUN/xdpnat.pid")" = "$DPID" ] && ok "pid file" || not_ok "pid file"

check "LAN peer pings the router while attached" ip netns exec "$L" ping -c1 -W2 10.9.0.1
check "WAN peer pings the router while attached" ip netns exec "$W" ping -c1 -W2 192.0.2.1

check "LAN peer pings the WAN peer through the NAT" ip netns exec "$L" ping -c2 -W2 192.0.2.2
x flows >"$TMP/out" 2>&1
grep -Eq "^icmp +masq +10.9.0.2:[0-9]+ +192.0.2.1:[0-9]+ +192.0.2.2:0 +rwan" "$TMP/out" \
	&& ok "flows shows the ping as a masqueraded flow" || { not_ok "flows shows the ping as a masqueraded flow"; sed 's/^/# /' "$TMP/out"; }

check "status exits 0 from another ip netns exec" x status
grep -q "rwan .*wan .*xdp native + tc .*192.0.2.1" "$TMP/out" && ok "status shows rwan, mode and address" \
	|| { not_ok "status shows rwan, mode and address"; sed 's/^/# /' "$TMP/out"; }
grep -A1 -E '^  rlan +lan +veth +xdp native \+ tc +10\.9\.0\.1$' "$TMP/out" | tail -n 1 | grep -qE '^ {15}veth: .*peer' \
	&& ok "status: rlan is a veth on xdp native + tc, with the note on its peer" \
	|| { not_ok "status: rlan is a veth on xdp native + tc, with the note"; sed 's/^/# /' "$TMP/out"; }
check "status exits 0 from outside the namespaces (joins the daemon's)" "$XDPNAT" status -c "$CONF"
check "status --json parses" bash -c "ip netns exec $R $XDPNAT status --json -c $CONF | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"running\"] and len(d[\"interfaces\"]) == 2 and d[\"alg\"] == \"off\"'"

# ddns.json is the DDNS worker's; status shows what it says.
printf '[{"name":"nat.example.com","wan":"rwan","provider":"dyndns2","last_address":"192.0.2.1","last_result":"good","last_time":1795700000,"next_attempt":1797860000,"state":"ok"}]\n' >"$RUN/ddns.json"
x status >"$TMP/out" 2>&1
grep -q "nat.example.com (rwan, dyndns2): sent 192.0.2.1, result good at 2026-.*, next attempt 2026-.*, ok" "$TMP/out" \
	&& ok "status shows the DDNS state from ddns.json" || { not_ok "status shows the DDNS state from ddns.json"; sed 's/^/# /' "$TMP/out"; }
x status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ddns"][0]["last_result"] == "good"' \
	&& ok "status --json carries ddns" || not_ok "status --json carries ddns"
rm -f "$RUN/ddns.json"

check "bpftool dumps nat_config with named fields" bpftool map dump pinned "$(pinned nat_config)"
grep -q '"timeout_udp": 120' "$TMP/out" && ok "nat_config holds the configured timeouts" || not_ok "nat_config holds the configured timeouts"
[ "$(forward_ports)" = "8080 9000" ] && ok "nat_forwards: one entry per outside port" || not_ok "nat_forwards: $(forward_ports)"

# A flow as the data path would write it (both halves), then the CLI.
WANIDX=$(ip -n "$R" -o link show rwan | cut -d: -f1)
CT=$(pinned nat_ct)
check "insert a flow into the pinned nat_ct" ct_insert "$CT" \
	$(ct_entry_hex 192.0.2.2 53 192.0.2.1 40000 192.0.2.2 53 10.9.0.2 5000 1 1 "$WANIDX")
check "insert its original half" ct_insert "$CT" \
	$(ct_entry_hex 10.9.0.2 5000 192.0.2.2 53 192.0.2.1 40000 192.0.2.2 53 0 1 "$WANIDX")
check "flows exits 0" x flows
grep -Eq "^udp +masq +10.9.0.2:5000 +192.0.2.1:40000 +192.0.2.2:53 +rwan +established" "$TMP/out" \
	&& ok "flows shows inside, outside, remote, WAN, state" || { not_ok "flows row"; sed 's/^/# /' "$TMP/out"; }
check "flows --json has the flow" bash -c "ip netns exec $R $XDPNAT flows --json -c $CONF | python3 -c 'import json,sys; f=[f for f in json.load(sys.stdin) if f[\"proto\"]==\"udp\"]; assert len(f)==1 and f[0][\"inside\"]==\"10.9.0.2:5000\" and f[0][\"packets_reply\"]==3, f'"
check "stats exits 0" x stats
grep -Eq "^flows +2$" "$TMP/out" && grep -Eq "^ct_entries +4 / +[0-9]+" "$TMP/out" && grep -Eq "^daemon_pid +$DPID$" "$TMP/out" \
	&& ok "stats: flows, table use, daemon pid" || { not_ok "stats content"; sed 's/^/# /' "$TMP/out"; }

# SIGHUP: forwards change, rlan2 and the bridge rbr are added, nat_ct is kept.
write_conf "lan rlan2" "lan rbr" "forward tcp rwan 9090-9091 to 10.9.0.2:90-91"
kill -HUP "$DPID"
check "reload applied" wait_log "reload: applied"
[ "$(forward_ports)" = "9090 9091" ] && ok "reload: old forward ports gone, new ones in" || not_ok "reload forwards: $(forward_ports)"
xdp_on rlan2 && clsact_on rlan2 && ok "reload: added interface attached" || not_ok "reload: added interface attached"
x flows >"$TMP/out" 2>&1; grep -q "10.9.0.2:5000" "$TMP/out" && ok "reload: established flow survives" || not_ok "reload: established flow survives"
x status >"$TMP/out" 2>&1
grep -A1 -E '^  rbr +lan +bridge +xdp generic \+ tc +10\.9\.2\.1$' "$TMP/out" | tail -n 1 | grep -qE '^ {15}generic XDP: ' \
	&& ok "status: the added rbr is a bridge on xdp generic + tc, with the note on generic XDP" \
	|| { not_ok "status: rbr is a bridge on xdp generic + tc, with the note"; sed 's/^/# /' "$TMP/out"; }
python3 -c 'import json,sys; i={x["name"]: x for x in json.load(open(sys.argv[1]))["interfaces"]}
assert (i["rbr"]["link_type"], i["rbr"]["path"], i["rlan2"]["link_type"], i["rlan2"]["path"]) == ("bridge", "xdp generic + tc", "veth", "xdp native + tc"), i' "$RUN/status.json" \
	&& ok "status.json: link_type and path of rbr and rlan2" || not_ok "status.json: link_type and path of rbr and rlan2"

echo "nonsense here" >>"$CONF"
kill -HUP "$DPID"
check "a bad reload is logged with FILE:LINE" wait_log "reload: $CONF:[0-9]*: "
kill -0 "$DPID" && [ "$(forward_ports)" = "9090 9091" ] && ok "a bad reload changes nothing" || not_ok "a bad reload changes nothing"

# nat_forwards is sized from the forwards at start (at least 32768
# entries): a reload needing more is refused, the running table kept.
[ "$(bpftool map show pinned "$(pinned nat_forwards)" | grep -o 'max_entries [0-9]*')" = "max_entries 32768" ] \
	&& ok "nat_forwards sized from the configuration (32768 entries, not 262144)" \
	|| not_ok "nat_forwards size: $(bpftool map show pinned "$(pinned nat_forwards)")"
write_conf "lan rlan2" "lan rbr" "forward tcp rwan 9090-9091 to 10.9.0.2:90-91" "forward udp rwan 20000-59999 to 10.9.0.2"
kill -HUP "$DPID"
check "a reload with more forwarded ports than nat_forwards holds is refused, with the way out" \
	wait_log "reload: refused, keeping the running configuration: the forwards need 41026 nat_forwards entries.*holds 32768; a restart sizes it"
kill -0 "$DPID" && [ "$(forward_ports)" = "9090 9091" ] && ok "the refused reload changes nothing" || not_ok "the refused reload changes nothing: $(forward_ports)"

# nat_eim_ports holds a table per WAN of the file (one here), bound to its
# interface by its header (element 0: the ifindex); a reload adding a WAN
# is refused the same way.
[ "$(bpftool map show pinned "$(pinned nat_eim_ports)" | grep -o 'max_entries [0-9]*')" = "max_entries 196608" ] \
	&& bpftool -j map lookup pinned "$(pinned nat_eim_ports)" key 0 0 0 0 | python3 -c '
import json, sys
v = json.load(sys.stdin); v = v.get("formatted", v)["value"]
assert v["addr"] == int(sys.argv[1]) and v["port"] == 0, v' "$WANIDX" \
	&& ok "nat_eim_ports: one table (196608 elements), its header naming rwan ($WANIDX)" \
	|| not_ok "nat_eim_ports table and header: $(bpftool map show pinned "$(pinned nat_eim_ports)")"
write_conf "lan rlan2" "forward tcp rwan 9090-9091 to 10.9.0.2:90-91" "wan rbr"
kill -HUP "$DPID"
check "a reload with more WANs than nat_eim_ports has tables is refused, with the way out" \
	wait_log "reload: refused, keeping the running configuration: 2 WANs need as many mapping tables (nat_eim_ports), the map holds 1; a restart sizes it"
kill -0 "$DPID" && xdp_on rbr && [ "$(forward_ports)" = "9090 9091" ] \
	&& ok "the refused reload changes nothing (rbr still a LAN)" || not_ok "the refused WAN reload changes nothing"

write_conf "forward tcp rwan 9090-9091 to 10.9.0.2:90-91"
kill -HUP "$DPID"
check "reload removing rlan2 and rbr" wait_log "reload: rlan2 removed"
! xdp_on rlan2 && ! clsact_on rlan2 && ! xdp_on rbr && ! clsact_on rbr \
	&& ok "reload: removed interfaces detached" || not_ok "reload: removed interfaces detached"

# bpftool changes a timeout; the GC reads nat_config every tick.
check "bpftool sets timeout_udp to 1 s" bpftool map update pinned "$(pinned nat_config)" key hex 00 00 00 00 value hex $(config_with_udp_timeout 1)
expired=no
for _ in $(seq 50); do
	x flows --json 2>/dev/null | python3 -c 'import json,sys; sys.exit(any(f["inside"] == "10.9.0.2:5000" for f in json.load(sys.stdin)))' \
		&& { expired=yes; break; }
	sleep 0.1
done
[ $expired = yes ] && ok "the GC expired the flow after the timeout change" || not_ok "the GC expired the flow after the timeout change"
x stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["controller"]["ct_expired"] >= 1' \
	&& ok "ct_expired counted" || not_ok "ct_expired counted"
REPLY_KEY=$(ct_entry_hex 192.0.2.2 53 192.0.2.1 40000 192.0.2.2 53 10.9.0.2 5000 1 1 "$WANIDX" | cut -d' ' -f1-18)
! bpftool map lookup pinned "$CT" $REPLY_KEY >/dev/null 2>&1 && ok "the reply half went with it" || not_ok "the reply half went with it"

# A second daemon on the same run-dir and pin-dir is refused by the lock;
# the first keeps running untouched.
check_fails "a second run is refused while the first runs" timeout -s KILL 10 x run -f
x run -f 2>&1 | grep -q "another xdpnat (pid $DPID) holds the lock of this run-dir" \
	&& ok "the refusal names the running daemon" || not_ok "the refusal names the running daemon"
check "the first daemon is untouched" x status

# SIGTERM: the daemon goes, the data path stays attached and keeps its
# leak guard; status says so; `detach` removes exactly what we added.
kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
[ $rc = 0 ] && ok "daemon exits 0 on SIGTERM" || not_ok "daemon exits 0 on SIGTERM (rc $rc)"
xdp_on rwan && xdp_on rlan && in_r tc filter show dev rwan egress | grep -q xdpnat \
	&& ok "after SIGTERM the data path stays attached" || not_ok "after SIGTERM the data path stays attached"
x status >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "status exits 1: attached, no daemon" || not_ok "status exits 1: attached, no daemon (rc $rc)"
x status 2>&1 | grep -q "NOT RUNNING (since .*frozen" \
	&& ok "status says the flows are frozen, and since when" || not_ok "status says the flows are frozen"
[ ! -e "$RUN/xdpnat.pid" ] && ok "pid file removed" || not_ok "pid file removed"
check "stop is logged" grep -q "stopped; the data path stays attached" "$LOG"
check "detach" x detach
[ "$(xdp_count)" = 0 ] && ok "detach: no XDP program left (ip -d link show)" || not_ok "detach: no XDP program left"
! clsact_on rwan && ok "detach: our clsact on rwan removed" || not_ok "detach: our clsact on rwan removed"
clsact_on rlan && in_r tc filter show dev rlan egress | grep -q u32 && ! in_r tc filter show dev rlan egress | grep -q xdpnat \
	&& ok "detach: the pre-existing clsact on rlan kept, with its filter, ours gone" || not_ok "detach: pre-existing clsact on rlan"
[ ! -e "$RUN/status.json" ] && ok "detach: status file removed" || not_ok "detach: status file removed"
x status >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "status exits 2: nothing attached" || not_ok "status exits 2: nothing attached (rc $rc)"

# SIGKILL leaves everything attached; the next daemon adopts it and swaps
# its programs in place.
check "daemon starts again" start_daemon
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=
xdp_on rwan && ok "after SIGKILL the program is left on rwan" || not_ok "after SIGKILL the program is left on rwan"
check "a new daemon adopts what is left" start_daemon
grep -q "XDP program of the previous run (id [0-9]*) replaced in place" "$LOG" &&
	grep -q "tc filter of the previous run (id [0-9]*) replaced in place" "$LOG" &&
	grep -Eq "adopting the data path of the previous run: [1-9][0-9]* maps reused" "$LOG" \
	&& ok "the previous run's programs are replaced in place and its maps reused" \
	|| not_ok "the previous run's programs are replaced in place and its maps reused"
[ "$(in_r tc filter show dev rwan egress | grep -c 'xdpnat_tc.*direct-action')" = 1 ] \
	&& ok "one tc filter of ours on rwan, not two" || not_ok "one tc filter of ours on rwan, not two"
check "status exits 0 after the recovery" x status
kill -TERM "$DPID"; wait "$DPID"; DPID=
check "detach after the recovery" x detach
[ "$(xdp_count)" = 0 ] && ! in_r tc filter show dev rwan egress | grep -q xdpnat \
	&& ok "after detach no program of ours is left" || not_ok "after detach no program of ours is left"

echo "1..$n"
if [ $failed != 0 ]; then
	echo "# daemon log:"; sed 's/^/# /' "$LOG" 2>/dev/null
	exit 1
fi
exit 0
