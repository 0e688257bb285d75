# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.win_complus_import.

1. Options are validated on the controller (``_complus.validate_options``).
2. With ``src``, the package is inspected on the controller before anything is
   sent (OLE compound file, installer database, Complus table, files, size,
   SHA-256; ``_msi.inspect_msi``) and then copied to a temporary folder on the
   target; with ``path`` the package is already there.
3. The module reads the package (QueryApplicationFile2) and the catalog.
4. ``_complus.plan`` decides (partition, per-application collision, state,
   force, remote_server_name); check mode stops here and returns the plan.
5. The module carries out the plan's steps; flags and HRESULTs it returns
   are decoded to names here.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.winimage.provisioning.plugins.module_utils.complus import catalog as _complus
from ansible_collections.winimage.provisioning.plugins.module_utils.complus.msi import MsiError, inspect_msi, require_complus_package

MODULE = 'winimage.provisioning.win_complus_import'
OPTIONS = ('src', 'path', 'destination', 'partition', 'with_users', 'overwrite_files', 'run_as_user', 'run_as_password',
           'remote_server_name', 'state', 'force')
BOOL_OPTIONS = ('with_users', 'overwrite_files', 'force')
PASS_THROUGH = ('destination', 'partition', 'with_users', 'overwrite_files', 'run_as_user', 'run_as_password',
                'remote_server_name', 'state', 'force')


def check_args(args):
    """Validated, normalised options; AnsibleActionFail naming the bad one."""
    unknown = sorted(set(args) - set(OPTIONS))
    if unknown:
        raise AnsibleActionFail('unsupported option(s) for win_complus_import: %s' % ', '.join(unknown))
    params = dict((name, args.get(name)) for name in OPTIONS)
    for name in BOOL_OPTIONS:
        try:
            params[name] = boolean(params[name], strict=True) if params[name] is not None else False
        except TypeError as exc:
            raise AnsibleActionFail('%s: %s' % (name, to_native(exc)))
    try:
        return _complus.validate_options(params)
    except _complus.ComplusError as exc:
        raise AnsibleActionFail(to_native(exc))


def package_from_query(query, path):
    """The package description for plan() from the module's query result; fails clearly."""
    if not query.get('package_exists'):
        raise AnsibleActionFail('the package %s does not exist on the target (or is not a file)' % path)
    if query.get('query_hresult'):
        raise AnsibleActionFail(_complus.failure_message('QueryApplicationFile2 on %s' % path, query['query_hresult'],
                                                         detail=query.get('query_error')))
    apps = (query.get('package') or {}).get('applications') or []
    if not apps:
        raise AnsibleActionFail('%s is not a COM+ application package: QueryApplicationFile2 found no application in it' % path)
    return {'applications': apps}


def summarize_inspection(info):
    """The controller-side inspection, trimmed for the result."""
    if info is None:
        return None
    return dict((k, info[k]) for k in ('size', 'sha256', 'product_name', 'product_code', 'product_version', 'manufacturer',
                                       'tables', 'complus', 'files', 'apl_files'))


