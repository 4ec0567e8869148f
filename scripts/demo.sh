#!/usr/bin/env bash
# The main job end to end against a local AWS emulator (moto) that this script
# starts on a free loopback port and stops when done:
# validate -> plan -> apply -> status -> plan (no changes) -> destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_moto
cargo build --quiet
agentctl=target/debug/agentctl
config=${1:-examples/new-vpc.tfvars}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto never starts tasks; this makes services report 2 running.
MOTO_ECS_SERVICE_RUNNING=2 MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" >/tmp/agentctl-demo-moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.2
done

# Fake credentials for the emulator; the agent's credentials come from the
# environment, never from the file.
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export TF_VAR_client_id=demo-client-id TF_VAR_client_secret=demo-client-secret

step() { printf '\n\033[1m$ agentctl %s\033[0m\n' "$*"; "$agentctl" -c "$config" "$@"; }
step validate
step plan
step apply --yes
step status
step plan --detailed-exitcode
step destroy --yes --force-delete-secret
echo
echo "Done: applied, checked and destroyed against moto on 127.0.0.1:$port."
