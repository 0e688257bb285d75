# -*- coding: utf-8 -*-
"""odj_package_info and the odj_info / odj_convert filters, run by real ansible-playbook."""

import base64
import os
import uuid

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T

from playbook import run_playbook, task_results

PASSWORD = 'Sup3r-Secret-Machine-Pw-' + uuid.uuid4().hex


def make_package(**overrides):
    fields = dict(domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
                  domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'),
                  domain_sid='S-1-5-21-2720103478-3893655958-3880862394', machine_name='WS-0042',
                  machine_password=PASSWORD, dc_name='dc1.corp.example.test', dc_address='127.0.0.1',
                  dc_flags=0xe00013fd, dc_site_name='Default-First-Site-Name',
                  client_site_name='Default-First-Site-Name', options=0x2, rid=1105)
    fields.update(overrides)
    return P.encode(P.build_package(**fields))


def secret_free(output):
    encoded = [PASSWORD, PASSWORD.encode('utf-16-le').hex(), base64.b64encode(PASSWORD.encode('utf-16-le')).decode()[:20]]
    return not any(e in output for e in encoded)


def test_module_reads_every_form_and_never_shows_the_password(tmp_path, collections_root):
    raw = make_package()
    djoin = tmp_path / 'ws.djoin'
    djoin.write_bytes(T.to_djoin_file(raw))
    rawfile = tmp_path / 'ws.raw'
    rawfile.write_bytes(raw)
    tasks = [
        {'name': 'djoin file', 'winimage.provisioning.odj_package_info': {'path': str(djoin)}, 'register': 'a'},
        {'name': 'raw file', 'winimage.provisioning.odj_package_info': {'path': str(rawfile)}, 'register': 'b'},
        {'name': 'base64 data', 'winimage.provisioning.odj_package_info': {'data': T.to_base64(raw)}, 'register': 'c'},
        {'name': 'filter', 'ansible.builtin.set_fact': {
            'via_filter': "{{ lookup('ansible.builtin.file', '%s') | winimage.provisioning.odj_info }}"
                          % str(tmp_path / 'b64.txt')}},
        {'name': 'show', 'ansible.builtin.debug': {'var': 'via_filter'}},
    ]
    (tmp_path / 'b64.txt').write_text(T.to_base64(raw))
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=0)
    assert rc == 0, out[-3000:] if secret_free(out) else 'playbook failed (output withheld: it holds the secret)'
    assert secret_free(out)
    results = task_results(out)
    forms = [results[name]['form'] for name in ('djoin file', 'raw file', 'base64 data')]
    assert forms == ['djoin_file', 'raw', 'base64']
    for name in ('djoin file', 'raw file', 'base64 data'):
        r = results[name]
        assert r['changed'] is False
        assert r['machine_name'] == 'WS-0042' and r['machine_rid'] == 1105
        assert r['domain'] == {'netbios_name': 'CORP', 'dns_name': 'corp.example.test', 'forest': 'corp.example.test',
                               'guid': 'f4432a6b-9694-4c94-8c03-b7152aee2ba2',
                               'sid': 'S-1-5-21-2720103478-3893655958-3880862394'}
        assert r['option_names'] == ['NETSETUP_PROVISION_REUSE_ACCOUNT']
        assert r['has_password'] is True and r['size'] == len(raw)
        assert [p['type'] for p in r['parts']] == ['join_provider', 'join_provider_3']


def test_module_at_vvvv_leaks_nothing(tmp_path, collections_root):
    raw = make_package()
    tasks = [
        {'name': 'data', 'winimage.provisioning.odj_package_info': {'data': T.to_base64(raw)}},
        {'name': 'bad data', 'winimage.provisioning.odj_package_info': {'data': T.to_base64(raw[:-40])},
         'ignore_errors': True},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4)
    assert secret_free(out)
    assert 'WS-0042' in out
    assert 'is not a valid provisioning package' in out


@pytest.mark.parametrize('content,needle', [
    (b'', 'empty'),
    (b'\x01\x10\x08\x00\xcc\xcc\xcc\xcc\x08\x00\x00\x00\x00\x00\x00\x00', 'header says 8 body bytes but 0 follow'),
    (b'not a package at all', "character ' ' is not base64"),
])
def test_module_errors_name_the_problem(tmp_path, collections_root, content, needle):
    bad = tmp_path / 'bad.djoin'
    bad.write_bytes(content)
    tasks = [{'name': 'bad', 'winimage.provisioning.odj_package_info': {'path': str(bad)}}]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=0)
    assert rc != 0
    result = task_results(out)['bad']
    assert result['failed'] and needle in result['msg'] and str(bad) in result['msg']


def test_module_missing_file(tmp_path, collections_root):
    tasks = [{'name': 'missing', 'winimage.provisioning.odj_package_info': {'path': str(tmp_path / 'nope.djoin')}}]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=0)
    result = task_results(out)['missing']
    assert rc != 0 and 'cannot be read' in result['msg'] and 'nope.djoin' in result['msg']


def test_module_reads_shared_fixtures(tmp_path, collections_root, shared_dir):
    path = os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin')
    tasks = [{'name': 'kiosk', 'winimage.provisioning.odj_package_info': {'path': path}}]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=0)
    r = task_results(out)['kiosk']
    assert rc == 0
    assert r['machine_name'] == 'KIOSK-07' and r['dc']['address'] == '\\\\127.0.0.1'
    assert r['option_names'] == ['NETSETUP_PROVISION_REUSE_ACCOUNT', 'NETSETUP_PROVISION_USE_DEFAULT_PASSWORD']
