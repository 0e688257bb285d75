# -*- coding: utf-8 -*-
"""odj_provision does what NetCreateProvisioningPackage does (options, errors, log), against the real throwaway Samba AD DC.

Machine policies (a local Registry.pol and a GPO by name, read from SYSVOL over
SMB), root CA certificates, options mapped one to one onto
NETSETUP_PROVISION_*, Windows error names (NERR_UserExists,
ERROR_INVALID_DOMAIN_ROLE, ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED), the machine
account quota of a non-admin user, and the NetSetup log of a real
ansible-playbook run (present, no secret in it). Passwords are only compared,
never printed.
"""

import base64
import os
import uuid

import ldap3
import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import certstore as C
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import regpol as R
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import read_lines
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import (
    ProvisionError, Provisioner, summarize)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.parts import PartSources, error_for

from domain_setup import GPO_NAME, ReadOnlyDC, admin_ldap, domain_extras_for, policy_entries, run_command
from playbook import run_playbook


@pytest.fixture(scope='module')
def domain_extras(samba_dc, tmp_path_factory):
    return domain_extras_for(samba_dc, tmp_path_factory)


def connect(dc, user=None, password=None):
    return ADClient(dc.ip, username='%s@%s' % (user or dc.admin_user, dc.realm),
                    password=password or dc.admin_password, validate_certs=False,
                    server_name=dc.dc_hostname).connect()


@pytest.fixture()
def client(samba_dc):
    c = connect(samba_dc)
    yield c
    c.close()


def smb(dc):
    return dict(username='%s@%s' % (dc.admin_user, dc.realm), password=dc.admin_password, address=dc.ip,
                runner=run_command)


def package_of(path):
    with open(path, 'rb') as handle:
        return P.decode(to_raw(handle.read()))


def kinit_ok(dc, name, password, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / ('cc-%s-%s' % (name, uuid.uuid4().hex)))
    return dc.kinit('%s$@%s' % (name, dc.realm), password, ccache).returncode == 0


def account_exists(dc, name):
    conn = admin_ldap(dc)
    conn.search(dc.base_dn, '(sAMAccountName=%s$)' % name, attributes=['cn'])
    found = [e for e in conn.response if e.get('type') == 'searchResEntry']
    conn.unbind()
    return bool(found)


def test_policies_from_a_file_and_a_gpo_and_the_root_ca(samba_dc, domain_extras, client, tmp_path):
    local = tmp_path / 'local.pol'
    local_entries = [R.RegPolEntry('Software\\Policies\\Local', 'Enabled', R.REG_DWORD, b'\x01\x00\x00\x00')]
    local.write_bytes(R.write(local_entries))
    sources = PartSources(policy_paths=[str(local)], policy_names=[GPO_NAME], root_ca_certs=True,
                          smb=smb(samba_dc))
    dest = tmp_path / 'pkgs'
    dest.mkdir()
    prov = Provisioner(client, samba_dc.dns_domain, dest=str(dest), part_sources=sources, provision_root_ca_certs=True)
    machines = prov.run(['PARPOL01'])
    assert machines[0].status == 'created', machines[0].msg
    pd = package_of(machines[0].path)
    lists = pd.part(P.PART_POLICY).element_lists
    assert [lst.source for lst in lists][0] == str(local)
    assert lists[1].source.lower().endswith(('%s\\Machine\\Registry.pol' % domain_extras.gpo_guid).lower())
    assert R.entries_of(lists[0]) == local_entries
    # the GPO's list: exactly the file on the DC, entry by entry
    on_disk = os.path.join(samba_dc.directory, 'state', 'sysvol', *domain_extras.pol_remote.split('\\'))
    with open(on_disk, 'rb') as handle:
        assert R.entries_of(lists[1]) == R.parse(handle.read()) == policy_entries()
    stores = pd.part(P.PART_CERT).sst_stores
    assert [(s.store_location, s.store_name) for s in stores] == [(2, 'ROOT')]
    assert C.certificates_in(stores[0].sst) == [domain_extras.ca_der]
    facts = package_facts(pd)
    assert facts['option_names'] == ['NETSETUP_PROVISION_ROOT_CA_CERTS']
    assert [element['value_name'] for element in facts['policies'][1]['elements']] == \
        [entry.value_name for entry in policy_entries()]


