# agentctl guard: keeps this ECS task protected from scale-in while the agent
# runs pipelines, so deployments, autoscaling and `agentctl scale` stop it only
# when it is idle. POSIX sh, curl and sleep only.
interval=${GUARD_INTERVAL_SECONDS:-15}
minutes=${PROTECTION_MINUTES:-60}
metrics_url=${AGENT_METRICS_URL:-http://localhost:8080/actuator/prometheus}
# Renew halfway through the protection, long before it expires.
renew_after=${GUARD_RENEW_SECONDS:-$((minutes * 30))}

say() { echo "$*"; }
trap 'exit 0' TERM INT

if [ -z "$ECS_AGENT_URI" ]; then
  say "ECS_AGENT_URI is not set (not an ECS task): nothing to protect"
  exit 1
fi
state_url="$ECS_AGENT_URI/task-protection/v1/state"

# The agent's running pipelines: the sum of its app_active_task_count
# samples. Fails when the agent cannot be read or reports no such metric.
running_pipelines() {
  body=$(curl -fsS --max-time 5 "$metrics_url" 2>/dev/null) || return 1
  total=
  while IFS= read -r line; do
    case $line in
      'app_active_task_count '* | 'app_active_task_count{'*)
        value=${line#app_active_task_count}
        value=${value##*\}}
        value=${value# }
        value=${value%% *}
        value=${value%%.*}
        case $value in '' | *[!0-9]*) return 1 ;; esac
        total=$((${total:-0} + value))
        ;;
    esac
  done <<END
$body
END
  [ -n "$total" ] || return 1
  echo "$total"
}

# Sets this task's protection through the ECS agent endpoint; says why when
# ECS refuses (the task role lacks ecs:UpdateTaskProtection, ...).
set_protection() {
  if [ "$1" = on ]; then
    request="{\"ProtectionEnabled\":true,\"ExpiresInMinutes\":$minutes}"
  else
    request='{"ProtectionEnabled":false}'
  fi
  answer=$(curl -sS --max-time 10 -X PUT -H 'Content-Type: application/json' \
    -d "$request" -w '
%{http_code}' "$state_url" 2>&1) || {
    say "could not reach the ECS agent to turn protection $1: $answer"
    return 1
  }
  code=${answer##*
}
  case $code in
    2??) case $answer in *'"protection"'*) return 0 ;; esac ;;
  esac
  say "ECS refused to turn protection $1 (HTTP $code): ${answer%
*}"
  return 1
}

protected=no
since_protected=0
idle_reads=0
last_count=
unreadable=no
while :; do
  if count=$(running_pipelines); then
    unreadable=no
    if [ "$count" -gt 0 ]; then
      idle_reads=0
      if [ $protected = no ]; then
        if set_protection on; then
          protected=yes
          since_protected=0
          say "$count pipelines running: task protected for $minutes minutes"
          last_count=$count
        fi
      elif [ "$since_protected" -ge "$renew_after" ] && set_protection on; then
        since_protected=0
      fi
    else
      idle_reads=$((idle_reads + 1))
      if [ $protected = yes ] && [ $idle_reads -ge 2 ] && set_protection off; then
        protected=no
        say "0 pipelines running: protection released"
        last_count=0
      fi
    fi
    if [ "$count" != "$last_count" ]; then
      say "$count pipelines running"
      last_count=$count
    fi
  elif [ $unreadable = no ]; then
    unreadable=yes
    say "cannot read running pipelines from $metrics_url: protection left as it is"
  fi
  sleep "$interval" &
  wait $!
  since_protected=$((since_protected + interval))
done
