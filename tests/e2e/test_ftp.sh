#!/bin/bash
# FTP through xdpnat's ALG (AF_XDP) with vsftpd and curl:
#  A. LAN client, Internet server: PASV, EPSV, PORT, EPRT (PORT/EPRT are
#     rewritten to the WAN address and admitted by an expectation);
#  B. Internet client, server behind `forward tcp wan0 21`: PASV (the 227's
#     private address rewritten), EPSV, active; 300 PASV in one session
#     hold at most 2 expectations in nat_expect (read from the pinned map),
#     and a download after them works; HTTP on port 21 (not FTP) handed
#     back at once;
#  C. explicit FTP over TLS behind the NAT, the field case of shared/seed:
#     fails with only port 21 forwarded; works with the server's passive
#     address set to the WAN address and the passive range forwarded with
#     `gate ftp`, which a peer without a control session cannot pass;
#     implicit FTPS (990) never reaches the ALG; after AUTH TLS not one more
#     packet of the control flow reaches user space, also when a rewrite
#     before it left a sequence offset for XDP to apply; an unused
#     expectation goes with its control connection.
# Every download is checked by sha256; the WAN link is captured and must
# carry no private address, in headers or in FTP text; every TCP checksum
# is checked where it arrives. test_ftp_offload.sh runs it again on links
# with their default offloads (lib.sh: E2E_OFFLOADS).
. "$(dirname "$0")/lib.sh"
. "$E2E_LIB_DIR/ftp_lib.sh"
e2e_require_root
e2e_require vsftpd curl openssl bpftool tcpdump python3 sha256sum

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
ftp_files || { e2e_fail "test files"; e2e_finish; }
ftp_cert || { e2e_fail "test certificate"; e2e_finish; }

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF
wan wan0
lan lan0
outbound wan0
forward tcp wan0 21 to 192.168.0.254
forward tcp wan0 990 to 192.168.0.254
alg ftp ports 21 implicit-tls 990 expect-timeout 30
timeout tcp-closing 2
EOF

CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet eth0 "$CAP" ip
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with alg ftp"; e2e_finish; }
e2e_wait_for -t 5 grep -q "alg: FTP ALG running" "$E2E_XDPNAT_LOG" \
	&& e2e_ok "xdpnat starts with alg ftp, AF_XDP sockets open" \
	|| e2e_fail "xdpnat starts with alg ftp, AF_XDP sockets open" "$(cat "$E2E_XDPNAT_LOG")"
e2e_log "links: $(e2e_mode)"
e2e_csum_watch_start inet eth0 inet
e2e_csum_watch_start lanc eth0 lanc
e2e_csum_watch_start lans eth0 lans
alg_state=$(e2e_xdpnat status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["alg"])')
[ "$alg_state" = running ] && e2e_ok "status reports the ALG running (not degraded)" \
	|| e2e_fail "status reports the ALG running (not degraded)" "alg: $alg_state"

# ------------------------------------------------------------------ A
ftp_server inet 203.0.113.10 inet
INET_FTP_LOG=$FTP_LOG
URL=ftp://203.0.113.10/big.bin
ftp_check_get "A: LAN client, PASV (--disable-epsv): download intact" lanc "$URL" --disable-epsv
ftp_check_get "A: LAN client, EPSV: download intact" lanc "$URL"
used0=$(ftp_stat expect_used)
ftp_check_get "A: LAN client, active PORT (-P - --disable-eprt): download intact" \
	lanc "$URL" -P - --disable-eprt
ftp_check_get "A: LAN client, active EPRT (-P -): download intact" lanc "$URL" -P -
used1=$(ftp_stat expect_used)
[ "$((used1 - used0))" -ge 2 ] && e2e_ok "A: active data connections admitted by expectations ($((used1 - used0)))" \
	|| e2e_fail "A: active data connections admitted by expectations" "expect_used $used0 -> $used1"
grep -qE 'PORT 198,51,100,1,' "$INET_FTP_LOG" && grep -qE 'EPRT \|1\|198\.51\.100\.1\|' "$INET_FTP_LOG" \
	&& ! grep -q '192\.168\.\|192,168,' "$INET_FTP_LOG" \
	&& e2e_ok "A: the server saw PORT and EPRT naming the WAN address, never a LAN one" \
	|| e2e_fail "A: the server saw PORT and EPRT naming the WAN address" \
		"$(grep -E 'PORT|EPRT|CONNECT' "$INET_FTP_LOG")"
