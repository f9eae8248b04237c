#!/bin/bash
# FTP from the LAN to the public address of a server behind the NAT
# (hairpin): the field case of shared/seed used from inside the office,
# the server reached through its DDNS name, i.e. the WAN address. The
# server sees its LAN clients as the WAN address (a hairpin translates
# both halves), so the ALG inspects the hairpin control flow as it does
# one from the Internet (README "The FTP ALG"):
#  - plain FTP with only port 21 forwarded: PASV with the 227's address
#    honoured (rewritten from the server's to the WAN address) and
#    ignored (curl's default), EPSV, active PORT and EPRT (rewritten to
#    the WAN address): every data connection admitted by a hairpin
#    expectation; the server saw only the WAN address, in PORT/EPRT and
#    as the client of every connection;
#  - FTP over TLS with the server's passive address set to the WAN address
#    and its passive range forwarded with `gate ftp` (the seed's fix): PASV
#    and EPSV; after AUTH TLS the control flow is handed back to XDP;
#  - an AUTH TLS after a rewritten 227 (a sequence offset) with every later
#    packet on the kernel path (NO_FASTPATH), which applies the offset;
#  - nothing of these flows on the WAN link.
# Every download is checked by sha256.
. "$(dirname "$0")/lib.sh"
. "$E2E_LIB_DIR/ftp_lib.sh"
e2e_require_root
e2e_require vsftpd curl openssl bpftool tcpdump python3 sha256sum

e2e_topo_basic || { e2e_fail "topology"; e2e_finish; }
ftp_files || { e2e_fail "test files"; e2e_finish; }
ftp_cert || { e2e_fail "test certificate"; e2e_finish; }

CONF=$E2E_TMP/router.conf
cat > "$CONF" <<EOF2
wan wan0
lan lan0
outbound wan0
forward tcp wan0 21 to 192.168.0.254
alg ftp ports 21 expect-timeout 30
timeout tcp-closing 2
EOF2
CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet eth0 "$CAP" "tcp port 21 or tcp portrange 1024-65535"
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with alg ftp"; e2e_finish; }
e2e_wait_for -t 5 grep -q "alg: FTP ALG running" "$E2E_XDPNAT_LOG" \
	&& e2e_ok "xdpnat starts with alg ftp, only port 21 forwarded" \
	|| e2e_fail "xdpnat starts with alg ftp, only port 21 forwarded" "$(cat "$E2E_XDPNAT_LOG")"
e2e_log "links: $(e2e_mode)"
URL=ftp://198.51.100.1/big.bin

# ------------------------------------------------------------ plain FTP
ftp_server lans 192.168.0.254 plain
used0=$(ftp_stat expect_used) touser0=$(ftp_stat alg_to_user)
ftp_check_get "plain, LAN to WAN address, PASV, the 227's address honoured: download intact" \
	lanc "$URL" --disable-epsv --no-ftp-skip-pasv-ip
ftp_check_get "plain, PASV, the 227's address ignored (curl's default): download intact" \
	lanc "$URL" --disable-epsv
ftp_check_get "plain, EPSV: download intact" lanc "$URL"
ftp_check_get "plain, active PORT: download intact" lanc "$URL" -P - --disable-eprt
ftp_check_get "plain, active EPRT: download intact" lanc "$URL" -P -
used1=$(ftp_stat expect_used) touser1=$(ftp_stat alg_to_user)
[ "$((used1 - used0))" -ge 5 ] \
	&& e2e_ok "every data connection admitted by an expectation (expect_used +$((used1 - used0)))" \
	|| e2e_fail "every data connection admitted by an expectation" "expect_used $used0 -> $used1"
[ "$touser1" -gt "$touser0" ] && e2e_ok "the hairpin control flows went through the ALG (alg_to_user +$((touser1 - touser0)))" \
	|| e2e_fail "the hairpin control flows went through the ALG" "alg_to_user $touser0 -> $touser1"
grep -qE 'PORT 198,51,100,1,' "$FTP_LOG" && grep -qE 'EPRT \|1\|198\.51\.100\.1\|' "$FTP_LOG" \
	&& ! grep -qE '(PORT|EPRT).*(192,168|192\.168)' "$FTP_LOG" \
	&& e2e_ok "the server saw PORT and EPRT naming the WAN address, never a LAN one" \
	|| e2e_fail "the server saw PORT and EPRT naming the WAN address" "$(grep -E 'PORT|EPRT' "$FTP_LOG")"
# (the server's own address: ftp_server's check that it listens)
[ "$(grep -c 'CONNECT: Client "198\.51\.100\.1"' "$FTP_LOG")" -ge 5 ] &&
	! grep 'CONNECT: Client "192\.168\.' "$FTP_LOG" | grep -vq '"192\.168\.0\.254"' \
	&& e2e_ok "the server saw its LAN clients as the WAN address (both halves of the hairpin)" \
	|| e2e_fail "the server saw its LAN clients as the WAN address" "$(grep CONNECT "$FTP_LOG")"
