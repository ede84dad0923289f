"""Only here because the cffi extension (pmutop.kernel._perf) is built at install time."""

from setuptools import setup

setup(cffi_modules=["pmutop/kernel/_perf_build.py:ffibuilder"])
