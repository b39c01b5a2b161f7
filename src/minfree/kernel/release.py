"""Kernel releases for the kernel-facts code: see :mod:`minfree.model.release`.

The type lives in the model layer (a host snapshot carries one); it is re-exported here
because every era decision in ``minfree.kernel`` starts from it.
"""

from minfree.model.release import KernelRelease

__all__ = ["KernelRelease"]
