# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.win_odj_join_info.

The PowerShell module only reads (Win32_ComputerSystem, the tail of
NetSetup.log, the System events 4098/4099, the offline-join registry keys with
the machine password reported as present only). Here:

* the keys are read with the same reader as odj_image_info and win_odj_install
  (``image.registry.read_pending`` over a ``DumpReader``);
* the NetSetup.log lines about the join are picked out;
* ``odj.decide.judge_join`` says whether the machine completed its join.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import (
    EVENT_JOIN_FAILED, EVENT_JOIN_OK, JOINED, judge_join)
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import (
    JOIN_STATE_KEYS, SECRET_VALUE, DumpReader, NotSystemHiveError, read_pending)

MODULE = 'winimage.provisioning.win_odj_join_info'
ARGUMENT_SPEC = dict(
    domain=dict(type='str'),
    machine_name=dict(type='str'),
    event_lookback_days=dict(type='int', default=30),
)
REGISTRY_KEYS = [dict(key) for key in JOIN_STATE_KEYS]
LOG_LINES = 400
KEEP_LINES = 40
NETSETUP_JOIN_LINE = re.compile(r'NetpJoinDomain|NetpProvision|NetpRequestOfflineDomainJoin|ODJ|NetpDoDomainJoin|'
                                r'status of|Offline|0x')


def join_lines(tail):
    """The NetSetup.log lines about joining, the last KEEP_LINES of them."""
    return [line for line in tail or [] if NETSETUP_JOIN_LINE.search(line)][-KEEP_LINES:]


def pending_from_dump(registry):
    """read_pending over the module's dump; None when no offline join is pending."""
    try:
        return read_pending(DumpReader(registry))
    except NotSystemHiveError as exc:
        raise AnsibleActionFail('HKLM\\SYSTEM of the target: %s' % to_native(exc))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        checked = ArgumentSpecValidator(ARGUMENT_SPEC).validate(dict(self._task.args))
        if checked.error_messages:
            raise AnsibleActionFail('win_odj_join_info: %s' % '; '.join(checked.error_messages))
        params = dict((k, v) for k, v in checked.validated_parameters.items() if k in ARGUMENT_SPEC)
        if params['event_lookback_days'] < 1:
            raise AnsibleActionFail('event_lookback_days must be 1 or more, got %d' % params['event_lookback_days'])
        args = dict((k, v) for k, v in params.items() if v is not None)
        args['_request'] = {'registry_keys': REGISTRY_KEYS, 'mask': [SECRET_VALUE], 'log_lines': LOG_LINES,
                            'event_ids': [EVENT_JOIN_OK, EVENT_JOIN_FAILED]}
        found = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        if found.get('failed'):
            return dict(result, failed=True, msg=found.get('msg'))
        computer = found.get('computer') or {}
        pending = pending_from_dump(found.get('registry'))
        events = sorted(found.get('events') or [], key=lambda e: e.get('time') or '', reverse=True)
        status, message = judge_join(computer, pending, events, params.get('domain'), params.get('machine_name'))
        result.update({
            'changed': False,
            'status': status,
            'joined': status == JOINED,
            'msg': message,
            'computer_name': computer.get('name'),
            'part_of_domain': bool(computer.get('part_of_domain')),
            'domain': computer.get('domain'),
            'domain_role': computer.get('domain_role'),
            'offline_join_pending': pending is not None,
            'pending_join': pending,
            'events': events,
            'netsetup_log_present': bool(found.get('netsetup_log_present')),
            'netsetup_lines': join_lines(found.get('netsetup_tail')),
        })
        if found.get('warnings'):
            result['warnings'] = list(found['warnings'])
        return result
