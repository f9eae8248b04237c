#!/bin/bash
# demo/demo.sh - the case xdpnat was born from (shared/seed), told step by
# step in network namespaces (`make demo`).
#
#   other 192.0.2.66 ---+                                       +-- lanc 192.168.0.10 (LAN client)
#                       +-- isp -- wan0 [router: xdpnat] lan0 --+
#   inet 203.0.113.10 --+   |      (DHCP)       192.168.0.1     +-- lans 192.168.0.254 (FTPS server)
#   (Internet client)     dnsmasq: DHCP
#
#  1. the WAN address comes from DHCP; xdpnat follows it; DDNS publishes it
#  2. masquerade, a port forward, hairpin
#  3. the seed case: plain FTP through the ALG works; FTP over TLS fails
#     (the ALG is blind after AUTH TLS); the fix: the server's passive
#     address = the DDNS name, its passive range forwarded with `gate ftp`
#     (open only to a peer with a live control session); after AUTH TLS the
#     control flow no longer reaches user space
#  4. flows, mappings, counters, clean shutdown, and no private address on the WAN
#
# Everything runs in namespaces named xn-<pid>-*, removed on exit (also on
# failure or Ctrl-C). Needs root and a built tree (make; BUILD=build-x for
# another build directory). Exit status 0 when every check passed.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/e2e/lib.sh
. tests/e2e/ddns_lib.sh
. tests/e2e/ftp_lib.sh
. demo/demo_lib.sh
# (not e2e_require: a test skips when something is missing, the demo fails)
[ "$(id -u)" = 0 ] || { echo "demo: needs root" >&2; exit 1; }
for c in curl python3 tcpdump ethtool dnsmasq dhclient vsftpd openssl bpftool unshare sha256sum; do
	command -v $c >/dev/null || { echo "demo: missing command $c (make deps installs it)" >&2; exit 1; }
done
[ -x "$E2E_XDPNAT" ] || { echo "demo: no $E2E_XDPNAT (run make first)" >&2; exit 1; }
DEMO_T0=$SECONDS
cat <<'EOF'
The field case xdpnat was born from (shared/seed): an FTP-over-TLS server behind a small-office
router whose WAN address comes from DHCP. Plain FTP works through the router's ALG; FTP over TLS
fails, because after AUTH TLS the ALG cannot read the control channel. The fix needs the router and
the server: a DDNS name for the WAN as the server's passive address, and the passive port range
forwarded. This demo replays it with xdpnat, in network namespaces, and checks every step.
EOF

LEASE=198.51.100.50			# what the ISP's DHCP server hands out
NAME=ftp.example.net			# the DDNS name of the router's WAN
FTP_PASV_LO=49152 FTP_PASV_HI=65534	# the passive range of the report
SRV=192.168.0.254

# ================================================================ 1
step "1. Topology: the Internet (inet, other), the ISP, the router, the LAN (lanc, lans)"
need "namespaces and links" demo_topo
ip netns list | grep "^xn-$$-" | sort | indent
say "Nothing runs on the host: every address below lives in these namespaces."

step "1a. Servers: HTTP on inet and on lans, a test dyndns2 server (HTTPS) on the router's loopback"
mkdir -p "$E2E_TMP/www-inet" "$E2E_TMP/www-lan"
echo "hello from the Internet" >"$E2E_TMP/www-inet/index.html"
echo "hello from the LAN server" >"$E2E_TMP/www-lan/index.html"
e2e_http_server inet 203.0.113.10 8000 "$E2E_TMP/www-inet" || demo_abort "HTTP server on inet starts"
INET_LOG=$E2E_HTTP_LOG
e2e_http_server lans 0.0.0.0 80 "$E2E_TMP/www-lan" || demo_abort "HTTP server on lans starts"
LANS_LOG=$E2E_HTTP_LOG
need "DDNS test server starts" ddns_server_start router "$E2E_TMP/ddns"
need "FTP test file (8 MB)" ftp_files
need "the FTP server's TLS certificate" ftp_cert

