# -*- coding: utf-8 -*-
"""odj_provision's engine against the real throwaway Samba AD DC.

Reference: Samba's own ``net offlinejoin provision`` against the same DC.
Passwords are only compared, never printed.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import uuid

import ldap3
import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import (
    PART_JOINPROV3, PART_WIN7BLOB, decode)
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import (
    ProvisionError, Provisioner, summarize)


def run_command(argv, data, env):
    """What AnsibleModule.run_command gives the module: (rc, stdout, stderr)."""
    proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, **env), check=False)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace')


def client_for(dc, **kwargs):
    args = dict(username='%s@%s' % (dc.admin_user, dc.realm), password=dc.admin_password, validate_certs=False,
                server_name=dc.dc_hostname, run_command=run_command)
    args.update(kwargs)
    return ADClient(dc.ip, **args).connect()


@pytest.fixture()
def client(samba_dc):
    c = client_for(samba_dc)
    yield c
    c.close()


def provision(dc, client, names, **kwargs):
    prov = Provisioner(client, dc.dns_domain, **kwargs)
    machines = prov.run(names)
    return {m.name or m.requested: m for m in machines}, prov


def machines_of(dc, client, names, **kwargs):
    return provision(dc, client, names, **kwargs)[0]


def admin_ldap(dc):
    server = ldap3.Server(dc.ip, port=636, use_ssl=True, get_info=ldap3.NONE)
    return ldap3.Connection(server, user=dc.admin_dn, password=dc.admin_password, auto_bind=True,
                            check_names=False)


def ldap_account(dc, name):
    conn = admin_ldap(dc)
    conn.search(dc.base_dn, '(sAMAccountName=%s$)' % name, attributes=['*'])
    entries = [e for e in conn.response if e.get('type') == 'searchResEntry']
    conn.unbind()
    assert len(entries) <= 1
    if not entries:
        return None
    raw = {k.lower(): v for k, v in entries[0]['raw_attributes'].items()}
    raw['dn'] = entries[0]['dn']
    return raw


def text(values):
    return sorted(v.decode() for v in values)


def password_of(path_or_bytes, vault_password=None):
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, 'rb') as handle:
            data = handle.read()
    if vault_password is not None:
        data = _vault.decrypt(data, vault_password)
    return decode(data).win7.machine_password


def kinit_ok(dc, name, password, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / ('cc-%s-%s' % (name, uuid.uuid4().hex)))
    return dc.kinit('%s$@%s' % (name, dc.realm), password, ccache).returncode == 0


def ldap_bind_ok(dc, dn, password):
    server = ldap3.Server(dc.ip, port=636, use_ssl=True, get_info=ldap3.NONE)
    return ldap3.Connection(server, user=dn, password=password, check_names=False).bind()


@pytest.fixture()
def dest(tmp_path):
    path = tmp_path / 'packages'
    path.mkdir()
    return str(path)


def test_package_fields_equal_net_offlinejoin(samba_dc, client, dest, net_offlinejoin):
    machines, prov = provision(samba_dc, client, ['CMP01'], dest=dest)
    assert machines['CMP01'].status == 'created'
    ours = decode(open(machines['CMP01'].path, 'rb').read())
    ref = decode(net_offlinejoin(samba_dc, 'CMPREF01'))
    for pd in (ours, ref):
        assert [b.format for b in pd.blobs] == [1, 2]
    o, r = ours.win7, ref.win7
    assert o.domain == r.domain
    for field in ('name', 'dns_domain_name', 'dns_forest_name', 'domain_guid', 'sid'):
        assert getattr(o.dns_domain_info, field) == getattr(r.dns_domain_info, field), field
    for field in ('dc_name', 'dc_address', 'dc_address_type', 'domain_guid', 'domain_name', 'dns_forest_name',
                  'flags', 'dc_site_name', 'client_site_name'):
        assert getattr(o.dc_info, field) == getattr(r.dc_info, field), field
    assert o.machine_name == 'CMP01'
    assert [p.part_type for p in ours.parts] == [p.part_type for p in ref.parts] == [PART_WIN7BLOB, PART_JOINPROV3]
    assert [p.flags for p in ours.parts] == [p.flags for p in ref.parts]
    account = ldap_account(samba_dc, 'CMP01')
    jp3 = ours.part(PART_JOINPROV3)
    assert jp3.sid == machines['CMP01'].account.sid
    assert jp3.rid == int(jp3.sid.rsplit('-', 1)[1])
    assert account['dn'] == machines['CMP01'].account.dn
    facts = prov.domain_facts()
    assert facts['sid'] == samba_dc.domain_sid and facts['netbios_name'] == samba_dc.netbios


def test_account_attributes_match_samba_net(samba_dc, client, dest, net_offlinejoin):
    provision(samba_dc, client, ['ATTR01'], dest=dest)
    net_offlinejoin(samba_dc, 'ATTRREF1')
    ours, ref = ldap_account(samba_dc, 'ATTR01'), ldap_account(samba_dc, 'ATTRREF1')
    for attr in ('objectclass', 'useraccountcontrol', 'samaccounttype', 'primarygroupid', 'objectcategory',
                 'msds-supportedencryptiontypes', 'iscriticalsystemobject', 'accountexpires'):
        assert text(ours[attr]) == text(ref[attr]), attr
    assert ours['dn'].split(',', 1)[1] == ref['dn'].split(',', 1)[1]
    assert text(ours['dnshostname']) == ['attr01.%s' % samba_dc.dns_domain]
    assert text(ref['dnshostname']) == ['attrref1.%s' % samba_dc.dns_domain]
    assert text(ours['samaccountname']) == ['ATTR01$']

    def spns(values, name):
        return sorted(v.replace(name, 'X') for v in text(values))
    assert spns(ours['serviceprincipalname'], 'ATTR01') == spns(ref['serviceprincipalname'], 'ATTRREF1')
    assert len(ours['serviceprincipalname']) == 4


def test_password_authenticates_and_second_run_keeps_it(samba_dc, client, dest, tmp_path):
    machines = machines_of(samba_dc, client, ['AUTH01'], dest=dest)
    path = machines['AUTH01'].path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    password = password_of(path)
    assert kinit_ok(samba_dc, 'AUTH01', password, tmp_path)
    assert not kinit_ok(samba_dc, 'AUTH01', password + 'x', tmp_path)
    before = ldap_account(samba_dc, 'AUTH01')
    with open(path, 'rb') as handle:
        content = handle.read()
    again = machines_of(samba_dc, client, ['AUTH01'], dest=dest)
    m = again['AUTH01']
    assert (m.status, m.changed, m.verified) == ('unchanged', False, True)
    after = ldap_account(samba_dc, 'AUTH01')
    assert before['pwdlastset'] == after['pwdlastset']
    with open(path, 'rb') as handle:
        assert handle.read() == content
    assert kinit_ok(samba_dc, 'AUTH01', password, tmp_path)
    assert ldap_bind_ok(samba_dc, after['dn'], password)


def test_ou_placement_and_missing_ou(samba_dc, client, dest):
    ou = 'OU=Kiosks-%s,%s' % (uuid.uuid4().hex[:6], samba_dc.base_dn)
    conn = admin_ldap(samba_dc)
    assert conn.add(ou, ['organizationalUnit'])
    conn.unbind()
    machines = machines_of(samba_dc, client, ['OU01'], dest=dest, machine_account_ou=ou)
    assert machines['OU01'].account.dn == 'CN=OU01,%s' % ou
    assert ldap_account(samba_dc, 'OU01')['dn'] == 'CN=OU01,%s' % ou
    with pytest.raises(ProvisionError) as err:
        provision(samba_dc, client, ['OU02'], dest=dest, machine_account_ou='OU=Nowhere,%s' % samba_dc.base_dn)
    assert err.value.kind == 'ou_missing' and 'OU=Nowhere' in str(err.value)
    assert ldap_account(samba_dc, 'OU02') is None
    assert not os.path.exists(os.path.join(dest, 'OU02.djoin'))


def test_conflict_then_reuse(samba_dc, client, dest, net_offlinejoin, tmp_path):
    ref_pkg = net_offlinejoin(samba_dc, 'REUSE01')
    ref_password = password_of(ref_pkg)
    before = ldap_account(samba_dc, 'REUSE01')
    machines = machines_of(samba_dc, client, ['REUSE01'], dest=dest)
    m = machines['REUSE01']
    assert m.status == 'conflict' and not m.changed
    assert 'reuse_account' in m.msg and 'REUSE01$' in m.msg
    assert ldap_account(samba_dc, 'REUSE01')['pwdlastset'] == before['pwdlastset']
    assert not os.listdir(dest) or os.listdir(dest) == ['.odj_provision.lock']
    assert kinit_ok(samba_dc, 'REUSE01', ref_password, tmp_path)
    machines = machines_of(samba_dc, client, ['REUSE01'], dest=dest, reuse_account=True)
    m = machines['REUSE01']
    assert m.status == 'reused' and m.changed
    assert m.account.sid == decode(ref_pkg).part(PART_JOINPROV3).sid
    pd = decode(open(m.path, 'rb').read())
    assert pd.win7.options & 0x2
    assert pd.part(PART_JOINPROV3).sid == m.account.sid
    assert kinit_ok(samba_dc, 'REUSE01', pd.win7.machine_password, tmp_path)
    assert not kinit_ok(samba_dc, 'REUSE01', ref_password, tmp_path)


def test_wrong_admin_password(samba_dc):
    with pytest.raises(ADError) as err:
        client_for(samba_dc, password=samba_dc.admin_password + 'wrong')
    assert err.value.kind == 'bad_credentials'
    assert samba_dc.admin_password not in str(err.value)
    assert 'Administrator' in str(err.value)


def test_unreachable_dc(samba_dc):
    with pytest.raises(ADError) as err:
        ADClient('127.0.0.254' if samba_dc.ip != '127.0.0.254' else '127.0.0.253', username='x@y', password='p',
                 validate_certs=False, timeout=3).connect()
    assert err.value.kind == 'unreachable'
    assert 'cannot reach the DC 127.0.0.25' in str(err.value)


def test_certificate_validation_is_on_by_default(samba_dc):
    with pytest.raises(ADError) as err:
        ADClient(samba_dc.ip, username='x@y', password='p', server_name=samba_dc.dc_hostname, timeout=5,
                 tls_mode='ldaps').connect()
    assert err.value.kind == 'tls'
    cn = 'DC1.%s' % samba_dc.dns_domain  # Samba's autogenerated certificate and CA
    assert str(err.value) == ("TLS to %s:636: the DC's certificate (CN=%s) is issued by CN=%s,OU=Samba - temporary "
                              "autogenerated CA certificate,O=Samba Administration, which is not in the system's "
                              "trusted CAs (give ca_cert with the CA that signs it)" % (samba_dc.ip, cn, cn))


def test_batch_with_bad_names(samba_dc, client, dest):
    names = ['BATCH01', 'bad_name', 'THISNAMEISWAYTOOLONG', 'BATCH02', '12345', 'batch01', '-lead']
    machines = machines_of(samba_dc, client, names, dest=dest)
    assert machines['BATCH01'].status == 'created' and machines['BATCH02'].status == 'created'
    assert machines['bad_name'].status == 'invalid' and "'_'" in machines['bad_name'].msg
    assert 'at most 15' in machines['THISNAMEISWAYTOOLONG'].msg
    assert 'only digits' in machines['12345'].msg
    assert 'hyphen' in machines['-lead'].msg
    summary = summarize(list(machines.values()))
    assert sorted(summary['failed_machines']) == sorted(['bad_name', 'THISNAMEISWAYTOOLONG', '12345', '-lead'])
    assert ldap_account(samba_dc, 'BATCH01') and ldap_account(samba_dc, 'BATCH02')
    assert sorted(f for f in os.listdir(dest) if not f.startswith('.')) == ['BATCH01.djoin', 'BATCH02.djoin']


def _snapshot(dc):
    conn = admin_ldap(dc)
    conn.search(dc.base_dn, '(objectClass=*)', attributes=['*'])
    snap = {e['dn']: {k: sorted(v) for k, v in e['raw_attributes'].items()}
            for e in conn.response if e.get('type') == 'searchResEntry'}
    conn.unbind()
    return snap


def _listing(path):
    return {name: open(os.path.join(path, name), 'rb').read() for name in sorted(os.listdir(path))}


def test_check_mode_changes_nothing(samba_dc, client, dest, net_offlinejoin):
    provision(samba_dc, client, ['CHK01'], dest=dest)
    net_offlinejoin(samba_dc, 'CHK02')
    ldap_before, files_before = _snapshot(samba_dc), _listing(dest)
    machines = machines_of(samba_dc, client, ['CHK01', 'CHK02', 'CHK03', 'bad_name'], dest=dest, check_mode=True)
    assert machines['CHK01'].status == 'unchanged' and not machines['CHK01'].changed
    assert machines['CHK02'].status == 'conflict'
    assert machines['CHK03'].status == 'would_create' and machines['CHK03'].changed
    assert machines['bad_name'].status == 'invalid'
    machines = machines_of(samba_dc, client, ['CHK02'], dest=dest, check_mode=True, reuse_account=True)
    assert machines['CHK02'].status == 'would_reuse'
    assert _snapshot(samba_dc) == ldap_before
    assert _listing(dest) == files_before
    diff = summarize(list(machines.values()))['diff']
    assert diff['after']['accounts'] == {'CHK02': 'password reset'}


def test_stale_package_is_renewed(samba_dc, client, dest, tmp_path):
    machines = machines_of(samba_dc, client, ['STALE01'], dest=dest)
    old = password_of(machines['STALE01'].path)
    client.set_password(machines['STALE01'].account.dn, 'Other-Passw0rd-1234')
    again = machines_of(samba_dc, client, ['STALE01'], dest=dest)
    m = again['STALE01']
    assert (m.status, m.changed, m.verified) == ('reused', True, True)  # the new package, checked after the write
    new = password_of(m.path)
    assert new != old
    assert kinit_ok(samba_dc, 'STALE01', new, tmp_path)


def test_second_run_of_a_batch_tries_every_password_and_renews_only_the_stale(samba_dc, client, dest, tmp_path):
    """The passwords of a batch are tried concurrently; each outcome must land on its own machine."""
    names = ['MIXED%02d' % i for i in range(8)]
    first = machines_of(samba_dc, client, names, dest=dest)
    before = dict((n, password_of(first[n].path)) for n in names)
    stale = [names[1], names[6]]
    for name in stale:
        client.set_password(first[name].account.dn, 'Other-Passw0rd-%s' % name)
    again = machines_of(samba_dc, client, names, dest=dest)
    assert {n: (again[n].status, again[n].verified) for n in names} == dict(
        (n, ('reused', True) if n in stale else ('unchanged', True)) for n in names)
    renewed = dict((n, password_of(again[n].path) != before[n]) for n in names)  # bools: no secret in the report
    assert renewed == dict((n, n in stale) for n in names)
    for name in names:
        assert kinit_ok(samba_dc, name, password_of(again[name].path), tmp_path)


def test_half_made_account_is_finished_by_next_run(samba_dc, client, dest, tmp_path):
    blocker = os.path.join(dest, 'HALF01.djoin')
    os.mkdir(blocker)  # the file cannot be written: a directory is in the way
    machines = machines_of(samba_dc, client, ['HALF01', 'HALF02'], dest=dest)
    assert machines['HALF01'].status == 'failed'
    assert 'next run' in machines['HALF01'].msg
    assert machines['HALF02'].status == 'created'
    assert ldap_account(samba_dc, 'HALF01') is not None
    with open(os.path.join(dest, '.odj_provision.pending')) as handle:
        assert list(json.load(handle)) == ['HALF01']
    os.rmdir(blocker)
    again = machines_of(samba_dc, client, ['HALF01', 'HALF02'], dest=dest)
    assert again['HALF01'].status == 'reused' and again['HALF01'].changed
    assert again['HALF02'].status == 'unchanged'
    assert not os.path.exists(os.path.join(dest, '.odj_provision.pending'))
    assert kinit_ok(samba_dc, 'HALF01', password_of(again['HALF01'].path), tmp_path)


def test_vault_round_trip(samba_dc, client, dest, tmp_path):
    secret = 'vault-' + uuid.uuid4().hex
    machines = machines_of(samba_dc, client, ['VAULT01'], dest=dest, vault_password=secret, vault_id='odj',
                           package_format='base64')
    path = machines['VAULT01'].path
    assert path.endswith('VAULT01.b64.vault')
    with open(path, 'rb') as handle:
        data = handle.read()
    assert data.startswith(b'$ANSIBLE_VAULT;1.2;AES256;odj\n')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # the real ansible-vault reads it
    secret_file = tmp_path / 'vault-pass'
    secret_file.write_text(secret)
    view = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-vault'),
                           'view', '--vault-id', 'odj@%s' % secret_file, path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert view.returncode == 0, view.stderr.decode()[-500:]
    pd = decode(view.stdout.strip())
    assert pd.win7.machine_name == 'VAULT01'
    assert kinit_ok(samba_dc, 'VAULT01', pd.win7.machine_password, tmp_path)
    # a second run reads the vault file back: unchanged
    again = machines_of(samba_dc, client, ['VAULT01'], dest=dest, vault_password=secret, package_format='base64')
    assert again['VAULT01'].status == 'unchanged' and not again['VAULT01'].changed
    # without the vault password the package is unusable, and the account is not silently taken over
    other = machines_of(samba_dc, client, ['VAULT01'], dest=dest, package_format='base64')
    assert other['VAULT01'].status == 'conflict'
    assert 'vault' in other['VAULT01'].msg
    assert secret not in other['VAULT01'].msg


def test_return_package_without_dest(samba_dc, client, tmp_path):
    machines = machines_of(samba_dc, client, ['RET01'], return_package=True)
    m = machines['RET01']
    assert m.status == 'created' and m.path is None
    pd = decode(m.result(with_package=True)['package'])
    assert pd.win7.machine_name == 'RET01'
    assert 'package' not in m.result()
    assert kinit_ok(samba_dc, 'RET01', pd.win7.machine_password, tmp_path)


def test_use_default_password(samba_dc, client, dest, tmp_path):
    machines = machines_of(samba_dc, client, ['DEFPWD01'], dest=dest, use_default_password=True)
    pd = decode(open(machines['DEFPWD01'].path, 'rb').read())
    assert pd.win7.options & 0x4
    assert pd.win7.machine_password == 'defpwd01'
    assert kinit_ok(samba_dc, 'DEFPWD01', 'defpwd01', tmp_path)


def test_kerberos_ccache_bind(samba_dc, dest, tmp_path, monkeypatch):
    pytest.importorskip('gssapi')
    monkeypatch.setenv('KRB5_CONFIG', samba_dc.krb5_conf)
    ccache = 'FILE:%s' % (tmp_path / 'admin-cc')
    assert samba_dc.kinit(samba_dc.admin_principal, samba_dc.admin_password, ccache).returncode == 0
    monkeypatch.setenv('KRB5CCNAME', ccache)
    client = ADClient(samba_dc.ip, auth='kerberos', ccache=ccache, validate_certs=False,
                      server_name=samba_dc.dc_hostname, run_command=run_command).connect()
    try:
        machines = machines_of(samba_dc, client, ['KRB01'], dest=dest)
    finally:
        client.close()
    assert machines['KRB01'].status == 'created'
    assert kinit_ok(samba_dc, 'KRB01', password_of(machines['KRB01'].path), tmp_path)


def test_netlogon_ping_of_the_dc(samba_dc, client):
    ping = client.netlogon_ping(samba_dc.dns_domain)
    assert ping.opcode == 23
    assert ping.dns_domain == samba_dc.dns_domain and ping.forest == samba_dc.dns_domain
    assert ping.dc_dns_name == samba_dc.dc_hostname
    assert ping.netbios_domain == samba_dc.netbios and ping.dc_netbios_name == samba_dc.hostname.upper()
    assert ping.dc_site_name == 'Default-First-Site-Name'
    info = client.domain_info(samba_dc.dns_domain)
    assert info.guid == ping.domain_guid
    assert info.computers_dn == 'CN=Computers,%s' % samba_dc.base_dn
    assert info.dc_address == samba_dc.ip


def test_kerberos_keytab_bind(samba_dc, dest, tmp_path, monkeypatch):
    pytest.importorskip('gssapi')
    keytab = str(tmp_path / 'admin.keytab')
    export = subprocess.run(['samba-tool', 'domain', 'exportkeytab', keytab, '--principal=%s' % samba_dc.admin_principal,
                             '--configfile=%s' % samba_dc.smb_conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            check=False)
    assert export.returncode == 0, export.stderr.decode()[-500:]
    monkeypatch.setenv('KRB5_CONFIG', samba_dc.krb5_conf)
    monkeypatch.delenv('KRB5CCNAME', raising=False)
    client = ADClient(samba_dc.ip, auth='kerberos', keytab=keytab, principal=samba_dc.admin_principal,
                      validate_certs=False, server_name=samba_dc.dc_hostname, run_command=run_command).connect()
    try:
        machines = machines_of(samba_dc, client, ['KRB02'], dest=dest)
    finally:
        client.close()
    assert 'KRB5CCNAME' not in os.environ
    assert machines['KRB02'].status == 'created'
    assert kinit_ok(samba_dc, 'KRB02', password_of(machines['KRB02'].path), tmp_path)


def test_kerberos_without_ticket_is_a_clear_error(samba_dc, tmp_path, monkeypatch):
    pytest.importorskip('gssapi')
    monkeypatch.setenv('KRB5_CONFIG', samba_dc.krb5_conf)
    with pytest.raises(ADError) as err:
        ADClient(samba_dc.ip, auth='kerberos', ccache='FILE:%s' % (tmp_path / 'empty'), validate_certs=False,
                 server_name=samba_dc.dc_hostname, run_command=run_command).connect()
    assert err.value.kind == 'kerberos'


def test_no_right_to_create_computers(samba_dc, dest):
    user = 'lowpriv%s' % uuid.uuid4().hex[:6]
    password = 'Low-%s-Pw1' % uuid.uuid4().hex[:12]
    made = subprocess.run(['samba-tool', 'user', 'create', user, password, '--configfile=%s' % samba_dc.smb_conf],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert made.returncode == 0, made.stderr.decode()[-500:]
    ou = 'OU=Locked-%s,%s' % (uuid.uuid4().hex[:6], samba_dc.base_dn)
    conn = admin_ldap(samba_dc)
    assert conn.add(ou, ['organizationalUnit'])
    conn.unbind()
    client = client_for(samba_dc, username='%s@%s' % (user, samba_dc.realm), password=password)
    try:
        machines = machines_of(samba_dc, client, ['NORIGHT1', 'NORIGHT2'], dest=dest, machine_account_ou=ou)
    finally:
        client.close()
    for name in ('NORIGHT1', 'NORIGHT2'):
        assert machines[name].status == 'failed'
        assert 'access denied' in machines[name].msg and 'lacks the right' in machines[name].msg
        assert ldap_account(samba_dc, name) is None
    assert password not in machines['NORIGHT1'].msg
    assert not os.path.exists(os.path.join(dest, '.odj_provision.pending'))
    assert [f for f in os.listdir(dest) if not f.startswith('.')] == []


def test_wrong_domain_and_bad_dest_are_refused_before_any_change(samba_dc, client, tmp_path):
    before = _snapshot(samba_dc)
    prov = Provisioner(client, 'other.example.test', dest=str(tmp_path))
    with pytest.raises(ProvisionError) as err:
        prov.run(['WRONGDOM1'])
    assert 'serves the domain %s, not other.example.test' % samba_dc.dns_domain in str(err.value)
    in_the_way = tmp_path / 'a-file'
    in_the_way.write_text('x')
    with pytest.raises(ProvisionError) as err:
        Provisioner(client, samba_dc.dns_domain, dest=str(in_the_way)).run(['BADDEST1'])
    assert 'is not a directory' in str(err.value)
    with pytest.raises(ProvisionError) as err:
        Provisioner(client, samba_dc.dns_domain, dest=str(in_the_way / 'below')).run(['BADDEST1'])
    assert 'dest %s cannot be created' % (in_the_way / 'below') in str(err.value)
    with pytest.raises(ProvisionError) as err:
        Provisioner(client, samba_dc.dns_domain)
    assert 'nowhere to put the packages' in str(err.value)
    assert _snapshot(samba_dc) == before


class _CutAfter(object):
    """client.pipeline replacement: the TCP connection is cut after the DC answered ``replies`` requests."""

    def __init__(self, client, replies):
        self.client = client
        self.replies = replies
        self.original = client.pipeline

    def __call__(self, window=16):
        pipe = self.original(window)
        cutter = self
        receive = pipe._receive

        def cut_receive():
            receive()
            if pipe.sent - len(pipe._outstanding) >= cutter.replies and cutter.replies is not None:
                cutter.replies = None
                pipe.wire.sock.shutdown(socket.SHUT_RDWR)
        pipe._receive = cut_receive
        return pipe


def test_pipeline_answers_every_request_once_when_the_connection_dies(samba_dc, client):
    from ansible_collections.winimage.provisioning.plugins.module_utils.ad.pipeline import Pipeline
    pipe = Pipeline(client.conn, window=4)
    replies = {}

    def answer(index):
        def done(reply):
            assert index not in replies
            replies[index] = reply
            if index == 2:
                client.conn.sock.shutdown(socket.SHUT_RDWR)
        return done
    for index in range(12):
        pipe.search(samba_dc.base_dn, '(sAMAccountName=Administrator)', ['objectSid'], answer(index), scope='subtree')
    pipe.run()
    assert sorted(replies) == list(range(12))
    assert [replies[i].ok for i in range(3)] == [True] * 3
    assert all(len(replies[i].entries) == 1 for i in range(3))
    lost = [replies[i] for i in range(3, 12)]
    assert all(r.error and not r.ok for r in lost)
    sent = [r for r in lost if r.sent]
    assert 1 <= len(sent) <= 4 and not any(r.sent for r in lost[len(sent):])  # in flight, then never sent
    later = []
    pipe.search(samba_dc.base_dn, '(objectClass=*)', [], later.append)  # a broken pipeline answers at once
    assert later and later[0].error and not later[0].sent


def test_connection_lost_mid_batch_is_finished_by_next_run(samba_dc, client, dest, tmp_path, monkeypatch):
    names = ['CUT%02d' % i for i in range(60)]
    monkeypatch.setattr(client, 'pipeline', _CutAfter(client, 30))
    machines = machines_of(samba_dc, client, names, dest=dest)
    statuses = [machines[n].status for n in names]
    done = [n for n in names if machines[n].status == 'created' and machines[n].path]
    assert 0 < len(done) < 30 and statuses.count('failed') == len(names) - len(done), statuses
    in_doubt = [n for n in names if machines[n].error_kind == 'unreachable']
    never = [n for n in names if machines[n].account_action is None and 'not attempted' in machines[n].msg]
    assert in_doubt and never and all(n not in never for n in in_doubt)
    with open(os.path.join(dest, '.odj_provision.pending')) as handle:
        pending = set(json.load(handle))
    # accounts made whose package is missing, and adds the DC may have done, stay marked as ours;
    # adds never sent are not
    assert pending == set(names) - set(done) - set(never), [(n, machines[n].status, machines[n].error_kind,
                                                             (machines[n].msg or '')[:50]) for n in names]
    assert all(ldap_account(samba_dc, n) is None for n in never)
    again = machines_of(samba_dc, client_for(samba_dc), names, dest=dest)
    assert set(again[n].status for n in done) == {'unchanged'}
    assert set(again[n].status for n in never) == {'created'}
    assert set(again[n].status for n in pending) <= {'reused', 'created'}
    assert not os.path.exists(os.path.join(dest, '.odj_provision.pending'))
    for name in (names[0], names[-1], sorted(pending)[0]):
        assert kinit_ok(samba_dc, name, password_of(again[name].path), tmp_path)
