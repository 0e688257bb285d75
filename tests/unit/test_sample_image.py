# -*- coding: utf-8 -*-
"""scripts/make-sample-image: a from-scratch regf hive that libhivex, regipy and hivexregedit all accept."""

import importlib.machinery
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys

import pytest
from regipy.registry import RegistryHive

from ansible_collections.winimage.provisioning.plugins.module_utils.image import hive_log as hl
from ansible_collections.winimage.provisioning.plugins.module_utils.image import hivex as hx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, 'scripts', 'make-sample-image')


def load_script():
    loader = importlib.machinery.SourceFileLoader('make_sample_image', SCRIPT)
    spec = importlib.util.spec_from_loader('make_sample_image', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_empty_hive_is_valid_regf(tmp_path):
    script = load_script()
    data = script.empty_hive()
    assert len(data) == 8192 and data[:4] == b'regf' and data[4096:4100] == b'hbin'
    path = tmp_path / 'EMPTY'
    path.write_bytes(data)
    header = hl.read_header(str(path))
    assert header['checksum_ok'] and not header['dirty'] and header['hbins_size'] == 4096
    with hx.Hive(str(path)) as hive:
        assert hive.name(hive.root()) == 'ROOT' and hive.children(hive.root()) == []
    assert [k.path for k in RegistryHive(str(path)).recurse_subkeys()] == ['\\']


def run(*args):
    proc = subprocess.run([sys.executable, SCRIPT] + list(args), stdout=subprocess.PIPE, check=True)
    return json.loads(proc.stdout)


def test_images_have_the_keys_the_requester_needs(tmp_path):
    summary = run('--out', str(tmp_path / 'out'), '--count', '3', '--unattend')
    assert [i['name'] for i in summary['images']] == ['sample-01', 'sample-02', 'sample-03'] and summary['wim'] is None
    for image in summary['images']:
        system = image['system_hive']
        assert system == os.path.join(image['path'], 'Windows', 'System32', 'config', 'SYSTEM')
        reg = RegistryHive(system)
        assert reg.get_key('\\Select').get_value('Current') == 1
        cs = '\\ControlSet001'
        assert reg.get_key(cs + '\\Control\\ComputerName\\ComputerName').get_value('ComputerName') == image['machine_name']
        assert reg.get_key(cs + '\\Control\\Session Manager\\Environment').get_value('PROCESSOR_ARCHITECTURE') == 'AMD64'
        for key in ('\\Services\\Tcpip\\Parameters', '\\Services\\Netlogon', '\\Control\\Lsa'):
            assert reg.get_key(cs + key) is not None
        assert not hl.read_header(system)['dirty']
        assert os.path.isfile(os.path.join(image['path'], 'Windows', 'Panther', 'unattend.xml'))
    if shutil.which('hivexregedit'):
        out = subprocess.run(['hivexregedit', '--export', '--unsafe-printable-strings', summary['images'][0]['system_hive'], '\\'],
                             stdout=subprocess.PIPE, check=True).stdout.decode('utf-8')
        assert '"PROCESSOR_ARCHITECTURE"=str(1):"AMD64"' in out


def test_no_microsoft_bytes_only_generated(tmp_path):
    summary = run('--out', str(tmp_path / 'out'))
    with open(summary['images'][0]['system_hive'], 'rb') as handle:
        data = handle.read()
    # the base block names the hive we made, with our own sequence numbers
    assert struct.unpack('<II', data[4:12])[0] >= 1
    assert data[48:60].decode('utf-16-le') == 'SYSTEM'


@pytest.mark.skipif(not shutil.which('wimlib-imagex'), reason='wimlib-imagex (wimtools) not installed')
def test_wim_with_one_image_per_folder(tmp_path):
    summary = run('--out', str(tmp_path / 'out'), '--count', '2', '--wim', '--arch', 'x86')
    info = subprocess.run(['wimlib-imagex', 'info', summary['wim']], stdout=subprocess.PIPE, check=True).stdout.decode()
    assert 'Image Count:    2' in info and 'sample-01' in info and 'sample-02' in info
    dest = tmp_path / 'x'
    subprocess.run(['wimlib-imagex', 'extract', summary['wim'], '2', '/Windows/System32/config/SYSTEM', '--dest-dir=%s' % dest,
                    '--no-acls'], check=True, stdout=subprocess.DEVNULL)
    reg = RegistryHive(str(dest / 'SYSTEM'))
    assert reg.get_key('\\ControlSet001\\Control\\ComputerName\\ComputerName').get_value('ComputerName') == 'SAMPLE-02'
    assert reg.get_key('\\ControlSet001\\Control\\Session Manager\\Environment').get_value('PROCESSOR_ARCHITECTURE') == 'x86'


def test_bad_count_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT, '--out', str(tmp_path / 'o'), '--count', '0'], stderr=subprocess.PIPE, check=False)
    assert proc.returncode != 0 and b'--count' in proc.stderr
