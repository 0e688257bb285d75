# -*- coding: utf-8 -*-
"""win_odj_install on the controller: package to bytes, pending-state reading, decisions.

The module itself (PowerShell) cannot run here; what it sends back is a dump of
registry keys. These tests build such dumps from a real Windows SYSTEM hive
(../shared fixtures, read with libhivex) and from the entries the Linux
installer plans for a real Samba-made package, then check the plugin reads
them with the same reader as odj_image_info and decides as documented.
"""

import base64
import lzma
import os
import shutil

import pytest

from ansible.errors import AnsibleActionFail
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.winimage.provisioning.plugins.action import win_odj_install as act
from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as _hivex
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import HivexReader, plan_entries
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_raw

VAULT_PW = b'correct horse battery staple'


@pytest.fixture(scope='module')
def djoin(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return handle.read()


@pytest.fixture(scope='module')
def other_djoin(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-reuse-ws0001.djoin'), 'rb') as handle:
        return handle.read()


@pytest.fixture
def system_hive(shared_dir, tmp_path):
    dest = tmp_path / 'SYSTEM'
    with lzma.open(os.path.join(shared_dir, 'fixtures', 'hives', 'SYSTEM.xz')) as src, open(dest, 'wb') as out:
        shutil.copyfileobj(src, out)
    return str(dest)


# ------------------------------------------------------------------ package -> bytes

def test_three_forms_give_the_same_bytes(djoin):
    raw = to_raw(djoin)
    assert raw[:4] == b'\x01\x10\x08\x00'
    for form in (djoin, raw, to_base64(raw), to_base64(raw).encode('ascii') + b'\r\n', '  %s\n' % to_base64(raw)):
        got, pd = act.load(data=form)
        assert got == raw
        assert pd.win7.machine_name == 'KIOSK-07'
        assert pd.win7.dns_domain_info.dns_domain_name.lower() == 'corp.example.test'


def test_vault_encrypted_bytes_and_text(djoin):
    secrets = [('default', VaultSecret(VAULT_PW))]
    envelope = VaultLib(secrets).encrypt(djoin)
    assert envelope.startswith(b'$ANSIBLE_VAULT')
    raw, pd = act.load(data=envelope, vault_secrets=secrets)
    assert raw == to_raw(djoin)
    text_envelope = VaultLib(secrets).encrypt(to_base64(raw)).decode('ascii')
    assert act.load(data=text_envelope, vault_secrets=secrets)[0] == raw
    with pytest.raises(act.PackageError, match='no vault password was given'):
        act.load(data=envelope, vault_secrets=None)
    with pytest.raises(act.PackageError, match='could not be decrypted'):
        act.load(data=envelope, vault_secrets=[('default', VaultSecret(b'wrong'))])


def test_vault_encrypted_file_through_the_loader(djoin, tmp_path):
    secrets = [('default', VaultSecret(VAULT_PW))]
    path = tmp_path / 'ws.djoin'
    path.write_bytes(VaultLib(secrets).encrypt(djoin))
    assert act.load(path=str(path), vault_secrets=secrets)[0] == to_raw(djoin)
    plain = tmp_path / 'plain.djoin'
    plain.write_bytes(djoin)
    assert act.load(path=str(plain))[0] == to_raw(djoin)
    with pytest.raises(act.PackageError, match='No such file'):
        act.load(path=str(tmp_path / 'absent.djoin'), vault_secrets=secrets)


@pytest.mark.parametrize('mangle, message', [
    (lambda raw: raw[:100], 'not a valid provisioning package'),
    (lambda raw: b'', 'the package is empty'),
    (lambda raw: 'not base64 at all!', 'not a valid provisioning package'),
    (lambda raw: b'\xff\xfe' + 'QUJD'.encode('utf-16-le'), 'not a valid provisioning package'),
])
def test_damaged_packages_fail_clearly(djoin, mangle, message):
    raw = to_raw(djoin)
    with pytest.raises(act.PackageError, match=message) as info:
        act.load(data=mangle(raw))
    assert 'KIOSK' not in str(info.value)


# ------------------------------------------------------------------ the module's dump

def dump_like_module(reader, hmac_key, overlay=()):
    """What the PowerShell module returns for QUERY_KEYS, built from a real hive plus planned entries."""
    keys = {}

    def ensure(path):
        return keys.setdefault(path, {'values': {}, 'subkeys': []})

    root_sets = [name for name in (reader.subkeys('') or []) if name.lower().startswith('controlset')]
    wanted = []
    for item in act.QUERY_KEYS:
        paths = [item['path']]
        if item['path'].startswith('ControlSet*'):
            paths = [cs + item['path'][len('ControlSet*'):] for cs in root_sets]
        wanted.extend((p, item['recurse']) for p in paths)

    def visit(path, recurse):
        values = reader.values(path)
        if values is None:
            return
        entry = ensure(path)
        for name, vtype, data in values.values():
            entry['values'][name.lower()] = (name, vtype, data)
        entry['subkeys'] = list(reader.subkeys(path) or [])
        if recurse:
            for sub in entry['subkeys']:
                visit(path + '\\' + sub, True)

    for path, recurse in wanted:
        visit(path, recurse)
    for e in overlay:  # entries the installer would write
        parts = e.key.split('\\')
        for depth in range(1, len(parts)):
            parent = '\\'.join(parts[:depth])
            if parent in keys and parts[depth] not in keys[parent]['subkeys']:
                keys[parent]['subkeys'].append(parts[depth])
        entry = ensure(e.key)
        if e.name is not None:
            entry['values'][e.name.lower()] = (e.name, e.vtype, _hivex.encode_value(e.vtype, e.value))
    secrets = []
    out = {}
    for path, entry in keys.items():
        vals = []
        for name, vtype, data in entry['values'].values():
            if name.lower() in [m.lower() for m in act.SECRET_VALUES]:
                text = _hivex.decode_value(vtype, data)
                secrets.append({'key': path, 'name': name, 'present': bool(text),
                                'hmac': act.secret_digest(hmac_key, text)})
                data = _hivex.encode_sz(act.MASKED) if text else data
            vals.append({'name': name, 'type': vtype, 'data': base64.b64encode(data).decode('ascii')})
        out[path] = {'values': vals, 'subkeys': entry['subkeys']}
    return {'hive_exists': True, 'registry': out, 'secrets': secrets}


def test_clean_image_has_no_pending_join(system_hive):
    with _hivex.Hive(system_hive) as hive:
        query = dump_like_module(HivexReader(hive), b'k' * 32)
    assert 'Select' in query['registry']
    pending, digest = act.pending_from_query(query)
    assert pending is None and digest is None


def test_pending_join_read_back_like_odj_image_info(system_hive, djoin, other_djoin):
    raw, pd = act.load(data=djoin)
    key = os.urandom(32)
    with _hivex.Hive(system_hive) as hive:
        reader = HivexReader(hive)
        from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import control_set_name
        cs = control_set_name(reader)
        query = dump_like_module(reader, key, plan_entries(pd, cs))
    pending, digest = act.pending_from_query(query)
    assert pending['machine_name'] == 'KIOSK-07'
    assert pending['domain'].lower() == 'corp.example.test'
    assert pending['control_set'] == cs
    assert pending['clear_text_secret_present'] is True
    package_digest = act.secret_digest(key, pd.win7.machine_password)
    assert digest == package_digest

    decision, reason = act.decide(pending, digest, package_digest, pd, force=False)
    assert decision == 'unchanged' and 'already pending' in reason
    # force replaces another machine's join; it does not reinstall the same one
    assert act.decide(pending, digest, package_digest, pd, force=True)[0] == 'unchanged'
    # same machine, a newer package (different password): install without force
    decision, reason = act.decide(pending, digest, act.secret_digest(key, 'another'), pd, force=False)
    assert decision == 'install' and 'different machine password' in reason
    # another machine's join pending: refuse unless forced
    other_pd = act.load(data=other_djoin)[1]
    other_digest = act.secret_digest(key, other_pd.win7.machine_password)
    with pytest.raises(AnsibleActionFail, match='different offline join is already pending.*KIOSK-07.*WS0001.*force=true'):
        act.decide(pending, digest, other_digest, other_pd, force=False)
    assert act.decide(pending, digest, other_digest, other_pd, force=True)[0] == 'install'
    # nothing pending
    assert act.decide(None, None, other_digest, other_pd, force=False) == ('install', 'no offline join is pending')


def test_not_a_system_hive_is_reported():
    query = {'hive_exists': True, 'hive_path': 'D:\\mnt\\Windows\\System32\\config\\SYSTEM',
             'registry': {'ControlSet001\\Control': {'values': [], 'subkeys': []}}}
    with pytest.raises(AnsibleActionFail, match='not a SYSTEM hive'):
        act.pending_from_query(query)
    assert act.pending_from_query({'hive_exists': False}) == (None, None)


def test_running_system_already_joined(djoin):
    pd = act.load(data=djoin)[1]
    joined = {'name': 'kiosk-07', 'domain': 'CORP.example.test', 'part_of_domain': True}
    assert act.decide(None, None, 'x', pd, False, computer=joined)[0] == 'unchanged'
    assert act.decide(None, None, 'x', pd, True, computer=joined)[0] == 'unchanged'
    workgroup = {'name': 'KIOSK-07', 'domain': 'WORKGROUP', 'part_of_domain': False}
    assert act.decide(None, None, 'x', pd, False, computer=workgroup)[0] == 'install'


# ------------------------------------------------------------------ outcome and options

def test_install_outcome():
    assert act.install_outcome(0, online=False) == (True, False, None)
    assert act.install_outcome(0, online=True) == (True, True, None)
    assert act.install_outcome(2713, online=False) == (True, True, None)
    ok, reboot, msg = act.install_outcome(2717, online=False)
    assert not ok and msg.startswith('NetRequestProvisioningPackageInstall failed: NERR_CantLoadOfflineHive (2717)')
    for name in ('NERR_NoOfflineJoinInfo', 'NERR_BadOfflineJoinInfo', 'NERR_CantCreateJoinInfo', 'NERR_BadDomainJoinInfo',
                 'NERR_NoJoinPending', 'NERR_ValuesNotSet', 'NERR_CantVerifyHostname', 'NERR_ConnectionInsecure',
                 'NERR_ProvisioningBlobUnsupported', 'ERROR_ACCESS_DENIED', 'ERROR_INVALID_PARAMETER'):
        from ansible_collections.winimage.provisioning.plugins.module_utils.common.netapi_errors import code_of
        ok, reboot, msg = act.install_outcome(code_of(name), online=True)
        assert not ok and name in msg and not reboot


@pytest.mark.parametrize('args, message', [
    ({'windows_path': 'D:\\m\\Windows'}, 'exactly one of src'),
    ({'src': 'a', 'content': 'b', 'windows_path': 'D:\\m\\Windows'}, 'exactly one of src'),
    ({'src': 'a'}, 'either windows_path'),
    ({'src': 'a', 'windows_path': 'D:\\m\\Windows', 'online': True}, 'either windows_path'),
    ({'src': 'a', 'windows_path': 'mnt/Windows'}, 'absolute Windows path'),
    ({'src': 'a', 'online': 'maybe'}, 'online'),
    ({'src': 'a', 'online': True, 'bogus': 1}, 'unsupported option'),
])
def test_validate_args(args, message):
    with pytest.raises(AnsibleActionFail, match=message):
        act.validate_args(args)


def test_validate_args_ok_and_paths():
    assert act.validate_args({'content': 'x', 'online': 'yes'}) == (None, 'x', None, True, False)
    assert act.validate_args({'src': 'a', 'windows_path': '\\\\srv\\img\\Windows', 'force': True})[4] is True
    assert act.same_windows_path('C:\\WINDOWS\\', 'c:\\Windows')
    assert not act.same_windows_path('D:\\mount\\Windows', 'C:\\Windows')


# ------------------------------------------------------------------ run() against recorded module results

def _query_of(system_hive, pd=None):
    """A recorded query phase: the dump of a real SYSTEM hive (plus pd's join when given), keyed as sent."""
    def answer(module_args):
        key = base64.b64decode(module_args['_hmac_key'])
        with _hivex.Hive(system_hive) as hive:
            reader = HivexReader(hive)
            from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import control_set_name
            overlay = plan_entries(pd, control_set_name(reader), skip_unsupported=True) if pd is not None else ()
            query = dump_like_module(reader, key, overlay)
        query.update(system_root='C:\\Windows', hive_path='D:\\mnt\\Windows\\System32\\config\\SYSTEM')
        return query
    return answer


def _run(djoin, recorded, check_mode=False, **kw):
    from win_action_stub import run_action
    args = {'content': to_base64(to_raw(djoin)), 'windows_path': 'D:\\mnt\\Windows'}
    args.update(kw)
    return run_action(act.ActionModule, args, recorded, check_mode=check_mode)


def test_run_installs_then_reads_back(system_hive, djoin):
    pd = act.load(data=djoin)[1]
    queries = [_query_of(system_hive), _query_of(system_hive, pd)]
    result, conn = _run(djoin, {'query': queries, 'install': {'changed': True, 'status': 0}})
    assert conn.phases() == ['query', 'install', 'query']
    assert result['changed'] and result['decision'] == 'install' and not result.get('warnings')
    assert result['pending_join']['machine_name'] == 'KIOSK-07' and result['pending_join_before'] is None
    install = conn.calls[1][1]
    assert install['_request'] == {'options': 0, 'windows_path': 'D:\\mnt\\Windows'}
    assert base64.b64decode(install['_package']) == to_raw(djoin)
    assert pd.win7.machine_password not in repr(result)


def test_run_check_mode_and_idempotence(system_hive, djoin):
    pd = act.load(data=djoin)[1]
    result, conn = _run(djoin, {'query': _query_of(system_hive)}, check_mode=True)
    assert conn.phases() == ['query'] and result['changed'] is True
    result, conn = _run(djoin, {'query': _query_of(system_hive, pd)}, force=True)
    assert conn.phases() == ['query'] and result['changed'] is False and result['decision'] == 'unchanged'


def test_run_errors(system_hive, djoin, other_djoin):
    other = act.load(data=other_djoin)[1]
    with pytest.raises(AnsibleActionFail, match='different offline join is already pending'):
        _run(djoin, {'query': _query_of(system_hive, other)})
    result, conn = _run(djoin, {'query': _query_of(system_hive), 'install': {'changed': True, 'status': 2717}})
    assert result['failed'] and 'NERR_CantLoadOfflineHive (2717)' in result['msg'] and not result['changed']
    with pytest.raises(AnsibleActionFail, match='running system'):
        _run(djoin, {'query': dict(_query_of(system_hive)({'_hmac_key': base64.b64encode(b'k' * 32)}))},
             windows_path='C:\\WINDOWS\\')
    with pytest.raises(AnsibleActionFail, match='no SYSTEM hive'):
        _run(djoin, {'query': {'hive_exists': False, 'system_root': 'C:\\Windows', 'hive_path': 'D:\\x'}})
    result, conn = _run(djoin, {'query': {'failed': True, 'msg': 'cannot open', 'secrets': [{'hmac': 'x'}]}})
    assert result['failed'] and 'secrets' not in result


def test_run_diff(system_hive, djoin, other_djoin):
    from win_action_stub import run_action
    other = act.load(data=other_djoin)[1]
    args = {'content': to_base64(to_raw(djoin)), 'windows_path': 'D:\\mnt\\Windows', 'force': True}
    result, dummy = run_action(act.ActionModule, args, {'query': _query_of(system_hive, other)}, check_mode=True, diff=True)
    assert result['diff']['before'] == 'offline join pending: WS0001 in corp.example.test\n'
    assert result['diff']['after'] == 'offline join pending: KIOSK-07 in corp.example.test\n'
    assert other.win7.machine_password not in repr(result)
