#!/usr/bin/env bash
# Benchmarks agentctl against its peers in one run, on this machine:
#   builds release agentctl and faultproxy, installs the peers (ecs-deploy,
#   pinned, in a venv of its own; the aws CLI if missing), starts moto on a free
#   loopback port and faultproxy in front of it with a fixed latency per request
#   (25 ms unless LATENCY_MS says otherwise), then measures every operation
#   (wall time, requests, round-trip waves, peak RSS) with bench/bench.py.
#
#   ./bench/run.sh                  # results in bench/results/ (results.md, results.json)
#   LATENCY_MS=50 REPEAT=3 CYCLES=1 ./bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

LATENCY_MS="${LATENCY_MS:-25}"
REPEAT="${REPEAT:-5}"
CYCLES="${CYCLES:-3}"
OUT="${BENCH_OUT:-bench/results}"
ECS_DEPLOY_VERSION="1.17.0"
TOOLS="${AGENTCTL_TOOLS_DIR:-$HOME/.cache/agentctl-tools}"

apt_install() {
  echo "==> installing $* (apt)"
  { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; } || return 1
}

ensure_moto
[ -x /usr/bin/time ] || apt_install time
command -v hyperfine >/dev/null || apt_install hyperfine || echo "==> hyperfine unavailable: validate is timed with a loop"

# ecs-deploy in a venv of its own: it brings its own boto3, which must not
# replace the one moto and the aws CLI use.
ECS_VENV="$TOOLS/ecs-deploy-$ECS_DEPLOY_VERSION"
[ -x "$ECS_VENV/bin/python" ] || python3 -m venv "$ECS_VENV"
# A no-op when the pinned versions are there already.
"$ECS_VENV/bin/python" -m pip install --quiet -r bench/requirements-ecs-deploy.txt
AWS_BIN="$(command -v aws || true)"
if [ -z "$AWS_BIN" ]; then
  AWS_VENV="$TOOLS/awscli"
  echo "==> installing the aws CLI in $AWS_VENV"
  python3 -m venv "$AWS_VENV"
  "$AWS_VENV/bin/python" -m pip install --quiet -r bench/requirements-awscli.txt
  AWS_BIN="$AWS_VENV/bin/aws"
fi

echo "==> cargo build --release -p agentctl -p faultproxy"
cargo build --release -p agentctl -p faultproxy
WORK="$(mktemp -d)"
# Private copies: a concurrent build in the same target folder cannot swap them mid-run.
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
cp "$TARGET/release/agentctl" "$TARGET/release/faultproxy" "$WORK/"
AGENTCTL="$WORK/agentctl"
FAULTPROXY="$WORK/faultproxy"
MOTO_PID=""
PROXY_PID=""
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for attempt in 1 2 3 4 5; do
  MOTO_PORT="$(free_port)"
  MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ECS_SERVICE_RUNNING=2 \
    moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && break 2
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill "$MOTO_PID" 2>/dev/null || true
  MOTO_PID=""
done
[ -n "$MOTO_PID" ] || { echo "moto_server did not start" >&2; exit 1; }

"$FAULTPROXY" --upstream "http://127.0.0.1:$MOTO_PORT" --latency-ms "$LATENCY_MS" --stats "$WORK/proxy-stats.json" \
  >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
PROXY_PID=$!
for _ in $(seq 1 50); do
  grep -q '^listening ' "$WORK/proxy.out" 2>/dev/null && break
  sleep 0.1
done
PROXY_URL="http://$(sed -n 's/^listening //p' "$WORK/proxy.out" | head -1)"
[ "$PROXY_URL" != "http://" ] || { echo "faultproxy did not start" >&2; cat "$WORK/proxy.err" >&2; exit 1; }
echo "==> moto on 127.0.0.1:$MOTO_PORT, faultproxy on $PROXY_URL at $LATENCY_MS ms per request"

# The machine and the versions, for the report.
python3 - "$WORK/meta.json" "$AGENTCTL" "$AWS_BIN" "$ECS_VENV/bin/ecs" "$LATENCY_MS" <<'EOF'
import json, os, platform, subprocess, sys
out, agentctl, aws, ecs, latency = sys.argv[1:]
def sh(*a):
    p = subprocess.run(a, capture_output=True, text=True)
    return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
import importlib.metadata as md
meta = {
    "machine": f"{os.cpu_count()} cores, {cpu}, {mem / 1024 / 1024:.0f} GiB, {platform.system()} {platform.release()}",
    "agentctl": sh(agentctl, "--version"),
    "commit": os.environ.get("BENCH_COMMIT") or sh("git", "describe", "--always", "--dirty"),
    "rustc": sh("rustc", "--version"),
    "moto": md.version("moto"),
    "aws CLI": sh(aws, "--version"),
    "ecs-deploy": sh(ecs, "--version"),
    "python": platform.python_version(),
    "latency_ms": float(latency),
}
json.dump(meta, open(out, "w"), indent=1)
print(json.dumps(meta, indent=1))
EOF

python3 bench/bench.py --agentctl "$AGENTCTL" --proxy "$PROXY_URL" --aws "$AWS_BIN" --ecs-deploy "$ECS_VENV/bin/ecs" \
  --latency-ms "$LATENCY_MS" --repeat "$REPEAT" --cycles "$CYCLES" --out "$OUT" --meta "$WORK/meta.json"
echo "==> results: $OUT/results.md and $OUT/results.json"
