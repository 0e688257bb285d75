# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The second install route: `ansible-galaxy collection build` + `install` of the tarball.

The collection is built from the checkout, installed offline into a temporary
collections path, and then used from there only: every module, module_utils
and filter file is imported in a fresh interpreter whose sys.path holds the
installed copy and nothing of the checkout (action plugins too), and
`ansible-doc` renders every module and filter from it. Plugins are discovered at test time, so files added later are
covered without editing this test.
"""

import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
NAMESPACE, NAME = 'winimage', 'provisioning'
FQ = '%s.%s' % (NAMESPACE, NAME)


def _tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else name


def _clean_env(collections_path, home):
    env = {
        'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
        'HOME': home,
        'LANG': 'C.UTF-8',
        'LC_ALL': 'C.UTF-8',
        'ANSIBLE_COLLECTIONS_PATH': collections_path,
        'ANSIBLE_HOME': os.path.join(home, '.ansible'),
        'ANSIBLE_LOCAL_TEMP': os.path.join(home, '.ansible', 'tmp'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_GALAXY_DISABLE_GPG_VERIFY': '1',
    }
    return env


def _run(cmd, env, cwd=None, timeout=600):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)
    assert proc.returncode == 0, '%s failed (%d):\n%s\n%s' % (' '.join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(collections path, installed collection dir, env) after build + offline install."""
    base = tmp_path_factory.mktemp('galaxy')
    home = base / 'home'
    build_dir = base / 'build'
    coll_path = base / 'collections'
    for folder in (home, build_dir, coll_path):
        folder.mkdir()
    env = _clean_env(str(coll_path), str(home))
    _run([_tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(build_dir), REPO], env, cwd=str(base))
    version = yaml.safe_load(open(os.path.join(REPO, 'galaxy.yml'), encoding='utf-8'))['version']
    tarball = build_dir / ('%s-%s-%s.tar.gz' % (NAMESPACE, NAME, version))
    assert tarball.is_file(), 'build made %s' % sorted(p.name for p in build_dir.iterdir())
    _run([_tool('ansible-galaxy'), 'collection', 'install', '--offline', '--no-deps', '-p', str(coll_path), str(tarball)],
         env, cwd=str(base))
    dest = coll_path / 'ansible_collections' / NAMESPACE / NAME
    assert (dest / 'MANIFEST.json').is_file()
    return str(coll_path), str(dest), env, str(tarball)


def _plugin_files(root, kind):
    """Python files of plugins/<kind>, subpackages included (module_utils is laid out by concern)."""
    folder = os.path.join(root, 'plugins', kind)
    found = []
    for here, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith('.py') and (name != '__init__.py' or here != folder):
                found.append(os.path.relpath(os.path.join(here, name), folder))
    return sorted(found)


def test_tarball_holds_sources_not_local_state(installed):
    _coll_path, _dest, _env, tarball = installed
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        assert 'galaxy.yml' not in names  # replaced by MANIFEST.json / FILES.json
        assert 'MANIFEST.json' in names and 'FILES.json' in names
        assert 'meta/runtime.yml' in names
        for bad in ('.venv/', '.build/', '.git/', 'tests/output/', 'demo-output/', '.pytest_cache/', '.hypothesis/'):
            assert not [n for n in names if n.startswith(bad)], '%s is in the tarball' % bad
        manifest = json.loads(tar.extractfile('MANIFEST.json').read().decode('utf-8'))
    info = manifest['collection_info']
    assert (info['namespace'], info['name']) == (NAMESPACE, NAME)
    assert info['license'] == ['GPL-3.0-or-later']


def test_installed_copy_has_every_plugin_of_the_checkout(installed):
    _coll_path, dest, _env, _tarball = installed
    for kind in ('modules', 'module_utils', 'filter', 'action'):
        checkout = set(_plugin_files(REPO, kind))
        copy = set(_plugin_files(dest, kind))
        assert checkout <= copy, 'missing from the installed %s: %s' % (kind, sorted(checkout - copy))


