#!/bin/bash
# test_ftp.sh on veth links with their default offloads: no `ethtool -K tx
# off` anywhere, so the FTP clients and servers hand TCP with unfinished
# checksums (CHECKSUM_PARTIAL) to the NAT and its ALG (lib.sh: E2E_OFFLOADS).
export E2E_OFFLOADS=default
exec "$(dirname "$0")/test_ftp.sh" "$@"
