#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: the requester (odj_install engine) against the bare reference tools, same run.

1. Registry install into a ~15 MB SYSTEM hive (the Windows 10 fixture when ../shared is present, else a
   generated one of that size) versus ``hivexregedit --merge`` of exactly the same keys and values.
   The engine also replays/validates, reads everything back with regipy and renames atomically; the C tool
   only merges.
2. Install into one image of a .wim versus a bare ``wimlib-imagex update`` that adds the same SYSTEM file.

Prints median times and ratios (goals: 1.5x and 1.2x); asserts nothing about time.

    .venv/bin/python tests/bench/bench_install.py [--repeat 5] [--hive PATH]
"""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(REPO), 'shared')
SYSTEM_REL = os.path.join('Windows', 'System32', 'config', 'SYSTEM')


def collection_path():
    root = tempfile.mkdtemp(prefix='winimage-bench-')
    os.makedirs(os.path.join(root, 'ansible_collections', 'winimage'))
    os.symlink(REPO, os.path.join(root, 'ansible_collections', 'winimage', 'provisioning'))
    sys.path.insert(0, root)
    return root


def reg_text(entries):
    """The planned entries as a regedit file hivexregedit --merge reads (hex forms: exact bytes)."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.hivex import REG_DWORD, encode_value
    lines = ['Windows Registry Editor Version 5.00', '']
    current = None
    for entry in entries:
        if entry.key != current:
            if current is not None:
                lines.append('')
            lines.append('[\\%s]' % entry.key)
            current = entry.key
        if entry.name is None:
            continue
        if entry.vtype == REG_DWORD:
            lines.append('"%s"=dword:%08x' % (entry.name, entry.value))
        else:
            data = encode_value(entry.vtype, entry.value)
            lines.append('"%s"=hex(%x):%s' % (entry.name, entry.vtype, ','.join('%02x' % b for b in data)))
    return '\n'.join(lines) + '\n\n'


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--hive', help='a SYSTEM hive to use (default: Windows 10 fixture, else a generated 15 MB one)')
    args = parser.parse_args()
    collection_path()
    from ansible_collections.winimage.provisioning.plugins.module_utils.image import access as _image

    def runner(argv, data=None, env=None):
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, **(env or {})), check=False)
        return proc.returncode, proc.stdout, proc.stderr

    _image.set_default_runner(runner)
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.hive_log import read_header
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.install import install
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import build_package, encode
    from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import plan_entries

    work = tempfile.mkdtemp(prefix='winimage-bench-work-')
    try:
        source = os.path.join(work, 'SYSTEM.source')
        if args.hive:
            shutil.copyfile(args.hive, source)
            label = args.hive
        elif os.path.isfile(os.path.join(SHARED, 'fixtures', 'hives', 'SYSTEM_WIN_10_1709.xz')):
            with lzma.open(os.path.join(SHARED, 'fixtures', 'hives', 'SYSTEM_WIN_10_1709.xz')) as fin, open(source, 'wb') as out:
                shutil.copyfileobj(fin, out)
            label = 'Windows 10 1709 SYSTEM fixture (dirty, no logs: allow_dirty)'
        else:
            subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out',
                            os.path.join(work, 'gen'), '--pad-mb', '15'], check=True, stdout=subprocess.DEVNULL)
            shutil.copyfile(os.path.join(work, 'gen', 'sample-01', SYSTEM_REL), source)
            label = 'generated SYSTEM hive'
        allow_dirty = read_header(source)['dirty']
        print('hive: %s, %.1f MB' % (label, os.path.getsize(source) / 1048576.0))

        pd = build_package(
            domain_dns='corp.example.test', netbios_domain='CORP', forest='corp.example.test', domain_guid=uuid.uuid4(),
            domain_sid='S-1-5-21-1-2-3', machine_name='BENCH-01', machine_password=uuid.uuid4().hex * 3,
            dc_name='dc1.corp.example.test', dc_address='127.0.0.1', dc_flags=0xE00013FD,
            dc_site_name='Default-First-Site-Name', client_site_name='Default-First-Site-Name', options=6, rid=1500)
        raw = encode(pd)
        regfile = os.path.join(work, 'odj.reg')
        fd = os.open(regfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(reg_text(plan_entries(pd, 'ControlSet001')))

        def fresh_image(name):
            folder = os.path.join(work, name)
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(os.path.join(folder, 'Windows', 'System32', 'config'))
            shutil.copyfile(source, os.path.join(folder, SYSTEM_REL))
            return folder

        ours, theirs = [], []
        for _round in range(args.repeat):
            folder = fresh_image('ours')
            ours.append(timed(lambda: install(folder, raw, pd, allow_dirty=allow_dirty)))
            folder = fresh_image('theirs')
            hive = os.path.join(folder, SYSTEM_REL)
            theirs.append(timed(lambda: subprocess.run(['hivexregedit', '--merge', hive, regfile], check=True)))
        a, b = statistics.median(ours), statistics.median(theirs)
        print('registry: odj_install %.3f s, hivexregedit --merge %.3f s, ratio %.2f (goal <= 1.5)' % (a, b, a / b))

        # --- wim ----------------------------------------------------------------------------------------
        tree = fresh_image('wimtree')
        wim = os.path.join(work, 'base.wim')
        subprocess.run(['wimlib-imagex', 'capture', tree, wim, 'one', '--no-acls'], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(['wimlib-imagex', 'append', tree, wim, 'two', '--no-acls'], check=True, stdout=subprocess.DEVNULL)
        installed = os.path.join(work, 'ours', SYSTEM_REL)  # the hive our registry run produced
        ours, theirs = [], []
        for _round in range(args.repeat):
            copy = os.path.join(work, 'ours.wim')
            shutil.copyfile(wim, copy)
            ours.append(timed(lambda: install(copy, raw, pd, image_index='1', allow_dirty=allow_dirty)))
            copy2 = os.path.join(work, 'theirs.wim')
            shutil.copyfile(wim, copy2)
            theirs.append(timed(lambda: subprocess.run(
                ['wimlib-imagex', 'update', copy2, '1', '--command=add %s /Windows/System32/config/SYSTEM' % installed],
                check=True, stdout=subprocess.DEVNULL)))
        a, b = statistics.median(ours), statistics.median(theirs)
        print('wim: odj_install %.3f s, wimlib-imagex update %.3f s, ratio %.2f (goal <= 1.2; ours also extracts, '
              'edits, verifies with regipy and by extracting again)' % (a, b, a / b))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
