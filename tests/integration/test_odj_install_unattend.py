# -*- coding: utf-8 -*-
"""Unattend method on an image folder: AccountData merged, other components kept, architecture from the image."""

import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as hx
from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import InstallError, image_info, install
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode, encode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_raw
from ansible_collections.winimage.provisioning.plugins.module_utils.image.unattend import find_account_data

from odj_install_support import image_with_hive, package_bytes, sample_images, sha, tree_hashes

NS = '{urn:schemas-microsoft-com:unattend}'


@pytest.fixture
def package(shared_dir):
    raw = to_raw(package_bytes(shared_dir, 'samba-reuse-ws0001.djoin'))
    return raw, decode(raw)


def components(text):
    root = ET.fromstring(text.encode('utf-8'))
    return sorted((s.get('pass'), c.get('name')) for s in root.findall(NS + 'settings') for c in s.findall(NS + 'component'))


def test_merge_into_existing_unattend(tmp_path, package):
    raw, pd = package
    image = sample_images(tmp_path / 'gen', unattend=True)['images'][0]['path']
    path = os.path.join(image, 'Windows', 'Panther', 'unattend.xml')
    with open(path, encoding='utf-8') as handle:
        before = handle.read()
    hive_digest = sha(os.path.join(image, 'Windows', 'System32', 'config', 'SYSTEM'))
    check = install(image, raw, pd, method='unattend', check_mode=True)
    assert check['changed'] and sha(path) == sha(path) and open(path, encoding='utf-8').read() == before
    result = install(image, raw, pd, method='unattend')
    assert result['changed'] and result['architecture'] == 'amd64'
    with open(path, encoding='utf-8') as handle:
        after = handle.read()
    assert components(after) == sorted(components(before) + [('offlineServicing', 'Microsoft-Windows-UnattendedJoin')])
    found = find_account_data(after)
    same = found == [('offlineServicing', 'amd64', to_base64(raw))] and '\n' not in found[0][2]
    assert same, 'one AccountData, the one-line base64 of the package'
    assert encode(decode(found[0][2])) == raw
    assert oct(os.stat(path).st_mode & 0o777) == '0o600', 'the file now holds a machine secret'
    # the diff never shows the base64 (it carries the password)
    leaked = to_base64(raw) in repr(result)
    assert not leaked, 'AccountData must be masked in the diff'
    assert '********' in result['diff']['after']
    # the SYSTEM hive is not touched by the unattend method
    assert sha(os.path.join(image, 'Windows', 'System32', 'config', 'SYSTEM')) == hive_digest
    assert install(image, raw, pd, method='unattend')['changed'] is False
    info = image_info(image)
    assert info['unattend']['account_data'][0]['machine_name'] == 'WS0001' and info['clear_text_secret_present']
    assert info['registry']['pending'] is None


def test_new_unattend_architecture_from_hive(tmp_path, package):
    raw, pd = package
    image = sample_images(tmp_path / 'gen')['images'][0]
    system = image['system_hive']
    out = system + '.x86'
    with hx.Hive(system, write=True) as hive:
        env = hive.navigate('ControlSet001\\Control\\Session Manager\\Environment')
        hive.set_value(env, 'PROCESSOR_ARCHITECTURE', hx.REG_SZ, hx.encode_sz('x86'))
        hive.commit(out)
    os.replace(out, system)
    result = install(image['path'], raw, pd, method='unattend', unattend_pass='specialize')
    assert result['architecture'] == 'x86'
    with open(os.path.join(image['path'], 'Windows', 'Panther', 'unattend.xml'), encoding='utf-8') as handle:
        assert find_account_data(handle.read())[0][:2] == ('specialize', 'x86')


def test_unknown_architecture_and_bad_unattend(shared_dir, tmp_path, package):
    raw, pd = package
    folder, _hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')  # Windows 7 hive: x86
    assert install(folder, raw, pd, method='unattend', check_mode=True)['architecture'] == 'x86'
    bad = tmp_path / 'img2' / 'Windows' / 'Panther'
    bad.mkdir(parents=True)
    (bad / 'unattend.xml').write_text('<unattend><settings pass="specialize"></unattend>')
    before = tree_hashes(tmp_path / 'img2')
    with pytest.raises(InstallError, match='architecture of the image is unknown'):
        install(str(tmp_path / 'img2'), raw, pd, method='unattend')
    with pytest.raises(InstallError, match='not well-formed'):
        install(str(tmp_path / 'img2'), raw, pd, method='unattend', architecture='amd64')
    assert tree_hashes(tmp_path / 'img2') == before
