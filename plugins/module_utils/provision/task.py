# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The odj_provision task: options in, result out, whoever runs it.

Two runners share this: the module (``AnsibleModule`` on the target host) and the
action plugin, which runs it inside the controller's worker process when the task
runs on the controller anyway (no module start-up). Both validate the options with
``ARGUMENT_SPEC`` / ``SPEC_KWARGS`` and call ``execute()``; the runner only turns
the returned result into its own output (censoring no_log values either way).
"""

from __future__ import annotations


from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.connection import HAS_LDAP3
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.errors import ADError
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.locator import discover_dcs
from ansible_collections.winimage.provisioning.plugins.module_utils.ad.options import CONNECTION_ARGUMENT_SPEC, client_options
from ansible_collections.winimage.provisioning.plugins.module_utils.common.options import env
from ansible_collections.winimage.provisioning.plugins.module_utils.common.netsetup_log import log_for, log_operation
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import STATUS_FAILED
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import (
    Progress, ProvisionError, Provisioner, summarize)
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.parts import (
    PartSources, error_for, log_machines, with_name)

ARGUMENT_SPEC = dict(
    domain=dict(type='str', required=True),
    machines=dict(type='list', elements='str', required=True),
    machine_account_ou=dict(type='str'),
    dns_servers=dict(type='list', elements='str'),
    reuse_account=dict(type='bool', default=False),
    use_default_password=dict(type='bool', default=False, no_log=False),
    skip_account_search=dict(type='bool', default=False),
    persistent_site=dict(type='bool', default=False),
    provision_root_ca_certs=dict(type='bool', default=False),
    machine_policy_paths=dict(type='list', elements='path', default=[]),
    machine_policy_names=dict(type='list', elements='str', default=[]),
    certificate_templates=dict(type='list', elements='str', default=[]),
    dest=dict(type='path'),
    package_format=dict(type='str', default='djoin_file', choices=['djoin_file', 'raw', 'base64']),
    return_package=dict(type='bool', default=False),
    vault_password=dict(type='str', no_log=True, fallback=env('WINIMAGE_VAULT_PASSWORD')),
    vault_id=dict(type='str'),
    netsetup_log=dict(type='path'),
    timeout=dict(type='int', default=15),
    execution=dict(type='str', default='auto', choices=['auto', 'controller', 'module']),
    reset_accounts_in_use=dict(type='bool', default=False),
    lock_timeout=dict(type='int', default=600),
)
ARGUMENT_SPEC.update(CONNECTION_ARGUMENT_SPEC)

SPEC_KWARGS = dict(
    required_one_of=[('dest', 'return_package')],
    required_by={'domain_password': 'domain_username', 'keytab': 'domain_username'},
    mutually_exclusive=[('domain_password', 'ccache'), ('domain_password', 'keytab')],
)


class TaskFailed(Exception):
    """The run failed as a whole: ``result`` is the task result so far."""

    def __init__(self, message, result):
        super(TaskFailed, self).__init__(message)
        self.result = result


def connect(params, run_command=None):
    """An ADClient bound to the given DC or to the first discovered one that answers."""
    kwargs = client_options(params, params['domain'], run_command)
    if params['domain_server']:
        dc = params['domain_server']
        client = ADClient(dc, server_name=dc, **kwargs)
        return client.connect()
    candidates = discover_dcs(params['domain'], dns_servers=params['dns_servers'],
                              timeout=params['timeout'])
    errors = []
    for candidate in candidates:
        for address in candidate.addresses or [candidate.host]:
            client = ADClient(address, server_name=candidate.host, **kwargs)
            try:
                return client.connect()
            except ADError as exc:
                if exc.kind != 'unreachable':
                    raise
                errors.append(str(exc))
    raise ADError('no domain controller of %s answered: %s' % (params['domain'], '; '.join(errors)), 'unreachable')


def _fail(warn, log, asked, result, message, kind):
    """Fail the run with the Windows error name of its cause, and log it."""
    name, code = error_for(kind, message)
    result.update(error_kind=kind, error_name=name, error_code=code)
    message = with_name(message, kind, name)
    warning = log_operation(log, 'provision', asked, message, code if code is not None else 1)
    if warning:
        warn(warning)
    raise TaskFailed(message, result)


def execute(params, check_mode, diff, run_command, warn, progress=None):
    """Run the task with validated params; return the result or raise TaskFailed (result in it).

    run_command(argv, stdin_bytes, env) -> (rc, stdout, stderr) runs kinit and smbclient;
    warn(text) reports a warning; progress(text), when given, gets ``n/N done, F failed``
    lines while a batch runs. Each machine's NetSetup log line is written as it finishes.
    """
    secrets = [value for value in (params['domain_password'], params['vault_password']) if value]
    log = None if check_mode else log_for(params['netsetup_log'], 'provisioner', program='odj_provision',
                                          secrets=secrets)
    asked = dict(domain=params['domain'], dc=params['domain_server'] or 'dns-srv',
                 ou=params['machine_account_ou'] or 'computers-container', machines=','.join(params['machines']))
    result = dict(changed=False, machines=[], failed_machines=[], counts={})
    if not HAS_LDAP3:
        _fail(warn, log, asked, result, 'the ldap3 Python package is required on the host running this module',
              'missing_library')
    if params['vault_id'] and params['vault_password'] is None:
        _fail(warn, log, asked, result, 'vault_id %s: no vault password for it (give vault_password, or --vault-id '
              '%s@source to ansible-playbook)' % (params['vault_id'], params['vault_id']), 'options')
    if params['certificate_templates']:
        _fail(warn, log, asked, result, 'ERROR_NOT_SUPPORTED: certificate_templates (%s) need certificate enrolment '
              'through Windows (djoin /certtemplate); use winimage.provisioning.win_odj_provision on a Windows host '
              'for them' % ', '.join(params['certificate_templates']), 'missing_library')
    client = None
    machines = []
    log_warnings = []
    tracker = {}

    def on_done(machine, count):
        item = machine.result(with_package=params['return_package'])
        if log is not None and item.get('package'):
            log.register_secret(item['package'])  # returned packages never reach the log either
        for warning in log_machines(log, [item], asked):
            if warning not in log_warnings:
                log_warnings.append(warning)
        if not tracker:
            tracker['progress'] = Progress(count, progress)
        tracker['progress'].finished(machine.status in STATUS_FAILED)

    try:
        client = connect(params, run_command)
        result['connection'] = client.connection_facts()
        for note in client.notes:
            warn(note)
        sources = None
        if params['machine_policy_paths'] or params['machine_policy_names'] or params['provision_root_ca_certs'] \
                or params['persistent_site']:
            smb = dict(runner=run_command, address=client.peer_address or client.server)
            if params['domain_password'] is not None:
                smb.update(username=client.username, password=params['domain_password'])
            else:
                smb.update(kerberos=True, ccache=client.ccache)
            sources = PartSources(policy_paths=params['machine_policy_paths'],
                                  policy_names=params['machine_policy_names'],
                                  root_ca_certs=params['provision_root_ca_certs'],
                                  persistent_site=params['persistent_site'], smb=smb)
        provisioner = Provisioner(
            client, params['domain'], machine_account_ou=params['machine_account_ou'],
            reuse_account=params['reuse_account'], use_default_password=params['use_default_password'],
            dest=params['dest'], package_format=params['package_format'], return_package=params['return_package'],
            vault_password=params['vault_password'], vault_id=params['vault_id'], check_mode=check_mode,
            part_sources=sources, skip_account_search=params['skip_account_search'],
            provision_root_ca_certs=params['provision_root_ca_certs'], persistent_site=params['persistent_site'],
            error_namer=error_for, reset_accounts_in_use=params['reset_accounts_in_use'],
            lock_timeout=params['lock_timeout'], on_done=on_done)
        machines = provisioner.run(params['machines'])
        result['domain'] = provisioner.domain_facts()
        if provisioner.dest_created:
            result['dest_created'] = True
            result['changed'] = True
        if sources is not None:
            result['extra_parts'] = dict(sources.facts)
            for warning in sources.facts.get('warnings', []):
                warn(warning)
    except (ADError, ProvisionError) as exc:
        if client is not None:
            client.close()
            client = None
        for warning in log_warnings:
            warn(warning)
        _fail(warn, log, asked, result, str(exc), exc.kind)
    finally:
        if client is not None:
            client.close()
    summary = summarize(machines, with_package=params['return_package'])
    result.update(machines=summary['machines'], changed=summary['changed'] or result['changed'],
                  failed_machines=summary['failed_machines'], counts=summary['counts'])
    for warning in log_warnings:
        warn(warning)
    if diff:
        result['diff'] = summary['diff']
        if result.get('dest_created'):
            result['diff']['before']['dest'] = {params['dest']: 'absent'}
            result['diff']['after']['dest'] = {params['dest']: 'directory (mode 0700)'}
    if summary['failed_machines']:
        raise TaskFailed('%d of %d machines failed: %s' % (len(summary['failed_machines']), len(machines),
                                                           '; '.join(summary['failure_messages'])), result)
    return result
