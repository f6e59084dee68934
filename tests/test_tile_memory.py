"""The tiles a server worker keeps in memory (api.services.tiles.TileMemory): bounded by bytes,
least recently used out first. (That a copy is only served while it is still the shared
cache's tile is tested through the server in test_http_tiles.)"""
from api.services.tiles import TileMemory


def test_it_keeps_at_most_its_bytes_and_drops_the_least_recently_used_first():
    m = TileMemory(8_000)
    for i in range(4):
        m.put(("boxes", None, 14, i, 0), f'"e{i}"', b"x" * 1_000)
    assert m.size == 4_000
    assert m.get(("boxes", None, 14, 0, 0)) == ('"e0"', b"x" * 1_000)    # 0 is now the most recent
    for i in range(4, 9):
        m.put(("boxes", None, 14, i, 0), f'"e{i}"', b"y" * 1_000)
    assert m.size <= 8_000
    assert m.get(("boxes", None, 14, 1, 0)) is None                      # the oldest untouched went
    assert m.get(("boxes", None, 14, 0, 0)) is not None                  # the one read since stayed


def test_a_new_copy_of_a_tile_replaces_the_old_and_a_huge_tile_is_not_kept():
    m = TileMemory(8_000)
    m.put(("boxes", None, 14, 0, 0), '"a"', b"a" * 500)
    m.put(("boxes", None, 14, 0, 0), '"b"', b"b" * 700)
    assert m.get(("boxes", None, 14, 0, 0)) == ('"b"', b"b" * 700) and m.size == 700
    m.put(("subscribers", None, 12, 0, 0), '"c"', b"c" * 1_001)       # over an eighth of the memory
    assert m.get(("subscribers", None, 12, 0, 0)) is None and m.size == 700


def test_no_memory_keeps_nothing():
    m = TileMemory(0)
    m.put(("boxes", None, 14, 0, 0), '"a"', b"a")
    assert m.get(("boxes", None, 14, 0, 0)) is None and m.size == 0