step "1b. xdpnat starts while wan0 has no address yet"
CONF=$E2E_TMP/router.conf	# (lib.sh writes the file in use to xdpnat.conf)
cat >"$CONF" <<EOF
wan wan0
lan lan0
outbound wan0
forward tcp wan0 8080 to $SRV:80
forward tcp wan0 21 to $SRV
alg ftp ports 21 expect-timeout 30
state-dir $E2E_TMP/state
ddns wan0 dyndns2 $NAME server $DDNS_URL ca-file $E2E_TMP/ddns/ca.crt user alice password-file $E2E_TMP/ddns/pass
EOF
printf '[router]$ cat xdpnat.conf\n'
show_conf "$CONF"
e2e_capture_start isp down0 "$E2E_TMP/wan.pcap" ip
need "xdpnat run starts" e2e_xdpnat_start router "$CONF"
nat status
ck "status: wan0 has no address, traffic passes untouched" status_wan "none"

step "1c. DHCP: dnsmasq in isp hands out $LEASE; dhclient runs on the router's wan0"
need "dnsmasq serves $LEASE" demo_dnsmasq_start $LEASE
e2e_dhclient_files
demo_dhclient_start
need "dhclient gets $LEASE on wan0" e2e_wait_for -t 20 wan_has $LEASE
grep -E 'DHCP(DISCOVER|OFFER|REQUEST|ACK)' "$DHCLIENT_LOG" | indent
on router ip -4 -brief addr show dev wan0
need "within 1 s xdpnat status shows $LEASE via 198.51.100.1" e2e_wait_for -t 1 status_wan "$LEASE via 198.51.100.1"

step "1d. DDNS: $NAME now points at wan0's own address"
# shellcheck disable=SC2317 # (called through e2e_wait_for)
ddns_sent() { [ "$(ddns_requests "$NAME" | tr '\n' ' ')" = "$LEASE " ]; }
need "the DDNS server received one update, with $LEASE" e2e_wait_for -t 5 ddns_sent
say "The request the dyndns2 server received (the address is the interface's own, as read from the kernel; no 'what is my IP' service):"
ddns_show_requests | indent
e2e_wait_for -t 3 status_ddns_ok "$NAME" "$LEASE" >/dev/null
nat status
ck "status: DDNS $NAME sent $LEASE, result good" status_ddns_ok "$NAME" "$LEASE"
W=$(wan_addr)

# ================================================================ 2
step "2. Masquerade: the LAN client reaches the Internet from the WAN address"
ck_not "the Internet has no route to the LAN (inet cannot ping lanc 192.168.0.10)" e2e_in inet ping -c1 -W1 192.168.0.10
on lanc curl -sS --max-time 5 http://203.0.113.10:8000/
say "what the Internet server saw:"
grep 'GET /' "$INET_LOG" | indent
ck "inet's HTTP server saw the client as $W" grep -q "^${W//./\\.} .*GET /" "$INET_LOG"

step "2b. Port forward: $W:8080 -> $SRV:80, and hairpin from the LAN"
on inet curl -sS --max-time 5 "http://$W:8080/" >"$E2E_TMP/fwd.out"; cat "$E2E_TMP/fwd.out"
ck "inet -> $W:8080 reaches the LAN server" grep -q 'LAN server' "$E2E_TMP/fwd.out"
on lanc curl -sS --max-time 5 "http://$W:8080/" >"$E2E_TMP/hairpin.out"; cat "$E2E_TMP/hairpin.out"
ck "hairpin: lanc -> $W:8080 reaches the LAN server" grep -q 'LAN server' "$E2E_TMP/hairpin.out"
say "what the LAN server saw (the real Internet client; the LAN client, hairpinned, as $W):"
grep 'GET /' "$LANS_LOG" | indent

# ================================================================ 3a
step "3a. Plain FTP from the Internet to the server behind 'forward tcp wan0 21' + 'alg ftp'"
say "vsftpd on lans, passive range $FTP_PASV_LO-$FTP_PASV_HI, default passive address (its own, $SRV)."
ftp_server lans $SRV plain || demo_abort "vsftpd starts"
PLAIN_LOG=$FTP_LOG
u0=$(ftp_stat alg_to_user) x0=$(ftp_stat expect_used)
URL=ftp://$W/big.bin
printf '[inet]$ curl --disable-epsv --no-ftp-skip-pasv-ip -v -o big.bin %s    (excerpt)\n' "$URL"
got=$(e2e_in inet curl -sS -v --connect-timeout 4 -m 30 --disable-epsv --no-ftp-skip-pasv-ip "$URL" \
	2>"$E2E_TMP/curl-a.err" | sha256sum | cut -d' ' -f1)