def decode_apply(apply_result, plan, partitions):
    """Result fields from the module's apply phase; (fields, error message or None)."""
    error = apply_result.get('step_error')
    fields = {
        'applications': _complus.decode_applications(apply_result.get('applications'), partitions),
        'modules': _complus.decode_modules(apply_result.get('modules')),
        'components': _complus.decode_components(apply_result.get('components'), (error or {}).get('error_info')),
        'completed_steps': apply_result.get('completed_steps') or [],
    }
    if error:
        operation = {'install': plan.get('method') or 'InstallApplication',
                     'remove': 'removing the existing application',
                     'select_partition': 'making partition %s current (CurrentPartition)' % plan['partition']['id'],
                     'create_partition': 'creating partition %s' % plan['partition']['id']}.get(error.get('action'), error.get('action'))
        if error.get('action') == 'precondition':
            fields['error'] = {'action': 'precondition', 'hresult': None, 'error_info': []}
            return fields, 'the import was not started, nothing was changed: %s' % error.get('message')
        message = _complus.failure_message(operation, error.get('hresult') or 0, error.get('error_info'), detail=error.get('message'))
        if 'remove' in fields['completed_steps'] and error.get('action') == 'install':
            message += ('. The existing application was removed before the import failed: it is no longer installed '
                        '(re-run after fixing the cause)')
        fields['error'] = {'action': error.get('action'), 'hresult': _complus.describe_hresult(error.get('hresult') or 0),
                           'error_info': _complus.decode_error_info(error.get('error_info'))}
        return fields, message
    failed_modules = [m['name'] for m in fields['modules'] if m['failed']]
    failed_components = [c['name'] or c['clsid'] for c in fields['components'] if c['failed']]
    if failed_modules or failed_components:
        return fields, 'the import finished but reported failures: modules %s; components %s' % (
            ', '.join(failed_modules) or 'none', ', '.join(failed_components) or 'none')
    return fields, None


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def _module(self, task_vars, args):
        return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        opts = check_args(self._task.args)

        inspection = None
        if opts['src']:
            try:
                local = self._find_needle('files', opts['src'])
            except AnsibleError as exc:
                raise AnsibleActionFail('src %s: %s' % (opts['src'], to_native(exc)))
            try:
                inspection = require_complus_package(inspect_msi(local))
            except MsiError as exc:
                raise AnsibleActionFail(to_native(exc))

        base = dict((name, opts[name]) for name in PASS_THROUGH)
        try:
            if opts['src']:
                # the package goes to the task's temporary folder (removed at the end, in check mode too)
                if self._connection._shell.tmpdir is None:
                    self._make_tmp_path()
                remote = self._connection._shell.join_path(self._connection._shell.tmpdir, 'complus-package.msi')
                self._transfer_file(inspection['path'], remote)
            else:
                remote = opts['path']

            query = self._module(task_vars, dict(base, _phase='query', _request={'file': remote}))
            if query.get('failed'):
                return query
            package = package_from_query(query, opts['src'] or remote)
            catalog = query.get('catalog') or {}
            try:
                plan = _complus.plan(opts, package, catalog)
            except _complus.ComplusError as exc:
                raise AnsibleActionFail(to_native(exc))

            ids, names = _complus.report_keys(package['applications'])
            result.update({
                'changed': plan['changed'],
                'plan': {'method': plan['method'], 'partition': plan['partition'], 'applications': plan['applications'],
                         'steps': plan['steps'],
                         'install_options': plan['install_options'], 'wire_import_flags': plan['wire_import_flags']},
                'package': {'applications': package['applications'], 'controller_inspection': summarize_inspection(inspection)},
                'partition': {'id': plan['partition']['id'], 'name': plan['partition']['name']},
                'applications': [a for a in _complus.decode_applications(catalog.get('applications'), catalog.get('partitions'))
                                 if _complus.is_package_app(a, ids, names) and a['partition_id'] == plan['partition']['id']],
                'modules': [],
                'components': [],
            })
            if plan['warnings']:
                result['warnings'] = list(plan['warnings'])
            if self._task.check_mode or not plan['steps']:
                return result

            apply_result = self._module(task_vars, dict(
                base, _phase='apply', _request={'file': remote, 'steps': plan['steps'], 'app_ids': ids, 'app_names': names}))
            if apply_result.get('failed'):
                apply_result.pop('invocation', None)
                return dict(result, failed=True, msg=apply_result.get('msg'))
            fields, error = decode_apply(apply_result, plan, catalog.get('partitions'))
            result.update(fields)
            result['changed'] = bool(fields['completed_steps'])
            for warning in apply_result.get('warnings') or []:
                result.setdefault('warnings', []).append(warning)
            if error:
                result.update(failed=True, msg=error)
            return result
        finally:
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
