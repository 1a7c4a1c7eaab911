"""Input sources (spacy_rnn.data.sources): the one suffix -> format table, used by every reader."""
import pytest

from spacy_rnn.data import (
    LABELLED_FORMATS,
    RAW_TEXT_FORMATS,
    SCORE_FORMATS,
    SUFFIX_FORMATS,
    CorpusError,
    file_format,
    iter_raw_texts,
    read_jsonl_objects,
    read_records,
    read_table_records,
)
from spacy_rnn.inference.reading import score_format
from corpus_files import write_lines


@pytest.mark.parametrize("suffix", [".jsonl", ".JSONL", ".ndjson", ".csv", ".CSV", ".tsv", ".tab", ".Tab", ".txt", ".TXT"])
def test_one_table_any_case(suffix):
    fmt = SUFFIX_FORMATS[suffix.lower()]
    for allowed in (LABELLED_FORMATS, SCORE_FORMATS, RAW_TEXT_FORMATS):
        if fmt in allowed:
            assert file_format(f"in{suffix}", None, allowed) == fmt
        else:
            with pytest.raises(CorpusError, match="cannot tell the format from the suffix"):
                file_format(f"in{suffix}", None, allowed)


def test_tab_and_upper_case_read_the_same_everywhere(tmp_path):
    """A .tab file is a TSV file for `convert`, the corpus reader and `score`;
    a .JSONL file is JSONL for all of them and for the raw-text reader."""
    tab = write_lines(tmp_path / "a.tab", ["text\tlabel", "a, b\tpos"])
    upper = write_lines(tmp_path / "b.JSONL", ['{"text": "c", "label": "neg"}'])
    assert [r.text for r in read_records(tab)] == ["a, b"]
    assert [r.text for r in read_table_records(tab)] == ["a, b"]
    assert score_format(str(tab)) == "tsv"
    assert [r.text for r in read_records(upper)] == ["c"]
    assert score_format(str(upper)) == "jsonl"
    assert list(iter_raw_texts(upper)) == ["c"]
    assert list(iter_raw_texts(tmp_path)) == ["c"]  # the directory: b.JSONL is raw text, a.tab is not


def test_unknown_format_names_the_choices():
    with pytest.raises(CorpusError, match="unknown format 'yaml'.*jsonl, csv, tsv"):
        file_format("in.jsonl", "yaml", LABELLED_FORMATS)
    with pytest.raises(CorpusError, match=r"Use a \.jsonl or \.txt \(also \.ndjson\) file"):
        file_format("in.csv", None, RAW_TEXT_FORMATS)


@pytest.mark.parametrize("line, problem", [
    ('{"id": 1.5e400, "text": "a"}', "beyond the range of a 64-bit float"),
    ('{"id": NaN, "text": "a"}', "NaN is not a JSON value"),
    ('{"id": -Infinity, "text": "a"}', "-Infinity is not a JSON value"),
])
def test_issue34_numbers_that_json_cannot_write_back_are_invalid_records(tmp_path, line, problem):
    """Case 9: {"id": 1.5e400} was written back as Infinity (invalid JSON), and NaN was echoed."""
    path = write_lines(tmp_path / "in.jsonl", ['{"id": 1, "text": "ok"}', line])
    items = list(read_jsonl_objects(path, keep_errors=True))
    assert items[0] == (1, {"id": 1, "text": "ok"})
    number, error = items[1]
    assert number == 2 and isinstance(error, CorpusError) and problem in str(error) and "line 2" in str(error)


def test_deep_nesting_is_refused_before_json_parses_it(tmp_path):
    """A line nested past MAX_JSON_DEPTH is an error naming its line, the same
    at any stack depth: json.loads is never asked to recurse that far, so no
    RecursionError (raised, or unraisable in a finalizer) can come of it.
    Brackets inside strings do not count, and a record at the limit reads."""
    from spacy_rnn.data.sources import MAX_JSON_DEPTH

    at_limit = '{"text": "a", "x": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    in_string = '{"text": "' + "[{" * 5000 + '", "label": "pos"}'
    too_deep = '{"text": "a", "x": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    path = write_lines(tmp_path / "in.jsonl", [at_limit, in_string, too_deep, "[" * 50_000])
    items = list(read_jsonl_objects(path, keep_errors=True))
    assert items[0][1]["text"] == "a"
    assert items[1][1]["text"] == "[{" * 5000
    for number, (line, error) in zip((3, 4), items[2:]):
        assert line == number and isinstance(error, CorpusError)
        assert f"line {number}" in str(error) and f"more than {MAX_JSON_DEPTH} levels deep" in str(error)
