"""Exact path-dependent TreeSHAP (Lundberg, Erion and Lee 2018) for
scikit-learn's HistGradientBoosting trees, in NumPy: the same definition as
LightGBM's ``pred_contrib``, so the churn classifier explains customers the
same way with either backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tenure.errors import InputError


@dataclass(frozen=True)
class _Tree:
    """One regression tree prepared for :func:`_tree_shap`.

    Internal nodes ``feature``, ``threshold`` and ``missing_left`` (a row
    goes left when its value is <= threshold, or is NaN and missing_left).
    For each leaf, its path's distinct features padded to ``depth`` slots:
    ``slot_feature`` (n_features for padding), ``zero`` (the share of the
    training rows that follow the path's splits on that feature, 1 for
    padding) and ``value``; ``entries`` (internal node, direction, flat slot)
    lists the path's splits sorted by slot, ``starts`` where each slot's
    entries begin, ``slots`` the flat slots that are not padding.
    """

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    value: np.ndarray
    zero: np.ndarray
    slot_feature: np.ndarray
    entry_node: np.ndarray
    entry_left: np.ndarray
    starts: np.ndarray
    slots: np.ndarray
    depth: int
    expected_value: float


def _prepare_tree(
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing_left: np.ndarray,
    is_leaf: np.ndarray,
    value: np.ndarray,
    cover: np.ndarray,
    n_features: int,
) -> _Tree | None:
    """A tree given as node arrays (root at 0), or None for a single leaf
    (it only shifts the base value)."""
    cover = cover.astype("float64")
    internal = np.flatnonzero(~is_leaf)
    if len(internal) == 0:
        return None
    position = {int(n): i for i, n in enumerate(internal)}
    leaves: list[tuple[float, float, list[tuple[int, int, bool, float]]]] = []
    stack: list[tuple[int, list[tuple[int, int, bool, float]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if is_leaf[node]:
            leaves.append((float(value[node]), cover[node], path))
            continue
        for child, goes_left in ((int(left[node]), True), (int(right[node]), False)):
            step = (position[node], int(feature[node]), goes_left, cover[child] / cover[node])
            stack.append((child, [*path, step]))
    root = cover[0]
    expected = sum(v * c / root for v, c, _ in leaves)
    slots_per_leaf = []
    for _, _, path in leaves:
        by_feature: dict[int, list[tuple[int, bool, float]]] = {}
        for node, f, goes_left, ratio in path:
            by_feature.setdefault(f, []).append((node, goes_left, ratio))
        slots_per_leaf.append(by_feature)
    depth = max(len(s) for s in slots_per_leaf)
    n_leaves = len(leaves)
    zero = np.ones((n_leaves, depth))
    slot_feature = np.full((n_leaves, depth), n_features)
    entries: list[tuple[int, int, bool]] = []  # (flat slot, node, left)
    for leaf, by_feature in enumerate(slots_per_leaf):
        for j, (f, splits) in enumerate(by_feature.items()):
            slot_feature[leaf, j] = f
            zero[leaf, j] = math.prod(r for _, _, r in splits)
            entries.extend((leaf * depth + j, node, goes_left) for node, goes_left, _ in splits)
    entries.sort(key=lambda e: e[0])
    flat = np.array([e[0] for e in entries])
    slots, starts = np.unique(flat, return_index=True)
    return _Tree(
        feature=feature[internal].astype(np.int64),
        threshold=threshold[internal].astype("float64"),
        missing_left=missing_left[internal].astype(bool),
        value=np.array([v for v, _, _ in leaves]),
        zero=zero,
        slot_feature=slot_feature,
        entry_node=np.array([e[1] for e in entries]),
        entry_left=np.array([e[2] for e in entries]),
        starts=starts,
        slots=slots,
        depth=depth,
        expected_value=float(expected),
    )


def _hgb_trees(model: Any) -> list[_Tree]:
    """The trees of a fitted binary HistGradientBoostingClassifier."""
    trees = []
    n_features = int(model.n_features_in_)
    for iteration in model._predictors:
        nodes = iteration[0].nodes
        if nodes["is_categorical"].any():  # never made here: features are float arrays
            raise InputError("explanations do not support categorical splits.")
        tree = _prepare_tree(
            nodes["left"].astype(np.int64),
            nodes["right"].astype(np.int64),
            nodes["feature_idx"],
            nodes["num_threshold"],
            nodes["missing_go_to_left"].astype(bool),
            nodes["is_leaf"].astype(bool),
            nodes["value"],
            nodes["count"],
            n_features,
        )
        if tree is not None:
            trees.append(tree)
    return trees


def _shapley_weights(d: int) -> np.ndarray:
    """k! (d - 1 - k)! / d! for k = 0 .. d - 1."""
    return np.array(
        [math.factorial(k) * math.factorial(d - 1 - k) / math.factorial(d) for k in range(d)]
    )


def _tree_shap(trees: list[_Tree], X: np.ndarray, n_features: int, chunk: int = 2048) -> np.ndarray:
    """Path-dependent TreeSHAP values of a sum of trees, (rows, features).

    For one leaf with value v whose path splits on the distinct features U
    (d of them), feature i in U receives

        v (o_i - z_i) sum_k w_k [t^k] prod_{j in U, j != i} (z_j + o_j t),

    with o_j = 1 when the row follows every split on j along the path (else
    0), z_j the share of training rows that do, and w_k = k!(d-1-k)!/d!: the
    Shapley value of the leaf's path-dependent expectation (Lundberg et al.
    2020, Algorithm 2, evaluated leaf by leaf). All leaves of a tree are
    computed at once by padding their paths to the tree's depth with
    features that have z = o = 1; such a feature is a null player, so the
    values of the others do not change.
    """
    out = np.zeros((len(X), n_features))
    for start in range(0, len(X), chunk):
        x = X[start : start + chunk]
        phi = np.zeros((len(x), n_features + 1))
        for tree in trees:
            phi += _tree_shap_one(tree, x, n_features)
        out[start : start + chunk] = phi[:, :n_features]
    return out


def _tree_shap_one(tree: _Tree, x: np.ndarray, n_features: int) -> np.ndarray:
    n = len(x)
    n_leaves, d = tree.zero.shape
    values = x[:, tree.feature]
    with np.errstate(invalid="ignore"):
        goes_left = np.where(np.isnan(values), tree.missing_left, values <= tree.threshold)
    agree = goes_left[:, tree.entry_node] == tree.entry_left
    hot = np.ones((n, n_leaves * d), dtype=bool)
    hot[:, tree.slots] = np.logical_and.reduceat(agree, tree.starts, axis=1)
    onehot = np.zeros((n_leaves * d, n_features + 1))
    onehot[np.arange(n_leaves * d), tree.slot_feature.ravel()] = 1.0
    if d > 52:  # patterns would not fit a float's mantissa: every row and leaf
        o = hot.reshape(n * n_leaves, d).astype("float64")
        z, v = np.tile(tree.zero, (n, 1)), np.tile(tree.value, n)
        return _leaf_contributions(o, z, v).reshape(n, n_leaves * d) @ onehot
    # a row's contributions from a leaf depend only on which of the path's
    # features it follows: compute them once per (leaf, pattern) that occurs
    bits = 2.0 ** np.arange(d)
    pattern = (hot.reshape(n, n_leaves, d).astype("float64") @ bits).astype(np.int64)
    if d + n_leaves.bit_length() < 63:
        pairs = pattern * n_leaves + np.arange(n_leaves)
        keys, inverse = np.unique(pairs, return_inverse=True)
        leaves, patterns = keys % n_leaves, keys // n_leaves
    else:
        leaf = np.broadcast_to(np.arange(n_leaves), (n, n_leaves))
        both = np.stack([leaf.ravel(), pattern.ravel()], axis=1)
        keys, inverse = np.unique(both, axis=0, return_inverse=True)
        leaves, patterns = keys[:, 0], keys[:, 1]
    o = ((patterns[:, None] >> np.arange(d)) & 1).astype("float64")
    table = _leaf_contributions(o, tree.zero[leaves], tree.value[leaves])
    return table[inverse.reshape(-1)].reshape(n, n_leaves * d) @ onehot


def _leaf_contributions(o: np.ndarray, z: np.ndarray, v: np.ndarray) -> np.ndarray:
    """v (o_i - z_i) sum_k w_k [t^k] prod_{j != i} (z_j + o_j t) for every
    slot i of every item (a leaf and a pattern): o and z are (items, depth)."""
    m, d = o.shape
    # p[:, k]: coefficient of t^k in prod_j (z_j + o_j t)
    p = np.zeros((m, d + 1))
    p[:, 0] = 1.0
    for j in range(d):
        shifted = p[:, :-1] * o[:, j, None]
        p *= z[:, j, None]
        p[:, 1:] += shifted
    w = _shapley_weights(d)
    # divide out (z_i + o_i t): by z_i when o_i = 0; by (z_i + t) when o_i = 1,
    # from the top coefficient down (stable, as z_i <= 1)
    cold = (p[:, :d] @ w)[:, None] / z
    q = np.broadcast_to(p[:, d, None], (m, d))
    hot = w[d - 1] * q
    for k in range(d - 1, 0, -1):
        q = p[:, k, None] - z * q
        hot += w[k - 1] * q
    return v[:, None] * (o - z) * np.where(o == 1.0, hot, cold)
