# -*- coding: utf-8 -*-
"""The requester role on its own, with packages from a vault-encrypted store (not from the provisioner in memory).

Against the throwaway DC: odj_provision writes three vault-encrypted packages into a store; the requester role
(requester_use_provisioner_result: false) installs them into sample images:

* a machine whose store is on another inventory host: the role slurps the ciphertext there and decrypts it on the
  controller;
* a machine whose store is on the requester host itself: the role hands odj_install the file and the vault
  password, nothing is read or moved (no slurp for it);
* a machine whose package file is missing: reported failed, naming the file, the others go through.

Then a second run changes nothing, and no secret is in the -vvvv output.

A dirty SYSTEM hive (no transaction logs) is refused unless requester_allow_dirty, and requester_netsetup_log
reaches the modules.
"""

import json
import os
import subprocess
import sys

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import image_info
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import Provisioner
from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
VAULT_PASSWORD = 'requester-role-vault-5Tk'

PLAYBOOK = r'''
- hosts: requesters
  gather_facts: false
  roles:
    - role: winimage.provisioning.requester
      vars:
        requester_use_provisioner_result: false
        requester_vault_password: "{{ vault_password }}"
        requester_machines: "{{ machines }}"
        requester_validate_certs: false
  post_tasks:
    - name: results for the test
      ansible.builtin.copy:
        content: "{{ requester_results | to_json }}"
        dest: "{{ work }}/results-{{ run }}.json"
        mode: "0600"
    - name: pre-flight results for the test
      ansible.builtin.copy:
        content: "{{ requester_preflight_results | to_json }}"
        dest: "{{ work }}/preflight-{{ run }}.json"
        mode: "0600"
'''


def _private(path, data):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(data)


def _play(work, collections_root, run):
    argv = [os.path.join(BIN, 'ansible-playbook'), '-vvvv', '-i', str(work / 'inventory.json'),
            '-e', '@%s' % (work / 'vars.json'), '-e', 'run=%s' % run, str(work / 'site.yml')]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR='1',
               ANSIBLE_ROLES_PATH='', PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=False, timeout=600)
    output = proc.stdout.decode('utf-8', 'replace')
    path = work / ('results-%s.json' % run)
    results = json.loads(path.read_text()) if path.exists() else None
    return proc.returncode, output, results


