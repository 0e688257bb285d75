# -*- coding: utf-8 -*-
"""Machine policies from GPOs and root CA certificates, against the real throwaway Samba AD DC.

Set-up: tests/integration/domain_setup.py (a GPO with a Registry.pol written
by our writer and uploaded over SMB, a GPO without machine settings, two GPOs
with one display name, a test-made CA certificate published in the
configuration partition, a non-admin user).

What is checked: the package built from the GPO name carries exactly the
file's entries (entry by entry, against the file on the DC's disk), and the
package's SST store holds exactly the published certificate (DER bytes, against
an independent LDAP read).
"""

import os
import uuid

import ldap3
import pytest
from cryptography import x509

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import certstore as C
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import policy as D
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import quota as Q
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.ad import regpol as R
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient

from domain_setup import (CA_CN, DUP_GPO_NAME, EMPTY_GPO_NAME, GPO_NAME, PASSWORD, admin_ldap,
                          domain_extras_for, policy_entries, run_command)


@pytest.fixture(scope='module')
def domain_extras(samba_dc, tmp_path_factory):
    return domain_extras_for(samba_dc, tmp_path_factory)


@pytest.fixture()
def client(samba_dc):
    c = ADClient(samba_dc.ip, username='%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                 password=samba_dc.admin_password, validate_certs=False, server_name=samba_dc.dc_hostname).connect()
    yield c
    c.close()


def smb_args(dc, **overrides):
    args = dict(username='%s\\%s' % (dc.netbios, dc.admin_user), password=dc.admin_password, address=dc.ip,
                smb_conf=dc.client_conf, runner=run_command)
    args.update(overrides)
    return args


def _package(parts):
    return P.decode(P.encode(P.build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
        domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'),
        domain_sid='S-1-5-21-2720103478-3893655958-3880862394', machine_name='WS01', machine_password=PASSWORD,
        dc_name='dc1.corp.example.test', dc_address='127.0.0.1', dc_flags=0xe00013fd, rid=1105,
        extra_parts=parts)))


def test_gpo_found_by_display_name_and_guid(samba_dc, domain_extras, client):
    gpo = D.find_gpo(client, samba_dc.base_dn, GPO_NAME)
    assert gpo.guid.upper() == domain_extras.gpo_guid.upper()
    assert gpo.display_name == GPO_NAME
    assert gpo.file_sys_path.lower().endswith(('\\policies\\%s' % domain_extras.gpo_guid).lower())
    # case-insensitive, as AD compares display names; and by GUID
    assert D.find_gpo(client, samba_dc.base_dn, GPO_NAME.upper()).guid == gpo.guid
    assert D.find_gpo(client, samba_dc.base_dn, domain_extras.gpo_guid.lower()).guid == gpo.guid


def test_gpo_registry_pol_reaches_the_package_entry_by_entry(samba_dc, domain_extras, client, tmp_path):
    gpo = D.find_gpo(client, samba_dc.base_dn, GPO_NAME)
    source, data = D.gpo_machine_policy(gpo, samba_dc.dc_hostname, **smb_args(samba_dc))
    assert data == domain_extras.pol
    assert source == gpo.file_sys_path + '\\Machine\\Registry.pol'
    # independent read of the same file on the DC's disk (SYSVOL folder) for the comparison
    on_disk = os.path.join(samba_dc.directory, 'state', 'sysvol', *domain_extras.pol_remote.split('\\'))
    with open(on_disk, 'rb') as handle:
        file_entries = R.parse(handle.read())
    pd = _package([R.build_policy_part([(source, data)])])
    lists = pd.part(P.PART_POLICY).element_lists
    assert len(lists) == 1
    assert lists[0].source == source and lists[0].root_key_id == R.HKEY_LOCAL_MACHINE
    carried = R.entries_of(lists[0])
    assert len(carried) == len(file_entries) == len(policy_entries())
    for got, want in zip(carried, file_entries):
        assert got == want
        wanted = (want.key, want.value_name, want.value_type, len(want.data))
        assert (got.key, got.value_name, got.value_type, got.size) == wanted


def test_gpo_name_that_matches_none_or_several_is_an_error_naming_it(samba_dc, domain_extras, client):
    with pytest.raises(D.DomainPolicyError) as info:
        D.find_gpo(client, samba_dc.base_dn, 'No Such Policy')
    assert '"No Such Policy"' in str(info.value) and info.value.error_name == 'ERROR_INVALID_PARAMETER'
    with pytest.raises(D.DomainPolicyError) as info:
        D.find_gpo(client, samba_dc.base_dn, DUP_GPO_NAME)
    assert '"%s" is ambiguous: 2 GPOs' % DUP_GPO_NAME in str(info.value)
    for guid in domain_extras.dup_guids:
        assert guid.upper() in str(info.value).upper()
    # filter metacharacters are matched literally, not as wildcards
    with pytest.raises(D.DomainPolicyError, match='no GPO named'):
        D.find_gpo(client, samba_dc.base_dn, 'Winimage*')


