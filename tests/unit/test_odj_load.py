# -*- coding: utf-8 -*-
"""The one package loader (odj.load.load_package): hostile files, size cap, damaged packages, every caller.

Bit flips: 60 seeded single-bit flips of each real package (../shared/fixtures/odj, made against a Samba DC with
net offlinejoin), in raw and in djoin file form; none may raise anything but PackageLoadError, and at least three
quarters must be refused (a flip in the machine password or a name is only caught because the package carries the
join data twice).
"""

import os
import random
import subprocess
import sys
import time

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import load as L
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T
from ansible_collections.winimage.provisioning.plugins.module_utils.common import vault as _vault

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', '..', 'shared', 'fixtures', 'odj')
FLIPS = 60


def fixtures():
    """The Samba-made packages of ../shared; without ../shared, one parameter that skips (a failure under CI)."""
    if not os.path.isdir(FIXTURES):
        return [pytest.param(None, marks=pytest.mark.skip(reason='../shared (fixtures beside the checkout) is absent'))]
    names = sorted(n for n in os.listdir(FIXTURES) if n.endswith('.djoin'))
    assert names, 'no packages in %s' % FIXTURES
    return [os.path.join(FIXTURES, n) for n in names]


@pytest.fixture
def djoin(shared_dir):
    with open(fixtures()[0], 'rb') as handle:
        return handle.read()


def test_every_form_loads_to_the_same_package(djoin, tmp_path):
    raw = T.to_raw(djoin)
    for value in (djoin, raw, T.to_base64(raw), T.to_base64(raw).encode(), '\ufeff' + T.to_base64(raw) + '\x00',
                  T.to_base64(djoin)):
        loaded = L.load_package(data=value)
        assert loaded.raw == raw and loaded.pd.win7.machine_name and not loaded.vaulted
    path = tmp_path / 'p.djoin'
    path.write_bytes(djoin)
    assert L.load_package(path=str(path)).form == 'djoin_file'
    sealed = _vault.encrypt(djoin, 'pw')
    path.write_bytes(sealed)
    loaded = L.load_package(path=str(path), vault_password='pw')
    assert loaded.raw == raw and loaded.vaulted
    # the base64 of a vault file (ansible.builtin.slurp)
    assert L.load_package(data=T.to_base64(sealed), vault_password='pw').raw == raw
    with pytest.raises(L.PackageLoadError, match='no vault password'):
        L.load_package(path=str(path))
    with pytest.raises(L.PackageLoadError, match='could not be decrypted') as info:
        L.load_package(path=str(path), vault_password='wrong')
    assert 'wrong' not in str(info.value)


@pytest.mark.parametrize('special', ['/dev/zero', '/dev/urandom', 'fifo', 'folder', 'socket'])
def test_anything_but_a_regular_file_is_refused_before_reading(tmp_path, special):
    if special == 'fifo':
        path = str(tmp_path / 'fifo')
        os.mkfifo(path)  # opening it for reading would block for ever
    elif special == 'folder':
        path = str(tmp_path)
    elif special == 'socket':
        import socket
        path = str(tmp_path / 'sock')
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
    else:
        path = special
    started = time.monotonic()
    with pytest.raises(L.PackageLoadError, match='not a package file') as info:
        L.load_package(path=path)
    assert path in str(info.value)
    assert time.monotonic() - started < 5


def test_dev_zero_through_a_symlink_is_refused(tmp_path):
    link = tmp_path / 'pkg.djoin'
    link.symlink_to('/dev/zero')
    with pytest.raises(L.PackageLoadError, match='character device'):
        L.load_package(path=str(link))


def test_a_300_mb_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / 'big.djoin'
    with open(path, 'wb') as handle:
        handle.truncate(300 * 1024 * 1024)  # sparse: costs no disk
    started = time.monotonic()
    with pytest.raises(L.PackageLoadError, match='more than the %d' % L.MAX_PACKAGE_BYTES):
        L.load_package(path=str(path))
    assert time.monotonic() - started < 5


def test_a_file_growing_after_the_check_is_still_capped(tmp_path, monkeypatch):
    path = tmp_path / 'grows.djoin'
    path.write_bytes(b'A' * 16)
    real_fstat = os.fstat

    def fstat_then_grow(fd):
        result = real_fstat(fd)
        with open(path, 'ab') as handle:
            handle.write(b'A' * 2048)
        return result
    monkeypatch.setattr(os, 'fstat', fstat_then_grow)
    with pytest.raises(L.PackageLoadError, match='more than the 1024 bytes'):
        L.load_package(path=str(path), max_bytes=1024)


