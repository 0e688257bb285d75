# -*- coding: utf-8 -*-
"""libhivex through ctypes: read a real Windows hive, write one, read it back with regipy."""

import hashlib
import lzma
import os
import shutil
import struct

import pytest
from regipy.registry import RegistryHive

from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as hx


def value_of(hive, node, name):
    """(type, bytes) of a value by name, case-insensitive, through Hive.values; None when absent."""
    for vname, vtype, data in hive.values(node):
        if vname.lower() == name.lower():
            return vtype, data
    return None


def unpack(shared_dir, name, dest):
    src = os.path.join(shared_dir, 'fixtures', 'hives', name + '.xz')
    out = os.path.join(str(dest), name)
    with lzma.open(src) as fin, open(out, 'wb') as fout:
        shutil.copyfileobj(fin, fout)
    return out


def sha(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def win7(shared_dir, tmp_path):
    return unpack(shared_dir, 'SYSTEM', tmp_path)


def test_reads_real_windows7_system_hive_like_regipy(win7):
    reg = RegistryHive(win7)
    with hx.Hive(win7) as hive:
        select = hive.navigate('Select')
        vtype, data = value_of(hive, select, 'Current')
        assert vtype == hx.REG_DWORD
        current = hx.decode_value(vtype, data)
        assert current == reg.get_key('\\Select').get_value('Current')
        cs = 'ControlSet%03d' % current
        node = hive.navigate(cs + '\\Control\\ComputerName\\ComputerName')
        name = hx.decode_value(*value_of(hive, node, 'ComputerName'))
        assert name == reg.get_key('\\%s\\Control\\ComputerName\\ComputerName' % cs).get_value('ComputerName')
        # every subkey name of Services matches regipy's listing
        services = hive.navigate(cs + '\\Services')
        ours = sorted(hive.name(c).lower() for c in hive.children(services))
        theirs = sorted(s.name.lower() for s in reg.get_key('\\%s\\Services' % cs).iter_subkeys())
        assert ours == theirs and len(ours) > 100


def test_lookup_is_case_insensitive_and_missing_is_none(win7):
    with hx.Hive(win7) as hive:
        assert hive.navigate('select') == hive.navigate('SELECT')
        assert hive.navigate('Select\\NoSuchKey') is None
        assert value_of(hive, hive.navigate('Select'), 'current') == value_of(hive, hive.navigate('SELECT'), 'Current')
        assert value_of(hive, hive.navigate('Select'), 'NoSuchValue') is None


def test_write_commit_and_read_back_with_regipy(win7, tmp_path):
    before = sha(win7)
    out = str(tmp_path / 'out')
    with hx.Hive(win7, write=True) as hive:
        node = hive.navigate('Setup\\WinimageTest\\Deep Key', create=True)
        hive.set_value(node, 'Text', hx.REG_SZ, hx.encode_sz('héllo wörld'))
        hive.set_value(node, 'Number', hx.REG_DWORD, hx.encode_dword(0xE00013FD))
        hive.set_value(node, 'Blob', hx.REG_BINARY, bytes(range(16)))
        hive.set_value(node, 'Multi', hx.REG_MULTI_SZ, hx.encode_value(hx.REG_MULTI_SZ, ['a', 'b']))
        hive.set_value(node, 'Number', hx.REG_DWORD, hx.encode_dword(7))  # replace keeps one value
        hive.commit(out)
    assert sha(win7) == before, 'commit to another path must not touch the opened file'
    key = RegistryHive(out).get_key('\\Setup\\WinimageTest\\Deep Key')
    values = dict((v.name, (v.value_type, v.value)) for v in key.iter_values(trim_values=False))
    assert values == {'Text': ('REG_SZ', 'héllo wörld'), 'Number': ('REG_DWORD', 7),
                      'Blob': ('REG_BINARY', bytes(range(16))), 'Multi': ('REG_MULTI_SZ', ['a', 'b'])}
    with open(out, 'rb') as handle:
        seq1, seq2 = struct.unpack('<II', handle.read(12)[4:12])
    assert seq1 == seq2, 'libhivex writes a clean hive'


def test_delete_child_removes_subtree(win7, tmp_path):
    out = str(tmp_path / 'out')
    with hx.Hive(win7, write=True) as hive:
        node = hive.navigate('Setup\\ToDelete\\Sub', create=True)
        hive.set_value(node, 'x', hx.REG_DWORD, hx.encode_dword(1))
        hive.delete_child(hive.navigate('Setup\\ToDelete'))
        assert hive.navigate('Setup\\ToDelete') is None
        hive.commit(out)
    with hx.Hive(out) as hive:
        assert hive.navigate('Setup\\ToDelete') is None
        assert hive.navigate('Setup') is not None


def test_read_only_handle_refuses_writes(win7):
    with hx.Hive(win7) as hive:
        with pytest.raises(hx.HivexError, match='read-only'):
            hive.set_value(hive.root(), 'x', hx.REG_DWORD, hx.encode_dword(1))


def test_not_a_hive_is_a_clear_error(tmp_path):
    bogus = tmp_path / 'SYSTEM'
    bogus.write_bytes(b'this is not a registry hive' * 100)
    with pytest.raises(hx.HivexError, match='not a registry hive'):
        hx.Hive(str(bogus))
    with pytest.raises(hx.HivexError, match='not a file'):
        hx.Hive(str(tmp_path / 'absent'))


def test_walk_matches_hivexregedit_key_count(win7):
    import subprocess
    if not shutil.which('hivexregedit'):
        pytest.skip('hivexregedit (libwin-hivex-perl) not installed')
    export = subprocess.run(['hivexregedit', '--export', '--unsafe-printable-strings', win7, '\\'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    keys = sum(1 for line in export.splitlines() if line.startswith(b'[\\'))
    with hx.Hive(win7) as hive:
        assert sum(1 for _item in hx.walk(hive)) == keys


def test_value_codec_roundtrip():
    for vtype, value in ((hx.REG_SZ, 'x'), (hx.REG_DWORD, 5), (hx.REG_QWORD, 2 ** 40), (hx.REG_MULTI_SZ, ['a', 'bc']),
                         (hx.REG_BINARY, b'\x00\x01')):
        assert hx.decode_value(vtype, hx.encode_value(vtype, value)) == value
