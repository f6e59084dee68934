"""The least churn a re-plan can have: the least workload that must cross district borders for
every district to end within the tolerance (a min-cost flow on the district graph, as an LP
solved by scipy's HiGHS). The benchmark reports a re-plan's churn against it (issue 12: churn
within 1.25x of this bound)."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


def district_graph(labels: np.ndarray, adjacency: sparse.spmatrix) -> np.ndarray:
    """(a, b) pairs of districts whose units touch, a < b."""
    a = sparse.coo_matrix(adjacency)
    la, lb = labels[a.row], labels[a.col]
    keep = la < lb
    return np.unique(np.stack([la[keep], lb[keep]], axis=1), axis=0)


def least_transfer(labels: np.ndarray, workload: np.ndarray, adjacency: sparse.spmatrix, k: int,
                   tolerance: float) -> float:
    """The least total workload moved across district borders so that every district of the
    plan `labels` (re-weighted by `workload`) is within `tolerance` of the mean; as a share
    of the total workload. Flows may pass through districts (each border crossing counts)."""
    load = np.bincount(labels, weights=workload, minlength=k)
    target = load.sum() / k
    edges = district_graph(labels, adjacency)
    heads = np.concatenate([edges[:, 0], edges[:, 1]])   # a flow variable per direction
    tails = np.concatenate([edges[:, 1], edges[:, 0]])
    m = len(heads)
    cols = np.arange(m)
    # net inflow of district d: sum of flows into d minus out of d
    net = sparse.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                             (np.concatenate([tails, heads]), np.concatenate([cols, cols]))), shape=(k, m))
    # target(1 - tol) <= load + net <= target(1 + tol)
    a_ub = sparse.vstack([net, -net]).tocsr()
    b_ub = np.concatenate([target * (1 + tolerance) - load, load - target * (1 - tolerance)])
    res = linprog(np.ones(m), A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if not res.success:
        raise RuntimeError(f"no flow brings every district within the tolerance: {res.message}")
    return float(res.fun / load.sum())
