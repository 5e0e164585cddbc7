"""What kind of fact a question asks for (a count, a date, a place, a person) and which sentences hold one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..keyword import fold
from ..text import CREDIT


@dataclass(frozen=True)
class QuestionKind:
    """A kind of fact: ``asks`` finds a question asking for one, ``holds`` a sentence stating one.

    Chinese patterns are written in simplified characters and matched on folded text (``keyword.fold``:
    traditional → simplified, full-width → ASCII, lower case); English ones that need capitals (names,
    places) are matched on the text as written.
    """

    name: str
    asks: re.Pattern
    holds: re.Pattern
    holds_cased: re.Pattern | None = None


_NUMERAL = r"[零〇一二两三四五六七八九十百千万亿]"
_MEASURE = (
    r"(?:个|位|家|名|次|项|届|座|种|条|人|岁|倍|只|头|匹|本|部|件|张|所|场|支|艘|架|辆|台|枚|颗|层|级|门|首|篇|册"
    r"|米|公里|千米|厘米|毫米|平方|公顷|亩|吨|公斤|千克|克|元|美元|块|年|天|日|小时|分钟|秒|周|月|世纪|度|%|％)"
)
_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_PLACE_SUFFIX = (
    r"[\u4e00-\u9fff](?:省|市|县|区|镇|乡|村|州|郡|岛|半岛|群岛|山|山脉|河|江|湖|海|湾|港|洲|城|街|路|峡|盆地|平原|高原"
    r"|沙漠|国|王国|共和国)"
)
_TITLE = (
    r"(?:先生|女士|夫人|教授|博士|院士|主席|总统|总理|首相|部长|秘书长|会长|院长|校长|主任|董事长|总裁|皇帝|国王|女王"
    r"|太子|公主|将军|元帅|大师|作家|诗人|画家|导演|演员|歌手|运动员|科学家|创始人|发明家)"
)

COUNT = QuestionKind(
    "count",
    asks=re.compile(
        r"多少|几" + _MEASURE + r"|几(?:十|百|千|万)|多大|多长|多久|多远|多高|多重|多深|多宽|多厚"
        r"|\bhow (?:many|much|long|old|far|big|large|tall|high|deep|wide)\b|\bnumber of\b|\bwhat (?:percentage|amount)\b"
    ),
    holds=re.compile(
        r"\d|"
        + _NUMERAL
        + r"+(?:多|余)?"
        + _MEASURE
        + r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
        r"|thousand|million|billion|dozen|half)\b"
    ),
)
DATE = QuestionKind(
    "date",
    asks=re.compile(
        r"什么时候|何时|哪一?年|哪一?天|哪个?月|几月|几号|几时|什么时间|什么年代|哪个?朝代|哪个?世纪|哪个?时期|何年"
        r"|\bwhen\b|\bwhat (?:year|date|day|time|month|century|decade|period)\b|\bin which (?:year|century)\b"
    ),
    holds=re.compile(
        r"\d{2,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*[日号]|"
        + _NUMERAL
        + r"{2,4}年|"
        + _NUMERAL
        + r"{1,3}月|世纪|年代|朝|时期"
        r"|\b1\d{3}\b|\b20\d{2}\b|\b\d{1,2}(?:st|nd|rd|th)\b|\bcentury\b|\bcenturies\b|\b" + _MONTHS + r"\b"
    ),
)
PLACE = QuestionKind(
    "place",
    asks=re.compile(
        r"哪里|哪儿|哪裡|在哪|何地|何处|什么地方|哪个?(?:国家|城市|省|地区|地方|州|县|岛|洲|国)"
        r"|\bwhere\b|\bwhat (?:country|city|state|region|place|continent|island)\b|\bin which (?:country|city|state)\b"
    ),
    holds=re.compile(_PLACE_SUFFIX + r"|位于|坐落|地处|[在于]\S{1,8}(?:举行|举办|召开|出生|建立|成立)"),
    holds_cased=re.compile(r"\b(?:in|at|near|from|to|of)\s+(?:the\s+)?[A-Z][a-z]+"),
)
PERSON = QuestionKind(
    "person",
    asks=re.compile(r"谁|哪位|何人|什么人|哪个人|\bwho\b|\bwhom\b|\bwhose\b"),
    holds=re.compile(
        _TITLE
        + r"|[\u4e00-\u9fff]·[\u4e00-\u9fff]|由\S{1,6}(?:提出|发明|创立|创办|建立|发现|担任|领导)"
        + "|"
        + CREDIT  # a photo's credit: 张茵 摄
    ),
    holds_cased=re.compile(r"(?<=\w\s)[A-Z][a-z]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+)+"),
)
# Tried in this order: "哪一年在哪里…" asks for the date first; "多少人" is a count, not a person.
KINDS = (DATE, COUNT, PLACE, PERSON)


def question_kind(question: str) -> QuestionKind | None:
    """The kind of fact ``question`` asks for (the first of ``KINDS`` it matches), None for other questions."""
    folded = fold(question)
    return next((kind for kind in KINDS if kind.asks.search(folded)), None)


def holds_kind(kind: QuestionKind, sentence: str, folded: str | None = None) -> bool:
    """Whether ``sentence`` states a fact of ``kind`` (``folded`` is its ``fold``, when the caller has it)."""
    folded = fold(sentence) if folded is None else folded
    if kind.holds.search(folded):
        return True
    return bool(kind.holds_cased and kind.holds_cased.search(sentence))


_HEADING_NUMBER = re.compile(r"^\s*(?:#+\s*|第\S{1,4}[章节条部篇]\s*|\d+(?:\.\d+)*\.?\s+|[一二三四五六七八九十]+、)")
_SENTENCE_END = re.compile(r"[。！？!?.…;；:：”」』\"')）]\s*$")
# A labelled field (【编辑:唐炜妮】, 来源：新华社, Author: Li) states a fact, however short: not a heading.
_FIELD = re.compile(r"^[\W_]*[^\W\d_][^\s:：]{0,7}\s*[:：]\s*[^\W_]")
_CREDITED = re.compile(CREDIT + "$")  # a caption with its photo's credit: 任贤良。郭天奇 摄


def is_heading(sentence: str) -> bool:
    """A line that titles what follows instead of saying something: numbered (``3.2 年假``, ``第三章 休假``,
    ``# Notes``), short and without a sentence's end (``未来展望``), or a news article's short subheading
    after a dash (``——不断扩大全球网络空间“朋友圈”。``). A labelled field (``【编辑:唐炜妮】``) or a credited caption is not
    one."""
    text = sentence.strip()
    if text.startswith(("——", "--")) and len(text) <= 40:
        return True
    if _SENTENCE_END.search(text) or _FIELD.match(text) or _CREDITED.search(text):
        return False
    return bool(_HEADING_NUMBER.match(text)) or len(text) <= 20
