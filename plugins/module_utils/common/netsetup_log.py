# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A NetSetup-style operation log (what Windows admins read in %windir%\\debug\\NetSetup.log).

Every provisioner, requester and target operation appends one line per
machine (or per step) to a plain text log:

    2026-11-21T13:18:22.123Z odj_provision[4242] provision machine=WS01 domain=corp.example.test
        dc=dc1.corp.example.test -> created account, wrote /srv/odj/WS01.djoin
        status=0x0 NERR_Success (0)

(on one line). Fields: the UTC time, the module and process id, the
operation, what was asked as ``key=value`` pairs (machine, domain, DC, OU,
image, options -- never a password, package or key), ``->`` what was done,
and the result as ``status=0x<hex> <NAME> (<decimal>)`` with the Windows name
of the code (plugins/module_utils/common/netapi_errors.py).

Files are opened with O_APPEND (one write per line, under an exclusive lock,
so concurrent runs do not interleave), created 0600 in a directory created
0700. Default: /var/log/winimage-provisioning/netsetup.log on Linux hosts;
for requester runs (working on an image file) ``netsetup.log`` beside the
image; any path when configured.

A scrubber guards every line: strings registered as secret (the machine
password, the package text, the domain password) must never reach it; a line
containing one is refused with ``SecretInLogLine`` and not written (the
``log_operation`` helper then writes a "line withheld" notice instead, so the
operation is still on record).
"""

from __future__ import annotations

import datetime
import errno
import os

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows controllers are not supported by Ansible
    fcntl = None

from ansible_collections.winimage.provisioning.plugins.module_utils.common.netapi_errors import (
    error_name,
    lookup,
)

DEFAULT_DIR = '/var/log/winimage-provisioning'
DEFAULT_NAME = 'netsetup.log'
DEFAULT_PATH = os.path.join(DEFAULT_DIR, DEFAULT_NAME)
FILE_MODE = 0o600
DIR_MODE = 0o700

# Keys whose values are never written, whatever they hold.
SECRET_KEYS = frozenset([
    'password', 'domain_password', 'machine_password', 'vault_password', 'package', 'package_text', 'blob',
    'account_data', 'secret', 'keytab', 'pfx',
])
# Registered secrets shorter than this are refused at registration (they would match everywhere).
MIN_SECRET_LENGTH = 4


class SecretInLogLine(ValueError):
    """A line about to be logged contains a registered secret; it was not written."""


class NetSetupLogError(OSError):
    """The log file or its directory could not be created or written."""


def default_log_path(kind='provisioner', image=None):
    """Where the log goes by default.

    kind 'requester' with an image path: ``netsetup.log`` in the image's
    folder; otherwise /var/log/winimage-provisioning/netsetup.log.
    """
    if kind == 'requester' and image:
        return os.path.join(os.path.dirname(os.path.abspath(image)), DEFAULT_NAME)
    return DEFAULT_PATH


_ESCAPES = {'\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t'}


def _quote(value):
    """A value as one token: bare when simple, else double-quoted with escapes; never a line break."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (list, tuple, set, frozenset)):
        value = ','.join(str(item) for item in value)
    text = str(value)
    escaped = []
    plain = bool(text)
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            escaped.append(_ESCAPES[char])
            plain = False
        elif code < 0x20 or code == 0x7f or 0x2028 <= code <= 0x2029 or code == 0x85:
            escaped.append('\\x%02x' % code if code < 0x100 else '\\u%04x' % code)
            plain = False
        else:
            if char in ' =':
                plain = False
            escaped.append(char)
    joined = ''.join(escaped)
    return joined if plain else '"%s"' % joined


def format_status(code):
    """``status=0x<hex> NAME (decimal)`` for a NET_API_STATUS number or name."""
    if isinstance(code, str) and not code.strip().lstrip('-').isdigit() and not code.lower().startswith('0x'):
        err = lookup(code)
        if err is None:
            return 'status=? %s' % _quote(code)
        number = err.code
    else:
        number = int(code, 0) if isinstance(code, str) else int(code)
        number &= 0xFFFFFFFF
    return 'status=0x%x %s (%d)' % (number, error_name(number), number)


