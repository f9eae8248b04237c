#!/bin/bash
# Restarts lose no connection, end to end. Stopping the daemon leaves the data
# path attached and its maps pinned; a new `run` adopts them. Proved with:
#  A. paced HTTP downloads (the server sends slowly, so each connection is
#     live across the restart), one through masquerade (LAN client, Internet
#     server) and one through a forward (Internet client, inside server),
#     across  a. SIGTERM + run, with the daemon down for 2 s,
#             b. SIGKILL + run,
#             c. SIGTERM + run with a larger conntrack-max (nat_ct converted
#                into a bigger map, entry by entry);
#             c2. SIGTERM + run over a nat_ct of an older build's slot hash
#                (its header rewritten as that build wrote it): converted
#                into a new table, entry by entry;
#     each time: sha256 intact, the flow's nat_ct entries kept (same outside
#     endpoint, packet counters carried on), programs replaced in place.
#     All the while a LAN host sends UDP every 10 ms on one flow and opens a
#     new TCP connection every 100 ms (a stream of new flows).
#  B. during a's down window: a capture on the Internet side of the WAN link
#     holds no packet with a LAN address; UDP echoes and new TCP connections
#     keep working without a daemon; `xdpnat status` exits 1 and says
#     "frozen", and 0 once `run` is back.
#  C. a second `run` on the same run-dir is refused (the lock) while the
#     first keeps forwarding: the download in flight completes.
#  D. FTP across a restart (SIGTERM + run): a plain session through a forward,
#     inspected by the ALG, whose next PASV after the restart is rewritten
#     again on the same control connection; an FTPS session (AUTH TLS after a
#     rewritten 227: opaque, sequence offset -1) that goes on after the
#     restart with commands and a download.
#  E. the whole test's WAN capture holds no LAN address; at the end, stop and
#     `xdpnat detach` leave no program of ours on the router.
. "$(dirname "$0")/lib.sh"
. "$E2E_LIB_DIR/ftp_lib.sh"
e2e_require_root
e2e_require curl bpftool tcpdump python3 sha256sum vsftpd openssl timeout
export LC_ALL=C		# $EPOCHREALTIME with a decimal point

PACED=$E2E_LIB_DIR/paced_server.py
LOAD=$E2E_LIB_DIR/lifecycle_load.py
UDP=$E2E_LIB_DIR/udp_tool.py
SESSION=$E2E_LIB_DIR/ftp_session.py
DOUBLE=$E2E_LIB_DIR/ftp_double.py
SIZE=4000000 RATE=400000	# a paced download takes 10 s
CTMAX2=98304			# the larger conntrack-max of restart c (default 65536)
RNS=$(e2e_ns router)
PIN=$E2E_BPFFS/xdpnat

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
ftp_files || { e2e_fail "test files"; e2e_finish; }
ftp_cert || { e2e_fail "test certificate"; e2e_finish; }

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF
wan wan0
lan lan0
outbound wan0
forward tcp wan0 8080 to 192.168.0.254:80
forward tcp wan0 21 to 192.168.0.254
forward tcp wan0 2121 to 192.168.0.254
forward tcp wan0 50200-50220 to 192.168.0.254 gate ftp
alg ftp ports 21,2121 expect-timeout 30
EOF
BIGCONF=$E2E_TMP/router-big.conf
{ cat "$CONF"; echo "conntrack-max $CTMAX2"; } > "$BIGCONF"

WWW=$E2E_TMP/www
mkdir -p "$WWW" && chmod 755 "$WWW"
head -c "$SIZE" /dev/urandom > "$WWW/paced.bin"
head -c 2000 /dev/urandom > "$WWW/small.bin"
SUM=$(sha256sum < "$WWW/paced.bin" | cut -d' ' -f1)

# The WAN link, watched from the Internet side for the whole test (headers only).
CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet eth0 "$CAP" -s 128 ip
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts"; e2e_finish; }
e2e_ok "xdpnat starts and reports running"

e2e_bg inet python3 -u "$PACED" 203.0.113.10 80 "$WWW" "$RATE"
e2e_wait_for -t 5 grep -q serving "$E2E_BG_LOG"
e2e_bg lans python3 -u "$PACED" 192.168.0.254 80 "$WWW" "$RATE"
e2e_wait_for -t 5 grep -q serving "$E2E_BG_LOG"
e2e_http_server inet 203.0.113.10 81 "$WWW"		# for the stream of new flows
e2e_bg inet python3 -u "$UDP" echo 203.0.113.10 7

