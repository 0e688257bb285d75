# -*- coding: utf-8 -*-
"""Netlogon LDAP ping responses (captured from the Samba AD DC), SIDs, and the vault envelope."""

import os
import subprocess
import sys
import uuid

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.accounts import computer_attributes
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.locator import parse_netlogon_response
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.values import dn_to_dns, guid_from_bytes, object_sid

# rootDSE Netlogon of a Samba 4.17 DC (corp.example.test, dc1, 127.0.0.76) for NtVer 0x16 and 0x1e
PING_16 = bytes.fromhex(
    '17000000fd1300007f785cc3e1f5334eb506a48462e86add04636f7270076578616d706c65047465737400c01803646331c0180443'
    '4f5250000344433100001744656661756c742d46697273742d536974652d4e616d6500c03f05000000ffffffff')
PING_1E = bytes.fromhex(
    '17000000fd1300007f785cc3e1f5334eb506a48462e86add04636f7270076578616d706c65047465737400c01803646331c0180443'
    '4f5250000344433100001744656661756c742d46697273742d536974652d4e616d6500c03f10020000007f00004c00000000000000'
    '000d000000ffffffff')


def test_netlogon_ping_response():
    info = parse_netlogon_response(PING_16)
    assert info.opcode == 23
    assert info.flags == 0x13fd
    assert info.domain_guid == uuid.UUID('c35c787f-f5e1-4e33-b506-a48462e86add')
    assert info.forest == info.dns_domain == 'corp.example.test'
    assert info.dc_dns_name == 'dc1.corp.example.test'
    assert (info.netbios_domain, info.dc_netbios_name, info.user_name) == ('CORP', 'DC1', '')
    assert info.dc_site_name == info.client_site_name == 'Default-First-Site-Name'
    assert info.dc_ip is None and info.nt_version == 5


def test_netlogon_ping_response_with_address():
    info = parse_netlogon_response(PING_1E)
    assert info.dc_ip == '127.0.0.76'
    assert info.nt_version == 13
    assert info.client_site_name == 'Default-First-Site-Name'


@pytest.mark.parametrize('cut', [0, 10, 30, 40, 60, len(PING_16) - 9])
def test_truncated_ping_is_a_clear_error(cut):
    with pytest.raises(ADError) as err:
        parse_netlogon_response(PING_16[:cut])
    assert err.value.kind == 'protocol'


def test_pointer_loop_is_refused():
    data = bytearray(PING_16)
    data[24:26] = b'\xc0\x18'  # forest name points to itself
    with pytest.raises(ADError):
        parse_netlogon_response(bytes(data))


def test_wrong_opcode_is_refused():
    with pytest.raises(ADError) as err:
        parse_netlogon_response(b'\x13\x00' + PING_16[2:])
    assert 'opcode 19' in str(err.value)


def test_sid_guid_and_dn_helpers():
    raw = bytes.fromhex('010500000000000515000000ab c73a49 5751371a 675fbe1f 52040000'.replace(' ', ''))
    assert object_sid(raw) == 'S-1-5-21-1228588971-439832919-532569959-1106'
    with pytest.raises(ADError) as err:
        object_sid(raw[:-1])
    assert err.value.kind == 'protocol'
    assert guid_from_bytes(uuid.UUID('c35c787f-f5e1-4e33-b506-a48462e86add').bytes_le) == \
        uuid.UUID('c35c787f-f5e1-4e33-b506-a48462e86add')
    assert dn_to_dns('DC=corp,DC=example,DC=test') == 'corp.example.test'


def test_computer_attributes_as_windows_makes_them():
    attrs = computer_attributes('ws01', 'Corp.Example.Test', password='pw')
    assert attrs['objectClass'] == ['computer']
    assert attrs['sAMAccountName'] == 'WS01$'
    assert attrs['userAccountControl'] == '4096'
    assert attrs['dNSHostName'] == 'ws01.corp.example.test'
    assert sorted(attrs['servicePrincipalName']) == sorted([
        'HOST/WS01', 'HOST/WS01.corp.example.test', 'RestrictedKrbHost/WS01', 'RestrictedKrbHost/WS01.corp.example.test'])
    assert attrs['unicodePwd'] == '"pw"'.encode('utf-16-le')


def test_vault_interoperates_with_ansible_vaultlib():
    from ansible.parsing.vault import VaultLib, VaultSecret
    data = os.urandom(3000)
    lib = VaultLib([('odj', VaultSecret(b'secret-1'))])
    ours = _vault.encrypt(data, 'secret-1', 'odj')
    assert ours.startswith(b'$ANSIBLE_VAULT;1.2;AES256;odj\n')
    assert all(len(line) <= 80 for line in ours.split(b'\n'))
    assert lib.decrypt(ours) == data
    theirs = lib.encrypt(data, VaultSecret(b'secret-1'), vault_id='odj')
    assert _vault.decrypt(theirs, 'secret-1') == data
    assert theirs.startswith(b'$ANSIBLE_VAULT;1.2;AES256;odj\n')
    assert _vault.encrypt(b'x', 'secret-1').startswith(b'$ANSIBLE_VAULT;1.1;AES256\n')
    with pytest.raises(_vault.VaultError) as err:
        _vault.decrypt(ours, 'secret-2')
    assert 'secret' not in str(err.value)
    damaged = ours[:-10] + b'0000000000'
    with pytest.raises(_vault.VaultError):
        _vault.decrypt(damaged, 'secret-1')
    with pytest.raises(_vault.VaultError):
        _vault.decrypt(b'not a vault', 'secret-1')


def test_vault_file_is_read_by_ansible_vault_cli(tmp_path):
    secret_file = tmp_path / 'pass'
    secret_file.write_text('cli-secret\n')
    path = tmp_path / 'pkg.vault'
    path.write_bytes(_vault.encrypt(b'payload-\x00\xff', 'cli-secret', 'odj'))
    cli = os.path.join(os.path.dirname(sys.executable), 'ansible-vault')
    out = subprocess.run([cli, 'decrypt', '--vault-id', 'odj@%s' % secret_file, '--output', '-', str(path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert out.returncode == 0, out.stderr.decode()[-400:]
    assert out.stdout == b'payload-\x00\xff'
