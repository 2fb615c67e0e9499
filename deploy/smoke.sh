#!/usr/bin/env bash
# The Docker deployment, run for real against a fake GitHub and a fake Kimi:
# build the image, bring deploy/compose.yaml up with a generated env file
# (throwaway App key, webhook secret, Redis password, model key), wait for
# every service to be healthy, then through the running stack:
#   1. a signed ping is answered 200;
#   2. a signed pull_request.opened gives exactly one review; a worker's
#      /metrics counts it;
#   3. a worker container is killed (SIGKILL) in the middle of a review: the
#      review is still posted exactly once, by the other worker;
#   4. two reviews at once on two workers with API_LLM_MAX_CONCURRENT_REQUESTS=2
#      and a slow model: the model never sees more than 2 calls at a time.
# Then everything it created is removed: containers, network, volume, env and
# key files, the fakes' process. It exits non-zero naming the failed step.
#
# Run from a checkout with the dev venv (sh scripts/bootstrap.sh --dev), as a
# user who may use Docker (root, or the docker group):
#   deploy/smoke.sh
#   PYTHON_IMAGE=local/python:3.11-bookworm KIMI_REVIEW_REDIS_IMAGE=local/redis:bookworm \
#     KIMI_REVIEW_EXTRA_CA=/etc/ssl/certs/ca-certificates.crt deploy/smoke.sh
# Optional: PYTHON_IMAGE (the build's base), KIMI_REVIEW_REDIS_IMAGE,
# KIMI_REVIEW_EXTRA_CA (CA bundle for a TLS-intercepting proxy),
# KIMI_REVIEW_IMAGE (tag to build, kimi-review:smoke; kept afterwards),
# PYTHON (the host Python with the dev dependencies, .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
CAP=2
STEP=preflight
project=kimi-review-smoke-$$
net=$project
tmp=
fakes_pid=

say() { echo "smoke: $*" >&2; }
step() { STEP=$1; say "-- $1"; }
fail() { say "$*"; exit 1; }

cleanup() {
  local rc=$?
  trap - EXIT
  [ "$rc" = 0 ] || say "FAILED at step: $STEP (exit $rc)"
  if [ -n "$tmp" ] && [ -f "$tmp/env" ]; then
    [ "$rc" = 0 ] || dc logs --no-color --tail 40 >&2 2>/dev/null || true
    dc down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || true
  fi
  docker network rm "$net" >/dev/null 2>&1 || true
  if [ -n "$fakes_pid" ]; then kill "$fakes_pid" 2>/dev/null && wait "$fakes_pid" 2>/dev/null || true; fi
  [ -n "$tmp" ] && rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dc() { docker compose -p "$project" -f deploy/compose.yaml -f "$tmp/network.yaml" --env-file "$tmp/env" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# status EXPR: a Python expression over `s`, the fakes' /_fake/status JSON.
status() {
  curl -fsS "$github_url/_fake/status" | "$PY" -c "import json, sys; s = json.load(sys.stdin); print($1)"
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND every half second.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}

# send EVENT FILE: a delivery signed like GitHub's (HMAC-SHA256 of the body); prints the status.
send() {
  local signature
  signature=$(openssl dgst -sha256 -hmac "$webhook_secret" -r "$2" | cut -d' ' -f1)
  curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/webhooks/github" \
    -H "X-GitHub-Event: $1" -H "X-GitHub-Delivery: smoke-$(openssl rand -hex 8)" \
    -H "X-Hub-Signature-256: sha256=$signature" -H 'Content-Type: application/json' \
    --data-binary "@$2"
}

containers() { docker ps -q --filter "label=com.docker.compose.project=$project" "$@"; }

all_healthy() {
  local expected=$1 ids healthy=0 id
  ids=$(containers)
  [ "$(echo "$ids" | grep -c .)" = "$expected" ] || return 1
  for id in $ids; do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ] && healthy=$((healthy + 1))
  done
  [ "$healthy" = "$expected" ]
}

reviews_of() { status "s['reviews'].get('$1', 0)"; }
reviewed() { [ "$(reviews_of "$1")" -ge 1 ]; }
both_reviewed() { reviewed "$1" && reviewed "$2"; }
model_calls() { status "len(s['model']['callers'])"; }
more_model_calls_than() { [ "$(model_calls)" -gt "$1" ]; }

for tool in docker curl openssl awk; do command -v "$tool" >/dev/null || fail "$tool is missing"; done
docker compose version >/dev/null || fail "Docker Compose v2 (docker compose) is missing"
"$PY" -c "import tests.fakes.standalone" || fail "$PY cannot import the fakes (sh scripts/bootstrap.sh --dev)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kimi-review-smoke.XXXXXX")
chmod 0755 "$tmp"

