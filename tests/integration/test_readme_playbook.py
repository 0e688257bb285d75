# -*- coding: utf-8 -*-
"""The README's first playbooks, as a user copies them, against the throwaway DC and a sample image.

The YAML blocks of the README section "A first playbook" are run with only the site-specific values replaced
(domain, DC, account, paths, machine name): the roles playbook, then the modules runbook. Each provisions a
machine and installs its package into an image; a second run of the roles playbook changes nothing.
"""

import json
import os
import re
import subprocess
import sys

import yaml

from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import image_info

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
VAULT_PASSWORD = 'readme-vault-3Fq'


def _first_playbooks():
    with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as handle:
        text = handle.read()
    section = text.split('## A first playbook', 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'```yaml\n(.*?)```', section, re.S)
    assert len(blocks) == 2, 'README: expected the roles playbook and the modules runbook'
    return blocks


def _site(text, samba_dc, work, name):
    """The user's own values in place of the README's examples."""
    account = '%s@%s' % (samba_dc.admin_user, samba_dc.realm)
    for old, new in (('dc1.corp.example.com', samba_dc.ip), ('odj-admin@corp.example.com', account),
                     ('corp.example.com', samba_dc.dns_domain), ('/srv/odj/packages', str(work / 'store')),
                     ('/srv/images/kiosk01', str(work / 'images' / 'sample-01')), ('KIOSK01', name)):
        text = text.replace(old, new)
    return text


def _play(work, collections_root, book, extra):
    (work / 'extra.json').write_text(json.dumps(extra))
    os.chmod(str(work / 'extra.json'), 0o600)
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '-e', '@%s' % (work / 'extra.json'),
            str(book)]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=False, timeout=600)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace')


def _images(work):
    subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', str(work / 'images'),
                    '--count', '1'], check=True, stdout=subprocess.DEVNULL)


def test_readme_roles_playbook(samba_dc, tmp_path, collections_root):
    roles_book, _modules = _first_playbooks()
    _images(tmp_path)
    book = tmp_path / 'first.yml'
    play = yaml.safe_load(_site(roles_book, samba_dc, tmp_path, 'README01'))
    # a post task for the test: the facts the README says tell what happened
    play[0]['post_tasks'] = [{'name': 'facts for the test', 'ansible.builtin.copy': {
        'content': "{{ {'p': provisioner_results, 'r': requester_results, 'v': requester_preflight_results} | to_json }}",
        'dest': str(tmp_path / 'facts.json'), 'mode': '0600'}, 'changed_when': False}]
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    # the secrets as a user keeps them (a vault file, or AWX's environment); a throwaway DC's self-signed certificate
    extra = {'odj_domain_password': samba_dc.admin_password, 'odj_vault_password': VAULT_PASSWORD,
             'odj_validate_certs': False}
    rc, out = _play(tmp_path, collections_root, book, extra)
    assert rc == 0, out[-4000:]
    facts = json.loads((tmp_path / 'facts.json').read_text())
    assert [(f['name'], f['status']) for f in facts['p']] == [('README01', 'created')]
    assert [(f['name'], f['status']) for f in facts['r']] == [('README01', 'installed')]
    assert [(f['name'], f['status']) for f in facts['v']] == [('README01', 'ok')]
    assert image_info(str(tmp_path / 'images' / 'sample-01'))['registry']['pending']['machine_name'] == 'README01'
    assert 'README01.djoin.vault' in os.listdir(str(tmp_path / 'store'))
    assert samba_dc.admin_password not in out and VAULT_PASSWORD not in out
    rc, out = _play(tmp_path, collections_root, book, extra)
    assert rc == 0, out[-4000:]
    recap = out.rsplit('PLAY RECAP', 1)[1]
    assert re.search(r'changed=0\b', recap) and not re.search(r'changed=[1-9]', recap), recap


def test_readme_modules_runbook(samba_dc, tmp_path, collections_root):
    _roles, modules_book = _first_playbooks()
    _images(tmp_path)
    tasks = yaml.safe_load(_site(modules_book, samba_dc, tmp_path, 'README02'))
    assert [next(k for k in t if k.startswith('winimage.')) for t in tasks] == [
        'winimage.provisioning.odj_provision', 'winimage.provisioning.odj_install']
    tasks[0]['winimage.provisioning.odj_provision']['validate_certs'] = False  # the throwaway DC's certificate
    (tmp_path / 'store').mkdir(mode=0o700)
    book = tmp_path / 'runbook.yml'
    book.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}], sort_keys=False))
    rc, out = _play(tmp_path, collections_root, book, {'odj_domain_password': samba_dc.admin_password,
                                                       'odj_vault_password': VAULT_PASSWORD})
    assert rc == 0, out[-4000:]
    assert image_info(str(tmp_path / 'images' / 'sample-01'))['registry']['pending']['machine_name'] == 'README02'
    assert samba_dc.admin_password not in out and VAULT_PASSWORD not in out
