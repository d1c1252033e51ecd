"""Allocator settings for CPU training.

Authors
 * speechbrain-asd developers 2026
"""


def keep_freed_memory():
    """Stops glibc from returning big freed buffers to the OS (Linux only).

    Tensors above glibc's mmap threshold (at most 32 MiB) are mmap-ed and unmapped on every
    allocation; each training step then page-faults and zeroes hundreds of MiB again (measured:
    26 of about 100 ms per clip were system time at batch 32). ``mallopt(M_MMAP_MAX, 0)`` serves
    every allocation from the heap and a high ``M_TRIM_THRESHOLD`` keeps freed memory for reuse.
    The same from outside the process:
    ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647``.

    Returns
    -------
    bool
        Whether both settings were applied.

    Example
    -------
    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(
            libc.mallopt(m_trim_threshold, 2**31 - 1)
        )
    except (OSError, AttributeError):
        return False
