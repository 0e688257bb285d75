# -*- coding: utf-8 -*-
"""The filters that turn the rollout plan and the requester role's inputs into module options: odj_requester_machines,
odj_package_sources, odj_package_batch, odj_installs, odj_image_entries. Called as the role calls them, on results
shaped as the modules (odj_provision, slurp) return them, with a real package encrypted with Ansible Vault."""

import base64
import uuid

import pytest
from ansible.errors import AnsibleFilterError
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.winimage.provisioning.plugins.filter.odj_image_entries import odj_image_entries
from ansible_collections.winimage.provisioning.plugins.filter.odj_installs import odj_installs
from ansible_collections.winimage.provisioning.plugins.filter.odj_package_batch import odj_package_batch
from ansible_collections.winimage.provisioning.plugins.filter.odj_package_sources import odj_package_sources
from ansible_collections.winimage.provisioning.plugins.filter.odj_requester_machines import odj_requester_machines
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T

PASSWORD = 'requester-filter-' + uuid.uuid4().hex
VAULT = 'vault-' + uuid.uuid4().hex


def package(name):
    return P.encode(P.build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test', domain_guid=uuid.UUID(int=9),
        domain_sid='S-1-5-21-1-2-3', machine_name=name, machine_password=PASSWORD, dc_name='dc1',
        dc_address='10.0.0.1', dc_flags=0x1fd, options=0, rid=1234))


def slurped(raw, secret=VAULT):
    """What ansible.builtin.slurp returns for a package file odj_provision wrote with vault_password."""
    envelope = VaultLib([('odj', VaultSecret(secret.encode()))]).encrypt(T.to_djoin_file(raw))
    return base64.b64encode(envelope).decode('ascii')


def provisioner_run(*names):
    return {'provisioner_run': {'changed': True, 'machines': [
        {'name': n, 'status': 'created', 'package': 'PKG-' + n} for n in names] + [
        {'name': 'NOPKG', 'status': 'failed'}]}}


# ------------------------------------------------------------------ odj_requester_machines

def test_requester_machines_drop_unset_keys_and_name_the_source():
    plan = [{'name': 'WS01', 'image': '/img/ws01', 'image_index': None, 'method': None, 'provisioner': 'p1',
             'requester': 'r1', 'target': None},
            {'name': 'WS02', 'image': '/img/fleet.wim', 'image_index': '2', 'method': 'unattend', 'provisioner': 'p2',
             'requester': 'r1', 'target': 'ws02.corp'}]
    assert odj_requester_machines(plan) == [{'name': 'WS01', 'image': '/img/ws01'},
                                            {'name': 'WS02', 'image': '/img/fleet.wim', 'image_index': '2',
                                             'method': 'unattend'}]
    out = odj_requester_machines(plan, {'p1': {'odj_store_dir': '/srv/odj'}, 'p2': {}})
    expected = [('p1', '/srv/odj'), ('p2', '/var/lib/winimage/odj-packages')]
    assert [(m['source_host'], m['source_dir']) for m in out] == expected


def test_requester_machines_read_each_provisioner_once():
    class CountingHostvars(dict):
        reads = 0

        def __getitem__(self, key):
            CountingHostvars.reads += 1
            return dict.__getitem__(self, key)

    plan = [{'name': 'WS%02d' % i, 'image': '/img', 'provisioner': 'p1'} for i in range(20)]
    odj_requester_machines(plan, CountingHostvars(p1={'odj_store_dir': '/s'}))
    assert CountingHostvars.reads == 1


def test_requester_machines_refuse_bad_input():
    with pytest.raises(AnsibleFilterError, match='list of dicts'):
        odj_requester_machines('WS01')
    with pytest.raises(AnsibleFilterError, match='with a name'):
        odj_requester_machines([{'image': '/img'}])
    with pytest.raises(AnsibleFilterError, match='WS01 names no provisioner'):
        odj_requester_machines([{'name': 'WS01', 'image': '/img'}], {})


# ------------------------------------------------------------------ odj_package_sources / odj_package_batch

def test_sources_follow_the_runbook_order():
    todo = [{'name': 'ws01', 'image': '/i'},                        # returned by the provisioner run on this host
            {'name': 'WS02', 'image': '/i'},                        # store on this host
            {'name': 'WS03', 'image': '/i', 'source_host': 'p1'},   # returned by p1's run
            {'name': 'WS04', 'image': '/i', 'source_host': 'p1'},   # p1 returned none: read from p1
            {'name': 'NOPKG', 'image': '/i', 'source_host': 'p2'}]  # p2 failed it, no run on p2 -> remote
    hv = {'req': provisioner_run('WS01'), 'p1': provisioner_run('WS03'), 'p2': {}}
    out = odj_package_sources(todo, hv, 'req')
    assert out == {'memory': ['ws01', 'WS03'], 'local': ['WS02'], 'remote': ['WS04', 'NOPKG']}
    # without the provisioner result, a default source host sends every machine there
    out = odj_package_sources(todo, hv, 'req', source_host='p1', use_provisioner_result='no')
    assert out == {'memory': [], 'local': [], 'remote': ['ws01', 'WS02', 'WS03', 'WS04', 'NOPKG']}
    out = odj_package_sources(todo, hv, 'req', source_host='req', use_provisioner_result=False)
    assert out == {'memory': [], 'local': ['ws01', 'WS02'], 'remote': ['WS03', 'WS04', 'NOPKG']}


