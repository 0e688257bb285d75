# -*- coding: utf-8 -*-
"""Dirty-hive detection and transaction-log replay on real Windows hives."""

import hashlib
import lzma
import os
import shutil
import subprocess

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image import hive_log as hl
from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as hx


def unpack(shared_dir, name, dest, as_name=None):
    src = os.path.join(shared_dir, 'fixtures', 'hives', name + '.xz')
    out = os.path.join(str(dest), as_name or name)
    with lzma.open(src) as fin, open(out, 'wb') as fout:
        shutil.copyfileobj(fin, fout)
    return out


def sha(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_clean_windows7_hive(shared_dir, tmp_path):
    path = unpack(shared_dir, 'SYSTEM', tmp_path)
    header = hl.read_header(path)
    assert not header['dirty'] and header['primary_sequence'] == header['secondary_sequence']
    state = hl.prepare(path, str(tmp_path / 'work'))
    assert state['source'] == path and not state['dirty'] and state['logs'] == []


def test_dirty_windows10_hive_without_logs_is_refused(shared_dir, tmp_path):
    path = unpack(shared_dir, 'SYSTEM_WIN_10_1709', tmp_path, 'SYSTEM')
    before = sha(path)
    header = hl.read_header(path)
    assert header['dirty'] and (header['primary_sequence'], header['secondary_sequence']) == (4317, 4316)
    with pytest.raises(hl.DirtyHiveError) as err:
        hl.prepare(path, str(tmp_path / 'work'))
    message = str(err.value)
    assert '4317' in message and '4316' in message and 'LOG1' in message and 'allow_dirty' in message
    assert 'lost' in message
    state = hl.prepare(path, str(tmp_path / 'work'), allow_dirty=True)
    assert state['dirty_accepted'] and state['source'] == path
    assert sha(path) == before


def test_dirty_hive_with_logs_is_replayed_into_a_clean_copy(shared_dir, tmp_path):
    hive = unpack(shared_dir, 'transactions_NTUSER.DAT', tmp_path)
    log1 = unpack(shared_dir, 'transactions_ntuser.dat.log1', tmp_path)
    log2 = unpack(shared_dir, 'transactions_ntuser.dat.log2', tmp_path)
    hashes = [sha(p) for p in (hive, log1, log2)]
    assert hl.find_logs(hive) == [log1, log2]
    out = str(tmp_path / 'replayed')
    state = hl.prepare(hive, out)
    assert state['source'] == out and state['replayed_pages'] > 0 and state['logs'] == [log1, log2]
    header = hl.read_header(out)
    assert not header['dirty'] and header['checksum_ok']
    assert header['primary_sequence'] > 567
    assert [sha(p) for p in (hive, log1, log2)] == hashes, 'the originals are never modified'
    # the replayed hive is fully readable by libhivex and by hivexregedit
    with hx.Hive(out) as opened:
        keys_after = sum(1 for _item in hx.walk(opened))
    with hx.Hive(hive) as opened:
        keys_before = sum(1 for _item in hx.walk(opened))
    assert keys_after != keys_before, 'the logs carried key changes'
    proc = subprocess.run(['hivexregedit', '--export', '--unsafe-printable-strings', out, '\\'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0 and b'Bad address' not in proc.stderr


def test_stale_log_alone_is_not_replayed(shared_dir, tmp_path):
    hive = unpack(shared_dir, 'transactions_NTUSER.DAT', tmp_path)
    log2 = unpack(shared_dir, 'transactions_ntuser.dat.log2', tmp_path)
    # LOG2's sequence number (562) is older than the hive's secondary (566): replaying it would go back in time.
    with pytest.raises(hl.DirtyHiveError, match='no usable transaction log'):
        hl.replay(hive, str(tmp_path / 'out'), [log2])


def test_truncated_and_corrupted_hives(shared_dir, tmp_path):
    path = unpack(shared_dir, 'SYSTEM', tmp_path)
    with open(path, 'rb') as handle:
        data = handle.read()
    short = tmp_path / 'short'
    short.write_bytes(data[:len(data) // 2])
    with pytest.raises(hl.HiveFormatError, match='truncated'):
        hl.read_header(str(short))
    tiny = tmp_path / 'tiny'
    tiny.write_bytes(data[:1000])
    with pytest.raises(hl.HiveFormatError, match='truncated'):
        hl.read_header(str(tiny))
    bad = bytearray(data[:8192])
    bad[0x30] ^= 0xFF
    corrupt = tmp_path / 'corrupt'
    corrupt.write_bytes(bytes(bad) + data[8192:])
    with pytest.raises(hl.HiveFormatError, match='checksum'):
        hl.read_header(str(corrupt))
    junk = tmp_path / 'junk'
    junk.write_bytes(b'\x00' * 8192)
    with pytest.raises(hl.HiveFormatError, match='not a registry hive'):
        hl.read_header(str(junk))
