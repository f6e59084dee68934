"""Plausible Chinese names for streets, communities, offices and people, drawn reproducibly."""
from __future__ import annotations

import numpy as np

STREET_STEMS = list("芙蓉韶山五一解放人民黄兴劳动湘江中山营盘八一蔡锷东风车站曙光树木岭雨花桂花白沙天心岳麓望城开福金星银杏梅溪枫林")
STREET_SUFFIX = {"primary": ["大道", "路"], "secondary": ["路", "中路", "东路", "西路"], "residential": ["街", "巷", "里", "横街"]}
COMMUNITY_SUFFIX = ["社区", "街道"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红辉鹏飞宇浩然志强建国文斌")


def _pairs(rng: np.random.Generator, n: int) -> list[str]:
    stems = np.array(STREET_STEMS)
    a = rng.integers(0, len(stems), n)
    b = rng.integers(0, len(stems), n)
    return [stems[i] + stems[j] for i, j in zip(a, b)]


def street_names(rng: np.random.Generator, kinds: np.ndarray) -> np.ndarray:
    """One name per street segment; segments of one road share it through the caller's grouping."""
    stems = _pairs(rng, len(kinds))
    out = np.empty(len(kinds), dtype=object)
    for kind, suffixes in STREET_SUFFIX.items():
        idx = np.flatnonzero(kinds == kind)
        pick = rng.integers(0, len(suffixes), len(idx))
        out[idx] = [stems[i] + suffixes[p] for i, p in zip(idx, pick)]
    return out


def community_names(rng: np.random.Generator, n: int) -> list[str]:
    return [s + COMMUNITY_SUFFIX[0] for s in _pairs(rng, n)]


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    s = rng.integers(0, len(SURNAMES), n)
    g1 = rng.integers(0, len(GIVEN), n)
    g2 = rng.integers(0, len(GIVEN), n)
    two = rng.random(n) < 0.6
    return [SURNAMES[a] + GIVEN[b] + (GIVEN[c] if t else "") for a, b, c, t in zip(s, g1, g2, two)]


def phones(rng: np.random.Generator, n: int) -> list[str]:
    prefix = np.array(["138", "139", "133", "153", "180", "189"])[rng.integers(0, 6, n)]
    return [f"{p}{d:08d}" for p, d in zip(prefix, rng.integers(0, 10**8, n))]
