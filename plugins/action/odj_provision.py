# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.odj_provision (controller side).

1. ``vault_id`` without ``vault_password``: take the secret of that vault id from
   the ones ansible-playbook was given (``--vault-id id@source``) and hand it to
   the module as its no_log ``vault_password``.
2. ``return_package: true``: the result holds packages (machine passwords), so
   the task output is censored like ``no_log`` (the registered variable keeps
   everything).
3. Where the task runs: a provisioner normally runs on the controller
   (``delegate_to: localhost``, an AWX execution environment). There, with
   ``execution: auto`` (or ``controller``), the task runs inside this worker
   process instead of as a module - the same options validation
   (``ARGUMENT_SPEC``), the same ``execute()``, the same censoring of no_log
   values - without starting a module (a fresh Python, the module payload, its
   imports: about 0.3 s per task). Anything the worker cannot do exactly as the
   module would (another connection, become, async, a missing Python library)
   runs the module. A task ``environment`` applies to the worker process while
   the task runs, as it would to the module's process.
4. Progress: run here, a batch of ten or more machines prints ``n/N done, F failed``
   lines while it runs (every 5 s or tenth of the batch). A module sends its
   result only when it ends, so the module path cannot; its NetSetup log gets a
   line as each machine finishes (``tail -f`` it on the host).
5. Output: a batch's result holds a dict per machine. With ``-v`` (or on failure)
   the result of more than ``PRETTY_ABOVE`` machines is printed indented, a line
   per value, instead of as one line of JSON.
