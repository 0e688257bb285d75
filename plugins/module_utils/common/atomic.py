# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file replacement and advisory locks, shared by every writer.

A writer never modifies a target in place: it writes a temporary file in the
same directory, fsyncs it, renames it over the target and fsyncs the directory,
so a crash leaves either the old or the new content, never a torn file. A
target reached through a symlink is resolved first: the real file is replaced
and the link stays a link.

Temporary files and private work folders carry the token of the run that made
them (host, process id, process start time): a later run removes what a killed
run left behind (:func:`remove_stale_temps`, :func:`private_workdir`) and never
touches what a live run is still writing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import socket
import stat
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


def real_path(path):
    """The absolute path with every symlink resolved (what locks and replacements must use)."""
    return os.path.realpath(os.path.abspath(path))


def _start_time(pid):
    """Start time of process pid in clock ticks since boot (from /proc), or None where there is no /proc."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            fields = handle.read().rsplit(b')', 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _host():
    return re.sub(r'[^A-Za-z0-9]', '', socket.gethostname().split('.')[0])[:32] or 'host'


def run_token():
    """host-pid-starttime of this process: names a run's temporary files so that others know when it is gone."""
    pid = os.getpid()
    return '%s-%d-%d' % (_host(), pid, _start_time(pid) or 0)


_TOKEN = re.compile(r'^([A-Za-z0-9]*)-(\d+)-(\d+)(?:$|[.\-_])')


def token_is_dead(name):
    """True when name starts with the token of a run of this host that is no longer running.

    False for a live run, for another host's run (its processes cannot be seen from here) and for a name
    without a token.
    """
    match = _TOKEN.match(name)
    if not match or match.group(1) != _host():
        return False
    pid, started = int(match.group(2)), int(match.group(3))
    now = _start_time(pid)
    if now is not None:
        return started != 0 and now != started
    if os.path.isdir('/proc/self'):
        return True  # /proc works and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


LEGACY_AGE = 3600.0


def legacy_leftover(path, now=None):
    """A temporary of an earlier version (no run token): a leftover once untouched for LEGACY_AGE seconds."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and (now or time.time()) - st.st_mtime > LEGACY_AGE


def temp_path_beside(target, suffix='.tmp'):
    """Create (0600) and return the name of an empty temporary file beside target's real file.

    The name is .<target name>.<run token>.<random><suffix>, which remove_stale_temps recognises.
    """
    target = real_path(target)
    directory = os.path.dirname(target) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.%s.%s.' % (os.path.basename(target), run_token()), suffix=suffix,
                               dir=directory)
    os.close(fd)
    os.chmod(tmp, 0o600)
    return tmp


def remove_stale_temps(target, suffix):
    """Remove the temporaries of target that killed runs of this host left beside it; names of those removed.

    A temporary of a run still alive (another process writing the same target through another path, say) is
    never touched.
    """
    target = real_path(target)
    folder = os.path.dirname(target)
    prefix = '.%s.' % os.path.basename(target)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        rest = name[len(prefix):]
        if token_is_dead(rest) or (not _TOKEN.match(rest) and legacy_leftover(os.path.join(folder, name))):
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def private_workdir(parent, prefix):
    """A new 0700 folder <parent>/<prefix><run token>-<random>, after removing what killed runs left there.

    parent is created 0700 when absent (PermissionError when it is not a folder of this user). Every folder below
    it whose name carries the token of a dead run of this host is removed first: secrets staged by a run that was
    killed do not outlive the next run. Another run may remove parent once it is empty (remove_workdir); it is
    then made again.
    """
    for attempt in range(5):
        private_root(parent)
        clean_workdirs(parent, prefix)
        try:
            return tempfile.mkdtemp(prefix='%s%s-' % (prefix, run_token()), dir=parent)
        except FileNotFoundError:
            if attempt == 4:
                raise


def remove_workdir(folder, parent_too=False):
    """Remove a private_workdir folder; with parent_too, its parent as well once no other run has a folder there."""
    shutil.rmtree(folder, ignore_errors=True)
    if parent_too:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(folder))


def private_root(path):
    """path as a 0700 folder of this user (created when absent); PermissionError when it is anything else."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise OSError(exc.errno, 'cannot create the private work folder: %s' % exc.strerror, path)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(errno.EPERM, 'the private work folder is not a folder of this user; remove it', path)
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def user_temp_root():
    """This user's private folder in the temporary directory: <TMPDIR>/winimage-work-<uid>."""
    return os.path.join(tempfile.gettempdir(), 'winimage-work-%d' % os.getuid())


def private_temp_dir(prefix, legacy_prefix=None):
    """A new 0700 folder for secrets (tickets, staged files) in user_temp_root(), named prefix<run token>-<random>.

    What killed runs left there under prefix is removed first, and so are folders an earlier version made in
    TMPDIR itself (legacy_prefix, no run token) once untouched for an hour.
    """
    if legacy_prefix:
        remove_legacy_temps(legacy_prefix)
    return private_workdir(user_temp_root(), prefix)


def remove_legacy_temps(prefixes):
    """Remove the folders an earlier version left in TMPDIR itself (names starting with prefixes, no run token)
    that belong to this user and were untouched for an hour; paths of those removed."""
    tmp = tempfile.gettempdir()
    try:
        names = os.listdir(tmp)
    except OSError:
        names = []
    removed = []
    for name in names:
        path = os.path.join(tmp, name)
        if name.startswith(prefixes) and not os.path.islink(path) and legacy_leftover(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def clean_workdirs(parent, prefix):
    """Remove the folders below parent named prefix<token of a dead run>; names of those removed."""
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if name.startswith(prefix) and token_is_dead(name[len(prefix):]):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
            removed.append(name)
    return removed


def replace_from(tmp, target, mode=None):
    """fsync tmp, give it mode (default: keep target's mode), rename it over target's real file."""
    target = real_path(target)
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
    _fsync_dir(os.path.dirname(target))


def atomic_write(target, data, mode=0o600):
    """Write bytes to target atomically; new files get mode (default 0600)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    target = real_path(target)
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
    """Copy path's real file to <real file>.<timestamp>.<pid>.bak (same mode), return the backup's name."""
    path = real_path(path)
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
