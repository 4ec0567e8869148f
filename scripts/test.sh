#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs, checks
# formatting and lints, then runs unit, snapshot, CLI and moto-backed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_moto
ensure_rust_tools
ensure_nextest
ensure_checkov
# Formatting and lints first: a minute, and they fail for reasons a reader sees at once.
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --no-fail-fast --locked "$@"
