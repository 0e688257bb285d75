# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout the architecture guide describes is the layout of the code."""

from __future__ import annotations

import ast
import importlib
import os
import re

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODULE_UTILS = os.path.join(REPO, 'plugins', 'module_utils')
GUIDE = os.path.join(REPO, 'docs', 'docsite', 'rst', 'architecture.rst')
PACKAGE = 'ansible_collections.winimage.provisioning.plugins.module_utils'


def _guide():
    with open(GUIDE, encoding='utf-8') as handle:
        return handle.read()


def _files():
    found = []
    for folder, _dirs, names in os.walk(MODULE_UTILS):
        for name in names:
            if name.endswith('.py'):
                found.append(os.path.relpath(os.path.join(folder, name), MODULE_UTILS))
    return sorted(found)


def test_module_utils_is_grouped_by_concern():
    top = [f for f in _files() if os.sep not in f]
    assert top == [], 'module_utils files outside a subpackage: %s' % top
    for sub in sorted({f.split(os.sep)[0] for f in _files()}):
        assert os.path.isfile(os.path.join(MODULE_UTILS, sub, '__init__.py')), sub


def test_the_guide_lists_every_module_utils_file_and_no_other():
    guide = _guide()
    listed = set(re.findall(r'``([a-z_]+/[a-z_]+\.py)``', guide))
    files = {f.replace(os.sep, '/') for f in _files() if not f.endswith('__init__.py')}
    assert files - listed == set(), 'not in architecture.rst: %s' % sorted(files - listed)
    assert listed - files == set(), 'architecture.rst lists files that do not exist: %s' % sorted(listed - files)


def test_module_utils_never_imports_ansible_module():
    offenders = []
    for rel in _files():
        with open(os.path.join(MODULE_UTILS, rel), encoding='utf-8') as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == 'ansible.module_utils.basic':
                offenders.append(rel)
    assert offenders == []


def test_every_decision_the_guide_names_exists():
    section = _guide().split('One decision, one place', 1)[1].split('Layout of', 1)[0]
    names = re.findall(r'``((?:odj|ad|provision|image|complus|common)\.[a-z_]+(?:\.[a-z_]+)?)``', section)
    assert len(names) >= 8
    for dotted in names:
        parts = dotted.split('.')
        module = importlib.import_module('%s.%s.%s' % (PACKAGE, parts[0], parts[1]))
        if len(parts) == 3:
            assert callable(getattr(module, parts[2], None)), dotted
