# -*- coding: utf-8 -*-
"""Gate for the Windows modules, with what runs on Linux.

PowerShell cannot run here, so:
- every plugins/modules/*.ps1 must parse with tree-sitter-powershell without an
  ERROR or MISSING node (failures name file, line and column);
- every embedded C# block (the here-strings given to Add-CSharpType / Add-Type)
  and every plugins/module_utils/*.cs must compile with mcs (mono) as a library,
  at language version 5 (what Windows PowerShell 5.1's compiler accepts), with
  warnings as errors and without Ansible's own C# utilities (self-contained);
- each .ps1's argument spec must name exactly the options its .yml documents,
  with the same type, required flag, default, choices and elements. Options
  whose name starts with '_' are internal (set by the action plugin); they are
  documented too (validate-modules wants every option documented) and their
  description must say 'Internal'.
"""

import glob
import os
import re
import shutil
import subprocess

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = os.path.join(REPO, 'plugins', 'modules')
PS1_FILES = sorted(glob.glob(os.path.join(MODULES, '*.ps1')))
CS_FILES = sorted(glob.glob(os.path.join(REPO, 'plugins', 'module_utils', '*.cs')))
HERE_STRING = re.compile(r"@(['\"])\r?\n(.*?)\r?\n\1@", re.S)

ts = pytest.importorskip('tree_sitter')
tsp = pytest.importorskip('tree_sitter_powershell')
PARSER = ts.Parser(ts.Language(tsp.language()))


def rel(path):
    return os.path.relpath(path, REPO)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


# ------------------------------------------------------------------ PowerShell syntax

def syntax_errors(source):
    """[(line, column, kind, text)] of ERROR / MISSING nodes (1-based lines)."""
    tree = PARSER.parse(source)
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == 'ERROR' or node.is_error or node.is_missing:
            kind = 'MISSING %s' % node.type if node.is_missing else 'ERROR'
            text = source[node.start_byte:node.end_byte].decode('utf-8', 'replace').split('\n')[0][:60]
            found.append((node.start_point[0] + 1, node.start_point[1] + 1, kind, text))
            continue
        stack.extend(node.children)
    return sorted(found)


def test_there_are_windows_modules():
    names = sorted(os.path.basename(p) for p in PS1_FILES)
    for expected in ('win_complus_import.ps1', 'win_odj_install.ps1', 'win_odj_provision.ps1', 'win_odj_join_info.ps1'):
        assert expected in names


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_ps1_parses(path):
    errors = syntax_errors(read(path))
    assert not errors, '\n'.join('%s:%d:%d: %s near %r' % (rel(path), line, col, kind, text)
                                 for line, col, kind, text in errors)


def test_syntax_gate_catches_errors():
    bad = b"$x = @{\n  a = 1\n\nfunction f( {\n}\n"
    errors = syntax_errors(bad)
    assert errors and errors[0][0] >= 1
    assert syntax_errors(b"$x = @{ a = 1; b = 'two' }\nif ($x.a -eq 1) { $x.b }\n") == []


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_ps1_header(path):
    text = read(path).decode('utf-8')
    assert text.startswith('#!powershell\n'), rel(path)
    assert '#AnsibleRequires -CSharpUtil Ansible.Basic' in text, rel(path)
    assert 'GNU General Public License v3.0+' in text, rel(path)
    if 'Add-CSharpType' in text:
        assert '#AnsibleRequires -PowerShell Ansible.ModuleUtils.AddType' in text, rel(path)


# ------------------------------------------------------------------ C#

def csharp_blocks(text):
    return [block for dummy, block in HERE_STRING.findall(text) if re.search(r'^\s*namespace\s', block, re.M)]


def compile_csharp(source, workdir, name):
    src = os.path.join(workdir, name + '.cs')
    with open(src, 'w') as handle:
        handle.write(source)
    return subprocess.run(['mcs', '-target:library', '-langversion:5', '-warnaserror+', '-r:System.Core',
                           '-out:' + os.path.join(workdir, name + '.dll'), src],
                          capture_output=True, text=True, check=False)


