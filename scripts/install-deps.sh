#!/bin/sh
# Install the Debian packages xdpnat needs to build, test and demo.
# Idempotent: asks apt only for what is missing.
set -eu
PKGS="make gcc clang llvm libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev pkg-config
libcurl4-openssl-dev libmnl-dev libjson-c-dev libcmocka-dev libclang-rt-14-dev libsystemd-dev
iproute2 iputils-ping traceroute ethtool iperf3 curl vsftpd dnsmasq-base isc-dhcp-client
nftables tcpdump openssl python3 gnuplot-nox procps systemd prometheus stun-client stun-server
natpmpc jq"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
