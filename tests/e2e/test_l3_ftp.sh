#!/bin/bash
# The FTP ALG on an L3 WAN (PPP-like: two TUN devices joined by
# tun_relay.py, MTU 1492, no Ethernet header). Control packets from the
# WAN reach the ALG from the L3 program with an Ethernet header pushed for
# their LAN egress; the ALG sends what goes out through the L3 link as IP
# packets (AF_PACKET, ETH_P_IP), not AF_XDP frames:
#  A. LAN client, Internet vsftpd: PASV, active PORT and EPRT (rewritten to
#     the WAN address, data admitted by expectations);
#  B. Internet client, inside vsftpd behind `forward tcp ppp0 21`: PASV
#     (the 227's private address rewritten), EPSV, active.
# Every download checked by sha256; the WAN capture carries no private
# address, in headers or FTP text.
. "$(dirname "$0")/lib.sh"
. "$E2E_LIB_DIR/ftp_lib.sh"
e2e_require_root
e2e_require vsftpd curl tcpdump python3 sha256sum

e2e_ns_add inet router || { e2e_fail "namespaces"; e2e_finish; }
e2e_sysctl router net.ipv4.ip_forward=1
e2e_tun_link ppp0 198.51.100.1 || { e2e_fail "tun link"; e2e_finish; }
e2e_addr inet lo 203.0.113.10/32
_e2e_lan || { e2e_fail "LAN"; e2e_finish; }
_e2e_settle
ftp_files || { e2e_fail "test files"; e2e_finish; }

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan ppp0 mss-clamp auto
lan lan0
outbound ppp0
forward tcp ppp0 21 to 192.168.0.254
forward tcp ppp0 50000-50100 to 192.168.0.254
alg ftp ports 21 expect-timeout 30
timeout tcp-closing 2
EOF2

CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet tinet "$CAP" ip
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with alg ftp on an L3 WAN"; e2e_finish; }
e2e_wait_for -t 5 grep -q "alg: FTP ALG running" "$E2E_XDPNAT_LOG" \
	&& e2e_ok "the ALG runs with an L3 WAN (AF_XDP on ppp0 and lan0)" \
	|| e2e_fail "the ALG runs with an L3 WAN" "$(cat "$E2E_XDPNAT_LOG")"

rw0=$(ftp_stat alg_rewritten 2>/dev/null || echo 0)
# ------------------------------------------------------------------ A
ftp_server inet 203.0.113.10 inet
INET_FTP_LOG=$FTP_LOG
URL=ftp://203.0.113.10/big.bin
ftp_check_get "A: LAN client, PASV over ppp0: download intact" lanc "$URL" --disable-epsv
used0=$(ftp_stat expect_used)
ftp_check_get "A: LAN client, active PORT over ppp0: download intact" lanc "$URL" -P - --disable-eprt
ftp_check_get "A: LAN client, active EPRT over ppp0: download intact" lanc "$URL" -P -
used1=$(ftp_stat expect_used)
[ "$((used1 - used0))" -ge 2 ] && e2e_ok "A: active data connections admitted by expectations ($((used1 - used0)))" \
	|| e2e_fail "A: active data connections admitted by expectations" "expect_used $used0 -> $used1"
grep -qE 'PORT 198,51,100,1,' "$INET_FTP_LOG" && grep -qE 'EPRT \|1\|198\.51\.100\.1\|' "$INET_FTP_LOG" \
	&& ! grep -q '192\.168\.\|192,168,' "$INET_FTP_LOG" \
	&& e2e_ok "A: the server saw PORT and EPRT naming ppp0's address" \
	|| e2e_fail "A: the server saw PORT and EPRT naming ppp0's address" \
		"$(grep -E 'PORT|EPRT|CONNECT' "$INET_FTP_LOG")" "$(tail -20 "$E2E_XDPNAT_LOG")"
e2e_kill "$FTP_PID"

# ------------------------------------------------------------------ B
ftp_server lans 192.168.0.254 lans
LANS_FTP_LOG=$FTP_LOG
URL=ftp://198.51.100.1/big.bin
ftp_check_get "B: forward 21 on ppp0, PASV with the 227 address honoured: download intact" \
	inet "$URL" --disable-epsv --no-ftp-skip-pasv-ip
ftp_check_get "B: forward 21 on ppp0, EPSV: download intact" inet "$URL"
ftp_check_get "B: forward 21 on ppp0, active: download intact" inet "$URL" -P -
grep -q 'CONNECT: Client "198\.51\.100\.2"' "$LANS_FTP_LOG" \
	&& e2e_ok "B: the inside server sees the real client address" \
	|| e2e_fail "B: the inside server sees the real client address" "$(head -n 5 "$LANS_FTP_LOG")"
e2e_kill "$FTP_PID"

# nat_alg_stats is written by the ALG thread once a second
rewrites_seen() { [ "$(( $(ftp_stat alg_rewritten 2>/dev/null || echo 0) - rw0 ))" -ge 3 ]; }
e2e_wait_for -t 3 rewrites_seen
rw1=$(ftp_stat alg_rewritten 2>/dev/null || echo 0)
tx=$(ftp_stat alg_tx 2>/dev/null || echo 0)
[ "$((rw1 - rw0))" -ge 3 ] && [ "$tx" -gt 10 ] && e2e_ok "the ALG rewrote $((rw1 - rw0)) segments and sent $tx" \
	|| e2e_fail "the ALG inspected the control flows" "alg_rewritten $rw0 -> $rw1, alg_tx $tx"
e2e_capture_stop "$CAP"
leaks=$(e2e_capture_count "$CAP" src net 192.168.0.0/16 or dst net 192.168.0.0/16)
text=$(tcpdump -n -A -r "$CAP" 'tcp port 21' 2>/dev/null | grep -c '192,168,\|192\.168\.' || true)
pasv=$(tcpdump -n -A -r "$CAP" 'tcp port 21' 2>/dev/null | grep -c '227 Entering Passive Mode (198,51,100,1,' || true)
[ "$leaks" = 0 ] && [ "$text" = 0 ] && [ "$pasv" -ge 1 ] \
	&& e2e_ok "ppp0 capture: no private address in headers or FTP text; the 227 names 198.51.100.1" \
	|| e2e_fail "ppp0 capture: no private address" "headers $leaks, text $text, rewritten 227s $pasv"
e2e_check "daemon stops cleanly" e2e_xdpnat_stop
e2e_finish
