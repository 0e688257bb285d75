# -*- coding: utf-8 -*-
"""What makes the Linux provisioner behave like NetCreateProvisioningPackage: option flags, Windows error names, DC role, extra parts, quota helpers."""

import struct
import uuid

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import quota as Q
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.provision import parts as X
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import regpol as R
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.locator import DomainInfo
from ansible_collections.winimage.provisioning.plugins.module_utils.common.netapi_errors import BY_NAME
from ansible_collections.winimage.provisioning.plugins.module_utils.common.sid import sid_to_bytes
from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import NetSetupLog, read_lines
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import PROVISION_FLAGS, flag_names

DOMAIN_SID = 'S-1-5-21-2720103478-3893655958-3880862394'


def domain_info(**overrides):
    values = dict(base_dn='DC=corp,DC=example,DC=test', dns_domain='corp.example.test', netbios='CORP',
                  forest='corp.example.test', sid=DOMAIN_SID, guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'),
                  dc_dns_name='dc1.corp.example.test', dc_address='127.0.0.1', dc_flags=0xe00133fd,
                  dc_site_name='Default-First-Site-Name', client_site_name='Branch-7',
                  computers_dn='CN=Computers,DC=corp,DC=example,DC=test', functionality='7')
    values.update(overrides)
    return DomainInfo(**values)


@pytest.mark.parametrize('option, bit', [
    ('reuse_account', 0x2), ('use_default_password', 0x4), ('skip_account_search', 0x8),
    ('provision_root_ca_certs', 0x10), ('persistent_site', 0x20)])
def test_each_option_is_exactly_one_documented_bit(option, bit):
    value = X.provision_flags(**{option: True})
    assert value == bit
    assert flag_names(value, PROVISION_FLAGS) == ['NETSETUP_PROVISION_' + {
        'reuse_account': 'REUSE_ACCOUNT', 'use_default_password': 'USE_DEFAULT_PASSWORD',
        'skip_account_search': 'SKIP_ACCOUNT_SEARCH', 'provision_root_ca_certs': 'ROOT_CA_CERTS',
        'persistent_site': 'PERSISTENTSITE'}[option]]


def test_all_options_together_and_unknown_option():
    assert X.provision_flags(reuse_account=True, use_default_password=True, skip_account_search=True,
                             provision_root_ca_certs=True, persistent_site=True) == 0x3e
    assert X.provision_flags() == 0
    with pytest.raises(ValueError, match='online_caller'):
        X.provision_flags(online_caller=True)


@pytest.mark.parametrize('kind, message, name', [
    ('conflict', 'WS01$ already exists at CN=WS01,...', 'NERR_UserExists'),
    ('invalid', 'invalid machine name', 'ERROR_INVALID_PARAMETER'),
    ('unreachable', 'cannot reach the DC 10.0.0.1:636', 'ERROR_NO_SUCH_DOMAIN'),
    ('access_denied', 'creating X failed: access denied', 'ERROR_ACCESS_DENIED'),
    ('not_found', 'the DC 1.2.3.4:636 serves the domain a.test, not b.test', 'ERROR_INVALID_DOMAIN_ROLE'),
    ('not_found', 'the DC x did not answer the Netlogon LDAP ping for b.test (is it a DC of that domain?)',
     'ERROR_INVALID_DOMAIN_ROLE'),
    ('protocol', 'the DC has no defaultNamingContext', 'NERR_LDAPCapableDCRequired'),
    ('failed', 'creating CN=X failed: unwillingToPerform (0000216D: SvcErr: DSID-031A1254, problem 5003)',
     'ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED'),
    ('options', 'package_format must be one of', 'ERROR_INVALID_PARAMETER'),
    ('bad_credentials', 'refused the credentials', 'ERROR_LOGON_FAILURE'),
    ('ERROR_LOGON_FAILURE', 'reading \\\\dc\\sysvol\\x over SMB failed: NT_STATUS_LOGON_FAILURE', 'ERROR_LOGON_FAILURE'),
    ('policy', 'NERR_UserExists (2224): already there', 'NERR_UserExists'),
])
def test_error_names_are_windows_names(kind, message, name):
    got, code = X.error_for(kind, message)
    assert got == name and code == BY_NAME[name].code
    text = X.with_name(message, kind)
    assert text.startswith('%s (%d): ' % (name, code)) and text.endswith(message)
    assert X.with_name(text, kind) == text


