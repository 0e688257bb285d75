# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access to an offline Windows image: a folder holding Windows/, or one image of a .wim.

No mounting and no FUSE. For a .wim the few files the requester needs are
taken out with ``wimlib-imagex extract`` into a private staging folder; after
they were changed, a copy of the .wim is made beside it, ``wimlib-imagex
update`` puts the files into that copy (only the chosen image changes), the
files are taken out of the copy again and compared byte for byte, and only
then is the copy renamed over the original. If anything fails the original
.wim is untouched. A folder image is edited in place, file by file, with
atomic replacement (the engine does that).

Every write holds an exclusive lock file beside the image
(``<image>.winimage.lock``): a second install into the same image waits for
it, then fails with a message naming the lock.

An image given through a symlink (a linked folder or .wim, or a path with a
linked folder in it) is used at its real path: the lock, the staging and the
final replacement are those of the real image, so two paths to one image take
one lock, the real image changes and the link stays a link.

Files taken out of a .wim (a SYSTEM hive holds the machine password once
written) are staged in a 0700 folder ``.winimage-work`` beside the image, in a
folder named after the run (host, process id and start time); each run first
removes what killed runs left there. Where the image's folder is not writable
(an audit of a read-only image) the same is done in a 0700 folder
``winimage-work-<uid>`` in the temporary directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import xml.etree.ElementTree as ET

from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import (
    LockTimeout,
    clean_workdirs,
    file_lock,
    private_workdir,
    real_path,
    remove_legacy_temps,
    remove_workdir,
    replace_from,
    temp_path_beside,
    user_temp_root,
)

SYSTEM_REL = 'Windows/System32/config/SYSTEM'
UNATTEND_REL = 'Windows/Panther/unattend.xml'
WIM_ARCH = {0: 'x86', 5: 'arm', 6: 'ia64', 9: 'amd64', 12: 'arm64'}


class ImageError(Exception):
    """The image cannot be used (message names the image and the reason)."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def find_ci(root, rel):
    """Path of rel below root, matching each component case-insensitively; None if absent."""
    current = root
    for part in [p for p in rel.replace('\\', '/').split('/') if p]:
        candidate = os.path.join(current, part)
        if os.path.lexists(candidate):
            current = candidate
            continue
        try:
            names = os.listdir(current)
        except OSError:
            return None
        match = [n for n in names if n.lower() == part.lower()]
        if not match:
            return None
        current = os.path.join(current, sorted(match)[0])
    return current


def _mode_writable(path):
    """False when no write permission bit is set (honoured even for root) or the file system is read-only."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    try:
        vfs = os.statvfs(path)
        if vfs.f_flag & getattr(os, 'ST_RDONLY', 1):
            return False
    except OSError:
        pass
    return os.access(path, os.W_OK)


WORK_FOLDER = '.winimage-work'
WORK_PREFIXES = ('stage-', 'verify-', 'odj-')


def new_workdir(image_real_path, prefix):
    """A new private 0700 folder for one run's work on an image, in the private work folder beside the image (in
    TMPDIR when the image's folder is read-only); ImageError when that work folder cannot be made or is not one.

    What killed runs left there (and in the TMPDIR fallback) is removed first.
    """
    clean_leftovers(image_real_path)
    parent = os.path.dirname(image_real_path)
    root = os.path.join(parent, WORK_FOLDER) if os.access(parent, os.W_OK | os.X_OK) else user_temp_root()
    try:
        return private_workdir(root, prefix)
    except OSError as exc:
        raise ImageError('%s: %s' % (root, exc.strerror or exc))


LEGACY_PREFIXES = ('winimage-stage-', 'winimage-verify-', 'winimage-odj-')


def clean_leftovers(image_real_path):
    """Remove the staging folders killed runs left for images of this folder (and in TMPDIR); names removed.

    Earlier versions staged in TMPDIR itself (winimage-stage-*, winimage-verify-*, winimage-odj-*, without a run
    token): those of this user untouched for an hour are removed too.
    """
    removed = remove_legacy_temps(LEGACY_PREFIXES)
    for root in (os.path.join(os.path.dirname(image_real_path), WORK_FOLDER),
                 user_temp_root()):
        if os.path.isdir(root) and not os.path.islink(root):
            for prefix in WORK_PREFIXES:
                removed.extend(os.path.join(root, name) for name in clean_workdirs(root, prefix))
    return removed


@contextlib.contextmanager
def scratch(image, prefix):
    """A private 0700 folder for one run's work on image, removed on exit (a killed run's: by the next run)."""
    folder = new_workdir(image.path, prefix)
    try:
        yield folder
    finally:
        remove_workdir(folder, parent_too=True)


_DEFAULT_RUNNER = []


def set_default_runner(runner):
    """Set the command runner used when an image gets none (for callers outside a module: tests, scripts).

    A runner is ``runner(argv, data=None, env=None) -> (rc, stdout bytes, stderr bytes)``; modules pass one built
    on AnsibleModule.run_command.
    """
    del _DEFAULT_RUNNER[:]
    if runner is not None:
        _DEFAULT_RUNNER.append(runner)


