# -*- coding: utf-8 -*-
"""Folders that hold secrets for a moment (Kerberos tickets, krb5.conf, the SMB credentials file) are private
and do not outlive a killed run: the next run removes them."""

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.ad import connection as _connection
from ansible_collections.winimage.provisioning.plugins.module_utils.common import atomic as _atomic


@pytest.fixture
def tmpdir_here(tmp_path, monkeypatch):
    """TMPDIR (and tempfile's cached value) pointed at a folder of this test."""
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    return tmp_path


def test_a_connection_keeps_its_tickets_in_the_users_private_folder(tmpdir_here):
    conn = _connection.Connection('dc1.corp.example.test', username='Administrator@CORP.EXAMPLE.TEST', password='x')
    folder = conn.workdir()
    assert os.path.dirname(folder) == _atomic.user_temp_root() == str(tmpdir_here / ('winimage-work-%d' % os.getuid()))
    assert os.path.basename(folder).startswith('krb5-')
    for path in (folder, os.path.dirname(folder)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    open(os.path.join(folder, 'ccache'), 'w').close()
    conn.close()
    assert not os.path.exists(folder)
    assert not os.path.exists(_atomic.user_temp_root()), 'the private folder goes with the last run that used it'


def test_a_killed_runs_ticket_folder_is_removed_by_the_next_run(tmpdir_here, collections_root):
    script = ('import sys, tempfile, time; tempfile.tempdir = sys.argv[1]\n'
              'from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import private_temp_dir\n'
              'folder = private_temp_dir("krb5-")\n'
              'open(folder + "/ccache", "w").write("ticket")\n'
              'print(folder, flush=True)\n'
              'time.sleep(60)\n')
    env = dict(os.environ, PYTHONPATH=collections_root)
    proc = subprocess.Popen([sys.executable, '-c', script, str(tmpdir_here)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        left = proc.stdout.readline().strip()
        assert os.path.isfile(os.path.join(left, 'ccache'))
        live = _atomic.private_temp_dir('krb5-')  # a run beside a live one leaves the live one's folder alone
        assert os.path.isdir(left)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert os.path.isdir(left)  # the kill left it behind
    again = _atomic.private_temp_dir('krb5-')
    assert not os.path.exists(left)
    assert os.path.isdir(live) and os.path.isdir(again)


def test_an_earlier_versions_ticket_folders_go_after_an_hour(tmpdir_here):
    old = tmpdir_here / 'odj-krb5-abc123'
    young = tmpdir_here / 'odj-krb5-def456'
    for folder in (old, young):
        folder.mkdir(mode=0o700)
        (folder / 'ccache').write_text('ticket')
    hour_ago = time.time() - _atomic.LEGACY_AGE - 60
    os.utime(old, (hour_ago, hour_ago))
    _atomic.private_temp_dir('krb5-', legacy_prefix='odj-krb5-')
    assert not old.exists()
    assert young.exists()


def test_a_private_folder_of_another_kind_is_refused(tmpdir_here):
    os.symlink(str(tmpdir_here), _atomic.user_temp_root())
    with pytest.raises(PermissionError, match='not a folder of this user'):
        _atomic.private_temp_dir('krb5-')


def test_a_work_folder_removed_by_another_run_is_made_again(tmp_path, monkeypatch):
    """Between this run's mkdir of the parent and its mkdtemp, another run removed the (then empty) parent."""
    parent = tmp_path / '.winimage-work'
    real_mkdtemp = tempfile.mkdtemp
    calls = []

    def racing_mkdtemp(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.rmdir(str(parent))  # the other run's remove_workdir(..., parent_too=True)
        return real_mkdtemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, 'mkdtemp', racing_mkdtemp)
    folder = _atomic.private_workdir(str(parent), 'stage-')
    assert os.path.isdir(folder) and os.path.dirname(folder) == str(parent) and len(calls) == 2
    assert stat.S_IMODE(os.stat(str(parent)).st_mode) == 0o700
    other = _atomic.private_workdir(str(parent), 'verify-')
    _atomic.remove_workdir(other, parent_too=True)
    assert os.path.isdir(str(parent)), 'a parent another run still uses stays'
    _atomic.remove_workdir(folder, parent_too=True)
    assert not parent.exists()
