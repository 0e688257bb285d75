# -*- coding: utf-8 -*-
"""The odj_results and odj_summary filters, called directly on module results shaped as the modules return them."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.winimage.provisioning.plugins.filter.odj_results import FilterModule as ResultFilters
from ansible_collections.winimage.provisioning.plugins.filter.odj_summary import FilterModule as SummaryFilters

odj_results = ResultFilters().filters()['odj_results']
odj_summary = SummaryFilters().filters()['odj_summary']


def provision_run(*outcomes, **extra):
    """An odj_provision result: machines[] with name/status/changed/msg (+ dn, path), counts."""
    machines = []
    for name, status in outcomes:
        machines.append({'name': name, 'status': status, 'changed': status in ('created', 'reused'),
                         'msg': {'conflict': 'account exists (NERR_UserExists)'}.get(status, 'ok'),
                         'dn': 'CN=%s,CN=Computers,DC=corp,DC=example,DC=test' % name,
                         'path': '/srv/odj/%s.djoin.vault' % name, 'package': 'U0VDUkVU'})
    run = {'changed': any(m['changed'] for m in machines), 'machines': machines}
    run.update(extra)
    return run


def plan(*names, **kw):
    return [{'name': n, 'image': '/images/%s' % n.lower(), 'image_index': None, 'method': None,
             'provisioner': kw.get('provisioner', 'prov'), 'requester': kw.get('requester', 'req'),
             'target': kw.get('targets', {}).get(n)} for n in names]


# ------------------------------------------------------------------ odj_results('provision')

def test_provision_keeps_statuses_and_maps_module_failures():
    run = provision_run(('WS01', 'created'), ('WS02', 'reused'), ('WS03', 'conflict'), ('WS04', 'would_create'))
    out = odj_results(run, 'provision', ['ws01', 'WS02', 'WS03', 'WS04', 'WS05'])
    assert [o['name'] for o in out] == ['WS01', 'WS02', 'WS03', 'WS04', 'WS05']
    assert [o['status'] for o in out] == ['created', 'reused', 'failed', 'would create', 'failed']
    assert out[2]['msg'] == 'conflict: account exists (NERR_UserExists)'
    assert out[4]['msg'] == 'no outcome reported'
    assert out[0]['dn'].startswith('CN=WS01,') and out[0]['changed'] is True
    assert 'U0VDUkVU' not in repr(out), 'a package reached the role facts'


def test_provision_whole_task_failed_names_the_reason():
    run = {'failed': True, 'msg': 'cannot reach the DC dc1.corp.example.test:636: timed out'}
    out = odj_results(run, 'provision', ['WS01'])
    assert out == [{'name': 'WS01', 'status': 'failed', 'changed': False, 'msg': run['msg']}]


def test_provision_skipped_task_with_no_machines():
    assert odj_results({'skipped': True, 'changed': False}, 'provision', []) == []


# ------------------------------------------------------------------ odj_results('install')

MACHINES = [{'name': 'WS01', 'image': '/i/ws01'}, {'name': 'WS02', 'image': '/i/fleet.wim', 'image_index': 2, 'method': 'unattend'},
            {'name': 'WS03', 'image': '/i/ws03'}, {'name': 'WS04', 'image': '/i/ws04'}, {'name': 'WS05', 'image': '/i/ws05'},
            {'name': 'WS06', 'image': '/i/ws06'}]


def test_install_statuses_in_batch_order():
    # odj_install with installs: results[] in the order of the installs option
    run = {'changed': True, 'failed': True, 'msg': '1 of 3 images failed',
           'results': [{'changed': True, 'image': '/i/ws01'},
                       {'changed': False, 'image': '/i/fleet.wim'},
                       {'changed': False, 'failed': True, 'error': 'the SYSTEM hive is dirty (allow_dirty)'}]}
    reads = {'results': [{'item': {'name': 'WS06'}, 'failed': True, 'msg': 'file not found'}]}
    out = odj_results(run, 'install', MACHINES, batch=['WS01', 'WS02', 'WS03'], skip=['WS04'], pending=['WS05'],
                      reads=reads, source={'host': 'prov1', 'dir': '/srv/odj', 'suffix': '.djoin.vault'})
    by = dict((o['name'], o) for o in out)
    assert [o['name'] for o in out] == [m['name'] for m in MACHINES]
    assert by['WS01']['status'] == 'installed' and by['WS01']['method'] == 'registry'
    assert (by['WS02']['status'], by['WS02']['image'], by['WS02']['method']) == ('unchanged', '/i/fleet.wim #2', 'unattend')
    assert by['WS03'] == dict(MACHINES[2], method='registry', status='failed', changed=False,
                              msg='the SYSTEM hive is dirty (allow_dirty)')
    assert (by['WS04']['status'], by['WS04']['msg']) == ('skipped', 'not provisioned')
    assert by['WS05']['status'] == 'would install'
    assert by['WS06']['msg'] == 'package file /srv/odj/WS06.djoin.vault cannot be read on prov1: file not found'


def test_install_check_mode_and_whole_task_failure():
    run = {'changed': True, 'results': [{'changed': True}]}
    assert odj_results(run, 'install', MACHINES[:1], batch=['WS01'], check_mode=True)[0]['status'] == 'would install'
    crashed = {'failed': True, 'msg': 'winimage.provisioning.odj_install needs the regipy Python package'}
    out = odj_results(crashed, 'install', MACHINES[:2], batch=['WS01', 'WS02'])
    assert [o['msg'] for o in out] == [crashed['msg']] * 2
    assert odj_results({}, 'install', MACHINES[:1])[0]['msg'] == 'not run'


# ------------------------------------------------------------------ odj_results('preflight')

def test_preflight_from_verify_and_image_info():
    verify = {'failed': True, 'msg': '1 of 2 images failed', 'results': [
        {'machine_name': 'WS01', 'authenticated': True, 'account': 'WS01$', 'source': 'registry',
         'state': {'location': 'ControlSet001'}},
        {'machine_name': 'WS02', 'authenticated': False, 'msg': 'the secret in the image does not authenticate'}]}
    info = {'results': [{'registry': {'pending': {'location': 'SYSTEM\\ControlSet001'}}}, {}]}
    out = odj_results(verify, 'preflight', MACHINES[:3], batch=['WS01', 'WS02'], skip=['WS03'], image_info=info)
    assert out[0] == {'name': 'WS01', 'image': '/i/ws01', 'status': 'ok', 'msg': '', 'account': 'WS01$',
                      'source': 'registry', 'location': 'SYSTEM\\ControlSet001'}
    assert (out[1]['status'], out[1]['msg']) == ('failed', 'the secret in the image does not authenticate')
    assert (out[2]['status'], out[2]['msg']) == ('skipped', 'nothing installed')
    assert odj_results({}, 'preflight', MACHINES[:1], skip=['WS01'], check_mode=True)[0]['msg'] == 'check mode: nothing installed yet'


def test_preflight_unreadable_image():
    info = {'results': [{'failed': True, 'error': 'not a .wim file'}]}
    out = odj_results({'results': []}, 'preflight', MACHINES[:1], batch=['WS01'], image_info=info)
    assert (out[0]['status'], out[0]['msg']) == ('failed', 'cannot read the image: not a .wim file')


def test_results_bad_input_is_named():
    with pytest.raises(AnsibleFilterError, match='stage must be one of'):
        odj_results({}, 'boot', [{'name': 'A', 'image': '/x'}])
    with pytest.raises(AnsibleFilterError, match='machines as dicts with a name'):
        odj_results({}, 'install', ['WS01'])


# ------------------------------------------------------------------ odj_summary

def role_facts(names, prov_status, inst_status='installed', pre_status='ok'):
    prov = odj_results(provision_run(*[(n, prov_status) for n in names]), 'provision', list(names))
    machines = [{'name': n, 'image': '/images/%s' % n.lower()} for n in names]
    inst = [dict(m, status=inst_status, changed=inst_status == 'installed', msg='', method='registry') for m in machines]
    pre = [dict(m, status=pre_status, msg='') for m in machines]
    return {'prov': {'provisioner_results': prov},
            'req': {'requester_results': inst, 'requester_preflight_results': pre, 'requester_method': 'registry'}}


def test_summary_counts_a_reuse_rollout():
    # every account existed and was reset (reuse_account): all provisioned, none under-counted
    names = ['WS01', 'WS02', 'WS03']
    summary = odj_summary(plan(*names), role_facts(names, 'reused'))
    assert [r['provisioned'] for r in summary['machines']] == ['reused'] * 3
    assert summary['counts'] == {'machines': 3, 'provisioned': 3, 'installed': 3, 'verified': 3, 'failed': 0}
    assert 'machines 3, provisioned 3, installed 3, verified 3, failed 0' in summary['lines']


@pytest.mark.parametrize('status', ['created', 'reused', 'unchanged', 'would create', 'would reuse'])
def test_summary_counts_every_status_the_provisioner_role_reports(status):
    summary = odj_summary(plan('WS01'), role_facts(['WS01'], status))
    assert summary['counts']['provisioned'] == 1 and summary['failed'] == []


def test_summary_failures_agree_with_counts():
    facts = role_facts(['WS01', 'WS02'], 'created')
    facts['prov']['provisioner_results'][1] = {'name': 'WS02', 'status': 'failed', 'changed': False,
                                               'msg': 'invalid: name longer than 15 characters'}
    facts['req']['requester_results'][1].update(status='skipped', msg='not provisioned')
    facts['req']['requester_preflight_results'][1].update(status='skipped', msg='nothing installed')
    summary = odj_summary(plan('WS01', 'WS02'), facts, True)
    assert summary['failed'] == ['WS02: provisioning invalid: name longer than 15 characters']
    assert summary['counts'] == {'machines': 2, 'provisioned': 1, 'installed': 1, 'verified': 1, 'failed': 1}
    assert summary['check_mode'] is True
    assert summary['machines'][1]['msg'] == 'invalid: name longer than 15 characters'


def test_summary_host_without_results():
    # the requester host failed before setting its facts; the provisioner host is not in hostvars at all
    summary = odj_summary(plan('WS01', provisioner='gone'), {'req': {}})
    row = summary['machines'][0]
    assert (row['provisioned'], row['installed'], row['preflight']) == ('no result', 'no result', 'no result')
    assert summary['failed'] == ['WS01: provisioning no result from gone (host failed or unreachable)']
    assert summary['counts']['provisioned'] == 0


def test_summary_after_boot_and_table():
    facts = role_facts(['WS01', 'WS02', 'WS03'], 'created')
    facts['win1'] = {'target_results': {'name': 'WS01', 'status': 'joined', 'msg': 'member of corp.example.test'}}
    facts['win2'] = {'target_results': {'name': 'WS02', 'status': 'failed', 'msg': 'event 4099 (offline join failed)'}}
    summary = odj_summary(plan('WS01', 'WS02', 'WS03', targets={'WS01': 'win1', 'WS02': 'win2', 'WS03': 'win3'}), facts)
    assert [r['after_boot'] for r in summary['machines']] == ['joined', 'failed', 'skipped']
    assert summary['failed'] == ['WS02: after boot event 4099 (offline join failed)']
    assert summary['after_boot_note'].startswith('after-boot stage: 3 target(s): 1 joined, 1 failed, 1 skipped')
    header, first = summary['lines'][0], summary['lines'][1]
    assert header.split() == ['MACHINE', 'IMAGE', 'METHOD', 'PROVISIONED', 'INSTALLED', 'PRE-FLIGHT', 'AFTER', 'BOOT']
    assert header.index('IMAGE') == first.index('/images/ws01')
    no_targets = odj_summary(plan('WS01'), role_facts(['WS01'], 'created'))
    assert 'no Windows targets' in no_targets['after_boot_note']


def test_summary_rejects_what_is_not_a_plan():
    with pytest.raises(AnsibleFilterError, match='machine plan'):
        odj_summary('WS01', {})


# ------------------------------------------------------------------ odj_plan

from ansible_collections.winimage.provisioning.plugins.filter.odj_plan import FilterModule as PlanFilters  # noqa: E402

odj_plan = PlanFilters().filters()['odj_plan']


def test_plan_from_the_three_sources_in_order():
    groups = {'provisioners': ['prov1', 'prov2'], 'requesters': ['req1'], 'targets': ['ws10.corp.example.test', 'kiosk']}
    hostvars = {'ws10.corp.example.test': {'odj_image': '/i/ws10', 'odj_requester': 'req2'},
                'kiosk': {'odj_machine_name': 'kiosk-7', 'odj_image': '/i/fleet.wim', 'odj_image_index': '3',
                          'odj_method': 'unattend', 'odj_provisioner': 'prov2'}}
    plan = odj_plan(['ws01', {'name': 'ws02', 'image': '/i/ws02', 'image_index': 2, 'method': 'unattend',
                              'requester': 'req9'}],
                    hostvars, groups, names='ws03\n  ws04 \n\n', images='/i/fleet.wim#1\n/i/ws04\n')
    assert [p['name'] for p in plan] == ['WS01', 'WS02', 'WS03', 'WS04', 'WS10', 'KIOSK-7']
    assert plan[0] == {'name': 'WS01', 'image': '', 'image_index': None, 'method': None, 'provisioner': 'prov1',
                       'requester': 'req1', 'target': None}
    assert (plan[1]['image_index'], plan[1]['method'], plan[1]['requester']) == (2, 'unattend', 'req9')
    assert (plan[2]['image'], plan[2]['image_index']) == ('/i/fleet.wim', '1')
    assert (plan[3]['image'], plan[3]['image_index']) == ('/i/ws04', None)
    assert (plan[4]['target'], plan[4]['requester'], plan[4]['image']) == ('ws10.corp.example.test', 'req2', '/i/ws10')
    assert (plan[5]['provisioner'], plan[5]['image_index'], plan[5]['method']) == ('prov2', '3', 'unattend')


def test_plan_survey_image_pattern_and_missing_images():
    plan = odj_plan([], names=['ws01', 'ws02'], images=['/images/{name}'])
    assert [(p['name'], p['image']) for p in plan] == [('WS01', '/images/ws01'), ('WS02', '/images/ws02')]
    plan = odj_plan(None, names='ws01\nws02', images='/images/ws01')
    assert [p['image'] for p in plan] == ['/images/ws01', '']  # the playbook refuses the machine without an image
    assert [p['provisioner'] for p in plan] == ['localhost', 'localhost']
    assert odj_plan([], names='a', images='/x', provisioner='p9', requester='r9')[0]['requester'] == 'r9'


def test_plan_bad_input_is_named():
    with pytest.raises(AnsibleFilterError, match='list of names or dicts'):
        odj_plan('ws01')
    with pytest.raises(AnsibleFilterError, match='without a name'):
        odj_plan([{'image': '/x'}])
