# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.odj_provision (controller side).

Two things only the controller can do:

1. ``vault_id`` without ``vault_password``: take the secret of that vault id from
   the ones ansible-playbook was given (``--vault-id id@source``) and hand it to
   the module as its no_log ``vault_password``.
2. ``return_package: true``: the result holds packages (machine passwords), so
   the task output is censored like ``no_log`` (the registered variable keeps
   everything).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

MODULE = 'winimage.provisioning.odj_provision'


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

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if args.get('vault_id') and args.get('vault_password') is None:
            args['vault_password'] = self._vault_secret(args['vault_id'])
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if boolean(args.get('return_package', False), strict=False):
            result['_ansible_no_log'] = True
        return result
