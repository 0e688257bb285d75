# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
r"""The LDAP wire of the collection: one socket, its framing and its security layer, and a pipeline on it.

``Wire`` is one LDAP connection as this collection speaks it:

* the socket, plain or TLS (LDAPS from the first byte, or StartTLS on 389);
* the framing: on plain and TLS connections each LDAP message is one BER
  element; after a SASL bind that negotiated a security layer (GSS-SPNEGO or
  GSSAPI with signing and sealing, RFC 4752 3.3 / MS-ADTS 5.1.1.1.2) each
  buffer is a 4-byte big-endian length and a token that the GSS context
  ``wrap``\ s (encrypts) and ``unwrap``\ s (pyspnego), holding one or more
  LDAP messages;
* the messages themselves, encoded and decoded by ldap3's protocol encoders
  and decoders (``ldap3.operation.*``, ``ldap3.protocol.rfc4511``).

Why not ldap3's ``Connection``: it has no SASL security layer (no sealing), so
it cannot talk to a DC that requires signing without TLS, and its one
outstanding request per call is too slow for a batch. Why not ``sansldap``
(what microsoft.ad uses): it encodes bind, search and extended operations
only, not the add and modify requests the provisioner sends. ldap3's encoders
cover every operation and are pure functions of their inputs, so they sit
under this framing unchanged.

``Pipeline``: several operations in flight on one bound wire. A batch of
computer accounts costs the DC one password key derivation per account
(PBKDF2 for the AES keys); waiting for each reply before sending the next
request adds the round trip and the client's own work to that. LDAP lets a
client send requests without waiting (RFC 4511 4.1.1.1: message IDs tie
replies to requests), so this keeps up to ``window`` requests outstanding and
hands each reply to its callback as it comes. RFC 4511 gives no ordering
between outstanding requests: a request that depends on another (reading back
an account just added) is submitted from the first one's callback.
"""

from __future__ import annotations

import collections
import socket
import struct

try:
    from ldap3 import DEREF_NEVER
    from ldap3.core import exceptions as ldap3_exceptions
    from ldap3.operation.add import add_operation
    from ldap3.operation.bind import bind_operation, bind_response_to_dict_fast
    from ldap3.operation.extended import extended_operation, extended_response_to_dict_fast
    from ldap3.operation.modify import modify_operation
    from ldap3.operation.search import (search_operation, search_result_entry_response_to_dict_fast,
                                        search_result_reference_response_to_dict_fast)
    from ldap3.protocol.convert import build_controls_list
    from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
    from ldap3.strategy.base import BaseStrategy
    from ldap3.utils.asn1 import decode_message_fast, encode, ldap_result_to_dict_fast
    from ldap3.operation.unbind import unbind_operation
except ImportError:  # pragma: no cover - connection.HAS_LDAP3 reports it before any wire is made
    pass

DEFAULT_WINDOW = 16
_SCOPES = {'base': 0, 'one': 1, 'subtree': 2}
_FINAL = frozenset(('addResponse', 'modifyResponse', 'delResponse', 'searchResDone', 'modDNResponse',
                    'compareResponse', 'extendedResp'))


class Reply(object):
    """What the DC answered to one request (or why it never answered).

    ``code``: the LDAP result code (None when there was no answer); ``entries``:
    (dn, {lower-case attribute: [bytes, ...]}) of a search; ``error``: text of a
    connection failure, with ``sent`` telling whether the request had left.
    """

    __slots__ = ('code', 'description', 'message', 'entries', 'error', 'sent', 'controls')

    def __init__(self, code=None, description=None, message=None, entries=None, error=None, sent=True,
                 controls=None):
        self.controls = controls or {}
        self.code = code
        self.description = description
        self.message = message
        self.entries = entries if entries is not None else []
        self.error = error
        self.sent = sent

    @property
    def ok(self):
        return self.error is None and self.code == 0


# LDAPv3 StartTLS extended operation (RFC 4511 4.14)
START_TLS_OID = '1.3.6.1.4.1.1466.20037'
# LDAP result code of a SASL bind that wants another round (RFC 4511 4.2.2)
SASL_BIND_IN_PROGRESS = 14
# largest sealed buffer accepted from a DC (a DC's default MaxReceiveBuffer is 10 MB)
MAX_SEALED = 16 * 1024 * 1024

_RESPONSE_KINDS = {1: 'bindResponse', 4: 'searchResEntry', 5: 'searchResDone', 19: 'searchResRef',
                   7: 'modifyResponse', 9: 'addResponse', 11: 'delResponse', 13: 'modDNResponse',
                   15: 'compareResponse', 24: 'extendedResp', 25: 'intermediateResponse'}


class WireError(OSError):
    """The connection failed (closed, timed out, a buffer that does not decode or unseal)."""