e2e_kill "$FTP_PID"

# ------------------------------------------------------------------ B
ftp_server lans 192.168.0.254 lans
LANS_FTP_LOG=$FTP_LOG
URL=ftp://198.51.100.1/big.bin
used0=$(ftp_stat expect_used)
ftp_check_get "B: forward 21, PASV with the 227 address honoured: download intact" \
	inet "$URL" --disable-epsv --no-ftp-skip-pasv-ip
ftp_check_get "B: forward 21, EPSV: download intact" inet "$URL"
used1=$(ftp_stat expect_used)
[ "$((used1 - used0))" -ge 2 ] && e2e_ok "B: passive data connections admitted by expectations ($((used1 - used0)))" \
	|| e2e_fail "B: passive data connections admitted by expectations" "expect_used $used0 -> $used1"
ftp_check_get "B: forward 21, active (-P -): download intact" inet "$URL" -P -
grep -q 'CONNECT: Client "198\.51\.100\.2"' "$LANS_FTP_LOG" \
	&& e2e_ok "B: the inside server sees the real client address" \
	|| e2e_fail "B: the inside server sees the real client address" "$(head -n 5 "$LANS_FTP_LOG")"

# One logged-in client sends 300 PASV on one control connection: each 227
# is rewritten and opens an expectation, but the session holds at most 2
# (ALG_EXPECT_PER_SESSION), so nat_expect (4096 entries for everybody)
# never fills; a download on the same session works afterwards.
MANY=$E2E_TMP/pasv-many
mkdir -p "$MANY"
repl0=$(ftp_stat alg_expects_replaced)
e2e_bg inet python3 -u "$E2E_LIB_DIR/ftp_pasv_many.py" 198.51.100.1 300 big.bin "$MANY"
MANY_PID=$E2E_BG_PID MANY_LOG=$E2E_BG_LOG
e2e_wait_for -t 60 grep -qE '^(ready|error)' "$MANY_LOG"
ctl=$(sed -n 's/^ctl //p' "$MANY_LOG")
held=$(ftp_expects_ctl | awk -v p="${ctl:-none}" '$1 == "198.51.100.2" && $6 == p' | wc -l)
all=$(ftp_expects | wc -l)
if grep -q '^ready' "$MANY_LOG" && [ -n "$ctl" ] && [ "$held" -ge 1 ] && [ "$held" -le 2 ] &&
	[ "$all" -le 4 ]; then
	e2e_ok "B: 300 PASV in one session: $held of its expectations in nat_expect ($all in all)"
else
	e2e_fail "B: 300 PASV in one session hold at most 2 expectations" "held $held, all $all" \
		"$(cat "$MANY_LOG")" "$(ftp_expects_ctl | head -n 20)"
fi
# nat_alg_stats is written once a second
replaced() { repl1=$(ftp_stat alg_expects_replaced); [ "$((repl1 - repl0))" -ge 298 ]; }
e2e_wait_for -t 5 replaced && e2e_ok "B: ... the older ones were replaced, counted ($((repl1 - repl0)))" \
	|| e2e_fail "B: ... the older ones were replaced, counted" "alg_expects_replaced $repl0 -> $repl1"
touch "$MANY/go"
e2e_wait_for -t 40 grep -qE '^(sha|error)' "$MANY_LOG"
grep -q "^sha $FTP_SUM\$" "$MANY_LOG" \
	&& e2e_ok "B: ... and a download on the same session after them is intact" \
	|| e2e_fail "B: ... and a download on the same session after them is intact" "$(cat "$MANY_LOG")" \
		"$(tail -n 5 "$E2E_XDPNAT_LOG")"
e2e_kill "$MANY_PID"
e2e_kill "$FTP_PID"

