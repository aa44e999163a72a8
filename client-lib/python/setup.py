# SPDX-License-Identifier: ISC
"""The one thing pyproject.toml cannot say: the optional C part.

nbmq/_speedups.c makes send() and recv() three times cheaper than
ctypes; without a compiler or Python's headers (Debian: python3-dev) the
build goes on without it and the binding stays on ctypes alone.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("nbmq._speedups", ["nbmq/_speedups.c"],
                             optional=True)])
