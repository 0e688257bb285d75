# -*- coding: utf-8 -*-
"""winimage.provisioning.odj_provision through ansible-playbook -vvvv against the real Samba DC.

One playbook run covers: a batch with a bad name (task fails listing it, the
others are made), the idempotent second run, return_package, check mode with
diff, DNS SRV discovery, wrong credentials, an unreachable DC, and vault files
labelled with a vault id given to ansible-playbook, read back with copy and the
unvault lookup. Then the whole -vvvv output is searched for every secret.

The playbook runs twice: with ``execution: controller`` (the action plugin runs
the task in the worker process) and ``execution: module`` (the module); every
test holds for both, and both return the same result.
"""

import base64
import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_djoin_file

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
      execution: "{{ execution }}"
  tasks:
    - name: batch with a bad name
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: ["{{ p }}01", bad_name, "{{ p }}02"]
        dest: "{{ work }}/pkgs"
      register: batch
      ignore_errors: true

    - name: second run
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: ["{{ p }}01", "{{ p }}02"]
        dest: "{{ work }}/pkgs"
      register: again

    - name: check mode with diff
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: ["{{ p }}01", "{{ p }}03"]
        dest: "{{ work }}/pkgs"
      check_mode: true
      diff: true
      register: checked

    - name: return the package instead of writing it
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: "{{ p }}04"
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
        execution: "{{ execution }}"
        machines: ["{{ p }}05"]
        dest: "{{ work }}/pkgs"
      register: discovered

    - name: wrong password
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        domain_password: "{{ dc.admin_password }}-wrong"
        machines: ["{{ p }}06"]
        dest: "{{ work }}/pkgs"
      register: wrong
      ignore_errors: true

    - name: unreachable DC
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ unreachable_ip }}"
        timeout: 3
        machines: ["{{ p }}07"]
        dest: "{{ work }}/pkgs"
      register: unreachable
      ignore_errors: true

    - name: vault-encrypted files with the vault id odj from the command line
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: ["{{ p }}08"]
        dest: "{{ work }}/vaulted"
        package_format: base64
        vault_id: odj
      register: vaulted

    - name: the requester reads it back with copy (decrypts)
      ansible.builtin.copy:
        src: "{{ work }}/vaulted/{{ p }}08.b64.vault"
        dest: "{{ work }}/{{ p }}08.copied.b64"
        mode: "0600"

    - name: and with the unvault lookup
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.unvault', work ~ '/vaulted/' ~ p ~ '08.b64.vault') | trim }}"
        dest: "{{ work }}/{{ p }}08.unvaulted.b64"
        mode: "0600"
      no_log: true

    - name: second vault run
      winimage.provisioning.odj_provision:
        <<: *common
        domain_controller: "{{ dc.ip }}"
        machines: ["{{ p }}08"]
        dest: "{{ work }}/vaulted"
        package_format: base64
        vault_id: odj
      register: vaulted_again

    - name: conflicting options
      winimage.provisioning.odj_provision:
        <<: *common
        ccache: /nonexistent
        machines: ["{{ p }}09"]
        dest: "{{ work }}/pkgs"
      register: bad_option
      ignore_errors: true

    - name: results for the test
      ansible.builtin.copy:
        content: "{{ {'batch': batch, 'again': again, 'checked': checked, 'discovered': discovered,
                      'wrong': wrong, 'unreachable': unreachable, 'vaulted': vaulted,
                      'vaulted_again': vaulted_again, 'bad_option': bad_option,
                      'returned_status': returned.machines[0].status} | to_json }}"
        dest: "{{ work }}/results.json"
        mode: "0600"
