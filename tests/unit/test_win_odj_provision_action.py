# -*- coding: utf-8 -*-
"""win_odj_provision on the controller: options, decisions, rendering, errors.

The PowerShell module cannot run here. run() is driven through a connection stub
answering with recorded module results: the query of dest (real Samba-made
packages from ../shared fixtures as the file content), NetCreateProvisioningPackage's
status and package, the write.
"""

import base64
import os

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.winimage.provisioning.plugins.action import win_odj_provision as act
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_djoin_file, to_raw

from win_action_stub import run_action

DEST = 'C:\\ProgramData\\odj\\KIOSK-07.djoin'


@pytest.fixture(scope='module')
def raw(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return to_raw(handle.read())


@pytest.fixture(scope='module')
def other_raw(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-reuse-ws0001.djoin'), 'rb') as handle:
        return to_raw(handle.read())


def b64(data):
    return base64.b64encode(data).decode('ascii')


def args(**kw):
    out = {'domain': 'corp.example.test', 'machine_name': 'kiosk-07', 'dest': DEST}
    out.update(kw)
    return out


NO_FILE = {'folder_exists': True, 'exists': False, 'is_file': False}


def created(raw):
    return {'changed': True, 'status': 0, 'package_raw': b64(raw)}


def test_new_package_is_rendered_on_the_controller(raw):
    written = {}

    def write(module_args):
        written['data'] = base64.b64decode(module_args['_content'])
        return {'changed': True, 'size': len(written['data'])}

    result, conn = run_action(act.ActionModule, args(reuse_account=True, domain_controller='dc1.corp.example.test'),
                              {'query': NO_FILE, 'create': created(raw), 'write': write})
    assert conn.phases() == ['query', 'create', 'write']
    assert result['changed'] and result['decision'] == 'provision' and not result.get('failed')
    assert written['data'] == to_djoin_file(raw)
    request = conn.calls[1][1]['_request']
    assert request['options'] == 0x2 and request['dc_name'] == 'dc1.corp.example.test'
    assert request['machine_name'] == 'KIOSK-07'
    assert 'package' not in result and '_ansible_no_log' not in result
    assert b64(raw) not in repr(result)


@pytest.mark.parametrize('form, expect', [('raw', lambda r: r), ('base64', lambda r: b64(r).encode('ascii'))])
def test_other_forms_and_old_option_names(raw, form, expect):
    seen = {}

    def write(module_args):
        seen['data'] = base64.b64decode(module_args['_content'])
        return {'changed': True, 'size': 1}

    result, conn = run_action(act.ActionModule, args(format=form, provision_options=['reuse_account', 'root_ca_certs'],
                                                     return_package=True),
                              {'query': NO_FILE, 'create': created(raw), 'write': write})
    assert seen['data'] == expect(raw)
    assert conn.calls[1][1]['_request']['options'] == 0x2 | 0x10
    assert result['_ansible_no_log'] is True and result['package'] == b64(raw)
    assert any('provision_options' in w for w in result['warnings'])


def test_check_mode_stops_after_the_query(raw):
    result, conn = run_action(act.ActionModule, args(), {'query': NO_FILE}, check_mode=True)
    assert conn.phases() == ['query'] and result['changed'] is True


def test_same_machine_in_the_file_is_unchanged(raw):
    query = dict(NO_FILE, exists=True, is_file=True, existing=b64(to_djoin_file(raw)))
    result, conn = run_action(act.ActionModule, args(machine_name='KIOSK-07', domain='CORP.example.test.'), {'query': query})
    assert conn.phases() == ['query']
    assert result['changed'] is False and result['decision'] == 'unchanged'
    assert b64(raw) not in repr(result)


def test_force_provisions_again(raw):
    query = dict(NO_FILE, exists=True, is_file=True, existing=b64(to_djoin_file(raw)))
    result, conn = run_action(act.ActionModule, args(force=True),
                              {'query': query, 'create': created(raw), 'write': {'changed': True, 'size': 3}})
    assert conn.phases() == ['query', 'create', 'write'] and result['changed']


def test_another_machines_file_is_not_overwritten(other_raw):
    query = dict(NO_FILE, exists=True, is_file=True, existing=b64(other_raw))
    with pytest.raises(AnsibleActionFail, match='WS0001 in corp.example.test, not KIOSK-07'):
        run_action(act.ActionModule, args(), {'query': query})
    query = dict(NO_FILE, exists=True, is_file=True, existing=b64(b'not a package'))
    with pytest.raises(AnsibleActionFail, match='holds no provisioning package'):
        run_action(act.ActionModule, args(), {'query': query})


def test_missing_folder_and_folder_as_dest():
    with pytest.raises(AnsibleActionFail, match='folder of dest .* does not exist'):
        run_action(act.ActionModule, args(), {'query': dict(NO_FILE, folder_exists=False)})
    with pytest.raises(AnsibleActionFail, match='is a folder'):
        run_action(act.ActionModule, args(), {'query': dict(NO_FILE, exists=True)})


@pytest.mark.parametrize('status, name', [(2224, 'NERR_UserExists'), (2138, 'NERR_WkstaNotStarted'),
                                          (1791, 'RPC_S_CALL_IN_PROGRESS'), (1703, 'RPC_S_PROTSEQ_NOT_SUPPORTED')])
def test_api_failure_is_named(status, name):
    result, conn = run_action(act.ActionModule, args(), {'query': NO_FILE, 'create': {'status': status}})
    assert result['failed'] and result['changed'] is False
    assert '%s (%d)' % (name, status) in result['msg'] and result['error']['name'] == name
    assert conn.phases() == ['query', 'create']


def test_package_for_another_machine_is_not_written(other_raw):
    result, conn = run_action(act.ActionModule, args(), {'query': NO_FILE, 'create': created(other_raw)})
    assert result['failed'] and 'is for WS0001' in result['msg']
    assert conn.phases() == ['query', 'create']
    result, conn = run_action(act.ActionModule, args(), {'query': NO_FILE, 'create': created(b'\x01\x10\x08\x00junk')})
    assert result['failed'] and 'is not a valid provisioning package' in result['msg'] and 'junk' not in result['msg']


def test_failed_write_says_what_happened(raw):
    result, dummy = run_action(act.ActionModule, args(), {'query': NO_FILE, 'create': created(raw),
                                                          'write': {'failed': True, 'msg': 'access denied'}})
    assert result['failed'] and 'was provisioned but its package could not be written' in result['msg']


@pytest.mark.parametrize('bad, message', [
    (dict(skip_account_search=True), 'skip_account_search needs domain_server'),
    (dict(downlevel_priv_support=True, machine_account_ou='OU=K,DC=corp,DC=example,DC=test'),
     'downlevel_priv_support cannot be combined with machine_account_ou'),
    (dict(machine_name='NAME-LONGER-THAN-15'), "machine_name 'NAME-LONGER-THAN-15': name too long"),
    (dict(machine_name='-ws01'), 'must not start or end with a hyphen'),
    (dict(machine_name='ws01-'), 'must not start or end with a hyphen'),
    (dict(machine_name=u'w\u00e901'), 'invalid character'),
    (dict(machine_name='ws01.corp.example.test'), 'not a DNS name'),
    (dict(machine_name='1234'), 'only digits'),
    (dict(dest='relative\\file.djoin'), 'dest must be the absolute Windows path'),
    (dict(package_format='xml'), 'package_format'),
    (dict(nonsense=1), 'nonsense'),
])
def test_bad_options_fail_before_the_host_is_asked(bad, message):
    with pytest.raises(AnsibleActionFail, match=message):
        run_action(act.ActionModule, args(**bad), {})


def test_root_ca_certs_with_templates_warns(raw):
    result, dummy = run_action(act.ActionModule, args(provision_root_ca_certs=True, certificate_templates=['Machine']),
                               {'query': NO_FILE}, check_mode=True)
    assert any('provision_root_ca_certs is ignored' in w for w in result['warnings'])
    result, dummy = run_action(act.ActionModule, args(skip_account_search=True, dc_name='dc1'), {'query': NO_FILE},
                               check_mode=True)
    assert not result.get('failed')


def test_diff_names_the_join_not_the_content(raw, other_raw):
    result, dummy = run_action(act.ActionModule, args(), {'query': NO_FILE}, check_mode=True, diff=True)
    assert result['diff']['before'] == DEST + ': absent\n'
    assert result['diff']['after'] == DEST + ': a new package for KIOSK-07 in corp.example.test\n'
    query = dict(NO_FILE, exists=True, is_file=True, existing=b64(to_djoin_file(raw)))
    result, dummy = run_action(act.ActionModule, args(), {'query': query}, diff=True)
    assert result['diff']['before'] == result['diff']['after']
    query = dict(NO_FILE, exists=True, is_file=True, existing=b64(other_raw))
    result, dummy = run_action(act.ActionModule, args(force=True), {'query': query}, check_mode=True, diff=True)
    assert 'WS0001' in result['diff']['before'] and 'KIOSK-07' in result['diff']['after']
    assert b64(raw) not in repr(result) and b64(other_raw) not in repr(result)


def test_options_both_provisioners_have_mean_the_same():
    """An option odj_provision and win_odj_provision share has one type, one default and odj_provision's aliases."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.provision.task import ARGUMENT_SPEC as linux
    shared = sorted(set(linux) & set(act.ARGUMENT_SPEC))
    assert {'domain', 'domain_server', 'machine_account_ou', 'dest', 'package_format', 'reuse_account',
            'use_default_password', 'skip_account_search', 'provision_root_ca_certs', 'persistent_site',
            'certificate_templates', 'machine_policy_names', 'machine_policy_paths', 'return_package'} <= set(shared)

    def kind(spec):  # a Windows path is a string on the controller; 'path' would expand it as a local one
        return 'str' if spec.get('type') == 'path' else spec.get('type')

    for name in shared:
        here, there = linux[name], act.ARGUMENT_SPEC[name]
        assert (kind(here), here.get('elements', 'str').replace('path', 'str'), here.get('default')) == \
            (kind(there), there.get('elements', 'str').replace('path', 'str'), there.get('default')), name
        assert set(here.get('aliases', [])) <= set(there.get('aliases', [])), name


def test_the_windows_only_flag_reaches_the_request(raw):
    result, conn = run_action(act.ActionModule, args(downlevel_priv_support=True, persistent_site=True),
                              {'query': NO_FILE, 'create': created(raw), 'write': {'changed': True, 'size': 1}})
    assert not result.get('failed'), result
    assert conn.calls[1][1]['_request']['options'] == 0x1 | 0x20  # DOWNLEVEL_PRIV_SUPPORT | PERSISTENTSITE
