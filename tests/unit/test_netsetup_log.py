# -*- coding: utf-8 -*-
"""The NetSetup-style operation log: format, permissions, appends, and the secret scrubber."""

import datetime
import multiprocessing
import os
import re
import stat

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.common import netsetup_log as L

SECRET = 'Machine-Pa55word-for-unit-tests'
LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+)\[(\d+)\] (\S+) (.*) -> (.*) '
                  r'status=0x([0-9a-f]+) (\S+) \((\d+)\)$')


def test_line_format_and_status_names(tmp_path):
    log = L.NetSetupLog(str(tmp_path / 'logs' / 'netsetup.log'), program='odj_provision')
    when = datetime.datetime(2026, 11, 21, 13, 18, 22, 123456, tzinfo=datetime.timezone.utc)
    line = log.write('provision', {'machine': 'WS01', 'domain': 'corp.example.test', 'dc': 'dc1.corp.example.test'},
                     'created the account and wrote /srv/odj/WS01.djoin', 0, when=when)
    match = LINE.match(line)
    assert match, line
    assert match.group(1) == '2026-11-21T13:18:22.123Z'
    assert match.group(2) == 'odj_provision' and int(match.group(3)) == os.getpid()
    assert match.group(4) == 'provision'
    assert match.group(5) == 'dc=dc1.corp.example.test domain=corp.example.test machine=WS01'
    assert match.group(6) == '"created the account and wrote /srv/odj/WS01.djoin"'
    assert (match.group(7), match.group(8), match.group(9)) == ('0', 'NERR_Success', '0')
    assert L.read_lines(log.path) == [line]

    line = log.write('provision', {'machine': 'WS02'}, 'account exists, reuse not set', 'NERR_UserExists')
    assert line.endswith('status=0x8b0 NERR_UserExists (2224)')
    line = log.write('provision', {'machine': 'WS03'}, 'refused', 1354)
    assert line.endswith('status=0x54a ERROR_INVALID_DOMAIN_ROLE (1354)')
    line = log.write('provision', {'machine': 'WS04'}, 'quota', 8557)
    assert 'ERROR_DS_MACHINE_ACCOUNT_QUOTA_EXCEEDED (8557)' in line
    assert len(L.read_lines(log.path)) == 4


def test_values_never_break_the_line(tmp_path):
    log = L.NetSetupLog(str(tmp_path / 'n.log'))
    line = log.write('install', {'image': '/srv/a b/"x"\nrm -rf\r\t\x00\u2028'}, 'multi\nline', 0)
    assert '\n' not in line and '\r' not in line and '\u2028' not in line
    assert 'image="/srv/a b/\\"x\\"\\nrm -rf\\r\\t\\x00\\u2028"' in line
    assert len(L.read_lines(log.path)) == 1