step "generate the App key, secrets and the network"
openssl genrsa -out "$tmp/github-app.private-key.pem" 2048 2>/dev/null
openssl rsa -in "$tmp/github-app.private-key.pem" -pubout -out "$tmp/app.pub.pem" 2>/dev/null
# As deploy/README.md says: readable by the containers' user (uid 10001) only.
if [ "$(id -u)" = 0 ]; then
  chown 10001:10001 "$tmp/github-app.private-key.pem" && chmod 0400 "$tmp/github-app.private-key.pem"
else
  chmod 0444 "$tmp/github-app.private-key.pem" # not root: cannot chown to 10001
fi
webhook_secret=$(openssl rand -hex 32)
model_key=sk-smoke-$(openssl rand -hex 12)
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
docker network create "$net" >/dev/null
gateway=$(docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$net")
[ -n "$gateway" ] || fail "network $net has no gateway"
printf 'networks:\n  default:\n    name: %s\n    external: true\n' "$net" >"$tmp/network.yaml"

step "start the fake GitHub and fake Kimi on $gateway"
"$PY" -m tests.fakes.standalone --host "$gateway" --app-id 4242 --public-key "$tmp/app.pub.pem" \
  --model-key "$model_key" --ready "$tmp/fakes.json" >"$tmp/fakes.log" 2>&1 &
fakes_pid=$!
wait_for 30 "the fakes" test -s "$tmp/fakes.json"
github_url=$("$PY" -c "import json; print(json.load(open('$tmp/fakes.json'))['github_url'])")
model_url=$("$PY" -c "import json; print(json.load(open('$tmp/fakes.json'))['model_url'])")

cat >"$tmp/env" <<EOF
KIMI_REVIEW_ENV_FILE=$tmp/env
KIMI_REVIEW_IMAGE=${KIMI_REVIEW_IMAGE:-kimi-review:smoke}
KIMI_REVIEW_REDIS_PASSWORD=$(openssl rand -hex 32)
KIMI_REVIEW_PRIVATE_KEY_FILE=$tmp/github-app.private-key.pem
KIMI_REVIEW_WORKERS=2
KIMI_REVIEW_PORT=$port
GITHUB_APP_ID=4242
GITHUB_APP_SLUG=kimi-review
GITHUB_WEBHOOK_SECRET=$webhook_secret
GITHUB_API_URL=$github_url
API_OPEN_AI_API_KEY=$model_key
API_OPENAI_FORCE_BASE_URL=$model_url
API_LLM_MAX_CONCURRENT_REQUESTS=$CAP
API_LLM_CHUNK_TOKENS=1000
WORKER_REVIEW_LEASE=4
WORKER_MAX_REVIEWS=1
LOG_FORMAT=json
EOF
for name in PYTHON_IMAGE KIMI_REVIEW_REDIS_IMAGE KIMI_REVIEW_EXTRA_CA; do
  [ -z "${!name:-}" ] || echo "$name=${!name}" >>"$tmp/env"
done

step "build the image"
t=$(now)
dc build --quiet >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log" >&2; fail "build failed"; }
build_s=$(since "$t")

step "start the stack and wait until every service is healthy"
t=$(now)
dc up -d --quiet-pull 2>"$tmp/up.log" || { cat "$tmp/up.log" >&2; fail "compose up failed"; }
created_s=$(since "$t")
wait_for 180 "redis, api and 2 workers healthy" all_healthy 4
healthy_s=$(since "$t")

step "a signed ping is answered 200"
echo '{"zen": "Keep it logically awesome.", "hook_id": 1}' >"$tmp/ping.json"
code=$(send ping "$tmp/ping.json")
[ "$code" = 200 ] || fail "ping answered $code"

step "one pull_request.opened gives exactly one review"
curl -fsS "$github_url/_fake/event/7" -o "$tmp/pr7.json"
t=$(now)
code=$(send pull_request "$tmp/pr7.json")
[ "$code" = 202 ] || fail "pull_request answered $code"
wait_for 120 "the review of PR #7" reviewed 7
review_s=$(since "$t")
sleep 3 # a duplicate would come from a second worker within its lease
[ "$(reviews_of 7)" = 1 ] || fail "PR #7 has $(reviews_of 7) reviews"

step "the workers' metrics count the review"
metrics=
for id in $(containers --filter label=com.docker.compose.service=worker); do
  metrics+=$(docker exec "$id" python -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=5).read().decode())")
  metrics+=$'\n'
