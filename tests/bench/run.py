#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Run every benchmark in tests/bench (``make bench``), one after the other.

Each bench_*.py starts what it needs (the throwaway DC, sample images), runs
the collection and the reference tool on the same work in the same run, and
prints both times and the ratio. Extra arguments are passed to each of them;
BENCH=name1,name2 selects some (e.g. BENCH=install).
"""

import glob
import os
import subprocess
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    wanted = [w for w in os.environ.get('BENCH', '').split(',') if w]
    failed = []
    for path in sorted(glob.glob(os.path.join(here, 'bench_*.py'))):
        name = os.path.basename(path)[len('bench_'):-len('.py')]
        if wanted and name not in wanted:
            continue
        print('==> benchmark %s' % name, flush=True)
        if subprocess.call([sys.executable, path] + sys.argv[1:]) != 0:
            failed.append(name)
    if failed:
        print('benchmarks that failed to run: %s' % ', '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