e2e_kill "$FTP_PID"

# ------------------------------------------------------------ FTPS
# The seed's server: passive address = the WAN address, passive range
# forwarded with `gate ftp`.
echo "forward tcp wan0 $FTP_PASV_LO-$FTP_PASV_HI to 192.168.0.254 gate ftp" >> "$E2E_XDPNAT_CONF"
kill -HUP "$E2E_XDPNAT_PID"
e2e_wait_for -t 5 grep -q "reload: applied" "$E2E_XDPNAT_LOG" || e2e_log "no reload message"
ftp_server lans 192.168.0.254 tls "${FTP_TLS[@]}" pasv_address=198.51.100.1
ftp_check_get "FTPS, LAN to WAN address, PASV (the 227 names the WAN address): download intact" \
	lanc "$URL" -k --ssl-reqd --disable-epsv --no-ftp-skip-pasv-ip
ftp_check_get "FTPS, EPSV: download intact" lanc "$URL" -k --ssl-reqd
e2e_check "FTPS: the ALG says it handed the hairpin control flows back after AUTH TLS" \
	grep -qE 'alg: 192\.168\.0\.[0-9]+:[0-9]+ -> 198\.51\.100\.1:21 .*handed back to XDP \(AUTH accepted\)' "$E2E_XDPNAT_LOG"
e2e_kill "$FTP_PID"

# An AUTH TLS after a rewritten 227 (RFC 4217 allows it, vsftpd does not:
# test_ftp.sh's double stands in): the hairpin control flow goes opaque
# with a sequence offset (-1: "192,168,0,254" became "198,51,100,1"). With
# nat_config's NO_FASTPATH flag every later packet of it takes the kernel
# path: XDP translates the destination half and applies the offset, tc
# egress of the LAN the source half.
config_flags() {	# FLAGS -> the whole nat_config value, other fields as they are
	bpftool -j map lookup pinned "$E2E_BPFFS/xdpnat/nat_config" key 0 0 0 0 | python3 -c '
import json, struct, sys
v = bytearray(int(b, 16) for b in json.load(sys.stdin)["value"])
v[28:32] = struct.pack("<I", int(sys.argv[1]))	# flags, 8th __u32 of struct nat_config
print(" ".join("%02x" % c for c in v))' "$1"
}
e2e_bg lans python3 -u "$E2E_LIB_DIR/ftp_double.py" server 192.168.0.254 "$FTP_ROOT" \
	"$E2E_TMP/ftp.crt" "$E2E_TMP/ftp.key" "$FTP_PASV_LO" "$FTP_PASV_HI"
DOUBLE_PID=$E2E_BG_PID
e2e_wait_for -t 5 grep -q listening "$E2E_BG_LOG"
bpftool map update pinned "$E2E_BPFFS/xdpnat/nat_config" key hex 00 00 00 00 value hex $(config_flags 1)
kp0=$(ftp_stat passed_to_kernel)
out=$(e2e_in lanc timeout 30 python3 "$E2E_LIB_DIR/ftp_double.py" client 198.51.100.1 big.bin 2>&1)
kp1=$(ftp_stat passed_to_kernel)
[ "$out" = "$FTP_SUM $FTP_SUM" ] && e2e_ok "AUTH TLS after a rewritten 227, the rest on the kernel path: both downloads intact" \
	|| e2e_fail "AUTH TLS after a rewritten 227, the rest on the kernel path: both downloads intact" "$out" \
		"$(tail -n 5 "$E2E_XDPNAT_LOG")"
ftp_alg_entries | awk '$1 ~ /^192\.168\.0\./ && $5 == 2 && $7 > 0 && $8 == 0 && $9 == -1' | grep -q . \
	&& [ "$kp1" -gt "$((kp0 + 10))" ] \
	&& e2e_ok "... handed back opaque with offsets 0/-1, its packets on the kernel path (passed_to_kernel +$((kp1 - kp0)))" \
	|| e2e_fail "... handed back opaque with offsets 0/-1, on the kernel path" "$(ftp_alg_entries)" \
		"passed_to_kernel $kp0 -> $kp1"
bpftool map update pinned "$E2E_BPFFS/xdpnat/nat_config" key hex 00 00 00 00 value hex $(config_flags 0)
e2e_kill "$DOUBLE_PID"

e2e_capture_stop "$CAP"
n=$(tcpdump -n -r "$CAP" 2>/dev/null | wc -l)
[ "$n" = 0 ] && e2e_ok "nothing of these flows on the WAN link" \
	|| e2e_fail "nothing of these flows on the WAN link" "$n packets: $(tcpdump -n -r "$CAP" 2>/dev/null | head -n 3)"
e2e_finish
