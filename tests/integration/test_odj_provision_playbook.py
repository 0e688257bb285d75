# -*- coding: utf-8 -*-
"""winimage.provisioning.odj_provision through ansible-playbook -vvvv against the real Samba DC.

One playbook run covers: a batch with a bad name (task fails listing it, the
others are made), the idempotent second run, return_package, check mode with
diff, DNS SRV discovery, wrong credentials, an unreachable DC, and vault files
labelled with a vault id given to ansible-playbook, read back with copy and the
unvault lookup. Then the whole -vvvv output is searched for every secret.
"""

import base64
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils import _vault
from ansible_collections.winimage.provisioning.plugins.module_utils._odj_package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils._odj_text import to_base64, to_djoin_file

PLAYBOOK = r'''
- hosts: localhost
  gather_facts: false
  vars:
    common: &common
      domain: "{{ dc.dns_domain }}"
      domain_controller: "{{ dc.dc_hostname }}"
      validate_certs: false
      domain_username: "{{ dc.admin_user }}@{{ dc.realm }}"
      domain_password: "{{ dc.admin_password }}"
      netsetup_log: "{{ work }}/netsetup.log"
  tasks:
    - name: batch with a bad name
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: [PLAY01, bad_name, PLAY02]
        dest: "{{ work }}/pkgs"
      register: batch
      ignore_errors: true

    - name: second run
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: [PLAY01, PLAY02]
        dest: "{{ work }}/pkgs"
      register: again

    - name: check mode with diff
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: [PLAY01, PLAY03]
        dest: "{{ work }}/pkgs"
      check_mode: true
      diff: true
      register: checked

    - name: return the package instead of writing it
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: PLAY04
        return_package: true
      register: returned

    - name: keep the returned package for the test
      ansible.builtin.copy:
        content: "{{ returned.machines[0].package }}"
        dest: "{{ work }}/returned.b64"
        mode: "0600"
      no_log: true

    - name: find the DC from DNS SRV records
      winimage.provisioning.odj_provision:
        domain: "{{ dc.dns_domain }}"
        dns_servers: ["{{ dc.ip }}"]
        validate_certs: false
        domain_username: "{{ dc.admin_user }}@{{ dc.realm }}"
        domain_password: "{{ dc.admin_password }}"
        netsetup_log: "{{ work }}/netsetup.log"
        machines: [PLAY05]
        dest: "{{ work }}/pkgs"
      register: discovered

    - name: wrong password
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        domain_password: "{{ dc.admin_password }}-wrong"
        machines: [PLAY06]
        dest: "{{ work }}/pkgs"
      register: wrong
      ignore_errors: true

    - name: unreachable DC
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ unreachable_ip }}"
        timeout: 3
        machines: [PLAY07]
        dest: "{{ work }}/pkgs"
      register: unreachable
      ignore_errors: true

    - name: vault-encrypted files with the vault id odj from the command line
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: [PLAY08]
        dest: "{{ work }}/vaulted"
        package_format: base64
        vault_id: odj
      register: vaulted

    - name: the requester reads it back with copy (decrypts)
      ansible.builtin.copy:
        src: "{{ work }}/vaulted/PLAY08.b64.vault"
        dest: "{{ work }}/PLAY08.copied.b64"
        mode: "0600"

    - name: and with the unvault lookup
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.unvault', work ~ '/vaulted/PLAY08.b64.vault') | trim }}"
        dest: "{{ work }}/PLAY08.unvaulted.b64"
        mode: "0600"
      no_log: true

    - name: second vault run
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: [PLAY08]
        dest: "{{ work }}/vaulted"
        package_format: base64
        vault_id: odj
      register: vaulted_again

    - name: results for the test
      ansible.builtin.copy:
        content: "{{ {'batch': batch, 'again': again, 'checked': checked, 'discovered': discovered,
                      'wrong': wrong, 'unreachable': unreachable, 'vaulted': vaulted,
                      'vaulted_again': vaulted_again,
                      'returned_status': returned.machines[0].status} | to_json }}"
        dest: "{{ work }}/results.json"
        mode: "0600"
'''


@pytest.fixture(scope='module')
def play(samba_dc, tmp_path_factory, collections_root):
    work = tmp_path_factory.mktemp('odj-play')
    for sub in ('pkgs', 'vaulted'):
        (work / sub).mkdir()
    (work / 'site.yml').write_text(PLAYBOOK)
    vault_secret = 'vault-pass-%s' % os.urandom(8).hex()
    (work / 'vault-pass').write_text(vault_secret + '\n')
    extra = {'dc': samba_dc.info(), 'work': str(work),
             'unreachable_ip': '127.0.0.254' if samba_dc.ip != '127.0.0.254' else '127.0.0.253'}
    (work / 'vars.json').write_text(json.dumps(extra))
    os.chmod(str(work / 'vars.json'), 0o600)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-vvvv', '-i', 'localhost,',
               '-c', 'local', '--vault-id', 'odj@%s' % (work / 'vault-pass'), '-e', '@%s' % (work / 'vars.json'),
               str(work / 'site.yml')]
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(work),
                          check=False, timeout=600)
    output = proc.stdout.decode('utf-8', 'replace')
    results = None
    if os.path.exists(str(work / 'results.json')):
        with open(str(work / 'results.json')) as handle:
            results = json.load(handle)
    return {'rc': proc.returncode, 'output': output, 'results': results, 'work': work, 'vault': vault_secret,
            'dc': samba_dc}


