# -*- coding: utf-8 -*-
"""win_odj_join_info on the controller: the registry dump read like odj_image_info, the join judged in Python.

run() is driven through a connection stub answering with recorded module results; the
registry part of those results is the dump of a real Windows SYSTEM hive (../shared fixtures),
with the join state a real Samba-made package plans on top when a join is pending.
"""

import lzma
import os
import shutil

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.winimage.provisioning.plugins.action import win_odj_join_info as act
from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as _hivex
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import (
    HivexReader, control_set_name, plan_entries)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw

from test_win_odj_install_action import dump_like_module
from win_action_stub import run_action


@pytest.fixture(scope='module')
def hive(shared_dir, tmp_path_factory):
    dest = tmp_path_factory.mktemp('hive') / 'SYSTEM'
    with lzma.open(os.path.join(shared_dir, 'fixtures', 'hives', 'SYSTEM.xz')) as src, open(dest, 'wb') as out:
        shutil.copyfileobj(src, out)
    return str(dest)


@pytest.fixture(scope='module')
def kiosk(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return decode(to_raw(handle.read()))


def registry(hive, pd=None):
    with _hivex.Hive(hive) as h:
        reader = HivexReader(h)
        overlay = plan_entries(pd, control_set_name(reader), skip_unsupported=True) if pd is not None else ()
        return dump_like_module(reader, b'k' * 32, overlay)['registry']


def found(reg, part_of_domain=True, domain='corp.example.test', name='KIOSK-07', events=(), tail=()):
    return {'changed': False, 'computer': {'name': name, 'domain': domain, 'part_of_domain': part_of_domain,
                                           'domain_role': 1 if part_of_domain else 0},
            'registry': reg, 'secrets': [], 'events': list(events), 'netsetup_log_present': bool(tail),
            'netsetup_tail': list(tail)}


OK = {'id': 4098, 'time': '2026-11-30T08:14:02Z', 'message': 'joined'}
BAD = {'id': 4099, 'time': '2026-11-30T09:00:00Z', 'message': 'The offline join failed: 0x54b'}


def test_joined_machine(hive):
    tail = ['noise'] * 50 + ['11/30 NetpRequestOfflineDomainJoin: status: 0x0', 'more noise']
    result, conn = run_action(act.ActionModule, {'domain': 'CORP.EXAMPLE.TEST.', 'machine_name': 'kiosk-07'},
                              {'query': found(registry(hive), events=[OK], tail=tail)}, check_mode=True)
    assert result['status'] == 'joined' and result['joined'] is True and result['changed'] is False
    assert result['msg'] == 'member of corp.example.test, event 4098 at 2026-11-30T08:14:02Z'
    assert result['offline_join_pending'] is False and result['pending_join'] is None
    assert result['netsetup_lines'] == ['11/30 NetpRequestOfflineDomainJoin: status: 0x0']
    request = conn.calls[0][1]['_request']
    assert request['event_ids'] == [4098, 4099] and request['mask'] == ['CurrentValue']


def test_pending_join_is_read_like_odj_image_info(hive, kiosk):
    result, dummy = run_action(act.ActionModule, {'domain': 'corp.example.test'},
                               {'query': found(registry(hive, kiosk), part_of_domain=False, domain='WORKGROUP')})
    assert result['status'] == 'failed' and result['offline_join_pending'] is True
    assert result['pending_join']['machine_name'] == 'KIOSK-07'
    assert result['pending_join']['clear_text_secret_present'] is True
    assert 'KIOSK-07 in corp.example.test is still pending' in result['msg']
    assert kiosk.win7.machine_password not in repr(result)


@pytest.mark.parametrize('kw, events, message', [
    (dict(domain='other.test'), [OK], 'member of other.test, expected corp.example.test'),
    (dict(name='KIOSK-08'), [OK], 'as KIOSK-08, expected KIOSK-07'),
    (dict(part_of_domain=False, domain='WORKGROUP'), [BAD, OK], 'event 4099 (offline join failed) at 2026-11-30T09:00:00Z'),
    (dict(part_of_domain=False, domain='WORKGROUP'), [], 'no offline join pending'),
])
def test_failures_say_why(hive, kw, events, message):
    result, dummy = run_action(act.ActionModule, {'domain': 'corp.example.test', 'machine_name': 'KIOSK-07'},
                               {'query': found(registry(hive), events=events, **kw)})
    assert result['status'] == 'failed' and message in result['msg']


def test_module_failure_and_bad_options(hive):
    result, dummy = run_action(act.ActionModule, {}, {'query': {'failed': True, 'msg': 'WinRM said no'}})
    assert result['failed'] and result['msg'] == 'WinRM said no'
    with pytest.raises(AnsibleActionFail, match='event_lookback_days'):
        run_action(act.ActionModule, {'event_lookback_days': 0}, {})
    with pytest.raises(AnsibleActionFail, match='bogus'):
        run_action(act.ActionModule, {'bogus': 1}, {})
    with pytest.raises(AnsibleActionFail, match='not a SYSTEM hive'):
        run_action(act.ActionModule, {}, {'query': found({'ControlSet001\\Control': {'values': [], 'subkeys': []}})})
