# -*- coding: utf-8 -*-
"""odj_install and odj_image_info run by real ansible-playbook: results, diff, check mode, no secret in any output."""

import base64
import os
import subprocess
import sys
import uuid

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T

from odj_install_support import sample_images, sha, tree_hashes
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
            'dry is changed', 'badpkg is failed', "'not a valid provisioning package' in badpkg.msg",
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


# ---------------------------------------------------------------- batch (installs / images)

def batch_package(machine, password):
    return P.encode(P.build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test',
        domain_guid=uuid.UUID('f4432a6b-9694-4c94-8c03-b7152aee2ba2'), domain_sid='S-1-5-21-2720103478-3893655958-3880862394',
        machine_name=machine, machine_password=password, dc_name='dc1.corp.example.test', dc_address='127.0.0.1',
        dc_flags=0xe00013fd, dc_site_name='Default-First-Site-Name', client_site_name='Default-First-Site-Name',
        options=0x6, rid=1200))


def no_password_in(output, passwords):
    for password in passwords:
        encoded = [password, password.encode('utf-16-le').hex(), base64.b64encode(password.encode('utf-16-le')).decode()[:20]]
        if any(e in output for e in encoded):
            return False
    return True


def batch_setup(tmp_path):
    """3 image folders, a 2-image .wim, a folder without Windows/; 5 packages with their own passwords."""
    folders = [i['path'] for i in sample_images(tmp_path / 'gen', count=3)['images']]
    wim = sample_images(tmp_path / 'wimgen', count=2, wim=True)['wim']
    nowin = tmp_path / 'not-an-image'
    nowin.mkdir()
    passwords = ['Batch-Secret-%d-%s' % (k, uuid.uuid4().hex) for k in range(5)]
    raws = [batch_package('WS-B%02d' % (k + 1), passwords[k]) for k in range(5)]
    djoin = tmp_path / 'ws-b01.djoin'
    djoin.write_bytes(T.to_djoin_file(raws[0]))
    djoin.chmod(0o600)
    installs = [
        {'package': str(djoin), 'image': folders[0]},
        {'data': T.to_base64(raws[1]), 'image': folders[1], 'method': 'unattend', 'unattend_pass': 'specialize'},
        {'data': T.to_base64(raws[2]), 'image': folders[2]},
        {'data': T.to_base64(raws[3]), 'image': wim, 'image_index': '1'},
        {'data': T.to_base64(raws[4]), 'image': str(nowin)},
    ]
    return folders, wim, str(nowin), installs, passwords


def all_hashes(folders, wim):
    out = dict((f, tree_hashes(f)) for f in folders)
    out[wim] = sha(wim)
    return out


def test_batch_install_results_idempotency_and_no_secret(tmp_path, collections_root):
    folders, wim, nowin, installs, passwords = batch_setup(tmp_path)
    wim_before = sha(wim)
    tasks = [
        {'name': 'batch', 'winimage.provisioning.odj_install': {'installs': installs}, 'register': 'first', 'ignore_errors': True},
        {'name': 'batch again', 'winimage.provisioning.odj_install': {'installs': installs}, 'register': 'second',
         'ignore_errors': True},
        {'name': 'info batch', 'winimage.provisioning.odj_image_info': {'images': [
            {'image': folders[0]}, {'image': wim, 'image_index': '1'}, {'image': wim, 'image_index': '2'},
            {'image': nowin}]}, 'register': 'info'},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'first is failed', 'first is changed', 'first.results | length == 5',
            "first.results[:4] | map(attribute='changed') | list == [true, true, true, true]",
            "first.results[:4] | map(attribute='failed') | list == [false, false, false, false]",
            "first.results | map(attribute='machine') | list == ['WS-B01', 'WS-B02', 'WS-B03', 'WS-B04', 'WS-B05']",
            "first.results[1].method == 'unattend'", "first.results[1].architecture == 'amd64'",
            "first.results[0].control_set == 'ControlSet001'",
            'first.results[4].failed', "'no Windows/ folder' in first.results[4].error",
            "first.failed_images == ['%s']" % nowin, "'1 of 5 images failed' in first.msg", "'%s' in first.msg" % nowin,
            'first.counts == {"total": 5, "changed": 4, "unchanged": 0, "failed": 1}',
            'second is failed', 'second is not changed',
            "second.results[:4] | map(attribute='changed') | list == [false, false, false, false]",
            "second.failed_images == ['%s']" % nowin,
            'info is not failed', 'info.results | length == 4',
            "info.results[0].registry.pending.machine_name == 'WS-B01'", 'info.results[0].clear_text_secret_present',
            "info.results[1].registry.pending.machine_name == 'WS-B04'", 'info.results[2].registry.pending is none',
            'not info.results[2].clear_text_secret_present', 'info.results[3].failed',
            "'no Windows/ folder' in info.results[3].error"]}},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4, diff=True)
    assert rc == 0, out[-3000:]
    assert no_password_in(out, passwords), 'a machine password reached ansible output'
    assert not any(item['data'] in out for item in installs if 'data' in item), 'a package reached ansible output'
    assert 'did not set no_log for unattend_pass' not in out
    assert '********' in out
    assert sha(wim) != wim_before
    with open(os.path.join(folders[1], 'Windows', 'Panther', 'unattend.xml'), encoding='utf-8') as handle:
        assert T.to_base64(batch_package('WS-B02', passwords[1])) in handle.read()
    # the NetSetup log beside each image: one line per image and run, Windows status names, no secret
    logs = sorted(set(os.path.join(os.path.dirname(os.path.abspath(p)), 'netsetup.log') for p in folders + [wim, nowin]))
    lines = []
    for log in logs:
        assert (os.stat(log).st_mode & 0o777) == 0o600, log
        with open(log, encoding='utf-8') as handle:
            text = handle.read()
        assert no_password_in(text, passwords), 'a machine password reached the NetSetup log'
        lines.extend(line for line in text.splitlines() if ' install ' in line)
    assert len(lines) == 10
    for machine in ('WS-B01', 'WS-B02', 'WS-B03', 'WS-B04'):
        mine = [line for line in lines if machine in line]
        assert len(mine) == 2 and all('NERR_Success (0)' in line for line in mine)
        assert 'join state installed' in mine[0] and 'already installed' in mine[1]
    failed = [line for line in lines if 'WS-B05' in line]
    assert len(failed) == 2 and all('NERR_CantCreateJoinInfo' in line and 'no Windows/ folder' in line for line in failed)


