# -*- coding: utf-8 -*-
"""Independent check of the codec against Samba's ``ndrdump``.

``ndrdump_fields(raw)`` runs ``ndrdump ODJ ODJ_PROVISION_DATA_serialized_ptr
struct FILE`` and flattens its printout into (field, value) pairs in print
order; ``codec_fields(pd)`` walks a decoded ProvisionData depth first and gives
the same pairs under Samba's field names. Equal lists mean every field that
both decoders understand has the same value. The machine password never leaves
ndrdump (it prints ``<REDACTED SECRET VALUE>``); the codec side says
``<secret>`` for a present password.
"""

import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import RawPayload, encode_type1
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P

NDRDUMP = shutil.which('ndrdump')
SECRET = '<secret>'

KEEP = set('''ulVersion ulcBlobs ulODJFormat cbBlob lpDomain lpMachineName lpMachinePassword length string DomainGuid
Sid dc_unc dc_address dc_address_type domain_guid domain_name forest_name dc_flags dc_site_name client_site_name Options
EncryptionType pBlob cbDecryptedPartCollection cParts PartType ulFlags part_len Rid lpSid dwFlags lpNetbiosName
lpSiteName lpPrimaryDNSDomain dwReserved lpReserved cElementLists pSource ulRootKeyId cElements pKeyPath pValueName
ulValueType cbValueData pValueData cPfxStores pTemplateName ulPrivateKeyExportPolicy pPolicyServerUrl
ulPolicyServerUrlFlags pPolicyServerId cbPfx pPfx cSstStores StoreLocation pStoreName cbSst pSst'''.split())

_LINE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*|\[\d+\])\s*: ?(.*)$')
_HEXDUMP = re.compile(r'^\[([0-9a-fA-F]{4})\] ((?:[0-9A-F]{2} {1,3}){1,16})')
BYTE_ARRAYS = ('pPfx', 'pSst', 'pValueData', 'pBlob')
_NUM = re.compile(r'^(?:0x[0-9a-fA-F]+ |[A-Z0-9_]+ )?\((\d+)\)$')


def _value(text):
    text = text.strip()
    if text == 'NULL':
        return None
    if text == '<REDACTED SECRET VALUE>':
        return SECRET
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1]
    match = _NUM.match(text)
    if match:
        return int(match.group(1))
    return text