def decode_response(message):
    """One message from ldap3's fast decoder -> (message id, response dict with 'type', ldap3's fields)."""
    op = message['protocolOp']
    kind = _RESPONSE_KINDS.get(op)
    payload = message['payload']
    if kind is None:
        raise WireError('the DC sent an LDAP message of unknown type %s' % op)
    if kind == 'bindResponse':
        result = bind_response_to_dict_fast(payload)
    elif kind == 'searchResEntry':
        result = search_result_entry_response_to_dict_fast(payload, None, None, False)
    elif kind == 'searchResRef':
        result = search_result_reference_response_to_dict_fast(payload)
    elif kind == 'extendedResp':
        result = extended_response_to_dict_fast(payload)
    elif kind == 'intermediateResponse':
        result = {}
    else:
        result = ldap_result_to_dict_fast(payload)
    result['type'] = kind
    if message['controls']:
        result['controls'] = dict(BaseStrategy.decode_control_fast(control[3]) for control in message['controls'])
    return int(message['messageID']), result


class Wire(object):
    """One LDAP connection: socket (plain or TLS), message framing, optional SASL security layer.

    ``security``: after a SASL bind with signing and sealing, the GSS context
    (anything with pyspnego's ``wrap(data, encrypt=True)`` / ``unwrap(data)``);
    every buffer is then a 4-byte length and a sealed token. ``tls``: True once
    the socket is TLS (LDAPS or after StartTLS).
    """

    def __init__(self, sock, timeout=None):
        self.sock = sock
        self.timeout = timeout
        self.security = None
        self.tls = False
        self._next_id = 0
        self._raw = bytearray()     # bytes read from the socket, not yet unsealed / split
        self._plain = bytearray()   # LDAP bytes (unsealed), not yet split into messages
        if timeout is not None:
            sock.settimeout(timeout)

    # -- sending ---------------------------------------------------------
    def encode(self, kind, request, controls=None):
        """(message id, bytes on the wire) of one request; ldap3's encoders, this wire's framing."""
        self._next_id += 1
        message = LDAPMessage()
        message['messageID'] = MessageID(self._next_id)
        message['protocolOp'] = ProtocolOp().setComponentByName(kind, request)
        built = build_controls_list(controls)
        if built is not None:
            message['controls'] = built
        data = encode(message)
        if self.security is not None:
            token = self.security.wrap(data, encrypt=True).data
            data = struct.pack('>I', len(token)) + token
        return self._next_id, data

    def send(self, kind, request, controls=None):
        """Send one request; returns its message id."""
        message_id, data = self.encode(kind, request, controls)
        self.sock.sendall(data)
        return message_id

    # -- receiving -------------------------------------------------------
    def _split(self):
        """Complete LDAP messages out of the LDAP bytes read so far."""
        if self.security is not None:
            while len(self._raw) >= 4:
                size, = struct.unpack_from('>I', self._raw, 0)
                if size > MAX_SEALED:
                    raise WireError('the DC sent a sealed buffer of %d bytes; the connection is out of step' % size)
                if len(self._raw) < 4 + size:
                    break
                token = bytes(self._raw[4:4 + size])
                del self._raw[:4 + size]
                try:
                    self._plain += self.security.unwrap(token).data
                except Exception as exc:  # pylint: disable=broad-except  # spnego.exceptions.SpnegoError
                    raise WireError('a buffer from the DC does not unseal (%s)' % exc)
        else:
            self._plain += self._raw
            del self._raw[:]
        messages = []
        while True:
            size = BaseStrategy.compute_ldap_message_size(self._plain)
            if size == -1 or len(self._plain) < size:
                break
            messages.append(bytes(self._plain[:size]))
            del self._plain[:size]
        return messages

    def receive(self):
        """Block until at least one whole message arrived; [(message id, response dict), ...]."""
        messages = self._split()
        while not messages:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise WireError('the DC did not answer within %s s' % self.timeout)
            if not chunk:
                raise WireError('the DC closed the connection')
            self._raw += chunk
            messages = self._split()
        return [decode_response(decode_message_fast(raw)) for raw in messages]

    def request(self, kind, request, controls=None):
        """Send one request and wait for its final reply: (response, [entries])."""
        message_id = self.send(kind, request, controls)
        entries = []
        while True:
            for got_id, response in self.receive():
                if got_id == 0:
                    raise WireError('the DC ended the session (%s)'
                                    % (response.get('message') or response.get('responseName')))
                if got_id != message_id:
                    continue
                if response['type'] == 'searchResEntry':
                    entries.append(response)
                elif response['type'] not in ('searchResRef', 'intermediateResponse'):
                    return response, entries

    # -- operations used before a Pipeline ----------------------------------
    def bind_simple(self, name, password):
        """Simple bind (only ever called on TLS); password as bytes (no SASLprep)."""
        if not self.tls:
            raise WireError('refusing a simple bind without TLS')
        response, _entries = self.request('bindRequest', bind_operation(3, 'SIMPLE', name, password))
        return response

    def bind_sasl(self, mechanism, token):
        response, _entries = self.request('bindRequest', bind_operation(3, 'SASL', '', None, mechanism, token))
        return response

    def start_tls(self, context, server_hostname):
        """StartTLS; returns the extended response when the DC refused, else None (the socket is now TLS)."""
        response, _entries = self.request('extendedReq', extended_operation(START_TLS_OID))
        if response.get('result') != 0:
            return response
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.tls = True
        return None

    def close(self):
        try:
            if self.sock is not None:
                try:
                    _mid, data = self.encode('unbindRequest', unbind_operation())
                    self.sock.sendall(data)
                except Exception:  # pylint: disable=broad-except
                    pass
                self.sock.close()
        finally:
            self.sock = None
            self.security = None


