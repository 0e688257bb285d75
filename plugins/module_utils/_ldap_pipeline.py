# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several LDAP operations in flight on one bound ldap3 connection.

A batch of computer accounts costs the DC one password key derivation per
account (PBKDF2 for the AES keys); waiting for each reply before sending the
next request adds the round trip and the client's own work to that. LDAP lets a
client send requests without waiting (RFC 4511 4.1.1.1: message IDs tie replies
to requests), so this keeps up to ``window`` requests outstanding on the one
authenticated connection and hands each reply to its callback as it comes.

RFC 4511 gives no ordering between outstanding requests: a request that depends
on another (reading back an account just added) is submitted from the first
one's callback, after its reply.

Works on an ldap3 connection with the default SYNC strategy: requests are
encoded by ldap3's own operation builders and sent through the connection's
strategy; replies are read from the socket and decoded by ldap3's decoder.
"""

from __future__ import annotations

import collections

try:
    from ldap3 import DEREF_NEVER
    from ldap3.core import exceptions as ldap3_exceptions
    from ldap3.operation.add import add_operation
    from ldap3.operation.modify import modify_operation
    from ldap3.operation.search import search_operation
    from ldap3.utils.asn1 import decode_message_fast
except ImportError:  # pragma: no cover - _ad_client.HAS_LDAP3 reports it before any pipeline is made
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

    __slots__ = ('code', 'description', 'message', 'entries', 'error', 'sent')

    def __init__(self, code=None, description=None, message=None, entries=None, error=None, sent=True):
        self.code = code
        self.description = description
        self.message = message
        self.entries = entries if entries is not None else []
        self.error = error
        self.sent = sent

    @property
    def ok(self):
        return self.error is None and self.code == 0


class Pipeline(object):
    """Queue of LDAP requests sent with up to ``window`` outstanding; ``run()`` until all are answered.

    Callbacks are ``callback(reply)``; they may submit more requests. A connection
    failure answers every request not yet answered with ``Reply(error=...)`` (sent
    or not) and ends ``run()``; later submissions are answered the same way.
    """

    def __init__(self, conn, window=DEFAULT_WINDOW):
        if window < 1:
            raise ValueError('window must be at least 1')
        self.conn = conn
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
        request = add_operation(dn, dict(attributes), self.conn.auto_encode, None, validator=None, check_names=False)
        self._submit('addRequest', request, callback, first)

    def modify(self, dn, changes, callback, first=False):
        """changes: {attribute: [(ldap3.MODIFY_*, [values])]} as ldap3's Connection.modify takes."""
        request = modify_operation(dn, changes, self.conn.auto_encode, None, validator=None, check_names=False)
        self._submit('modifyRequest', request, callback, first)

    def search(self, base, flt, attributes, callback, scope='subtree', first=False):
        request = search_operation(base, flt, _SCOPES[scope], DEREF_NEVER, list(attributes or []), 0, 0, False,
                                   True, self.conn.auto_encode, None, validator=None, check_names=False)
        self._submit('searchRequest', request, callback, first)

    def _submit(self, kind, request, callback, first):
        if self._broken is not None:
            callback(Reply(error=self._broken, sent=False))
        elif first:
            self._queue.appendleft((kind, request, callback))
        else:
            self._queue.append((kind, request, callback))

    # -- running -------------------------------------------------------
    def run(self):
        """Send and receive until every submitted request is answered."""
        while self._queue or self._outstanding:
            if self._broken is not None:
                self._fail_rest()
                return
            try:
                while self._queue and len(self._outstanding) < self.window:
                    kind, request, callback = self._queue[0]
                    self._send_failed = True
                    message_id = self.conn.strategy.send(kind, request, None)
                    self._send_failed = False
                    self._queue.popleft()
                    self.conn.strategy._outstanding.pop(message_id, None)  # pylint: disable=protected-access
                    self._outstanding[message_id] = [callback, []]
                    self.sent += 1
                if self._outstanding:
                    self._receive()
            except (ldap3_exceptions.LDAPException, OSError) as exc:
                self._broken = str(exc) or exc.__class__.__name__
                self._fail_rest()
                return

    def _receive(self):
        messages = self.conn.strategy.receiving()
        if not messages:
            raise ldap3_exceptions.LDAPSocketReceiveError('the DC closed the connection')
        for raw in messages:
            message = decode_message_fast(raw)
            message_id = int(message['messageID'])
            response = self.conn.strategy.decode_response_fast(message)
            if message_id == 0:
                raise ldap3_exceptions.LDAPSocketReceiveError(
                    'the DC ended the session (%s)' % (response.get('message') or response.get('responseName')))
            slot = self._outstanding.get(message_id)
            if slot is None:
                raise ldap3_exceptions.LDAPSocketReceiveError('reply to unknown message id %d' % message_id)
            kind = response.get('type')
            if kind == 'searchResEntry':
                raw_attrs = {k.lower(): v for k, v in (response.get('raw_attributes') or {}).items()}
                slot[1].append((response.get('dn'), raw_attrs))
                continue
            if kind not in _FINAL:
                continue  # search references and intermediate responses: not used here
            del self._outstanding[message_id]
            slot[0](Reply(code=response.get('result'), description=response.get('description'),
                          message=response.get('message'), entries=slot[1]))

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
        for index, (_kind, _request, callback) in enumerate(queued):
            callback(Reply(error=self._broken, sent=index == 0 and self._send_failed))