def ndrdump_fields(raw):
    """(field, value) pairs ndrdump prints for a raw package; AssertionError if it fails."""
    with tempfile.NamedTemporaryFile(suffix='.odj') as handle:
        os.chmod(handle.name, 0o600)
        handle.write(raw)
        handle.flush()
        proc = subprocess.run([NDRDUMP, 'ODJ', 'ODJ_PROVISION_DATA_serialized_ptr', 'struct', handle.name],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    out = proc.stdout.decode('utf-8', 'replace')
    assert proc.returncode == 0 and 'dump OK' in out, 'ndrdump rejected the package (exit %d)' % proc.returncode
    fields = []
    array = None
    for line in out.splitlines():
        dump = _HEXDUMP.match(line)
        if dump and array is not None:
            array[1].extend(int(token, 16) for token in dump.group(2).split())
            continue
        match = _LINE.match(line)
        if not match:
            continue
        name, text = match.groups()
        if name.startswith('['):
            if array is not None:
                array[1].append(int(_value(text)))
            continue
        if array is not None:
            fields.append((array[0], bytes(array[1]).hex()))
            array = None
        text = text.strip()
        if text.startswith('ARRAY('):
            if name in BYTE_ARRAYS:
                array = (name, [])
            continue
        if name not in KEEP or text == '*' or text.startswith(('struct ', 'union ')):
            continue
        fields.append((name, _value(text)))
    if array is not None:
        fields.append((array[0], bytes(array[1]).hex()))
    return fields


def _blob(name_cb, data, out, hexdump=True):
    out.append((name_cb, 0 if data is None else len(data)))
    if data is None:
        out.append(('pBlob', None))
    elif hexdump:
        out.append(('pBlob', data.hex()))


def _wstr(value):
    return value


def _win7(w, out):
    out += [('lpDomain', w.domain), ('lpMachineName', w.machine_name),
            ('lpMachinePassword', SECRET if w.machine_password is not None else None)]
    d = w.dns_domain_info
    for text in (d.name, d.dns_domain_name, d.dns_forest_name):
        out += [('length', len(text.encode('utf-16-le', 'surrogatepass')) if text is not None else 0), ('string', text)]
    out += [('DomainGuid', str(d.domain_guid)), ('Sid', d.sid)]
    c = w.dc_info
    out += [('dc_unc', c.dc_name), ('dc_address', c.dc_address), ('dc_address_type', c.dc_address_type),
            ('domain_guid', str(c.domain_guid)), ('domain_name', c.domain_name), ('forest_name', c.dns_forest_name),
            ('dc_flags', c.flags), ('dc_site_name', c.dc_site_name), ('client_site_name', c.client_site_name),
            ('Options', w.options)]


def _payload_len(payload):
    if payload is None:
        return 0
    if isinstance(payload, RawPayload):
        return len(payload.data)
    return len(encode_type1(payload))


def _part(part, out):
    payload = part.payload
    out += [('PartType', str(part.part_type)), ('ulFlags', part.flags), ('part_len', _payload_len(payload))]
    if isinstance(payload, P.Win7Blob):
        _win7(payload, out)
    elif isinstance(payload, P.JoinProv3Part):
        out += [('Rid', payload.rid), ('lpSid', payload.sid)]
    elif isinstance(payload, P.JoinProv2Part):
        out += [('dwFlags', payload.flags), ('lpNetbiosName', payload.netbios_name), ('lpSiteName', payload.site_name),
                ('lpPrimaryDNSDomain', payload.primary_dns_domain), ('dwReserved', payload.reserved),
                ('lpReserved', payload.reserved_str)]
    elif isinstance(payload, P.PolicyPart):
        out.append(('cElementLists', len(payload.element_lists or [])))
        for element_list in payload.element_lists or []:
            out += [('pSource', element_list.source), ('ulRootKeyId', element_list.root_key_id),
                    ('cElements', len(element_list.elements or []))]
            for element in element_list.elements or []:
                out += [('pKeyPath', element.key_path), ('pValueName', element.value_name),
                        ('ulValueType', element.value_type), ('cbValueData', len(element.data or b'')),
                        ('pValueData', element.data.hex() if element.data is not None else None)]
        _blob('cbBlob', payload.extension, out)
    elif isinstance(payload, P.CertPart):
        out.append(('cPfxStores', len(payload.pfx_stores or [])))
        for store in payload.pfx_stores or []:
            out += [('pTemplateName', store.template_name), ('ulPrivateKeyExportPolicy', store.private_key_export_policy),
                    ('pPolicyServerUrl', store.policy_server_url), ('ulPolicyServerUrlFlags', store.policy_server_url_flags),
                    ('pPolicyServerId', store.policy_server_id), ('cbPfx', len(store.pfx or b'')),
                    ('pPfx', store.pfx.hex() if store.pfx is not None else None)]
        out.append(('cSstStores', len(payload.sst_stores or [])))
        for store in payload.sst_stores or []:
            out += [('StoreLocation', store.store_location), ('pStoreName', store.store_name),
                    ('cbSst', len(store.sst or b'')), ('pSst', store.sst.hex() if store.sst is not None else None)]
        _blob('cbBlob', payload.extension, out)
    _blob('cbBlob', part.extension, out)


def codec_fields(pd):
    """The same (field, value) pairs, from the codec's decoded objects."""
    out = [('ulVersion', pd.version), ('ulcBlobs', len(pd.blobs))]
    for blob in pd.blobs:
        out += [('ulODJFormat', blob.format), ('cbBlob', _payload_len(blob.payload))]
        if isinstance(blob.payload, P.Win7Blob):
            _win7(blob.payload, out)
        elif isinstance(blob.payload, P.OpPackage):
            pkg = blob.payload
            out.append(('EncryptionType', str(pkg.encryption_type)))
            _blob('cbBlob', pkg.encryption_context, out)
            out.append(('cbBlob', _payload_len(pkg.wrapped)))
            if isinstance(pkg.wrapped, P.PartCollection):
                out.append(('cParts', len(pkg.wrapped.parts or [])))
                for part in pkg.wrapped.parts or []:
                    _part(part, out)
                _blob('cbBlob', pkg.wrapped.extension, out)
            out.append(('cbDecryptedPartCollection', pkg.decrypted_size))
            _blob('cbBlob', pkg.extension, out)
    return out