def _results(play):
    assert play['results'] is not None, 'playbook did not finish (rc %d): %s' % (play['rc'], play['output'][-3000:])
    return play['results']


def test_playbook_ran(play):
    assert play['rc'] == 0, play['output'][-3000:]


def test_batch_with_bad_name_fails_listing_it(play):
    batch = _results(play)['batch']
    assert batch['failed'] is True
    assert batch['failed_machines'] == ['bad_name']
    assert 'bad_name' in batch['msg']
    statuses = {m['name']: m['status'] for m in batch['machines']}
    assert statuses == {'PLAY01': 'created', 'bad_name': 'invalid', 'PLAY02': 'created'}
    assert os.path.isfile(str(play['work'] / 'pkgs' / 'PLAY01.djoin'))


def test_second_run_is_unchanged(play):
    again = _results(play)['again']
    assert again['changed'] is False
    assert [m['status'] for m in again['machines']] == ['unchanged', 'unchanged']
    assert all(m['password_verified'] for m in again['machines'])


def test_check_mode_and_diff(play):
    checked = _results(play)['checked']
    assert {m['name']: m['status'] for m in checked['machines']} == {'PLAY01': 'unchanged', 'PLAY03': 'would_create'}
    assert checked['changed'] is True
    assert checked['diff']['after']['accounts'] == {'PLAY03': 'created'}
    assert not os.path.exists(str(play['work'] / 'pkgs' / 'PLAY03.djoin'))


def test_dns_discovery(play):
    discovered = _results(play)['discovered']
    assert discovered['machines'][0]['status'] == 'created'
    assert discovered['domain']['dc_name'] == play['dc'].dc_hostname


def test_wrong_password_and_unreachable(play):
    results = _results(play)
    assert results['wrong']['failed'] and 'refused the credentials' in results['wrong']['msg']
    assert results['wrong']['error_kind'] == 'bad_credentials'
    assert results['unreachable']['failed'] and 'cannot reach the DC' in results['unreachable']['msg']
    assert results['unreachable']['error_kind'] == 'unreachable'


def test_vault_id_files_read_back(play):
    results = _results(play)
    work = play['work']
    path = str(work / 'vaulted' / 'PLAY08.b64.vault')
    assert results['vaulted']['machines'][0]['path'] == path
    with open(path, 'rb') as handle:
        data = handle.read()
    assert data.startswith(b'$ANSIBLE_VAULT;1.2;AES256;odj\n')
    plain = _vault.decrypt(data, play['vault'])
    with open(str(work / 'PLAY08.copied.b64'), 'rb') as handle:
        assert handle.read() == plain
    with open(str(work / 'PLAY08.unvaulted.b64'), 'rb') as handle:
        assert handle.read().strip() == plain.strip()
    assert decode(plain).win7.machine_name == 'PLAY08'
    assert results['vaulted_again']['changed'] is False
    assert results['vaulted_again']['machines'][0]['status'] == 'unchanged'
    assert results['returned_status'] == 'created'


def test_no_secret_in_verbose_output(play):
    output = play['output']
    work = play['work']
    assert 'PLAY01' in output and 'ESTABLISH LOCAL CONNECTION' in output  # it is the real -vvvv output
    secrets = [play['dc'].admin_password, play['vault']]
    packages = []
    for name in sorted(os.listdir(str(work / 'pkgs'))):
        if name.endswith('.djoin'):
            with open(str(work / 'pkgs' / name), 'rb') as handle:
                packages.append(decode(handle.read()))
    with open(str(work / 'returned.b64')) as handle:
        packages.append(decode(handle.read().strip()))
    packages.append(decode(_vault.decrypt(open(str(work / 'vaulted' / 'PLAY08.b64.vault'), 'rb').read(),
                                          play['vault'])))
    assert len(packages) >= 5
    from ansible_collections.winimage.provisioning.plugins.module_utils._odj_package import encode
    for pd in packages:
        password = pd.win7.machine_password
        assert len(password) >= 14
        raw = encode(pd)
        secrets.extend([password, to_base64(raw)[:60], to_base64(raw)[-60:],
                        base64.b64encode(to_djoin_file(raw)).decode()[:60]])
    leaked = [index for index, secret in enumerate(secrets) if secret in output]
    assert leaked == [], 'secrets #%s appear in the -vvvv output' % leaked
    with open(str(work / 'netsetup.log')) as handle:
        log = handle.read()
    assert 'machine=PLAY01' in log and 'NERR_Success' in log
    assert [index for index, secret in enumerate(secrets) if secret in log] == []