curl_story "$E2E_TMP/curl-a.err" | indent
ck_test "plain FTP (PASV, 227 address honoured): 8 MB download, sha256 matches" "got $got" "$got" = "$FTP_SUM"
say "The 227 the server sent, and the one the client got (rewritten by the ALG):"
echo "    server (vsftpd log): $(ftp_log_227 "$PLAIN_LOG" | tail -n 1)"
echo "    client (curl -v):    $(grep '^< 227' "$E2E_TMP/curl-a.err" | sed 's/^< //')"
ck "the ALG rewrote the 227 to $W" grep -q "^< 227 .*(${W//./,}," "$E2E_TMP/curl-a.err"
u1=$(ftp_stat alg_to_user) x1=$(ftp_stat expect_used)
echo "    ALG counters: alg_to_user $u0 -> $u1 (control packets inspected), expect_used $x0 -> $x1 (data connections admitted)"
ck_test "the data connection was admitted by an expectation" "expect_used $x0 -> $x1" "$x1" -gt "$x0"
e2e_kill "$FTP_PID"

# ================================================================ 3b
step "3b. FTP over TLS (explicit, AUTH TLS), same forward: the report's failure"
ftp_server lans $SRV tls1 "${FTP_TLS[@]}" || demo_abort "vsftpd (TLS) starts"
say "A client that honours the 227 address, like the report's:"
printf '[inet]$ curl --ssl-reqd -k --disable-epsv --no-ftp-skip-pasv-ip -v -o big.bin %s    (excerpt)\n' "$URL"
e2e_in inet curl -sS -v -k --ssl-reqd --connect-timeout 3 -m 10 --disable-epsv --no-ftp-skip-pasv-ip \
	-o /dev/null "$URL" 2>"$E2E_TMP/curl-b.err"
