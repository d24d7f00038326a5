"""Words for the full-text index and for queries, in English and Chinese.

Full-text engines split on spaces and punctuation, which leaves a Chinese sentence as one
"word". Runs of CJK characters are therefore segmented by jieba (search mode, which also emits
the shorter words inside long ones, so "知识库" is found by "知识"); everything else is left to
the engine's tokenizer, which lower-cases and stems English."""

from __future__ import annotations

import logging
import re
import threading

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_jieba = None
_jieba_lock = threading.Lock()

# Words that only make a question a question: matching them finds everything and ranks nothing.
STOPWORDS = frozenset(
    """
a an and are as at be been but by can could did do does for from had has have how i if in into is
it its me my no not of on or our so than that the their them then there these they this to was
we were what when where which who whom why will with would you your about tell please give
的 了 是 在 和 与 或 吗 呢 吧 啊 么 什么 怎么 怎样 如何 哪 哪些 哪个 为什么 多少 谁 我 你 他 她 它 我们 你们
他们 这 那 这个 那个 有 没有 请 请问 一下 一个 吗 就 都 也 还 又 及 等
""".split()
)


def _segmenter():
    """jieba, loaded on the first text with Chinese in it (its dictionary adds 80 MB to a
    process and takes a second to load: an English-only server never pays it)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def _segment_cjk(run: str) -> list[str]:
    return [w for w in _segmenter().cut_for_search(run) if w.strip()]


def index_text(text: str) -> str:
    """The text as the index should see it: CJK runs replaced by their space-separated words."""
    if not _CJK_RUN.search(text):
        return text
    return _CJK_RUN.sub(lambda m: " " + " ".join(_segment_cjk(m.group())) + " ", text)


def query_words(question: str, limit: int = 32) -> list[str]:
    """The distinct words of a question worth searching for, in order, lower-cased."""
    words: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(index_text(question.lower())):
        if word not in seen and word not in STOPWORDS:
            seen.add(word)
            words.append(word)
    return words[:limit]
