# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows paths as the controller checks them before anything is sent to a Windows host."""

from __future__ import annotations

import ntpath
import re

_DRIVE_PATH_RE = re.compile(r'^[A-Za-z]:\\')
_UNC_RE = re.compile(r'^\\\\[^\\/]+\\[^\\/]+')


def is_windows_absolute(path):
    """True for ``C:\\...`` and ``\\\\server\\share\\...``."""
    return bool(path) and bool(_DRIVE_PATH_RE.match(path) or _UNC_RE.match(path))


def same_windows_path(a, b):
    """True when two Windows paths name the same folder (case, separators and a trailing backslash ignored)."""
    norm = [ntpath.normcase(ntpath.normpath((x or '').rstrip('\\/'))) for x in (a, b)]
    return norm[0] == norm[1]
