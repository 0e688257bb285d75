# -*- coding: utf-8 -*-
"""Bad input, fault injection (kill -9 during the write) and concurrent installs: the image is never torn."""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image.hive_log import read_header
from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import InstallError, install
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import RegipyReader, compare, plan_entries
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_raw

from odj_install_support import image_with_hive, package_bytes, sample_images, sha, tree_hashes, unpack


@pytest.fixture
def package(shared_dir):
    raw = to_raw(package_bytes(shared_dir))
    return raw, decode(raw)


def refused(folder, package, match, **options):
    before = tree_hashes(folder)
    with pytest.raises(InstallError, match=match):
        install(folder, package[0], package[1], **options)
    assert tree_hashes(folder) == before, 'the image must be byte-identical after a refused install'


def test_truncated_hive(shared_dir, tmp_path, package):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    with open(hive, 'r+b') as handle:
        handle.truncate(os.path.getsize(hive) // 2)
    refused(folder, package, 'truncated')


def test_corrupted_header_checksum(shared_dir, tmp_path, package):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    with open(hive, 'r+b') as handle:
        handle.seek(0x30)
        handle.write(b'XX')
    refused(folder, package, 'checksum')


@pytest.mark.parametrize('page,match', [(1, 'no hive bin after the base block'), (200, 'damaged'), (1000, 'damaged')])
def test_corrupted_hive_bins(shared_dir, tmp_path, package, page, match):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    with open(hive, 'r+b') as handle:
        handle.seek(4096 * page)
        handle.write(b'\x13' * 4096 * 4)
    refused(folder, package, match)


def test_not_a_hive_at_all(tmp_path, package):
    config = tmp_path / 'img' / 'Windows' / 'System32' / 'config'
    config.mkdir(parents=True)
    (config / 'SYSTEM').write_bytes(b'MZ' + b'\x00' * 9000)
    refused(str(tmp_path / 'img'), package, 'not a registry hive')


def test_ntuser_hive_where_system_belongs(shared_dir, tmp_path, package):
    folder = str(tmp_path / 'img')
    config = os.path.join(folder, 'Windows', 'System32', 'config')
    unpack(shared_dir, 'transactions_NTUSER.DAT', os.path.join(config, 'SYSTEM'))
    # dirty and without logs: refused as dirty first
    refused(folder, package, 'dirty')
    # allowed to be dirty: refused as not a SYSTEM hive
    refused(folder, package, 'not a SYSTEM hive', allow_dirty=True)
    # with its logs: replayed, then refused as not a SYSTEM hive; logs stay where they were
    unpack(shared_dir, 'transactions_ntuser.dat.log1', os.path.join(config, 'SYSTEM.LOG1'))
    unpack(shared_dir, 'transactions_ntuser.dat.log2', os.path.join(config, 'SYSTEM.LOG2'))
    refused(folder, package, 'not a SYSTEM hive')


def test_no_windows_folder(tmp_path, package):
    (tmp_path / 'img' / 'Program Files').mkdir(parents=True)
    refused(str(tmp_path / 'img'), package, 'no Windows/ folder')
    with pytest.raises(InstallError, match='does not exist'):
        install(str(tmp_path / 'absent'), package[0], package[1])


def test_no_system_hive(tmp_path, package):
    (tmp_path / 'img' / 'Windows' / 'System32').mkdir(parents=True)
    refused(str(tmp_path / 'img'), package, 'no SYSTEM hive')


def corrupt_machine_name(pd):
    """A fault injector: damage one written value (the machine name) of the temporary hive."""
    def inject(path):
        with open(path, 'r+b') as handle:
            blob = handle.read()
            at = blob.rfind(pd.win7.machine_name.upper().encode('utf-16-le'))
            assert at > 0
            handle.seek(at)
            handle.write(b'X\x00')
    return inject


def test_verification_mismatch_keeps_the_original(shared_dir, tmp_path, package):
    """The written hive is damaged before the regipy check (fault injector): the install fails, nothing is replaced."""
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    refused(folder, package, 'verification failed.*ComputerName', faults={'hive_written': corrupt_machine_name(package[1])})
    assert os.listdir(os.path.dirname(hive)) == ['SYSTEM']


RUNNER = textwrap.dedent('''
    import os, subprocess, sys
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.winimage.provisioning.plugins.module_utils.image import access as _image

    def runner(argv, data=None, env=None):
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, **(env or {})), check=False)
        return proc.returncode, proc.stdout, proc.stderr

    _image.set_default_runner(runner)

    def pause(marker):
        """Fault injector: say the fault point is reached, then wait to be killed."""
        def inject(_path):
            import time
            with open(marker, 'w') as handle:
                handle.write('paused %d' % os.getpid())
            time.sleep(120)
        return inject

    faults = {}
    if os.environ.get('PAUSE_AFTER_TEMP'):
        faults['hive_written'] = pause(os.environ['PAUSE_AFTER_TEMP'])
    if os.environ.get('PAUSE_WIM'):
        faults['wim_updated'] = pause(os.environ['PAUSE_WIM'])
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import install, InstallError
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_raw
    raw = to_raw(open(sys.argv[3], 'rb').read())
    kwargs = {}
    if len(sys.argv) > 4:
        kwargs['image_index'] = sys.argv[4]
    try:
        result = install(sys.argv[2], raw, decode(raw), lock_timeout=float(sys.argv[5]) if len(sys.argv) > 5 else 60.0,
                         faults=faults, **kwargs)
    except InstallError as exc:
        print('FAILED: %s' % exc)
        sys.exit(2)
    print('CHANGED' if result['changed'] else 'OK')
''')


def start(collections_root, image, pkg_path, env_name=None, marker=None, index=None, timeout=None):
    env = dict(os.environ)
    if env_name:
        env[env_name] = marker
    args = [sys.executable, '-c', RUNNER, collections_root, image, pkg_path]
    if index is not None or timeout is not None:
        args += [str(index or ''), str(timeout or 60)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(marker, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(marker):
            return
        if proc.poll() is not None:
            raise AssertionError('the install ended before the fault point: %r' % (proc.communicate(),))
        time.sleep(0.05)
    raise AssertionError('fault point not reached')


def fixture_pkg(shared_dir):
    return os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin')


def test_kill_9_after_temp_written_leaves_the_old_hive(shared_dir, tmp_path, collections_root, package):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    old = sha(hive)
    marker = str(tmp_path / 'paused')
    proc = start(collections_root, folder, fixture_pkg(shared_dir), 'PAUSE_AFTER_TEMP', marker)
    wait_for(marker, proc)
    temps = [n for n in os.listdir(os.path.dirname(hive)) if n != 'SYSTEM']
    assert len(temps) == 1 and temps[0].startswith('.SYSTEM.'), 'the new hive is being written beside the old one'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sha(hive) == old, 'killed before the rename: the old hive, whole'
    assert not read_header(hive)['dirty']
    # the next run cleans the leftover temporary file and installs
    result = install(folder, package[0], package[1])
    assert result['changed'] and os.listdir(os.path.dirname(hive)) == ['SYSTEM']
    assert compare(plan_entries(package[1], 'ControlSet001'), RegipyReader(hive)) == []


def test_kill_9_during_wim_update_leaves_the_old_wim(shared_dir, tmp_path, collections_root):
    summary = sample_images(tmp_path / 'gen', count=2, wim=True)
    wim = summary['wim']
    old = sha(wim)
    marker = str(tmp_path / 'paused')
    proc = start(collections_root, wim, fixture_pkg(shared_dir), 'PAUSE_WIM', marker, index='2')
    wait_for(marker, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sha(wim) == old
    info = subprocess.run(['wimlib-imagex', 'verify', wim], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert info.returncode == 0


def test_two_installs_at_once_one_waits_or_fails_clearly(shared_dir, tmp_path, collections_root, package):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    marker = str(tmp_path / 'paused')
    holder = start(collections_root, folder, fixture_pkg(shared_dir), 'PAUSE_AFTER_TEMP', marker)
    try:
        wait_for(marker, holder)
        second = start(collections_root, folder, fixture_pkg(shared_dir), index='', timeout=1)
        out, _err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert b'another install is writing this image' in out and b'.winimage.lock' in out
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # a waiting install proceeds once the first one is gone
    third = start(collections_root, folder, fixture_pkg(shared_dir), index='', timeout=30)
    out, _err = third.communicate(timeout=120)
    assert third.returncode == 0 and out.strip() == b'CHANGED'


# ---------------------------------------------------------------- symlinks, leftovers, damaged packages

def test_install_through_a_symlinked_folder_changes_the_real_image(shared_dir, tmp_path, package):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'real')
    link = tmp_path / 'link'
    link.symlink_to(folder)
    result = install(str(link), package[0], package[1])
    assert result['changed'] and os.path.islink(str(link))
    assert compare(plan_entries(package[1], 'ControlSet001'), RegipyReader(hive)) == []
    # the same image by its real path, or through the link again: nothing left to do
    assert not install(folder, package[0], package[1])['changed']
    assert not install(str(link), package[0], package[1])['changed']


def test_a_symlinked_hive_inside_the_image_stays_a_link(shared_dir, tmp_path, package):
    """An image whose SYSTEM hive is a link (to a shared or relocated config folder): the real hive changes."""
    folder, real_hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'elsewhere')
    image = tmp_path / 'img'
    config = image / 'Windows' / 'System32' / 'config'
    config.mkdir(parents=True)
    (config / 'SYSTEM').symlink_to(real_hive)
    assert install(str(image), package[0], package[1])['changed']
    assert os.path.islink(str(config / 'SYSTEM'))
    assert compare(plan_entries(package[1], 'ControlSet001'), RegipyReader(real_hive)) == []
    assert not install(str(image), package[0], package[1])['changed']
    assert os.listdir(str(config)) == ['SYSTEM']
    assert sorted(os.listdir(str(tmp_path))) == ['elsewhere', 'img', 'img.winimage.lock'], 'no work folder is left'


def test_install_through_a_symlinked_wim_changes_the_real_wim(shared_dir, tmp_path, package):
    wim = sample_images(tmp_path / 'gen', count=2, wim=True)['wim']
    link = tmp_path / 'link.wim'
    link.symlink_to(wim)
    old = sha(wim)
    result = install(str(link), package[0], package[1], image_index='2')
    assert result['changed']
    assert os.path.islink(str(link)) and os.readlink(str(link)) == wim, 'the link must stay a link'
    assert sha(wim) != old, 'the real .wim holds the join'
    assert not install(wim, package[0], package[1], image_index='2')['changed']
    # nothing staged is left beside the real .wim
    assert not [n for n in os.listdir(os.path.dirname(wim)) if n.startswith('.' + os.path.basename(wim) + '.')]
    assert not os.path.exists(os.path.join(os.path.dirname(wim), '.winimage-work')), 'the empty work folder is removed'


def test_two_paths_to_one_image_take_one_lock(shared_dir, tmp_path, collections_root):
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    link = str(tmp_path / 'other-name')
    os.symlink(folder, link)
    marker = str(tmp_path / 'paused')
    holder = start(collections_root, folder, fixture_pkg(shared_dir), 'PAUSE_AFTER_TEMP', marker)
    try:
        wait_for(marker, holder)
        in_flight = [n for n in os.listdir(os.path.dirname(hive)) if n != 'SYSTEM']
        assert len(in_flight) == 1
        second = start(collections_root, link + '/', fixture_pkg(shared_dir), index='', timeout=1)
        out, _err = second.communicate(timeout=60)
        assert second.returncode == 2 and b'another install is writing this image' in out, out
        # the holder's file in flight is still there, whole
        assert [n for n in os.listdir(os.path.dirname(hive)) if n != 'SYSTEM'] == in_flight
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()


def test_stale_temp_cleanup_spares_a_live_runs_file(shared_dir, tmp_path, collections_root):
    """Clean-up of leftovers removes a killed run's temporary file, never one a running install is writing."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.common.atomic import remove_stale_temps
    folder, hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    marker = str(tmp_path / 'paused')
    holder = start(collections_root, folder, fixture_pkg(shared_dir), 'PAUSE_AFTER_TEMP', marker)
    try:
        wait_for(marker, holder)
        in_flight = [n for n in os.listdir(os.path.dirname(hive)) if n != 'SYSTEM']
        assert remove_stale_temps(hive, '.odj') == []
        assert [n for n in os.listdir(os.path.dirname(hive)) if n != 'SYSTEM'] == in_flight
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert remove_stale_temps(hive, '.odj') == in_flight
    assert os.listdir(os.path.dirname(hive)) == ['SYSTEM']


def _staged_files(*roots):
    found = []
    for root in roots:
        for base, _dirs, files in os.walk(str(root)):
            found.extend(os.path.join(base, f) for f in files)
    return found


def test_repeated_kill_9_during_wim_installs_then_one_clean_run_leaves_nothing_staged(
        shared_dir, tmp_path, collections_root, package):
    wim = sample_images(tmp_path / 'gen', count=2, wim=True)['wim']
    tmpdir = tmp_path / 'tmpdir'
    tmpdir.mkdir()
    before = set(os.listdir(os.path.dirname(wim)))
    password = package[1].win7.machine_password.encode('utf-16-le')
    for attempt in range(3):
        marker = str(tmp_path / ('paused%d' % attempt))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv('TMPDIR', str(tmpdir))  # the killed runs' temporary directory, checked below
            proc = start(collections_root, wim, fixture_pkg(shared_dir), 'PAUSE_WIM', marker, index='2')
        wait_for(marker, proc)
        staged = _staged_files(os.path.join(os.path.dirname(wim), '.winimage-work'))
        assert any(open(f, 'rb').read().find(password) >= 0 for f in staged), \
            'at the fault point the staged SYSTEM hive holds the machine password'
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _staged_files(os.path.join(os.path.dirname(wim), '.winimage-work')), 'leftovers of the killed runs'
    result = install(wim, package[0], package[1], image_index='2')
    assert result['changed']
    left = set(os.listdir(os.path.dirname(wim))) - before
    assert left == {os.path.basename(wim) + '.winimage.lock'}, left  # the work folder went with its last run
    assert _staged_files(tmpdir) == []


def test_encrypted_package_fails_the_install_cleanly(shared_dir, tmp_path, package):
    """OdjEncryptedError used to escape from image.registry.unsupported_parts through plan_entries."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import RawPayload, encode_type1
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.load import load_package
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import encode
    import uuid
    pd = decode(package[0])
    sealed = pd.package
    sealed.wrapped = RawPayload(encode_type1(sealed.wrapped))
    sealed.encryption_type = uuid.UUID(int=1)
    loaded = load_package(data=encode(pd))
    assert loaded.pd.package.encrypted
    folder, _hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    refused(folder, (loaded.raw, loaded.pd), 'cannot be installed by the registry method.*encrypted')


@pytest.mark.parametrize('name', ['samba-ou-kiosk07.djoin', 'samba-defpwd-labpc12.djoin'])
def test_seeded_bit_flips_never_reach_the_image(shared_dir, tmp_path, name):
    """60 flips of a real package through the module's loader and install: refused cleanly or installed whole."""
    import random
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import load_package
    raw = to_raw(package_bytes(shared_dir, name))
    folder, _hive = image_with_hive(shared_dir, 'SYSTEM', tmp_path / 'img')
    before = tree_hashes(folder)
    rnd = random.Random(name)
    refused_count = 0
    for dummy in range(60):
        bit = rnd.randrange(len(raw) * 8)
        damaged = bytearray(raw)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            loaded = load_package(data=to_base64(bytes(damaged)))
            install(folder, loaded[0], loaded[1], check_mode=True)
        except InstallError:  # refused by the loader, or (an encrypted collection) by the install
            refused_count += 1
    assert refused_count >= 45, 'only %d of 60 refused' % refused_count
    assert tree_hashes(folder) == before


def test_leftovers_of_earlier_versions_are_removed_after_an_hour(shared_dir, tmp_path, package, monkeypatch):
    """Staging folders in TMPDIR and temporaries beside the .wim without a run token (made before the token)."""
    tmpdir = tmp_path / 'tmpdir'
    old_stage = tmpdir / 'winimage-stage-abc123'
    (old_stage / 'Windows').mkdir(parents=True)
    (old_stage / 'Windows' / 'SYSTEM').write_bytes(b'secret')
    fresh = tmpdir / 'winimage-odj-def456'
    fresh.mkdir()
    wim = sample_images(tmp_path / 'gen', count=1, wim=True)['wim']
    old_temp = os.path.join(os.path.dirname(wim), '.%s.k2j3h4g5.wim' % os.path.basename(wim))
    with open(old_temp, 'wb') as handle:
        handle.write(b'copy')
    hour_ago = time.time() - 3700
    for path in (str(old_stage), old_temp):
        os.utime(path, (hour_ago, hour_ago))
    monkeypatch.setattr(tempfile, 'tempdir', str(tmpdir))
    assert install(wim, package[0], package[1])['changed']
    assert sorted(os.listdir(str(tmpdir))) == ['winimage-odj-def456'], 'the recent one may belong to a running install'
    assert not os.path.exists(old_temp)