def all_csharp():
    items = []
    for path in PS1_FILES:
        text = read(path).decode('utf-8')
        for index, block in enumerate(csharp_blocks(text)):
            line = text[:text.index(block)].count('\n') + 1
            items.append(pytest.param(block, '%s:%d' % (rel(path), line), id='%s-%d' % (os.path.basename(path), index)))
    for path in CS_FILES:
        items.append(pytest.param(read(path).decode('utf-8'), rel(path), id=os.path.basename(path)))
    return items


needs_mcs = pytest.mark.skipif(shutil.which('mcs') is None, reason='mcs (Debian mono-mcs) not installed; see bindep.txt')


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_csharp_blocks_are_found(path):
    text = read(path).decode('utf-8')
    if 'Add-CSharpType' in text or 'Add-Type' in text:
        assert csharp_blocks(text), '%s calls Add-CSharpType but no C# here-string was found' % rel(path)


@needs_mcs
@pytest.mark.parametrize('source, where', all_csharp())
def test_csharp_compiles(source, where, tmp_path):
    assert not re.search(r'^\s*using\s+Ansible\b', source, re.M), '%s: keep the C# self-contained' % where
    proc = compile_csharp(source, str(tmp_path), 'block')
    assert proc.returncode == 0, '%s (line numbers relative to the block):\n%s%s' % (where, proc.stdout, proc.stderr)


@needs_mcs
def test_csharp_blocks_in_both_here_string_kinds():
    text = "$a = @'\nnamespace A { }\n'@\n$b = @\"\nnamespace B { }\n\"@\n$c = @'\nnot code\n'@\n"
    assert csharp_blocks(text) == ['namespace A { }', 'namespace B { }']


@needs_mcs
def test_csharp_gate_catches_errors(tmp_path):
    proc = compile_csharp('namespace X { public class Y { public int Z() { return "no"; } } }', str(tmp_path), 'bad')
    assert proc.returncode != 0 and 'CS0029' in proc.stdout + proc.stderr
    # C# 6 string interpolation is not accepted by Windows PowerShell 5.1's compiler
    proc = compile_csharp('namespace X { public class Y { public string Z(int a) { return $"{a}"; } } }', str(tmp_path), 'cs6')
    assert proc.returncode != 0


# ------------------------------------------------------------------ argument spec vs documentation

