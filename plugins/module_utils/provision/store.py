# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package store: the folder (``dest``) where odj_provision keeps one package file per machine.

* where a machine's package goes (``<dest>/<NAME>.djoin``, ``.odj`` or ``.b64``, plus
  ``.vault`` when Ansible Vault encrypted) and which files of it exist in any form;
* the store lock (``<dest>/.odj_provision.lock``): one run at a time decides and writes;
* the pending marker (``<dest>/.odj_provision.pending``: names and DNs, no secret) of
  accounts being created or reset whose package is not yet safe on disk;
* reading a package file (any form, vault or not) and writing one (0600, temporary
  file beside it and rename), with one filesystem sync for a whole batch.

It knows files only: what a file means for an account is decided in provision/decide.py.
"""

from __future__ import annotations

import ctypes
import json
import os

from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault
from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import (
    atomic_write, file_lock, temp_path_beside)
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import PackageLoadError, load_package
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_djoin_file

FORMS = {'djoin_file': '.djoin', 'raw': '.odj', 'base64': '.b64'}
VAULT_SUFFIX = '.vault'
LOCK_NAME = '.odj_provision.lock'
PENDING_NAME = '.odj_provision.pending'
DEST_MODE = 0o700


def _find_syncfs():
    try:
        # the C library this process already has loaded (find_library would run ldconfig at every import)
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.syncfs
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int]

    def syncfs(fd):
        if func(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    return syncfs


_syncfs = _find_syncfs()


class StoreError(Exception):
    """The store folder cannot be used (not a folder, not writable, cannot be created)."""


class PackageStore(object):
    """The package files of one ``dest`` folder, in one form (djoin_file, raw, base64), vault encrypted or not."""

    def __init__(self, dest, form='djoin_file', vault_password=None, vault_id=None):
        if form not in FORMS:
            raise ValueError('package_format must be one of %s' % ', '.join(sorted(FORMS)))
        self.dest = dest
        self.form = form
        self.vault_password = vault_password
        self.vault_id = vault_id
        self._unsynced = False

    # -- paths ---------------------------------------------------------
    def path(self, name):
        """Where the package of machine name goes."""
        suffix = FORMS[self.form] + (VAULT_SUFFIX if self.vault_password is not None else '')
        return os.path.join(self.dest, name + suffix)

    def existing_paths(self, name):
        """Existing package files of name in any form, the wanted one first."""
        if not os.path.isdir(self.dest):
            return []
        wanted = self.path(name)
        paths = [wanted]
        for suffix in FORMS.values():
            for extra in ('', VAULT_SUFFIX):
                path = os.path.join(self.dest, name + suffix + extra)
                if path not in paths:
                    paths.append(path)
        return [p for p in paths if os.path.isfile(p)]

    @property
    def lock_path(self):
        return os.path.join(self.dest, LOCK_NAME)

    @property
    def pending_path(self):
        return os.path.join(self.dest, PENDING_NAME)

    # -- the folder and its lock ---------------------------------------
    def prepare(self, check_mode=False):
        """dest must be a writable folder; a missing one is created 0700 (in check mode: would be).

        Returns True when the folder was (or would be) created; raises StoreError.
        """
        if not os.path.lexists(self.dest):
            if check_mode:
                return True
            try:
                os.makedirs(self.dest, DEST_MODE)
                os.chmod(self.dest, DEST_MODE)
            except OSError as exc:
                raise StoreError('dest %s cannot be created: %s' % (self.dest, exc.strerror))
            return True
        if not os.path.isdir(self.dest):
            raise StoreError('dest %s is not a directory' % self.dest)
        if not os.access(self.dest, os.W_OK) and not check_mode:
            raise StoreError('dest %s is not writable' % self.dest)
        return False

    def lock(self, timeout):
        """Context manager holding the store lock; common.atomic.LockTimeout after timeout seconds."""
        return file_lock(self.lock_path, timeout=timeout)

    # -- package files -------------------------------------------------
    def render(self, raw):
        """The file content of the raw package in this store's form (vault encrypted when it has a password)."""
        if self.form == 'raw':
            data = raw
        elif self.form == 'base64':
            data = (to_base64(raw) + '\n').encode('ascii')
        else:
            data = to_djoin_file(raw)
        if self.vault_password is not None:
            data = _vault.encrypt(data, self.vault_password, self.vault_id)
        return data

    def read(self, path):
        """(ProvisionData, note) of an existing file; (None, why) when unusable."""
        try:
            return load_package(path=path, vault_password=self.vault_password, where=path).pd, None
        except PackageLoadError as exc:
            return None, str(exc)

    def write(self, name, raw):
        """Write the package of name (0600, via a temporary file and rename), remove its other forms; the path.

        sync() makes the batch durable.
        """
        path = self.path(name)
        data = self.render(raw)
        tmp = temp_path_beside(path)
        try:
            with open(tmp, 'wb') as handle:
                handle.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        for other in self.existing_paths(name):
            if other != path:
                os.unlink(other)
        self._unsynced = True
        return path

    def needs_rewrite(self, path):
        """The file is in the wanted place but not in the wanted encryption state."""
        try:
            with open(path, 'rb') as handle:
                head = handle.read(64)
        except OSError:
            return True
        return _vault.is_vault(head) != (self.vault_password is not None)

    def sync(self):
        """One filesystem sync for the whole batch instead of an fsync per file."""
        if not self._unsynced:
            return
        fd = os.open(self.dest, os.O_RDONLY)
        try:
            if _syncfs is not None:
                _syncfs(fd)
            else:
                os.sync()
            os.fsync(fd)
        finally:
            os.close(fd)
        self._unsynced = False

    # -- pending marker: accounts made or reset whose file is not yet safe on disk --
    def load_pending(self):
        """{name: {'dn': dn}} of the marker; {} when there is none (or it cannot be read)."""
        try:
            with open(self.pending_path, 'rb') as handle:
                data = json.loads(handle.read().decode('utf-8'))
            return {str(k): dict(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError, TypeError):
            return {}

    def save_pending(self, pending):
        """Write the marker (atomically, 0600), or remove it when pending is empty."""
        path = self.pending_path
        if pending:
            atomic_write(path, json.dumps(pending, sort_keys=True).encode('utf-8'), mode=0o600)
        elif os.path.exists(path):
            os.unlink(path)
