"""The inspection round: street distances between the stops, the order through them, the route."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import InputError
from gis.streets import StreetNetwork
from planning.routes import DETOUR, brute_force, distance_matrix, route, tour, tour_length, two_opt


def _euclid(xy: np.ndarray) -> np.ndarray:
    return np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))


def _grid(nx: int, ny: int, step: float, drop: float = 0.0, seed: int = 0,
          river: tuple[int, int] | None = None) -> StreetNetwork:
    """A street grid, one line per block side; `drop` of the sides removed at random; a `river`
    (row j, column i) cuts every street from row j to row j + 1 but the bridge at column i."""
    rng = np.random.default_rng(seed)
    sides = [((i * step, j * step), ((i + 1) * step, j * step)) for i in range(nx - 1) for j in range(ny)]
    sides += [((i * step, j * step), (i * step, (j + 1) * step)) for i in range(nx) for j in range(ny - 1)
              if river is None or j != river[0] or i == river[1]]
    keep = rng.random(len(sides)) >= drop
    return StreetNetwork.from_lines(shapely.linestrings([s for s, k in zip(sides, keep) if k]))


# A square block, 100 m a side, streets on its four sides only (corners are the nodes).
BLOCK = StreetNetwork.from_lines([shapely.LineString([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)])])
A, B, C, D = (10, -5), (103, 80), (50, 2), (50, 105)  # access legs 5, 3, 2, 5


# ---- street distances ---------------------------------------------------------------------

def test_distance_matrix_on_a_block_equals_the_hand_counted_street_distances():
    got = distance_matrix(BLOCK, np.array([A, B, C, D], dtype=float))
    want = np.array([
        [0, 5 + 90 + 80 + 3, 5 + 40 + 2, 5 + 10 + 100 + 50 + 5],
        [178, 0, 3 + 80 + 50 + 2, 3 + 20 + 50 + 5],
        [47, 135, 0, 2 + 50 + 100 + 50 + 5],
        [170, 78, 207, 0]], dtype=float)
    assert np.allclose(got, want, atol=1e-9)


def test_round_the_corner_is_longer_than_the_straight_line():
    got = distance_matrix(BLOCK, np.array([A, B], dtype=float))
    assert got[0, 1] > np.hypot(B[0] - A[0], B[1] - A[1]) + 30


def test_distance_matrix_accepts_shapely_points():
    pts = shapely.points(np.array([A, D], dtype=float))
    assert distance_matrix(BLOCK, pts)[0, 1] == pytest.approx(170.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 25), drop=st.sampled_from([0.0, 0.15, 0.3]),
       bridge=st.integers(0, 39), spread=st.sampled_from([60.0, 200.0, 500.0]))
def test_distance_matrix_equals_a_search_over_the_whole_network(seed, n, drop, bridge, spread):
    """The clipped search must give the network's own distance, whatever detour the holes and
    the river (stops on both banks, the one bridge anywhere) force."""
    net = _grid(40, 40, 40.0, drop=drop, seed=seed, river=(20, bridge))
    rng = np.random.default_rng(seed)
    lo = np.array([rng.uniform(0, 1560 - spread), 820 - spread / 2])
    xy = lo + rng.uniform(0, spread, (n, 2))
    i, j = np.triu_indices(n, 1)
    whole = np.zeros((n, n))
    whole[i, j] = net.pair_distances(shapely.points(xy), shapely.points(xy), (i, j), limit=np.inf)
    whole = whole + whole.T
    got = distance_matrix(net, xy, limit=1e9)
    joined = np.isfinite(whole)
    assert np.allclose(got[joined], whole[joined], rtol=1e-9, atol=1e-6)
    assert np.allclose(got[~joined], DETOUR * _euclid(xy)[~joined])
    assert np.array_equal(got, got.T) and (np.diag(got) == 0).all()


def test_a_far_bridge_is_found_when_the_limit_allows_it():
    # Two banks 100 m apart, 5 km long (a node every 100 m), joined only at the far end.
    x = np.arange(0, 5001, 100.0)
    bank = np.r_[np.c_[x, np.zeros_like(x)], np.c_[x[::-1], np.full_like(x, 100)]]
    net = StreetNetwork.from_lines([shapely.LineString(bank)])
    xy = np.array([(10.0, -5.0), (10.0, 105.0)])
    assert distance_matrix(net, xy, limit=20_000)[0, 1] == pytest.approx(5 + 4990 + 100 + 4990 + 5)
    # The default limit (3 x the stops' diagonal, at least 2 km) calls that a gap, not a detour.
    assert distance_matrix(net, xy)[0, 1] == pytest.approx(DETOUR * 110)


def test_a_near_but_long_bridge_does_not_hide_a_shorter_one_further_out():
    # Banks from x = -1000 to 1000 (a node every 50 m); a zigzag bridge at x = -500 (608 m of
    # deck), a straight one at x = 550. Searching outwards meets the zigzag first.
    x = np.arange(-1000, 1001, 50.0)
    zig = np.c_[np.where(np.arange(13) % 2 == 0, -500.0, -450.0), np.linspace(0, 100, 13)]
    net = StreetNetwork.from_lines([shapely.LineString(np.c_[x, np.zeros_like(x)]),
                                    shapely.LineString(np.c_[x, np.full_like(x, 100)]),
                                    shapely.LineString(zig), shapely.LineString([(550, 0), (550, 100)])])
    assert shapely.LineString(zig).length > 600
    got = distance_matrix(net, np.array([(0.0, -5.0), (0.0, 105.0)]), limit=10_000)
    assert got[0, 1] == pytest.approx(5 + 550 + 100 + 550 + 5)


def test_a_long_street_whose_ends_lie_far_outside_the_stops_still_joins_them():
    # Two 3 km streets without inner vertices, joined at both ends.
    net = StreetNetwork.from_lines([shapely.LineString([(0, 0), (3000, 0), (3000, 100), (0, 100), (0, 0)])])
    got = distance_matrix(net, np.array([(1000.0, -5.0), (1000.0, 105.0)]), limit=10_000)
    assert got[0, 1] == pytest.approx(5 + 1000 + 100 + 1000 + 5)


def test_a_street_drawn_twice_counts_once():
    net = StreetNetwork.from_lines([shapely.LineString([(-100, 0), (0, 0)]), shapely.LineString([(0, 0), (100, 0)]),
                                    shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (200, 0)])])
    assert distance_matrix(net, np.array([(-50.0, 0.0), (150.0, 0.0)]))[0, 1] == pytest.approx(200)


def test_points_on_disconnected_streets_fall_back_to_the_detoured_straight_line():
    net = StreetNetwork.from_lines([shapely.LineString([(0, 0), (100, 0)]),
                                    shapely.LineString([(0, 300), (100, 300)])])
    xy = np.array([(20.0, 5.0), (60.0, 0.0), (50.0, 295.0)])
    got = distance_matrix(net, xy)
    assert got[0, 1] == pytest.approx(5 + 40)
    assert got[0, 2] == pytest.approx(DETOUR * np.hypot(30, 290))
    assert got[1, 2] == pytest.approx(DETOUR * np.hypot(10, 295))


@pytest.mark.parametrize("bad", [[(0.0, 0.0), (np.nan, 4.0)], [(0.0, np.inf), (1.0, 1.0)], [(1.0, 2.0, 3.0)]])
def test_bad_coordinates_are_refused_naming_the_point(bad):
    with pytest.raises(InputError, match="point"):
        distance_matrix(BLOCK, np.array(bad))


# ---- the order ----------------------------------------------------------------------------

def _is_tour(order, n, start):
    return order[0] == start and sorted(order) == list(range(n))


def test_brute_force_finds_the_polygon_through_points_on_a_circle():
    angle = np.sort(np.random.default_rng(3).uniform(0, 2 * np.pi, 8))
    xy = np.c_[np.cos(angle), np.sin(angle)] * 500
    shuffle = np.random.default_rng(4).permutation(8)
    dist = _euclid(xy[shuffle])
    polygon = tour_length(_euclid(xy), range(8))
    order, length = brute_force(dist, start=2)
    assert _is_tour(order, 8, 2) and length == pytest.approx(polygon)
    assert tour(dist, start=2)[1] == pytest.approx(polygon)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_tour_is_the_optimum_on_small_instances(n, seed, data):
    xy = np.random.default_rng(seed).uniform(0, 2000, (n, 2))
    dist = _euclid(xy)
    start = data.draw(st.integers(0, n - 1))
    order, length = tour(dist, start=start)
    best = brute_force(dist, start=start)[1]
    assert _is_tour(order, n, start)
    assert length == pytest.approx(tour_length(dist, order))
    assert length <= best * (1 + 1e-6) + 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_tour_is_within_ten_percent_of_two_opt_on_30_points(seed):
    xy = np.random.default_rng(seed).uniform(0, 3000, (30, 2))
    dist = _euclid(xy)
    order, length = tour(dist)
    assert _is_tour(order, 30, 0)
    assert length <= 1.1 * two_opt(dist)[1]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 25), seed=st.integers(0, 2**32 - 1))
def test_two_opt_leaves_no_shortening_swap(n, seed):
    dist = _euclid(np.random.default_rng(seed).uniform(0, 1000, (n, 2)))
    order, length = two_opt(dist)
    assert _is_tour(order, n, 0) and length == pytest.approx(tour_length(dist, order))
    for i in range(n):
        for j in range(i + 2, n):
            swapped = order[:i + 1] + order[i + 1:j + 1][::-1] + order[j + 1:]
            assert tour_length(dist, swapped) >= length - 1e-6


def test_two_opt_improves_a_given_order_and_never_lengthens_it():
    dist = _euclid(np.random.default_rng(9).uniform(0, 1000, (15, 2)))
    given_order = list(range(15))
    order, length = two_opt(dist, given_order)
    assert _is_tour(order, 15, 0) and length <= tour_length(dist, given_order)


@pytest.mark.parametrize("bad, what", [
    (np.zeros((3, 4)), "square"),
    (np.zeros(5), "square"),
    (np.array([[0, 1], [np.nan, 0]]), "not finite"),
    (np.array([[0, -1], [1, 0]]), "negative"),
])
def test_bad_matrices_are_refused(bad, what):
    for solve in (tour, two_opt, brute_force):
        with pytest.raises(InputError, match=what):
            solve(bad)


def test_a_start_outside_the_matrix_is_refused():
    with pytest.raises(InputError, match="start 5"):
        tour(np.zeros((3, 3)), start=5)


# ---- the round ----------------------------------------------------------------------------

def test_a_round_follows_the_streets_and_returns_to_base():
    net = _grid(20, 20, 50.0, drop=0.1, seed=1)
    rng = np.random.default_rng(1)
    base = np.array([480.0, 470.0])
    stops = rng.uniform(100, 850, (12, 2))
    r = route(net, base, stops)
    dist = distance_matrix(net, np.r_[base[None], stops])
    closed = [0] + [s + 1 for s in r.order] + [0]
    assert sorted(r.order) == list(range(12))
    assert np.allclose(r.legs_m, dist[closed[:-1], closed[1:]])
    assert r.length_m == pytest.approx(r.legs_m.sum())
    assert not r.off_network.any()
    # Drawn along the streets: as long as the distance counted, through every stop, closed at base.
    assert r.geometry.length == pytest.approx(r.length_m, rel=1e-9)
    assert shapely.distance(r.geometry, shapely.points(stops)).max() < 1e-6
    assert np.allclose(shapely.get_coordinates(r.geometry)[[0, -1]], base)


def test_a_round_on_the_block_goes_the_short_way_round():
    r = route(BLOCK, A, [D])
    assert r.order == [0] and r.length_m == pytest.approx(2 * 170)
    assert r.geometry.length == pytest.approx(340)
    # The short way is by the west side (x = 0), never the east (x = 100).
    x = shapely.get_coordinates(r.geometry)[:, 0]
    assert x.min() == pytest.approx(0) and x.max() < 100


def test_a_single_stop_is_there_and_back():
    r = route(BLOCK, C, [B])
    assert r.order == [0] and np.allclose(r.legs_m, [135, 135]) and r.length_m == pytest.approx(270)


def test_no_stops_is_an_empty_round_of_length_zero():
    r = route(BLOCK, A, np.zeros((0, 2)))
    assert r.order == [] and r.length_m == 0.0 and len(r.legs_m) == 0 and r.geometry.is_empty


def test_a_stop_off_the_network_is_counted_detoured_and_drawn_straight():
    net = StreetNetwork.from_lines([shapely.LineString([(0, 0), (100, 0)]),
                                    shapely.LineString([(0, 300), (100, 300)])])
    r = route(net, (20.0, 5.0), [(60.0, 0.0), (50.0, 295.0)])
    assert r.off_network.sum() == 2  # into and out of the far stop
    assert r.length_m == pytest.approx(45 + DETOUR * (np.hypot(30, 290) + np.hypot(10, 295)))
    assert r.geometry.length < r.length_m


def test_a_stop_with_nan_coordinates_is_refused_naming_it():
    with pytest.raises(InputError, match="stop 1"):
        route(BLOCK, A, [B, (np.nan, 3.0)])
    with pytest.raises(InputError, match="base"):
        route(BLOCK, (np.nan, 0.0), [B])


def test_a_street_drawn_twice_counts_once_in_pair_distances():
    import shapely
    from gis.streets import StreetNetwork
    line = shapely.LineString([(0, 0), (100, 0)])
    net = StreetNetwork.from_lines([line, line])
    d = net.pair_distances([shapely.Point(0, 0)], [shapely.Point(100, 0)], (np.array([0]), np.array([0])), limit=1e4)
    assert d[0] == pytest.approx(100.0)