def test_options_map_one_to_one(samba_dc, domain_extras, client, tmp_path):
    dest = tmp_path / 'pkgs'
    dest.mkdir()
    prov = Provisioner(client, samba_dc.dns_domain, dest=str(dest), skip_account_search=True,
                       part_sources=PartSources(persistent_site=True), persistent_site=True)
    machines = prov.run(['PARFLG01'])
    assert machines[0].status == 'created', machines[0].msg
    pd = package_of(machines[0].path)
    assert pd.win7.options == 0x8 | 0x20
    jp2 = pd.part(P.PART_JOINPROV2)
    assert jp2.flags == 1 and jp2.netbios_name == 'PARFLG01'
    assert jp2.site_name == pd.win7.dc_info.client_site_name


def test_existing_account_without_reuse_is_nerr_userexists_and_untouched(samba_dc, domain_extras, client, tmp_path):
    first = tmp_path / 'first'
    first.mkdir()
    made = Provisioner(client, samba_dc.dns_domain, dest=str(first)).run(['PAREXI01'])[0]
    assert made.status == 'created'
    password = package_of(made.path).win7.machine_password
    # as if another tool had made it (an account this collection made and no machine used is re-provisioned)
    conn = admin_ldap(samba_dc)
    assert conn.modify(made.account.dn, {'description': [(ldap3.MODIFY_DELETE, [])]}), conn.result
    conn.unbind()
    other = tmp_path / 'other'
    other.mkdir()
    again = Provisioner(client, samba_dc.dns_domain, dest=str(other)).run(['PAREXI01'])[0]
    assert again.status == 'conflict'
    result = again.result()
    assert result['error'] == {'name': 'NERR_UserExists', 'code': 2224}
    assert again.msg.startswith('NERR_UserExists (2224): ')
    assert os.listdir(str(other)) == [] or all(n.startswith('.') for n in os.listdir(str(other)))
    assert kinit_ok(samba_dc, 'PAREXI01', password, tmp_path)
    summary = summarize([again])
    assert summary['failed_machines'] == ['PAREXI01']


def test_a_dc_of_another_domain_is_invalid_domain_role(samba_dc, domain_extras, client, tmp_path):
    with pytest.raises(ProvisionError) as info:
        Provisioner(client, 'other.example.test', dest=str(tmp_path)).run(['PARWRG01'])
    name, code = error_for(info.value.kind, str(info.value))
    assert (name, code) == ('ERROR_INVALID_DOMAIN_ROLE', 1354)
    assert 'other.example.test' in str(info.value)
    assert not account_exists(samba_dc, 'PARWRG01')


def test_a_read_only_dc_is_invalid_domain_role(samba_dc, domain_extras, tmp_path_factory):
    rodc = ReadOnlyDC(samba_dc, tmp_path_factory.mktemp('rodc'))
    try:
        rodc.start()
        client = ADClient(rodc.ip, username='%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                          password=samba_dc.admin_password, validate_certs=False,
                          server_name=rodc.dc_hostname).connect()
        try:
            assert not client.domain_info(samba_dc.dns_domain).dc_flags & 0x100  # DS_WRITABLE_FLAG
            with pytest.raises(ProvisionError) as info:
                Provisioner(client, samba_dc.dns_domain, dest=str(tmp_path_factory.mktemp('rodc-pkgs'))).run(
                    ['PARROD01'])
        finally:
            client.close()
    finally:
        rodc.stop()
    assert error_for(info.value.kind, str(info.value)) == ('ERROR_INVALID_DOMAIN_ROLE', 1354)
    assert 'read-only' in str(info.value)
    assert not account_exists(samba_dc, 'PARROD01')


def test_gpo_name_matching_nothing_fails_the_run_naming_it(samba_dc, domain_extras, client, tmp_path):
    sources = PartSources(policy_names=['No Such GPO'], smb=smb(samba_dc))
    with pytest.raises(ProvisionError) as info:
        Provisioner(client, samba_dc.dns_domain, dest=str(tmp_path), part_sources=sources).run(['PARNOG01'])
    assert '"No Such GPO"' in str(info.value)
    assert error_for(info.value.kind, str(info.value))[0] == 'ERROR_INVALID_PARAMETER'
    assert not account_exists(samba_dc, 'PARNOG01')


def test_no_right_to_create_in_the_ou_is_error_access_denied(samba_dc, domain_extras, tmp_path):
    user = connect(samba_dc, domain_extras.user, domain_extras.user_password)
    try:
        prov = Provisioner(user, samba_dc.dns_domain, dest=str(tmp_path),
                           machine_account_ou='OU=Domain Controllers,%s' % samba_dc.base_dn)
        machine = prov.run(['PARDEN01'])[0]
    finally:
        user.close()
    assert machine.status == 'failed'
    assert machine.result()['error'] == {'name': 'ERROR_ACCESS_DENIED', 'code': 5}
    assert machine.msg.startswith('ERROR_ACCESS_DENIED (5): ')
    assert not account_exists(samba_dc, 'PARDEN01')


