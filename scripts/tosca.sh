#!/usr/bin/env bash
# `make tosca-validate`, `tosca-deploy`, `tosca-undeploy`: xOpera runs tosca/service.yaml with an
# inputs file (default tosca/inputs-local.yaml: this machine alone). Each inputs file keeps its
# own deployment state in .opera-tosca/NAME, so the lab's and this machine's never mix.
# Usage: scripts/tosca.sh validate|deploy|undeploy|outputs [INPUTS]
#   (env: TOSCA_TEMPLATE, another service template (tests use it); TOSCA_VENV, the venv of
#   `make deps`; OPERA_SSH_USER and OPERA_SSH_IDENTITY_FILE for the SSH login, by default root
#   with the swarm lab's key when a lab runs with LAB_SSH=1; OPERA_TIME=FILE: /usr/bin/time -v)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vm/lab.sh"
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ $# -gt 2 ]; then fail "usage: $0 validate|deploy|undeploy|outputs [INPUTS]"; fi
action=$1 inputs=$(realpath "${2:-tosca/inputs-local.yaml}")
venv=${TOSCA_VENV:-.venv-tosca} template=${TOSCA_TEMPLATE:-tosca/service.yaml}
[ -x "$venv/bin/opera" ] || fail "no opera in $venv (make deps installs it)"
[ -f "$inputs" ] || fail "no inputs file $inputs"
state=.opera-tosca/$(basename "${inputs%.*}")
mkdir -p "$state"
# The template's files must lie inside its folder (opera refuses paths outside it, and links):
# the stack file, the one source of how the services run, goes in as a copy (git-ignored).
cp docker-stack.yml docker-stack.dnsrr.yml "$(dirname "$template")/"
# opera runs ansible-playbook from the venv; the venv's bin goes first on PATH.
export PATH=$PWD/$venv/bin:$PATH
# Ansible: the nodes' own Python (a Pi's is /usr/bin/python3), and our callback that says why an
# operation failed (opera's own shows only counts).
export ANSIBLE_PYTHON_INTERPRETER=${ANSIBLE_PYTHON_INTERPRETER:-/usr/bin/python3}
export ANSIBLE_COLLECTIONS_PATH=$PWD/tosca/collections ANSIBLE_CALLBACKS_ENABLED=fogdeft.tosca.errors
export OPERA_SSH_USER=${OPERA_SSH_USER:-root}
if [ -z "${OPERA_SSH_IDENTITY_FILE:-}" ] && [ -f "$LAB_RUN/ssh/id" ]; then
  export OPERA_SSH_IDENTITY_FILE=$LAB_RUN/ssh/id
fi
opera=(opera)
[ -z "${OPERA_TIME:-}" ] || opera=(/usr/bin/time -v -o "$OPERA_TIME" opera)

# run_opera ARG...: opera, showing its progress; on failure one line that names the node, the
# operation and why (opera itself ends in a Python traceback), and where the whole log is.
run_opera() {
  local log=$state/opera.log status operation why
  set +e
  "${opera[@]}" "$@" 2>&1 | tee "$log" |
    sed -un 's/^\[Worker_[0-9]*\] *\(Deploying\|Undeploying\|Executing\)/  \1/p'
  status=${PIPESTATUS[0]}
  set -e
  # opera also exits 0 when it declines to act ("already deployed", "in error state"): its
  # status must say it did what was asked.
  if [ "$status" = 0 ]; then
    [ "$1" = validate ] || status=$(opera info --instance-path "$state" --format json |
      "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["status"])')
    case "$1:$status" in validate:* | deploy:deployed | undeploy:undeployed) return 0 ;; esac
    fail "opera $1 ended with the deployment $status: $(grep -v '^\[' "$log" | tail -1)"
  fi
  operation=$(sed -n 's/^\[Worker_[0-9]*\] *Executing \(.*\)_0$/\1/p' "$log" | tail -1)
  why=$(awk 'sub(/^TOSCA-ERROR: /, "") && n++ < 3' "$log")
  [ -n "$why" ] || why=$(grep -o '\(ParseError\|DataError\|Error\): .*' "$log" | tail -1)
  # Ansible failed with no task to blame (it did not start, or crashed): its last words, which
  # opera prints between its lines of dashes and of equals signs.
  [[ $why != *": Failed" ]] || sed -n '/^\[Worker_[0-9]*\] -*$/,/^\[Worker_[0-9]*\] =*$/p' "$log" | tail -n 20 >&2
  printf 'FAIL: opera %s: %s%s (whole log: %s)\n' "$1" "${operation:+operation $operation: }" "${why:-see the log}" "$log" >&2
  exit 1
}

# opera applies no TOSCA constraints: check the inputs against them first.
check() { "$venv/bin/python" scripts/tosca-check-inputs.py "$template" "$inputs" || exit 2; }
case "$action" in
  validate)
    check
    run_opera validate --inputs "$inputs" "$template"
    say "$template is valid with $inputs"
    ;;
  deploy)
    check
    # --clean-state runs every operation again: each looks before it acts, so what is already
    # deployed stays as it is, and only what the template or the inputs changed is changed.
    run_opera deploy --clean-state --force --instance-path "$state" --inputs "$inputs" "$template"
    opera outputs --instance-path "$state"
    ;;
  undeploy)
    if [ ! -d "$state/instances" ]; then
      say "nothing deployed with $inputs"
      exit 0
    fi
    run_opera undeploy --resume --force --instance-path "$state"
    rm -rf "$state"
    ;;
  outputs) opera outputs --instance-path "$state" ;;
  *) fail "usage: $0 validate|deploy|undeploy|outputs [INPUTS]" ;;
esac