def module_runner(module):
    """A runner on AnsibleModule.run_command (binary in and out)."""
    def run(argv, data=None, env=None):
        return module.run_command(argv, data=data, binary_data=True, environ_update=env, encoding=None)
    return run


def _run(runner, argv, what, stdin=None):
    if runner is None:
        runner = _DEFAULT_RUNNER[0] if _DEFAULT_RUNNER else None
    if runner is None:
        raise ImageError('%s: no command runner to call %s (a .wim needs wimlib-imagex)' % (what, argv[0]))
    env = {'WIMLIB_IMAGEX_IGNORE_CASE': '1', 'LC_ALL': 'C'}
    try:
        rc, out, err = runner(argv, data=stdin, env=env)
    except OSError as exc:
        raise ImageError('%s: cannot run %s (Debian package wimtools): %s' % (what, argv[0], exc))
    if isinstance(out, str):
        out = out.encode('utf-8', 'surrogateescape')
    if isinstance(err, str):
        err = err.encode('utf-8', 'surrogateescape')
    if rc != 0:
        message = (err or out or b'').decode('utf-8', 'replace').strip().splitlines()
        raise ImageError('%s: %s failed: %s' % (what, ' '.join(argv[:2]), ' / '.join(message[-3:]) or 'exit %d' % rc))
    return out


def wim_images(wim, runner=None):
    """List of dicts (index, name, arch) of the images in a .wim, from its XML data."""
    raw = _run(runner, ['wimlib-imagex', 'info', wim, '--xml'], wim)
    if raw[:2] == b'\xff\xfe':
        text = raw[2:].decode('utf-16-le', 'replace')
    else:
        text = raw.decode('utf-8', 'replace')
    try:
        root = ET.fromstring(text.strip().rstrip('\x00'))
    except ET.ParseError as exc:
        raise ImageError('%s: cannot read the XML data of the .wim: %s' % (wim, exc))
    images = []
    for node in root.findall('IMAGE'):
        arch = node.findtext('WINDOWS/ARCH')
        try:
            arch = WIM_ARCH.get(int(arch)) if arch is not None else None
        except ValueError:
            arch = None
        images.append({'index': int(node.get('INDEX')), 'name': node.findtext('NAME') or '', 'arch': arch})
    return images


class Staging(object):
    """The files of an image being changed: ``root`` holds Windows/... (the image itself for a folder)."""

    def __init__(self, root):
        self.root = root
        self.changed = []   # relative paths whose content changed
        self.renamed = []   # (old relative path, new relative path)

    def path(self, rel):
        return find_ci(self.root, rel)

    def rel(self, path):
        return os.path.relpath(path, self.root).replace(os.sep, '/')


class FolderImage(object):
    kind = 'folder'

    def __init__(self, path):
        self.given = os.path.abspath(path)
        self.path = real_path(path)
        if not os.path.isdir(self.path):
            raise ImageError('%s: image folder does not exist' % path)
        if find_ci(self.path, 'Windows') is None or not os.path.isdir(find_ci(self.path, 'Windows')):
            raise ImageError('%s: no Windows/ folder in it; give the folder an image was applied or mounted to '
                             '(the one that holds Windows/), or a .wim file' % path)
        self.lock_path = self.path.rstrip('/') + '.winimage.lock'
        self.index = None
        self.name = None
        self.wim_arch = None

    def describe(self):
        return {'type': 'folder', 'path': self.given}

    @contextlib.contextmanager
    def staging(self):
        yield Staging(self.path)

    def check_writable(self, paths):
        for path in paths:
            for target in (path, os.path.dirname(path)):
                if os.path.exists(target) and not _mode_writable(target):
                    raise ImageError('%s: the image is read-only (%s is not writable)' % (self.path, target))

    def commit(self, staging, backup=False, faults=None):
        """Files were replaced in place; nothing more to do."""
        return None


