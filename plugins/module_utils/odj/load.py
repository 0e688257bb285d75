# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading a provisioning package: the one place every module, action and filter reads one.

A package reaches the collection as a file (raw, ``djoin /savefile`` UTF-16
text, or one line of base64; any of them maybe Ansible Vault encrypted), as
bytes, or as a string a playbook holds: one line of base64 (API output,
unattend AccountData), the base64 of a file (what ansible.builtin.slurp
returns), or the djoin file's text decoded from UTF-16 (leading U+FEFF, maybe a
trailing NUL).

:func:`load_package` refuses, before reading anything, a path that is not a
regular file (a device such as /dev/zero, a FIFO, a folder) or a file larger
than :data:`MAX_PACKAGE_BYTES`; decrypts a vault in memory; decodes the
package; and cross-checks it (:func:`odj.package.check`: both copies of the
join data agree, lengths and counts match the data). Every failure is a
:class:`PackageLoadError` whose message names the source and the problem, never
the package or its password. Pure: no AnsibleModule, no controller objects
(a controller passes its vault as a ``vault_decrypt`` callable).
"""

from __future__ import annotations

import base64
import binascii
import collections
import os
import stat
import struct

from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import OdjFormatError
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import check, decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import detect_form, to_raw

# A package is a few KB (a join alone about 2 KB; with certificates and policies some tens of KB). The cap is on
# the file or value as given (base64 text and a vault envelope make it up to 3.5 times the raw size).
MAX_PACKAGE_BYTES = 4 * 1024 * 1024

LoadedPackage = collections.namedtuple('LoadedPackage', 'raw pd form vaulted')


class PackageLoadError(ValueError):
    """The package cannot be used. ``offset``/``structure``/``expected`` are set for a codec error."""

    def __init__(self, message, cause=None):
        super(PackageLoadError, self).__init__(message)
        self.offset = getattr(cause, 'offset', None)
        self.structure = getattr(cause, 'structure', None)
        self.expected = getattr(cause, 'expected', None)


def _describe_mode(mode):
    for test, what in ((stat.S_ISDIR, 'a folder'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISFIFO, 'a FIFO (named pipe)'),
                       (stat.S_ISSOCK, 'a socket')):
        if test(mode):
            return what
    return 'not a regular file'


def read_file(path, max_bytes=MAX_PACKAGE_BYTES, what='package'):
    """Bytes of the regular file at path (symlinks followed); PackageLoadError for anything else or too large.

    The type and size are checked before a byte is read, and again on the open descriptor (a file swapped or
    growing in between is still refused): /dev/zero, a FIFO or a 300 MB file are refused at once.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise PackageLoadError('%s %s cannot be read: %s' % (what, path, exc.strerror or exc))
    if not stat.S_ISREG(st.st_mode):
        raise PackageLoadError('%s %s is %s, not a package file' % (what, path, _describe_mode(st.st_mode)))
    if st.st_size > max_bytes:
        raise PackageLoadError('%s %s is %d bytes, more than the %d a package can be' % (what, path, st.st_size, max_bytes))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0))
    except OSError as exc:
        raise PackageLoadError('%s %s cannot be read: %s' % (what, path, exc.strerror or exc))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PackageLoadError('%s %s is %s, not a package file' % (what, path, _describe_mode(st.st_mode)))
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise PackageLoadError('%s %s cannot be read: %s' % (what, path, exc.strerror or exc))
    finally:
        os.close(fd)
    if size > max_bytes:
        raise PackageLoadError('%s %s is more than the %d bytes a package can be' % (what, path, max_bytes))
    return b''.join(chunks)


def _text_value(value):
    """A playbook string: strip the BOM of decoded UTF-16 and a trailing NUL; bytes are left as they are."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    text = str(value)
    if text.startswith('\ufeff'):
        text = text[1:]
    return text.rstrip('\x00').strip()


def _vault_inside_base64(data):
    """The vault envelope when data is the base64 of one (ansible.builtin.slurp of a vault file), else None."""
    if detect_form(data) != 'base64':
        return None
    try:
        decoded = base64.b64decode(data.strip() if isinstance(data, (bytes, str)) else data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None
    return decoded if _vault.is_vault(decoded) else None


def load_package(data=None, path=None, vault_password=None, vault_decrypt=None, max_bytes=MAX_PACKAGE_BYTES,
                 where=None):
    """Load one package from data (str or bytes, any form) or the file at path; a LoadedPackage.

    vault_password decrypts an Ansible Vault envelope in memory (module side); vault_decrypt(bytes) -> bytes does
    the same with the controller's vault secrets. where names the source in messages (default: "package <path>"
    or "package data"). Raises PackageLoadError.
    """
    if where is None:
        where = 'package %s' % path if path is not None else 'package data'
    if path is not None:
        source = read_file(path, max_bytes)
    elif data is None:
        raise PackageLoadError('%s: no package given' % where)
    else:
        source = _text_value(data)
        if len(source) > max_bytes:
            raise PackageLoadError('%s is %d %s long, more than the %d bytes a package can be' % (
                where, len(source), 'characters' if isinstance(source, str) else 'bytes', max_bytes))
    if isinstance(source, bytes) and detect_form(source) == 'base64':
        source = source.strip()
    if not source:
        raise PackageLoadError('%s is empty' % where)
    vaulted = False
    envelope = source if _vault.is_vault(source) else _vault_inside_base64(source)
    if envelope is not None:
        vaulted = True
        if vault_decrypt is None and not vault_password:
            raise PackageLoadError('%s is Ansible Vault encrypted and no vault password was given' % where)
        try:
            if vault_decrypt is not None:
                source = vault_decrypt(envelope if isinstance(envelope, bytes) else envelope.encode('utf-8'))
            else:
                source = _vault.decrypt(envelope, vault_password)
        except Exception as exc:  # pylint: disable=broad-except
            # VaultLib's messages may name the secret's id, never the secret; _vault's are secret-free
            reason = str(exc) if isinstance(exc, _vault.VaultError) else 'wrong vault password, or a damaged file'
            raise PackageLoadError('%s could not be decrypted (%s)' % (where, reason))
        if isinstance(source, bytes) and detect_form(source) == 'base64':
            source = source.strip()
    form = detect_form(source)
    try:
        raw = to_raw(source)
        pd = decode(raw)
        check(pd)
    except OdjFormatError as exc:
        raise PackageLoadError('%s is not a valid provisioning package: %s' % (where, exc), exc)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, struct.error, RecursionError,
            OverflowError) as exc:
        # the codec only raises OdjFormatError (the fuzz tests hold it to that); this keeps a missed case clean
        raise PackageLoadError('%s is not a valid provisioning package (%s)' % (where, type(exc).__name__))
    return LoadedPackage(raw, pd, form, vaulted)
