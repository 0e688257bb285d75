# -*- coding: utf-8 -*-
"""Run a real ansible-playbook against localhost with this collection, for tests."""

import json
import os
import subprocess
import sys
import textwrap

import yaml


def run_playbook(collections_root, tmp_path, tasks, verbosity=4, extra_env=None, check=False, diff=False,
                 extra_args=()):
    """Run tasks (a list of dicts) in one play on localhost; return (rc, combined output).

    Output goes through the json callback when verbosity is 0 (parsed result in
    the returned dict), otherwise the default callback at -v*verbosity so tests
    can grep everything Ansible prints.
    """
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    book = tmp_path / 'play.yml'
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(collections_root),
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': str(tmp_path / 'ansible-remote'),
    })
    if verbosity == 0:
        env['ANSIBLE_CALLBACK_PLUGINS'] = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')
        env['ANSIBLE_STDOUT_CALLBACK'] = 'json_results'
    env.update(extra_env or {})
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           str(book)]
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    cmd.extend(extra_args)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, check=False)
    out = proc.stdout.decode('utf-8', 'replace')
    return proc.returncode, out


def task_results(output):
    """From json-callback output: {task name: result dict for localhost}."""
    data = json.loads(output[output.index('{'):])
    results = {}
    for play in data['plays']:
        for task in play['tasks']:
            results[task['task']['name']] = task['hosts'].get('localhost', {})
    return results


def dedent(text):
    return textwrap.dedent(text).lstrip()
