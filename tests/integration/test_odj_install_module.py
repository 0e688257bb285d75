# -*- coding: utf-8 -*-
"""odj_install and odj_image_info run by real ansible-playbook: results, diff, check mode, no secret in any output."""

import base64
import os
import subprocess
import sys
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils import _odj_package as P
from ansible_collections.winimage.provisioning.plugins.module_utils import _odj_text as T

from odj_install_support import sample_images, tree_hashes
from playbook import run_playbook

PASSWORD = 'Odj-Install-Secret-' + uuid.uuid4().hex


def make_package(machine='WS-0042'):
    return P.encode(P.build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
        domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'), domain_sid='S-1-5-21-2720103478-3893655958-3880862394',
        machine_name=machine, machine_password=PASSWORD, dc_name='dc1.corp.example.test', dc_address='127.0.0.1',
        dc_flags=0xe00013fd, dc_site_name='Default-First-Site-Name', client_site_name='Default-First-Site-Name',
        options=0x6, rid=1105))


def secret_free(output):
    encoded = [PASSWORD, PASSWORD.encode('utf-16-le').hex(), base64.b64encode(PASSWORD.encode('utf-16-le')).decode()[:20]]
    return not any(e in output for e in encoded)


def test_install_info_idempotency_and_no_secret(tmp_path, collections_root):
    raw = make_package()
    djoin = tmp_path / 'ws.djoin'
    djoin.write_bytes(T.to_djoin_file(raw))
    images = sample_images(tmp_path / 'gen', count=2, unattend=True)['images']
    one, two = images[0]['path'], images[1]['path']
    tasks = [
        {'name': 'install', 'winimage.provisioning.odj_install': {'package': str(djoin), 'image': one}, 'register': 'first'},
        {'name': 'again', 'winimage.provisioning.odj_install': {'package': str(djoin), 'image': one}, 'register': 'second'},
        {'name': 'info', 'winimage.provisioning.odj_image_info': {'image': one}, 'register': 'info'},
        {'name': 'unattend by data', 'winimage.provisioning.odj_install': {
            'data': T.to_base64(raw), 'image': two, 'method': 'unattend'}, 'register': 'third'},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'first is changed', 'second is not changed', "first.machine_name == 'WS-0042'",
            "first.control_set == 'ControlSet001'", "info.registry.pending.machine_name == 'WS-0042'",
            'info.clear_text_secret_present', "info.registry.pending.dc.name == '\\\\\\\\dc1.corp.example.test'",
            'third is changed', "third.architecture == 'amd64'"]}},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4, diff=True)
    assert rc == 0, out[-3000:]
    assert secret_free(out), 'the machine password reached ansible output'
    assert 'OfflineJoin\\\\CurrentValue' in out or 'OfflineJoin\\CurrentValue' in out
    assert '********' in out


def test_check_mode_and_errors(tmp_path, collections_root):
    raw = make_package('WS-0043')
    pkg = tmp_path / 'ws.b64'
    pkg.write_text(T.to_base64(raw))
    bad = tmp_path / 'bad.djoin'
    bad.write_bytes(b'\xff\xfe' + 'not a package'.encode('utf-16-le') + b'\x00\x00')
    vaulted = tmp_path / 'ws.vault'
    vaulted.write_text(T.to_base64(raw))
    secret_file = tmp_path / 'vault-pass'
    secret_file.write_text('vault-test-password\n')
    subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-vault'), 'encrypt', str(vaulted),
                    '--vault-password-file', str(secret_file)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    image = sample_images(tmp_path / 'gen')['images'][0]['path']
    before = tree_hashes(image)
    tasks = [
        {'name': 'check mode', 'winimage.provisioning.odj_install': {'package': str(pkg), 'image': image},
         'check_mode': True, 'register': 'dry'},
        {'name': 'bad package', 'winimage.provisioning.odj_install': {'package': str(bad), 'image': image},
         'ignore_errors': True, 'register': 'badpkg'},
        {'name': 'vault file on target', 'winimage.provisioning.odj_install': {'package': str(vaulted), 'image': image},
         'ignore_errors': True, 'register': 'vaultfile'},
        {'name': 'no windows', 'winimage.provisioning.odj_install': {'package': str(pkg), 'image': str(tmp_path)},
         'ignore_errors': True, 'register': 'nowin'},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'dry is changed', 'badpkg is failed', "'not a valid offline domain join package' in badpkg.msg",
            'vaultfile is failed', "'Vault encrypted' in vaultfile.msg", 'nowin is failed', "'no Windows/ folder' in nowin.msg"]}},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=2, diff=True)
    assert rc == 0, out[-3000:]
    assert secret_free(out)
    assert tree_hashes(image) == before, 'nothing changed in the image'
    # the vault route that works: unvault on the controller, data to the module
    tasks = [{'name': 'vaulted data', 'winimage.provisioning.odj_install': {
        'data': "{{ lookup('ansible.builtin.unvault', '%s') | trim }}" % vaulted, 'image': image}, 'register': 'v'},
        {'name': 'check', 'ansible.builtin.assert': {'that': ['v is changed']}}]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4,
                           extra_args=('--vault-password-file', str(secret_file)))
    assert rc == 0, out[-3000:]
    assert secret_free(out)