# The LAN host's steady traffic, kept up through restarts a, b, c and c2.
e2e_bg lanc python3 -u "$LOAD" 203.0.113.10 7 203.0.113.10 81 small.bin 2000
LOAD_PID=$E2E_BG_PID LOAD_LOG=$E2E_BG_LOG
e2e_wait_for -t 10 bash -c "grep -q '^U ' '$LOAD_LOG' && grep -q '^T .* ok' '$LOAD_LOG'" \
	&& e2e_ok "LAN host: UDP echoes and new TCP connections through masquerade" \
	|| e2e_fail "LAN host: UDP echoes and new TCP connections through masquerade" "$(tail -n 5 "$LOAD_LOG")"

# ------------------------------------------------------------------ helpers

xdp_id() {	# DEV : id of the XDP program on the router's DEV ("" if none)
	ip -n "$RNS" -d link show dev "$1" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'
}

# pcap_grep FILE REGEX : how many packets of a capture (whole packets) hold REGEX
pcap_grep() {
	python3 - "$@" <<-'EOF'
	import re, struct, sys
	data = open(sys.argv[1], "rb").read()
	rx = re.compile(sys.argv[2].encode())
	n, off = 0, 24
	while off + 16 <= len(data):
	    caplen = struct.unpack_from("<I", data, off + 8)[0]
	    n += bool(rx.search(data[off + 16:off + 16 + caplen]))
	    off += 16 + caplen
	print(n)
	EOF
}

# dl_start TAG PORT : the two paced downloads, in the background, from
# client port PORT: masquerade (lanc -> 203.0.113.10:80) and forward
# (inet -> 198.51.100.1:8080 -> 192.168.0.254:80). Sums in $E2E_TMP/TAG-*.sum.
dl_start() {
	local tag=$1 port=$2
	(e2e_in lanc curl -s -S -m 25 --local-port "$port" http://203.0.113.10/paced.bin \
		2>"$E2E_TMP/$tag-masq.err" | sha256sum | cut -d' ' -f1 > "$E2E_TMP/$tag-masq.sum") &
	DL_MASQ=$!
	(e2e_in inet curl -s -S -m 25 --local-port "$port" http://198.51.100.1:8080/paced.bin \
		2>"$E2E_TMP/$tag-fwd.err" | sha256sum | cut -d' ' -f1 > "$E2E_TMP/$tag-fwd.sum") &
	DL_FWD=$!
	E2E_PIDS+=("$DL_MASQ" "$DL_FWD")
	DL_PORT=$port DL_T0=$EPOCHREALTIME
}

# dl_flows : "<packets> <outside>" of each download's flow, from `xdpnat flows --json`
dl_flows() {
	e2e_xdpnat flows --json 2>/dev/null | python3 -c '
import json, sys
fl = json.load(sys.stdin)
def one(kind, match):
    for f in fl:
        if f["proto"] == "tcp" and f["kind"] == kind and all(f[k] == v for k, v in match.items()):
            return "%d %s" % (f["packets_orig"] + f["packets_reply"], f["outside"])
    return "0 -"
# the masquerade flow by its remote too: the load of the LAN host (its
# connections to port 81) may have used the same client port a while ago
print(one("masq", {"inside": "192.168.0.10:" + sys.argv[1], "remote": "203.0.113.10:80"}))
print(one("forward", {"remote": "198.51.100.2:" + sys.argv[1]}))' "$DL_PORT"
}

# dl_established : both flows are there and past their first 50 packets
dl_established() {
	local m f
	{ read -r m _; read -r f _; } < <(dl_flows)
	[ "${m:-0}" -gt 50 ] && [ "${f:-0}" -gt 50 ]
}

# dl_before TAG : wait until both downloads run, remember their flows
dl_before() {
	if e2e_wait_for -t 5 dl_established; then
		DL_BEFORE=$(dl_flows)
	else
		DL_BEFORE=""
		e2e_fail "$1: both downloads are under way before the restart" "$(dl_flows)" \
			"$(cat "$E2E_TMP/$1"-*.err)"
	fi
}

