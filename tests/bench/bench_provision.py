#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: odj_provision for N machines in one task vs N runs of ``net offlinejoin provision``.

Both against the same throwaway Samba AD DC (tests/integration/dc/samba_dc.py),
in the same run, after one untimed warm-up run of each: the task over LDAPS and
over sealed SASL on 389 (``tls_mode: none``, NTLM signing and sealing every
message). Prints the times and the ratios; asserts nothing about time.

    .venv/bin/python tests/bench/bench_provision.py [--count 100] [--dc-dir DIR]

``--dc-dir`` reuses a running DC started with samba_dc.py; otherwise one is
started in a temporary folder and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration', 'dc'))

import samba_dc  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: start time
      ansible.builtin.set_fact:
        t0: "{{ now(utc=true).timestamp() }}"
    - name: provision the batch
      winimage.provisioning.odj_provision:
        domain: "{{ dc.dns_domain }}"
        domain_server: "{{ dc.ip }}"
        tls_mode: "{{ tls_mode }}"
        cert_validation: ignore
        domain_username: "{{ dc.admin_user }}"
        domain_password: "{{ dc.admin_password }}"
        machines: "{{ machines }}"
        dest: "{{ dest }}"
        netsetup_log: "{{ dest }}/netsetup.log"
        execution: "{{ execution }}"
      register: result
    - name: end time
      ansible.builtin.set_fact:
        t1: "{{ now(utc=true).timestamp() }}"
    - name: counts
      ansible.builtin.copy:
        content: "{{ {'counts': result.counts, 'task_seconds': (t1 | float) - (t0 | float)} | to_json }}"
        dest: "{{ dest }}/counts.json"
        mode: "0600"
'''


def collections_root():
    root = tempfile.mkdtemp(prefix='bench-collections-')
    os.makedirs(os.path.join(root, 'ansible_collections', 'winimage'))
    os.symlink(REPO, os.path.join(root, 'ansible_collections', 'winimage', 'provisioning'))
    return root


def run_module(dc, names, work, root, execution='auto', tls_mode='ldaps'):
    dest = os.path.join(work, 'pkgs')
    os.makedirs(dest)
    with open(os.path.join(work, 'site.yml'), 'w') as handle:
        handle.write(PLAYBOOK)
    extra = os.path.join(work, 'vars.json')
    fd = os.open(extra, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump({'dc': dc.info(), 'machines': names, 'dest': dest, 'execution': execution, 'tls_mode': tls_mode},
                  handle)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', '@%s' % extra, os.path.join(work, 'site.yml')]
    start = time.monotonic()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit('ansible-playbook failed:\n%s' % proc.stdout.decode('utf-8', 'replace')[-3000:])
    with open(os.path.join(dest, 'counts.json')) as handle:
        data = json.load(handle)
    if data['counts'].get('created') != len(names):
        raise SystemExit('expected %d created, got %s' % (len(names), data['counts']))
    return elapsed, data['task_seconds']


def run_engine(dc, names, work):
    """The same work in-process (no ansible start-up): the module's own cost."""
    sys.path.insert(0, collections_root())
    from ansible_collections.winimage.provisioning.plugins.module_utils.ad.client import ADClient
    from ansible_collections.winimage.provisioning.plugins.module_utils.provision.provisioner import Provisioner
    dest = os.path.join(work, 'engine')
    os.makedirs(dest)
    start = time.monotonic()
    client = ADClient(dc.ip, username='%s@%s' % (dc.admin_user, dc.realm), password=dc.admin_password,
                      cert_validation='ignore').connect()
    try:
        machines = Provisioner(client, dc.dns_domain, dest=dest).run(names)
    finally:
        client.close()
    elapsed = time.monotonic() - start
    bad = [m.name for m in machines if m.status != 'created']
    if bad:
        raise SystemExit('engine run failed for %s' % bad)
    return elapsed


def run_net(dc, names):
    start = time.monotonic()
    for name in names:
        samba_dc.net_offlinejoin_provision(dc, name)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--count', type=int, default=100)
    parser.add_argument('--dc-dir', default=None, help='a DC already started with samba_dc.py start --dir')
    args = parser.parse_args()
    reason = samba_dc.samba_available()
    if reason:
        raise SystemExit(reason)
    work = tempfile.mkdtemp(prefix='bench-provision-')
    realm, netbios = samba_dc.unique_realm('B')
    if args.dc_dir:
        dc = samba_dc.SambaDC(args.dc_dir)
    else:
        dc = samba_dc.SambaDC(os.path.join(work, 'dc'), realm=realm, domain=netbios)
    started = False
    if not dc.running:
        print('starting the throwaway DC ...', flush=True)
        dc.start()
        started = True
    try:
        tag = '%04d' % (int(time.time()) % 10000)
        n = args.count
        ours = ['BM%s%05d' % (tag, i) for i in range(n)]
        modules = ['BX%s%05d' % (tag, i) for i in range(n)]
        engine = ['BE%s%05d' % (tag, i) for i in range(n)]
        refs = ['BN%s%05d' % (tag, i) for i in range(n)]
        sealed = ['BS%s%05d' % (tag, i) for i in range(n)]
        root = collections_root()
        # warm-up, not timed: both tools once (Python byte-code caches, the DC's first writes)
        run_module(dc, ['BW%s00001' % tag], os.path.join(work, 'warm-auto'), root)
        run_module(dc, ['BW%s00002' % tag], os.path.join(work, 'warm-module'), root, 'module')
        run_net(dc, ['BW%s00003' % tag])
        run_module(dc, ['BW%s00004' % tag], os.path.join(work, 'warm-sealed'), root, tls_mode='none')
        t_playbook, t_task = run_module(dc, ours, os.path.join(work, 'auto'), root)
        _t_playbook_module, t_module = run_module(dc, modules, os.path.join(work, 'module'), root, 'module')
        _t_playbook_sealed, t_sealed = run_module(dc, sealed, os.path.join(work, 'sealed'), root, tls_mode='none')
        t_engine = run_engine(dc, engine, work)
        t_net = run_net(dc, refs)
        print('machines:                                  %d' % n)
        print('net offlinejoin provision x %-4d           %.2f s  (%.1f ms per machine)' % (n, t_net, 1000 * t_net / n))
        print('odj_provision, whole ansible-playbook run  %.2f s  (%.1f ms per machine)' % (t_playbook, 1000 * t_playbook / n))
        print('odj_provision, the one task                %.2f s  (%.1f ms per machine)' % (t_task, 1000 * t_task / n))
        print('  same task with execution=module          %.2f s  (%.1f ms per machine)' % (t_module, 1000 * t_module / n))
        print('  same task on sealed SASL (tls_mode none) %.2f s  (%.1f ms per machine)' % (t_sealed, 1000 * t_sealed / n))
        print('odj_provision engine only (in-process)     %.2f s  (%.1f ms per machine)' % (t_engine, 1000 * t_engine / n))
        print('ratio net / one task:   %.1fx' % (t_net / t_task))
        print('ratio net / module:     %.1fx' % (t_net / t_module))
        print('ratio net / sealed:     %.1fx' % (t_net / t_sealed))
        print('ratio net / playbook:   %.1fx' % (t_net / t_playbook))
        print('ratio net / engine:     %.1fx' % (t_net / t_engine))
        print('goal: >= 10x (one task, LDAPS and sealed)')
    finally:
        if started:
            dc.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