def test_gpo_without_machine_settings_has_no_registry_pol(samba_dc, domain_extras, client):
    gpo = D.find_gpo(client, samba_dc.base_dn, EMPTY_GPO_NAME)
    source, data = D.gpo_machine_policy(gpo, samba_dc.dc_hostname, **smb_args(samba_dc))
    assert data is None and source.endswith('\\Machine\\Registry.pol')
    with pytest.raises(D.DomainPolicyError) as info:
        D.gpo_machine_policy(gpo, samba_dc.dc_hostname, missing_ok=False, **smb_args(samba_dc))
    assert info.value.error_name in ('ERROR_FILE_NOT_FOUND', 'ERROR_PATH_NOT_FOUND')
    assert EMPTY_GPO_NAME in str(info.value)


def test_sysvol_read_with_a_wrong_password_says_logon_failure(samba_dc, domain_extras, client):
    gpo = D.find_gpo(client, samba_dc.base_dn, GPO_NAME)
    wrong = samba_dc.admin_password + 'x'
    with pytest.raises(D.DomainPolicyError) as info:
        D.gpo_machine_policy(gpo, samba_dc.dc_hostname, **smb_args(samba_dc, password=wrong))
    assert info.value.error_name == 'ERROR_LOGON_FAILURE'
    assert wrong not in str(info.value) and samba_dc.admin_password not in str(info.value)


def test_sysvol_read_with_kerberos(samba_dc, domain_extras, client, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / 'cc')
    assert samba_dc.kinit(samba_dc.admin_principal, samba_dc.admin_password, ccache).returncode == 0
    gpo = D.find_gpo(client, samba_dc.base_dn, GPO_NAME)
    share, inner = D.split_unc(gpo.file_sys_path)[1:]
    data = D.read_sysvol_file(samba_dc.dc_hostname, share, inner + '\\Machine\\Registry.pol', runner=run_command,
                              kerberos=True, ccache=ccache, smb_conf=samba_dc.client_conf, env=samba_dc.env)
    assert data == domain_extras.pol


def test_published_ca_certificate_goes_into_the_local_machine_root_store(samba_dc, domain_extras, client):
    # independent LDAP read of what the domain publishes
    conn = admin_ldap(samba_dc)
    conn.search(D.CA_CONTAINER % domain_extras.config_dn, '(objectClass=certificationAuthority)',
                search_scope=ldap3.LEVEL, attributes=['cACertificate'])
    published = [bytes(v) for e in conn.response if e.get('type') == 'searchResEntry'
                 for v in e['raw_attributes'].get('cACertificate', [])]
    conn.unbind()
    assert published == [domain_extras.ca_der]
    certificates, skipped = D.domain_ca_certificates(client)
    assert certificates == [domain_extras.ca_der] and skipped == []
    pd = _package([C.root_ca_cert_part(certificates)])
    stores = pd.part(P.PART_CERT).sst_stores
    assert [(s.store_location, s.store_name) for s in stores] == [(2, 'ROOT')]
    assert C.certificates_in(stores[0].sst) == [domain_extras.ca_der]
    assert x509.load_der_x509_certificate(C.certificates_in(stores[0].sst)[0]).subject.rfc4514_string() == \
        'CN=%s' % CA_CN


def test_non_admin_user_has_the_default_quota(samba_dc, domain_extras):
    conn = admin_ldap(samba_dc)
    conn.search(samba_dc.base_dn, '(objectClass=domain)', search_scope=ldap3.BASE,
                attributes=['ms-DS-MachineAccountQuota'])
    assert int(conn.response[0]['raw_attributes']['ms-DS-MachineAccountQuota'][0]) == 10
    conn.search(samba_dc.base_dn, '(sAMAccountName=%s)' % domain_extras.user, attributes=['memberOf'])
    groups = [v.decode() for e in conn.response if e.get('type') == 'searchResEntry'
              for v in e['raw_attributes'].get('memberOf', [])]
    conn.unbind()
    assert not any('admins' in g.lower() or 'administrators' in g.lower() for g in groups)
    user = ADClient(samba_dc.ip, username='%s@%s' % (domain_extras.user, samba_dc.realm),
                    password=domain_extras.user_password, validate_certs=False).connect()
    try:
        quota = Q.MachineQuota(user, samba_dc.base_dn, samba_dc.domain_sid).prepare()
    finally:
        user.close()
    assert quota.applies and quota.quota == 10 and quota.caller_sid == domain_extras.user_sid
    assert 0 <= quota.used <= 10 and quota.remaining == 10 - quota.used
    admin = ADClient(samba_dc.ip, username='%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                     password=samba_dc.admin_password, validate_certs=False).connect()
    try:
        assert not Q.MachineQuota(admin, samba_dc.base_dn, samba_dc.domain_sid).prepare().applies
    finally:
        admin.close()