# dl_after TAG : after the restart: both still in flight (so the connection
# was live across the restart), their nat_ct entries kept (same outside
# endpoint, packet counts carried on, not restarted from zero)
dl_after() {
	local tag=$1 after live=yes mb ob fb obf ma oa fa oaf
	kill -0 "$DL_MASQ" 2>/dev/null && kill -0 "$DL_FWD" 2>/dev/null || live=no
	after=$(dl_flows)
	e2e_log "$tag: restart over $(python3 -c "print('%.1f' % ($EPOCHREALTIME - $DL_T0))") s into the downloads (each takes $((SIZE / RATE)).$((SIZE % RATE * 10 / RATE)) s)"
	[ $live = yes ] && e2e_ok "$tag: both downloads are still in flight after the restart" \
		|| e2e_fail "$tag: both downloads are still in flight after the restart" \
			"a download ended before the restart was over: this run proves nothing"
	{ read -r mb ob; read -r fb obf; } <<< "$DL_BEFORE"
	{ read -r ma oa; read -r fa oaf; } <<< "$after"
	if [ -n "$DL_BEFORE" ] && [ "$oa" = "$ob" ] && [ "$oaf" = "$obf" ] && [ "$ob" != - ] &&
		[ "${ma:-0}" -gt "${mb:-0}" ] && [ "${fa:-0}" -gt "${fb:-0}" ]; then
		e2e_ok "$tag: both flows kept across the restart (outside $ob and $obf, packets $mb -> $ma, $fb -> $fa)"
	else
		e2e_fail "$tag: both flows kept across the restart" "before (masq, forward): $DL_BEFORE" \
			"after: $after"
	fi
}

# dl_finish TAG : wait for both downloads, compare their sha256
dl_finish() {
	local tag=$1 w
	wait "$DL_MASQ" "$DL_FWD" 2>/dev/null
	for w in masq fwd; do
		local got
		got=$(cat "$E2E_TMP/$tag-$w.sum" 2>/dev/null)
		[ "$got" = "$SUM" ] && e2e_ok "$tag: paced download through $w across the restart, sha256 intact" \
			|| e2e_fail "$tag: paced download through $w across the restart, sha256 intact" \
				"got $got want $SUM" "$(cat "$E2E_TMP/$tag-$w.err")"
	done
}

# adopted_in_place TAG : the new run replaced the programs in place on both
# interfaces and reused (or converted) the maps
adopted_in_place() {
	local tag=$1 log=$E2E_XDPNAT_LOG
	if grep -q "wan0: XDP program of the previous run (id [0-9]*) replaced in place" "$log" &&
		grep -q "lan0: XDP program of the previous run (id [0-9]*) replaced in place" "$log" &&
		grep -q "wan0: tc filter of the previous run (id [0-9]*) replaced in place" "$log" &&
		grep -q "lan0: tc filter of the previous run (id [0-9]*) replaced in place" "$log" &&
		grep -Eq "adopting the data path of the previous run: [1-9][0-9]* maps reused as they are, $2 converted" "$log"; then
		e2e_ok "$tag: the new run replaced XDP and tc programs in place and adopted the maps ($(grep -o '[0-9]* maps reused as they are, [0-9]* converted, [0-9]* new' "$log"))"
	else
		e2e_fail "$tag: the new run replaced the programs in place and adopted the maps" "$(cat "$log")"
	fi
}

# ------------------------------------------------------------------ a: SIGTERM
dl_start a 40001
dl_before a
CYC=$E2E_TMP/cycle.pcap
e2e_capture_start inet eth0 "$CYC" -s 128 ip
ids0="$(xdp_id wan0) $(xdp_id lan0)"
e2e_xdpnat_stop && e2e_ok "a: SIGTERM: the daemon exits 0" \
	|| e2e_fail "a: SIGTERM: the daemon exits 0" "$(tail -n 5 "$E2E_XDPNAT_LOG")"
T0=$EPOCHREALTIME
[ "$(xdp_id wan0) $(xdp_id lan0)" = "$ids0" ] && [ "$ids0" != " " ] \
	&& e2e_ok "a: no daemon: the same XDP programs stay attached to wan0 and lan0 ($ids0)" \
	|| e2e_fail "a: no daemon: the XDP programs stay attached" "before: $ids0" \
		"now: $(xdp_id wan0) $(xdp_id lan0)"
out=$(e2e_xdpnat status 2>&1); rc=$?
[ $rc = 1 ] && grep -q "NOT RUNNING" <<< "$out" && grep -q "frozen" <<< "$out" \
	&& e2e_ok "a: no daemon: xdpnat status exits 1, NOT RUNNING, frozen" \
	|| e2e_fail "a: no daemon: xdpnat status exits 1, NOT RUNNING, frozen" "exit $rc" "$out"
