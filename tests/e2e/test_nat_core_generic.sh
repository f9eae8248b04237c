#!/bin/bash
# test_nat_core.sh with default offloads (unfinished checksums from every
# sender) and XDP in generic mode, where the skb and its CHECKSUM_PARTIAL go
# on through XDP_REDIRECT and XDP_PASS (lib.sh: E2E_OFFLOADS, E2E_XDP_MODE).
export E2E_OFFLOADS=default E2E_XDP_MODE=generic
exec "$(dirname "$0")/test_nat_core.sh" "$@"
