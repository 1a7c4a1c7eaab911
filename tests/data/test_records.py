"""Labelled records (spacy_rnn.data.records): checks with file, line and field errors, JSONL and CSV/TSV."""
import csv
import io
import json
import warnings

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_rnn.data import (
    CorpusError,
    CorpusReport,
    CorpusWarning,
    LabelledCorpus,
    Record,
    clean_html_breaks,
    read_jsonl_records,
    read_records,
    read_table_records,
    records_to_docs,
)
from corpus_files import error_of, jsonl, write_lines


# ---------------------------------------------------------------------------
# HTML line breaks


@pytest.mark.parametrize(
    "text,expected",
    [
        ("one.<br /><br />Two", "one. Two"),
        ("one <br/> two<br>three", "one two three"),
        ("one<BR />two <Br/>  <br>\n three", "one two three"),
        ("<br /><br />starts and ends<br />", "starts and ends"),
        ("no breaks <b>bold</b> a<b", "no breaks <b>bold</b> a<b"),
        ("<br />", ""),
    ],
)
def test_clean_html_breaks(text, expected):
    assert clean_html_breaks(text) == expected
    assert "\n" not in clean_html_breaks(text.replace("\n", " "))


def test_clean_html_option(tmp_path):
    path = jsonl(tmp_path / "imdb.jsonl", {"text": "Great.<br /><br />Loved it", "label": "pos"})
    assert [r.text for r in read_jsonl_records(path)] == ["Great. Loved it"]
    assert [r.text for r in read_jsonl_records(path, clean_html=False)] == ["Great.<br /><br />Loved it"]


def test_text_of_only_breaks_is_empty(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "<br /><br />", "label": "pos"})
    err = error_of(read_jsonl_records(path))
    assert "empty after removing HTML line breaks" in str(err)


# ---------------------------------------------------------------------------
# JSONL: valid input


def test_jsonl_single_label(tmp_path):
    path = jsonl(
        tmp_path / "a.jsonl", {"text": "good", "label": "pos", "id": 7}, "", "  ", {"text": "bad", "label": "neg"}
    )
    report = CorpusReport()
    records = list(read_jsonl_records(path, report=report))
    assert records == [Record("good", ["pos"], 1), Record("bad", ["neg"], 4)]
    assert report.n_records == 2 and report.skipped == [] and report.multi_label is False
    assert report.path == str(path)


def test_jsonl_multi_label_and_custom_keys(tmp_path):
    path = jsonl(
        tmp_path / "a.jsonl",
        {"body": "funny and sad", "tags": ["funny", "sad", "funny"]},
        {"body": "just funny", "tags": ["funny"]},
    )
    report = CorpusReport()
    records = list(read_jsonl_records(path, text_key="body", labels_key="tags", report=report))
    assert [r.labels for r in records] == [["funny", "sad"], ["funny"]]
    assert report.multi_label is True


def test_jsonl_integer_labels_become_strings(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "label": 0}, {"text": "b", "label": 1})
    assert [r.labels for r in read_jsonl_records(path)] == [["0"], ["1"]]


def test_utf8_bom_and_crlf(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "caf\xc3\xa9", "label": "x"}\r\n{"text": "b", "label": "y"}\r\n')
    assert [(r.text, r.line) for r in read_jsonl_records(path)] == [("café", 1), ("b", 2)]


def test_reads_a_binary_stream():
    stream = io.BytesIO(b'{"text": "a", "label": "x"}\n')
    assert list(read_jsonl_records(stream)) == [Record("a", ["x"], 1)]


def test_allow_empty_labels(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "labels": []}, {"text": "b", "labels": ["x"]})
    err = error_of(read_jsonl_records(path))
    assert "line 1" in str(err) and "empty" in str(err) and "allow_empty_labels" in str(err)
    assert [r.labels for r in read_jsonl_records(path, allow_empty_labels=True)] == [[], ["x"]]


# ---------------------------------------------------------------------------
# JSONL: every kind of bad input names the file and the line and says what to do


