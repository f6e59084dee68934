"""Outside plant: central offices, trunk cables routed along the streets, distribution cables
from each box to its distribution points, and a drop to every subscriber."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .people import People
from .spec import Size


@dataclass
class Plant:
    office_xy: np.ndarray
    box_office: np.ndarray
    trunk_geoms: np.ndarray        # one per box, office -> box along the streets
    trunk_capacity: np.ndarray
    trunk_used: np.ndarray
    trunk_aerial: np.ndarray
    dist_aerial: np.ndarray        # per dp
    dist_fibre: np.ndarray         # per dp
    drop_aerial: np.ndarray        # per subscriber
    drop_fibre: np.ndarray
    drop_year: np.ndarray


def street_graph(seg: np.ndarray):
    """Nodes (unique segment ends) and a symmetric sparse graph weighted by length."""
    ends = np.round(seg.reshape(-1, 2), 2)
    nodes, inv = np.unique(ends, axis=0, return_inverse=True)
    a, b = inv[0::2], inv[1::2]
    w = np.hypot(*(seg[:, 1] - seg[:, 0]).T)
    g = coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(len(nodes), len(nodes))).tocsr()
    return nodes, g


def offices(size: Size, people: People) -> np.ndarray:
    """1-3 offices at the subscriber-weighted centres of the city's thirds (or its centre)."""
    if size.offices == 1:
        return np.average(people.box_xy, axis=0, weights=people.box_used)[None, :]
    angle = np.arctan2(people.box_xy[:, 1], people.box_xy[:, 0])
    part = ((angle + np.pi) / (2 * np.pi) * size.offices).astype(int) % size.offices
    out = []
    for p in range(size.offices):
        sel = part == p
        c = np.average(people.box_xy[sel], axis=0, weights=people.box_used[sel])
        out.append(c * 0.45)  # offices sit towards the centre of their sector
    return np.array(out)


def build(rng: np.random.Generator, size: Size, people: People, nodes: np.ndarray, graph) -> Plant:
    office_xy = offices(size, people)
    ntree = cKDTree(nodes)
    _, office_node = ntree.query(office_xy)
    office_xy = nodes[office_node]
    _, box_node = ntree.query(people.box_xy)
    dist, pred = dijkstra(graph, indices=office_node, return_predecessors=True)
    d_box = dist[:, box_node]
    box_office = np.argmin(d_box, axis=0)
    reachable = np.isfinite(d_box[box_office, np.arange(len(box_node))])
    # Path assembly walks predecessor links box by box: a few thousand short walks, each a
    # handful of microseconds, and no array formulation of "follow the tree" is simpler.
    trunk = np.empty(len(box_node), dtype=object)
    for i, (o, bn) in enumerate(zip(box_office, box_node)):
        if not reachable[i]:
            trunk[i] = shapely.LineString([office_xy[o], people.box_xy[i]])
            continue
        path = [bn]
        p = pred[o]
        while path[-1] != office_node[o]:
            path.append(p[path[-1]])
        pts = nodes[path[::-1]]
        if not np.allclose(pts[-1], people.box_xy[i]):
            pts = np.vstack([pts, people.box_xy[i]])
        if len(pts) < 2:
            pts = np.vstack([office_xy[o], people.box_xy[i] + [0.5, 0.5]])
        trunk[i] = shapely.LineString(pts)

    r_box = np.hypot(people.box_xy[:, 0], people.box_xy[:, 1]) / size.town_radius
    old = people.box_year < 2008
    trunk_aerial = (r_box > 0.55) & (rng.random(len(r_box)) < 0.7)
    trunk_capacity = np.array([24, 48, 96, 144])[np.clip(people.box_capacity // 300, 0, 3)]
    trunk_used = np.minimum(trunk_capacity, np.ceil(people.box_used / 40).astype(int) + 2)

    dp_r = r_box[people.dp_box]
    dist_aerial = (dp_r > 0.3) & (rng.random(len(dp_r)) < 0.6) | (old[people.dp_box] & (rng.random(len(dp_r)) < 0.5))
    dist_fibre = people.box_year[people.dp_box] >= 2010
    sub_box = people.sub_box
    drop_aerial = dist_aerial[people.sub_dp] | (rng.random(len(sub_box)) < 0.15)
    drop_fibre = people.box_year[sub_box] >= 2010
    # Drops are replaced over time: a drop is no older than its box, often younger.
    by = people.box_year[sub_box]
    drop_year = by + (rng.random(len(sub_box)) ** 2 * np.maximum(0, 2025 - by)).astype(int)
    return Plant(office_xy, box_office, trunk, trunk_capacity, trunk_used, trunk_aerial,
                 dist_aerial, dist_fibre, drop_aerial, drop_fibre, drop_year)
