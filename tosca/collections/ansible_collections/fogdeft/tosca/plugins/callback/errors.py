# Prints why an operation failed. opera shows Ansible's output through a callback of its own
# that reports only counts, so a failed task's message would be lost; scripts/tosca.sh enables
# this one beside it (ANSIBLE_CALLBACKS_ENABLED=fogdeft.tosca.errors).
import os
import sys

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: errors
type: notification
short_description: one line on stderr for each failed or unreachable task
description: Says which operation (playbook), on which host, failed in which task, and why.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "fogdeft.tosca.errors"

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(playbook._file_name)

    def report(self, result, what):
        if result._task.ignore_errors or result._task.ignore_unreachable:
            return
        reason = result._result.get("msg") or result._result.get("stderr") or "no message"
        host = result._host.vars.get("ansible_host", result._host.get_name())
        print(f"TOSCA-ERROR: {self.playbook} on {host}: {what} in task '{result._task.get_name()}': "
              f"{' '.join(str(reason).split())}", file=sys.stderr)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self.report(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self.report(result, "unreachable")