def test_huge_data_is_refused(djoin):
    with pytest.raises(L.PackageLoadError, match='more than the'):
        L.load_package(data='A' * (L.MAX_PACKAGE_BYTES + 1))


def test_odj_package_info_on_dev_zero_returns_within_seconds(collections_root):
    """The module itself, end to end: a device that never ends is refused before it is read."""
    import json
    args = json.dumps({'ANSIBLE_MODULE_ARGS': {'path': '/dev/zero'}})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.winimage.provisioning.plugins.modules.odj_package_info'],
                          input=args.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False,
                          env=dict(os.environ, PYTHONPATH=collections_root))
    assert time.monotonic() - started < 30
    result = json.loads(proc.stdout)
    assert result['failed'] and 'character device' in result['msg']


def flips(raw, seed, count=FLIPS):
    rnd = random.Random(seed)
    for dummy in range(count):
        bit = rnd.randrange(len(raw) * 8)
        damaged = bytearray(raw)
        damaged[bit // 8] ^= 1 << (bit % 8)
        yield bytes(damaged)


@pytest.mark.parametrize('path', fixtures(), ids=lambda p: os.path.basename(p) if p else 'no-shared')
@pytest.mark.parametrize('form', ['raw', 'djoin_file'])
def test_seeded_bit_flips_are_refused_cleanly(path, form):
    with open(path, 'rb') as handle:
        raw = T.to_raw(handle.read())
    original = P.decode(raw)
    data = raw if form == 'raw' else T.to_djoin_file(raw)
    refused = 0
    for damaged in flips(data, seed=os.path.basename(path)):
        try:
            loaded = L.load_package(data=damaged)
        except L.PackageLoadError as exc:
            refused += 1
            assert original.win7.machine_password not in str(exc)
            continue
        # whatever is accepted is still the same machine with the same password (the damage is elsewhere)
        assert loaded.pd.win7 == original.win7
    assert refused >= FLIPS * 3 // 4, 'only %d of %d flips refused' % (refused, FLIPS)


def test_copies_that_disagree_are_refused(djoin):
    pd = P.decode(djoin)
    pd.parts[0].payload.machine_password = pd.win7.machine_password + 'x'
    with pytest.raises(L.PackageLoadError, match='two copies of the join data disagree in machine_password') as info:
        L.load_package(data=P.encode(pd))
    assert pd.win7.machine_password not in str(info.value)


def test_rid_and_sid_must_agree(djoin):
    pd = P.decode(djoin)
    part = [p for p in pd.parts if p.part_type == P.PART_JOINPROV3][0]
    part.payload.rid += 1
    with pytest.raises(L.PackageLoadError, match='machine SID does not end with the RID'):
        L.load_package(data=P.encode(pd))


def test_string_max_count_must_equal_its_length(djoin):
    raw = bytearray(T.to_raw(djoin))
    name = P.decode(raw).win7.machine_name
    needle = (name + '\x00').encode('utf-16-le')
    count = len(name) + 1
    at = bytes(raw).index(needle)
    while at >= 0:  # both copies of the join data, so that they still agree
        assert raw[at - 12:at - 8] == count.to_bytes(4, 'little')  # max count, offset, actual count, text
        raw[at - 12:at - 8] = (count + 1).to_bytes(4, 'little')
        at = bytes(raw).find(needle, at + 1)
    pd = P.decode(bytes(raw))  # NDR allows it...
    assert P.encode(pd) == bytes(raw)
    with pytest.raises(L.PackageLoadError, match='maximum count differs'):  # ...no writer produces it
        L.load_package(data=bytes(raw))


def test_no_loader_outside_module_utils_reads_or_decodes_a_package():
    """One loader: no plugin decodes or reads a package itself."""
    root = os.path.join(HERE, '..', '..', 'plugins')
    offenders = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            codec = os.path.join(root, 'module_utils', 'odj')
            if not name.endswith('.py') or (os.path.dirname(path) == codec
                                            and name in ('load.py', 'package.py', 'ndr.py', 'text.py')):
                continue
            with open(path) as handle:
                text = handle.read()
            for needle in ('odj.package import decode', 'import decode\n', 'decode, ', ' decode(', 'to_raw(',
                           'get_real_file(', 'VaultLib(vault_secrets).decrypt(bytes'):
                if needle in text:
                    offenders.append('%s: %s' % (os.path.relpath(path, root), needle.strip()))
    assert offenders == []
