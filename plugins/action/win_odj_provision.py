# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.win_odj_provision.

Every decision lives here and in module_utils; the PowerShell module only
queries and applies:

1. The options are checked on the controller (same names as odj_provision,
   old names as aliases; ``odj.decide.provision_option_problems`` for the
   combinations Windows cannot honour); the ``NETSETUP_PROVISION_*`` value comes
   from ``odj.flags``.
2. ``query``: the module reports whether O(dest) exists and returns its content;
   the controller decodes it with the codec and ``odj.decide.decide_provision``
   chooses unchanged / provision / fail. Check mode stops here.
3. ``create``: the module calls ``NetCreateProvisioningPackage`` and returns the
   NET_API_STATUS and the raw package; the status is named with ``_netapi_errors``,
   the package is decoded and checked against the machine and domain asked for.
4. ``write``: the controller renders the package (``odj.text.render``) and the
   module writes those bytes atomically beside O(dest) with an owner+SYSTEM-only ACL.

The package holds the machine password: it is never put into the task result
unless O(return_package=true), and the task output is then censored like no_log.
"""

from __future__ import annotations

import base64

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.winimage.provisioning.plugins.module_utils.common import netapi_errors as _netapi_errors
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import (
    PROVISION, JoinConflict, decide_provision, describe_join, package_join, provision_option_problems, same_join)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import WINDOWS_OPTION_FLAGS, flags_of
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
from ansible_collections.winimage.provisioning.plugins.module_utils.provision.decide import check_machine_name
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import FORMS, render, to_base64
from ansible_collections.winimage.provisioning.plugins.module_utils.common.windows_path import is_windows_absolute

MODULE = 'winimage.provisioning.win_odj_provision'

# the names of the deprecated provision_options list -> boolean options
LIST_NAMES = {'reuse_account': 'reuse_account', 'use_default_password': 'use_default_password',
              'skip_account_search': 'skip_account_search', 'root_ca_certs': 'provision_root_ca_certs',
              'persistent_site': 'persistent_site', 'downlevel_priv_support': 'downlevel_priv_support'}

ARGUMENT_SPEC = dict(
    domain=dict(type='str', required=True),
    machine_name=dict(type='str', required=True),
    machine_account_ou=dict(type='str'),
    domain_server=dict(type='str', aliases=['domain_controller', 'dc_name']),
    reuse_account=dict(type='bool', default=False),
    use_default_password=dict(type='bool', default=False),
    skip_account_search=dict(type='bool', default=False),
    provision_root_ca_certs=dict(type='bool', default=False, aliases=['root_ca_certs']),
    persistent_site=dict(type='bool', default=False),
    downlevel_priv_support=dict(type='bool', default=False),
    provision_options=dict(type='list', elements='str', choices=sorted(LIST_NAMES),
                           removed_in_version='2.0.0', removed_from_collection='winimage.provisioning'),
    certificate_templates=dict(type='list', elements='str', default=[]),
    machine_policy_names=dict(type='list', elements='str', default=[], aliases=['policy_names']),
    machine_policy_paths=dict(type='list', elements='str', default=[], aliases=['policy_paths']),
    dest=dict(type='str', required=True),
    package_format=dict(type='str', choices=list(FORMS), default='djoin_file', aliases=['format']),
    force=dict(type='bool', default=False),
    return_package=dict(type='bool', default=False),
)


def check_options(args):
    """(params, flags, warnings) of the task's options; AnsibleActionFail naming the bad one."""
    validator = ArgumentSpecValidator(ARGUMENT_SPEC)
    checked = validator.validate(dict(args))
    if checked.error_messages:
        raise AnsibleActionFail('win_odj_provision: %s' % '; '.join(checked.error_messages))
    params = dict((k, v) for k, v in checked.validated_parameters.items() if k in ARGUMENT_SPEC)
    warnings = [item.get('msg') if isinstance(item, dict) else str(item) for item in checked._deprecations or []]
    for name in params.pop('provision_options', None) or []:
        params[LIST_NAMES[name]] = True
    try:
        machine = check_machine_name(params['machine_name'])
    except ValueError as exc:
        raise AnsibleActionFail('machine_name %r: %s' % (params['machine_name'], exc))
    params['machine_name'] = machine
    dest = params['dest']
    if not is_windows_absolute(dest) or dest.endswith('\\'):
        raise AnsibleActionFail('dest must be the absolute Windows path of a file, such as C:\\ProgramData\\odj\\%s.djoin, '
                                'got %r' % (machine.upper(), dest))
    errors, more = provision_option_problems(params, domain_server=params.get('domain_server'),
                                             machine_account_ou=params.get('machine_account_ou'),
                                             certificate_templates=params.get('certificate_templates'))
    if errors:
        raise AnsibleActionFail('; '.join(errors))
    return params, flags_of(params, WINDOWS_OPTION_FLAGS), warnings + more


