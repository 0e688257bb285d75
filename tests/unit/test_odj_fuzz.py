# -*- coding: utf-8 -*-
"""Fuzzing the codec: mutations of real packages plus random bytes and text.

Properties, for every input:
- decoding either succeeds or raises OdjFormatError (never another exception);
- whatever decodes re-encodes to exactly the same raw bytes (nothing accepted
  is silently normalised);
- the decoder's peak memory stays within a small multiple of the input;
- no input makes it hang (a per-input alarm, far above the normal microseconds).

``make test`` runs a sample (FUZZ_EXAMPLES, default 1500 per strategy); ``make
fuzz`` runs 100,000 per strategy.
"""

import glob
import os
import signal
import tracemalloc
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.winimage.provisioning.plugins.module_utils.odj.ndr import OdjFormatError
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import package as P
from ansible_collections.winimage.provisioning.plugins.module_utils.odj import text as T
from ansible_collections.winimage.provisioning.plugins.module_utils.odj.facts import package_facts

EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', '1500'))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get('FUZZ_RANDOM'),
                    suppress_health_check=list(HealthCheck), database=None)
HANG_SECONDS = 10
B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='
SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '..', 'shared')


def _seeds():
    seeds = []
    for path in sorted(glob.glob(os.path.join(SHARED, 'fixtures', 'odj', '*.djoin'))):
        with open(path, 'rb') as handle:
            seeds.append(T.to_raw(handle.read()))
    extra = [P.PackagePart(part_type=P.PART_POLICY, flags=0, payload=P.PolicyPart(element_lists=[
        P.PolicyElementList(source='src', root_key_id=2, elements=[
            P.PolicyElement(key_path='K', value_name='V', value_type=4, data=b'\x01\x00\x00\x00')])], extension=None)),
        P.PackagePart(part_type=P.PART_CERT, flags=0, payload=P.CertPart(
            pfx_stores=[P.CertPfxStore(template_name='T', private_key_export_policy=0, policy_server_url='u',
                                       policy_server_url_flags=0, policy_server_id='i', pfx=b'PFX')],
            sst_stores=[P.CertSstStore(store_location=2, store_name='ROOT', sst=b'SST!')], extension=b'e')),
        P.PackagePart(part_type=P.PART_JOINPROV2, flags=0, payload=P.JoinProv2Part(
            flags=1, netbios_name='N', site_name='S', primary_dns_domain='d', reserved=0, reserved_str=None))]
    seeds.append(P.encode(P.build_package(
        domain_dns='fuzz.test', netbios_domain='FUZZ', forest='fuzz.test', domain_guid=uuid.UUID(int=5),
        domain_sid='S-1-5-21-1-2-3', machine_name='F1', machine_password='pw', dc_name='dc', dc_address='127.0.0.2',
        dc_flags=0x1fd, dc_site_name='S', client_site_name=None, options=0, rid=1000, extra_parts=extra,
        join_provider_4=True)))
    return seeds


SEEDS = _seeds()


def _alarm(signum, frame):
    raise AssertionError('decoder did not return within %d s' % HANG_SECONDS)


def check(data):
    """The fuzz property for one input."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    tracemalloc.start()
    try:
        try:
            pd = P.decode(data)
        except OdjFormatError:
            return
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < 64 * len(data) + 256 * 1024, 'peak memory %d for %d input bytes' % (peak, len(data))
        raw = T.to_raw(data)
        same = P.encode(pd) == raw
        assert same, 'accepted input did not re-encode identically (%d bytes)' % len(raw)
        try:
            package_facts(pd)
        except OdjFormatError:
            pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@st.composite
def mutated(draw):
    seed = bytearray(draw(st.sampled_from(SEEDS)))
    for dummy in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(['flip', 'byte', 'u32', 'cut', 'insert', 'delete', 'dup']))
        if not seed:
            break
        at = draw(st.integers(0, len(seed) - 1))
        if kind == 'flip':
            seed[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == 'byte':
            seed[at] = draw(st.integers(0, 255))
        elif kind == 'u32':
            at -= at % 4
            seed[at:at + 4] = draw(st.sampled_from([0, 1, 2, 3, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000, len(seed)])).to_bytes(4, 'little')
        elif kind == 'cut':
            del seed[at:]
        elif kind == 'insert':
            seed[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == 'delete':
            del seed[at:at + draw(st.integers(1, 16))]
        elif kind == 'dup':
            seed[at:at] = seed[at:at + draw(st.integers(1, 64))]
    return bytes(seed)


@pytest.mark.skipif(len(SEEDS) < 2, reason='../shared/fixtures/odj is absent: only the built seed would be mutated')
@SETTINGS
@given(mutated())
def test_fuzz_mutated_real_packages(data):
    check(data)


@SETTINGS
@given(st.one_of(
    st.binary(max_size=512),
    st.binary(max_size=512).map(lambda b: b'\x01\x10\x08\x00\xcc\xcc\xcc\xcc' + len(b).to_bytes(4, 'little') + b'\0' * 4 + b),
    st.binary(max_size=256).map(lambda b: b'\xff\xfe' + b),
))
def test_fuzz_random_bytes(data):
    check(data)


@SETTINGS
@given(st.one_of(st.text(max_size=300),
                 st.text(alphabet=B64_ALPHABET, max_size=400).map(lambda t: 'ARAIAMzMzMz' + t)))
def test_fuzz_random_text(data):
    check(data)


@SETTINGS
@given(mutated())
def test_fuzz_mutated_in_text_forms(data):
    check(T.to_base64(data))
    check(T.to_djoin_file(data))


def load_check(data):
    """The loader's property: a LoadedPackage or PackageLoadError, never another exception, never a hang."""
    from ansible_collections.winimage.provisioning.plugins.module_utils.odj import load as L
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        try:
            loaded = L.load_package(data=data)
        except L.PackageLoadError:
            return
        assert P.encode(loaded.pd) == loaded.raw
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@SETTINGS
@given(mutated())
def test_fuzz_loader_mutated_real_packages(data):
    load_check(data)
    load_check(T.to_base64(data))
    load_check(T.to_djoin_file(data))
