#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs, then runs
# unit, snapshot, CLI and moto-backed integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_moto
ensure_nextest
ensure_checkov
cargo nextest run --workspace --no-fail-fast "$@"