def test_non_admin_user_gets_ten_accounts_and_the_eleventh_names_the_quota(samba_dc, domain_extras, tmp_path):
    user = connect(samba_dc, domain_extras.user, domain_extras.user_password)
    names = ['PARQ%02d' % n for n in range(1, 12)]
    try:
        prov = Provisioner(user, samba_dc.dns_domain, dest=str(tmp_path))
        machines = prov.run(names)
    finally:
        user.close()
    made = [m.name for m in machines if m.status == 'created']
    failed = [m for m in machines if m.status == 'failed']
    assert made == names[:10]
    assert [m.name for m in failed] == names[10:]
    assert failed[0].result()['error'] == {'name': 'ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED', 'code': 8557}
    assert 'ms-DS-MachineAccountQuota is 10' in failed[0].msg
    summary = summarize(machines)
    assert summary['failed_machines'] == names[10:]
    assert summary['counts'].get('created') == 10
    for name in names[:10]:
        assert account_exists(samba_dc, name)
    assert not account_exists(samba_dc, names[10])


def test_module_writes_the_netsetup_log_without_secrets(samba_dc, domain_extras, collections_root, tmp_path):
    log = tmp_path / 'log' / 'netsetup.log'
    dest = tmp_path / 'pkgs'
    dest.mkdir()
    common = dict(domain=samba_dc.dns_domain, domain_controller=samba_dc.ip, validate_certs=False,
                  domain_username='%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                  domain_password=samba_dc.admin_password, netsetup_log=str(log))
    tasks = [
        {'name': 'batch', 'winimage.provisioning.odj_provision': dict(
            common, machines=['PARLOG01', 'bad_name'], dest=str(dest), machine_policy_names=[GPO_NAME],
            provision_root_ca_certs=True), 'ignore_errors': True},
        {'name': 'again', 'winimage.provisioning.odj_provision': dict(common, machines=['PARLOG01'], dest=str(dest))},
        {'name': 'templates need Windows', 'winimage.provisioning.odj_provision': dict(
            common, machines=['PARLOG02'], dest=str(dest), certificate_templates=['Machine']), 'ignore_errors': True},
        {'name': 'unreachable DC', 'winimage.provisioning.odj_provision': dict(
            common, machines=['PARLOG03'], dest=str(dest), domain_controller='127.0.0.254', timeout=3),
         'ignore_errors': True, 'register': 'unreachable'},
        {'name': 'wrong password', 'winimage.provisioning.odj_provision': dict(
            common, machines=['PARLOG04'], dest=str(dest), domain_password='wrong-' + 'p' * 12),
         'ignore_errors': True, 'register': 'wrong'},
        {'name': 'names of the run-level errors', 'ansible.builtin.assert': {'that': [
            "unreachable.error_name == 'ERROR_NO_SUCH_DOMAIN'", 'unreachable.error_code == 1355',
            "wrong.error_name == 'ERROR_LOGON_FAILURE'", "wrong.msg is search('^ERROR_LOGON_FAILURE')"]}},
    ]
    rc, output = run_playbook(collections_root, tmp_path, tasks, verbosity=4)
    assert rc == 0, output[-3000:]
    assert 'win_odj_provision' in output and 'certificate_templates' in output
    lines = read_lines(str(log))
    assert oct(os.stat(str(log)).st_mode & 0o777) == '0o600'
    assert oct(os.stat(str(log.parent)).st_mode & 0o777) == '0o700'
    mine = [line for line in lines if 'machine=PARLOG01' in line]
    assert len(mine) == 2 and 'NERR_Success' in mine[0] and 'NERR_Success' in mine[1]
    assert any('machine=bad_name' in line and 'ERROR_INVALID_PARAMETER (87)' in line for line in lines)
    assert any('127.0.0.254' in line and 'ERROR_NO_SUCH_DOMAIN (1355)' in line for line in lines)
    assert any('ERROR_LOGON_FAILURE (1326)' in line for line in lines)
    text = log.read_text()
    package = (dest / 'PARLOG01.djoin').read_bytes()
    machine_password = P.decode(to_raw(package)).win7.machine_password
    for secret in (samba_dc.admin_password, machine_password, base64.b64encode(to_raw(package)).decode()):
        assert secret not in text
        assert secret not in output
