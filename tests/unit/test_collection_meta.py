# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collection metadata: galaxy.yml, meta/runtime.yml, module docs, licence headers.

Files are discovered at test time, so modules added later are covered too.
"""

import ast
import json
import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(REPO, 'plugins')
HEADER = (
    '# Copyright: (c) 2026, winimage.provisioning contributors',
    '# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)',
)
COLLECTION_VERSION = '0.1.0'


def _load_yaml(*parts):
    with open(os.path.join(REPO, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def _rel(path):
    return os.path.relpath(path, REPO)


def _plugin_python_files():
    found = []
    for root, dirs, files in os.walk(PLUGINS):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        found.extend(os.path.join(root, name) for name in sorted(files) if name.endswith('.py'))
    return found


def _module_docs():
    """(module name, path of the file carrying DOCUMENTATION) for every module."""
    moddir = os.path.join(PLUGINS, 'modules')
    if not os.path.isdir(moddir):
        return []
    docs = {}
    for name in sorted(os.listdir(moddir)):
        base, ext = os.path.splitext(name)
        if base.startswith('_') or base == '__init__':
            continue
        if ext == '.py':
            docs[base] = os.path.join(moddir, name)
        elif ext in ('.yml', '.yaml'):
            # Windows modules: .ps1 code + .yml documentation
            docs.setdefault(base, os.path.join(moddir, name))
    return sorted(docs.items())


def _python_doc_blocks(path):
    """DOCUMENTATION / EXAMPLES / RETURN string constants of a Python module, parsed statically."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    blocks = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                blocks[node.targets[0].id] = node.value.value
    return blocks


def _module_doc(path):
    if path.endswith('.py'):
        blocks = _python_doc_blocks(path)
        assert 'DOCUMENTATION' in blocks, '%s has no DOCUMENTATION string' % _rel(path)
        return yaml.safe_load(blocks['DOCUMENTATION']), blocks
    with open(path, encoding='utf-8') as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict) and 'DOCUMENTATION' in data, '%s has no DOCUMENTATION key' % _rel(path)
    return data['DOCUMENTATION'], data


def test_galaxy_metadata():
    galaxy = _load_yaml('galaxy.yml')
    assert galaxy['namespace'] == 'winimage'
    assert galaxy['name'] == 'provisioning'
    assert galaxy['version'] == COLLECTION_VERSION
    assert galaxy['license'] == ['GPL-3.0-or-later']
    assert 'license_file' not in galaxy, 'license and license_file are mutually exclusive'
    for tag in ('windows', 'active_directory', 'provisioning'):
        assert tag in galaxy['tags']
    assert galaxy.get('dependencies') in ({}, None)
    assert galaxy.get('readme') == 'README.md'


def test_galaxy_build_ignores_local_state():
    ignore = _load_yaml('galaxy.yml').get('build_ignore') or []
    # local state that .gitignore lists (demo-output may hold Samba's sockets)
    for entry in ('.venv', '.build', 'tests/output', '.git', 'demo-output', '.pytest_cache', '.hypothesis'):
        assert entry in ignore, '%s is not in galaxy.yml build_ignore' % entry


def test_runtime_requires_ansible():
    runtime = _load_yaml('meta', 'runtime.yml')
    assert runtime['requires_ansible'] == '>=2.18.0'


def test_galaxy_has_no_placeholder_urls_and_ignores_developer_files():
    galaxy = _load_yaml('galaxy.yml')
    for key in ('repository', 'documentation', 'homepage', 'issues'):
        value = galaxy.get(key)
        assert value is None or (value.startswith('https://') and '.invalid' not in value and 'example.' not in value), key
    ignore = galaxy.get('build_ignore') or []
    for entry in ('tests', 'scripts', '.ci', 'Makefile', 'requirements-dev.txt', 'constraints.txt', 'extensions/molecule'):
        assert entry in ignore, '%s is not in galaxy.yml build_ignore' % entry
    # what an execution environment reads from the installed collection must ship
    for needed in ('requirements.txt', 'bindep.txt', 'meta', 'LICENSE', 'extensions/awx', 'roles', 'playbooks'):
        assert needed not in ignore
    with open(os.path.join(REPO, 'LICENSE'), encoding='utf-8') as handle:
        assert 'Version 3, 29 June 2007' in handle.read(200)


