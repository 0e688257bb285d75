# -*- coding: utf-8 -*-
"""playbooks/rollout.yml end to end against the throwaway DC, at -vvvv: every stage, a bad machine reported with its
reason while the others go through, no secret anywhere in the output, and a second run that changes nothing.
"""

import json
import os
import re
import subprocess
import sys

from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_raw

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
VAULT_PASSWORD = 'rollout-test-vault-7Qx'


def _write_private(path, data):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(data, handle)


def _run(tmp_path, collections_root, name):
    argv = [os.path.join(BIN, 'ansible-playbook'), '-vvvv', '-i', str(tmp_path / 'inventory.json'),
            '-e', '@%s' % (tmp_path / 'vars.json'), os.path.join(REPO, 'playbooks', 'rollout.yml')]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=False)
    output = proc.stdout.decode('utf-8', 'replace')
    (tmp_path / ('%s.log' % name)).write_text(output)
    with open(str(tmp_path / 'summary.json')) as handle:
        return proc.returncode, output, json.load(handle)


def test_rollout_end_to_end_no_secret_and_rerun(samba_dc, tmp_path, collections_root):
    subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', str(tmp_path / 'images'),
                    '--count', '2', '--wim', '--unattend'], check=True, stdout=subprocess.DEVNULL)
    store = tmp_path / 'store'
    _write_private(tmp_path / 'inventory.json', {'all': {
        'vars': {'ansible_connection': 'local', 'ansible_pipelining': True, 'ansible_python_interpreter': sys.executable},
        'children': {'provisioners': {'hosts': {'prov': {'odj_store_dir': str(store)}}},
                     'requesters': {'hosts': {'req': {}}}}}})
    images = tmp_path / 'images'
    _write_private(tmp_path / 'vars.json', {
        'odj_domain': samba_dc.dns_domain, 'odj_domain_controller': samba_dc.ip,
        'odj_domain_username': '%s@%s' % (samba_dc.admin_user, samba_dc.dns_domain),
        'odj_domain_password': samba_dc.admin_password, 'odj_vault_password': VAULT_PASSWORD,
        'odj_validate_certs': False, 'odj_summary_file': str(tmp_path / 'summary.json'),
        'odj_machines': [
            {'name': 'ROLL01', 'image': str(images / 'sample-01')},
            {'name': 'ROLL02', 'image': str(images / 'sample-02'), 'method': 'unattend'},
            {'name': 'ROLL03', 'image': str(images / 'sample.wim'), 'image_index': 1},
            {'name': 'BAD_NAME_TOO_LONG_X', 'image': str(images / 'sample.wim'), 'image_index': 2},
        ]})

    rc, out, summary = _run(tmp_path, collections_root, 'first')
    assert rc != 0  # the bad machine fails the run, at the end
    rows = dict((row['name'], row) for row in summary['machines'])
    for name in ('ROLL01', 'ROLL02', 'ROLL03'):
        assert (rows[name]['provisioned'], rows[name]['installed'], rows[name]['preflight']) == ('created', 'installed', 'ok')
    bad = rows['BAD_NAME_TOO_LONG_X']
    assert (bad['provisioned'], bad['installed'], bad['preflight']) == ('failed', 'skipped', 'skipped')
    assert len(summary['failed']) == 1 and summary['failed'][0].startswith('BAD_NAME_TOO_LONG_X: provisioning')
    assert 'no Windows targets' in summary['after_boot_note']

    # Packages: 0600, vault-encrypted, nothing else in the store; their secrets appear nowhere in the output.
    files = sorted(os.listdir(str(store)))
    assert [f for f in files if not f.startswith('.')] == ['ROLL01.djoin.vault', 'ROLL02.djoin.vault', 'ROLL03.djoin.vault']
    vault = VaultLib([('default', VaultSecret(VAULT_PASSWORD.encode()))])
    secrets = [samba_dc.admin_password, VAULT_PASSWORD]
    for name in files:
        path = store / name
        assert (path.stat().st_mode & 0o777) == 0o600
        if name.startswith('.'):
            continue
        envelope = path.read_bytes()
        assert envelope.startswith(b'$ANSIBLE_VAULT;')
        raw = to_raw(vault.decrypt(envelope))
        secrets += [decode(raw).win7.machine_password, to_base64(raw)[:48]]
    assert all(secret not in out for secret in secrets)
    assert not [s for s in secrets if s in json.dumps(summary)]

    # Second run: nothing changes, the bad machine still reported.
    rc, out, summary = _run(tmp_path, collections_root, 'second')
    assert rc != 0
    recap = out.rsplit('PLAY RECAP', 1)[1]
    assert 'changed=0' in recap and not re.search(r'changed=[1-9]', recap)
    rows = dict((row['name'], row) for row in summary['machines'])
    for name in ('ROLL01', 'ROLL02', 'ROLL03'):
        assert (rows[name]['provisioned'], rows[name]['installed'], rows[name]['preflight']) == ('unchanged', 'unchanged', 'ok')
    assert all(secret not in out for secret in secrets)

    # Third run, a relaunch with an empty store and reuse_account: the accounts exist, each is reset and
    # re-provisioned, and the summary counts every one of them as provisioned (statuses such as reused included).
    for name in os.listdir(str(store)):
        os.remove(str(store / name))
    with open(str(tmp_path / 'vars.json')) as handle:
        extra = json.load(handle)
    extra['odj_reuse_account'] = True
    extra['odj_machines'] = extra['odj_machines'][:3]
    _write_private(tmp_path / 'vars.json', extra)
    rc, out, summary = _run(tmp_path, collections_root, 'third')
    assert rc == 0, out[-3000:]
    rows = dict((row['name'], row) for row in summary['machines'])
    assert sorted(rows) == ['ROLL01', 'ROLL02', 'ROLL03']
    for name in rows:
        assert rows[name]['provisioned'] not in ('failed', 'no result', 'unchanged'), rows[name]
        assert (rows[name]['installed'], rows[name]['preflight']) == ('installed', 'ok'), rows[name]
    assert summary['counts'] == {'machines': 3, 'provisioned': 3, 'installed': 3, 'verified': 3, 'failed': 0}
    assert 'machines 3, provisioned 3, installed 3, verified 3, failed 0' in out