class NetSetupLog(object):
    """An append-only operation log with a secret scrubber.

    ``NetSetupLog(path, program='odj_provision')``; ``register_secret(text)``
    for every secret the operation handles; ``write(operation, asked, done,
    status)`` appends one line.
    """

    def __init__(self, path=None, program='winimage', secrets=()):
        self.path = os.path.abspath(path or DEFAULT_PATH)
        self.program = program
        self._secrets = set()
        for secret in secrets:
            self.register_secret(secret)

    def register_secret(self, secret):
        """Never let this string (or its bytes as UTF-8) reach the log."""
        if secret is None:
            return
        if isinstance(secret, (bytes, bytearray)):
            secret = bytes(secret).decode('utf-8', 'surrogateescape')
        secret = str(secret)
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError('a secret registered with the log must be at least %d characters' % MIN_SECRET_LENGTH)
        self._secrets.add(secret)

    def scrub(self, line):
        """Return line unchanged, or raise SecretInLogLine (without quoting the secret) if it holds one."""
        for secret in self._secrets:
            if secret in line or _quote(secret).strip('"') in line:
                raise SecretInLogLine('a log line contained a registered secret; the line was not written')
        return line

    def format_line(self, operation, asked=None, done=None, status=0, when=None):
        """The text of one log line (without the newline); SecretInLogLine if it would leak a secret."""
        when = when or datetime.datetime.now(datetime.timezone.utc)
        stamp = when.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (when.microsecond // 1000)
        parts = [stamp, '%s[%d]' % (self.program, os.getpid()), _quote(operation)]
        for key in sorted(asked or {}):
            value = (asked or {})[key]
            if str(key).lower() in SECRET_KEYS:
                value = '<not logged>' if value is not None else None
            parts.append('%s=%s' % (key, _quote(value)))
        parts.append('->')
        parts.append(_quote(done if done is not None else ''))
        parts.append(format_status(status))
        return self.scrub(' '.join(parts))

    def _open(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            try:
                os.makedirs(directory, DIR_MODE)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise NetSetupLogError(exc.errno, 'cannot create the log folder %s: %s'
                                           % (directory, exc.strerror))
            else:
                os.chmod(directory, DIR_MODE)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NOFOLLOW', 0)
        try:
            fd = os.open(self.path, flags, FILE_MODE)
        except OSError as exc:
            raise NetSetupLogError(exc.errno, 'cannot open the log %s: %s' % (self.path, exc.strerror))
        try:
            info = os.fstat(fd)
            if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                os.fchmod(fd, FILE_MODE)
        except OSError:
            os.close(fd)
            raise
        return fd

    def write(self, operation, asked=None, done=None, status=0, when=None):
        """Append one line; returns it. SecretInLogLine (nothing written) if it would hold a secret."""
        line = self.format_line(operation, asked, done, status, when)
        data = (line + '\n').encode('utf-8', 'backslashreplace')
        fd = self._open()
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise NetSetupLogError(exc.errno, 'cannot write the log %s: %s' % (self.path, exc.strerror))
        finally:
            os.close(fd)
        return line


def log_for(path=None, kind='provisioner', image=None, program='winimage', secrets=()):
    """The log a module writes to: path when given, '' for none (returns None), else the default for kind."""
    if path == '':
        return None
    return NetSetupLog(path or default_log_path(kind, image), program=program, secrets=secrets)


def log_operation(log, operation, asked=None, done=None, status=0):
    """Write a line for a module: never fails the operation.

    A line refused by the scrubber is replaced by a "line withheld" notice
    (operation and status only); an unwritable log gives a warning text.
    Returns None on success, else the warning for the module's ``warnings``.
    """
    if log is None:
        return None
    try:
        log.write(operation, asked, done, status)
        return None
    except SecretInLogLine:
        try:
            log.write(operation, None, 'line withheld: it contained a secret', status)
        except (SecretInLogLine, NetSetupLogError):
            pass
        return 'a NetSetup log line for %s was withheld because it contained a secret' % operation
    except NetSetupLogError as exc:
        return 'NetSetup log not written: %s' % exc.strerror


def read_lines(path):
    """The log's lines (for tests and troubleshooting helpers)."""
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8', 'replace').splitlines()


__all__ = [
    'NetSetupLog', 'SecretInLogLine', 'NetSetupLogError', 'default_log_path', 'log_for', 'log_operation', 'format_status',
    'read_lines', 'DEFAULT_PATH',
]