BAD_JSONL = [
    # (line 2 content, words the message must contain)
    ('{"text": "a", "label": ', ["invalid JSON", "JSON object"]),
    ('["text", "label"]', ["JSON array, not an object"]),
    ('"just a string"', ["JSON string, not an object"]),
    ('{"label": "pos"}', ["no text field 'text'", "text_key", "'label'"]),
    ('{"text": "", "label": "pos"}', ["text field 'text' is empty"]),
    ('{"text": "   ", "label": "pos"}', ["text field 'text' is empty"]),
    ('{"text": null, "label": "pos"}', ["'text' is null, not a string"]),
    ('{"text": 3, "label": "pos"}', ["'text' is a number, not a string"]),
    ('{"text": "a"}', ["no label field 'label'", "'labels'"]),
    ('{"text": "a", "label": ""}', ["label field 'label' is empty"]),
    ('{"text": "a", "label": null}', ["'label' holds null, not a string"]),
    ('{"text": "a", "label": ["pos"]}', ["'label' holds a list", "labels"]),
    ('{"text": "a", "label": "pos", "labels": ["pos"]}', ["both 'label' and 'labels'"]),
    ('{"text": "a", "labels": ["pos"]}', ["mixed single-label and multi-label", "line 1"]),
]


@pytest.mark.parametrize("line,words", BAD_JSONL)
def test_bad_jsonl_record(tmp_path, line, words):
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps({"text": "ok", "label": "pos"}), line])
    err = error_of(read_jsonl_records(path))
    message = str(err)
    assert isinstance(err, ValueError)
    assert message.startswith(f"{path}, line 2: ")
    assert err.path == str(path) and err.line == 2
    for word in words:
        assert word in message
    # and it says what to do, including the opt-in to skip
    assert "--skip-invalid" in message


def test_mixed_multi_then_single(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "labels": ["x"]}, {"text": "b", "label": "x"})
    err = error_of(read_jsonl_records(path))
    assert err.line == 2 and "mixed single-label and multi-label" in str(err) and err.field == "label"


def test_unknown_label_with_label_list(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "label": "pos"}, {"text": "b", "label": "neutral"})
    err = error_of(read_jsonl_records(path, labels=["neg", "pos"]))
    assert err.line == 2 and err.field == "label"
    assert "unknown label 'neutral'" in str(err) and "'neg', 'pos'" in str(err) and "--labels" in str(err)
    # without a label list every label is fine
    assert len(list(read_jsonl_records(path))) == 2


def test_unknown_label_in_a_label_list(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "labels": ["pos", "weird"]})
    err = error_of(read_jsonl_records(path, labels=["neg", "pos"]))
    assert "unknown label 'weird'" in str(err) and "'labels'" in str(err)


@pytest.mark.parametrize("labels", [[], ["a", "a"], ["a", ""], "a,b"])
def test_bad_label_list_argument(tmp_path, labels):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "label": "a"})
    with pytest.raises(CorpusError):
        list(read_jsonl_records(path, labels=labels))


def test_invalid_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = b'{"text": "a", "label": "x"}\n'
    path.write_bytes(good + b'{"text": "caf\xe9", "label": "x"}\n')
    err = error_of(read_jsonl_records(path))
    message = str(err)
    assert message.startswith(f"{path}, line 2: not valid UTF-8")
    assert "0xe9" in message and "byte 14 of the line" in message
    assert f"byte offset {len(good) + 13} in the file" in message
    assert "iconv" in message


def test_missing_file_and_directory(tmp_path):
    err = error_of(read_jsonl_records(tmp_path / "nope.jsonl"))
    assert "nope.jsonl" in str(err) and "no such file" in str(err)
    err = error_of(read_jsonl_records(tmp_path))
    assert "directory" in str(err)


# ---------------------------------------------------------------------------
# skip_invalid: an explicit opt-in, and every skipped record is reported


