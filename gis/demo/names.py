"""Plausible Chinese names (roads, communities, villages, offices, people, phones), drawn
reproducibly from short lists of stems and syllables, vectorised over numpy arrays."""
from __future__ import annotations

import numpy as np
import pandas as pd

# Stems of Changsha's real arterials and districts, for the roads a planner reads first.
FAMOUS = np.array(("芙蓉 韶山 五一 解放 人民 黄兴 劳动 湘江 中山 蔡锷 八一 东风 车站 万家丽 远大 湘府 "
                   "麓山 枫林 银盆 潇湘 书院 城南 营盘 雨花 曙光 晚报 桐梓坡 金星 岳麓 开福 天心 星沙 "
                   "浏阳河 湘雅 伍家岭 洪山 三一 新民 建湘 迎宾 省府 南湖 木莲 井湾 洞井 红旗 先锋 北辰 "
                   "梅溪湖 含浦 岳华 学士 洋湖 坪塘 暮云 黎托 高桥 月湖 新河 四方坪 湘春 坡子 太平 "
                   "识字岭 东塘 侯家塘 袁家岭 马王堆 火星 长沙 望城 岳阳 韶山 桂花 清水塘").split())
FAMOUS = np.array(list(dict.fromkeys(FAMOUS)))  # keep order, drop repeats
# Two syllables make a place-like word (桂园, 梅岭, 松坡, 金塘): lanes, villages, communities.
FIRST = np.array(list("桂梅松竹兰菊杨柳枫樟桃李荷金银文仁德义和平安康福寿兴隆昌盛荣华新青白红紫丰永长清明太天万宝凤龙鹤雁"))
SECOND = np.array(list("园林塘湖山坡岭坪冲湾洲桥井港田苑庄泉溪亭台阁门"))
LANE_SUFFIX = np.array(["街", "巷", "里", "路", "横街", "坡"])
ORDINAL = np.array(list("一二三四五六七八九十"))
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"))
GIVEN = np.array(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红辉鹏飞宇浩然志建国文斌湘涵"))


def _cat(*parts) -> np.ndarray:
    """Element-wise string concatenation of arrays (or scalars) as an object array."""
    out = pd.Series([""] * max(np.size(p) for p in parts), dtype=object)
    for p in parts:
        out = out + (pd.Series(np.asarray(p, dtype=object)) if np.ndim(p) else str(p))
    return out.to_numpy(dtype=object)


def syllable_words(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct two-syllable words while the pool lasts (then repeats, as towns do)."""
    pool = _cat(np.repeat(FIRST, len(SECOND)), np.tile(SECOND, len(FIRST)))
    pick = rng.permutation(len(pool))
    return pool[np.resize(pick, n)]


def famous_stems(rng: np.random.Generator, n: int) -> np.ndarray:
    """n stems for arterials: the famous ones first (shuffled), then syllable words."""
    stems = np.r_[FAMOUS[rng.permutation(len(FAMOUS))], syllable_words(rng, max(0, n - len(FAMOUS)))]
    return stems[:n]


def lane_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Residential lanes: 桂园巷, 梅岭里, 松坡横街; each word with one suffix only."""
    words = syllable_words(rng, n)
    return _cat(words, LANE_SUFFIX[rng.integers(0, len(LANE_SUFFIX), n)])


def ordinal(k: np.ndarray) -> np.ndarray:
    """1 -> 一, ..., 10 -> 十, 11 -> 十一 (lanes and groups rarely go beyond)."""
    k = np.asarray(k)
    tens = np.where(k >= 10, "十", "")
    ones = np.where(k % 10 == 0, "", ORDINAL[(k % 10 - 1) % 10])
    return _cat(np.where(k >= 20, ORDINAL[np.minimum(k // 10, 10) - 1], ""), tens, ones)


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    s, g1, g2 = (rng.integers(0, len(a), n) for a in (SURNAMES, GIVEN, GIVEN))
    two = rng.random(n) < 0.6
    return _cat(SURNAMES[s], GIVEN[g1], np.where(two, GIVEN[g2], ""))


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = np.array(["138", "139", "133", "153", "177", "180", "189", "199"])[rng.integers(0, 8, n)]
    return _cat(prefix, pd.Series(rng.integers(0, 10**8, n)).map("{:08d}".format).to_numpy())