# Not FTP on port 21 (an HTTP server; the client speaks first, the shape of
# NAT slipstreaming): the ALG hands the flow back at once, untouched.
e2e_http_server lans 192.168.0.254 21 "$FTP_ROOT"
got=$(e2e_in inet curl -s -m 20 http://198.51.100.1:21/big.bin | sha256sum | cut -d' ' -f1)
nf=$(ftp_alg_entries | awk '$1 == "198.51.100.2" && $5 == 3')
read -r _ _ _ _ _ nfpk _ <<< "$nf"
[ "$got" = "$FTP_SUM" ] && [ -n "$nf" ] && [ "${nfpk:-99}" -lt 10 ] \
	&& e2e_ok "B: HTTP on port 21 is handed back as not-FTP after $nfpk packets, download intact" \
	|| e2e_fail "B: HTTP on port 21 is handed back as not-FTP" "sha256 $got" "$(ftp_alg_entries)"
e2e_kill "$E2E_HTTP_PID"

# No private address on the WAN link: headers, and the FTP text (a 227
# that slipped through unrewritten would carry 192,168,0,254).
e2e_capture_stop "$CAP"
leaks=$(e2e_capture_count "$CAP" net 192.168.0.0/16)
text=$(tcpdump -n -A -r "$CAP" 'tcp port 21' 2>/dev/null | grep -cE '192,168,|192\.168\.')
pasv=$(tcpdump -n -A -r "$CAP" 'tcp port 21' 2>/dev/null | grep -c '227 Entering Passive Mode (198,51,100,1,')
[ "$leaks" = 0 ] && [ "$text" = 0 ] && [ "$pasv" -ge 1 ] \
	&& e2e_ok "WAN capture: no private address in headers or FTP text; the 227 names 198.51.100.1" \
	|| e2e_fail "WAN capture: no private address" "headers $leaks, text $text, rewritten 227s $pasv"

# ------------------------------------------------------------------ C
# The field case: FTPS server behind the NAT, default passive address.
ftp_server lans 192.168.0.254 tls1 "${FTP_TLS[@]}"
e2e_check_not "C: FTPS with only port 21 forwarded fails (227 encrypted: private address, no expectation)" \
	e2e_in inet curl -s -S --connect-timeout 3 -m 15 -k --ssl-reqd --disable-epsv \
		--no-ftp-skip-pasv-ip -o /dev/null "$URL"
e2e_check_not "C: ... and with EPSV too (the data port is not forwarded)" \
	e2e_in inet curl -s -S --connect-timeout 3 -m 15 -k --ssl-reqd -o /dev/null "$URL"
e2e_check "C: the daemon tells the operator what the FTPS server needs (gated range, passive address)" \
	e2e_wait_for -t 5 grep -qE "alg: FTP server 192\.168\.0\.254: its control channel to 198\.51\.100\.2 is encrypted .*forward tcp wan0 <lo>-<hi> to 192\.168\.0\.254 gate ftp.*DDNS name" "$E2E_XDPNAT_LOG"
e2e_kill "$FTP_PID"

# The fix of the field case, without its exposure: passive address = the
# WAN address, passive range forwarded with `gate ftp`.
echo "forward tcp wan0 $FTP_PASV_LO-$FTP_PASV_HI to 192.168.0.254 gate ftp" >> "$E2E_XDPNAT_CONF"
kill -HUP "$E2E_XDPNAT_PID"
e2e_wait_for -t 5 grep -q "reload: applied" "$E2E_XDPNAT_LOG" || e2e_log "no reload message"
ftp_server lans 192.168.0.254 tls2 "${FTP_TLS[@]}" pasv_address=198.51.100.1
ftp_check_get "C: FTPS, passive address = WAN, range forwarded with gate ftp: PASV download intact" \
	inet "$URL" -k --ssl-reqd --disable-epsv --no-ftp-skip-pasv-ip
ftp_check_get "C: FTPS, gate ftp: EPSV download intact" inet "$URL" -k --ssl-reqd

# A peer without a control session is kept out of the gated range.
gate0=$(ftp_stat drop_gate)
e2e_check_not "C: a peer without a control session cannot reach the gated passive range" \
	e2e_in inet python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(3); s.bind(("203.0.113.10", 0))
s.connect(("198.51.100.1", int(sys.argv[1])))' "$((FTP_PASV_LO + 7))"
gate1=$(ftp_stat drop_gate)
[ "$gate1" -gt "$gate0" ] && e2e_ok "C: ... its SYNs are counted in drop_gate ($gate0 -> $gate1)" \
	|| e2e_fail "C: ... its SYNs are counted in drop_gate" "drop_gate $gate0 -> $gate1"

# Implicit FTPS (990): TLS from the first byte, never handed to the ALG;
# its control session opens the gated range all the same.
e2e_kill "$FTP_PID"
touser0=$(ftp_stat alg_to_user)
FTP_PORT=990 ftp_server lans 192.168.0.254 implicit "${FTP_TLS[@]}" pasv_address=198.51.100.1 \
	implicit_ssl=YES
ftp_check_get "C: implicit FTPS on 990, gated passive range: download intact" \
	inet ftps://198.51.100.1:990/big.bin -k
touser1=$(ftp_stat alg_to_user)
[ "$touser0" = "$touser1" ] && e2e_ok "C: ... and not one of its packets went to the ALG" \
	|| e2e_fail "C: implicit FTPS never goes to the ALG" "alg_to_user $touser0 -> $touser1"
e2e_kill "$FTP_PID"
ftp_server lans 192.168.0.254 tls3 "${FTP_TLS[@]}" pasv_address=198.51.100.1

# After AUTH TLS the flow is opaque: XDP forwards it, user space sees
# nothing more of it. A slow download keeps the session busy meanwhile.
(ftp_get inet "$URL" -k --ssl-reqd --limit-rate 500K > "$E2E_TMP/slow.sum") &
SLOW=$!
sleep 2
e1=$(ftp_alg_entries | awk '$1 == "198.51.100.2" && $5 == 2' | sort -k7 -n | tail -n 1)
read -r _ cport _ _ _ up1 _ <<< "$e1"
cport=${cport:-0}
ct1=$(ftp_ct_packets 198.51.100.2 "$cport" 21)
sleep 3
e2=$(ftp_alg_entries | awk -v p="$cport" '$1 == "198.51.100.2" && $2 == p')
read -r _ _ _ _ _ up2 _ <<< "$e2"
up2=${up2:-x}
ct2=$(ftp_ct_packets 198.51.100.2 "$cport" 21)
wait "$SLOW"
[ "$(cat "$E2E_TMP/slow.sum")" = "$FTP_SUM" ] && e2e_ok "C: FTPS download during the opaque check intact" \
	|| e2e_fail "C: FTPS download during the opaque check intact" "$(cat "$E2E_TMP/curl.err")"
read -r ctp2 flags nent <<< "$ct2"
ctp2=${ctp2:-0} flags=${flags:-0}
# 18 = NAT_CT_F_OPAQUE | NAT_CT_F_SEQADJ, in both entries
if [ -n "$e1" ] && [ "$up1" = "$up2" ] && [ "$ctp2" -gt "$((up2 + 10))" ] &&
	[ $((flags & 18)) = 18 ] && [ "$nent" = 2 ]; then
	e2e_ok "C: after AUTH TLS user_packets stays at $up2 while the control flow carried $ctp2 packets (opaque, seqadj)"
else
	e2e_fail "C: after AUTH TLS user_packets stops growing" "nat_alg then: $e1" "nat_alg later: $e2" \
		"nat_ct packets/flags: $ct1 -> $ct2" "$(ftp_alg_entries)"
fi
e2e_kill "$FTP_PID"

# An AUTH TLS after a rewritten 227 (RFC 4217 allows it, vsftpd does not:
# a small double stands in): the flow goes opaque with a sequence offset
# (-1: "192,168,0,254" became "198,51,100,1") that XDP keeps applying to
# the encrypted control channel.
DOUBLE=$E2E_LIB_DIR/ftp_double.py
e2e_bg lans python3 -u "$DOUBLE" server 192.168.0.254 "$FTP_ROOT" "$E2E_TMP/ftp.crt" \
	"$E2E_TMP/ftp.key" "$FTP_PASV_LO" "$FTP_PASV_HI"
DOUBLE_PID=$E2E_BG_PID
e2e_wait_for -t 5 grep -q listening "$E2E_BG_LOG"
out=$(e2e_in inet timeout 30 python3 "$DOUBLE" client 198.51.100.1 big.bin 2>&1)
[ "$out" = "$FTP_SUM $FTP_SUM" ] && e2e_ok "C: AUTH TLS after a rewritten 227: both downloads intact" \
	|| e2e_fail "C: AUTH TLS after a rewritten 227: both downloads intact" "$out" \
		"$(tail -n 5 "$E2E_XDPNAT_LOG")"
ftp_alg_entries | awk '$1 == "198.51.100.2" && $5 == 2 && $7 > 0 && $8 == 0 && $9 == -1' | grep -q . \
	&& e2e_ok "C: ... handed back opaque with offsets 0/-1 in nat_alg" \
	|| e2e_fail "C: ... handed back opaque with offsets 0/-1 in nat_alg" "$(ftp_alg_entries)"
flows=$(e2e_xdpnat flows)
echo "$flows" | grep -qE '^ +alg ftp: opaque, [0-9]+ packets in userspace, offsets \+0/-1$' \
	&& e2e_ok "xdpnat flows shows the control flow's ALG state (opaque, offsets)" \
	|| e2e_fail "xdpnat flows shows the ALG state" "$flows"

# An expectation nobody uses goes with its control connection.
e2e_bg inet python3 -u "$DOUBLE" hold 198.51.100.1 3
HOLD_LOG=$E2E_BG_LOG
e2e_wait_for -t 5 grep -q '^227' "$HOLD_LOG"
port=$(sed -n 's/^227.*,\([0-9]*\),\([0-9]*\)).*/\1 \2/p' "$HOLD_LOG" | { read -r a b; echo $((a * 256 + b)); })
ftp_expects | grep -q "^198.51.100.2 198.51.100.1 $port 192.168.0.254 $port\$" \
	&& e2e_ok "PASV opened the expectation 198.51.100.2 -> 198.51.100.1:$port => 192.168.0.254:$port" \
	|| e2e_fail "PASV opened an expectation" "227 port $port" "$(ftp_expects)" "$(cat "$HOLD_LOG")"
flows=$(e2e_xdpnat flows)
echo "$flows" | grep -qE "^ +expect 198\.51\.100\.2 -> 198\.51\.100\.1:$port => 192\.168\.0\.254:$port, [0-9]+ s left$" \
	&& e2e_ok "xdpnat flows lists the expectation under its control flow, with its time left" \
	|| e2e_fail "xdpnat flows lists the expectation" "$flows"
e2e_wait_for -t 15 bash -c "! grep -q . <(bpftool -j map dump pinned $E2E_BPFFS/xdpnat/nat_expect |
	python3 $E2E_LIB_DIR/ftp_maps.py expect | grep ' $port ')" \
	&& e2e_ok "the unused expectation is gone once its control connection is gone" \
	|| e2e_fail "the unused expectation is gone with its control connection" "$(ftp_expects)"