class Pipeline(object):
    """Queue of LDAP requests sent with up to ``window`` outstanding; ``run()`` until all are answered.

    Callbacks are ``callback(reply)``; they may submit more requests. A connection
    failure answers every request not yet answered with ``Reply(error=...)`` (sent
    or not) and ends ``run()``; later submissions are answered the same way.
    """

    def __init__(self, wire, window=DEFAULT_WINDOW):
        if window < 1:
            raise ValueError('window must be at least 1')
        self.wire = wire
        self.window = window
        self._queue = collections.deque()
        self._outstanding = collections.OrderedDict()
        self._broken = None
        self._send_failed = False
        self.sent = 0

    # -- submitting ----------------------------------------------------
    # ``first=True`` puts the request ahead of the queued ones (a read-back that the
    # caller wants answered while the rest of the batch is still being worked on).
    def add(self, dn, attributes, callback, first=False):
        request = add_operation(dn, dict(attributes), True, None, validator=None, check_names=False)
        self._submit('addRequest', request, callback, first)

    def modify(self, dn, changes, callback, first=False):
        """changes: {attribute: [(ldap3.MODIFY_*, [values])]} as ldap3's Connection.modify takes."""
        request = modify_operation(dn, changes, True, None, validator=None, check_names=False)
        self._submit('modifyRequest', request, callback, first)

    def search(self, base, flt, attributes, callback, scope='subtree', first=False, controls=None):
        """controls: ldap3 control tuples (oid, criticality, value), e.g. a paged-results or SD-flags control."""
        request = search_operation(base, flt, _SCOPES[scope], DEREF_NEVER, list(attributes or []), 0, 0, False,
                                   True, True, None, validator=None, check_names=False)
        self._submit('searchRequest', request, callback, first, controls)

    def _submit(self, kind, request, callback, first, controls=None):
        if self._broken is not None:
            callback(Reply(error=self._broken, sent=False))
        elif first:
            self._queue.appendleft((kind, request, controls, callback))
        else:
            self._queue.append((kind, request, controls, callback))

    # -- running -------------------------------------------------------
    def run(self):
        """Send and receive until every submitted request is answered."""
        while self._queue or self._outstanding:
            if self._broken is not None:
                self._fail_rest()
                return
            try:
                while self._queue and len(self._outstanding) < self.window:
                    kind, request, controls, callback = self._queue[0]
                    self._send_failed = True
                    message_id = self.wire.send(kind, request, controls)
                    self._send_failed = False
                    self._queue.popleft()
                    self._outstanding[message_id] = [callback, []]
                    self.sent += 1
                if self._outstanding:
                    self._receive()
            except (ldap3_exceptions.LDAPException, OSError) as exc:
                self._broken = str(exc) or exc.__class__.__name__
                self._fail_rest()
                return

    def _receive(self):
        for message_id, response in self.wire.receive():
            if message_id == 0:
                raise WireError(
                    'the DC ended the session (%s)' % (response.get('message') or response.get('responseName')))
            slot = self._outstanding.get(message_id)
            if slot is None:
                raise WireError('reply to unknown message id %d' % message_id)
            kind = response.get('type')
            if kind == 'searchResEntry':
                raw_attrs = {k.lower(): v for k, v in (response.get('raw_attributes') or {}).items()}
                slot[1].append((response.get('dn'), raw_attrs))
                continue
            if kind not in _FINAL:
                continue  # search references and intermediate responses: not used here
            del self._outstanding[message_id]
            slot[0](Reply(code=response.get('result'), description=response.get('description'),
                          message=response.get('message'), entries=slot[1], controls=response.get('controls')))

    def _fail_rest(self):
        """Answer everything not answered with the connection failure.

        A request whose send failed stays first in the queue; part of it may have
        left, so it counts as sent.
        """
        outstanding = list(self._outstanding.values())
        queued = list(self._queue)
        self._outstanding.clear()
        self._queue.clear()
        for callback, _entries in outstanding:
            callback(Reply(error=self._broken, sent=True))
        for index, (_kind, _request, _controls, callback) in enumerate(queued):
            callback(Reply(error=self._broken, sent=index == 0 and self._send_failed))