'''


PREFIXES = {'controller': 'PLAYC', 'module': 'PLAYM'}


def _run_play(samba_dc, work, collections_root, execution):
    for sub in ('pkgs', 'vaulted'):
        (work / sub).mkdir()
    (work / 'site.yml').write_text(PLAYBOOK)
    vault_secret = 'vault-pass-%s' % os.urandom(8).hex()
    (work / 'vault-pass').write_text(vault_secret + '\n')
    prefix = PREFIXES[execution]
    extra = {'dc': samba_dc.info(), 'work': str(work), 'p': prefix, 'execution': execution,
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
            'dc': samba_dc, 'p': prefix, 'execution': execution}


@pytest.fixture(scope='module')
def plays(samba_dc, tmp_path_factory, collections_root):
    return {execution: _run_play(samba_dc, tmp_path_factory.mktemp('odj-play-%s' % execution), collections_root,
                                 execution)
            for execution in ('controller', 'module')}


@pytest.fixture(params=['controller', 'module'])
def play(request, plays):
    return plays[request.param]


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
    assert statuses == {play['p'] + '01': 'created', 'bad_name': 'invalid', play['p'] + '02': 'created'}
    assert os.path.isfile(str(play['work'] / 'pkgs' / (play['p'] + '01.djoin')))


def test_second_run_is_unchanged(play):
    again = _results(play)['again']
    assert again['changed'] is False
    assert [m['status'] for m in again['machines']] == ['unchanged', 'unchanged']
    assert all(m['password_verified'] for m in again['machines'])


def test_check_mode_and_diff(play):
    checked = _results(play)['checked']
    statuses = {m['name']: m['status'] for m in checked['machines']}
    assert statuses == {play['p'] + '01': 'unchanged', play['p'] + '03': 'would_create'}
    assert checked['changed'] is True
    assert checked['diff']['after']['accounts'] == {play['p'] + '03': 'created'}
    assert not os.path.exists(str(play['work'] / 'pkgs' / (play['p'] + '03.djoin')))


def test_dns_discovery(play):
    discovered = _results(play)['discovered']
    assert discovered['machines'][0]['status'] == 'created'
    assert discovered['domain']['dc_name'] == play['dc'].dc_hostname


def test_wrong_password_and_unreachable(play):
    results = _results(play)
    assert results['wrong']['failed']
    assert re.search(r'refused the (NTLM|Kerberos) credentials of ', results['wrong']['msg'])
    assert results['wrong']['error_kind'] == 'bad_credentials'
    assert results['unreachable']['failed'] and 'cannot reach the DC' in results['unreachable']['msg']
    assert results['unreachable']['error_kind'] == 'unreachable'


def test_vault_id_files_read_back(play):
    results = _results(play)
    work = play['work']
    path = str(work / 'vaulted' / (play['p'] + '08.b64.vault'))
    assert results['vaulted']['machines'][0]['path'] == path
    with open(path, 'rb') as handle:
        data = handle.read()
    assert data.startswith(b'$ANSIBLE_VAULT;1.2;AES256;odj\n')
    plain = _vault.decrypt(data, play['vault'])
    with open(str(work / (play['p'] + '08.copied.b64')), 'rb') as handle:
        assert handle.read() == plain
    with open(str(work / (play['p'] + '08.unvaulted.b64')), 'rb') as handle:
        assert handle.read().strip() == plain.strip()
    assert decode(plain).win7.machine_name == play['p'] + '08'
    assert results['vaulted_again']['changed'] is False
    assert results['vaulted_again']['machines'][0]['status'] == 'unchanged'
    assert results['returned_status'] == 'created'


def test_no_secret_in_verbose_output(play):
    output = play['output']
    work = play['work']
    assert play['p'] + '01' in output and 'ESTABLISH LOCAL CONNECTION' in output  # it is the real -vvvv output
    secrets = [play['dc'].admin_password, play['vault']]
    packages = []
    for name in sorted(os.listdir(str(work / 'pkgs'))):
        if name.endswith('.djoin'):
            with open(str(work / 'pkgs' / name), 'rb') as handle:
                packages.append(decode(handle.read()))
    with open(str(work / 'returned.b64')) as handle:
        packages.append(decode(handle.read().strip()))
    packages.append(decode(_vault.decrypt(open(str(work / 'vaulted' / (play['p'] + '08.b64.vault')), 'rb').read(),
                                          play['vault'])))
    assert len(packages) >= 5
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import encode
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
    assert 'machine=%s01' % play['p'] in log and 'NERR_Success' in log
    assert [index for index, secret in enumerate(secrets) if secret in log] == []


def test_where_it_ran(play):
    """execution=controller ran in the worker process (no module payload); execution=module ran the module."""
    output = play['output']
    if play['execution'] == 'controller':
        assert 'odj_provision: running in the controller process' in output
        assert 'AnsiballZ_odj_provision.py' not in output
    else:
        assert 'odj_provision: running the module (execution=module)' in output
        assert 'AnsiballZ_odj_provision.py' in output


def _shape(value):
    """The keys and value types of a result, recursively (names and paths differ between the two runs)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in ('invocation',)}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_controller_and_module_return_the_same(plays):
    module = _results(plays['module'])
    controller = json.loads(json.dumps(_results(plays['controller'])).replace('PLAYC', 'PLAYM'))
    for task in ('batch', 'again', 'checked', 'discovered', 'wrong', 'unreachable', 'vaulted', 'vaulted_again'):
        assert _shape(controller[task]) == _shape(module[task]), task
        statuses = [[m['status'] for m in r[task].get('machines', [])] for r in (controller, module)]
        assert statuses[0] == statuses[1], task
        assert controller[task].get('msg') == module[task].get('msg'), task
    # options are checked the same way: the module's own argument checks, as AnsibleModule words them
    for play in plays.values():
        assert play['results']['bad_option']['failed'] is True
        assert play['results']['bad_option']['msg'] == 'parameters are mutually exclusive: domain_password|ccache'