IMPORTER = r'''
import importlib, json, os, sys, traceback
coll_path, checkout = sys.argv[1], os.path.realpath(sys.argv[2])
names = json.loads(sys.argv[3])
# only the installed copy provides this collection: drop the checkout and any
# other folder holding a copy of it (site-packages stays, for ansible itself)
sys.path = [p for p in sys.path if p and os.path.realpath(p) != checkout
            and not os.path.isdir(os.path.join(p, 'ansible_collections', 'winimage', 'provisioning'))]
sys.path.insert(0, coll_path)
failures = {}
origins = {}
for name in names:
    try:
        mod = importlib.import_module(name)
        origins[name] = os.path.realpath(mod.__file__)
    except BaseException:  # a module calling exit() at import time is a failure too
        failures[name] = traceback.format_exc()
print(json.dumps({'failures': failures, 'origins': origins}))
'''


def test_plugins_import_from_the_installed_copy(installed, tmp_path):
    coll_path, dest, env, _tarball = installed
    names = []
    for kind in ('modules', 'module_utils', 'filter', 'action'):
        for filename in _plugin_files(dest, kind):
            module = filename[:-3].replace(os.sep, '.')
            if module.endswith('.__init__'):
                module = module[:-len('.__init__')]
            names.append('ansible_collections.%s.%s.plugins.%s.%s' % (NAMESPACE, NAME, kind, module))
    if not names:
        pytest.skip('the collection has no Python plugins yet')
    proc = subprocess.run([sys.executable, '-c', IMPORTER, coll_path, REPO, json.dumps(names)],
                          env=dict(env, PYTHONNOUSERSITE='1', PYTHONDONTWRITEBYTECODE='1'), cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result['failures'], '\n'.join('%s:\n%s' % item for item in sorted(result['failures'].items()))
    real_dest = os.path.realpath(dest)
    for name, origin in sorted(result['origins'].items()):
        assert origin.startswith(real_dest + os.sep), '%s was imported from %s, not from the installed copy' % (name, origin)
    assert sorted(result['origins']) == sorted(names)


def _installed_modules(dest):
    folder = os.path.join(dest, 'plugins', 'modules')
    if not os.path.isdir(folder):
        return []
    mods = set()
    for filename in os.listdir(folder):
        base, ext = os.path.splitext(filename)
        if ext in ('.py', '.ps1', '.yml', '.yaml') and not base.startswith('_') and base != '__init__':
            mods.add(base)
    return sorted(mods)


def test_ansible_doc_renders_every_module_from_the_installed_copy(installed, tmp_path):
    coll_path, dest, env, _tarball = installed
    modules = _installed_modules(dest)
    assert modules, 'the installed collection has no modules'
    listed = _run([_tool('ansible-doc'), '-t', 'module', '-l', '-j', FQ], env, cwd=str(tmp_path))
    listing = json.loads(listed.stdout)
    expected = ['%s.%s' % (FQ, m) for m in modules]
    assert sorted(listing) == expected
    proc = _run([_tool('ansible-doc'), '-t', 'module', '-j'] + expected, env, cwd=str(tmp_path))
    docs = json.loads(proc.stdout)
    for fqcn in expected:
        assert fqcn in docs, '%s missing from ansible-doc output' % fqcn
        doc = docs[fqcn]['doc']
        assert os.path.realpath(doc['filename']).startswith(os.path.realpath(dest) + os.sep), doc['filename']
        assert docs[fqcn]['examples'], '%s has no EXAMPLES' % fqcn
    # and the text form (what a user reads) renders without error, for all of them at once
    text = _run([_tool('ansible-doc'), '-t', 'module'] + expected, env, cwd=str(tmp_path)).stdout
    for fqcn in expected:
        assert '> MODULE %s (' % fqcn in text, '%s: no text rendering' % fqcn
    assert text.count('EXAMPLES') >= len(expected)


def test_filters_render_from_the_installed_copy(installed, tmp_path):
    coll_path, dest, env, _tarball = installed
    files = _plugin_files(dest, 'filter')
    if not files:
        pytest.skip('the collection has no filter plugins yet')
    listing = json.loads(_run([_tool('ansible-doc'), '-t', 'filter', '-l', '-j', FQ], env, cwd=str(tmp_path)).stdout)
    # one filter per file, named after it, each documented
    expected = ['%s.%s' % (FQ, f[:-3]) for f in files]
    missing = [name for name in expected if name not in listing]
    assert not missing, 'filters without documentation (or not named after their file): %s' % missing
    docs = json.loads(_run([_tool('ansible-doc'), '-t', 'filter', '-j'] + sorted(listing), env, cwd=str(tmp_path)).stdout)
    for name in sorted(listing):
        assert name in docs, '%s missing from ansible-doc output' % name
        doc = docs[name]['doc']
        assert os.path.realpath(doc['filename']).startswith(os.path.realpath(dest) + os.sep), doc['filename']
        assert doc.get('version_added') is not None and docs[name].get('examples'), '%s: no version_added or EXAMPLES' % name


# Developer-only files stay out of what users install (galaxy.yml build_ignore).
DEVELOPER_ONLY = ('tests/', 'scripts/', '.ci/', 'extensions/molecule/', 'changelogs/fragments/', 'context-src/')
DEVELOPER_FILES = ('Makefile', 'requirements-dev.txt', 'constraints.txt', '.ansible-lint', '.gitignore',
                   'execution-environment.yml')


def test_tarball_has_the_licence_and_no_developer_files(installed):
    _coll_path, dest, _env, tarball = installed
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        licence = tar.extractfile('LICENSE').read().decode('utf-8')
        files = json.loads(tar.extractfile('FILES.json').read().decode('utf-8'))['files']
    # the GPL version 3 text itself, as the file headers (GPL-3.0-or-later) promise
    assert 'GNU GENERAL PUBLIC LICENSE' in licence and 'Version 3, 29 June 2007' in licence
    assert 'TERMS AND CONDITIONS' in licence and len(licence) > 30000
    assert os.path.isfile(os.path.join(dest, 'LICENSE'))
    shipped = [n for n in names if not n.endswith('/')]
    for prefix in DEVELOPER_ONLY:
        assert not [n for n in shipped if n.startswith(prefix)], '%s is in the tarball' % prefix
    for name in DEVELOPER_FILES:
        assert name not in shipped, '%s is in the tarball' % name
    assert not [f['name'] for f in files if f['name'].startswith(('tests', 'scripts'))]
    # what users and execution environments need is there
    for needed in ('README.md', 'requirements.txt', 'bindep.txt', 'meta/runtime.yml', 'meta/execution-environment.yml',
                   'extensions/awx/credential_types.json', 'playbooks/rollout.yml', 'roles/requester/tasks/preflight.yml',
                   'plugins/filter/odj_summary.py'):
        assert needed in names, '%s is missing from the tarball' % needed


def test_manifest_has_no_placeholder_urls(installed):
    _coll_path, _dest, _env, tarball = installed
    with tarfile.open(tarball) as tar:
        info = json.loads(tar.extractfile('MANIFEST.json').read().decode('utf-8'))['collection_info']
    for key in ('repository', 'documentation', 'homepage', 'issues'):
        value = info.get(key)
        assert value is None or ('example.' not in value and value.startswith('https://')), '%s: %r' % (key, value)


def test_action_groups_work_with_module_defaults_from_the_installed_copy(installed, tmp_path):
    """module_defaults: group/winimage.provisioning.ad_connection reaches odj_verify_secret (an option only set
    there, and the group's failure naming it, prove it); group/...odj reaches odj_image_info."""
    coll_path, _dest, env, _tarball = installed
    image = tmp_path / 'not-an-image'
    image.mkdir()
    play = [{'hosts': 'localhost', 'gather_facts': False,
             'module_defaults': {
                 'group/%s.ad_connection' % FQ: {'timeout': 'not-a-number'},
                 'group/%s.odj' % FQ: {}},
             'tasks': [
                 {'name': 'verify', '%s.odj_verify_secret' % FQ: {'image': str(image)},
                  'register': 'verify', 'ignore_errors': True},
                 {'name': 'info', '%s.odj_image_info' % FQ: {'image': str(image)}, 'register': 'info',
                  'ignore_errors': True},
                 {'name': 'check', 'ansible.builtin.assert': {'that': [
                     'verify is failed', "'timeout' in verify.msg", "'not-a-number' in verify.msg",
                     "'timeout' not in (info.msg | default(''))"]}}]}]
    book = tmp_path / 'defaults.yml'
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    run_env = dict(env, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    _run([_tool('ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(book)], run_env, cwd=str(tmp_path))


# execution-environment.yml: no version of its own, and no image without the collection.

def _ee_copy(tmp_path):
    """The EE file with what it references, in a scratch folder (ansible-builder resolves paths beside it)."""
    work = tmp_path / 'ee'
    work.mkdir()
    for name in ('execution-environment.yml', 'requirements.txt', 'bindep.txt', 'galaxy.yml'):
        with open(os.path.join(REPO, name), 'rb') as src:
            (work / name).write_bytes(src.read())
    return work


def test_execution_environment_fails_loudly_without_the_collection(tmp_path):
    work = _ee_copy(tmp_path)
    ee_text = (work / 'execution-environment.yml').read_text()
    version = yaml.safe_load((work / 'galaxy.yml').read_text())['version']
    assert version not in ee_text.replace('ansible-core==', ''), 'the EE file repeats the collection version'
    proc = subprocess.run([_tool('ansible-builder'), 'create', '-f', 'execution-environment.yml', '-c', 'context'],
                          cwd=str(work), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, check=False)
    assert proc.returncode != 0, proc.stdout
    assert 'context-src/requirements.yml does not exist' in proc.stdout, proc.stdout
    assert 'Complete!' not in proc.stdout


def test_execution_environment_context_takes_the_version_from_galaxy_yml(tmp_path):
    """scripts/ee-context builds the tarball and the requirements naming it; ansible-builder then completes."""
    work = tmp_path / 'checkout'
    # a copy of the checkout (git's tracked files plus the working tree changes), so context-src lands there
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=REPO, stdout=subprocess.PIPE,
                           universal_newlines=True, check=True).stdout.split('\n')
    for name in filter(None, files):
        src = os.path.join(REPO, name)
        if os.path.isfile(src):
            dst = work / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            with open(src, 'rb') as handle:
                dst.write_bytes(handle.read())
            os.chmod(str(dst), os.stat(src).st_mode & 0o777)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    built = subprocess.run([str(work / 'scripts' / 'ee-context')], cwd=str(work), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False)
    assert built.returncode == 0, built.stdout
    version = yaml.safe_load((work / 'galaxy.yml').read_text())['version']
    assert built.stdout.strip().splitlines()[-1] == version
    requirements = yaml.safe_load((work / 'context-src' / 'requirements.yml').read_text())
    assert requirements['collections'] == [
        {'name': '/build/collections/%s-%s-%s.tar.gz' % (NAMESPACE, NAME, version), 'type': 'file'}]
    proc = subprocess.run([_tool('ansible-builder'), 'create', '-f', 'execution-environment.yml', '-c', 'context'],
                          cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0 and 'Complete!' in proc.stdout, proc.stdout
    build = work / 'context' / '_build'
    assert (build / 'collections' / ('%s-%s-%s.tar.gz' % (NAMESPACE, NAME, version))).is_file()
    assert yaml.safe_load((build / 'requirements.yml').read_text()) == requirements
