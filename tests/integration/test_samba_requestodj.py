# -*- coding: utf-8 -*-
"""An independent consumer of what win_odj_provision writes: Samba's ``net offlinejoin requestodj``.

The Windows host is replaced by a connection stub whose NetCreateProvisioningPackage answer is a
real Samba-made package (../shared fixtures); the file the action plugin renders and sends to the
host is handed to ``net offlinejoin requestodj loadfile=`` with a throwaway smb.conf. Samba must
accept it and store the package's machine password for the package's domain in its secrets.tdb.
"""

import base64
import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.winimage.provisioning.plugins.action import win_odj_provision as act
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw

from win_action_stub import run_action

pytestmark = pytest.mark.skipif(shutil.which('net') is None or shutil.which('tdbdump') is None,
                                reason='Samba net / tdbdump not installed')


@pytest.fixture(scope='module')
def raw(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return to_raw(handle.read())


def rendered_by_the_plugin(raw, package_format):
    written = {}

    def write(module_args):
        written['data'] = base64.b64decode(module_args['_content'])
        return {'changed': True, 'size': len(written['data'])}

    result, dummy = run_action(act.ActionModule, {'domain': 'corp.example.test', 'machine_name': 'KIOSK-07',
                                                  'dest': 'C:\\odj\\KIOSK-07.djoin', 'package_format': package_format},
                               {'query': {'folder_exists': True, 'exists': False, 'is_file': False},
                                'create': {'changed': True, 'status': 0, 'package_raw': base64.b64encode(raw).decode()},
                                'write': write})
    assert result['changed'] and not result.get('failed')
    return written['data']


def request_odj(tmp_path, data, pd):
    root = tmp_path / 'samba'
    for sub in ('private', 'lock', 'state', 'cache'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / 'smb.conf'
    conf.write_text('[global]\nworkgroup = %s\nrealm = %s\nsecurity = ads\nnetbios name = %s\nprivate dir = %s\n'
                    'lock directory = %s\nstate directory = %s\ncache directory = %s\n' % (
                        pd.win7.dns_domain_info.name, pd.win7.dns_domain_info.dns_domain_name.upper(), pd.win7.machine_name,
                        root / 'private', root / 'lock', root / 'state', root / 'cache'))
    package = root / 'package'
    package.write_bytes(data)
    proc = subprocess.run(['net', 'offlinejoin', 'requestodj', 'loadfile=%s' % package, '--configfile=%s' % conf],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout + proc.stderr, str(root / 'private' / 'secrets.tdb')


def stored_password(tdb, domain):
    proc = subprocess.run(['tdbdump', '-k', 'SECRETS/MACHINE_PASSWORD/%s' % domain, tdb], capture_output=True,
                          check=False)
    text = proc.stdout.decode('ascii').strip()
    return re.sub(rb'\\([0-9A-F]{2})', lambda m: bytes([int(m.group(1), 16)]), text.encode('ascii'))


@pytest.mark.parametrize('package_format', ['djoin_file', 'base64'])
def test_samba_accepts_the_rendered_file(raw, tmp_path, package_format):
    pd = decode(raw)
    out, tdb = request_odj(tmp_path, rendered_by_the_plugin(raw, package_format), pd)
    assert 'Successfully requested Offline Domain Join' in out, out
    secret = stored_password(tdb, pd.win7.dns_domain_info.name)
    same = secret.rstrip(b'\x00') == pd.win7.machine_password.encode('utf-8')
    assert same, 'Samba stored another machine password than the package holds (value not shown)'


def test_a_damaged_file_is_refused(raw, tmp_path):
    data = bytearray(rendered_by_the_plugin(raw, 'djoin_file'))
    data[40:60] = 'A'.encode('utf-16-le') * 10
    out, dummy = request_odj(tmp_path, bytes(data), decode(raw))
    assert 'Successfully' not in out
