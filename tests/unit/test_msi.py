# -*- coding: utf-8 -*-
"""MSI inspection (plugins/module_utils/complus/msi.py) on databases built here with msibuild.

The module reads installer databases in pure Python; msiinfo (msitools) is the
independent reference every table is compared with.
"""

import hashlib
import os
import shutil
import subprocess

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.complus import msi as _msi

pytestmark = pytest.mark.skipif(not (shutil.which('msibuild') and shutil.which('msiinfo')),
                                reason='msitools (msibuild, msiinfo) not installed; see bindep.txt')

PROPERTY = ("CREATE TABLE `Property` (`Property` CHAR(72) NOT NULL, `Value` LONGCHAR NOT NULL LOCALIZABLE "
            "PRIMARY KEY `Property`)")
FILE = ("CREATE TABLE `File` (`File` CHAR(72) NOT NULL, `Component_` CHAR(72) NOT NULL, `FileName` CHAR(255) NOT NULL "
        "LOCALIZABLE, `FileSize` LONG NOT NULL, `Version` CHAR(72), `Language` CHAR(20), `Attributes` SHORT, "
        "`Sequence` SHORT NOT NULL PRIMARY KEY `File`)")
COMPLUS = "CREATE TABLE `Complus` (`Component_` CHAR(72) NOT NULL, `ExpType` SHORT PRIMARY KEY `Component_`, `ExpType`)"


def list_tables(path):
    """User tables through the reader inspect_msi uses (system tables start with '_')."""
    with _msi.MsiDatabase(path) as db:
        return sorted(t for t in db.tables if t and not t.startswith('_'))


def read_table(path, table):
    with _msi.MsiDatabase(path) as db:
        return db.rows(table)


def _msibuild(path, *option):
    # one option per call: msibuild rejects some combinations of several options
    subprocess.run(['msibuild', path] + list(option), check=True, capture_output=True)


def build_msi(path, complus=True, product='Orders App'):
    _msibuild(path, '-s', product, 'Contoso', 'Intel;1033', '{11111111-2222-3333-4444-555555555555}')
    for query in (
        PROPERTY,
        "INSERT INTO `Property` (`Property`, `Value`) VALUES ('ProductName', '%s')" % product,
        "INSERT INTO `Property` (`Property`, `Value`) VALUES ('ProductCode', '{A0A0A0A0-B1B1-C2C2-D3D3-E4E4E4E4E4E4}')",
        "INSERT INTO `Property` (`Property`, `Value`) VALUES ('ProductVersion', '1.0.0')",
        "INSERT INTO `Property` (`Property`, `Value`) VALUES ('Manufacturer', 'Contoso')",
        FILE,
        "INSERT INTO `File` (`File`, `Component_`, `FileName`, `FileSize`, `Sequence`) "
        "VALUES ('apl', 'OrdersApl', 'ORDERS~1.APL|Orders App.apl', 2048, 1)",
        "INSERT INTO `File` (`File`, `Component_`, `FileName`, `FileSize`, `Version`, `Sequence`) "
        "VALUES ('dll', 'OrdersDll', 'Orders.dll', 40960, '1.2.3.4', 2)",
    ):
        _msibuild(path, '-q', query)
    if complus:
        _msibuild(path, '-q', COMPLUS)
        _msibuild(path, '-q', "INSERT INTO `Complus` (`Component_`, `ExpType`) VALUES ('OrdersApl', 0)")
    return path


@pytest.fixture(scope='module')
def msis(tmp_path_factory):
    base = tmp_path_factory.mktemp('msi')
    with_complus = build_msi(str(base / 'orders.msi'))
    without = build_msi(str(base / 'plain.msi'), complus=False, product='Plain Product')
    data = open(with_complus, 'rb').read()
    truncated = str(base / 'truncated.msi')
    with open(truncated, 'wb') as handle:
        handle.write(data[:1500])
    zeroed = str(base / 'zeroed.msi')
    with open(zeroed, 'wb') as handle:  # header intact, directory and streams wiped
        handle.write(data[:512] + b'\0' * (len(data) - 512))
    text = str(base / 'notes.msi')
    with open(text, 'w') as handle:
        handle.write('this is not an installer\n')
    empty = str(base / 'empty.msi')
    open(empty, 'wb').close()
    return {'complus': with_complus, 'plain': without, 'truncated': truncated, 'zeroed': zeroed,
            'text': text, 'empty': empty, 'dir': str(base)}


def test_complus_package(msis):
    info = _msi.inspect_msi(msis['complus'])
    data = open(msis['complus'], 'rb').read()
    assert info['size'] == len(data)
    assert info['sha256'] == hashlib.sha256(data).hexdigest()
    assert info['has_complus_table'] is True
    assert info['complus'] == [{'component': 'OrdersApl', 'exp_type': 0}]
    assert info['tables'] == ['Complus', 'File', 'Property']
    assert info['product_name'] == 'Orders App'
    assert info['product_code'] == '{A0A0A0A0-B1B1-C2C2-D3D3-E4E4E4E4E4E4}'
    assert info['manufacturer'] == 'Contoso'
    assert info['summary']['subject'] == 'Orders App'
    assert info['summary']['package_code'] == '{11111111-2222-3333-4444-555555555555}'
    by_key = dict((f['key'], f) for f in info['files'])
    assert by_key['apl'] == {'key': 'apl', 'component': 'OrdersApl', 'name': 'Orders App.apl', 'size': 2048, 'version': None}
    assert by_key['dll']['version'] == '1.2.3.4' and by_key['dll']['size'] == 40960
    assert info['apl_files'] == ['Orders App.apl']
    assert _msi.require_complus_package(info) is info


