# -*- coding: utf-8 -*-
"""odj_verify_secret (pre-flight) and the odj_unvault filter, run by real ansible-playbook against the throwaway DC.

Packages come from Samba's own ``net offlinejoin provision``; they are placed into generated sample images with
odj_install (registry into a folder, unattend into a .wim). A password is never printed: assertions compare.
"""

import base64
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _playbook(tmp_path, collections_root, tasks, extra_vars=None, verbosity='-v'):
    """Run one play on localhost; return (rc, output, results of tasks registered as r0, r1, ...)."""
    plays = [{'hosts': 'localhost', 'gather_facts': False,
              'vars': {'ansible_python_interpreter': sys.executable, 'ansible_pipelining': True},
              'tasks': tasks + [{'name': 'dump', 'ansible.builtin.copy': {
                  'content': '{{ {%s} | to_json }}' % ', '.join("'r%d': r%d | default(none)" % (i, i) for i in range(len(tasks))),
                  'dest': str(tmp_path / 'results.json'), 'mode': '0600'}}]}]
    book = tmp_path / 'play.yml'
    book.write_text(json.dumps(plays))
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(book), verbosity]
    if extra_vars:
        vars_file = tmp_path / 'vars.json'
        fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(extra_vars, handle)
        argv += ['-e', '@%s' % vars_file]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), check=False)
    results = {}
    if (tmp_path / 'results.json').exists():
        results = json.loads((tmp_path / 'results.json').read_text())
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), results


def _task(index, module, args, ignore=False):
    task = {'name': 't%d' % index, module: args, 'register': 'r%d' % index}
    if ignore:
        task['ignore_errors'] = True
    return task


@pytest.fixture(scope='module')
def fleet(samba_dc, net_offlinejoin, tmp_path_factory, collections_root):
    """Two images with packages installed: PFREG01 (folder, registry), PFUNA02 (.wim #2, unattend), plus a clean one."""
    base = tmp_path_factory.mktemp('preflight')
    subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', str(base / 'images'),
                    '--count', '3', '--wim', '--unattend'], check=True, stdout=subprocess.DEVNULL)
    raws = {name: net_offlinejoin(samba_dc, name) for name in ('PFREG01', 'PFUNA02')}
    data = {name: to_base64(raw) for name, raw in raws.items()}
    tasks = [
        _task(0, 'winimage.provisioning.odj_install', {'data': '{{ pkg_reg }}', 'image': str(base / 'images' / 'sample-01')}),
        _task(1, 'winimage.provisioning.odj_install', {'data': '{{ pkg_una }}', 'image': str(base / 'images' / 'sample.wim'),
                                                       'image_index': '2', 'method': 'unattend'}),
    ]
    work = base / 'install'
    work.mkdir()
    rc, out, _results = _playbook(work, collections_root, tasks, {'pkg_reg': data['PFREG01'], 'pkg_una': data['PFUNA02']})
    assert rc == 0, out
    return {'base': base, 'images': base / 'images', 'raws': raws, 'dc': samba_dc}


def _common(dc):
    return {'domain': dc.dns_domain, 'validate_certs': False}


def test_registry_folder_and_unattend_wim_authenticate(fleet, collections_root, tmp_path):
    dc = fleet['dc']
    tasks = [
        _task(0, 'winimage.provisioning.odj_verify_secret', dict(_common(dc), image=str(fleet['images'] / 'sample-01'),
                                                                 machine_name='PFREG01')),
        _task(1, 'winimage.provisioning.odj_verify_secret', dict(_common(dc), image=str(fleet['images'] / 'sample.wim'),
                                                                 image_index='2')),
        # machine and domain compare as Windows compares them: any case, the domain by its NetBIOS name too
        _task(2, 'winimage.provisioning.odj_verify_secret', dict(
            _common(dc), domain=dc.netbios.lower(), image=str(fleet['images'] / 'sample-01'), machine_name='pfreg01$')),
        _task(3, 'winimage.provisioning.odj_verify_secret', dict(
            _common(dc), domain='other.example.test', image=str(fleet['images'] / 'sample-01')), ignore=True),
    ]
    rc, out, res = _playbook(tmp_path, collections_root, tasks, verbosity='-vvvv')
    assert rc == 0, out
    assert res['r2']['authenticated'] is True
    assert res['r3']['failed'] is True and res['r3']['authenticated'] is False
    assert 'of PFREG01 in %s, not of PFREG01 in other.example.test' % dc.dns_domain in res['r3']['msg']
    assert res['r0']['authenticated'] is True and res['r0']['changed'] is False
    assert res['r0']['source'] == 'registry' and res['r0']['account'] == 'PFREG01$@%s' % dc.realm
    assert res['r0']['domain_controller'] == dc.ip  # the DC address the package names
    assert res['r1']['authenticated'] is True and res['r1']['source'] == 'unattend'
    assert res['r1']['machine_name'] == 'PFUNA02' and res['r1']['image']['image_index'] == 2
    # the image state, as odj_image_info reports it, without the secret
    assert res['r0']['state']['location'].endswith('\\Control\\Lsa\\OfflineJoin')
    assert res['r0']['state']['machine_name'] == 'PFREG01' and res['r0']['state']['clear_text_secret_present'] is True
    assert res['r1']['state']['pass'] == 'offlineServicing' and res['r1']['state']['location'] == 'Windows/Panther/unattend.xml'
    for raw in fleet['raws'].values():
        secret = decode(raw).win7.machine_password
        assert secret not in out
        assert secret not in json.dumps(res)
        assert to_base64(raw)[:40] not in out


