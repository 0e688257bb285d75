# -*- coding: utf-8 -*-
"""Benchmark: an end-to-end rollout through playbooks/rollout.yml versus a hand-made shell loop, same run.

Both sides do the same work for N machines (default 200) into N image folders, against one throwaway Samba AD DC:

- playbook: ``ansible-playbook playbooks/rollout.yml`` - one odj_provision batch (vault-encrypted packages),
  one odj_install batch per requester host (registry method), the pre-flight (with --image-info one odj_image_info
  batch, and one odj_verify_secret task binding as every NAME$), and the summary. It does more than the loop: encryption, read-back checks,
  the pre-flight.
- shell loop: per machine ``net offlinejoin provision`` (Samba's tool, against the same DC), a converter from the
  package to a .reg file (the project's codec, one Python process per machine: a hand-made loop needs some
  converter), and ``hivexregedit --merge`` into the image's SYSTEM hive.

Prints both wall times and the ratio (goal: the playbook is faster); asserts nothing about time.

    .venv/bin/python tests/bench/bench_rollout.py [--count 200] [--forks 5] [--keep]
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
BIN = os.path.dirname(sys.executable)
SYSTEM_REL = os.path.join('Windows', 'System32', 'config', 'SYSTEM')

# The converter a hand-made loop needs: package file (djoin form) -> .reg text on stdout.
CONVERTER = r'''
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from bench_install import reg_text
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode
from ansible_collections.winimage.provisioning.plugins.module_utils.image.registry import plan_entries
with open(sys.argv[3], 'rb') as handle:
    sys.stdout.write(reg_text(plan_entries(decode(handle.read()), 'ControlSet001')))
'''

LOOP = r'''
set -euo pipefail
while read -r name hive; do
  net offlinejoin provision --configfile="$CONF" domain="$DOMAIN" machine_name="$name" dcname="$DCNAME" \
      savefile="$OUT/$name.djoin" -U "$ADMIN" >/dev/null
  "$PY" "$CONVERTER" "$COLL" "$BENCH" "$OUT/$name.djoin" > "$OUT/$name.reg"
  hivexregedit --merge "$hive" "$OUT/$name.reg"
done < "$LIST"
'''


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)


def sample_images(out, count, prefix):
    proc = subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'make-sample-image'), '--out', out,
                           '--count', str(count), '--prefix', prefix], stdout=subprocess.PIPE, check=True)
    return [image['path'] for image in json.loads(proc.stdout)['images']]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--count', type=int, default=200)
    parser.add_argument('--forks', type=int, default=5)
    parser.add_argument('--requesters', type=int, default=1,
                        help='inventory requester hosts (all local) the images are spread over, round robin: they work in '
                             'parallel with the forks (docs/docsite/rst/large_rollouts.rst)')
    parser.add_argument('--image-info', action='store_true',
                        help='also run the odj_image_info report (one batch task) in the pre-flight (off by default: the '
                             'odj_verify_secret batch already reports each image\'s state)')
    parser.add_argument('--keep', action='store_true', help='keep the work folder (and print it)')
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(REPO, 'tests', 'integration', 'dc'))
    import samba_dc  # pylint: disable=import-outside-toplevel,import-error

    work = tempfile.mkdtemp(prefix='winimage-bench-rollout-')
    coll = os.path.join(work, 'collections')
    os.makedirs(os.path.join(coll, 'ansible_collections', 'winimage'))
    os.symlink(REPO, os.path.join(coll, 'ansible_collections', 'winimage', 'provisioning'))
    dc = samba_dc.SambaDC(os.path.join(work, 'dc'))
    try:
        print('starting the throwaway DC ...', flush=True)
        dc.start()
        pb_images = sample_images(os.path.join(work, 'pb'), args.count, 'pb')
        sh_images = sample_images(os.path.join(work, 'sh'), args.count, 'sh')
        print('%d + %d image folders in %s' % (len(pb_images), len(sh_images), work), flush=True)

        # --- the playbook ------------------------------------------------------------------------------
        store = os.path.join(work, 'store')
        inventory = {'all': {
            'vars': {'ansible_connection': 'local', 'ansible_pipelining': True, 'ansible_python_interpreter': sys.executable},
            'children': {'provisioners': {'hosts': {'provisioner': {'odj_store_dir': store}}},
                         'requesters': {'hosts': dict(('requester%d' % (k + 1), {}) for k in range(args.requesters))}}}}
        write_private(os.path.join(work, 'inventory.json'), json.dumps(inventory))
        write_private(os.path.join(work, 'vars.json'), json.dumps({
            'odj_domain': dc.dns_domain, 'odj_domain_controller': dc.ip,
            'odj_domain_username': '%s@%s' % (dc.admin_user, dc.dns_domain), 'odj_domain_password': dc.admin_password,
            'odj_vault_password': os.urandom(12).hex(), 'odj_validate_certs': False,
            'odj_summary_file': os.path.join(work, 'summary.json'),
            'requester_preflight_image_info': args.image_info,
            'odj_machines': [{'name': 'PB%03d' % (i + 1), 'image': path, 'requester': 'requester%d' % (i % args.requesters + 1)}
                             for i, path in enumerate(pb_images)]}))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=coll, ANSIBLE_NOCOLOR='1', ANSIBLE_FORKS=str(args.forks),
                   PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        print('playbook: rollout.yml for %d machines (%d requester host(s), forks %d, odj_image_info report %s) ...'
              % (args.count, args.requesters, args.forks, 'on' if args.image_info else 'off'), flush=True)
        start = time.perf_counter()
        with open(os.path.join(work, 'playbook.log'), 'wb') as log:
            proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', os.path.join(work, 'inventory.json'),
                                   '-e', '@' + os.path.join(work, 'vars.json'), os.path.join(REPO, 'playbooks', 'rollout.yml')],
                                  stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
        playbook = time.perf_counter() - start
        with open(os.path.join(work, 'summary.json')) as handle:
            counts = json.load(handle)['counts']
        if proc.returncode != 0 or counts['verified'] != args.count:
            print('playbook run failed (rc %d, %s); see %s/playbook.log' % (proc.returncode, counts, work))
            args.keep = True
            return 1
        print('  %.1f s  (%s)' % (playbook, ', '.join('%s %s' % kv for kv in sorted(counts.items()))), flush=True)

        # --- the shell loop ----------------------------------------------------------------------------
        out = os.path.join(work, 'loop')
        os.makedirs(out, mode=0o700)
        listing = os.path.join(work, 'loop.list')
        with open(listing, 'w') as handle:
            for i, path in enumerate(sh_images):
                handle.write('SH%03d %s\n' % (i + 1, os.path.join(path, SYSTEM_REL)))
        converter = os.path.join(work, 'pkg2reg.py')
        with open(converter, 'w') as handle:
            handle.write(CONVERTER)
        loop_env = dc.child_env({'PASSWD': dc.admin_password, 'CONF': dc.client_conf, 'DOMAIN': dc.dns_domain,
                                 'DCNAME': dc.dc_hostname, 'ADMIN': dc.admin_user, 'OUT': out, 'PY': sys.executable,
                                 'CONVERTER': converter, 'COLL': coll, 'BENCH': HERE, 'LIST': listing,
                                 'PATH': os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin', '/usr/bin'])})
        print('shell loop: net offlinejoin provision + .reg + hivexregedit --merge, %d times ...' % args.count, flush=True)
        start = time.perf_counter()
        proc = subprocess.run(['bash', '-c', LOOP], env=loop_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        loop = time.perf_counter() - start
        if proc.returncode != 0:
            print('shell loop failed: %s' % proc.stderr.decode('utf-8', 'replace').replace(dc.admin_password, '***')[-2000:])
            args.keep = True
            return 1
        print('  %.1f s' % loop, flush=True)
        print()
        print('rollout of %d machines: playbook %.1f s (%.2f s/machine), shell loop %.1f s (%.2f s/machine), '
              'ratio playbook/loop %.2f (goal < 1)'
              % (args.count, playbook, playbook / args.count, loop, loop / args.count, playbook / loop))
        return 0
    finally:
        dc.stop()
        if args.keep:
            print('work folder kept: %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