def test_skip_invalid_reports_every_skipped_record(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"text": "a", "label": "pos"}\n'
        b"{broken\n"
        b'{"text": "", "label": "pos"}\n'
        b'{"text": "caf\xe9", "label": "pos"}\n'
        b'{"text": "b", "labels": ["pos"]}\n'
        b'{"text": "c", "label": "other"}\n'
        b'{"text": "d", "label": "neg"}\n'
    )
    report = CorpusReport()
    records = list(read_jsonl_records(path, labels=["neg", "pos"], skip_invalid=True, report=report))
    assert [(r.text, r.line) for r in records] == [("a", 1), ("d", 7)]
    assert report.n_records == 2 and report.n_skipped == 5
    assert [s.line for s in report.skipped] == [2, 3, 4, 5, 6]
    reasons = [s.reason for s in report.skipped]
    assert "invalid JSON" in reasons[0]
    assert "empty" in reasons[1]
    assert "UTF-8" in reasons[2]
    assert "mixed" in reasons[3]
    assert "unknown label 'other'" in reasons[4]
    summary = report.summary()
    assert "skipped 5 invalid record(s), kept 2" in summary and "line 4: not valid UTF-8" in summary


def test_skip_invalid_without_report_warns(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "label": "x"}, {"text": ""})
    with pytest.warns(CorpusWarning, match=r"(?s)skipped 1 invalid record.*line 2: the text field"):
        assert len(list(read_jsonl_records(path, skip_invalid=True))) == 1


def test_no_warning_when_nothing_skipped(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", {"text": "a", "label": "x"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(read_jsonl_records(path, skip_invalid=True))) == 1


# ---------------------------------------------------------------------------
# CSV / TSV


def test_csv_records_with_quotes_and_newlines(tmp_path):
    path = tmp_path / "imdb.csv"
    with path.open("w", encoding="utf8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment", "id"])
        writer.writerow(["Good, very good.<br /><br />Yes", "positive", "1"])
        writer.writerow(['Two\nlines, "quoted"', "negative", "2"])
        writer.writerow(["third", "positive", "3"])
    records = list(read_table_records(path, text_column="review", label_column="sentiment"))
    assert records == [
        Record("Good, very good. Yes", ["positive"], 2),
        Record('Two\nlines, "quoted"', ["negative"], 3),
        Record("third", ["positive"], 5),
    ]


def test_tsv_delimiter_from_suffix(tmp_path):
    path = write_lines(tmp_path / "a.tsv", ["text\tlabel", "a, b\tpos", "c\tneg"])
    assert [r.text for r in read_table_records(path)] == ["a, b", "c"]
    assert [r.text for r in read_records(path)] == ["a, b", "c"]


def test_table_label_separator_multi_label(tmp_path):
    path = write_lines(tmp_path / "a.csv", ["text,label", "a,x|y", "b,y"])
    report = CorpusReport()
    records = list(read_table_records(path, label_separator="|", report=report))
    assert [r.labels for r in records] == [["x", "y"], ["y"]] and report.multi_label is True


def test_table_unknown_suffix(tmp_path):
    path = write_lines(tmp_path / "a.txt", ["text,label", "a,x"])
    with pytest.raises(CorpusError, match="delimiter"):
        read_table_records(path)
    assert [r.text for r in read_table_records(path, delimiter=",")] == ["a"]


@pytest.mark.parametrize(
    "lines,line,words",
    [
        (["review,label", "a,x"], 1, ["no column 'text' in the header", "'review', 'label'", "--text-column"]),
        (["text,sentiment", "a,x"], 1, ["no column 'label'", "--label-column"]),
        (["text,label,text", "a,x,b"], 1, ["more than once"]),
        (["text,label", "a,x", "b,x,extra"], 3, ["expected 2 columns", "found 3"]),
        (["text,label", "a,x", "b"], 3, ["expected 2 columns", "found 1"]),
        (["text,label", 'a"b",x', '"a"b,x'], 3, ["malformed CSV row"]),
        (["text,label", "a,x", '"never closed,x', "c,y"], 3, ["malformed CSV row (lines 3-4)"]),
        (["text,label", ",x"], 2, ["text field 'text' is empty"]),
        (["text,label", "a,"], 2, ["label field 'label' is empty"]),
    ],
)
def test_bad_csv(tmp_path, lines, line, words):
    path = write_lines(tmp_path / "bad.csv", lines)
    err = error_of(read_table_records(path))
    assert str(err).startswith(f"{path}, line {line}: ")
    for word in words:
        assert word in str(err)


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "empty" in str(error_of(read_table_records(path)))


