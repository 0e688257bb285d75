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
