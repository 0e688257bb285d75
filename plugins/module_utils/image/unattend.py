# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge an offline domain join (AccountData) into an unattend.xml (Microsoft-Windows-UnattendedJoin).

Component ``Microsoft-Windows-UnattendedJoin`` of the image's architecture:
pass ``offlineServicing`` -> ``OfflineIdentification/Provisioning/AccountData``,
pass ``specialize`` -> ``Identification/Provisioning/AccountData``.
Everything else already in the file (other passes, components, settings,
comments, namespace prefixes) is kept: the file is edited through the DOM,
not regenerated.
"""

from __future__ import annotations

import xml.dom.minidom
from xml.parsers.expat import ExpatError

UNATTEND_NS = 'urn:schemas-microsoft-com:unattend'
COMPONENT = 'Microsoft-Windows-UnattendedJoin'
PUBLIC_KEY_TOKEN = '31bf3856ad364e35'
PASSES = ('windowsPE', 'offlineServicing', 'generalize', 'specialize', 'auditSystem', 'auditUser', 'oobeSystem')
CONTAINER = {'offlineServicing': 'OfflineIdentification', 'specialize': 'Identification'}
ARCH_FROM_ENV = {'AMD64': 'amd64', 'X86': 'x86', 'ARM64': 'arm64', 'IA64': 'ia64', 'ARM': 'arm', 'EM64T': 'amd64'}
ARCHES = ('amd64', 'x86', 'arm64', 'ia64', 'arm', 'wow64')
SKELETON = ('<?xml version="1.0" encoding="utf-8"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend">\n</unattend>\n')


class UnattendError(ValueError):
    """The unattend file cannot be read or merged (message names the file and the defect)."""


def normalize_arch(value):
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ARCHES:
        return text.lower()
    return ARCH_FROM_ENV.get(text.upper())


def _children(node, local):
    return [c for c in node.childNodes if c.nodeType == c.ELEMENT_NODE and (c.localName or c.tagName) == local]


def _parse(text, source):
    if '<!DOCTYPE' in text or '<!ENTITY' in text:
        raise UnattendError('%s: a DOCTYPE or ENTITY declaration is not allowed in an unattend file' % source)
    try:
        doc = xml.dom.minidom.parseString(text.encode('utf-8') if isinstance(text, str) else text)
    except ExpatError as exc:
        raise UnattendError('%s is not well-formed XML: %s' % (source, exc))
    root = doc.documentElement
    if (root.localName or root.tagName) != 'unattend':
        raise UnattendError('%s: the root element is <%s>, not <unattend>' % (source, root.tagName))
    return doc


def _indent_of(node):
    prev = node.previousSibling
    if prev is not None and prev.nodeType == prev.TEXT_NODE and '\n' in prev.data:
        return prev.data.split('\n')[-1]
    return ''


def _append(doc, parent, tag, step='    '):
    """Append a child element with indentation consistent with the parent's."""
    base = _indent_of(parent) if parent is not doc.documentElement else ''
    existing = [c for c in parent.childNodes if c.nodeType == c.ELEMENT_NODE]
    indent = _indent_of(existing[0]) if existing and _indent_of(existing[0]) else base + step
    last = parent.lastChild
    if last is not None and last.nodeType == last.TEXT_NODE and not last.data.strip():
        last.data = '\n' + indent
    else:
        parent.appendChild(doc.createTextNode('\n' + indent))
    element = doc.createElementNS(UNATTEND_NS, tag)
    parent.appendChild(element)
    parent.appendChild(doc.createTextNode('\n' + base))
    return element


def _insert_settings(doc, root, pass_name):
    order = PASSES.index(pass_name)
    after = None
    for node in _children(root, 'settings'):
        other = node.getAttribute('pass')
        if other in PASSES and PASSES.index(other) > order:
            after = node
            break
    if after is None:
        element = _append(doc, root, 'settings')
    else:
        element = doc.createElementNS(UNATTEND_NS, 'settings')
        indent = _indent_of(after)
        root.insertBefore(element, after)
        root.insertBefore(doc.createTextNode('\n' + indent), after)
    element.setAttribute('pass', pass_name)
    return element


