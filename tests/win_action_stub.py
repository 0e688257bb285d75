# -*- coding: utf-8 -*-
"""Run a Windows action plugin's run() against recorded module results.

No Windows host: a connection stub stands in for it. Each call of the module
(``_execute_module``) is answered by the next recorded result for its
``_phase`` (a dict, or a callable taking the module arguments); every call is
kept in ``calls`` so a test can check what was sent, and a phase that was
not recorded fails the test (the plugin asked for something it should not).
"""

from __future__ import annotations

import copy

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar


class ShellStub(object):
    tmpdir = None

    def join_path(self, *parts):
        return '\\'.join(parts)


class ConnectionStub(object):
    """The Windows host: answers module calls from recorded results, per phase, in order."""

    def __init__(self, recorded):
        self._shell = ShellStub()
        self.recorded = dict((phase, list(items) if isinstance(items, list) else [items])
                             for phase, items in recorded.items())
        self.calls = []

    def answer(self, module_name, module_args):
        phase = module_args.get('_phase', 'query')
        self.calls.append((module_name, copy.deepcopy(module_args)))
        queue = self.recorded.get(phase)
        if not queue:
            raise AssertionError('the plugin called phase %r, which the test did not record' % phase)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        return copy.deepcopy(item(module_args) if callable(item) else item)

    def phases(self):
        return [args.get('_phase', 'query') for _name, args in self.calls]


def run_action(cls, args, recorded, check_mode=False, diff=False, loader=None):
    """(result, connection) of cls(...).run() with the task args given."""
    task = Task()
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = diff
    connection = ConnectionStub(recorded)
    loader = loader or DataLoader()
    action = cls(task, connection, PlayContext(), loader, Templar(loader=loader), None)

    def execute_module(module_name=None, module_args=None, task_vars=None, **_kwargs):
        return connection.answer(module_name, module_args or {})

    action._execute_module = execute_module
    action._remove_tmp_path = lambda *a, **k: None
    action._make_tmp_path = lambda *a, **k: None
    return action.run(task_vars={}), connection
