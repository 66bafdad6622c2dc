#!/usr/bin/env bash
# `make lint`: rustfmt, clippy with warnings as errors (for this machine and for macOS), shellcheck
# on every script, and one rule of our own for the scripts. A missing shellcheck or macOS target
# is a SKIP (a failure under REQUIRE_DOCKER=1).
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

scripts=(scripts/*.sh vm/*.sh drills/*.sh .ci/run)

cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings

# The programs build natively on macOS too: check and lint them, tests included, for both kinds
# of Mac. That needs only each target's standard library, no linker and no Mac.
installed=$(rustup target list --installed)
for target in "${MAC_TARGETS[@]}"; do
  if grep -qx "$target" <<<"$installed"; then
    cargo clippy --locked --workspace --all-targets --target "$target" -- -D warnings
    pass "clippy for $target"
  else
    skip "rustup has no $target (make deps adds it)"
  fi
done

if command -v shellcheck >/dev/null; then
  shellcheck "${scripts[@]}" # .shellcheckrc: follow sourced files
  pass "shellcheck: ${#scripts[@]} scripts"
else
  skip "shellcheck is not installed (make deps installs it)"
fi

# Under pipefail, a reader that stops at its first match (grep -q, grep -m, head) ends the
# pipeline early: the writer dies of SIGPIPE, the pipeline's status is 141, and "found" reads as
# "not found". Capture the writer's output first, or give grep a here-string.
early_exit='(^|[^|])\|[[:space:]]*(grep([[:space:]][^|]*)?[[:space:]](-[a-zA-Z]*[qm][a-zA-Z0-9]*|--quiet|--silent|--max-count)([[:space:]=]|$)|head([[:space:]]|$))'
bar='|' # the rule's own check, spelt so that this file does not trip it
if ! grep -qE "$early_exit" <<<"x $bar grep -q y" || grep -qE "$early_exit" <<<"x $bar$bar grep -q y <<<z"; then
  fail "lint.sh's early-exit pattern no longer tells a pipeline from a here-string"
fi
if found=$(grep -nE "$early_exit" "${scripts[@]}" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#'); then
  printf '%s\n' "$found" >&2
  fail "a pipeline ends in grep -q, grep -m or head: under pipefail its writer can die of SIGPIPE and 'found' reads as 'not found'; capture the output first or use a here-string"
fi
pass "no pipeline ends in a reader that stops early (grep -q, grep -m, head)"