class WimImage(object):
    kind = 'wim'

    def __init__(self, path, image_index=None, workdir=None, runner=None):
        self.given = os.path.abspath(path)
        self.path = real_path(path)
        self.runner = runner
        if not os.path.isfile(self.path):
            raise ImageError('%s: .wim file does not exist' % path)
        images = wim_images(self.path, runner)
        if not images:
            raise ImageError('%s: the .wim holds no image' % path)
        if image_index is None or image_index == '':
            if len(images) != 1:
                raise ImageError('%s holds %d images; set image_index (a number or a name: %s)'
                                 % (path, len(images), ', '.join(i['name'] for i in images)))
            chosen = images[0]
        else:
            key = str(image_index)
            chosen = None
            if key.isdigit():
                chosen = next((i for i in images if i['index'] == int(key)), None)
            if chosen is None:
                chosen = next((i for i in images if i['name'] == key), None)
            if chosen is None:
                raise ImageError('%s: no image %s in it (images: %s)' % (
                    path, key, ', '.join('%d=%s' % (i['index'], i['name']) for i in images)))
        self.images = images
        self.index = chosen['index']
        self.name = chosen['name']
        self.wim_arch = chosen['arch']
        self.lock_path = self.path + '.winimage.lock'
        self.workdir = workdir

    def describe(self):
        return {'type': 'wim', 'path': self.given, 'image_index': self.index, 'image_name': self.name}

    def _extract(self, wim, dest, rels, optional=True):
        argv = ['wimlib-imagex', 'extract', wim, str(self.index)] + ['/' + r for r in rels]
        argv += ['--dest-dir=%s' % dest, '--preserve-dir-structure', '--no-acls', '--no-attributes']
        if optional:
            argv.append('--nullglob')
        _run(self.runner, argv, '%s (image %d)' % (self.path, self.index))

    def _workdir(self, prefix):
        if self.workdir is not None:
            return tempfile.mkdtemp(prefix='winimage-' + prefix, dir=self.workdir)
        return new_workdir(self.path, prefix)

    def _drop(self, folder):
        # the private work folder goes with the last run that uses it; a folder the caller gave stays
        remove_workdir(folder, parent_too=self.workdir is None)

    @contextlib.contextmanager
    def staging(self):
        tmp = self._workdir('stage-')
        try:
            self._extract(self.path, tmp, [SYSTEM_REL, SYSTEM_REL + '.LOG1', SYSTEM_REL + '.LOG2', UNATTEND_REL])
            if find_ci(tmp, 'Windows') is None:
                # Nothing matched: tell "no Windows/ folder" apart from "no SYSTEM hive".
                try:
                    _run(self.runner, ['wimlib-imagex', 'dir', self.path, str(self.index), '--path=/Windows', '--one-file-only'], self.path)
                except ImageError:
                    raise ImageError('%s: image %d (%s) has no Windows/ folder' % (self.path, self.index, self.name))
                os.makedirs(os.path.join(tmp, 'Windows'))
            yield Staging(tmp)
        finally:
            self._drop(tmp)

    def check_writable(self, paths):
        for target in (self.path, os.path.dirname(self.path)):
            if not _mode_writable(target):
                raise ImageError('%s: the .wim is read-only (%s is not writable)' % (self.path, target))

    def commit(self, staging, backup=False, faults=None):
        """Put the changed files into a copy of the .wim, verify, rename it over the original.

        faults: tests' fault injectors, {'wim_updated': callable(path of the updated copy)}.
        """
        if not staging.changed and not staging.renamed:
            return None
        commands = []
        for rel in staging.changed:
            commands.append('add "%s" "/%s"' % (os.path.join(staging.root, rel), rel))
        for old, new in staging.renamed:
            commands.append('rename "/%s" "/%s"' % (old, new))
        for line in commands:
            if '\n' in line:
                raise ImageError('%s: a path contains a newline' % self.path)
        tmp = temp_path_beside(self.path, suffix='.wim')
        verify = self._workdir('verify-')
        backup_path = None
        try:
            shutil.copyfile(self.path, tmp)
            _run(self.runner, ['wimlib-imagex', 'update', tmp, str(self.index)], '%s (image %d)' % (self.path, self.index),
                 stdin=('\n'.join(commands) + '\n').encode('utf-8'))
            if faults and faults.get('wim_updated'):
                faults['wim_updated'](tmp)
            # Verification: take the files out of the updated copy and compare them byte for byte.
            self._extract(tmp, verify, list(staging.changed), optional=False)
            for rel in staging.changed:
                got = find_ci(verify, rel)
                if got is None or sha256_file(got) != sha256_file(os.path.join(staging.root, rel)):
                    raise ImageError('%s: verification failed: /%s read back from the updated .wim differs from what '
                                     'was written; the .wim was left unchanged' % (self.path, rel))
            after = wim_images(tmp, self.runner)
            if [(i['index'], i['name']) for i in after] != [(i['index'], i['name']) for i in self.images]:
                raise ImageError('%s: verification failed: the list of images changed; the .wim was left unchanged' % self.path)
            if backup:
                from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import backup_file
                backup_path = backup_file(self.path)
            replace_from(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            self._drop(verify)
        return backup_path


def open_image(path, image_index=None, workdir=None, runner=None):
    """FolderImage or WimImage for path (a .wim when it is a regular file); runner: see set_default_runner."""
    if path is None or path == '':
        raise ImageError('image: no path given')
    if os.path.isfile(path):
        return WimImage(path, image_index=image_index, workdir=workdir, runner=runner)
    if image_index not in (None, ''):
        raise ImageError('%s: image_index only applies to a .wim file, and this is not a file' % path)
    return FolderImage(path)


@contextlib.contextmanager
def locked(image, timeout=60.0):
    """Hold the image's lock; ImageError with a clear message when it stays busy."""
    try:
        with file_lock(image.lock_path, timeout=timeout):
            yield
    except LockTimeout as exc:
        raise ImageError('%s: another install is writing this image (%s)' % (image.path, exc))
    except PermissionError as exc:
        raise ImageError('%s: cannot create the lock file %s: %s' % (image.path, image.lock_path, exc.strerror))