def test_permissions_folder_0700_file_0600_and_fixed_when_loose(tmp_path):
    folder = tmp_path / 'var' / 'log' / 'winimage-provisioning'
    log = L.NetSetupLog(str(folder / 'netsetup.log'))
    log.write('provision', {'machine': 'WS01'}, 'done', 0)
    assert stat.S_IMODE(os.stat(str(folder)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    os.chmod(log.path, 0o644)
    log.write('provision', {'machine': 'WS02'}, 'done', 0)
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    assert len(L.read_lines(log.path)) == 2


def test_existing_content_is_kept_appends_only(tmp_path):
    path = tmp_path / 'netsetup.log'
    path.write_text('earlier line\n')
    os.chmod(str(path), 0o600)
    L.NetSetupLog(str(path)).write('verify', {'machine': 'WS01'}, 'ok', 0)
    lines = L.read_lines(str(path))
    assert lines[0] == 'earlier line' and len(lines) == 2


def test_refuses_to_follow_a_symlink(tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text('')
    link = tmp_path / 'netsetup.log'
    os.symlink(str(target), str(link))
    with pytest.raises(L.NetSetupLogError):
        L.NetSetupLog(str(link)).write('provision', {}, 'x', 0)
    assert target.read_text() == ''


def test_scrubber_refuses_a_line_with_a_registered_secret(tmp_path):
    log = L.NetSetupLog(str(tmp_path / 'n.log'))
    log.register_secret(SECRET)
    log.register_secret(b'QUJDREVGR0g=base64-package-text')
    for asked, done in (({'machine': SECRET}, 'x'), ({'machine': 'WS01'}, 'pwd is %s!' % SECRET),
                        ({'note': 'QUJDREVGR0g=base64-package-text'}, 'x')):
        with pytest.raises(L.SecretInLogLine) as info:
            log.write('provision', asked, done, 0)
        assert SECRET not in str(info.value)
    assert not os.path.exists(log.path)
    # a secret with characters the quoting escapes is still caught
    log.register_secret('pa"ss\\word')
    with pytest.raises(L.SecretInLogLine):
        log.write('provision', {'m': 'pa"ss\\word'}, 'x', 0)
    with pytest.raises(ValueError):
        log.register_secret('abc')


def test_secret_keys_are_never_written(tmp_path):
    log = L.NetSetupLog(str(tmp_path / 'n.log'))
    line = log.write('provision', {'domain_password': 'whatever-1', 'password': 'whatever-2', 'machine': 'WS01'},
                     'done', 0)
    assert 'whatever' not in line and 'domain_password="<not logged>"' in line
    assert 'whatever' not in (tmp_path / 'n.log').read_text()


def test_log_operation_withholds_and_warns(tmp_path):
    log = L.NetSetupLog(str(tmp_path / 'n.log'), secrets=[SECRET])
    assert L.log_operation(log, 'provision', {'machine': 'WS01'}, 'ok', 0) is None
    warning = L.log_operation(log, 'provision', {'machine': SECRET}, 'ok', 0)
    assert 'withheld' in warning and SECRET not in warning
    text = (tmp_path / 'n.log').read_text()
    assert SECRET not in text
    assert 'line withheld' in text.splitlines()[1]
    blocked = tmp_path / 'file-not-folder'
    blocked.write_text('')
    warning = L.log_operation(L.NetSetupLog(str(blocked / 'n.log')), 'provision', {}, 'ok', 0)
    assert warning.startswith('NetSetup log not written')
    assert L.log_operation(None, 'provision', {}, 'ok', 0) is None


def test_default_paths(tmp_path):
    assert L.default_log_path() == '/var/log/winimage-provisioning/netsetup.log'
    image = tmp_path / 'images' / 'win11.wim'
    assert L.default_log_path('requester', str(image)) == str(tmp_path / 'images' / 'netsetup.log')
    assert L.default_log_path('requester') == '/var/log/winimage-provisioning/netsetup.log'


def _writer(path, index):
    log = L.NetSetupLog(path, program='w%d' % index)
    for n in range(50):
        log.write('provision', {'machine': 'WS%02d%02d' % (index, n), 'pad': 'x' * 300}, 'done', 0)


def test_concurrent_writers_do_not_interleave(tmp_path):
    path = str(tmp_path / 'n.log')
    procs = [multiprocessing.Process(target=_writer, args=(path, i)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    lines = L.read_lines(path)
    assert len(lines) == 200
    assert all(LINE.match(line) for line in lines)
    assert len(set(re.search(r'machine=(\S+)', line).group(1) for line in lines)) == 200


def test_log_for_modules(tmp_path):
    assert L.log_for('') is None
    assert L.log_for().path == '/var/log/winimage-provisioning/netsetup.log'
    image = tmp_path / 'win.wim'
    log = L.log_for(None, 'requester', str(image), program='odj_install', secrets=[SECRET])
    assert log.path == str(tmp_path / 'netsetup.log') and log.program == 'odj_install'
    with pytest.raises(L.SecretInLogLine):
        log.scrub('text with %s in it' % SECRET)
    assert L.log_for(str(tmp_path / 'x.log')).path == str(tmp_path / 'x.log')
