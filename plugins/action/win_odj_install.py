# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of winimage.provisioning.win_odj_install.

Every decision lives here; the PowerShell module only reads registry keys and
calls NetRequestProvisioningPackageInstall.

1. The package (``src`` on the controller, vault-encrypted or not, or
   ``content``; raw, base64 or djoin-file form) is decoded on the controller
   with the codec; a damaged package fails here, before anything is sent.
2. The module dumps the target's pending offline-join keys (the image's
   ``Windows/System32/config/SYSTEM`` hive, or the running system's); the
   clear-text machine password is never returned, only an HMAC of it keyed
   with a random per-run key, so a pending join can be compared with the package.
3. The same reader the Linux ``odj_image_info`` uses (``image.registry.read_pending``)
   interprets the dump; :func:`decide` (``odj.decide.decide_install``) chooses unchanged / install / fail.
4. The module installs the raw bytes; the NET_API_STATUS is named with
   ``_netapi_errors`` and ``NERR_JoinPerformedMustRestart`` becomes ``reboot_required``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.parsing.vault import VaultLib
from ansible.plugins.action import ActionBase

from ansible_collections.winimage.provisioning.plugins.module_utils.common import netapi_errors as _netapi_errors
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import PROVISION
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.decide import (
    INSTALL, JoinConflict, decide_install, describe_join, package_join, pending_join)
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import (  # DumpReader: API
    JOIN_STATE_KEYS,
    DumpReader,
    NotSystemHiveError,
    read_pending,
)
from ansible_collections.winimage.provisioning.plugins.module_utils.common.windows_path import is_windows_absolute, same_windows_path

MODULE = 'winimage.provisioning.win_odj_install'
ONLINE_CALLER = PROVISION['NETSETUP_PROVISION_ONLINE_CALLER']
SECRET_VALUES = ['CurrentValue']
MASKED = '********'
VALID_ARGS = frozenset(('src', 'content', 'windows_path', 'online', 'force'))

QUERY_KEYS = [dict(key) for key in JOIN_STATE_KEYS]


class PackageError(ValueError):
    """The package cannot be used (unreadable, vault failure, not a package)."""


# ---------------------------------------------------------------- package -> bytes

def _vault_decrypt(vault_secrets):
    if not vault_secrets:
        return None
    return lambda envelope: VaultLib(vault_secrets).decrypt(envelope)


def load(data=None, path=None, vault_secrets=None):
    """Raw package bytes and the decoded package from content (any form) or a controller file.

    Vault-encrypted content is decrypted in memory with the controller's vault secrets. Everything else (size cap,
    regular files only, codec, cross-checks) is odj.load.load_package. Raises PackageError with a message that
    names the problem, never the content.
    """
    try:
        loaded = load_package(data=data, path=path, vault_decrypt=_vault_decrypt(vault_secrets),
                              where='src %s' % path if path else 'the package')
    except PackageLoadError as exc:
        message = to_native(exc)
        if 'no vault password' in message:
            message += ' (give --vault-id / --ask-vault-pass)'
        raise PackageError(message)
    return loaded.raw, loaded.pd


# ---------------------------------------------------------------- the module's dump

def secret_digest(key, secret):
    """HMAC-SHA256 (hex) of a password as UTF-16LE, keyed with the per-run key."""
    return hmac.new(key, to_text(secret).encode('utf-16-le'), hashlib.sha256).hexdigest()


def pending_from_query(query):
    """(pending state dict or None, secret HMAC or None) from the module's query result."""
    if not query.get('hive_exists', True):
        return None, None
    reader = DumpReader(query.get('registry'))
    try:
        pending = read_pending(reader)
    except NotSystemHiveError as exc:
        raise AnsibleActionFail('%s: %s' % (query.get('hive_path') or 'SYSTEM hive', to_native(exc)))
    digest = None
    for item in query.get('secrets') or []:
        if (item.get('name') or '').lower() == 'currentvalue' and (item.get('key') or '').lower().endswith('offlinejoin') \
                and pending is not None and (item.get('key') or '').lower().startswith(pending['control_set'].lower()):
            digest = item.get('hmac')
    return pending, digest


# ---------------------------------------------------------------- decisions (module_utils odj.decide)

def decide(pending, pending_digest, package_digest, pd, force, computer=None):
    """odj.decide.decide_install on what the module read; AnsibleActionFail when another join is pending.

    computer: for the running system, {'name', 'domain', 'part_of_domain'}.
    """
    joined = None
    if computer and computer.get('part_of_domain'):
        joined = (computer.get('name'), computer.get('domain'))
    secret_same = bool(pending_digest and package_digest and hmac.compare_digest(pending_digest, package_digest))
    try:
        return decide_install(pending_join(pending) if pending is not None else None, package_join(pd),
                              secret_same, force=force, joined=joined)
    except JoinConflict as exc:
        raise AnsibleActionFail(to_native(exc))


