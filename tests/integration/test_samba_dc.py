# -*- coding: utf-8 -*-
"""The throwaway Samba AD DC answers LDAP(S), Kerberos and SMB, and Samba's
``net offlinejoin provision`` makes packages against it."""

import base64
import json
import os
import socket
import subprocess
import sys
import uuid

import ldap3
import pytest

import samba_dc as dcmod


def _sid_text(raw):
    count = raw[1]
    authority = int.from_bytes(raw[2:8], 'big')
    subs = [int.from_bytes(raw[8 + 4 * i:12 + 4 * i], 'little') for i in range(count)]
    return 'S-%d-%d%s' % (raw[0], authority, ''.join('-%d' % s for s in subs))


SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dc', 'samba_dc.py')


def test_ports_answer_on_its_own_address(samba_dc):
    assert samba_dc.ip.startswith('127.0.0.')
    for port in (88, 389, 445, 636):
        with socket.create_connection((samba_dc.ip, port), timeout=5):
            pass
    # bound to its own loopback address only: another loopback address with the LDAP port free refuses
    other = next('127.0.0.%d' % n for n in range(2, 255)
                 if '127.0.0.%d' % n != samba_dc.ip and dcmod._port_free('127.0.0.%d' % n, 389))  # pylint: disable=protected-access
    with pytest.raises(OSError):
        socket.create_connection((other, 389), timeout=2)


def test_ldaps_simple_bind_and_rootdse(samba_dc):
    server = ldap3.Server(samba_dc.ip, port=636, use_ssl=True, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=samba_dc.admin_dn, password=samba_dc.admin_password, auto_bind=True)
    assert conn.search('', '(objectClass=*)', search_scope=ldap3.BASE,
                       attributes=['defaultNamingContext', 'dnsHostName'])
    entry = conn.entries[0]
    assert str(entry.defaultNamingContext).lower() == samba_dc.base_dn.lower()
    assert str(entry.dnsHostName).lower() == samba_dc.dc_hostname
    assert conn.search(samba_dc.base_dn, '(objectClass=domain)', search_scope=ldap3.BASE, attributes=['objectSid'])
    assert _sid_text(conn.entries[0].objectSid.raw_values[0]) == samba_dc.domain_sid
    conn.unbind()


def test_ldaps_wrong_password_is_refused(samba_dc):
    server = ldap3.Server(samba_dc.ip, port=636, use_ssl=True, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=samba_dc.admin_dn, password=samba_dc.admin_password + 'x')
    assert not conn.bind()
    assert conn.result['result'] == 49


def test_kinit_with_generated_krb5_conf(samba_dc, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / 'cc')
    result = samba_dc.kinit(samba_dc.admin_principal, samba_dc.admin_password, ccache)
    assert result.returncode == 0, result.stderr
    listed = samba_dc.run_client(['klist', '-c', ccache])
    assert listed.returncode == 0
    assert ('Default principal: %s' % samba_dc.admin_principal).encode() in listed.stdout
    bad = samba_dc.kinit(samba_dc.admin_principal, samba_dc.admin_password + 'x', 'FILE:%s' % (tmp_path / 'cc2'))
    assert bad.returncode != 0


def test_smb_share_list_with_kerberos(samba_dc, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / 'cc')
    assert samba_dc.kinit(samba_dc.admin_principal, samba_dc.admin_password, ccache).returncode == 0
    result = samba_dc.run_client(['smbclient', '-L', samba_dc.dc_hostname, '--configfile=%s' % samba_dc.client_conf,
                                  '--use-kerberos=required'], extra_env={'KRB5CCNAME': ccache})
    assert result.returncode == 0, result.stderr
    assert b'netlogon' in result.stdout and b'sysvol' in result.stdout


def test_net_offlinejoin_provision_makes_a_package(samba_dc, net_offlinejoin):
    raw = net_offlinejoin(samba_dc, 'REFWS01')
    # MIDL type serialisation v1 header, little endian, filler CC..
    assert raw[:8] == bytes.fromhex('01100800cccccccc')
    assert int.from_bytes(raw[8:12], 'little') == len(raw) - 16
    assert 1000 < len(raw) < 10000
    djoin = net_offlinejoin(samba_dc, 'REFWS02', raw=False)
    assert djoin[:2] == b'\xff\xfe' and djoin[-2:] == b'\x00\x00'
    assert base64.b64decode(djoin[2:-2].decode('utf-16-le'))[:8] == raw[:8]
    # the account exists now
    server = ldap3.Server(samba_dc.ip, port=636, use_ssl=True, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=samba_dc.admin_dn, password=samba_dc.admin_password, auto_bind=True)
    assert conn.search(samba_dc.base_dn, '(sAMAccountName=REFWS01$)', attributes=['userAccountControl'])
    assert int(conn.entries[0].userAccountControl.value) == 4096
    conn.unbind()


def test_net_offlinejoin_package_decodes_with_codec(samba_dc, net_offlinejoin):
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
    raw = net_offlinejoin(samba_dc, 'REFWS03')
    pd = decode(raw)
    win7 = pd.win7
    assert win7.machine_name.upper() == 'REFWS03'
    assert win7.domain.lower() == samba_dc.dns_domain
    assert win7.dns_domain_info.name.upper() == samba_dc.netbios
    assert win7.dns_domain_info.dns_domain_name.lower() == samba_dc.dns_domain
    assert win7.dns_domain_info.sid == samba_dc.domain_sid
    assert isinstance(win7.dns_domain_info.domain_guid, uuid.UUID)
    assert win7.dc_info.dc_name.lower() == '\\\\' + samba_dc.dc_hostname
    assert win7.dc_info.dc_address == '\\\\' + samba_dc.ip


def test_cli_start_env_stop_leaves_no_process(tmp_path):
    reason = dcmod.samba_available()
    if reason:
        pytest.skip(reason)
    directory = str(tmp_path / 'dc')
    started = subprocess.run([sys.executable, SCRIPT, 'start', '--dir', directory, '--realm', 'CLI.EXAMPLE.TEST',
                              '--domain', 'CLI'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                             timeout=300)
    try:
        assert started.returncode == 0, started.stderr.decode()[-2000:]
        info = json.loads(started.stdout)
        assert info['realm'] == 'CLI.EXAMPLE.TEST' and info['netbios'] == 'CLI' and info['running']
        with socket.create_connection((info['ip'], 636), timeout=5):
            pass
        env = subprocess.run([sys.executable, SCRIPT, 'env', '--dir', directory], stdout=subprocess.PIPE, check=True)
        assert json.loads(env.stdout)['ip'] == info['ip']
        assert os.path.commonpath([info['krb5_conf'], directory]) == directory
        assert os.path.commonpath([info['smb_conf'], directory]) == directory
        tree = dcmod.process_tree(info['pid'])
        assert len(tree) > 5
    finally:
        stopped = subprocess.run([sys.executable, SCRIPT, 'stop', '--dir', directory], stdout=subprocess.PIPE,
                                 check=False, timeout=120)
    assert stopped.returncode == 0
    assert not any(dcmod._pid_alive(pid) for pid in tree)  # pylint: disable=protected-access
    assert not dcmod._processes_using(os.path.join(directory, 'etc', 'smb.conf'))  # pylint: disable=protected-access
    with pytest.raises(OSError):
        socket.create_connection((info['ip'], 636), timeout=2)
