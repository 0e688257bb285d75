# -*- coding: utf-8 -*-
"""Install into one image of a .wim made in the test (wimlib-imagex capture), without mounting."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import InstallError, image_info, install
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode, encode
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import RegipyReader, compare, plan_entries
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_raw
from ansible_collections.winimage.provisioning.plugins.module_utils.image.unattend import find_account_data

from odj_install_support import export, image_with_hive, package_bytes, sample_images, sha, tree_hashes

pytestmark = pytest.mark.skipif(not shutil.which('wimlib-imagex'), reason='wimlib-imagex (wimtools) not installed')


def wimlib(*args):
    return subprocess.run(['wimlib-imagex'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout


def extract_all(wim, index, dest):
    wimlib('apply', wim, str(index), str(dest), '--no-acls')
    return tree_hashes(dest)


@pytest.fixture
def wim(shared_dir, tmp_path):
    """Image 1 'win7' holds the real Windows 7 SYSTEM hive; image 2 'sample' a generated one with an unattend."""
    folder, _hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'win7')
    gen = sample_images(tmp_path / 'gen', unattend=True)
    path = str(tmp_path / 'images.wim')
    wimlib('capture', folder, path, 'win7', '--no-acls')
    wimlib('append', gen['images'][0]['path'], path, 'sample', '--no-acls')
    return path


@pytest.fixture
def package(shared_dir):
    raw = to_raw(package_bytes(shared_dir))
    return raw, decode(raw)


def test_registry_install_into_one_image(wim, package, tmp_path):
    raw, pd = package
    before_other = extract_all(wim, 2, tmp_path / 'other-before')
    extract_all(wim, 1, tmp_path / 'win7-before')
    hive_before = str(tmp_path / 'win7-before' / 'Windows' / 'System32' / 'config' / 'SYSTEM')
    result = install(wim, raw, pd, image_index='win7')
    assert result['changed'] and result['image'] == {'type': 'wim', 'path': wim, 'image_index': 1, 'image_name': 'win7'}
    # take it out again and check it independently
    after = extract_all(wim, 1, tmp_path / 'win7-after')
    hive_after = str(tmp_path / 'win7-after' / 'Windows' / 'System32' / 'config' / 'SYSTEM')
    assert compare(plan_entries(pd, 'ControlSet001'), RegipyReader(hive_after)) == []
    exported_before = export(hive_before)
    changed = set(k for k, v in export(hive_after).items() if exported_before.get(k) != v)
    assert changed and all('offlinejoin' in k[0] or 'offlineprovisioning' in k[0] or 'netlogon' in k[0] or 'tcpip' in k[0]
                           or 'computername' in k[0] or k[0].startswith('setup') for k in changed)
    before_files = tree_hashes(tmp_path / 'win7-before')
    assert set(after) == set(before_files)
    assert [f for f in after if after[f] != before_files[f]] == [os.path.join('Windows', 'System32', 'config', 'SYSTEM')]
    # the other image is untouched
    assert extract_all(wim, 2, tmp_path / 'other-after') == before_other
    subprocess.run(['wimlib-imagex', 'verify', wim], check=True, stdout=subprocess.DEVNULL)
    # idempotent: no new wim written
    digest = sha(wim)
    again = install(wim, raw, pd, image_index='1')
    assert again['changed'] is False and sha(wim) == digest
    info = image_info(wim, '1')
    assert info['registry']['pending']['machine_name'] == 'KIOSK-07' and info['clear_text_secret_present']
    assert image_info(wim, 'sample')['clear_text_secret_present'] is False
    assert [n for n in os.listdir(os.path.dirname(wim)) if n.startswith('.images.wim')] == []


def test_unattend_install_into_one_image(wim, package, tmp_path):
    raw, pd = package
    before_one = extract_all(wim, 1, tmp_path / 'one-before')
    result = install(wim, raw, pd, image_index='sample', method='unattend', unattend_pass='specialize', backup=True)
    assert result['changed'] and result['architecture'] == 'amd64'
    assert sha(result['backup_file']) != sha(wim)
    extract_all(wim, 2, tmp_path / 'two')
    with open(str(tmp_path / 'two' / 'Windows' / 'Panther' / 'unattend.xml'), encoding='utf-8') as handle:
        text = handle.read()
    found = find_account_data(text)
    same = found == [('specialize', 'amd64', to_base64(raw))]
    assert same, 'AccountData of the specialize pass is the package'
    assert 'Microsoft-Windows-Shell-Setup' in text and 'Microsoft-Windows-International-Core' in text
    assert encode(decode(found[0][2])) == raw
    assert extract_all(wim, 1, tmp_path / 'one-after') == before_one
    assert install(wim, raw, pd, image_index='sample', method='unattend', unattend_pass='specialize')['changed'] is False


def test_index_errors_and_read_only_wim(wim, package):
    raw, pd = package
    digest = sha(wim)
    with pytest.raises(InstallError, match='holds 2 images; set image_index'):
        install(wim, raw, pd)
    with pytest.raises(InstallError, match='no image 7 in it.*1=win7, 2=sample'):
        install(wim, raw, pd, image_index='7')
    os.chmod(wim, 0o444)
    try:
        with pytest.raises(InstallError, match='read-only'):
            install(wim, raw, pd, image_index='1')
    finally:
        os.chmod(wim, 0o644)
    assert sha(wim) == digest


def test_wim_image_without_windows_folder(tmp_path, package):
    raw, pd = package
    (tmp_path / 'data' / 'stuff').mkdir(parents=True)
    (tmp_path / 'data' / 'stuff' / 'file.txt').write_text('x')
    path = str(tmp_path / 'data.wim')
    wimlib('capture', str(tmp_path / 'data'), path, 'data', '--no-acls')
    digest = sha(path)
    with pytest.raises(InstallError, match='no Windows/ folder'):
        install(path, raw, pd)
    assert sha(path) == digest
