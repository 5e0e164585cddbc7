"""Passages: short lines attached, long paragraphs windowed, citations stable."""

from assistant.records import Document, Paragraph
from assistant.text.documents import find_files, read_document
from assistant.text.passages import make_passages, split_sentences

from .conftest import SEEDS


def doc(*texts):
    paragraphs = tuple(Paragraph(i, t) for i, t in enumerate(texts, start=1))
    return Document("d.txt", "d.txt", "Title", paragraphs)


def test_short_lines_attach_to_the_next_paragraph_and_keep_numbers():
    passages = make_passages(
        doc("作者 钱晨菲", "这是一个足够长的正文段落，讲述了世界互联网大会的历史和成果。", "【编辑:唐炜妮】")
    )
    assert [(p.paragraph, p.first_paragraph, p.last_paragraph, p.part) for p in passages] == [(2, 1, 3, 0)]
    assert passages[0].citation == "¶1–3"
    assert "作者 钱晨菲" in passages[0].text and "唐炜妮" in passages[0].text


def test_long_paragraph_is_split_on_sentence_ends_into_parts():
    sentence = "这是一个用于测试的句子，包含了足够多的汉字内容。"
    passages = make_passages(doc("开头的段落内容足够长，不会被当作短行处理的文字。", sentence * 30), max_chars=200)
    parts = [p for p in passages if p.paragraph == 2]
    assert [p.part for p in parts] == list(range(1, len(parts) + 1)) and len(parts) >= 4
    assert all(p.text.endswith("。") and len(p.text) <= 200 for p in parts)
    assert parts[1].citation == "¶2, part 2"
    assert "".join(p.text for p in parts) == sentence * 30


def test_a_light_last_part_is_joined_to_the_part_before_it():
    """A paragraph split into parts whose last part would be a fragment (``</div>`` on a line of its own, as in a
    CMRC 2018 article) keeps that fragment with the part before it: alone it says nothing, and an encoder gives a
    short text a high cosine to any question. The earlier chunking (``join_tails=False``) left it a part of its own."""

    def sentences(*lengths):
        return "".join("测" * (n - 1) + "。" for n in lengths)

    opening = "开头的段落内容足够长，不会被当作短行处理的文字。"
    body = sentences(296, 200, 256, 76)  # the CMRC article's: parts close at 296, 200 and 332 characters
    for join, last in ((True, sentences(256, 76) + "</div>"), (False, "</div>")):
        parts = [p for p in make_passages(doc(opening, body, "</div>"), join_tails=join) if p.part]
        assert [p.text for p in parts][-1] == last and len(parts) == (3 if join else 4)
        assert "".join(p.text for p in parts) == body + "</div>"
    # a heavy last part stays a part of its own
    heavy = sentences(296, 200, 256, 76, 60)
    parts = [p for p in make_passages(doc(opening, heavy)) if p.part]
    assert parts[-1].text == sentences(60) and len(parts) == 4


def test_split_sentences_keeps_closing_quotes():
    assert split_sentences("他说:“好。”然后走了!Really? Yes.") == ["他说:“好。”", "然后走了!", "Really?", "Yes."]


def test_a_photo_credit_closes_its_caption_not_the_next_sentence():
    text = "各国嘉宾云集大会开幕式。张茵 摄中新社 记者:国际组织成立一年多,做了哪些工作?它拍摄了纪录片。"
    assert split_sentences(text) == [
        "各国嘉宾云集大会开幕式。张茵 摄",
        "中新社 记者:国际组织成立一年多,做了哪些工作?",
        "它拍摄了纪录片。",  # 拍摄, 摄影 …: no credit
    ]
    assert split_sentences("任贤良。郭天奇 摄任贤良,秘书长。") == ["任贤良。郭天奇 摄", "任贤良,秘书长。"]
    assert split_sentences("他们合影。 王刚 摄影展开幕。") == ["他们合影。", "王刚 摄影展开幕。"]


def test_english_sentences_end_at_a_full_stop_before_a_capital_but_not_after_abbreviations():
    text = "Sourdough needs a starter. Bake it at 230 degrees! Mr. Li drinks tea, e.g. Green tea. It costs 3.5 dollars."
    assert split_sentences(text) == [
        "Sourdough needs a starter.",
        "Bake it at 230 degrees!",
        "Mr. Li drinks tea, e.g. Green tea.",
        "It costs 3.5 dollars.",
    ]


def test_long_english_paragraph_is_split_at_sentence_ends():
    sentence = "The summit in Wuzhen gathered members from many countries and regions. "
    passages = make_passages(doc("An opening paragraph that is long enough to stand alone here.", sentence * 20))
    parts = [p for p in passages if p.paragraph == 2]
    assert len(parts) >= 3 and all(p.text.endswith("regions.") and len(p.text) <= 400 for p in parts)


def test_seed_passages_have_exact_citations():
    document = read_document(find_files(SEEDS)[0], root=SEEDS)
    passages = make_passages(document)
    citations = [p.citation for p in passages]
    assert citations[:6] == ["¶1", "¶2", "¶3–5", "¶6–7", "¶8", "¶9"]
    assert citations[-1] == "¶29–31"
    assert next(p for p in passages if p.paragraph == 15).text.startswith("任贤良:世界互联网大会国际组织始于中国")
    assert all(p.title == "乌镇峰会十年,网络空间命运共同体何以构建?" for p in passages)