def test_csv_skip_invalid_rows(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'text,label\na,x\nb,x,extra\n"caf\xe9\nsecond line",x\n"d",y\n')
    report = CorpusReport()
    records = list(read_table_records(path, skip_invalid=True, report=report))
    assert [(r.text, r.line) for r in records] == [("a", 2), ("d", 6)]
    assert [(s.line, s.reason.split(":")[0]) for s in report.skipped] == [
        (3, "expected 2 columns, as in the header on line 1, but found 3"),
        (4, "not valid UTF-8"),
    ]


def test_csv_header_errors_are_not_skipped(tmp_path):
    path = write_lines(tmp_path / "a.csv", ["body,label", "a,x"])
    with pytest.raises(CorpusError, match="no column 'text'"):
        list(read_table_records(path, skip_invalid=True))


def test_read_records_unknown_format(tmp_path):
    path = write_lines(tmp_path / "a.xml", ["<a/>"])
    with pytest.raises(CorpusError, match=r"\.jsonl, \.csv or \.tsv"):
        read_records(path)


# ---------------------------------------------------------------------------
# Round trips (hypothesis)

TEXTS = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and "<" not in t)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXTS, min_size=1, max_size=6))
def test_jsonl_round_trip(tmp_path, texts):
    path = jsonl(tmp_path / "rt.jsonl", *[{"text": t, "label": str(i % 2)} for i, t in enumerate(texts)])
    records = list(read_jsonl_records(path, clean_html=False))
    assert [r.text for r in records] == texts
    assert [r.line for r in records] == list(range(1, len(texts) + 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), tsv=st.booleans())
def test_quoted_table_round_trip(tmp_path, texts, tsv):
    """CSV, and TSV read as "tsv-quoted": what Python's csv writer writes comes back."""
    path = tmp_path / ("rt.tsv" if tsv else "rt.csv")
    with path.open("w", encoding="utf8", newline="") as f:
        writer = csv.writer(f, delimiter="\t" if tsv else ",")
        writer.writerow(["text", "label"])
        for i, text in enumerate(texts):
            writer.writerow([text, f"label {i % 3}"])
    records = list(read_table_records(path, clean_html=False, quoted=True))
    assert [r.text for r in records] == texts
    assert [r.labels for r in records] == [[f"label {i % 3}"] for i in range(len(texts))]
    kind = "tsv-quoted" if tsv else "csv"
    assert [r.text for r in read_records(path, format=kind, clean_html=False)] == texts


TSV_TEXTS = TEXTS.filter(lambda t: not any(c in t for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
                         and t == t.strip())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TSV_TEXTS, min_size=1, max_size=6))
def test_tsv_round_trip_keeps_quotes_as_characters(tmp_path, texts):
    """Plain TSV (issue 34, case 6): fields joined by tabs come back as written, quotes and all."""
    path = tmp_path / "rt.tsv"
    path.write_text("text\tlabel\n" + "".join(f"{t}\tlabel {i % 3}\n" for i, t in enumerate(texts)),
                    encoding="utf8")
    assert [r.text for r in read_table_records(path, clean_html=False)] == texts


# ---------------------------------------------------------------------------
# Issue 16: nothing crashes, every bad input gets a clear error


def test_issue16_json_error_column_and_article(tmp_path):
    """Case 7: the column of an error at the end of a line, and "an array"."""
    path = write_lines(
        tmp_path / "a.jsonl",
        ['{"text": "a", "label": "b"', '{"text": "a" "label": "b"}', '{"text": ["a"], "label": "b"}'],
    )
    report = CorpusReport()
    assert list(read_jsonl_records(path, skip_invalid=True, report=report)) == []
    reasons = [skipped.reason for skipped in report.skipped]
    assert reasons == [
        "invalid JSON: Expecting ',' delimiter at the end of the line (column 27)",
        "invalid JSON: Expecting ',' delimiter at column 14",
        "the text field 'text' is an array, not a string",
    ]
    path = jsonl(tmp_path / "b.jsonl", {"text": "a", "label": {"x": 1}}, {"text": "a", "labels": None})
    report = CorpusReport()
    list(read_jsonl_records(path, skip_invalid=True, report=report))
    assert [s.reason for s in report.skipped] == [
        "the label field 'label' holds an object, not a string",
        "the labels field 'labels' holds null, not a list",
    ]


