# -*- coding: utf-8 -*-
# Copyright: (c) 2026, winimage.provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """One offline Windows image to read: a folder or a .wim (the modules that also take O(images))."""

    DOCUMENTATION = r'''
options:
  image:
    description:
      - A folder that holds C(Windows/), or a C(.wim) file.
      - Exactly one of O(image) and O(images) is required.
    type: path
  image_index:
    description:
      - For a C(.wim), the image to read, by number (from 1) or by name. Required when it holds more than one image.
    type: str
requirements:
  - libhivex0 (C(libhivex.so.0)) on the target
  - wimtools (C(wimlib-imagex)) for C(.wim) images
'''
