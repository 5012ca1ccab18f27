"""The one distance the equivalence tests use between two pytrees."""
import jax
import numpy as np


def rel_diff(a, b, allow_empty: bool = False) -> float:
    """‖a − b‖ / ‖b‖ over all leaves together (float64); the trees must match leaf for leaf.

    Empty trees are refused (a comparison of nothing proves nothing) unless ``allow_empty``:
    then two empty trees, e.g. the statistics of a model without BatchNorm, give 0.
    """
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert la or allow_empty, "expected non-empty trees"
    assert len(la) == len(lb), f"expected trees with the same leaves, got {len(la)} and {len(lb)} leaves"
    assert [np.shape(x) for x in la] == [np.shape(y) for y in lb], "leaf shapes differ"
    num = np.sqrt(sum(np.sum((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2) for x, y in zip(la, lb)))
    den = np.sqrt(sum(np.sum(np.asarray(y, np.float64) ** 2) for y in lb))
    return float(num / max(den, 1e-30))
