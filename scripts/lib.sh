# Shared by scripts/test.sh and scripts/demo.sh: install what they need.

ensure_moto() {
  if ! python3 -c 'import moto, flask, flask_cors; assert moto.__version__ == "5.2.1"' 2>/dev/null || ! command -v moto_server >/dev/null; then
    echo "==> installing moto 5.2.1 (local AWS emulator)"
    python3 -m pip install --quiet -r requirements-test.txt
  fi
  # pyenv shims need a rehash to expose a newly installed console script.
  command -v pyenv >/dev/null && pyenv rehash 2>/dev/null || true
  command -v moto_server >/dev/null || { echo "moto_server is not on PATH after installing moto" >&2; exit 1; }
}

ensure_rust_tools() {
  # rustfmt and clippy ship as rustup components, not always installed.
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    echo "==> installing rustfmt and clippy"
    rustup component add rustfmt clippy
  fi
}

ensure_nextest() {
  if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
  fi
}

ensure_checkov() {
  # In a venv of its own: checkov pins older boto3/botocore than moto and the aws CLI.
  local venv="${AGENTCTL_TOOLS_DIR:-$HOME/.cache/agentctl-tools}/checkov-3.3.30"
  if [ ! -x "$venv/bin/checkov" ] || ! "$venv/bin/checkov" --version 2>/dev/null | grep -q '^3.3.30$'; then
    echo "==> installing checkov 3.3.30 in $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r requirements-checkov.txt
  fi
  export PATH="$venv/bin:$PATH"
}