# the daemon stays down for 2 s, while the LAN host keeps sending
sleep "$(python3 -c "import time; print(max(0.0, $T0 + 2 - time.time()))")"
T1=$EPOCHREALTIME
e2e_xdpnat_start router "$CONF" || e2e_fail "a: xdpnat run again"
e2e_capture_stop "$CYC"
out=$(e2e_xdpnat status 2>&1); rc=$?
[ $rc = 0 ] && grep -q "daemon: running" <<< "$out" \
	&& e2e_ok "a: after run: xdpnat status exits 0, running" \
	|| e2e_fail "a: after run: xdpnat status exits 0, running" "exit $rc" "$out"
adopted_in_place a 0
dl_after a
# no daemon for T1 - T0 s: what got through, what did not leak
win="$T0 $T1"
udp_down=$(awk -v a="$T0" -v b="$T1" '$1 == "U" && $2 >= a && $2 <= b' "$LOAD_LOG" | wc -l)
tcp_down=$(awk -v a="$T0" -v b="$T1" '$1 == "T" && $2 >= a && $3 <= b && $4 == "ok"' "$LOAD_LOG" | wc -l)
down=$(python3 -c "print('%.1f' % ($T1 - $T0))")
[ "$udp_down" -gt 50 ] && e2e_ok "a: no daemon for $down s: the UDP flow kept going ($udp_down echoes came back)" \
	|| e2e_fail "a: no daemon: the UDP flow kept going" "$udp_down echoes in [$win]"
[ "$tcp_down" -gt 5 ] && e2e_ok "a: no daemon: new TCP connections through masquerade worked ($tcp_down)" \
	|| e2e_fail "a: no daemon: new TCP connections through masquerade worked" "$tcp_down in [$win]" \
		"$(grep '^T' "$LOAD_LOG" | tail -n 30)"
total=$(e2e_capture_count "$CYC")
nat=$(e2e_capture_count "$CYC" src host 198.51.100.1)
leaks=$(e2e_capture_count "$CYC" net 192.168.0.0/16)
[ "$leaks" = 0 ] && [ "$nat" -gt 100 ] \
	&& e2e_ok "a: WAN capture over the stop/start cycle: $total packets, $nat from the WAN address, none with a LAN address" \
	|| e2e_fail "a: WAN capture over the stop/start cycle: no LAN address" "total $total, from 198.51.100.1 $nat, LAN $leaks" \
		"$(tcpdump -n -r "$CYC" net 192.168.0.0/16 2>/dev/null | head -n 5)"
dl_finish a

# ------------------------------------------------------------------ b: SIGKILL
dl_start b 40002
dl_before b
e2e_xdpnat_kill
out=$(e2e_xdpnat status 2>&1); rc=$?
[ $rc = 1 ] && [ -n "$(xdp_id wan0)" ] && [ -n "$(xdp_id lan0)" ] \
	&& e2e_ok "b: SIGKILL: the programs stay attached, status exits 1" \
	|| e2e_fail "b: SIGKILL: the programs stay attached, status exits 1" "exit $rc" "$out"
e2e_xdpnat_start router "$CONF" || e2e_fail "b: xdpnat run after SIGKILL"
adopted_in_place b 0
# C: a second run is refused by the lock; the first goes on untouched
ids0="$(xdp_id wan0) $(xdp_id lan0)"
out=$(timeout -s KILL 10 ip netns exec "$RNS" "$E2E_XDPNAT" run -f -c "$E2E_XDPNAT_CONF" 2>&1); rc=$?
[ $rc != 0 ] && grep -q "another xdpnat (pid $E2E_XDPNAT_PID) holds the lock of this run-dir" <<< "$out" \
	&& e2e_ok "b: a second run is refused: '$(grep -o 'another xdpnat.*' <<< "$out" | head -n 1)'" \
	|| e2e_fail "b: a second run is refused" "exit $rc" "$out"
kill -0 "$E2E_XDPNAT_PID" 2>/dev/null && e2e_xdpnat status >/dev/null 2>&1 &&
	[ "$(xdp_id wan0) $(xdp_id lan0)" = "$ids0" ] \
	&& e2e_ok "b: the first daemon keeps running with its programs ($ids0)" \
	|| e2e_fail "b: the first daemon keeps running with its programs" "before $ids0" \
		"now $(xdp_id wan0) $(xdp_id lan0)"