def existing_join(query):
    """(machine, domains) of the package dest holds, or None (no file, or no package in it)."""
    content = query.get('existing')
    if not query.get('exists') or not content:
        return None
    try:
        pd = load_package(data=base64.b64decode(content), where='dest').pd
    except (PackageLoadError, ValueError, TypeError):
        return None
    if pd.win7 is None or not pd.win7.machine_name:
        return None
    return package_join(pd)


def check_returned_package(raw, machine, domain):
    """(decoded package, None) when raw decodes and names machine and domain; else (None, why not).

    The message never contains the package or its password.
    """
    try:
        pd = load_package(data=raw, where='the package Windows returned').pd
    except PackageLoadError as exc:
        return None, to_native(exc)
    if pd.win7 is None:
        return None, 'the package Windows returned has no domain join part'
    got_machine, got_domains = package_join(pd)
    if not same_join(machine, domain, got_machine, got_domains):
        return None, 'the package Windows returned is for %s in %s, not %s in %s' % (
            got_machine, pd.win7.domain, machine.upper(), domain)
    return pd, None


def create_failure(status, machine, domain):
    """The message of a failed NetCreateProvisioningPackage, with the Windows name and number."""
    return 'NetCreateProvisioningPackage failed for %s in %s: %s' % (
        machine, domain, _netapi_errors.describe(status))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def _module(self, task_vars, params, **internal):
        args = dict((k, v) for k, v in params.items() if v is not None)
        args.update(internal)
        return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        params, flags, warnings = check_options(self._task.args)
        machine = params['machine_name']
        domain = params['domain'].strip().rstrip('.')
        result.update(dest=params['dest'], format=params['package_format'], package_format=params['package_format'],
                      machine_name=machine, domain=domain, provision_options=flags, changed=False)
        if warnings:
            result['warnings'] = warnings
        module_params = dict(params)
        module_params['machine_name'] = machine

        query = self._module(task_vars, module_params, _phase='query')
        if query.get('failed'):
            return dict(result, failed=True, msg=query.get('msg'))
        if not query.get('folder_exists'):
            raise AnsibleActionFail("the folder of dest '%s' does not exist on the Windows host" % params['dest'])
        if query.get('exists') and not query.get('is_file'):
            raise AnsibleActionFail("dest '%s' is a folder; give the path of the package file" % params['dest'])
        try:
            decision = decide_provision(existing_join(query), machine, domain, force=params['force'],
                                        exists=query.get('exists'))
        except JoinConflict as exc:
            raise AnsibleActionFail("dest '%s': %s" % (params['dest'], to_native(exc)))
        result['decision'], result['reason'] = decision
        if self._task.diff:
            existing = existing_join(query)
            before = ('%s: a package for %s\n' % (params['dest'], describe_join(*existing)) if existing else
                      '%s: %s\n' % (params['dest'], 'a file holding no package' if query.get('exists') else 'absent'))
            after = before if decision.action != PROVISION else '%s: a new package for %s\n' % (
                params['dest'], describe_join(machine, domain))
            result['diff'] = {'before': before, 'after': after, 'before_header': params['dest'], 'after_header': params['dest']}
        if decision.action != PROVISION:
            result['msg'] = decision.reason
            return result
        result['changed'] = True
        if self._task.check_mode:
            return result

        request = {'domain': domain, 'machine_name': machine, 'machine_account_ou': params.get('machine_account_ou') or '',
                   'dc_name': params.get('domain_server') or '', 'options': flags,
                   'certificate_templates': list(params['certificate_templates']),
                   'policy_names': list(params['machine_policy_names']),
                   'policy_paths': list(params['machine_policy_paths'])}
        created = self._module(task_vars, module_params, _phase='create', _request=request)
        raw_b64 = created.pop('package_raw', None)
        if created.get('failed'):
            return dict(result, failed=True, changed=False, msg=created.get('msg'))
        status = int(created.get('status', -1))
        if status != 0:
            result.update(failed=True, changed=False, status=status, error=_netapi_errors.as_dict(status),
                          msg=create_failure(status, machine, domain))
            return result
        raw = base64.b64decode(raw_b64 or '')
        pd, problem = check_returned_package(raw, machine, domain)
        if problem:
            return dict(result, failed=True, msg=problem)
        data = render(raw, params['package_format'])
        if isinstance(data, str):
            data = data.encode('ascii')
        written = self._module(task_vars, module_params, _phase='write',
                               _content=base64.b64encode(data).decode('ascii'))
        if written.get('failed'):
            message = ('the account of %s was provisioned but its package could not be written to %s: %s '
                       '(provision again with force)' % (machine, params['dest'], written.get('msg')))
            return dict(result, failed=True, msg=message)
        result['size'] = written.get('size', len(data))
        if params['return_package']:
            result['_ansible_no_log'] = True
            result['package'] = to_base64(raw)
        return result