def test_action_groups_name_every_module():
    """group odj = every module of the collection; group ad_connection = the modules that talk to a DC."""
    groups = _load_yaml('meta', 'runtime.yml')['action_groups']
    modules = {name for name, _path in _module_docs()}
    assert modules <= set(groups['odj']), 'modules missing from action_groups.odj: %s' % sorted(modules - set(groups['odj']))
    assert set(groups['ad_connection']) == {'odj_provision', 'odj_verify_secret'}
    assert set(groups['ad_connection']) <= set(groups['odj'])


def _requirements(name):
    with open(os.path.join(REPO, name), encoding='utf-8') as handle:
        lines = [line.split('#', 1)[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith('-')]


def test_requirements_are_ranges_and_constraints_pin_each_one():
    ranges = dict((re.split(r'[<>=!~;\[ ]', line, 1)[0].lower(), line) for line in _requirements('requirements.txt'))
    pins = dict(line.lower().split('==', 1) for line in _requirements('constraints.txt'))
    for name, line in sorted(ranges.items()):
        assert '==' not in line, 'requirements.txt pins %s exactly: %s (pins go to constraints.txt)' % (name, line)
        assert '>=' in line, 'requirements.txt: %s has no lower bound' % name
        assert name in pins, 'constraints.txt has no tested pin for %s' % name
        from packaging.specifiers import SpecifierSet
        spec = SpecifierSet(line[len(name):].split(';')[0].strip())
        assert pins[name] in spec, 'the tested %s==%s is outside requirements.txt %s' % (name, pins[name], spec)
    with open(os.path.join(REPO, 'scripts', 'setup'), encoding='utf-8') as handle:
        assert '-c constraints.txt' in handle.read(), 'scripts/setup does not install with the tested pins'


# Environment variables an AWX credential type may inject (NAMES.md): each is the fallback of a module option.
WINIMAGE_ENV = {'WINIMAGE_DOMAIN_SERVER', 'WINIMAGE_DOMAIN_USERNAME', 'WINIMAGE_DOMAIN_PASSWORD', 'WINIMAGE_AUTH_PROTOCOL',
                'WINIMAGE_TLS_MODE', 'WINIMAGE_CERT_VALIDATION', 'WINIMAGE_CA_CERT', 'WINIMAGE_KEYTAB',
                'WINIMAGE_VAULT_PASSWORD'}


def test_awx_credential_types_inject_the_environment_the_modules_read():
    with open(os.path.join(REPO, 'extensions', 'awx', 'credential_types.json'), encoding='utf-8') as handle:
        types = json.load(handle)['credential_types']
    injected = set()
    for ctype in types:
        fields = dict((f['id'], f) for f in ctype['inputs']['fields'])
        assert set(ctype['inputs'].get('required', [])) <= set(fields), ctype['name']
        env = ctype['injectors'].get('env') or {}
        assert env, '%s injects no environment variable' % ctype['name']
        assert not ctype['injectors'].get('extra_vars'), '%s: extra_vars would outrank task options' % ctype['name']
        for var, template in env.items():
            assert var in WINIMAGE_ENV, '%s injects %s, which no module option reads' % (ctype['name'], var)
            used = set(re.findall(r'{{\s*(\w+)\s*}}', template)) | set(re.findall(r'{%\s*if\s+(\w+)', template))
            assert used and used <= set(fields) | {'tower'}, '%s: %s uses %s' % (ctype['name'], var, sorted(used))
        for field in fields.values():
            if re.search('password|secret', field['id']):
                assert field.get('secret') is True, '%s: %s is not secret' % (ctype['name'], field['id'])
            if 'choices' in field:
                assert field.get('default') in field['choices'], field['id']
        injected |= set(env)
    assert {'WINIMAGE_DOMAIN_USERNAME', 'WINIMAGE_DOMAIN_PASSWORD', 'WINIMAGE_KEYTAB', 'WINIMAGE_VAULT_PASSWORD'} <= injected
    # a keytab instead of a password: the domain account's password is not required
    account = [t for t in types if 'WINIMAGE_DOMAIN_USERNAME' in t['injectors']['env']][0]
    assert 'domain_password' not in account['inputs'].get('required', [])
    # the roles read every injected variable when their own variables are not given
    defaults = ''
    for role in ('provisioner', 'requester'):
        with open(os.path.join(REPO, 'roles', role, 'defaults', 'main.yml'), encoding='utf-8') as handle:
            defaults += handle.read()
    for var in injected:
        assert "lookup('ansible.builtin.env', '%s')" % var in defaults, 'no role default reads %s' % var


@pytest.mark.parametrize('name', ['odj_provision', 'odj_install'])
def test_vault_password_falls_back_to_the_environment(name):
    path = dict(MODULES)[name]
    doc, _blocks = _module_doc(path)
    assert 'WINIMAGE_VAULT_PASSWORD' in ' '.join(doc['options']['vault_password']['description'])


def test_changelog_config_matches_collection():
    config = _load_yaml('changelogs', 'config.yaml')
    assert config['notesdir'] == 'fragments'
    assert config['changes_file'] == 'changelog.yaml'
    changes = _load_yaml('changelogs', 'changelog.yaml')
    released = set((changes or {}).get('releases') or {})
    # 0.1.0 is the first release: nothing may be recorded as released before it
    assert released <= {COLLECTION_VERSION}


def test_every_plugin_python_file_has_the_gpl_header():
    files = _plugin_python_files()
    assert files, 'no Python files under plugins/'
    missing = []
    for path in files:
        with open(path, encoding='utf-8') as handle:
            head = [handle.readline().rstrip('\n') for _dummy in range(5)]
        # an optional shebang and/or coding line may come first
        while head and (head[0].startswith('#!') or 'coding' in head[0]):
            head.pop(0)
        if tuple(head[:2]) != HEADER:
            missing.append(_rel(path))
    assert not missing, 'files without the GPL-3.0+ header: %s' % ', '.join(missing)


MODULES = _module_docs()


@pytest.mark.parametrize('name,path', MODULES, ids=[m[0] for m in MODULES] or None)
def test_module_documentation_is_changelog_worthy(name, path):
    doc, blocks = _module_doc(path)
    assert isinstance(doc, dict), '%s: DOCUMENTATION is not a mapping' % _rel(path)
    assert doc.get('module') == name, '%s: DOCUMENTATION.module is %r' % (_rel(path), doc.get('module'))
    # antsibull-changelog lists new modules by their version_added
    assert str(doc.get('version_added')) == COLLECTION_VERSION, '%s: version_added is %r' % (_rel(path), doc.get('version_added'))
    assert doc.get('short_description'), '%s: no short_description' % _rel(path)
    assert doc.get('description'), '%s: no description' % _rel(path)
    assert doc.get('author'), '%s: no author' % _rel(path)
    for block in ('EXAMPLES', 'RETURN'):
        assert block in blocks, '%s: no %s' % (_rel(path), block)
    examples = blocks['EXAMPLES']
    if isinstance(examples, str):
        assert 'winimage.provisioning.%s' % name in examples, '%s: EXAMPLES do not use the FQCN' % _rel(path)


def test_module_discovery_sees_every_module_file():
    """Each .py/.ps1 module has documentation that the test above reads."""
    moddir = os.path.join(PLUGINS, 'modules')
    assert os.path.isdir(moddir), 'plugins/modules is missing'
    documented = {name for name, _path in MODULES}
    code = set()
    for name in os.listdir(moddir):
        base, ext = os.path.splitext(name)
        if ext in ('.py', '.ps1') and not base.startswith('_') and base != '__init__':
            code.add(base)
    assert code <= documented, 'modules without documentation: %s' % sorted(code - documented)


def test_every_docsite_page_is_in_extra_docs():
    """Each docs/docsite/rst/*.rst is reachable from docs/docsite/extra-docs.yml and vice versa."""
    rst_dir = os.path.join(REPO, 'docs', 'docsite', 'rst')
    pages = {os.path.splitext(n)[0] for n in os.listdir(rst_dir) if n.endswith('.rst')} if os.path.isdir(rst_dir) else set()
    extra = _load_yaml('docs', 'docsite', 'extra-docs.yml') or {}
    listed = []
    for section in extra.get('sections') or []:
        assert section.get('title'), 'extra-docs.yml: a section without title'
        listed.extend(section.get('toctree') or [])
    assert len(listed) == len(set(listed)), 'extra-docs.yml lists a page twice'
    assert set(listed) == pages, 'not listed: %s; listed but absent: %s' % (sorted(pages - set(listed)), sorted(set(listed) - pages))
    links = _load_yaml('docs', 'docsite', 'links.yml') or {}
    for link in links.get('extra_links') or []:
        assert link.get('description') and link.get('url')


# --- PowerShell modules: argument spec against documentation ----------------
# ansible-test's validate-modules does this comparison by running the spec
# through pwsh, which Debian does not ship (scripts/run-sanity names the .ps1
# files it has to leave out for that reason). Here the `$spec = @{...}` literal
# is read with tree-sitter-powershell and held against the .yml DOCUMENTATION
# with the same rules: every option documented and vice versa, same type,
# required, choices, elements, aliases, default, and no_log on anything that
# looks like a secret (validate-modules' is_potential_secret_option).

NO_LOG_REGEX = re.compile(r'(?:pass(?!ive)|secret|token|key)', re.I)
_NOT_SECRET_SUFFIXES = ('_count', '_type', '_alg', '_algorithm', '_timeout', '_name', '_comment',
                        '_bits', '_id', '_identifier', '_period', '_file', '_filename')
_NOT_SECRET_PARTS = ('publickey', 'public_key', 'keyusage', 'key_usage', 'keyserver', 'key_server',
                     'keysize', 'key_size', 'keyservice', 'key_service', 'pub_key', 'pubkey',
                     'keyboard', 'secretary')
_UNKNOWN = object()  # a spec value that is not a plain literal (variable, call, cast ...)


def _is_potential_secret_option(name):
    if not NO_LOG_REGEX.search(name):
        return False
    if name.endswith(_NOT_SECRET_SUFFIXES):
        return False
    return not any(part in name for part in _NOT_SECRET_PARTS)


def _ps_modules():
    moddir = os.path.join(PLUGINS, 'modules')
    if not os.path.isdir(moddir):
        return []
    found = []
    for name in sorted(os.listdir(moddir)):
        if name.endswith('.ps1') and not name.startswith('_'):
            path = os.path.join(moddir, name)
            with open(path, encoding='utf-8-sig') as handle:
                text = handle.read()
            if re.search(r'(?im)^#\s*ansiblerequires\s+-csharputil\s+Ansible\.Basic', text):
                found.append((name[:-4], path))
    return found


class _PsLiteral(object):
    """Plain PowerShell literals from a tree-sitter-powershell tree to Python values."""

    def __init__(self, src):
        self.src = src

    def text(self, node):
        return self.src[node.start_byte:node.end_byte].decode('utf-8')

    def value(self, node):
        # descend the chains of single-child expression wrappers
        while node.child_count == 1 and node.type not in ('string_literal', 'integer_literal', 'variable'):
            node = node.children[0]
        kind = node.type
        if kind == 'hash_literal_expression':
            return self.hashtable(node)
        if kind == 'array_literal_expression':
            return [self.value(c) for c in node.children if c.type != ',']
        if kind == 'array_expression':
            items = [c for c in node.children if c.type not in ('@(', ')')]
            if not items:
                return []
            value = self.value(items[0])
            return value if isinstance(value, list) else [value]
        if kind == 'string_literal':
            raw = self.text(node)
            if raw[:1] == "'" and raw[-1:] == "'":
                return raw[1:-1].replace("''", "'")
            if raw[:1] == '"' and raw[-1:] == '"' and '$' not in raw and '`' not in raw:
                return raw[1:-1]
            return _UNKNOWN
        if kind == 'integer_literal':
            try:
                return int(self.text(node), 0)
            except ValueError:
                return _UNKNOWN
        if kind == 'variable':
            return {'$true': True, '$false': False, '$null': None}.get(self.text(node).lower(), _UNKNOWN)
        return _UNKNOWN

    def hashtable(self, node):
        result = {}
        for body in node.children:
            if body.type != 'hash_literal_body':
                continue
            for entry in body.children:
                if entry.type != 'hash_entry':
                    continue
                key = entry.child_by_field_name('key') or entry.children[0]
                key_text = self.text(key).strip().strip('\'"')
                rest = [c for c in entry.children if c.type not in ('key_expression', '=', ';')]
                result[key_text] = self.value(rest[0]) if rest else _UNKNOWN
        return result


def _ps_spec(path):
    import tree_sitter
    import tree_sitter_powershell
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    with open(path, 'rb') as handle:
        src = handle.read()
    if src.startswith(b'\xef\xbb\xbf'):
        src = src[3:]
    tree = parser.parse(src)
    assert not tree.root_node.has_error, '%s: tree-sitter-powershell cannot parse it' % _rel(path)
    literal = _PsLiteral(src)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == 'assignment_expression' and literal.text(node.children[0]).strip().lower() == '$spec':
            value = literal.value(node.children[-1])
            assert isinstance(value, dict), '%s: $spec is not a hashtable literal' % _rel(path)
            return value
        stack.extend(reversed(node.children))
    raise AssertionError('%s: no `$spec = @{...}` assignment' % _rel(path))


def _norm_list(value):
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def _compare_options(spec_opts, doc_opts, where, errors):
    spec_opts = spec_opts or {}
    doc_opts = doc_opts or {}
    for name in sorted(set(spec_opts) - set(doc_opts)):
        errors.append('%s%s: undocumented-parameter' % (where, name))
    for name in sorted(set(doc_opts) - set(spec_opts)):
        errors.append('%s%s: nonexistent-parameter-documented' % (where, name))
    for name in sorted(set(spec_opts) & set(doc_opts)):
        spec, doc = spec_opts[name], doc_opts[name] or {}
        if not isinstance(spec, dict):
            errors.append('%s%s: the spec entry is not a hashtable literal' % (where, name))
            continue
        label = '%s%s' % (where, name)
        spec_type = spec.get('type', 'str')
        if spec_type is not _UNKNOWN and spec_type != doc.get('type', 'str'):
            errors.append('%s: doc-type-does-not-match-spec (spec %r, doc %r)' % (label, spec_type, doc.get('type', 'str')))
        if bool(spec.get('required', False)) != bool(doc.get('required', False)):
            errors.append('%s: doc-required-mismatch' % label)
        for key, code in (('choices', 'doc-choices-do-not-match-spec'), ('aliases', 'doc-aliases-mismatch')):
            spec_v, doc_v = spec.get(key, _UNKNOWN if key not in spec else None), doc.get(key)
            if key not in spec:
                spec_v = None
            if spec_v is not _UNKNOWN and sorted(map(str, _norm_list(spec_v) or [])) != sorted(map(str, _norm_list(doc_v) or [])):
                errors.append('%s: %s (spec %r, doc %r)' % (label, code, spec_v, doc_v))
        spec_elements, doc_elements = spec.get('elements'), doc.get('elements')
        if spec_elements is not _UNKNOWN and (spec_elements or doc_elements) and spec_elements != doc_elements:
            errors.append('%s: doc-elements-mismatch (spec %r, doc %r)' % (label, spec_elements, doc_elements))
        spec_default = spec.get('default')
        if spec_default is not _UNKNOWN and not (isinstance(spec_default, list) and _UNKNOWN in spec_default):
            doc_default = doc.get('default')
            if spec_type == 'list':
                spec_default, doc_default = _norm_list(spec_default), _norm_list(doc_default)
            if spec_default != doc_default:
                errors.append('%s: doc-default-does-not-match-spec (spec %r, doc %r)' % (label, spec_default, doc_default))
        if (spec.get('no_log') is None and _is_potential_secret_option(name)
                and spec_type not in ('path', 'bool') and spec.get('choices') is None):
            errors.append("%s: no-log-needed (could be a secret, doesn't have no_log set)" % label)
        if 'options' in spec or 'suboptions' in doc:
            _compare_options(spec.get('options'), doc.get('suboptions'), label + '.', errors)


PS_MODULES = _ps_modules()


@pytest.mark.parametrize('name,path', PS_MODULES, ids=[m[0] for m in PS_MODULES] or None)
def test_powershell_argument_spec_matches_documentation(name, path):
    docs_path = os.path.splitext(path)[0] + '.yml'
    assert os.path.isfile(docs_path), '%s has no %s' % (_rel(path), _rel(docs_path))
    doc, _blocks = _module_doc(docs_path)
    spec = _ps_spec(path)
    errors = []
    _compare_options(spec.get('options'), doc.get('options'), '', errors)
    if doc.get('attributes', {}).get('check_mode', {}).get('support') in ('full', 'partial'):
        if spec.get('supports_check_mode') is not True:
            errors.append('attributes.check_mode says %s but supports_check_mode is not $true'
                          % doc['attributes']['check_mode']['support'])
    assert not errors, '%s:\n  %s' % (_rel(path), '\n  '.join(errors))


@pytest.mark.parametrize('name,path', PS_MODULES, ids=[m[0] for m in PS_MODULES] or None)
def test_powershell_module_header(name, path):
    with open(path, encoding='utf-8-sig') as handle:
        lines = [line.rstrip('\n') for line in handle.readlines()[:6]]
    assert lines[0] == '#!powershell', '%s: first line is not #!powershell' % _rel(path)
    assert HEADER[0] in lines and HEADER[1] in lines, '%s: no GPL-3.0+ header' % _rel(path)