dl_after b
dl_finish b

# ------------------------------------------------------------------ c: larger conntrack-max
max0=$(bpftool -j map show pinned "$PIN/nat_ct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])')
dl_start c 40003
dl_before c
e2e_xdpnat_stop || e2e_fail "c: SIGTERM: the daemon exits 0"
e2e_xdpnat_start router "$BIGCONF" || e2e_fail "c: xdpnat run with conntrack-max $CTMAX2"
adopted_in_place c "[1-9][0-9]*"
e2e_wait_for -t 5 grep -q "nat_ct: adopted with a conversion" "$E2E_XDPNAT_LOG"
conv=$(grep -o "nat_ct: adopted with a conversion.*" "$E2E_XDPNAT_LOG")
copied=$(sed -n 's/.*: \([0-9]*\) entries copied, \([0-9]*\) lost.*/\1 \2/p' <<< "$conv")
read -r ncopied nlost <<< "$copied"
# nat_ct is a table of slots: max_entries 1 + ceil(2.5 x conntrack-max)
slots2=$((1 + (5 * CTMAX2 + 1) / 2))
[ "${ncopied:-0}" -gt 0 ] && [ "$nlost" = 0 ] && grep -q "size $max0 -> $slots2 entries" <<< "$conv" \
	&& e2e_ok "c: $conv" || e2e_fail "c: nat_ct converted, entries copied, none lost" "$conv" \
		"$(cat "$E2E_XDPNAT_LOG")"
max1=$(bpftool -j map show pinned "$PIN/nat_ct" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])')
limit1=$(ct_head "$PIN/nat_ct" limit 2>/dev/null)
[ "$max1" = "$slots2" ] && [ "$limit1" = $((2 * CTMAX2)) ] \
	&& e2e_ok "c: bpftool: the pinned nat_ct has max_entries $max1 (was $max0) = 1 + 2.5 x conntrack-max, room for $limit1 entries = 2 x conntrack-max" \
	|| e2e_fail "c: bpftool: the pinned nat_ct has max_entries 1 + 2.5 x conntrack-max, its header's limit 2 x conntrack-max" \
		"max_entries $max0 -> $max1 (want $slots2), limit ${limit1:-?} (want $((2 * CTMAX2)))"
dl_after c
dl_finish c

# ------------------------------------------------------------------ c2: an older slot hash
# A restart over the table of an older build, whose entries sit where its
# hash (jhash) put them: converted into a new table, entry by entry.
dl_start c2 40004
dl_before c2
e2e_xdpnat_stop || e2e_fail "c2: SIGTERM: the daemon exits 0"
python3 "$E2E_LIB_DIR/ct_slots.py" old-header "$PIN/nat_ct"
e2e_xdpnat_start router "$BIGCONF" || e2e_fail "c2: xdpnat run over a table of the older hash"
adopted_in_place c2 "[1-9][0-9]*"
e2e_wait_for -t 5 grep -q "nat_ct: adopted with a conversion (its slot hash changed)" "$E2E_XDPNAT_LOG"
conv=$(grep -o "nat_ct: adopted with a conversion (its slot hash changed).*" "$E2E_XDPNAT_LOG")
read -r ncopied nlost <<< "$(sed -n 's/.*: \([0-9]*\) entries copied, \([0-9]*\) lost.*/\1 \2/p' <<< "$conv")"
[ "${ncopied:-0}" -gt 0 ] && [ "$nlost" = 0 ] && [ "$(ct_head "$PIN/nat_ct" magic)" = $((0x33636e78)) ] \
	&& e2e_ok "c2: $conv; the new table has the current header" \
	|| e2e_fail "c2: nat_ct of the older hash converted, entries copied, none lost" "$conv" \
		"magic $(ct_head "$PIN/nat_ct" magic)"
dl_after c2
dl_finish c2

n=$(for d in wan0 lan0; do tc -n "$RNS" filter show dev "$d" egress; done | grep -c 'xdpnat_tc')
[ "$n" = 2 ] && e2e_ok "after four restarts: one tc filter of ours per interface" \
	|| e2e_fail "after four restarts: one tc filter of ours per interface" "$n"

