# -*- coding: utf-8 -*-
"""Merging AccountData into an existing unattend.xml keeps everything else."""

import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.winimage.provisioning.plugins.module_utils.image import unattend as ua
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.package import decode, encode
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.text import to_base64, to_raw

NS = '{urn:schemas-microsoft-com:unattend}'

EXISTING = """<?xml version="1.0" encoding="utf-8"?>
<!-- made by hand for the test -->
<unattend xmlns="urn:schemas-microsoft-com:unattend" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <settings pass="windowsPE">
        <component name="Microsoft-Windows-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" \
language="neutral" versionScope="nonSxS">
            <UserData><AcceptEula>true</AcceptEula></UserData>
        </component>
    </settings>
    <settings pass="specialize">
        <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" \
language="neutral" versionScope="nonSxS">
            <ComputerName>*</ComputerName>
            <!-- keep me -->
            <TimeZone>W. Europe Standard Time</TimeZone>
        </component>
        <component name="Microsoft-Windows-Deployment" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" \
language="neutral" versionScope="nonSxS">
            <RunSynchronous>
                <RunSynchronousCommand wcm:action="add"><Order>1</Order><Path>cmd /c echo hi</Path></RunSynchronousCommand>
            </RunSynchronous>
        </component>
    </settings>
    <settings pass="oobeSystem">
        <component name="Microsoft-Windows-International-Core" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" \
language="neutral" versionScope="nonSxS">
            <UILanguage>de-DE</UILanguage>
        </component>
    </settings>
</unattend>
"""


@pytest.fixture
def raw(shared_dir):
    with open(os.path.join(shared_dir, 'fixtures', 'odj', 'samba-ou-kiosk07.djoin'), 'rb') as handle:
        return to_raw(handle.read())


def without_join(text):
    """Canonical XML of the document minus the UnattendedJoin components (and settings left empty)."""
    root = ET.fromstring(text.encode('utf-8'))
    for settings in list(root):
        for comp in list(settings):
            if comp.get('name') == ua.COMPONENT:
                settings.remove(comp)
        if settings.tag == NS + 'settings' and len(settings) == 0:
            root.remove(settings)
    return ET.canonicalize(ET.tostring(root), strip_text=True)


@pytest.mark.parametrize('pass_name,container', [('offlineServicing', 'OfflineIdentification'), ('specialize', 'Identification')])
def test_merge_keeps_every_other_component(raw, pass_name, container):
    b64 = to_base64(raw)
    out, changed, warnings = ua.merge(EXISTING, b64, pass_name, 'AMD64')
    assert changed and warnings == []
    assert without_join(out) == without_join(EXISTING)
    assert '<!-- keep me -->' in out and '<!-- made by hand for the test -->' in out and 'wcm:action="add"' in out
    root = ET.fromstring(out.encode('utf-8'))  # well-formed
    comps = [c for s in root.findall(NS + 'settings') if s.get('pass') == pass_name
             for c in s.findall(NS + 'component') if c.get('name') == ua.COMPONENT]
    assert len(comps) == 1
    comp = comps[0]
    assert (comp.get('processorArchitecture'), comp.get('publicKeyToken'), comp.get('language'), comp.get('versionScope')) == (
        'amd64', '31bf3856ad364e35', 'neutral', 'nonSxS')
    data = comp.find('%s%s/%sProvisioning/%sAccountData' % (NS, container, NS, NS))
    same = data.text == b64 and '\n' not in data.text
    assert same, 'AccountData is the one-line base64 of the package'
    same = encode(decode(data.text)) == raw
    assert same, 'AccountData decodes to the package'
    # the passes stay in Windows order
    order = [s.get('pass') for s in root.findall(NS + 'settings')]
    assert order == [p for p in ua.PASSES if p in order]


def test_merge_is_idempotent_and_replaces_an_older_package(raw):
    b64 = to_base64(raw)
    out, changed, _w = ua.merge(EXISTING, b64)
    again, changed2, _w = ua.merge(out, b64)
    assert changed and not changed2 and again == out
    replaced, changed3, _w = ua.merge(out, 'QUJD')
    assert changed3 and ua.find_account_data(replaced) == [('offlineServicing', 'amd64', 'QUJD')]


def test_new_file_and_architecture():
    out, changed, _w = ua.merge(None, 'QUJD', 'specialize', 'x86')
    assert changed
    assert ua.find_account_data(out) == [('specialize', 'x86', 'QUJD')]
    assert ua.normalize_arch('AMD64') == 'amd64' and ua.normalize_arch('ARM64') == 'arm64' and ua.normalize_arch('mips') is None
    with pytest.raises(ua.UnattendError, match='architecture'):
        ua.merge(None, 'QUJD', 'specialize', 'mips')


def test_online_join_settings_are_kept_with_a_warning():
    text = EXISTING.replace('<settings pass="oobeSystem">', """<settings pass="offlineServicing">
        <component name="Microsoft-Windows-UnattendedJoin" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" \
language="neutral" versionScope="nonSxS">
            <OfflineIdentification><JoinDomain>corp</JoinDomain></OfflineIdentification>
        </component>
    </settings>
    <settings pass="oobeSystem">""")
    out, changed, warnings = ua.merge(text, 'QUJD')
    assert changed and '<JoinDomain>corp</JoinDomain>' in out
    assert warnings and 'JoinDomain' in warnings[0]


def test_bad_input_is_refused():
    with pytest.raises(ua.UnattendError, match='not well-formed'):
        ua.merge('<unattend><settings></unattend>', 'QUJD')
    with pytest.raises(ua.UnattendError, match='root element'):
        ua.merge('<foo/>', 'QUJD')
    with pytest.raises(ua.UnattendError, match='DOCTYPE'):
        ua.merge('<!DOCTYPE x [<!ENTITY a "b">]><unattend/>', 'QUJD')
    with pytest.raises(ua.UnattendError, match='one-line'):
        ua.merge(EXISTING, 'QU\nJD')
    with pytest.raises(ua.UnattendError, match='pass'):
        ua.merge(EXISTING, 'QUJD', 'oobeSystem')


def test_one_reader_for_every_unattend_encoding(tmp_path):
    text = u'<?xml version="1.0"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend"><!-- K\u00f6ln --></unattend>\n'
    for name, data in (('utf8', text.encode('utf-8')), ('utf8bom', b'\xef\xbb\xbf' + text.encode('utf-8')),
                       ('utf16le', text.encode('utf-16')), ('utf16be', b'\xfe\xff' + text.encode('utf-16-be'))):
        path = tmp_path / name
        path.write_bytes(data)
        assert ua.read_unattend(str(path)) == text, name
    bad = tmp_path / 'latin1.xml'
    bad.write_bytes(text.encode('latin-1'))
    with pytest.raises(ua.UnattendError, match='latin1.xml: not UTF-8 or UTF-16 text'):
        ua.read_unattend(str(bad))