def test_dc_role_needs_a_writable_dc_of_the_domain():
    X.check_dc_role(domain_info(), 'CORP.example.test.')
    with pytest.raises(X.DcRoleError, match='ERROR_INVALID_DOMAIN_ROLE .*read-only'):
        X.check_dc_role(domain_info(dc_flags=0xe00133fd & ~0x100), 'corp.example.test')
    with pytest.raises(X.DcRoleError, match='ERROR_INVALID_DOMAIN_ROLE .*not of other.test'):
        X.check_dc_role(domain_info(), 'other.test')


def _build(parts_builder, name='WS01'):
    di = domain_info()
    pd = P.build_package(domain_dns=di.dns_domain, netbios_domain=di.netbios, forest=di.forest, domain_guid=di.guid,
                         domain_sid=di.sid, machine_name=name, machine_password='unit-test-password-xx' * 2,
                         dc_name=di.dc_dns_name, dc_address=di.dc_address, dc_flags=di.dc_flags, rid=1105,
                         options=X.provision_flags(persistent_site=True),
                         extra_parts=parts_builder({'name': name, 'account': None, 'domain': di}))
    return P.decode(P.encode(pd))


def test_local_policy_files_and_persistent_site_parts(tmp_path):
    first = tmp_path / 'a.pol'
    first.write_bytes(R.write([('Software\\Policies\\A', 'X', 4, b'\x01\x00\x00\x00')]))
    sources = X.PartSources(policy_paths=[str(first)], persistent_site=True)
    sources.check_local()
    sources.gather(client=None, domain_info=domain_info())
    pd = _build(sources.builder)
    jp2 = pd.part(P.PART_JOINPROV2)
    assert (jp2.flags, jp2.netbios_name, jp2.site_name, jp2.primary_dns_domain) == (
        1, 'WS01', 'Branch-7', 'corp.example.test')
    policy = pd.part(P.PART_POLICY)
    assert [lst.source for lst in policy.element_lists] == [str(first)]
    facts = package_facts(pd)
    assert 'NETSETUP_PROVISION_PERSISTENTSITE' in repr(facts)


def test_a_bad_local_policy_file_is_refused_before_the_domain_is_touched(tmp_path):
    bad = tmp_path / 'bad.pol'
    bad.write_bytes(b'PReg\x01\x00\x00\x00[\x00x')
    sources = X.PartSources(policy_paths=[str(bad)])
    with pytest.raises(R.RegPolError) as info:
        sources.check_local()
    assert str(bad) in str(info.value) and 'entry 1' in str(info.value)


def test_owner_of_a_self_relative_security_descriptor():
    owner = 'S-1-5-21-1-2-3-1103'
    sid = sid_to_bytes(owner)
    descriptor = struct.pack('<BBHIIII', 1, 0, 0x8004, 20, 0, 0, 0) + sid
    assert Q.owner_of(descriptor) == owner
    assert Q.sid_from_bytes(sid) == owner
    assert Q.owner_of(b'') is None and Q.owner_of(struct.pack('<BBHIIII', 1, 0, 0x8004, 0, 0, 0, 0)) is None
    assert Q.is_quota_error('00000523: SysErr ... 0000216d ...') and not Q.is_quota_error('00002071: exists')


def test_log_machines_writes_one_line_per_machine_with_names(tmp_path):
    log = NetSetupLog(str(tmp_path / 'netsetup.log'), program='odj_provision')
    log.register_secret('super-secret-domain-password')
    machines = [
        {'name': 'WS01', 'status': 'created', 'msg': 'account created', 'path': '/srv/odj/WS01.djoin'},
        {'name': 'WS02', 'status': 'conflict', 'msg': 'WS02$ already exists',
         'error': {'name': 'NERR_UserExists', 'code': 2224}},
    ]
    warnings = X.log_machines(log, machines, {'domain': 'corp.example.test', 'dc': 'dc1'})
    assert warnings == []
    lines = read_lines(log.path)
    assert len(lines) == 2
    assert 'machine=WS01' in lines[0] and lines[0].endswith('status=0x0 NERR_Success (0)')
    assert 'machine=WS02' in lines[1] and lines[1].endswith('status=0x8b0 NERR_UserExists (2224)')