# The stream of new flows during the four restarts.
e2e_kill "$LOAD_PID"
tcp_ok=$(grep -c '^T .* ok$' "$LOAD_LOG") tcp_fail=$(grep -c '^T .* fail' "$LOAD_LOG")
[ "$tcp_ok" -gt 100 ] && [ "$tcp_fail" = 0 ] \
	&& e2e_ok "restarts under load: all $tcp_ok new TCP connections of the LAN host succeeded" \
	|| e2e_fail "restarts under load: every new TCP connection succeeded" "$tcp_ok ok, $tcp_fail failed" \
		"$(grep '^T .* fail' "$LOAD_LOG" | head -n 10)"

# ------------------------------------------------------------------ D: FTP
FCAP=$E2E_TMP/ftp.pcap		# the control connections on the WAN link, whole packets
e2e_capture_start inet eth0 "$FCAP" tcp port 21 or tcp port 2121
ftp_server lans 192.168.0.254 plain
e2e_bg lans python3 -u "$DOUBLE" server 192.168.0.254 "$FTP_ROOT" "$E2E_TMP/ftp.crt" \
	"$E2E_TMP/ftp.key" 50200 50220 2121
e2e_wait_for -t 5 grep -q listening "$E2E_BG_LOG"
mkdir -p "$E2E_TMP/sa" "$E2E_TMP/sb"
e2e_bg inet python3 -u "$SESSION" plain 198.51.100.1 21 big.bin "$E2E_TMP/sa"
SA_PID=$E2E_BG_PID SA_LOG=$E2E_BG_LOG
e2e_bg inet python3 -u "$SESSION" tls 198.51.100.1 2121 big.bin "$E2E_TMP/sb"
SB_PID=$E2E_BG_PID SB_LOG=$E2E_BG_LOG
e2e_wait_for -t 20 bash -c "grep -q '^ready\|^error' '$SA_LOG' && grep -q '^ready\|^error' '$SB_LOG'"
grep -q "^before 198.51.100.1 $FTP_SUM$" "$SA_LOG" \
	&& e2e_ok "D: plain FTP through the forward: the 227 names the WAN address, download intact" \
	|| e2e_fail "D: plain FTP through the forward: the 227 names the WAN address, download intact" \
		"$(cat "$SA_LOG")"
grep -q "^clear 198.51.100.1 $FTP_SUM$" "$SB_LOG" && grep -q "^tls [0-9.]* $FTP_SUM$" "$SB_LOG" \
	&& e2e_ok "D: FTPS: a rewritten 227, then AUTH TLS, both downloads intact" \
	|| e2e_fail "D: FTPS: a rewritten 227, then AUTH TLS, both downloads intact" "$(cat "$SB_LOG")"
alg=$(ftp_alg_entries)
sa_port=$(awk '$1 == "198.51.100.2" && $4 == 21 { print $2 }' <<< "$alg" | head -n 1)
sb_port=$(awk '$1 == "198.51.100.2" && $4 == 2121 { print $2 }' <<< "$alg" | head -n 1)
sa_alg() { ftp_alg_entries | awk -v p="$sa_port" '$1 == "198.51.100.2" && $2 == p && $4 == 21'; }
sb_alg() { ftp_alg_entries | awk -v p="$sb_port" '$1 == "198.51.100.2" && $2 == p && $4 == 2121'; }
sa_alg | awk '$5 == 1 && $7 == 0' | grep -q . \
	&& e2e_ok "D: the plain session is inspected by the ALG before the restart (nat_alg: $(sa_alg))" \
	|| e2e_fail "D: the plain session is inspected by the ALG before the restart" "$alg"
sb_alg | awk '$5 == 2 && $7 > 0 && $8 == 0 && $9 == -1' | grep -q . \
	&& e2e_ok "D: the FTPS session is opaque with offsets 0/-1 before the restart" \
	|| e2e_fail "D: the FTPS session is opaque with offsets 0/-1 before the restart" "$alg"

e2e_xdpnat_stop || e2e_fail "D: SIGTERM: the daemon exits 0"
e2e_xdpnat_start router "$BIGCONF" || e2e_fail "D: xdpnat run again"
e2e_wait_for -t 5 grep -q "alg: FTP ALG running" "$E2E_XDPNAT_LOG" \
	|| e2e_log "no 'alg: FTP ALG running' in the new daemon's log"
