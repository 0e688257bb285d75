# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file replacement and advisory locks, shared by every writer.

A writer never modifies a target in place: it writes a temporary file in the
same directory, fsyncs it, renames it over the target and fsyncs the directory,
so a crash leaves either the old or the new content, never a torn file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
import time


class LockTimeout(Exception):
    """Another process holds the lock for longer than the caller waits."""


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path_beside(target, suffix='.tmp'):
    """Create (0600) and return the name of an empty temporary file beside target."""
    directory = os.path.dirname(os.path.abspath(target)) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(target), suffix=suffix, dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o600)
    return tmp


def replace_from(tmp, target, mode=None):
    """fsync tmp, give it mode (default: keep target's mode), rename it over target."""
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o600
    os.chmod(tmp, mode)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    _fsync_dir(os.path.dirname(os.path.abspath(target)))


def atomic_write(target, data, mode=0o600):
    """Write bytes to target atomically; new files get mode (default 0600)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    tmp = temp_path_beside(target)
    try:
        with open(tmp, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        replace_from(tmp, target, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def backup_file(path):
    """Copy path to path.<timestamp>.bak (same mode), return the backup's name."""
    stamp = time.strftime('%Y%m%d-%H%M%S')
    dest = '%s.%s.%d.bak' % (path, stamp, os.getpid())
    shutil.copy2(path, dest)
    return dest


@contextlib.contextmanager
def file_lock(lock_path, timeout=60.0, poll=0.2):
    """Hold an exclusive advisory lock on lock_path (created 0600 if absent).

    Waits up to timeout seconds, then raises LockTimeout naming the lock file.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout('another operation holds the lock %s; waited %.0f s' % (lock_path, timeout))
                time.sleep(poll)
        yield
    finally:
        os.close(fd)
