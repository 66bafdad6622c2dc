#!/usr/bin/env bash
# Docker Compose, whichever this machine has: v2 (`docker compose`) where it exists, else v1
# (`docker-compose`, as in Debian's package). The Makefile and the tests both call this.
if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
fi
exec docker-compose "$@"
