# -*- coding: utf-8 -*-
"""The package store (provision/store.py) and the package rule of provision/decide.py, on real package files."""

import collections
import os
import stat
import uuid

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import package_mismatch
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.store import (
    PackageStore, StoreError)

PASSWORD = 'Store-Test-Pa55word!'
Account = collections.namedtuple('Account', ['sid'])


def _raw(name='KIOSK-9', domain='corp.example.test', rid=1234):
    return P.encode(P.build_package(
        domain_dns=domain, netbios_domain='CORP', forest=domain, domain_guid=uuid.UUID(int=9),
        domain_sid='S-1-5-21-1-2-3', machine_name=name, machine_password=PASSWORD, dc_name='dc1',
        dc_address='10.0.0.1', dc_flags=0x1fd, options=0, rid=rid))


@pytest.mark.parametrize('form, vault, suffix', [
    ('djoin_file', None, '.djoin'), ('raw', None, '.odj'), ('base64', None, '.b64'),
    ('djoin_file', 'vault-pw', '.djoin.vault')])
def test_write_then_read_back_in_every_form(tmp_path, form, vault, suffix):
    store = PackageStore(str(tmp_path), form, vault_password=vault)
    path = store.write('KIOSK-9', _raw())
    assert path == str(tmp_path / ('KIOSK-9' + suffix)) == store.path('KIOSK-9')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    pd, note = store.read(path)
    assert note is None and pd.win7.machine_password == PASSWORD
    assert store.needs_rewrite(path) is False
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]  # no temporary file left
    store.sync()


def test_a_new_form_replaces_the_old_file_and_a_plain_file_needs_encrypting(tmp_path):
    plain = PackageStore(str(tmp_path), 'raw')
    old = plain.write('KIOSK-9', _raw())
    vaulted = PackageStore(str(tmp_path), 'djoin_file', vault_password='vault-pw')
    assert vaulted.existing_paths('KIOSK-9') == [old]
    assert vaulted.needs_rewrite(old) is True
    new = vaulted.write('KIOSK-9', _raw())
    assert vaulted.existing_paths('KIOSK-9') == [new] and not os.path.exists(old)


def test_unreadable_file_says_why(tmp_path):
    (tmp_path / 'KIOSK-9.djoin').write_bytes(b'not a package')
    store = PackageStore(str(tmp_path))
    pd, note = store.read(str(tmp_path / 'KIOSK-9.djoin'))
    assert pd is None and 'KIOSK-9.djoin' in note


def test_pending_marker_round_trip_and_removal(tmp_path):
    store = PackageStore(str(tmp_path))
    assert store.load_pending() == {}
    store.save_pending({'WS01': {'dn': 'CN=WS01,CN=Computers,DC=corp'}})
    assert stat.S_IMODE(os.stat(store.pending_path).st_mode) == 0o600
    assert store.load_pending() == {'WS01': {'dn': 'CN=WS01,CN=Computers,DC=corp'}}
    store.save_pending({})
    assert not os.path.exists(store.pending_path)
    (tmp_path / '.odj_provision.pending').write_text('{broken')
    assert store.load_pending() == {}


def test_prepare_creates_0700_and_names_a_bad_dest(tmp_path):
    dest = tmp_path / 'a' / 'store'
    assert PackageStore(str(dest)).prepare(check_mode=True) is True and not dest.exists()
    assert PackageStore(str(dest)).prepare() is True
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o700
    assert PackageStore(str(dest)).prepare() is False
    afile = tmp_path / 'file'
    afile.write_text('x')
    with pytest.raises(StoreError, match='is not a directory'):
        PackageStore(str(afile)).prepare()


def test_lock_is_exclusive(tmp_path):
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import LockTimeout
    store = PackageStore(str(tmp_path))
    with store.lock(1):
        with pytest.raises(LockTimeout):
            with PackageStore(str(tmp_path)).lock(0.3):
                pass


def test_package_mismatch_names_machine_domain_and_account():
    pd = P.decode(_raw())
    sid = pd.part(P.PART_JOINPROV3).sid
    assert package_mismatch(pd, 'p', 'KIOSK-9', 'corp.example.test', Account(sid)) is None
    assert package_mismatch(pd, 'p', 'KIOSK-9', 'corp.example.test', None) is None
    assert 'another machine or domain' in package_mismatch(pd, 'p', 'KIOSK-8', 'corp.example.test', None)
    assert 'another machine or domain' in package_mismatch(pd, 'p', 'KIOSK-9', 'other.example.test', None)
    other = Account('S-1-5-21-1-2-3-999')
    assert 'names another account' in package_mismatch(pd, 'p', 'KIOSK-9', 'corp.example.test', other)
