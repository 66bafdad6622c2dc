#!/usr/bin/env bash
# `make test-page`: the live page at / in a real browser. Three producers, each with its own host
# name (a UTS namespace each: the producer names itself after its host, as in a container),
# behind a round-robin front (rr-front.py, which balances connections as Swarm's routing mesh
# does). curl through the front gets the text form; headless Chromium opens the page through it,
# and page-check.py reads the page's DOM: numbers arrive, every replica appears, Pause and a
# hidden tab stop the polls, it fits a phone, and a killed replica's failed polls are shown.
# Usage: scripts/test-page.sh [SCREENSHOT.png]   (the page at the end, as a PNG)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
screenshot=${1:-}

command -v chromium >/dev/null || skip_or_fail "no chromium for the live page's test (make deps installs it)"
unshare --uts true 2>/dev/null || skip_or_fail "unshare --uts, which gives each producer its own host name, needs root"
producer=target/release/producer
[ -x "$producer" ] || fail "no $producer: run make build"

names=(page-test-1 page-test-2 page-test-3)
pids=() ports=() front_pid=""
cleanup() {
  local pid
  for pid in "${pids[@]}" $front_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $front_pid; do wait "$pid" 2>/dev/null || true; done
  rm -f "${front_file:-}"
}
trap cleanup EXIT

for name in "${names[@]}"; do
  port=$(free_port)
  # shellcheck disable=SC2016 # $1, $2 and $3 are the inner shell's
  unshare --uts sh -c 'hostname "$1" && exec "$2" --host 127.0.0.1 --port "$3"' _ "$name" "$producer" "$port" >/dev/null &
  pids+=($!) ports+=("$port")
done
front_file=$(mktemp /tmp/fogdeft-front.XXXXXX)
# The front stops by itself after 3 minutes, should this script be killed.
python3 scripts/rr-front.py 180 "${ports[@]}" >"$front_file" &
front_pid=$!
front_port() { grep -m1 -x '[0-9]*' "$front_file"; }
wait_until 10 "the round-robin front listens" front_port
url=http://127.0.0.1:$(front_port)/
healthy() { curl -fsS -m 2 "http://127.0.0.1:$1/healthz"; }
for port in "${ports[@]}"; do wait_until 10 "a producer on port $port is healthy" healthy "$port"; done

# The text form, as `curl <node>:5000/` in a loop shows it: one replica per connection.
text=$(for _ in 1 2 3; do curl -fsS -m 2 "$url"; done)
for name in "${names[@]}"; do
  grep -qx "Hostname: $name" <<<"$text" || fail "curl $url three times: no 'Hostname: $name' in: $text"
done
pass "curl $url (no Accept header) gets the text form, from each replica in turn: ${names[*]}"
page=$(curl -fsS -m 2 -H 'Accept: text/html,*/*;q=0.8' -D- "$url" | tr -d '\r')
{ grep -qi '^Content-Type: text/html' <<<"$page" && grep -q '<script>' <<<"$page"; } ||
  fail "curl -H 'Accept: text/html' $url: not the page: $(head -c 300 <<<"$page")"
pass "with Accept: text/html, / is the live page ($(wc -c <web/live.html) bytes)"

scripts/page-check.py "$url" "${names[@]}" --kill "${names[2]}=${pids[2]}" --timeout 60 ${screenshot:+--screenshot "$screenshot"} ||
  fail "the live page in Chromium ($(chromium --version 2>/dev/null))"
