# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.win_odj_provision.

The PowerShell module calls ``NetCreateProvisioningPackage`` on the Windows host.
With ``return_package: true`` its result holds the package, and so the machine
password: the task output is then censored like ``no_log`` (the registered
variable keeps everything), and the package Windows returned is decoded on the
controller with the collection's codec, so that a damaged package, or one for
another machine or domain, fails the task here instead of reaching an image.
"""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.winimage.provisioning.plugins.module_utils._odj_input import PackageLoadError, load_package

MODULE = 'winimage.provisioning.win_odj_provision'


def check_returned_package(result):
    """None when result's package (if any) decodes and names result's machine and domain; else why not.

    The message never contains the package or its password.
    """
    package = result.get('package')
    if not package:
        return None
    try:
        pd = load_package(data=package, where='the package Windows returned').pd
    except PackageLoadError as exc:
        return to_native(exc)
    win7 = pd.win7
    if win7 is None:
        return 'the package Windows returned has no domain join part'
    machine = (result.get('machine_name') or '').upper()
    if machine and (win7.machine_name or '').upper() != machine:
        return 'the package Windows returned is for %s, not %s' % (win7.machine_name, machine)
    domain = (result.get('domain') or '').rstrip('.').lower()
    names = {(win7.domain or '').lower()}
    info = win7.dns_domain_info
    if info is not None:
        names.add((info.dns_domain_name or '').lower())
        names.add((info.name or '').lower())
    if domain and domain not in names:
        return 'the package Windows returned is for the domain %s, not %s' % (win7.domain, domain)
    return None


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if boolean(args.get('return_package', False), strict=False):
            result['_ansible_no_log'] = True
            problem = None if result.get('failed') else check_returned_package(result)
            if problem:
                result['failed'] = True
                result['msg'] = problem
        return result