e2e_kill "$DOUBLE_PID"

# ------------------------------------------------------------------ end
stats=$(e2e_xdpnat stats --json)
down=$(ftp_stat drop_alg_down)
offp=$(ftp_stat alg_off_passed)
offf=$(ftp_stat alg_off_flows)
touser=$(ftp_stat alg_to_user)
[ "${down:-1}" = 0 ] && [ "${offp:-1}" = 0 ] && [ "${offf:-1}" = 0 ] && [ "${touser:-0}" -gt 50 ] \
	&& e2e_ok "control packets went through the ALG ($touser), none dropped for want of it or passed uninspected" \
	|| e2e_fail "control packets went through the ALG" "$stats"
e2e_csum_watch_check inet "checksums at the Internet side"
e2e_csum_watch_check lanc "checksums at the LAN client"
e2e_csum_watch_check lans "checksums at the LAN server"
e2e_xdpnat_stop && e2e_ok "daemon stops cleanly" || e2e_fail "daemon stops cleanly" "$(tail -n 20 "$E2E_XDPNAT_LOG")"
grep -q "alg: stopped" "$E2E_XDPNAT_LOG" && e2e_ok "the ALG stopped with the daemon" \
	|| e2e_fail "the ALG stopped with the daemon" "$(tail -n 20 "$E2E_XDPNAT_LOG")"
e2e_finish