rc=$?
curl_story "$E2E_TMP/curl-b.err" | indent
ck_test "FTPS fails (curl exit $rc): the client saw the private address in the 227" \
	"curl exit $rc; $(curl_story "$E2E_TMP/curl-b.err")" "$rc" != 0 -a -n "$(grep "^< 227 .*(192,168,0,254," "$E2E_TMP/curl-b.err")"
say "After AUTH TLS the ALG cannot read the 227 (it is encrypted), so it cannot rewrite it and opens no data port."
say "A modern client that ignores the 227 address (EPSV, or the control connection's address) still finds no data port:"
printf '[inet]$ curl --ssl-reqd -k -v -o big.bin %s    (excerpt)\n' "$URL"
e2e_in inet curl -sS -v -k --ssl-reqd --connect-timeout 3 -m 10 -o /dev/null "$URL" 2>"$E2E_TMP/curl-b2.err"
rc2=$?
curl_story "$E2E_TMP/curl-b2.err" | indent
ck_test "FTPS with EPSV fails too (curl exit $rc2): the passive port is not forwarded" \
	"$(curl_story "$E2E_TMP/curl-b2.err")" "$rc2" != 0
say "The control flows of both attempts: the ALG handed them back to XDP (opaque) after AUTH TLS:"
printf '[router]$ xdpnat flows | grep -A1 ":21 "\n'
e2e_xdpnat flows 2>&1 | grep -A1 -E '^tcp +forward .*:21 ' | grep -v '^--' | indent
ck "xdpnat flows shows the FTPS control flows as opaque" \
	bash -c "ip netns exec $(e2e_ns router) $E2E_XDPNAT flows -c $E2E_XDPNAT_CONF | grep -q 'alg ftp: opaque'"
say "xdpnat saw the refused data connection after an opaque session, and says what to do:"
ck "the daemon logs what the FTPS server needs" \
	e2e_wait_for -t 5 grep -q "alg: FTP server $SRV: its control channel .* is encrypted" "$E2E_XDPNAT_LOG"
printf '[router]$ grep "alg: FTP server" xdpnat.log\n'
grep "alg: FTP server" "$E2E_XDPNAT_LOG" | sed 's/^[^ ]* //' | fold -s -w 110 | indent
e2e_kill "$FTP_PID"

# ================================================================ 3c
step "3c. The fix: passive address = the DDNS name, passive range forwarded with 'gate ftp'"
say "vsftpd: pasv_address=$NAME with pasv_addr_resolve=YES. vsftpd resolves it once, at start-up; here the name's record is what the DDNS server received ($LEASE), given to vsftpd as its own /etc/hosts (bind-mounted in a private mount namespace: the host's /etc is not touched)."
demo_resolver_wrapper "$NAME" "$(ddns_requests "$NAME" | tail -n 1)"
printf '[lans]$ cat /etc/hosts    (vsftpd'"'"'s view)\n'
indent <"$E2E_TMP/resolver/hosts"
PATH="$E2E_TMP/resolver:$PATH" ftp_server lans $SRV tls2 "${FTP_TLS[@]}" \
	"pasv_address=$NAME" pasv_addr_resolve=YES || demo_abort "vsftpd (TLS, pasv_address) starts"
printf '[lans]$ grep pasv vsftpd.conf\n'
grep pasv "$E2E_TMP/vsftpd-tls2.conf" | indent
say "xdpnat: forward the passive range, gated: only a peer with a live FTP control session to $SRV gets in. Applied with SIGHUP, no restart."
echo "forward tcp wan0 $FTP_PASV_LO-$FTP_PASV_HI to $SRV gate ftp" | tee -a "$CONF" >>"$E2E_XDPNAT_CONF"
# shellcheck disable=SC2016 # (printed as typed)
printf '[router]$ echo "forward tcp wan0 %s-%s to %s gate ftp" >> xdpnat.conf; kill -HUP $(pidof xdpnat)\n' \
	"$FTP_PASV_LO" "$FTP_PASV_HI" "$SRV"
nrel=$(grep -c "reload: applied" "$E2E_XDPNAT_LOG")
kill -HUP "$E2E_XDPNAT_PID"
need "xdpnat applied the reload" \
	e2e_wait_for -t 5 bash -c "[ \$(grep -c 'reload: applied' $E2E_XDPNAT_LOG) -gt $nrel ]"
grep "reload:" "$E2E_XDPNAT_LOG" | tail -n 2 | indent
printf '[inet]$ curl --ssl-reqd -k --disable-epsv --no-ftp-skip-pasv-ip -v -o big.bin %s    (excerpt)\n' "$URL"
got=$(e2e_in inet curl -sS -v -k --ssl-reqd --connect-timeout 4 -m 30 --disable-epsv --no-ftp-skip-pasv-ip \
	"$URL" 2>"$E2E_TMP/curl-c.err" | sha256sum | cut -d' ' -f1)
curl_story "$E2E_TMP/curl-c.err" | indent
echo "    sha256 received: $got"
echo "    sha256 on lans:  $FTP_SUM"
ck_test "FTPS now works: the 227 names $W, download intact" "got $got; $(curl_story "$E2E_TMP/curl-c.err")" \
	"$got" = "$FTP_SUM" -a -n "$(grep "^< 227 .*(${W//./,}," "$E2E_TMP/curl-c.err")"
got=$(e2e_in inet curl -sS -k --ssl-reqd --connect-timeout 4 -m 30 "$URL" 2>>"$E2E_TMP/curl-c.err" |
	sha256sum | cut -d' ' -f1)
ck_test "FTPS with EPSV (curl's default) works too" "got $got" "$got" = "$FTP_SUM"

# ================================================================ 3d
step "3d. The gate: the passive range is open only to a peer with a live control session"
say "inet opens an FTPS session (Python ftplib: AUTH TLS, login, PBSZ 0, PROT P) and keeps it open."
demo_ftps_session_py
mkdir -p "$E2E_TMP/sess"
e2e_bg inet python3 -u "$E2E_TMP/ftps_session.py" "$W" big.bin "$E2E_TMP/sess"
SESS_PID=$E2E_BG_PID SESS_LOG=$E2E_BG_LOG
need "inet's FTPS session is logged in" e2e_wait_for -t 10 grep -q "logged in" "$SESS_LOG"
PORT=52722	# the data port of the report's 227 (205*256+242)
g0=$(ftp_stat drop_gate)
printf '[other]$ connect to %s:%s    (other has no control session)\n' "$W" "$PORT"
out=$(tcp_try other "$W" $PORT)
echo "    $out"
g1=$(ftp_stat drop_gate)
echo "    drop_gate: $g0 -> $g1"
ck_test "other cannot reach the gated range: its SYNs are dropped (drop_gate $g0 -> $g1)" \
	"$out; drop_gate $g0 -> $g1" "$out" != connected -a "$g1" -gt "$g0"
printf '[inet]$ connect to %s:%s    (inet has a live control session)\n' "$W" "$PORT"
out=$(tcp_try inet "$W" $PORT)
echo "    $out"
say "inet passed the gate: the answer (connection refused: nothing listens on $PORT right now) comes from the FTP server itself."
ck_test "inet, with a control session, passes the gate (reaches $SRV:$PORT)" "$out" \
	"$out" = "Connection refused" -a "$(ftp_stat drop_gate)" = "$g1"

# ================================================================ 3e
step "3e. After AUTH TLS the control flow stays in XDP: not one more packet to user space"
read -r p1 up1 st1 cport <<<"$(ctl_flow 203.0.113.10)"
need "inet's FTPS control flow is in xdpnat flows" test -n "${cport:-}"
show_ctl_flow 203.0.113.10 "$cport"
say "nat_alg, the ALG's own record of the flow, read with bpftool:"
show_nat_alg 203.0.113.10 "$cport"
say "The session now sends 10 NOOPs and downloads the file again, over the same encrypted control channel:"
touch "$E2E_TMP/sess/go"
e2e_wait_for -t 20 grep -q "^sha256" "$SESS_LOG"
printf '[inet]$ (ftplib) 10 x NOOP; RETR big.bin\n'
echo "    $(grep '^sha256' "$SESS_LOG" || tail -n 3 "$SESS_LOG")"
ck_test "the session's download over TLS is intact" "$(cat "$SESS_LOG")" \
	"$(sed -n 's/^sha256 //p' "$SESS_LOG")" = "$FTP_SUM"
read -r p2 up2 st2 _ <<<"$(ctl_flow 203.0.113.10)"
show_ctl_flow 203.0.113.10 "$cport"
show_nat_alg 203.0.113.10 "$cport"
ck_test "control flow: packets ${p1:-?} -> ${p2:-?} (all through XDP), user_packets ${up1:-?} -> ${up2:-?}, ${st2:-?}" \
	"flow then: ${p1:-} ${up1:-} ${st1:-}; later: ${p2:-} ${up2:-} ${st2:-}" \
	-n "${p2:-}" -a "${p2:-0}" -gt "$((${p1:-0} + 20))" -a "${up1:-x}" = "${up2:-y}" -a "${st2:-}" = opaque
touch "$E2E_TMP/sess/quit"
e2e_wait_for -t 5 grep -q bye "$SESS_LOG"
e2e_kill "$SESS_PID"

# ================================================================ 4
step "4. The flow table, the RFC 4787 mappings and the counters at the end"
nat flows
nat mappings
nat stats

step "4b. Stop, restart, detach; the WAN link never carried a private address"
e2e_kill "$FTP_PID"
ck "xdpnat exits cleanly on SIGTERM" e2e_xdpnat_stop
grep -E "alg: stopped|exiting|stopped" "$E2E_XDPNAT_LOG" | tail -n 2 | indent
nat status
ck "the data path stays attached while the daemon is down" \
	bash -c "ip -n $(e2e_ns router) link show | grep -q 'xdp'"
ck "a new run adopts it" e2e_xdpnat_start router "$CONF"
grep -E "adopting|replaced in place" "$E2E_XDPNAT_LOG" | indent
ck "xdpnat exits cleanly on SIGTERM again" e2e_xdpnat_stop
ck "xdpnat detach removes it" e2e_xdpnat detach
ck "no XDP program left on the router's interfaces" \
	bash -c "! ip -n $(e2e_ns router) link show | grep -q 'xdp'"
e2e_capture_stop "$E2E_TMP/wan.pcap"
n=$(e2e_capture_count "$E2E_TMP/wan.pcap")
leak=$(e2e_capture_count "$E2E_TMP/wan.pcap" net 192.168.0.0/16)
ck_test "WAN capture: $n packets, $leak with a 192.168.0.0/16 address" "" "$leak" = 0 -a "$n" -gt 0
demo_end
