# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: every task's result per host, as one JSON document.

ansible-core no longer ships a JSON stdout callback; the tests need results
they can parse. Results pass through Ansible's own no_log censoring first.
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: json_results
type: stdout
short_description: Print all task results as one JSON document (tests only)
description:
  - Collects each task's result per host and prints them as JSON at the end of the run.
author:
  - winimage.provisioning contributors
'''

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Collect results; print {"plays": [{"tasks": [{"task": {"name"}, "hosts": {...}}]}]}."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'json_results'

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]['tasks'].append({'task': {'name': task.get_name()}, 'hosts': {}})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _record(self, result, **extra):
        data = self._clean_results(result._result, result._task.action) or result._result
        data = dict(data)
        data.update(extra)
        self.plays[-1]['tasks'][-1]['hosts'][result._host.get_name()] = data

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((h, stats.summarize(h)) for h in sorted(stats.processed.keys()))
        self._display.display(json.dumps({'plays': self.plays, 'stats': summary}, indent=1, default=str))
