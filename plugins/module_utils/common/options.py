# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option helpers shared by the modules' argument specs."""

from __future__ import annotations

import os


def _first_set(*names):
    """The first of these environment variables that is set and not empty.

    An AWX credential injects an empty variable for a field left empty; that means
    "not given", not "given as an empty string".
    """
    from ansible.module_utils.errors import AnsibleFallbackNotFound  # pylint: disable=import-outside-toplevel
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise AnsibleFallbackNotFound


def env(*names):
    """An argument spec ``fallback`` that reads these environment variables."""
    return (_first_set, list(names))
