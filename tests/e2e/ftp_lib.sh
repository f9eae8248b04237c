# shellcheck shell=bash
# tests/e2e/ftp_lib.sh - helpers of test_ftp.sh: a vsftpd in a namespace
# (foreground, our own configuration file, never systemctl), FTP downloads
# with curl checked by sha256, and readers of the ALG's maps.
# Source after lib.sh.

FTP_ROOT=$E2E_TMP/ftproot		# anonymous root: read-only, owned by root
FTP_PASV_LO=50000 FTP_PASV_HI=50100	# passive range of every server

# ftp_files : the files served, and FTP_SUM, the sha256 of big.bin (8 MB).
ftp_files() {
	# vsftpd's unprivileged session process must reach the root
	chmod 711 "$E2E_TMP" && mkdir -p "$FTP_ROOT" && chmod 755 "$FTP_ROOT" || return 1
	head -c 8000000 /dev/urandom > "$FTP_ROOT/big.bin" || return 1
	chmod 644 "$FTP_ROOT/big.bin"
	FTP_SUM=$(sha256sum < "$FTP_ROOT/big.bin" | cut -d' ' -f1)
}

# ftp_cert : a self-signed certificate for FTPS in $E2E_TMP/ftp.{crt,key}.
ftp_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ftp.test \
		-keyout "$E2E_TMP/ftp.key" -out "$E2E_TMP/ftp.crt" >/dev/null 2>&1
}

# The account anonymous sessions run as: vsftpd changes to its home first
# (Debian's vsftpd package makes "ftp"; without it "daemon" does).
ftp_user() {
	local u home
	for u in ftp daemon; do
		home=$(getent passwd "$u" | cut -d: -f6)
		[ -n "$home" ] && [ -d "$home" ] && { echo "$u"; return 0; }
	done
	return 1
}

# ftp_server ROLE ADDR NAME [vsftpd.conf lines...] : start vsftpd on
# ADDR:${FTP_PORT:-21} in ROLE; sets FTP_PID and FTP_LOG (the protocol log).
# Anonymous, read-only.
ftp_server() {
	local role=$1 addr=$2 name=$3 conf user
	user=$(ftp_user) || { e2e_log "no account for anonymous FTP"; return 1; }
	shift 3
	conf=$E2E_TMP/vsftpd-$name.conf
	FTP_LOG=$E2E_TMP/vsftpd-$name.log
	cat > "$conf" <<EOF
listen=YES
listen_address=$addr
listen_port=${FTP_PORT:-21}
background=NO
seccomp_sandbox=NO
anonymous_enable=YES
no_anon_password=YES
ftp_username=$user
anon_root=$FTP_ROOT
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_min_port=$FTP_PASV_LO
pasv_max_port=$FTP_PASV_HI
port_enable=YES
connect_from_port_20=NO
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=YES
log_ftp_protocol=YES
vsftpd_log_file=$FTP_LOG
dual_log_enable=NO
syslog_enable=NO
use_localtime=NO
EOF
	chmod 600 "$conf"
	[ $# -gt 0 ] && printf '%s\n' "$@" >> "$conf"
	: > "$FTP_LOG"
	e2e_bg "$role" vsftpd "$conf"
	FTP_PID=$E2E_BG_PID
	e2e_wait_for -t 5 e2e_in "$role" bash -c "exec 3<>/dev/tcp/$addr/${FTP_PORT:-21}" 2>/dev/null
}

# FTP_TLS : the vsftpd lines of FTPS with that certificate (explicit: AUTH
# TLS on the control port; add implicit_ssl=YES for implicit).
FTP_TLS=(ssl_enable=YES allow_anon_ssl=YES force_anon_logins_ssl=YES force_anon_data_ssl=YES
	 require_ssl_reuse=NO ssl_ciphers=HIGH "rsa_cert_file=$E2E_TMP/ftp.crt"
	 "rsa_private_key_file=$E2E_TMP/ftp.key")

# ftp_get ROLE URL [curl options...] : download; prints the sha256 of what came.
ftp_get() {
	local role=$1 url=$2
	shift 2
	e2e_in "$role" curl -s -S --connect-timeout 4 -m 40 "$@" "$url" 2>"$E2E_TMP/curl.err" \
		| sha256sum | cut -d' ' -f1
}

# ftp_check_get DESC ROLE URL [curl options...] : ok when the download is intact.
ftp_check_get() {
	local desc=$1 got
	shift
	got=$(ftp_get "$@")
	if [ "$got" = "$FTP_SUM" ]; then
		e2e_ok "$desc"
	else
		e2e_fail "$desc" "sha256 $got, want $FTP_SUM" "$(cat "$E2E_TMP/curl.err")" \
			"$(tail -n 5 "$E2E_XDPNAT_LOG")"
	fi
}

# ftp_stat NAME : one nat_stats counter from `xdpnat stats --json`.
ftp_stat() {
	e2e_xdpnat stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
def find(o):
    if isinstance(o, dict):
        if sys.argv[1] in o and not isinstance(o[sys.argv[1]], (dict, list)):
            return o[sys.argv[1]]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    return None
print(find(d) or 0)' "$1"
}

# ftp_alg_entries : the nat_alg map, one line per control flow:
# "client_addr client_port server_addr server_port state user_packets opaque_since delta0 delta1"
ftp_alg_entries() {
	bpftool -j map dump pinned "$E2E_BPFFS/xdpnat/nat_alg" 2>/dev/null | python3 "$E2E_LIB_DIR/ftp_maps.py" alg
}

# ftp_ct_packets CLIENT CPORT SERVER_PORT : "packets flags entries" of the
# forwarded TCP flow CLIENT:CPORT -> W:SERVER_PORT: packets of both nat_ct
# entries, the flags they both have, how many entries. (nat_ct is a table
# of slots: its LIVE entries as bpftool dumped the hash map, lib.sh.)
ftp_ct_packets() {
	ct_dump_live "$E2E_BPFFS/xdpnat/nat_ct" 2>/dev/null |
		python3 "$E2E_LIB_DIR/ftp_maps.py" ct "$1" "$2" "$3"
}

# ftp_expects : the nat_expect map, "remote outside port inside iport" per line.
ftp_expects() {
	bpftool -j map dump pinned "$E2E_BPFFS/xdpnat/nat_expect" 2>/dev/null |
		python3 "$E2E_LIB_DIR/ftp_maps.py" expect
}

# ftp_expects_ctl : the same with a sixth column, the client port of the
# control connection that opened the expectation.
ftp_expects_ctl() {
	bpftool -j map dump pinned "$E2E_BPFFS/xdpnat/nat_expect" 2>/dev/null |
		python3 "$E2E_LIB_DIR/ftp_maps.py" expect_ctl
}