def _child(doc, parent, tag):
    found = _children(parent, tag)
    return found[0] if found else _append(doc, parent, tag)


def read_unattend(path):
    """Text of an unattend file: UTF-16 with its byte order mark, else UTF-8 (BOM or not); UnattendError if neither."""
    with open(path, 'rb') as handle:
        data = handle.read()
    try:
        return data.decode('utf-16') if data[:2] in (b'\xff\xfe', b'\xfe\xff') else data.decode('utf-8-sig')
    except UnicodeDecodeError:
        raise UnattendError('%s: not UTF-8 or UTF-16 text' % path)


def find_account_data(text, source='unattend.xml'):
    """[(pass, architecture, base64)] of every AccountData in an unattend text."""
    doc = _parse(text, source)
    found = []
    for settings in _children(doc.documentElement, 'settings'):
        pass_name = settings.getAttribute('pass')
        for comp in _children(settings, 'component'):
            if comp.getAttribute('name') != COMPONENT:
                continue
            for container in ('OfflineIdentification', 'Identification'):
                for ident in _children(comp, container):
                    for prov in _children(ident, 'Provisioning'):
                        for data in _children(prov, 'AccountData'):
                            value = ''.join(t.data for t in data.childNodes if t.nodeType in (t.TEXT_NODE, t.CDATA_SECTION_NODE))
                            found.append((pass_name, comp.getAttribute('processorArchitecture'), value.strip()))
    return found


def merge(text, account_data, pass_name='offlineServicing', arch='amd64', source='unattend.xml'):
    """Return (new text, changed, warnings): the unattend with AccountData set; text None = no file yet."""
    if pass_name not in CONTAINER:
        raise UnattendError('pass must be offlineServicing or specialize, not %r' % pass_name)
    arch = normalize_arch(arch)
    if arch is None:
        raise UnattendError('unknown processor architecture for the unattend component')
    if not account_data or '\n' in account_data or '\r' in account_data:
        raise UnattendError('AccountData must be the one-line base64 text of the package')
    warnings = []
    doc = _parse(SKELETON if text is None else text, source)
    root = doc.documentElement
    passes = [s for s in _children(root, 'settings') if s.getAttribute('pass') == pass_name]
    settings = passes[0] if passes else _insert_settings(doc, root, pass_name)
    comps = [c for c in _children(settings, 'component') if c.getAttribute('name') == COMPONENT]
    same_arch = [c for c in comps if (c.getAttribute('processorArchitecture') or '').lower() == arch]
    if same_arch:
        comp = same_arch[0]
    else:
        comp = _append(doc, settings, 'component')
        comp.setAttribute('name', COMPONENT)
        comp.setAttribute('processorArchitecture', arch)
        comp.setAttribute('publicKeyToken', PUBLIC_KEY_TOKEN)
        comp.setAttribute('language', 'neutral')
        comp.setAttribute('versionScope', 'nonSxS')
    ident = _child(doc, comp, CONTAINER[pass_name])
    if _children(ident, 'JoinDomain') or _children(ident, 'Credentials'):
        warnings.append('%s: the %s pass also holds JoinDomain/Credentials (an online join); Windows uses '
                        'Provisioning/AccountData when present, remove the others to avoid confusion' % (source, pass_name))
    prov = _child(doc, ident, 'Provisioning')
    data = _child(doc, prov, 'AccountData')
    current = ''.join(t.data for t in data.childNodes if t.nodeType in (t.TEXT_NODE, t.CDATA_SECTION_NODE)).strip()
    other = [p for p, _a, v in find_account_data(SKELETON if text is None else text, source) if p != pass_name and v]
    if other:
        warnings.append('%s: AccountData is also set in pass(es) %s; it was left as it is' % (source, ', '.join(sorted(set(other)))))
    if current == account_data and text is not None:
        return text, False, warnings
    for node in list(data.childNodes):
        data.removeChild(node)
    data.appendChild(doc.createTextNode(account_data))
    out = doc.toxml(encoding='utf-8').decode('utf-8')
    if not out.endswith('\n'):
        out += '\n'
    # minidom writes the declaration with double quotes and no newline after it
    out = out.replace('?><unattend', '?>\n<unattend', 1)
    return out, True, warnings
