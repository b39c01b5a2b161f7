"""The HIGH_ORDER_FRAGMENTATION finding reports the kernel's unusable index as a ratio.

Oracle: ``mm/vmstat.c`` ``unusable_free_index()`` (thousandths, printed ``%d.%03d`` in
debugfs ``extfrag/unusable_index``). A value of 1 thousandth must read 0.001, not 1.0.
"""

from minfree.analysis.findings import _unusable_index


def test_one_thousandth_is_not_read_as_fully_fragmented() -> None:
    # 999 free pages: one order-0 page (unusable for order 1) and 499 order-1 blocks.
    assert _unusable_index((1, 499), 1) == 0.001


def test_all_free_memory_in_order_zero_is_fully_unusable_for_order_one() -> None:
    assert _unusable_index((512, 0, 0), 1) == 1.0


def test_no_free_memory_counts_as_fully_unusable() -> None:
    assert _unusable_index((0, 0), 0) == 1.0
