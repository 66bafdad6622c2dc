# Shared helpers for the scripts in this folder: `. "$(dirname "$0")/lib.sh"`.
# Every test script prints one PASS/FAIL line per check, and a visible SKIP when it cannot run.
set -euo pipefail

say()  { printf '==> %s\n' "$*"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# A missing prerequisite is a SKIP, except under REQUIRE_DOCKER=1 (set by .ci/run), where it fails.
skip_or_fail() {
  if [ "${REQUIRE_DOCKER:-0}" = 1 ]; then fail "$1 (and REQUIRE_DOCKER=1)"; fi
  printf 'SKIP: %s\n' "$1"
  exit 0
}
require_docker() {
  docker info >/dev/null 2>&1 || skip_or_fail "no Docker engine reachable"
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.2 s until it succeeds, or fails after SECONDS.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (not within ${limit}s)"
    sleep 0.2
  done
}

# Compose v2 (`docker compose`) where it exists, else v1 (`docker-compose`).
compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}