def install_outcome(status, online):
    """(ok, reboot_required, message) for a NET_API_STATUS of NetRequestProvisioningPackageInstall."""
    status = int(status)
    if status == 0:
        return True, bool(online), None
    if _netapi_errors.is_restart_required(status):
        return True, True, None
    return False, False, _netapi_errors.describe(status, 'NetRequestProvisioningPackageInstall')


def validate_args(args):
    """Check the user options; return (src, content, windows_path, online, force)."""
    unknown = sorted(set(args) - VALID_ARGS)
    if unknown:
        raise AnsibleActionFail('unsupported option(s) for win_odj_install: %s' % ', '.join(unknown))
    src, content = args.get('src'), args.get('content')
    if bool(src) == bool(content):
        raise AnsibleActionFail('exactly one of src (a package file on the controller) or content (the package as base64 text) is required')
    windows_path = args.get('windows_path')
    online = _bool(args.get('online', False), 'online')
    force = _bool(args.get('force', False), 'force')
    if bool(windows_path) == online:
        raise AnsibleActionFail('give either windows_path (the Windows folder of a mounted offline image) or online=true '
                                '(the running system), not both and not neither')
    if windows_path and not is_windows_absolute(windows_path):
        raise AnsibleActionFail('windows_path must be an absolute Windows path such as D:\\mount\\Windows or a UNC path, got %r'
                                % windows_path)
    return src, content, windows_path, online, force


def _bool(value, name):
    from ansible.module_utils.parsing.convert_bool import boolean
    try:
        return boolean(value, strict=True)
    except TypeError as exc:
        raise AnsibleActionFail('%s: %s' % (name, to_native(exc)))


# ---------------------------------------------------------------- the action

class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def _module(self, task_vars, args):
        return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        src, content, windows_path, online, force = validate_args(self._task.args)

        try:
            if src:
                try:
                    found = self._find_needle('files', src)
                except AnsibleError as exc:
                    raise PackageError('src %s: %s' % (src, to_native(exc)))
            secrets = getattr(getattr(self._loader, '_vault', None), 'secrets', None)
            raw, pd = load(data=None if src else content, path=found if src else None, vault_secrets=secrets)
        except PackageError as exc:
            raise AnsibleActionFail(to_native(exc))

        key = os.urandom(32)
        query_args = {
            '_phase': 'query', '_request': {'registry_keys': QUERY_KEYS, 'mask': SECRET_VALUES},
            '_hmac_key': base64.b64encode(key).decode('ascii'),
            'windows_path': windows_path, 'online': online, 'force': force,
        }
        query = self._module(task_vars, query_args)
        if query.get('failed'):
            query.pop('secrets', None)
            return query
        if not online:
            if same_windows_path(windows_path, query.get('system_root')):
                raise AnsibleActionFail('windows_path %s is the Windows folder of the running system; set online=true '
                                        'to provision the running system instead' % windows_path)
            if not query.get('hive_exists'):
                raise AnsibleActionFail('no SYSTEM hive at %s: windows_path must be the Windows folder of a mounted '
                                        'offline image (e.g. D:\\mount\\Windows)' % query.get('hive_path'))
        pending, pending_digest = pending_from_query(query)
        package_digest = secret_digest(key, pd.win7.machine_password or '')
        decision, reason = decide(pending, pending_digest, package_digest, pd, force,
                                  computer=query.get('computer') if online else None)

        result.update({
            'changed': decision == INSTALL,
            'decision': decision,
            'reason': reason,
            'package': package_facts(pd),
            'pending_join_before': pending,
            'pending_join': pending,
            'reboot_required': False,
            'target': 'online' if online else windows_path,
        })
        if self._task.diff:
            target = 'the running system' if online else windows_path
            before = ('offline join pending: %s\n' % describe_join(*pending_join(pending)) if pending is not None
                      else 'no offline join pending\n')
            after = before if decision != INSTALL else 'offline join pending: %s\n' % describe_join(*package_join(pd))
            result['diff'] = {'before': before, 'after': after, 'before_header': target, 'after_header': target}
        if decision != INSTALL or self._task.check_mode:
            return result

        target_path = query.get('system_root') if online else windows_path
        outcome = self._module(task_vars, {
            '_phase': 'install', '_package': base64.b64encode(raw).decode('ascii'),
            '_request': {'options': ONLINE_CALLER if online else 0, 'windows_path': target_path},
            'windows_path': windows_path, 'online': online, 'force': force,
        })
        if outcome.get('failed'):
            return dict(result, failed=True, changed=False, msg=outcome.get('msg'))
        status = int(outcome.get('status', -1))
        ok, reboot, message = install_outcome(status, online)
        result['status'] = _netapi_errors.as_dict(status)
        if not ok:
            result.update(failed=True, changed=False, msg=message)
            return result
        result['reboot_required'] = reboot

        after = self._module(task_vars, query_args)
        if not after.get('failed'):
            pending_after, digest_after = pending_from_query(after)
            result['pending_join'] = pending_after
            if pending_after is None or not hmac.compare_digest(digest_after or '', package_digest):
                result.setdefault('warnings', []).append(
                    'NetRequestProvisioningPackageInstall reported success but the pending join state read back '
                    'does not match the package')
        return result
