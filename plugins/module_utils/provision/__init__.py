# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioner: decide.py (pure rules), store.py (package store), provisioner.py (the batch),
parts.py (extra package parts, error names), task.py (the odj_provision task)."""
