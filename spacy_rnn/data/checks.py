"""The checks every reader of user text shares: a text field that is there and
holds a string, text spaCy can tokenize (no lone surrogate, not over
``nlp.max_length``), and HTML line breaks cleaned the same way everywhere.

``convert``, the corpus readers of ``spacy train``, ``score``, ``evaluate``,
``lm-vocab`` and the Ray engine call these, so one input is accepted or
refused alike by every command, with the same message.

HTML line breaks
----------------
Some corpora (IMDB) keep the ``<br />`` tags of the original web pages. With
``clean_html=True`` (the default) every run of ``<br>``, ``<br/>`` or
``<br />`` tags (any case), together with the whitespace around it, becomes a
single space, and breaks at the start or end of a text are removed. A single
space is the choice because spaCy's tokenizer turns a newline into a token of
its own, which a recurrent model would then have to learn to ignore.
"""
import re
import sys
from collections import Counter
from typing import Any, List, Mapping, Optional, Sequence

from ..errors import CorpusError
from .sources import json_kind

_BR_TAGS = r"(?:<br\s*/?\s*>\s*)+"
_BR_INNER = re.compile(r"\s*" + _BR_TAGS, re.IGNORECASE)
_BR_LEADING = re.compile(r"^\s*" + _BR_TAGS, re.IGNORECASE)
_BR_TRAILING = re.compile(r"\s*" + _BR_TAGS + r"$", re.IGNORECASE)

# nlp.max_length for "no limit": spaCy refuses a text longer than nlp.max_length
# (E088), a guard for the parser and NER, whose memory grows with the text.
# The blank tokenizer and the rnn_textcat components need no such guard.
NO_MAX_LENGTH = sys.maxsize

_SKIP_ADVICE = "or pass skip_invalid=True (--skip-invalid) to skip invalid records and list them"



def clean_html_breaks(text: str) -> str:
    """Replace HTML line breaks (``<br />``, ``<br/>``, ``<br>``, any case) by spaces.

    A run of breaks and the whitespace around it becomes one space; breaks at
    the start or the end of the text are removed. Other markup is kept.

    text (str): The text, e.g. an IMDB review.
    RETURNS (str): The text without line-break tags.
    """
    if "<" not in text:
        return text
    text = _BR_LEADING.sub("", text)
    text = _BR_TRAILING.sub("", text)
    return _BR_INNER.sub(" ", text)


# A code point in U+D800-U+DFFF. In a Python str it is always a lone half of a
# pair (JSON's "\ud83d\ude00" decodes to one character), which UTF-8 cannot
# encode, so spaCy's string store cannot hash it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def max_length_setting(max_length: int) -> int:
    """The ``nlp.max_length`` for a ``max_length`` (``--max-length``) setting: itself, or no limit for 0."""
    return max_length if max_length > 0 else NO_MAX_LENGTH


def check_unicode(name: str, line: Optional[int], field: Optional[str], value: str, kind: str = "text") -> None:
    """Raise a :class:`CorpusError` if ``value`` holds a lone surrogate.

    kind (str): What the field holds, for the message: "text" or "label".
    """
    match = _SURROGATE.search(value)
    if match is None:
        return
    where = f"the {kind} field {field!r}" if field is not None else f"the {kind}"
    code = ord(match.group())
    raise CorpusError(
        name, line,
        f"{where} holds a lone surrogate U+{code:04X} (from a JSON escape \\u{code:04x} without its pair) "
        f"at character {match.start() + 1}, which is not a Unicode character",
        "Fix the escape (a \\ud800-\\udbff escape must be followed by a \\udc00-\\udfff one)",
        field=field,
    )


def check_text(
    name: str, line: Optional[int], field: Optional[str], text: str, max_length: Optional[int] = None
) -> None:
    """Raise a :class:`CorpusError` if spaCy cannot tokenize ``text``.

    That is a text with a lone surrogate, or one longer than ``max_length``
    characters (``nlp.max_length``, beyond which spaCy refuses a text with
    its error E088).
    """
    check_unicode(name, line, field, text)
    if max_length is not None and len(text) > max_length:
        where = f"the text field {field!r}" if field is not None else "the text"
        raise CorpusError(
            name, line,
            f"{where} is {len(text):,} characters long, more than the limit of {max_length:,} (nlp.max_length)",
            "Split the text, or raise the limit: max_length (--max-length), 0 for none",
            field=field,
        )



def text_field(name: str, line: Optional[int], record: Mapping[str, Any], field: str, option: str) -> str:
    """The text of a record: the string under ``field``. The one check that a
    text field is there and holds a string, for every reader of records.

    name (str): The file or stream, for messages.
    line (Optional[int]): The record's line, for messages.
    record (Mapping[str, Any]): A JSON object or a table row.
    field (str): The field (or column) that holds the text.
    option (str): The setting that chooses the field, for the advice, e.g.
        "text_key (--text-key)".
    RETURNS (str): The text, as it is.
    RAISES (CorpusError): The field is missing or does not hold a string.
    """
    if field not in record:
        raise CorpusError(
            name, line, f"no text field {field!r} (fields: {', '.join(map(repr, record))})",
            f"Choose the text field with {option}, or add the text", field=field,
        )
    value = record[field]
    if not isinstance(value, str):
        raise CorpusError(
            name, line, f"the text field {field!r} is {json_kind(value)}, not a string",
            "Make the text a string", field=field,
        )
    return value


def with_skip_advice(error: CorpusError) -> CorpusError:
    """The error, with the advice to pass skip_invalid (--skip-invalid) if it has none."""
    if "skip_invalid" in error.advice:
        return error
    advice = error.advice.rstrip(".")
    advice = f"{advice}, {_SKIP_ADVICE}" if advice else "P" + _SKIP_ADVICE[4:]
    return CorpusError(error.path, error.line, error.problem, advice, error.field)


def check_labels_arg(labels: Optional[Sequence[str]], where: str) -> Optional[List[str]]:
    """A label list given by the user (``labels``, ``--labels``), checked: a
    list of distinct non-empty strings, or None.

    RAISES (CorpusError): A string, an empty list, an empty or repeated label.
    """
    if labels is None:
        return None
    if isinstance(labels, str):
        raise CorpusError(where, None, f"labels must be a list of strings, not the string {labels!r}",
                          "Pass e.g. labels=['negative', 'positive'] (--labels negative,positive).")
    labels = list(labels)
    if not labels or any(not isinstance(label, str) or not label for label in labels):
        raise CorpusError(where, None, f"the label list {labels!r} must hold non-empty strings",
                          "Pass e.g. labels=['negative', 'positive'] (--labels negative,positive), "
                          "or no list.")
    duplicates = sorted(label for label, n in Counter(labels).items() if n > 1)
    if duplicates:
        raise CorpusError(where, None, f"the label list repeats {', '.join(map(repr, duplicates))}",
                          "List every label once.")
    return labels
