"""Distances along the street network, where cables are actually laid.

    net = StreetNetwork.from_lines(streets_metric)
    d = net.pair_distances(reports, boxes, (i, j), limit=300.0)   # metres, inf beyond the limit

Streets join where they share a vertex (as in OpenStreetMap); lines that cross without one
(a bridge over a road) stay apart. A place joins the network at the nearest point of its
nearest street, and the access leg (place to street) counts in the distance: the drop cable
runs it too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from gis.errors import InputError


@dataclass
class Snap:
    """Where each place joins the network: its segment's two end nodes, the distance along
    the segment to each end, and the access leg from the place to the street."""
    seg: np.ndarray
    node_a: np.ndarray
    node_b: np.ndarray
    to_a: np.ndarray
    to_b: np.ndarray
    access: np.ndarray


class StreetNetwork:
    def __init__(self, nodes: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray):
        self.nodes, self.seg_a, self.seg_b = nodes, seg_a, seg_b
        self.segments = shapely.linestrings(np.stack([nodes[seg_a], nodes[seg_b]], axis=1))
        self.length = shapely.length(self.segments)
        n = len(nodes)
        # Two segments between the same two nodes (a street drawn twice): the shorter counts
        # (a sparse matrix would add their lengths up).
        a, b, w = np.r_[seg_a, seg_b], np.r_[seg_b, seg_a], np.r_[self.length, self.length]
        order = np.lexsort((w, b, a))
        a, b, w = a[order], b[order], w[order]
        first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
        self.graph = sparse.csr_matrix((w[first], (a[first], b[first])), shape=(n, n))
        self.tree = shapely.STRtree(self.segments)

    @classmethod
    def from_lines(cls, lines, precision: float = 0.5) -> "StreetNetwork":
        """Every line cut into its segments; vertices closer than `precision` metres are one node."""
        geoms = np.asarray(getattr(lines, "geometry", lines))
        geoms = shapely.line_merge(geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))])
        parts = shapely.get_parts(geoms)
        parts = parts[np.isin(shapely.get_type_id(parts), [1, 2])]
        if len(parts) == 0:
            raise InputError("the street layer has no lines")
        xy, owner = shapely.get_coordinates(parts, return_index=True)
        same = owner[1:] == owner[:-1]
        key = np.round(xy / precision).astype(np.int64)
        uniq, node = np.unique(key, axis=0, return_inverse=True)
        node = node.ravel()
        nodes = np.zeros((len(uniq), 2))
        np.add.at(nodes, node, xy)
        nodes /= np.bincount(node, minlength=len(uniq))[:, None]
        a, b = node[:-1][same], node[1:][same]
        keep = a != b
        return cls(nodes, a[keep], b[keep])

    def snap(self, geoms) -> Snap:
        geoms = np.asarray(geoms)
        _, seg = self.tree.query_nearest(geoms, all_matches=False)
        # The point of the street nearest to the place (for an outline, nearest to its edge).
        link = shapely.shortest_line(geoms, self.segments[seg])
        on_street = shapely.get_point(link, 1)
        t = shapely.line_locate_point(self.segments[seg], on_street)
        return Snap(seg, self.seg_a[seg], self.seg_b[seg], t, self.length[seg] - t, shapely.length(link))

    def pair_distances(self, src_geoms, dst_geoms, pairs: tuple[np.ndarray, np.ndarray],
                       limit: float, chunk: int = 256) -> np.ndarray:
        """Network distance for each (src i, dst j) pair; inf where it exceeds `limit`. One
        bounded Dijkstra per distinct destination node, in chunks to bound memory."""
        i, j = pairs
        out = np.full(len(i), np.inf)
        if len(i) == 0:
            return out
        s, d = self.snap(np.asarray(src_geoms)[np.unique(i)]), self.snap(np.asarray(dst_geoms)[np.unique(j)])
        si = np.searchsorted(np.unique(i), i)
        dj = np.searchsorted(np.unique(j), j)
        ends = np.unique(np.r_[d.node_a, d.node_b])
        row = {int(v): r for r, v in enumerate(ends)}
        best = np.full(len(i), np.inf)
        ra = np.array([row[int(v)] for v in d.node_a[dj]])
        rb = np.array([row[int(v)] for v in d.node_b[dj]])
        for lo in range(0, len(ends), chunk):
            block = ends[lo:lo + chunk]
            D = dijkstra(self.graph, directed=False, indices=block, limit=limit)
            for r_dst, off_dst in ((ra, d.to_a[dj]), (rb, d.to_b[dj])):
                mine = (r_dst >= lo) & (r_dst < lo + len(block))
                if not mine.any():
                    continue
                rr = r_dst[mine] - lo
                for n_src, off_src in ((s.node_a[si], s.to_a[si]), (s.node_b[si], s.to_b[si])):
                    cand = D[rr, n_src[mine]] + off_src[mine] + off_dst[mine]
                    best[mine] = np.minimum(best[mine], cand)
        # Both on one segment: straight along it.
        same = s.seg[si] == d.seg[dj]
        best[same] = np.minimum(best[same], np.abs(s.to_a[si][same] - d.to_a[dj][same]))
        total = best + s.access[si] + d.access[dj]
        out[total <= limit] = total[total <= limit]
        return out
