#!/usr/bin/env bash
# Docker Compose, whichever this machine has: v2 (`docker compose`) where it exists, else v1
# (`docker-compose`, as in Debian's package). The Makefile and the tests both call this.
# Before `up`, it says so if the engine would ignore the services' memory limits.
. "$(dirname "$0")/lib.sh"
[ "${1:-}" != up ] || memory_limits_warning
if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
fi
exec docker-compose "$@"