class Expr(object):
    """A PowerShell expression the spec reader does not evaluate."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return 'Expr(%r)' % self.text


def _unwrap(node):
    while node.named_child_count == 1 and node.type not in ('hash_literal_expression', 'array_expression') \
            and node.child_count == 1:
        node = node.children[0]
    return node


def ps_value(node, src):
    node = _unwrap(node)
    text = src[node.start_byte:node.end_byte].decode('utf-8')
    kind = node.type
    if kind == 'hash_literal_expression':
        out = {}
        for entry in node.children:
            if entry.type != 'hash_body':
                continue
        for entry in _hash_entries(node):
            key = entry.child_by_field_name('key') or entry.children[0]
            value = entry.children[-1] if entry.children[-1].type != ';' else entry.children[-2]
            out[src[key.start_byte:key.end_byte].decode('utf-8').strip("'\"")] = ps_value(value, src)
        return out
    if kind == 'array_literal_expression':
        return [ps_value(c, src) for c in node.children if c.type != ',']
    if kind == 'array_expression':
        inner = [c for c in node.children if c.type not in ('@(', ')')]
        if not inner:
            return []
        value = ps_value(inner[0], src)
        return value if isinstance(value, list) else [value]
    if kind in ('verbatim_string_characters', 'expandable_string_literal', 'string_literal'):
        return text[1:-1]
    if kind == 'variable':
        low = text.lower()
        if low in ('$true', '$false', '$null'):
            return {'$true': True, '$false': False, '$null': None}[low]
        return Expr(text)
    if kind in ('decimal_integer_literal', 'hexadecimal_integer_literal'):
        return int(text, 0)
    return Expr(text)


def _hash_entries(node):
    out = []
    stack = list(node.children)
    while stack:
        child = stack.pop(0)
        if child.type == 'hash_entry':
            out.append(child)
        elif child.type not in ('hash_literal_expression',):
            stack[0:0] = list(child.children)
    return out


def ps1_spec(path):
    src = read(path)
    tree = PARSER.parse(src)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == 'assignment_expression':
            left = src[node.children[0].start_byte:node.children[0].end_byte].decode('utf-8').strip()
            if left.lower() == '$spec':
                return ps_value(node.children[-1], src)
        stack.extend(node.children)
    raise AssertionError('%s: no $spec = @{...} assignment found' % rel(path))


def yml_doc(path):
    with open(path) as handle:
        data = yaml.safe_load(handle)
    assert set(data) >= {'DOCUMENTATION', 'EXAMPLES', 'RETURN'}, rel(path)
    return data


def compare_options(ps_options, doc_options, where):
    problems = []
    public = dict(ps_options)
    documented = dict(doc_options or {})
    for name in sorted(set(public) - set(documented)):
        problems.append('%s: option %r is in the argument spec but not documented' % (where, name))
    for name in sorted(set(documented) - set(public)):
        problems.append('%s: option %r is documented but not in the argument spec' % (where, name))
    for name in sorted(k for k in documented if k.startswith('_')):
        text = documented[name].get('description') or ''
        text = ' '.join(text) if isinstance(text, list) else text
        if not text.startswith('Internal'):
            problems.append('%s: internal option %r must be documented as Internal' % (where, name))
    for name in sorted(set(public) & set(documented)):
        spec, doc = public[name], documented[name]
        checks = (
            ('type', spec.get('type', 'str'), doc.get('type', 'str')),
            ('required', bool(spec.get('required', False)), bool(doc.get('required', False))),
            ('elements', spec.get('elements'), doc.get('elements')),
            ('choices', spec.get('choices'), doc.get('choices')),
        )
        for what, have, want in checks:
            if have != want:
                problems.append('%s: option %r: %s is %r in the spec but %r in the documentation' % (where, name, what, have, want))
        if 'default' in spec and not isinstance(spec['default'], Expr):
            spec_default = spec['default']
            doc_default = doc.get('default')
            if spec_default != doc_default and not (spec_default == [] and doc_default == []):
                problems.append('%s: option %r: default is %r in the spec but %r in the documentation'
                                % (where, name, spec_default, doc_default))
        elif 'default' in doc:
            problems.append('%s: option %r: documented default %r is not in the spec' % (where, name, doc['default']))
        if isinstance(spec.get('options'), dict) or isinstance(doc.get('suboptions'), dict):
            problems.extend(compare_options(spec.get('options') or {}, doc.get('suboptions') or {}, '%s.%s' % (where, name)))
    return problems


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_spec_matches_documentation(path):
    yml = path[:-len('.ps1')] + '.yml'
    assert os.path.exists(yml), '%s has no documentation file %s' % (rel(path), rel(yml))
    spec = ps1_spec(path)
    doc = yml_doc(yml)['DOCUMENTATION']
    assert doc['module'] == os.path.basename(path)[:-4]
    problems = compare_options(spec['options'], doc.get('options'), rel(path))
    assert not problems, '\n'.join(problems)
    check_mode = doc['attributes']['check_mode']['support']
    assert bool(spec.get('supports_check_mode')) == (check_mode in ('full', 'partial')), rel(path)


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_secrets_are_no_log(path):
    options = ps1_spec(path)['options']
    secret = [n for n in options if ('password' in n and options[n].get('type') != 'bool')
              or n in ('content', '_package', '_hmac_key', '_content')]
    assert secret or 'provision' in path or 'join_info' in path
    for name in secret:
        assert options[name].get('no_log') is True, '%s: option %r must be no_log' % (rel(path), name)
    for name, spec in options.items():
        if name.startswith('_') or spec.get('no_log') is not True:
            continue
        assert name in secret, '%s: option %r is no_log but not expected to be secret' % (rel(path), name)


def test_spec_reader_detects_mismatch():
    ps = {'a': {'type': 'str', 'required': True}, 'b': {'type': 'bool', 'default': False},
          'c': {'type': 'list', 'elements': 'str', 'choices': ['x', 'y'], 'default': []}}
    doc = {'a': {'type': 'str', 'required': True}, 'b': {'type': 'bool', 'default': False},
           'c': {'type': 'list', 'elements': 'str', 'choices': ['x', 'y'], 'default': []}}
    assert compare_options(ps, doc, 't') == []
    doc_missing = dict(doc)
    del doc_missing['b']
    assert compare_options(ps, doc_missing, 't') == ["t: option 'b' is in the argument spec but not documented"]
    doc_type = dict(doc, b={'type': 'str', 'default': False})
    assert "t: option 'b': type is 'bool' in the spec but 'str' in the documentation" in compare_options(ps, doc_type, 't')
    ps = dict(ps, _hidden={'type': 'str'})
    assert "t: option '_hidden' is in the argument spec but not documented" in compare_options(ps, doc, 't')
    doc_hidden = dict(doc, _hidden={'type': 'str', 'description': ['Set by the action plugin.']})
    assert compare_options(ps, doc_hidden, 't') == ["t: internal option '_hidden' must be documented as Internal"]
    doc_hidden['_hidden']['description'] = ['Internal, set by the action plugin.']
    assert compare_options(ps, doc_hidden, 't') == []


def test_spec_reader_reads_powershell_literals(tmp_path):
    path = tmp_path / 'm.ps1'
    path.write_text("$spec = @{\n    options = @{\n        a = @{ type = 'list'; elements = 'str'; choices = 'x', 'y',\n"
                    "            'z'; default = @() }\n        b = @{ type = 'int'; default = 0x10 }\n"
                    "        c = @{ type = 'bool'; default = $true; no_log = $false }\n"
                    "        d = @{ options = @{ e = @{ required = $true } } }\n    }\n"
                    "    supports_check_mode = $true\n}\n")
    spec = ps1_spec(str(path))
    assert spec['supports_check_mode'] is True
    assert spec['options']['a'] == {'type': 'list', 'elements': 'str', 'choices': ['x', 'y', 'z'], 'default': []}
    assert spec['options']['b'] == {'type': 'int', 'default': 16}
    assert spec['options']['c'] == {'type': 'bool', 'default': True, 'no_log': False}
    assert spec['options']['d'] == {'options': {'e': {'required': True}}}


# ------------------------------------------------------------------ tables shared with Python

@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_no_python_table_is_copied_into_powershell(path):
    """Error names, NETSETUP_PROVISION_* values, HRESULT names and the global partition's ID live in module_utils only."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.complus import catalog as _complus
    from ansible_collections.winimage.provisioning.plugins.module_utils.common import netapi_errors as _netapi_errors
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj.flags import PROVISION
    text = HERE_STRING.sub('', read(path).decode('utf-8'))  # C# constants an API call needs are not tables
    code = '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith('#'))
    names = [n for n in _netapi_errors.BY_NAME if n != 'NERR_Success'] + list(PROVISION)
    names += [name for name, dummy in _complus.HRESULTS.values() if name.startswith('COMADMIN_E_')]
    names.append(_complus.GLOBAL_PARTITION_ID)
    copied = sorted(n for n in names if re.search(r'\b%s\b' % re.escape(n), code, re.I))
    assert not copied, '%s holds names Python owns: %s' % (rel(path), ', '.join(copied))
    flags = sorted(set(re.findall(r'^\s*\w+\s*=\s*0x[0-9A-Fa-f]+\s*$', code, re.M)))
    assert not flags, '%s holds a flag table: %s' % (rel(path), flags)


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_ansible_doc_renders(path, collections_root):
    import json
    import sys
    name = os.path.basename(path)[:-4]
    ansible_doc = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([ansible_doc, '--json', 'winimage.provisioning.' + name], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0 and '[ERROR]' not in proc.stderr and '[WARNING]' not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)['winimage.provisioning.' + name]
    assert doc['doc']['version_added'] == '0.1.0'
    assert sorted(doc['doc']['options']) == sorted(ps1_spec(path)['options'])
    assert doc['examples'] and 'winimage.provisioning.' + name in doc['examples']
    assert doc['return']
    text = subprocess.run([ansible_doc, 'winimage.provisioning.' + name], capture_output=True, text=True, env=env, check=False)
    assert text.returncode == 0 and 'OPTIONS' in text.stdout, text.stderr