@pytest.mark.parametrize("line", ["1" * 5000, "[" * 100_000])
def test_issue16_json_that_python_cannot_read_is_a_record_error(tmp_path, line):
    """An int of over 4,300 digits or very deep nesting: a JSON error, not a traceback."""
    path = write_lines(tmp_path / "a.jsonl", ['{"text": "a", "label": "b"}', line])
    err = error_of(read_jsonl_records(path))
    assert err.line == 2 and "cannot read the JSON" in str(err)
    assert len(list(read_jsonl_records(path, skip_invalid=True, report=CorpusReport()))) == 1


def test_issue16_lone_surrogate_is_an_invalid_record(tmp_path):
    """Case 2: a lone surrogate from a JSON escape names line, field and character."""
    path = write_lines(
        tmp_path / "a.jsonl",
        ['{"text": "ok", "label": "pos"}', '{"text": "x\\ud800y", "label": "pos"}', '{"text": "b", "label": "\\udfff"}'],
    )
    err = error_of(read_jsonl_records(path))
    assert err.line == 2 and err.field == "text"
    assert "lone surrogate U+D800" in str(err) and "character 2" in str(err) and "--skip-invalid" in str(err)
    report = CorpusReport()
    assert [r.text for r in read_jsonl_records(path, skip_invalid=True, report=report)] == ["ok"]
    assert [(s.line, s.error.field) for s in report.skipped] == [(2, "text"), (3, "label")]
    # a surrogate pair is one character, and fine
    path = write_lines(tmp_path / "b.jsonl", ['{"text": "\\ud83d\\ude00", "label": "pos"}'])
    assert [r.text for r in read_jsonl_records(path)] == ["\U0001F600"]


def test_issue16_max_length_in_readers_and_docs(tmp_path):
    """Case 1 in the Python API: a text longer than max_length / nlp.max_length names its line."""
    path = jsonl(tmp_path / "a.jsonl", {"text": "short", "label": "pos"}, {"text": "x" * 30, "label": "neg"})
    err = error_of(read_records(path, max_length=20))
    assert err.line == 2 and "30 characters long, more than the limit of 20" in str(err)
    report = CorpusReport()
    assert [r.line for r in read_records(path, max_length=20, skip_invalid=True, report=report)] == [1]
    assert report.skipped[0].line == 2
    nlp = spacy.blank("en")
    nlp.max_length = 20
    records = [Record("short", ["pos"], 1), Record("x" * 30, ["neg"], 7)]
    with pytest.raises(CorpusError, match=r"train\.jsonl, line 7: the text is 30 characters long"):
        list(records_to_docs(nlp, records, ["neg", "pos"], source="train.jsonl"))
    corpus = LabelledCorpus(path)
    with pytest.raises(CorpusError, match=r"line 2: the text field 'text' is 30 characters long"):
        list(corpus(nlp))
    corpus = LabelledCorpus(path, skip_invalid=True)
    with pytest.warns(CorpusWarning, match="line 2"):
        assert [eg.reference.text for eg in corpus(nlp)] == ["short"]


def test_issue16_malformed_row_that_is_not_utf8_is_one_invalid_row(tmp_path):
    """Found by the fuzz suite: the row after it was reported invalid too."""
    path = tmp_path / "a.csv"
    path.write_bytes(b'text,label\n"a"x\xff,pos\nok,neg\n')
    report = CorpusReport()
    assert list(read_table_records(path, skip_invalid=True, report=report)) == [Record("ok", ["neg"], 3)]
    assert [(s.line, s.reason.split(":")[0]) for s in report.skipped] == [(2, "malformed CSV row")]