def test_batch_reports_each_image_and_fails_listing_the_bad_ones(fleet, collections_root, tmp_path):
    dc = fleet['dc']
    images = [
        {'image': str(fleet['images'] / 'sample-01'), 'machine_name': 'PFREG01'},
        {'image': str(fleet['images'] / 'sample-02'), 'machine_name': 'EMPTY03'},
        {'image': str(fleet['images'] / 'sample.wim'), 'image_index': '2', 'machine_name': 'OTHER99'},
    ]
    log = tmp_path / 'netsetup.log'
    tasks = [_task(0, 'winimage.provisioning.odj_verify_secret', dict(_common(dc), images=images, netsetup_log=str(log)),
                   ignore=True)]
    rc, out, res = _playbook(tmp_path, collections_root, tasks)
    assert rc == 0, out
    r = res['r0']
    # one NetSetup log line per image, with the Windows status name, and no secret
    lines = [line for line in log.read_text().splitlines() if 'preflight' in line]
    assert len(lines) == 3
    assert 'status=0x0 NERR_Success (0)' in lines[0]
    assert 'NERR_NoOfflineJoinInfo (2709)' in lines[1]
    assert 'ERROR_INVALID_PARAMETER (87)' in lines[2]
    assert (log.stat().st_mode & 0o777) == 0o600
    for raw in fleet['raws'].values():
        assert decode(raw).win7.machine_password not in log.read_text()
    assert r['failed'] is True and r['authenticated'] is False
    assert '2 of 3 image(s) failed' in r['msg']
    first, second, third = r['results']
    assert first['authenticated'] is True and first['machine_name'] == 'PFREG01'
    assert second['authenticated'] is False and 'carries no pending offline domain join' in second['msg']
    assert third['authenticated'] is False and 'of PFUNA02 in %s, not of OTHER99 in %s' % (
        dc.dns_domain, dc.dns_domain) in third['msg']


def test_stale_secret_is_refused_and_image_unchanged(fleet, collections_root, tmp_path, net_offlinejoin):
    """One reset of the account's password makes the image's secret fail at once.

    The check is a Kerberos AS exchange, which only the current password passes; an LDAP bind would still
    accept the previous password for up to an hour (OldPasswordAllowedPeriod).
    """
    dc = fleet['dc']
    image = fleet['images'] / 'sample-03'
    raw = net_offlinejoin(dc, 'PFSTALE3')
    install = [_task(0, 'winimage.provisioning.odj_install', {'data': '{{ pkg }}', 'image': str(image)})]
    rc, out, _results = _playbook(tmp_path, collections_root, install, {'pkg': to_base64(raw)})
    assert rc == 0, out
    hive = image / 'Windows' / 'System32' / 'config' / 'SYSTEM'
    before = hive.read_bytes()
    with ADClient(dc.ip, username=dc.admin_user, password=dc.admin_password, domain=dc.dns_domain,
                  cert_validation='ignore') as admin:
        dn = 'CN=PFSTALE3,CN=Computers,%s' % dc.base_dn
        admin.set_password(dn, base64.b64encode(os.urandom(30)).decode() + 'aA1!')
    check = tmp_path / 'check'
    check.mkdir()
    rc, out, res = _playbook(check, collections_root, [_task(0, 'winimage.provisioning.odj_verify_secret', dict(
        _common(dc), image=str(image), machine_name='PFSTALE3'), ignore=True)])
    assert rc == 0, out
    assert res['r0']['failed'] is True and res['r0']['authenticated'] is False
    assert 'does not authenticate as PFSTALE3$@%s' % dc.realm in res['r0']['msg']
    assert decode(raw).win7.machine_password not in out
    assert hive.read_bytes() == before


def test_unvault_filter_round_trip_and_wrong_password(fleet, collections_root, tmp_path):
    raw = fleet['raws']['PFREG01']
    plain = tmp_path / 'p.djoin'
    fd = os.open(str(plain), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'\xff\xfe' + to_base64(raw).encode('utf-16-le') + b'\x00\x00')
    os.close(fd)
    secret_file = tmp_path / 'vpw'
    secret_file.write_text('right-password')
    subprocess.run([os.path.join(BIN, 'ansible-vault'), 'encrypt', str(plain), '--vault-password-file', str(secret_file)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tasks = [
        {'name': 'read', 'ansible.builtin.slurp': {'src': str(plain)}, 'register': 'enc', 'no_log': True},
        {'name': 't1', 'ansible.builtin.set_fact': {'r1': "{{ enc.content | winimage.provisioning.odj_unvault('right-password') }}"},
         'no_log': True},
        {'name': 't2', 'ansible.builtin.set_fact': {'r2': "{{ enc.content | winimage.provisioning.odj_unvault('wrong') }}"},
         'register': 'r2err', 'ignore_errors': True},
    ]
    rc, out, res = _playbook(tmp_path, collections_root, tasks)
    assert rc == 0, out
    assert res['r1'] == to_base64(raw)
    assert res['r2'] is None
    assert 'could not be decrypted (wrong vault password, or a damaged file)' in out
    assert decode(raw).win7.machine_password not in out and to_base64(raw)[:40] not in out
