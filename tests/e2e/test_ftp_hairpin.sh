#!/bin/bash
# FTP from the LAN to the public address of a server behind the NAT
# (hairpin): the field case of shared/seed used from inside the office,
# the server reached through its DDNS name, i.e. the WAN address.
#  - FTP over TLS with the server's passive address set to the WAN address
#    and its passive range forwarded with `gate ftp` (the seed's fix): PASV
#    and EPSV downloads intact, the data connections hairpinned through
#    the range's forward;
#  - plain FTP, EPSV, and PASV by a client that ignores the 227's address
#    (curl's default): intact through the same range;
#  - the control and data flows are hairpin flows: both halves translated
#    (the server sees the WAN address as its client), nothing of them on
#    the WAN link, and no packet of them in the FTP ALG (a hairpin control
#    flow is not inspected, see README "Known limits": PORT/EPRT and a
#    client connecting to the address a 227 names need a rewrite it does
#    not get).
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
forward tcp wan0 $FTP_PASV_LO-$FTP_PASV_HI to 192.168.0.254 gate ftp
alg ftp ports 21 expect-timeout 30
timeout tcp-closing 2
EOF2
CAP=$E2E_TMP/wan.pcap
e2e_capture_start inet eth0 "$CAP" "tcp port 21 or tcp portrange $FTP_PASV_LO-$FTP_PASV_HI"
e2e_xdpnat_start router "$CONF" || { e2e_fail "xdpnat starts with alg ftp"; e2e_finish; }
e2e_wait_for -t 5 grep -q "alg: FTP ALG running" "$E2E_XDPNAT_LOG" \
	&& e2e_ok "xdpnat starts with alg ftp and a gated passive range" \
	|| e2e_fail "xdpnat starts with alg ftp and a gated passive range" "$(cat "$E2E_XDPNAT_LOG")"
e2e_log "links: $(e2e_mode)"
URL=ftp://198.51.100.1/big.bin
touser0=$(ftp_stat alg_to_user)

# The seed's server, used from the LAN through the WAN address.
ftp_server lans 192.168.0.254 tls "${FTP_TLS[@]}" pasv_address=198.51.100.1
ftp_check_get "FTPS from the LAN to the WAN address, PASV (the 227 names the WAN address): download intact" \
	lanc "$URL" -k --ssl-reqd --disable-epsv --no-ftp-skip-pasv-ip
ftp_check_get "FTPS from the LAN to the WAN address, EPSV: download intact" \
	lanc "$URL" -k --ssl-reqd
# (the server's own address: ftp_server's check that it listens)
[ "$(grep -c 'CONNECT: Client "198\.51\.100\.1"' "$FTP_LOG")" -ge 2 ] &&
	! grep 'CONNECT: Client "192\.168\.' "$FTP_LOG" | grep -vq '"192\.168\.0\.254"' \
	&& e2e_ok "the server saw its LAN clients as the WAN address (both halves of the hairpin translated)" \
	|| e2e_fail "the server saw its LAN clients as the WAN address" "$(grep CONNECT "$FTP_LOG")"
e2e_kill "$FTP_PID"

ftp_server lans 192.168.0.254 plain
ftp_check_get "plain FTP from the LAN to the WAN address, EPSV: download intact" lanc "$URL"
ftp_check_get "plain FTP from the LAN to the WAN address, PASV, the 227's address ignored (curl's default): download intact" \
	lanc "$URL" --disable-epsv
e2e_kill "$FTP_PID"

touser1=$(ftp_stat alg_to_user)
[ "$touser0" = "$touser1" ] && e2e_ok "no packet of the hairpin flows went to the ALG (alg_to_user $touser1)" \
	|| e2e_fail "no packet of the hairpin flows went to the ALG" "alg_to_user $touser0 -> $touser1"
e2e_capture_stop "$CAP"
n=$(tcpdump -n -r "$CAP" 2>/dev/null | wc -l)
[ "$n" = 0 ] && e2e_ok "nothing of the hairpin flows on the WAN link" \
	|| e2e_fail "nothing of the hairpin flows on the WAN link" "$n packets: $(tcpdump -n -r "$CAP" 2>/dev/null | head -n 3)"
e2e_finish