# ------------------------------------------------------------------ C# behaviour under mono

HARNESS_PROVISION = r'''
using System;
using System.Reflection;
using System.Runtime.InteropServices;
public static class Harness
{
    public static void Main()
    {
        Type t = typeof(WinImage.Provisioning.OdjProvision.Provisioner).GetNestedType(
            "NETSETUP_PROVISIONING_PARAMS", BindingFlags.NonPublic);
        Console.WriteLine("size " + Marshal.SizeOf(t));
        foreach (FieldInfo f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            Console.WriteLine("offset " + f.Name + " " + Marshal.OffsetOf(t, f.Name));
    }
}
'''

HARNESS_INSTALL = r'''
using System;
public static class Harness
{
    public static void Main(string[] args)
    {
        byte[] key = Convert.FromBase64String(args[0]);
        Console.WriteLine(WinImage.Provisioning.OdjInstall.HiveDump.Hmac(key, args[1]));
        Console.WriteLine("appkey " + WinImage.Provisioning.OdjInstall.HiveDump.AppKeyOptions);
        try
        {
            WinImage.Provisioning.OdjInstall.Installer.Install(new byte[0], 0, "C:\\Windows");
            Console.WriteLine("no exception");
        }
        catch (ArgumentException e)
        {
            Console.WriteLine("refused: " + e.Message);
        }
    }
}
'''