"""

from __future__ import annotations

import os
import subprocess
import traceback

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

MODULE = 'winimage.provisioning.odj_provision'
PRETTY_ABOVE = 10
LOCAL_CONNECTIONS = ('local', 'ansible.builtin.local', 'ansible.legacy.local')

display = Display()


def _run_command(argv, data, env):
    """run_command for the in-process path: what AnsibleModule.run_command(binary_data=True) returns."""
    environ = dict(os.environ)
    environ.update(env or {})
    proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, check=False)
    return (proc.returncode, proc.stdout.decode('utf-8', 'surrogateescape'),
            proc.stderr.decode('utf-8', 'surrogateescape'))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def _vault_secret(self, vault_id):
        vault = getattr(self._loader, '_vault', None)
        secrets = getattr(vault, 'secrets', None) or []
        for secret_id, secret in secrets:
            if secret_id == vault_id:
                return to_text(secret.bytes, errors='surrogate_or_strict').rstrip('\n')
        known = sorted(set(str(s[0]) for s in secrets))
        raise AnsibleActionFail('vault_id %s: ansible-playbook has no secret for it (known vault ids: %s); give '
                                '--vault-id %s@source or vault_password' % (vault_id, ', '.join(known) or 'none',
                                                                            vault_id))

    def _not_in_process(self, args):
        """Why this task cannot run in this worker process (None when it can)."""
        transport = getattr(self._connection, 'transport', None) or getattr(self._connection, '_load_name', None)
        if transport not in LOCAL_CONNECTIONS:
            return 'the task runs on another host (connection %s)' % transport
        if self._play_context.become:
            return 'become is set'
        if self._task.async_val:
            return 'the task is async'
        try:
            # pylint: disable=import-outside-toplevel
            from ansible_collections.winimage.provisioning.plugins.module_utils.ad.connection import HAS_LDAP3
        except ImportError as exc:
            return 'the collection cannot be imported here (%s)' % exc
        if not HAS_LDAP3:
            return "the controller's Python has no ldap3"
        try:
            import spnego  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        except ImportError:
            return "the controller's Python has no pyspnego"
        password = args.get('domain_password') or os.environ.get('WINIMAGE_DOMAIN_PASSWORD')
        if args.get('ccache') or args.get('keytab') or not password:
            try:
                import gssapi  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
                import krb5  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
            except ImportError:
                return "Kerberos is asked for and the controller's Python has no gssapi or krb5"
        if not any(args.get(name) for name in ('domain_server', 'domain_controller', 'dc_name')) \
                and not os.environ.get('WINIMAGE_DOMAIN_SERVER'):
            try:
                import dns.resolver  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
            except ImportError:
                return "DC discovery is asked for and the controller's Python has no dnspython"
        return None

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if args.get('vault_id') and args.get('vault_password') is None:
            args['vault_password'] = self._vault_secret(args['vault_id'])
        execution = args.get('execution') or 'auto'
        why_not = None if execution == 'module' else self._not_in_process(args)
        if execution == 'controller' and why_not:
            raise AnsibleActionFail('execution=controller: the task cannot run in the controller process: %s' % why_not)
        if execution == 'module' or why_not:
            display.vvv('odj_provision: running the module (%s)' % (why_not or 'execution=module'),
                        host=self._play_context.remote_addr)
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        else:
            display.vvv('odj_provision: running in the controller process', host=self._play_context.remote_addr)
            result.update(self._run_in_process(args, task_vars))
        if boolean(args.get('return_package', False), strict=False):
            result['_ansible_no_log'] = True
        if len(result.get('machines') or ()) > PRETTY_ABOVE and (display.verbosity > 0 or result.get('failed')):
            result['_ansible_verbose_always'] = True  # indented: never one line of JSON per batch
        return result

    def _run_in_process(self, args, task_vars):
        """What the module would return, computed here; no_log values censored as AnsibleModule does."""
        # pylint: disable=import-outside-toplevel
        from ansible_collections.winimage.provisioning.plugins.module_utils.provision.task import (
            ARGUMENT_SPEC, SPEC_KWARGS, TaskFailed, execute)
        warnings = []
        params, no_log_values = args, set()
        environment = {}
        self._compute_environment_string(environment)
        saved = {name: os.environ.get(name) for name in environment}
        # the task's environment first: the options' environment-variable fallbacks read it
        os.environ.update((str(k), str(v)) for k, v in environment.items())
        host = self._task.delegate_to or self._play_context.remote_addr
        label = (task_vars or {}).get('inventory_hostname') or host

        def progress(text):
            display.display('odj_provision [%s]: %s' % (label, remove_values(text, no_log_values)))
        try:
            validator = ModuleArgumentSpecValidator(ARGUMENT_SPEC, SPEC_KWARGS['mutually_exclusive'], None,
                                                    SPEC_KWARGS['required_one_of'], None, SPEC_KWARGS['required_by'])
            validation = validator.validate(args)
            no_log_values = set(validation._no_log_values)  # pylint: disable=protected-access
            if validation.error_messages:
                error = validation.errors[0]
                msg = validation.errors.msg
                if isinstance(error, UnsupportedError):
                    msg = 'Unsupported parameters for (%s) module: %s' % (MODULE, msg)
                return self._censor({'failed': True, 'msg': msg}, no_log_values)
            params = validation.validated_parameters
            out = execute(params, bool(self._task.check_mode), bool(self._task.diff), _run_command, warnings.append,
                          progress=progress)
        except TaskFailed as exc:
            out = dict(exc.result, failed=True, msg=str(exc))
        except Exception as exc:  # pylint: disable=broad-except
            out = {'failed': True, 'msg': 'odj_provision failed unexpectedly: %s: %s' % (exc.__class__.__name__, exc),
                   'exception': traceback.format_exc()}
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        out.setdefault('changed', False)
        if C.config.get_config_value('INJECT_INVOCATION', variables=task_vars):
            out['invocation'] = {'module_args': params}
        out = self._censor(out, no_log_values)
        for warning in warnings:
            display.warning(remove_values(warning, no_log_values))
        return out

    @staticmethod
    def _censor(out, no_log_values):
        preserved = {k: v for k, v in out.items() if v is None or isinstance(v, bool)}
        out = remove_values(out, no_log_values)
        out.update(preserved)
        return out