def test_package_without_complus_table(msis):
    info = _msi.inspect_msi(msis['plain'])
    assert info['has_complus_table'] is False
    assert info['complus'] == []
    assert info['product_name'] == 'Plain Product'
    with pytest.raises(_msi.MsiError, match='no Complus table'):
        _msi.require_complus_package(info)


def test_empty_complus_table(tmp_path):
    path = str(tmp_path / 'emptycomplus.msi')
    _msibuild(path, '-s', 'X', 'Y', 'Intel;1033', '{11111111-2222-3333-4444-555555555555}')
    _msibuild(path, '-q', COMPLUS)
    info = _msi.inspect_msi(path)
    assert info['has_complus_table'] and info['complus'] == []
    with pytest.raises(_msi.MsiError, match='Complus table is empty'):
        _msi.require_complus_package(info)


@pytest.mark.parametrize('which, message', [
    ('truncated', 'damaged'),
    ('zeroed', 'damaged|not a Windows Installer database|cannot be read'),
    ('text', 'not an OLE compound file'),
    ('empty', 'the file is empty'),
])
def test_corrupted_files(msis, which, message):
    with pytest.raises(_msi.MsiError, match=message) as info:
        _msi.inspect_msi(msis[which])
    assert msis[which] in str(info.value)


def test_missing_and_directory(msis):
    with pytest.raises(_msi.MsiError, match='no such file'):
        _msi.inspect_msi(os.path.join(msis['dir'], 'absent.msi'))
    with pytest.raises(_msi.MsiError, match='not a regular file'):
        _msi.inspect_msi(msis['dir'])


def msiinfo_rows(path, table):
    """A table as msiinfo exports it (IDT text), as dicts with typed values."""
    out = subprocess.run(['msiinfo', 'export', path, table], check=True, capture_output=True).stdout.decode('utf-8')
    lines = out.rstrip('\n').split('\n')
    columns, types = lines[0].rstrip('\r').split('\t'), lines[1].rstrip('\r').split('\t')
    rows = []
    for line in lines[3:]:
        cells = line.rstrip('\r').split('\t')
        cells += [''] * (len(columns) - len(cells))
        row = {}
        for name, kind, cell in zip(columns, types, cells):
            if kind[:1].lower() == 'i':
                row[name] = int(cell) if cell else None
            else:
                row[name] = cell if cell else None
        rows.append(row)
    return rows


def _row_key(row):
    return sorted((k, str(v)) for k, v in row.items())


def msiinfo_tables(path):
    out = subprocess.run(['msiinfo', 'tables', path], check=True, capture_output=True).stdout.decode('utf-8')
    return sorted(t for t in out.split() if not t.startswith('_'))


@pytest.mark.parametrize('which', ['complus', 'plain'])
def test_tables_agree_with_msiinfo(msis, which):
    path = msis[which]
    assert list_tables(path) == msiinfo_tables(path)
    for table in list_tables(path):
        assert sorted(read_table(path, table), key=_row_key) == sorted(msiinfo_rows(path, table), key=_row_key), table


def test_values_nulls_negatives_and_many_strings(tmp_path):
    path = str(tmp_path / 'values.msi')
    _msibuild(path, '-s', 'Values', 'Contoso', 'Intel;1033', '{11111111-2222-3333-4444-555555555555}')
    _msibuild(path, '-q', "CREATE TABLE `T` (`K` CHAR(72) NOT NULL, `S` SHORT, `L` LONG, `Txt` CHAR(0) LOCALIZABLE PRIMARY KEY `K`)")
    inserts = ["INSERT INTO `T` (`K`, `S`, `L`, `Txt`) VALUES ('neg', -5, -70000, 'caf\u00e9')",
               "INSERT INTO `T` (`K`, `S`, `L`) VALUES ('zero', 0, 0)",
               "INSERT INTO `T` (`K`) VALUES ('nulls')"]
    for query in inserts:
        _msibuild(path, '-q', query)
    for i in range(40):
        _msibuild(path, '-q', "INSERT INTO `T` (`K`, `S`, `L`, `Txt`) VALUES ('row%02d', %d, %d, 'text %d')" % (i, i, 100000 + i, i))
    rows = dict((r['K'], r) for r in read_table(path, 'T'))
    assert rows['neg']['S'] == -5 and rows['neg']['L'] == -70000
    assert rows['zero']['S'] == 0 and rows['zero']['L'] == 0
    assert rows['nulls'] == {'K': 'nulls', 'S': None, 'L': None, 'Txt': None}
    assert rows['row39'] == {'K': 'row39', 'S': 39, 'L': 100039, 'Txt': 'text 39'}
    assert len(rows) == 43
    assert sorted(read_table(path, 'T'), key=_row_key) == sorted(msiinfo_rows(path, 'T'), key=_row_key)


def test_unknown_table(msis):
    with pytest.raises(_msi.MsiError, match='has no table Nope'):
        read_table(msis['complus'], 'Nope')


def test_stream_names():
    assert _msi.decode_stream_name(u'\u4840\u3b3f\u43f2\u4438\u45b1') == u'\u4840_Columns'
    assert _msi.decode_stream_name(u'\u4840\u430f\u422f') == u'\u4840File'
    assert _msi.decode_stream_name(u'\x05SummaryInformation') == u'\x05SummaryInformation'


def test_long_file_names():
    assert _msi.long_file_name('SHORT~1.DLL|Long Name.dll') == 'Long Name.dll'
    assert _msi.long_file_name('plain.dll') == 'plain.dll'
    assert _msi.long_file_name(None) is None
