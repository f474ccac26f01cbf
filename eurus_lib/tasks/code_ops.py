"""The building blocks of the function-writing problems: filters, maps and aggregates per domain.

    >>> DOMAINS["ints"].filters[0].phrase
    'greater than {k}'

A problem is a pipeline over one input: `filter` and `map` stages, then one aggregate that
returns the result. Each block carries its English phrase, its Python expression and the
values its parameters may take, so the statement, the reference solution and (by running
that solution) the unit tests come from the same source. The statement names every
intermediate list ("Let `picked` be the numbers in `nums` greater than 4."): a filter's
phrase is the condition, a map's phrase follows "Let `{dst}` ", an aggregate's follows
"Return " and starts with `{src}`. Keep at most 6 fixed words after the last `{src}` of a
phrase: names of arguments and intermediates differ between training and held-out problems,
and with short runs of fixed words between them no 8-gram can repeat across the split
(paper App. A.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Op:
    tag: str  # a word for the function name
    phrase: str  # English, with {param} slots and {src} for the list it reads
    expr: str  # Python: a predicate or mapped value on the loop variable, or an aggregate of {src}
    params: dict = field(default_factory=dict)  # param -> allowed values
    identity: bool = False  # an aggregate that returns its input as is: needs at least one stage


@dataclass(frozen=True)
class Domain:
    noun: str  # what a filter keeps: "the {noun} in `{src}` ..."
    loop: str  # the comprehension's target: "x", "w", "key, value"
    intro: str  # how the argument is described; {arg} is its name
    source: str  # code turning {arg} into the list {src}; "" when {arg} is one already
    source_phrase: str  # the same in words
    filters: list
    maps: list
    aggs: list
    maps_last: bool = False  # maps change what filters look at (case, tuples): keep them after filters


_R = range
INT_FILTERS = [
    Op("big", "greater than {k}", "x > {k}", {"k": _R(-3, 10)}),
    Op("small", "less than {k}", "x < {k}", {"k": _R(-2, 12)}),
    Op("multiples", "divisible by {k}", "x % {k} == 0", {"k": [2, 3, 4, 5, 7]}),
    Op("nonmultiples", "not divisible by {k}", "x % {k} != 0", {"k": [2, 3, 4, 5]}),
    Op("evens", "that are even", "x % 2 == 0"),
    Op("odds", "that are odd", "x % 2 == 1"),
    Op("banded", "between {a} and {b} inclusive", "{a} <= x <= {b}", {"a": _R(-4, 5), "b": _R(6, 16)}),
    Op("ending", "whose last digit is {d}", "abs(x) % 10 == {d}", {"d": _R(0, 10)}),
]
INT_MAPS = [
    Op("squared", "be the squares of `{src}`", "x * x"),
    Op("scaled", "be `{src}` with every number multiplied by {k}", "x * {k}", {"k": _R(2, 7)}),
    Op("shifted", "be `{src}` with {k} added to every number", "x + {k}", {"k": _R(1, 10)}),
    Op("lowered", "be `{src}` with {k} subtracted from every number", "x - {k}", {"k": _R(1, 10)}),
    Op("remainders", "be the remainders of `{src}` modulo {k}", "x % {k}", {"k": _R(2, 8)}),
    Op("digitsums", "be the digit sums of `{src}`, ignoring signs", "sum(int(d) for d in str(abs(x)))"),
    Op("absolute", "be the absolute values of `{src}`", "abs(x)"),
    Op("halved", "be the halves of `{src}`, rounded down", "x // 2"),
]
INT_AGGS = [
    Op("total", "`{src}`'s sum", "sum({src})"),
    Op("count", "`{src}`'s length", "len({src})"),
    Op("largest", "`{src}`'s largest number, or {d} if empty", "max({src}, default={d})", {"d": [0, -1]}),
    Op("smallest", "`{src}`'s smallest number, or {d} if empty", "min({src}, default={d})", {"d": [0, -1]}),
    Op("listed", "`{src}`", "{src}", identity=True),
    Op("descending", "`{src}` sorted from largest to smallest", "sorted({src}, reverse=True)"),
    Op("distinct", "`{src}` without repeats, keeping first occurrences", "list(dict.fromkeys({src}))"),
    Op("spread", "`{src}`'s largest minus smallest (0 if empty)", "max({src}) - min({src}) if {src} else 0"),
    Op("product", "`{src}`'s product (1 if empty)", "math.prod({src})"),
]

WORD_FILTERS = [
    Op("long", "longer than {k} letters", "len(w) > {k}", {"k": _R(2, 6)}),
    Op("short", "shorter than {k} letters", "len(w) < {k}", {"k": _R(3, 7)}),
    Op("vowelled", "that start with a vowel", "w[0] in 'aeiou'"),
    Op("consonant", "that start with a consonant", "w[0] not in 'aeiou'"),
    Op("containing", "that contain the letter '{c}'", "'{c}' in w", {"c": list("aeiornt")}),
    Op("evenlength", "with an even number of letters", "len(w) % 2 == 0"),
    Op("ending", "that end with the letter '{c}'", "w.endswith('{c}')", {"c": list("enrtk")}),
]
WORD_MAPS = [
    Op("reversed", "be `{src}` with every word reversed", "w[::-1]"),
    Op("shouted", "be `{src}` with every word in capital letters", "w.upper()"),
    Op("capitalized", "be `{src}` with every word capitalized", "w.capitalize()"),
    Op("rotated", "be `{src}` with each word rotated left once", "w[1:] + w[:1]"),
    Op("devowelled", "be `{src}` with every word's vowels removed", "''.join(ch for ch in w if ch not in 'aeiou')"),
    Op("clipped", "be `{src}` with words cut to {k} letters", "w[:{k}]", {"k": _R(2, 5)}),
    Op("stretched", "be `{src}` with every word's last letter doubled", "w + w[-1:]"),
]
WORD_AGGS = [
    Op("joined", "`{src}` joined by single spaces", "' '.join({src})"),
    Op("dashed", "`{src}` joined by '{sep}'", "'{sep}'.join({src})", {"sep": ["-", ",", "+", "/"]}),
    Op("count", "`{src}`'s length", "len({src})"),
    Op("letters", "`{src}`'s total number of letters", "sum(len(w) for w in {src})"),
    Op("longest", "`{src}`'s first longest word ('' if empty)", "max({src}, key=len, default='')"),
    Op("alphabetized", "`{src}` in alphabetical order", "sorted({src})"),
    Op("initials", "`{src}`'s first letters joined together", "''.join(w[:1] for w in {src})"),
]

DICT_FILTERS = [
    Op("plenty", "whose value is at least {k}", "value >= {k}", {"k": _R(1, 9)}),
    Op("scarce", "whose value is below {k}", "value < {k}", {"k": _R(2, 10)}),
    Op("lettered", "whose key starts with '{c}'", "key.startswith('{c}')", {"c": list("aplmgcq")}),
    Op("longkey", "whose key has over {k} letters", "len(key) > {k}", {"k": _R(4, 7)}),
    Op("evenvalue", "whose value is even", "value % 2 == 0"),
]
DICT_MAPS = [
    Op("doubled", "be `{src}` with every value doubled", "(key, value * 2)"),
    Op("topped", "be `{src}` with {k} added to every value", "(key, value + {k})", {"k": _R(1, 10)}),
    Op("squared", "be `{src}` with every value squared", "(key, value * value)"),
    Op("shouted", "be `{src}` with every key in capital letters", "(key.upper(), value)"),
]
DICT_AGGS = [
    Op("kept", "`{src}` as a dictionary", "dict({src})"),
    Op("keys", "`{src}`'s keys, sorted alphabetically", "sorted(key for key, value in {src})"),
    Op("total", "`{src}`'s values, summed", "sum(value for key, value in {src})"),
    Op("best", "`{src}`'s keys with the top value, sorted",
       "sorted(key for key, value in {src} if value == max(v for k, v in {src}))"),
    Op("ranked", "`{src}`'s keys by descending value, then alphabetically",
       "[key for key, value in sorted({src}, key=lambda kv: (-kv[1], kv[0]))]"),
    Op("count", "`{src}`'s length", "len({src})"),
]

DOMAINS = {
    "ints": Domain("numbers", "x", "`{arg}` is a list of integers.", "", "", INT_FILTERS, INT_MAPS, INT_AGGS),
    "range": Domain("numbers", "x", "`{arg}` is a whole number.", "{src} = list(range(1, {arg} + 1))",
                    "Let `{src}` be the numbers 1, 2, ..., `{arg}`.", INT_FILTERS, INT_MAPS, INT_AGGS[:-1]),
    "words": Domain("words", "w", "`{arg}` is a string of lower-case words.", "{src} = {arg}.split()",
                    "Let `{src}` be the list of words in `{arg}`, split at spaces.",
                    WORD_FILTERS, WORD_MAPS, WORD_AGGS, maps_last=True),
    "dict": Domain("pairs", "key, value", "`{arg}` maps fruit names to whole numbers.", "{src} = list({arg}.items())",
                   "Let `{src}` be the (key, value) pairs of `{arg}`.",
                   DICT_FILTERS, DICT_MAPS, DICT_AGGS, maps_last=True),
}