touch "$E2E_TMP/sa/go" "$E2E_TMP/sb/go"
e2e_wait_for -t 30 bash -c "grep -q '^bye\|^error' '$SA_LOG' && grep -q '^bye\|^error' '$SB_LOG'"
a227=$(sed -n 's/^227 after //p' "$SA_LOG")
[ "$a227" = 198.51.100.1 ] \
	&& e2e_ok "D: plain FTP after the restart: the next 227 on the same control connection is rewritten again (WAN address)" \
	|| e2e_fail "D: plain FTP after the restart: the next 227 on the same control connection is rewritten again" \
		"227 named ${a227:-?}" "$(cat "$SA_LOG")" "nat_alg: $(sa_alg)"
grep -q "^after [0-9.]* $FTP_SUM$" "$SA_LOG" && grep -q "^bye" "$SA_LOG" \
	&& e2e_ok "D: plain FTP after the restart: the download on the same session is intact" \
	|| e2e_fail "D: plain FTP after the restart: the download on the same session is intact" "$(cat "$SA_LOG")"
grep -q "^after [0-9.]* $FTP_SUM$" "$SB_LOG" && grep -q "^bye" "$SB_LOG" \
	&& e2e_ok "D: FTPS after the restart: NOOPs, a download and QUIT on the same TLS session work" \
	|| e2e_fail "D: FTPS after the restart: NOOPs, a download and QUIT on the same TLS session work" \
		"$(cat "$SB_LOG")" "nat_alg: $(sb_alg)"
sb_alg | awk '$5 == 2 && $8 == 0 && $9 == -1' | grep -q . \
	&& e2e_ok "D: the FTPS session kept its offsets 0/-1 across the restart" \
	|| e2e_fail "D: the FTPS session kept its offsets 0/-1 across the restart" "$(ftp_alg_entries)"
e2e_kill "$SA_PID"; e2e_kill "$SB_PID"
e2e_capture_stop "$FCAP"
text=$(pcap_grep "$FCAP" '192,168,|192\.168\.')
pasv=$(pcap_grep "$FCAP" '227 Entering Passive Mode \(198,51,100,1,')
[ "$text" = 0 ] && [ "$pasv" -ge 3 ] \
	&& e2e_ok "D: WAN link: $pasv 227s in clear, all naming 198.51.100.1, no private address in FTP text" \
	|| e2e_fail "D: WAN link: every 227 in clear names the WAN address, no private address in FTP text" \
		"rewritten 227s: $pasv (want 3: plain before and after the restart, FTPS before AUTH TLS)" \
		"$(tcpdump -n -A -r "$FCAP" 2>/dev/null | grep -E '192,168,|192\.168\.' | head -n 3)"

# ------------------------------------------------------------------ E: the end
e2e_capture_stop "$CAP"
total=$(e2e_capture_count "$CAP")
leaks=$(e2e_capture_count "$CAP" net 192.168.0.0/16)
[ "$total" -gt 10000 ] && [ "$leaks" = 0 ] \
	&& e2e_ok "whole test: $total packets on the WAN link, none with a LAN address" \
	|| e2e_fail "whole test: no LAN address on the WAN link" "total $total, LAN $leaks" \
		"$(tcpdump -n -r "$CAP" net 192.168.0.0/16 2>/dev/null | head -n 5)"
e2e_xdpnat_stop && e2e_ok "the daemon stops cleanly" || e2e_fail "the daemon stops cleanly"
e2e_check "xdpnat detach" e2e_xdpnat detach
n=$(ip -n "$RNS" -d link show | grep -c 'prog/xdp')
t=$(for d in wan0 lan0; do tc -n "$RNS" filter show dev "$d" egress; done 2>/dev/null | grep -c xdpnat)
q=$(tc -n "$RNS" qdisc show | grep -c clsact)
[ "$n" = 0 ] && [ "$t" = 0 ] && [ "$q" = 0 ] \
	&& e2e_ok "after detach: no XDP program, no tc filter, no clsact (the first run made it) on the router" \
	|| e2e_fail "after detach: no XDP program, no tc filter, no clsact on the router" "xdp $n, tc $t, clsact $q" \
		"$(ip -n "$RNS" -d link show | grep prog/xdp)" "$(tc -n "$RNS" qdisc show)"
e2e_xdpnat status >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && e2e_ok "after detach: xdpnat status exits 2 (nothing attached)" \
	|| e2e_fail "after detach: xdpnat status exits 2" "exit $rc"
e2e_finish
