#!/usr/bin/env bash
# kill -9 at random points of apply and destroy, many trials: after each kill
# the next apply must converge (plan shows no changes) and destroy must leave
# nothing of ours. Records the outcome in bench/results/kill9.txt.
#   bench/kill9.sh [TRIALS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_moto
trials=${1:-40}
seed=${2:-$(date +%s)}
mkdir -p bench/results
out=bench/results/kill9.txt
echo "==> $trials kill -9 trials, seed $seed"
if AGENTCTL_KILL_TRIALS=$trials AGENTCTL_KILL_SEED=$seed cargo nextest run -p agentctl --test stack kill_dash_9 --no-capture 2>&1 | tee /tmp/agentctl-kill9.log | grep -E "kill -9 trials passed|FAIL|panicked"; then
  status=passed
else
  status=FAILED
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "trials: $trials, seed: $seed, result: $status"
  grep -E "kill -9 trials passed|panicked" /tmp/agentctl-kill9.log || true
} | tee "$out"
[ "$status" = passed ]