def test_requester_role_from_stores(samba_dc, tmp_path, collections_root):
    work = tmp_path
    subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', str(work / 'images'),
                    '--count', '3'], check=True, stdout=subprocess.DEVNULL)
    remote_store, local_store = work / 'remote-store', work / 'local-store'
    remote_store.mkdir()
    local_store.mkdir()
    client = ADClient(samba_dc.ip, username='%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                      password=samba_dc.admin_password, validate_certs=False).connect()
    try:
        for store, name in ((remote_store, 'RQROLE01'), (local_store, 'RQROLE02')):
            made = Provisioner(client, samba_dc.dns_domain, dest=str(store), vault_password=VAULT_PASSWORD).run([name])
            assert [m.status for m in made] == ['created']
    finally:
        client.close()
    images = work / 'images'
    machines = [
        {'name': 'RQROLE01', 'image': str(images / 'sample-01'), 'source_host': 'store',
         'source_dir': str(remote_store)},
        {'name': 'RQROLE02', 'image': str(images / 'sample-02'), 'source_dir': str(local_store)},
        {'name': 'RQROLE03', 'image': str(images / 'sample-03'), 'source_dir': str(local_store)},
    ]
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
    _private(work / 'inventory.json', json.dumps({'all': {'vars': local, 'children': {
        'requesters': {'hosts': {'req': {}}}, 'stores': {'hosts': {'store': {}}}}}}))
    _private(work / 'vars.json', json.dumps({'vault_password': VAULT_PASSWORD, 'machines': machines,
                                             'work': str(work)}))
    (work / 'site.yml').write_text(PLAYBOOK)

    rc, out, results = _play(work, collections_root, 'first')
    assert results is not None, out[-3000:]
    rows = {r['name']: r for r in results}
    assert rows['RQROLE01']['status'] == 'installed', rows
    assert rows['RQROLE02']['status'] == 'installed', rows
    assert rows['RQROLE03']['status'] == 'failed'
    assert str(local_store / 'RQROLE03.djoin.vault') in rows['RQROLE03']['msg']
    for name, image in (('RQROLE01', 'sample-01'), ('RQROLE02', 'sample-02')):
        pending = image_info(str(images / image))['registry']['pending']
        assert pending['machine_name'] == name
    assert image_info(str(images / 'sample-03'))['registry']['pending'] is None
    # only the machine whose store is on another host was slurped
    slurp = out.split('TASK [winimage.provisioning.requester : Read the encrypted package files', 1)[1]
    slurp = slurp.split('TASK [', 1)[0]
    assert slurp.count('(item=') == 1 and '[req -> store]' in slurp, slurp  # one item, read on the store host
    assert rc == 0  # requester_fail_fast is off: failures are reported per machine
    # the role pre-flights what it installed: the secret now in each image authenticates as NAME$ against the DC
    preflight = {r['name']: r for r in json.loads((work / 'preflight-first.json').read_text())}
    assert {n: r['status'] for n, r in preflight.items()} == {'RQROLE01': 'ok', 'RQROLE02': 'ok', 'RQROLE03': 'skipped'}, preflight
    assert preflight['RQROLE01']['account'].split('@')[0].upper().endswith('RQROLE01$'), preflight  # NAME$ or its principal NAME$@REALM

    rc, out2, again = _play(work, collections_root, 'second')
    assert {r['name']: r['status'] for r in again} == {'RQROLE01': 'unchanged', 'RQROLE02': 'unchanged',
                                                       'RQROLE03': 'failed'}

    secrets = [VAULT_PASSWORD, samba_dc.admin_password]
    for path in (remote_store / 'RQROLE01.djoin.vault', local_store / 'RQROLE02.djoin.vault'):
        from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
        secrets.append(decode(_vault.decrypt(path.read_bytes(), VAULT_PASSWORD)).win7.machine_password)
    leaked = [i for i, secret in enumerate(secrets) if secret in out or secret in out2]
    assert leaked == [], 'secrets #%s appear in the -vvvv output' % leaked


# the same play, passing two more role options through
DIRTY_PLAYBOOK = PLAYBOOK.replace('        requester_validate_certs: false\n', '''        requester_validate_certs: false
        requester_allow_dirty: "{{ allow_dirty }}"
        requester_netsetup_log: "{{ netsetup_log }}"
''')
assert DIRTY_PLAYBOOK != PLAYBOOK


def test_requester_role_dirty_system_hive_needs_allow_dirty(samba_dc, shared_dir, tmp_path, collections_root):
    """A SYSTEM hive whose last writer did not close it (real Windows 10 1709 hive, no transaction logs beside it).

    Without requester_allow_dirty the machine fails naming the hive and the image is byte-identical; with it the
    join is installed (the hive is written back clean) and pre-flighted. requester_netsetup_log reaches both
    modules: the log is at that path (0600), nothing at the default beside the image, and no secret is in it.
    """
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import read_lines
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.hive_log import read_header
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
    from odj_install_support import image_with_hive, tree_hashes

    work = tmp_path
    store = work / 'store'
    store.mkdir()
    client = ADClient(samba_dc.ip, username='%s@%s' % (samba_dc.admin_user, samba_dc.realm),
                      password=samba_dc.admin_password, validate_certs=False).connect()
    try:
        made = Provisioner(client, samba_dc.dns_domain, dest=str(store), vault_password=VAULT_PASSWORD).run(['RQDIRTY01'])
        assert [m.status for m in made] == ['created']
    finally:
        client.close()
    machine_password = decode(_vault.decrypt((store / 'RQDIRTY01.djoin.vault').read_bytes(),
                                             VAULT_PASSWORD)).win7.machine_password
    images = work / 'images'
    image, hive = image_with_hive(shared_dir, 'SYSTEM_WIN_10_1709', images / 'dirty-01')
    header = read_header(hive)
    assert header['dirty'] and header['primary_sequence'] != header['secondary_sequence']
    assert not [name for name in os.listdir(os.path.dirname(hive)) if name.upper().startswith('SYSTEM.LOG')]
    log = work / 'logs' / 'requester-netsetup.log'
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
    _private(work / 'inventory.json', json.dumps({'all': {'vars': local, 'children': {
        'requesters': {'hosts': {'req': {}}}}}}))
    (work / 'site.yml').write_text(DIRTY_PLAYBOOK)

    def run(name, allow_dirty):
        _private(work / 'vars.json', json.dumps({
            'vault_password': VAULT_PASSWORD, 'work': str(work), 'allow_dirty': allow_dirty, 'netsetup_log': str(log),
            'machines': [{'name': 'RQDIRTY01', 'image': image, 'source_dir': str(store)}]}))
        rc, out, results = _play(work, collections_root, name)
        assert rc == 0 and results is not None, out[-3000:]
        preflight = json.loads((work / ('preflight-%s.json' % name)).read_text())
        return out, results[0], preflight[0]

    # refused: named, and not a byte of the image changed
    before = tree_hashes(image)
    out1, refused, preflight = run('refused', False)
    assert refused['status'] == 'failed', refused
    assert hive in refused['msg'] and 'is dirty' in refused['msg'] and 'allow_dirty' in refused['msg'], refused
    assert preflight['status'] == 'skipped', preflight
    assert tree_hashes(image) == before
    assert read_header(hive)['dirty']
    assert image_info(image)['registry']['pending'] is None

    # allowed: installed, written back clean, and the secret in the image authenticates as RQDIRTY01$
    out2, installed, preflight = run('allowed', True)
    assert installed['status'] == 'installed', installed
    assert not read_header(hive)['dirty']
    pending = image_info(image)['registry']['pending']
    assert pending['machine_name'] == 'RQDIRTY01'
    assert preflight['status'] == 'ok', preflight

    # the log is where requester_netsetup_log says, not at the module's default beside the image
    assert not (images / 'netsetup.log').exists()
    assert oct(os.stat(str(log)).st_mode & 0o777) == '0o600'
    lines = read_lines(str(log))
    mine = [line for line in lines if 'machine=RQDIRTY01' in line]
    install_lines = [line for line in mine if ' install ' in line]
    assert len(install_lines) == 2, lines
    assert 'NERR_CantCreateJoinInfo' in install_lines[0] and 'NERR_Success' in install_lines[1], install_lines
    assert any(' preflight ' in line and 'NERR_Success' in line for line in mine), lines  # odj_verify_secret too
    text = log.read_text()
    for secret in (machine_password, VAULT_PASSWORD, samba_dc.admin_password):
        assert secret not in text
        assert secret not in out1 and secret not in out2