def test_sources_never_return_a_package():
    hv = {'req': provisioner_run('WS01')}
    assert 'PKG-' not in repr(odj_package_sources([{'name': 'WS01', 'image': '/i'}], hv, 'req'))


def test_batch_keeps_order_and_drops_failed_or_skipped_reads():
    todo = [{'name': n, 'image': '/i'} for n in ('A', 'B', 'C', 'D', 'E')]
    reads = {'results': [{'item': {'name': 'C'}, 'content': 'x'},
                         {'item': {'name': 'D'}, 'failed': True, 'msg': 'file not found'},
                         {'item': {'name': 'E'}, 'skipped': True}]}
    assert [m['name'] for m in odj_package_batch(todo, ['B', 'A'], reads)] == ['A', 'B', 'C']
    assert odj_package_batch(todo, [], {'results': [], 'skipped': True}) == []
    with pytest.raises(AnsibleFilterError, match='with a name'):
        odj_package_batch([{'image': '/i'}], ['A'])


# ------------------------------------------------------------------ odj_installs

def test_installs_take_each_package_from_its_source():
    raw = package('WS03')
    batch = [{'name': 'ws01', 'image': '/img/ws01'},
             {'name': 'WS02', 'image': '/img/fleet.wim', 'image_index': 3, 'source_dir': '/srv/odj',
              'force': 'yes', 'architecture': 'arm64', 'method': 'unattend'},
             {'name': 'WS03', 'image': '/img/ws03', 'source_host': 'p1', 'allow_dirty': True}]
    reads = {'results': [{'item': batch[2], 'content': slurped(raw)}]}
    out = odj_installs(batch, {'req': provisioner_run('WS01')}, 'req', memory=['ws01'], local=['WS02'],
                       reads=reads, vault_password=VAULT, unattend_pass='specialize', backup='true')
    assert out[0] == {'data': 'PKG-WS01', 'image': '/img/ws01', 'method': 'registry', 'unattend_pass': 'specialize',
                      'backup': True, 'force': False, 'allow_dirty': False, 'skip_unsupported_parts': False}
    assert out[1]['package'] == '/srv/odj/WS02.djoin.vault'
    assert (out[1]['image_index'], out[1]['force'], out[1]['architecture'], out[1]['method']) == ('3', True, 'arm64',
                                                                                                  'unattend')
    assert 'data' not in out[1]
    assert base64.b64decode(out[2]['data']) == raw
    assert out[2]['allow_dirty'] is True and 'image_index' not in out[2] and 'architecture' not in out[2]


def test_installs_default_store_path_uses_the_options():
    out = odj_installs([{'name': 'ws09', 'image': '/i'}], {}, 'req', local=['ws09'], source_dir='/var/odj',
                       suffix='.vault')
    assert out[0]['package'] == '/var/odj/WS09.vault'


def test_installs_errors_name_the_machine_and_never_a_package():
    raw = package('WS05')
    batch = [{'name': 'WS05', 'image': '/i', 'source_host': 'p1'}]
    reads = {'results': [{'item': batch[0], 'content': slurped(raw)}]}
    with pytest.raises(AnsibleFilterError) as err:
        odj_installs(batch, {}, 'req', reads=reads, vault_password='wrong-' + VAULT)
    text = str(err.value)
    assert 'WS05' in text
    assert err.value.__cause__ is None and err.value.__suppress_context__
    for secret in (PASSWORD, VAULT, reads['results'][0]['content'][:40], T.to_base64(raw)[:40]):
        assert secret not in text
    with pytest.raises(AnsibleFilterError, match='vault_password is needed .* WS05'):
        odj_installs(batch, {}, 'req', reads=reads)
    with pytest.raises(AnsibleFilterError, match='no package at hand for machine WS05'):
        odj_installs(batch, {}, 'req')
    with pytest.raises(AnsibleFilterError, match='run on p1 returned no package for machine WS05') as err:
        odj_installs(batch, {'p1': provisioner_run('WS06')}, 'req', memory=['WS05'])
    assert 'PKG-' not in str(err.value)
    with pytest.raises(AnsibleFilterError, match='force of machine WS05 must be a boolean'):
        odj_installs([dict(batch[0], force='maybe')], {}, 'req', local=['WS05'])


# ------------------------------------------------------------------ odj_image_entries

def test_image_entries_for_image_info_and_verify_secret():
    machines = [{'name': 'WS01', 'image': '/img/ws01', 'image_index': None},
                {'name': 'WS02', 'image': '/img/fleet.wim', 'image_index': 2}]
    assert odj_image_entries(machines) == [{'image': '/img/ws01'}, {'image': '/img/fleet.wim', 'image_index': '2'}]
    assert odj_image_entries(machines, machine_name=True) == [
        {'image': '/img/ws01', 'machine_name': 'WS01'},
        {'image': '/img/fleet.wim', 'image_index': '2', 'machine_name': 'WS02'}]
    with pytest.raises(AnsibleFilterError, match='a name and an image'):
        odj_image_entries([{'image': '/i'}], machine_name=True)
    with pytest.raises(AnsibleFilterError, match='list of dicts'):
        odj_image_entries({'image': '/i'})
