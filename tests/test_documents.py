"""Reading files: encodings, paragraphs, titles."""

import codecs

import pytest

from assistant.errors import CorpusError
from assistant.text.documents import (
    UndecodableFile,
    decode,
    find_files,
    guess_title,
    read_corpus,
    read_document,
    split_paragraphs,
)

from .conftest import SEEDS, write

CHINESE = "世界互联网大会国际组织于2022年7月12日在北京成立。"
TRADITIONAL = "世界網際網路大會國際組織於二零二二年在北京成立，總部設於中國。"


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        (CHINESE.encode("utf-8"), CHINESE, "utf-8"),
        (codecs.BOM_UTF8 + CHINESE.encode("utf-8"), CHINESE, "utf-8-sig"),
        (CHINESE.encode("gb18030"), CHINESE, "gb18030"),
        (TRADITIONAL.encode("big5"), TRADITIONAL, "big5"),
        (CHINESE.encode("utf-16"), CHINESE, "utf-16"),
    ],
)
def test_decode_detects_encodings(data, text, encoding):
    assert decode(data) == (text, encoding)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "binary"),
        (bytes(range(0x80, 0x100)) * 4, "re-save it as UTF-8"),
    ],
)
def test_undecodable_bytes_raise_a_clear_error(data, message):
    with pytest.raises(UndecodableFile, match=message):
        decode(data, name="bad.txt")


def test_one_paragraph_per_line_and_blank_line_blocks():
    assert split_paragraphs("第一段。\n第二段。\n第三段。") == ["第一段。", "第二段。", "第三段。"]
    wrapped = "This line is wrapped\nacross two lines.\n\nSecond paragraph here."
    assert split_paragraphs(wrapped) == ["This line is wrapped across two lines.", "Second paragraph here."]
    assert split_paragraphs("# Title\n\nBody text.", markdown=True) == ["# Title", "Body text."]
    assert split_paragraphs("中文硬换行的第一\n行接着第二行\n\n下一段") == ["中文硬换行的第一行接着第二行", "下一段"]


@pytest.mark.parametrize(
    "paragraphs, title",
    [
        (["# Heading one", "text"], "Heading one"),
        (["发布时间:2024", "中新社 杭州电 题:乌镇峰会十年,何以构建?", "正文。"], "乌镇峰会十年,何以构建?"),
        (["A short title", "Body."], "A short title"),
        (["This first line is a whole sentence that is far too long to be a document title at all."], "fallback"),
    ],
)
def test_guess_title(paragraphs, title):
    assert guess_title(paragraphs, "fallback") == title


def test_seed_document_is_read_as_a_reader_counts_it():
    doc = read_document(next(iter(find_files(SEEDS))), root=SEEDS)
    assert doc.title == "乌镇峰会十年,网络空间命运共同体何以构建?"
    assert len(doc.paragraphs) == 31
    assert doc.paragraphs[14].number == 15
    assert doc.paragraphs[14].text.startswith("任贤良:世界互联网大会国际组织始于中国")


def test_corpus_skips_undecodable_files_with_a_warning(tmp_path, caplog):
    write(tmp_path, "good.txt", "正常的中文文档内容。")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(tmp_path, "gbk.txt", "简体中文的文件内容。", encoding="gb18030")
    write(tmp_path, "big5.md", "# 標題\n\n繁體中文的文件內容。", encoding="big5")
    docs = {d.source: d for d in read_corpus(tmp_path)}
    assert sorted(docs) == ["big5.md", "gbk.txt", "good.txt"]
    assert docs["big5.md"].title == "標題"
    assert "image.txt" in caplog.text and "binary" in caplog.text


def test_missing_corpus_says_what_to_do(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        find_files(tmp_path / "nope")