done
grep -E '^kimi_review_(reviews_total|gate_configured_cap|llm_tokens_total)' <<<"$metrics" >&2 || true
posted=$(awk '/^kimi_review_reviews_total\{outcome="posted"\}/ { n += $2 } END { print n + 0 }' <<<"$metrics")
[ "$posted" = 1 ] || fail "the workers' metrics count $posted posted reviews, not 1"

step "a worker killed mid-review: the review is still posted exactly once"
curl -fsS -X POST "$github_url/_fake/model-delay?seconds=3" >/dev/null
before=$(model_calls)
curl -fsS "$github_url/_fake/event/8" -o "$tmp/pr8.json"
[ "$(send pull_request "$tmp/pr8.json")" = 202 ] || fail "pull_request #8 refused"
wait_for 60 "a model call for PR #8" more_model_calls_than "$before"
peer=$(status "s['model']['callers'][-1]")
victim=$(docker network inspect "$net" -f '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{"\n"}}{{end}}' |
  awk -v ip="$peer" '$2 ~ "^" ip "/" { print $1 }')
case "$victim" in *-worker-*) ;; *) fail "the model's caller $peer is no worker ($victim)" ;; esac
docker kill "$victim" >/dev/null
t=$(now)
say "killed $victim ($peer) while it waited for the model"
wait_for 240 "the review of PR #8 after the kill" reviewed 8
resume_s=$(since "$t")
sleep 6 # longer than the review lease: a second poster would show now
[ "$(reviews_of 8)" = 1 ] || fail "PR #8 has $(reviews_of 8) reviews"
dc up -d 2>>"$tmp/up.log" # the killed worker back, if its restart policy has not already
wait_for 120 "the killed worker healthy again" all_healthy 4

step "two reviews at once on two workers stay under the cap of $CAP model calls"
curl -fsS -X POST "$github_url/_fake/model-delay?seconds=1" >/dev/null
before=$(model_calls)
curl -fsS "$github_url/_fake/event/9" -o "$tmp/pr9.json"
curl -fsS "$github_url/_fake/event/10" -o "$tmp/pr10.json"
[ "$(send pull_request "$tmp/pr9.json")" = 202 ] || fail "pull_request #9 refused"
[ "$(send pull_request "$tmp/pr10.json")" = 202 ] || fail "pull_request #10 refused"
t=$(now)
wait_for 240 "the reviews of PRs #9 and #10" both_reviewed 9 10
capped_s=$(since "$t")
peak=$(status "s['model']['in_flight_max']")
callers=$(status "len(set(s['model']['callers'][$before:]))")
[ "$peak" -le "$CAP" ] || fail "the model saw $peak calls at once, cap $CAP"
# WORKER_MAX_REVIEWS=1: each worker took one of the two reviews.
[ "$callers" = 2 ] || fail "the two reviews' model calls came from $callers workers, not 2"
[ "$(reviews_of 9)" = 1 ] && [ "$(reviews_of 10)" = 1 ] || fail "PRs #9/#10 were not reviewed exactly once"

step "every service still healthy, and the final ping"
all_healthy 4 || fail "a service is not healthy"
[ "$(send ping "$tmp/ping.json")" = 200 ] || fail "the last ping was refused"

step "tear down"
image_mb=$(docker image inspect -f '{{.Size}}' "$(grep ^KIMI_REVIEW_IMAGE= "$tmp/env" | cut -d= -f2)" |
  awk '{ printf "%d", $1 / 1000000 }')
say "PASSED on Docker $(docker version -f '{{.Server.Version}}') ($(docker info -f '{{.Driver}}'))"
say "build ${build_s}s, image ${image_mb} MB, up -d ${created_s}s, all healthy ${healthy_s}s after up,"
say "webhook to review posted ${review_s}s (model answering at once),"
say "worker killed to review posted by the other ${resume_s}s (3 s model answers, ${CAP}-call cap),"
say "two 6-chunk reviews under the cap ${capped_s}s (1 s model answers): peak $peak calls at once"
say "(cap $CAP), the calls came from $callers workers"
