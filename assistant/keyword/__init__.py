"""Stage 3a: the keyword side: words (jieba, folding, stems), the cross-language bridge, BM25 over segments."""

from .bm25 import KeywordIndex, top_k
from .lexicon import load_dictionary
from .segments import count_terms, plan_segments, stack_counts
from .terms import fold, stem, to_simplified, tokenize, tokenize_many, traditional_share

__all__ = [
    "KeywordIndex",
    "count_terms",
    "fold",
    "load_dictionary",
    "plan_segments",
    "stack_counts",
    "stem",
    "to_simplified",
    "tokenize",
    "tokenize_many",
    "top_k",
    "traditional_share",
]
