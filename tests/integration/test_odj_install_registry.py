# -*- coding: utf-8 -*-
"""Registry install into real Windows SYSTEM hives, checked with regipy and hivexregedit."""

import os
import shutil
import stat

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as hx
from ansible_collections.winimage.provisioning.plugins.module_utils.image.hive_log import read_header
from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import InstallError, image_info, install
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import (
    RegipyReader,
    compare,
    owned_keys,
    plan_entries,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw

from odj_install_support import (
    export,
    image_with_hive,
    make_dirty_with_log,
    package_bytes,
    regedit_text,
    sample_images,
    secret_matches,
    sha,
)

pytestmark = pytest.mark.skipif(not shutil.which('hivexregedit'), reason='hivexregedit (libwin-hivex-perl) not installed')

PACKAGES = ['samba-ou-kiosk07.djoin', 'samba-defpwd-labpc12.djoin', 'samba-reuse-ws0001.djoin']


def load(data):
    raw = to_raw(data)
    return raw, decode(raw)


def check_exact_table(before, after, hive, pd, control_set):
    """regipy and hivexregedit show exactly the planned table; nothing else in the hive changed."""
    entries = plan_entries(pd, control_set)
    problems = compare(entries, RegipyReader(hive))
    assert problems == [], 'regipy reads back exactly what the package says'
    written = {}
    for entry in entries:
        written[(entry.key.lower(), None)] = ''
        if entry.secret:
            written[(entry.key.lower(), entry.name.lower())] = after.get((entry.key.lower(), entry.name.lower()))
            matches = secret_matches(hive, entry.key, pd.win7.machine_password)
            assert matches, 'hivexregedit shows CurrentValue = the package password (value not shown)'
        elif entry.name is not None:
            written[(entry.key.lower(), entry.name.lower())] = regedit_text(entry.vtype, entry.value)
    # hivexregedit shows every planned value with the package's value
    mismatched = [k for k, text in written.items() if after.get(k) != text]
    assert mismatched == []
    # the keys the join state owns hold exactly the table
    owned = tuple(k.lower() for k in owned_keys(control_set))
    extra = [k for k in after if k[0].startswith(owned) and k not in written]
    assert extra == []
    # parent keys created on the way (e.g. Setup, OfflineProvisioning's parents) are new keys, not values
    created_parents = set()
    for key, _name in written:
        parts = key.split('\\')
        for n in range(1, len(parts)):
            created_parents.add(('\\'.join(parts[:n]), None))
    # nothing else changed
    rest_before = dict((k, v) for k, v in before.items() if k not in written)
    rest_after = dict((k, v) for k, v in after.items() if k not in written and not (k in created_parents and k not in before))
    assert rest_after == rest_before


@pytest.mark.parametrize('package', PACKAGES)
def test_install_into_windows7_system_hive(shared_dir, tmp_path, package):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    raw, pd = load(package_bytes(shared_dir, package))
    before = export(hive)
    result = install(folder, raw, pd)
    assert result['changed'] and result['control_set'] == 'ControlSet001' and not result['dirty']
    after = export(hive)
    check_exact_table(before, after, hive, pd, 'ControlSet001')
    header = read_header(hive)
    assert not header['dirty']
    # diff and entries never carry the password (a defpwd package's password is the machine name itself)
    leaked = pd.win7.machine_password != pd.win7.machine_name and pd.win7.machine_password in repr(result)
    assert not leaked, 'the result must not hold the machine password'
    # idempotent
    digest = sha(hive)
    again = install(folder, raw, pd)
    assert again['changed'] is False and sha(hive) == digest
    info = image_info(folder)
    pending = info['registry']['pending']
    assert pending['machine_name'] == pd.win7.machine_name and info['clear_text_secret_present'] is True
    assert pending['location'] == 'HKLM\\SYSTEM\\ControlSet001\\Control\\Lsa\\OfflineJoin'
    leaked = pd.win7.machine_password != pd.win7.machine_name and pd.win7.machine_password in repr(info)
    assert not leaked, 'image_info must not hold the machine password'


def test_check_mode_changes_nothing_and_reports_diff(shared_dir, tmp_path):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    raw, pd = load(package_bytes(shared_dir))
    digest = sha(hive)
    result = install(folder, raw, pd, check_mode=True)
    assert result['changed'] and sha(hive) == digest
    assert 'OfflineJoin\\MachineName = \'KIOSK-07\'' in result['diff']['after']
    assert 'OfflineJoin\\CurrentValue = \'********\'' in result['diff']['after']
    assert 'Tcpip\\Parameters\\Domain = \'shieldbase.local\'' in result['diff']['before']
    assert os.listdir(os.path.dirname(hive)) == ['SYSTEM']


def test_other_machine_needs_force_and_backup_keeps_the_original(shared_dir, tmp_path):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    raw1, pd1 = load(package_bytes(shared_dir, 'samba-ou-kiosk07.djoin'))
    raw2, pd2 = load(package_bytes(shared_dir, 'samba-reuse-ws0001.djoin'))
    install(folder, raw1, pd1)
    digest = sha(hive)
    before = export(hive)
    with pytest.raises(InstallError, match='pending offline join for machine KIOSK-07.*force'):
        install(folder, raw2, pd2)
    assert sha(hive) == digest
    result = install(folder, raw2, pd2, force=True, backup=True)
    assert result['changed'] and sha(result['backup_file']) == digest
    after = export(hive)
    # the new state replaced the old one completely (no KIOSK-07 leftovers in the owned keys)
    entries = plan_entries(pd2, 'ControlSet001')
    assert compare(entries, RegipyReader(hive)) == []
    owned = tuple(k.lower() for k in owned_keys('ControlSet001'))
    planned = set((e.key.lower(), e.name.lower() if e.name else None) for e in entries)
    planned |= set((e.key.lower(), None) for e in entries)
    assert [k for k in after if k[0].startswith(owned) and k not in planned] == []
    assert before != after


def test_dirty_windows10_hive_refused_unless_allowed(shared_dir, tmp_path):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM_WIN_10_1709', tmp_path / 'img')
    raw, pd = load(package_bytes(shared_dir))
    digest = sha(hive)
    with pytest.raises(InstallError) as err:
        install(folder, raw, pd)
    assert 'dirty' in str(err.value) and 'allow_dirty' in str(err.value) and 'LOG1' in str(err.value)
    assert sha(hive) == digest
    before = export(hive)
    result = install(folder, raw, pd, allow_dirty=True)
    assert result['changed'] and result['dirty'] and any('allow_dirty' in w for w in result['warnings'])
    assert not read_header(hive)['dirty']
    with hx.Hive(hive) as opened:
        from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import HivexReader, control_set_name
        cs = control_set_name(HivexReader(opened))
    check_exact_table(before, export(hive), hive, pd, cs)


def test_dirty_system_hive_with_log_is_replayed_then_installed(shared_dir, tmp_path):
    """A dirty SYSTEM hive whose LOG1 holds a change: the change survives, the join is added, the log is set aside."""
    summary = sample_images(tmp_path / 'gen')
    v1 = summary['images'][0]['system_hive']
    v2 = str(tmp_path / 'v2')
    with hx.Hive(v1, write=True) as hive:
        node = hive.navigate('ControlSet001\\Services\\FromTheLog', create=True)
        hive.set_value(node, 'Start', hx.REG_DWORD, hx.encode_dword(4))
        hive.set_value(hive.navigate('ControlSet001\\Control\\Lsa'), 'NoLmHash', hx.REG_DWORD, hx.encode_dword(0))
        hive.commit(v2)
    folder = str(tmp_path / 'img')
    config = os.path.join(folder, 'Windows', 'System32', 'config')
    os.makedirs(config)
    system = os.path.join(config, 'SYSTEM')
    pages = make_dirty_with_log(v1, v2, system, os.path.join(config, 'SYSTEM.LOG1'))
    assert pages > 0 and read_header(system)['dirty']
    raw, pd = load(package_bytes(shared_dir))
    result = install(folder, raw, pd)
    assert result['changed'] and result['dirty'] and result['replayed_logs'] == ['SYSTEM.LOG1']
    assert sorted(os.listdir(config)) == ['SYSTEM', 'SYSTEM.LOG1.replayed']
    assert not read_header(system)['dirty']
    reader = RegipyReader(system)
    assert reader.values('ControlSet001\\Services\\FromTheLog')['start'][2] == 4
    assert reader.values('ControlSet001\\Control\\Lsa')['nolmhash'][2] == 0
    assert compare(plan_entries(pd, 'ControlSet001'), reader) == []
    # the rest equals the replayed v2
    check_exact_table(export(v2), export(system), system, pd, 'ControlSet001')


def test_live_dc_package(samba_dc, net_offlinejoin, tmp_path):
    """A package made just now by `net offlinejoin provision` against the throwaway DC."""
    summary = sample_images(tmp_path / 'gen')
    folder = summary['images'][0]['path']
    hive = summary['images'][0]['system_hive']
    raw, pd = load(net_offlinejoin(samba_dc, 'LIVE-ODJ01'))
    before = export(hive)
    result = install(folder, raw, pd)
    assert result['changed'] and result['machine_name'] == 'LIVE-ODJ01'
    check_exact_table(before, export(hive), hive, pd, 'ControlSet001')


def test_read_only_image_is_refused(shared_dir, tmp_path):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    raw, pd = load(package_bytes(shared_dir))
    digest = sha(hive)
    config = os.path.dirname(hive)
    os.chmod(hive, 0o444)
    os.chmod(config, 0o555)
    try:
        with pytest.raises(InstallError, match='read-only'):
            install(folder, raw, pd)
    finally:
        os.chmod(config, 0o755)
        os.chmod(hive, 0o644)
    assert sha(hive) == digest and os.listdir(config) == ['SYSTEM']
    assert stat.S_IMODE(os.stat(hive).st_mode) == 0o644