def test_batch_check_mode_changes_nothing(tmp_path, collections_root):
    folders, wim, nowin, installs, passwords = batch_setup(tmp_path)
    before = all_hashes(folders, wim)
    tasks = [
        {'name': 'batch dry', 'winimage.provisioning.odj_install': {'installs': installs}, 'register': 'dry',
         'ignore_errors': True, 'check_mode': True},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'dry is failed', 'dry is changed',
            "dry.results[:4] | map(attribute='changed') | list == [true, true, true, true]",
            "dry.failed_images == ['%s']" % nowin]}},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4, diff=True)
    assert rc == 0, out[-3000:]
    assert no_password_in(out, passwords)
    assert all_hashes(folders, wim) == before, 'check mode changed an image'
    assert not os.listdir(nowin)
    assert not os.path.exists(os.path.join(os.path.dirname(os.path.abspath(folders[0])), 'netsetup.log'))


def test_batch_bad_options(tmp_path, collections_root):
    folders, _wim, _nowin, installs, passwords = batch_setup(tmp_path)
    before = dict((f, tree_hashes(f)) for f in folders)
    tasks = [
        {'name': 'mixed', 'winimage.provisioning.odj_install': {'installs': installs[:1], 'image': folders[0]},
         'register': 'mixed', 'ignore_errors': True},
        {'name': 'both sources', 'winimage.provisioning.odj_install': {'installs': [
            dict(installs[1], package='/nonexistent')]}, 'register': 'both', 'ignore_errors': True},
        {'name': 'bad method', 'winimage.provisioning.odj_install': {'installs': [dict(installs[2], method='magic')]},
         'register': 'badmethod', 'ignore_errors': True},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'mixed is failed', "'mutually exclusive' in mixed.msg",
            'both is failed', "'mutually exclusive' in both.msg",
            'badmethod is failed', "'method' in badmethod.msg"]}},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4)
    assert rc == 0, out[-3000:]
    assert no_password_in(out, passwords)
    assert dict((f, tree_hashes(f)) for f in folders) == before


# ---------------------------------------------------------------- vault-encrypted packages

def test_vault_encrypted_package_files(tmp_path, collections_root):
    """Files encrypted by ansible-vault itself install with vault_password; wrong or no password fails clearly."""
    import subprocess
    import sys
    vault_pass = 'vault-' + uuid.uuid4().hex
    pass_file = tmp_path / 'vault-pass'
    pass_file.write_text(vault_pass)
    passwords = ['Vault-Secret-%d-%s' % (k, uuid.uuid4().hex) for k in range(2)]
    files = []
    for k, form in enumerate(('djoin', 'base64')):
        raw = batch_package('WS-V%02d' % (k + 1), passwords[k])
        path = tmp_path / ('ws-v%d.%s.vault' % (k + 1, form))
        path.write_bytes(T.to_djoin_file(raw) if form == 'djoin' else T.to_base64(raw).encode())
        path.chmod(0o600)
        subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-vault'), 'encrypt', '--vault-password-file',
                        str(pass_file), str(path)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert path.read_bytes().startswith(b'$ANSIBLE_VAULT;1.1;AES256')
        files.append(str(path))
    folders = [i['path'] for i in sample_images(tmp_path / 'gen', count=3)['images']]
    untouched = tree_hashes(folders[2])
    tasks = [
        {'name': 'single', 'winimage.provisioning.odj_install': {'package': files[0], 'image': folders[0],
                                                                 'vault_password': '{{ odj_vault_password }}'},
         'register': 'single'},
        {'name': 'batch', 'winimage.provisioning.odj_install': {'installs': [
            {'package': files[1], 'image': folders[1], 'vault_password': '{{ odj_vault_password }}'},
            {'package': files[1], 'image': folders[2], 'vault_password': '{{ odj_wrong_password }}'},
            {'package': files[0], 'image': folders[2]}]}, 'register': 'batch', 'ignore_errors': True},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'single is changed', "single.machine_name == 'WS-V01'",
            "batch.results | map(attribute='changed') | list == [true, false, false]",
            "batch.results[1].failed and 'does not decrypt' in batch.results[1].error",
            "batch.results[2].failed and 'set vault_password' in batch.results[2].error"]}},
    ]
    # as in real use, the vault password comes from a variable (Ansible shows task source lines in errors)
    extra = tmp_path / 'secrets.yml'
    extra.write_text('odj_vault_password: %s\nodj_wrong_password: wrong-%s\n' % (vault_pass, vault_pass))
    extra.chmod(0o600)
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4, extra_args=['-e', '@%s' % extra])
    assert no_password_in(out, passwords + [vault_pass]), 'a secret reached ansible output'
    assert rc == 0, 'playbook failed'
    assert tree_hashes(folders[2]) == untouched, 'a failed vault item changed its image'
