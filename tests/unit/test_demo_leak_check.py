# -*- coding: utf-8 -*-
"""scripts/demo's leak check: each package is looked for whole and in every form, each password on its own.

It used to compare only the first 60 characters of each package's base64, which every package of a domain shares
(the header and the domain's name come first): a leak of the package in another form, or of its body, was missed.
"""

import ast
import base64
import json
import os

from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, '..', 'shared', 'fixtures', 'odj')


def secrets_in():
    """The demo's secrets_in function, taken from the Python embedded in scripts/demo."""
    with open(os.path.join(REPO, 'scripts', 'demo')) as handle:
        text = handle.read()
    source = text.split("<<'PYTHON'\n", 1)[1].rsplit('\nPYTHON', 1)[0]
    tree = ast.parse(source)
    node = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'secrets_in'][0]
    namespace = {'os': os, 'json': json, 'base64': base64, 'sys': __import__('sys'), 'repo': REPO}
    exec(compile(ast.Module(body=[node], type_ignores=[]), 'scripts/demo', 'exec'), namespace)  # pylint: disable=exec-used
    return namespace['secrets_in']


def store(tmp_path):
    """A demo store of two vault-encrypted packages of one domain, and its secrets file."""
    folder = tmp_path / 'packages'
    folder.mkdir()
    vault = VaultLib([('default', VaultSecret(b'vault-pw'))])
    raws = {}
    for name in ('samba-ou-kiosk07.djoin', 'samba-reuse-ws0001.djoin'):
        with open(os.path.join(FIXTURES, name), 'rb') as handle:
            djoin = handle.read()
        raw = T.to_raw(djoin)
        machine = P.decode(raw).win7.machine_name
        (folder / ('%s.djoin.vault' % machine)).write_bytes(vault.encrypt(djoin))
        raws[machine] = raw
    secrets_file = tmp_path / 'secrets.json'
    secrets_file.write_text(json.dumps({'odj_domain_password': 'dc-pw-123', 'odj_vault_password': 'vault-pw'}))
    return str(secrets_file), str(folder), raws


def check(tmp_path, text):
    secrets_file, folder, raws = store(tmp_path)
    log = tmp_path / 'rollout.log'
    log.write_text(text if isinstance(text, str) else text(raws))
    return secrets_in()(str(log), secrets_file, folder)


def test_a_clean_log_has_no_leak(tmp_path):
    assert check(tmp_path, 'PLAY RECAP ok=12 changed=5\n') == []


def test_the_shared_prefix_alone_is_not_a_leak_of_every_package(tmp_path):
    found = check(tmp_path, lambda raws: 'x %s y' % T.to_base64(raws['KIOSK-07'])[:60])
    assert found == []


def test_a_package_in_slurp_form_is_found(tmp_path):
    found = check(tmp_path, lambda raws: 'content: %s' % base64.b64encode(T.to_djoin_file(raws['KIOSK-07'])).decode())
    assert found == ['package KIOSK-07 (djoin file base64)']


def test_each_password_and_whole_package_is_found(tmp_path):
    def text(raws):
        pd = P.decode(raws['WS0001'])
        return 'pw=%s\npkg=%s\n' % (pd.win7.machine_password, T.to_base64(raws['WS0001']))
    assert sorted(check(tmp_path, text)) == ['package WS0001 (base64)', 'password of WS0001']
