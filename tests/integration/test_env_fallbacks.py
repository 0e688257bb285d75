# -*- coding: utf-8 -*-
"""Environment-variable fallbacks, as an AWX credential type injects them (extensions/awx/credential_types.json).

odj_install decrypts a vault-encrypted package file with WINIMAGE_VAULT_PASSWORD when the task gives no
vault_password, and the password appears nowhere in the -vvvv output; odj_provision's option validation (the
same for the module and its in-process runner) takes the variable and censors it; the provisioner and
requester roles run with nothing but the injected variables.
"""

import os
import subprocess
import sys
import uuid

from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.task import ARGUMENT_SPEC, SPEC_KWARGS

from odj_install_support import sample_images
from playbook import run_playbook

VAULT_PASSWORD = 'env-fallback-vault-' + uuid.uuid4().hex[:12]


def _package(machine, password):
    return P.encode(P.build_package(
        domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test', domain_guid=uuid.UUID(int=7),
        domain_sid='S-1-5-21-1-2-3', machine_name=machine, machine_password=password, dc_name='dc1.corp.example.test',
        dc_address='10.0.0.1', dc_flags=0x1fd, options=0, rid=1301))


def test_odj_install_takes_the_vault_password_from_the_environment(tmp_path, collections_root, monkeypatch):
    machine_password = 'Machine-Secret-' + uuid.uuid4().hex
    vaulted = tmp_path / 'ENV01.djoin.vault'
    vaulted.write_text(T.to_base64(_package('ENV01', machine_password)))
    secret_file = tmp_path / 'vault-pass'
    secret_file.write_text(VAULT_PASSWORD + '\n')
    subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-vault'), 'encrypt', str(vaulted),
                    '--vault-password-file', str(secret_file)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    secret_file.unlink()
    image = sample_images(tmp_path / 'gen')['images'][0]['path']
    tasks = [
        {'name': 'install from the vault file, no vault_password option',
         'winimage.provisioning.odj_install': {'package': str(vaulted), 'image': image}, 'register': 'first'},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            'first is changed', "first.machine_name == 'ENV01'"]}},
    ]
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=4,
                           extra_env={'WINIMAGE_VAULT_PASSWORD': VAULT_PASSWORD})
    assert rc == 0, out[-3000:]
    assert VAULT_PASSWORD not in out and machine_password not in out
    # without the variable (and without the option) the same task fails, saying the file is vault-encrypted
    tasks[0]['ignore_errors'] = True
    tasks[1] = {'name': 'check', 'ansible.builtin.assert': {'that': [
        'first is failed', "'Vault encrypted' in first.msg"]}}
    monkeypatch.delenv('WINIMAGE_VAULT_PASSWORD', raising=False)
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=1)
    assert rc == 0, out[-3000:]


def test_odj_provision_options_take_the_vault_password_from_the_environment(monkeypatch):
    validator = ModuleArgumentSpecValidator(ARGUMENT_SPEC, SPEC_KWARGS['mutually_exclusive'], None,
                                            SPEC_KWARGS['required_one_of'], None, SPEC_KWARGS['required_by'])
    args = {'domain': 'corp.example.test', 'machines': ['WS01'], 'dest': '/srv/odj'}
    monkeypatch.setenv('WINIMAGE_VAULT_PASSWORD', VAULT_PASSWORD)
    result = validator.validate(dict(args))
    assert not result.error_messages
    assert result.validated_parameters['vault_password'] == VAULT_PASSWORD
    assert VAULT_PASSWORD in result._no_log_values  # pylint: disable=protected-access
    # the option wins over the variable
    result = validator.validate(dict(args, vault_password='from-the-task'))
    assert result.validated_parameters['vault_password'] == 'from-the-task'
    monkeypatch.delenv('WINIMAGE_VAULT_PASSWORD')
    assert validator.validate(dict(args)).validated_parameters['vault_password'] is None


def test_roles_take_the_credentials_from_the_environment(samba_dc, tmp_path, collections_root):
    """The provisioner and requester roles with nothing but the variables the AWX credential types inject."""
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'scripts', 'make-sample-image'), '--out', str(tmp_path / 'images'), '--count', '1'],
        check=True, stdout=subprocess.DEVNULL)
    image = str(tmp_path / 'images' / 'sample-01')
    tasks = [
        {'name': 'provisioner', 'ansible.builtin.include_role': {'name': 'winimage.provisioning.provisioner'},
         'vars': {'provisioner_machines': ['ENVROLE1']}},
        {'name': 'requester', 'ansible.builtin.include_role': {'name': 'winimage.provisioning.requester'},
         'vars': {'requester_machines': [{'name': 'ENVROLE1', 'image': image}],
                  'requester_use_provisioner_result': False}},
        {'name': 'check', 'ansible.builtin.assert': {'that': [
            "provisioner_results | map(attribute='status') | list == ['created']",
            "requester_results | map(attribute='status') | list == ['installed']",
            "requester_preflight_results | map(attribute='status') | list == ['ok']"]}},
    ]
    env = {'WINIMAGE_DOMAIN_SERVER': samba_dc.ip,
           'WINIMAGE_DOMAIN_USERNAME': '%s@%s' % (samba_dc.admin_user, samba_dc.realm),
           'WINIMAGE_DOMAIN_PASSWORD': samba_dc.admin_password,
           'WINIMAGE_VAULT_PASSWORD': VAULT_PASSWORD}
    book_vars = ['-e', 'odj_domain=%s' % samba_dc.dns_domain, '-e', 'odj_store_dir=%s' % (tmp_path / 'store'),
                 '-e', '{"odj_validate_certs": false}']
    rc, out = run_playbook(collections_root, tmp_path, tasks, verbosity=2, extra_env=env, extra_args=book_vars)
    assert rc == 0, out[-4000:]
    assert 'ENVROLE1.djoin.vault' in os.listdir(str(tmp_path / 'store'))
    assert samba_dc.admin_password not in out and VAULT_PASSWORD not in out
