"""Only here because the cffi extensions (pmutop.kernel._perf, pmutop.model._rates) are built at install time."""

from setuptools import setup

setup(cffi_modules=["pmutop/_build.py:perf", "pmutop/_build.py:rates"])