needs_mono = pytest.mark.skipif(shutil.which('mcs') is None or shutil.which('mono') is None,
                                reason='mcs / mono (Debian mono-mcs, mono-runtime) not installed')


def build_and_run(module, harness, tmp_path, *args):
    text = read(os.path.join(MODULES, module)).decode('utf-8')
    (block,) = csharp_blocks(text)
    (tmp_path / 'block.cs').write_text(block)
    (tmp_path / 'harness.cs').write_text(harness)
    exe = str(tmp_path / 'harness.exe')
    proc = subprocess.run(['mcs', '-langversion:5', '-r:System.Core', '-out:' + exe, str(tmp_path / 'block.cs'),
                           str(tmp_path / 'harness.cs')], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = subprocess.run(['mono', exe] + list(args), capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.splitlines()


@needs_mono
def test_provisioning_params_layout_matches_lmjoin_h(tmp_path):
    """The C# struct must have the native NETSETUP_PROVISIONING_PARAMS (version 1) layout.

    ctypes lays out the C declaration from lmjoin.h; on 64-bit Linux DWORD (uint32)
    and pointers have the sizes and alignments they have on 64-bit Windows.
    """
    import ctypes

    class Params(ctypes.Structure):
        _fields_ = [
            ('dwVersion', ctypes.c_uint32), ('lpDomain', ctypes.c_wchar_p), ('lpHostName', ctypes.c_wchar_p),
            ('lpMachineAccountOU', ctypes.c_wchar_p), ('lpDcName', ctypes.c_wchar_p),
            ('dwProvisionOptions', ctypes.c_uint32),
            ('aCertTemplateStrings', ctypes.c_void_p), ('cCertTemplateStrings', ctypes.c_uint32),
            ('aMachinePolicyNames', ctypes.c_void_p), ('cMachinePolicyNames', ctypes.c_uint32),
            ('aMachinePolicyPaths', ctypes.c_void_p), ('cMachinePolicyPaths', ctypes.c_uint32),
        ]

    if ctypes.sizeof(ctypes.c_void_p) != 8:
        pytest.skip('layout reference computed for 64-bit only')
    lines = build_and_run('win_odj_provision.ps1', HARNESS_PROVISION, tmp_path)
    got = dict((parts[1], int(parts[2])) for parts in (line.split() for line in lines) if parts[0] == 'offset')
    sizes = [line.split()[1] for line in lines if line.startswith('size ')]
    assert int(sizes[0]) == ctypes.sizeof(Params)
    assert got == dict((name, getattr(Params, name).offset) for name, dummy in Params._fields_)


@needs_mono
def test_password_digest_matches_the_controller(tmp_path):
    """The module's HMAC of the pending password equals the action plugin's HMAC of the package's."""
    import base64
    from ansible_collections.winimage.provisioning.plugins.action.win_odj_install import secret_digest
    key = os.urandom(32)
    for text in ('x', 'Pa55-w0rd with spaces', u'\u00e9t\u00e9 \u2603 "quoted"'):
        lines = build_and_run('win_odj_install.ps1', HARNESS_INSTALL, tmp_path, base64.b64encode(key).decode('ascii'), text)
        assert lines[0] == secret_digest(key, text)
        assert lines[2] == 'refused: the package is empty'


@needs_mono
def test_image_hive_is_loaded_read_only(tmp_path):
    """RegLoadAppKey gets REG_PROCESS_APPKEY | REG_APP_HIVE_OPEN_READ_ONLY (winnt.h 0x1 | 0x2000,
    REG_APP_HIVE_OPEN_READ_ONLY being REG_OPEN_READ_ONLY), in every phase
    that reads, check mode included; the only call that loads the hive is the dump's."""
    import base64
    lines = build_and_run('win_odj_install.ps1', HARNESS_INSTALL, tmp_path, base64.b64encode(b'k' * 32).decode('ascii'), 'x')
    assert lines[1] == 'appkey %d' % (0x1 | 0x2000)
    text = read(os.path.join(MODULES, 'win_odj_install.ps1')).decode('utf-8')
    calls = re.findall(r'NativeMethods\.RegLoadAppKeyW\(([^;]*)\);', text)
    assert calls == ['hivePath, out root, KEY_READ, AppKeyOptions, 0'], calls


@pytest.mark.parametrize('path', PS1_FILES, ids=rel)
def test_params_used_are_in_the_spec(path):
    text = read(path).decode('utf-8')
    used = set(re.findall(r'\$module\.Params\.(\w+)', text)) | set(re.findall(r"\$module\.Params\['(\w+)'\]", text))
    assert used, rel(path)
    unknown = sorted(used - set(ps1_spec(path)['options']))
    assert not unknown, '%s uses $module.Params.%s, which its spec does not define' % (rel(path), ', '.join(unknown))


def test_request_keys_agree_with_the_action_plugins():
    """What the PowerShell reads from _request is what the action plugin sends."""
    pairs = (('win_odj_install', {'registry_keys', 'mask', 'options', 'windows_path'}),
             ('win_complus_import', {'file', 'steps', 'app_ids', 'app_names'}),
             ('win_odj_join_info', {'registry_keys', 'mask', 'log_lines', 'event_ids'}),
             ('win_odj_provision', {'domain', 'machine_name', 'machine_account_ou', 'dc_name', 'options',
                                    'certificate_templates', 'policy_names', 'policy_paths'}))
    for name, expected in pairs:
        ps1 = read(os.path.join(MODULES, name + '.ps1')).decode('utf-8')
        action = read(os.path.join(REPO, 'plugins', 'action', name + '.py')).decode('utf-8')
        read_keys = set(re.findall(r"\$request\['(\w+)'\]", ps1))
        assert read_keys == expected, name
        sent = action[action.index("request"):]
        for key in expected:
            assert "'%s'" % key in sent, '%s: the action plugin does not send %r' % (name, key)


def test_step_keys_agree_with_the_plan():
    from ansible_collections.winimage.provisioning.plugins.module_utils.complus import catalog as _complus
    ps1 = read(os.path.join(MODULES, 'win_complus_import.ps1')).decode('utf-8')
    read_keys = set(re.findall(r"\$step\['(\w+)'\]", ps1))
    opts = _complus.validate_options({'src': 'a.msi', 'force': True})
    new_partition = '99999999-8888-7777-6666-555555555555'
    opts['partition'] = new_partition
    plan = _complus.plan(opts, {'applications': [{'name': 'Orders'}]},
                         {'partitions': [], 'partitions_enabled': True,
                          'applications': [{'id': '6A5C2D4E-0000-4000-8000-00000000A001', 'name': 'Orders',
                                            'partition_id': new_partition}]})
    actions = dict((step['action'], set(step)) for step in plan['steps'])
    assert sorted(actions) == ['create_partition', 'install', 'remove', 'select_partition']
    produced = set().union(*actions.values())
    assert read_keys <= produced, sorted(read_keys - produced)
    assert read_keys == produced, 'plan keys the module ignores: %s' % sorted(produced - read_keys)


# ------------------------------------------------------------------ COMAdminCatalog calls

def _ps_calls(text):
    """(object.member, is_call, is_assignment) of every member access in the PowerShell code (tree-sitter)."""
    src = HERE_STRING.sub('', text).encode('utf-8')
    tree = PARSER.parse(src)
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in ('invokation_expression', 'member_access'):
            found.append((node.type, src[node.start_byte:node.end_byte].decode('utf-8')))
        if node.type == 'assignment_expression':
            found.append(('assignment', src[node.children[0].start_byte:node.children[0].end_byte].decode('utf-8')))
        stack.extend(node.children)
    return found


def test_complus_current_partition_is_assigned_not_called():
    """ICOMAdminCatalog2.CurrentPartition is a write-only property: `$catalog.CurrentPartition = id`."""
    text = read(os.path.join(MODULES, 'win_complus_import.ps1')).decode('utf-8')
    calls = _ps_calls(text)
    invoked = [t for kind, t in calls if kind == 'invokation_expression' and 'CurrentPartition' in t]
    assigned = [t for kind, t in calls if kind == 'assignment' and t.endswith('.CurrentPartition')]
    assert not invoked, invoked
    assert assigned == ['$catalog.CurrentPartition']


def test_complus_query_populates_and_apply_checks_before_changing():
    text = read(os.path.join(MODULES, 'win_complus_import.ps1')).decode('utf-8')
    query = text[text.index('QueryApplicationFile2('):]
    assert query.index('.Populate()') < query.index('.Count'), 'the FilesForImport collection is read without Populate()'
    assert "Get-CatalogValue -Object $item -Name 'ApplicationID'" in query
    apply = text[text.index('# apply:'):]
    assert apply.index("action = 'precondition'") < apply.index('.SaveChanges()') < apply.index('InstallApplication(')
    assert '$catalog.InstallPartition(' in apply and "$step['method'] -eq 'InstallPartition'" in apply
    assert 'hresult = 0' not in text, 'a component HRESULT must not be made up'
