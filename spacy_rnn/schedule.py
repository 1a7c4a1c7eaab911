"""Training schedules that scale with the corpus.

A fixed ``[training] eval_frequency``, ``max_steps`` or warm-up works at the
corpus size it was chosen for only. On a corpus a tenth the size, a recipe
that evaluates every 175 updates may finish before its second evaluation,
and ``model-best`` is then the model after one update. These registered
functions count the training corpus when the config is resolved and derive
the schedule from it:

- ``spacy_rnn.steps_for_passes.v1``: ``[training] max_steps`` for a number
  of passes with the training batcher, with a floor for small corpora;
- ``spacy_rnn.eval_frequency.v1``: ``[training] eval_frequency`` for a
  number of evaluations over ``max_steps``;
- ``spacy_rnn.warmup_linear.v1``: a warm-up of a fraction of ``total_steps``,
  then linear decay.

:func:`check_training_config` runs when a component initializes: it stops
a schedule that would evaluate only the barely trained model (error E036), a
``[training] dropout`` that is not a rate (E037), and pretrained weights that
spaCy would skip without a word (E016).
"""
import math
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry
from thinc.api import Config, ConfigValidationError
from thinc.schedules import warmup_linear as thinc_warmup_linear

from .errors import ConfigValueError, CorpusError, Errors

PathLike = Union[str, Path]

# Documents' lengths per corpus path, keyed by each shard's path, size and
# modification time: the config names the training corpus in several places
# (max_steps, eval_frequency, the schedule's total_steps), each resolved on
# its own, and spacy train resolves the training block more than once.
_LENGTHS_CACHE: Dict[Tuple, List[int]] = {}


def document_lengths(path: PathLike) -> List[int]:
    """The number of tokens of each document of a corpus file or folder of
    shards, in reading order. ``.spacy`` shards are counted without building
    their docs; JSONL, CSV and TSV records are tokenized with spaCy's
    English tokenizer (the count needs no more precision than that).

    RAISES (CorpusError): The path holds no corpus (from the reader).
    """
    from .data.streaming import DOCBIN_SUFFIX, StreamingCorpus, load_docbin

    corpus = StreamingCorpus(path, shuffle=False)
    key = tuple((str(shard), shard.stat().st_size, shard.stat().st_mtime_ns) for shard in corpus.shards)
    if key in _LENGTHS_CACHE:
        return _LENGTHS_CACHE[key]
    from .data.report import CorpusReport

    lengths: List[int] = []
    tokenizer = None
    for shard in corpus.shards:
        if shard.suffix.lower() == DOCBIN_SUFFIX:
            lengths.extend(len(tokens) for tokens in load_docbin(shard).tokens)
            continue
        if tokenizer is None:
            import spacy

            tokenizer = spacy.blank("en").tokenizer
        lengths.extend(len(tokenizer(record.text)) for record in corpus.records(shard, CorpusReport(path=str(shard))))
    _LENGTHS_CACHE.clear()
    _LENGTHS_CACHE[key] = lengths
    return lengths


class _Sized:
    """An item of ``n`` tokens, for counting a batcher's batches."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def count_updates(batcher: Callable[[Iterable[Any]], Iterable[List[Any]]], lengths: List[int], passes: int) -> int:
    """The batches ``batcher`` makes from ``passes`` passes over documents of
    these lengths, each pass a separate call, as spaCy's training loop calls
    it (a compounding batch size goes on growing from pass to pass)."""
    items = [_Sized(n) for n in lengths]
    return sum(sum(1 for _ in batcher(items)) for _ in range(passes))


@registry.misc("spacy_rnn.steps_for_passes.v1")
def steps_for_passes(
    path: Optional[PathLike],
    passes: int,
    batcher: Callable[[Iterable[Any]], Iterable[List[Any]]],
    min_steps: int = 0,
) -> int:
    """The ``[training] max_steps`` that ends training after ``passes``
    passes over the training corpus with the training batcher, and after no
    fewer than ``min_steps`` updates, so that a small corpus is still
    trained enough. The corpus is counted once, shard by shard, when the
    config is resolved.

    [training.max_steps]
    @misc = "spacy_rnn.steps_for_passes.v1"
    path = ${paths.train}
    passes = 2
    batcher = ${training.batcher}
    min_steps = 300

    spaCy numbers its updates from 0 and stops after the update whose number
    reaches ``max_steps``, so ``N`` updates take ``max_steps = N - 1``.

    path (Union[str, Path]): The training corpus: a ``.spacy``, ``.jsonl``,
        ``.csv`` or ``.tsv`` file, or a folder of them.
    passes (int): Passes over the corpus, 1 or more.
    batcher (Callable): The ``[training] batcher``, interpolated.
    min_steps (int): The fewest updates, 0 or more.
    RETURNS (int): ``max(updates of the passes, min_steps) - 1``, at least 1
        (0 would mean no limit).
    """
    where = "spacy_rnn.steps_for_passes.v1"
    _check_int(where, "passes", passes, 1)
    _check_int(where, "min_steps", min_steps, 0)
    if path is None:
        raise CorpusError(
            "<config>", None, "no corpus path given for steps_for_passes ([training.max_steps] counts the "
            "training corpus, also when spacy pretrain reads the config)",
            "Pass the training corpus (--paths.train corpus/train), or the number itself (--training.max_steps N).",
        )
    updates = count_updates(batcher, document_lengths(path), passes)
    return max(1, max(updates, min_steps) - 1)


@registry.misc("spacy_rnn.eval_frequency.v1")
def eval_frequency(max_steps: int, evaluations: int = 10) -> int:
    """The ``[training] eval_frequency`` that evaluates ``evaluations`` to
    twice as many times over ``max_steps`` updates, whatever the corpus
    size, and close to the end. spaCy evaluates after update 0 and after
    every update whose number is a multiple of the frequency, and not after
    the last update unless its number is one: of the frequencies in range,
    this picks the one whose last evaluation comes nearest the end (the
    larger on a tie), fewer than ``2 * evaluations`` updates before it.

    [training.eval_frequency]
    @misc = "spacy_rnn.eval_frequency.v1"
    max_steps = ${training.max_steps}
    evaluations = 10

    max_steps (int): The schedule's ``[training] max_steps``, 1 or more.
    evaluations (int): The fewest evaluations after the first, 1 or more.
    RETURNS (int): A frequency from ``max_steps // (2 * evaluations)`` to
        ``ceil(max_steps / evaluations)``, at least 1.
    """
    where = "spacy_rnn.eval_frequency.v1"
    _check_int(where, "max_steps", max_steps, 1, advice="eval_frequency.v1 needs a schedule with max_steps set")
    _check_int(where, "evaluations", evaluations, 1)
    low = max(1, max_steps // (2 * evaluations))
    high = max(low, math.ceil(max_steps / evaluations))
    return min(range(low, high + 1), key=lambda frequency: (max_steps % frequency, -frequency))


@registry.schedules("spacy_rnn.warmup_linear.v1")
def warmup_linear(initial_rate: float, total_steps: int, warmup_fraction: float = 0.1) -> Iterable[float]:
    """A learning rate that rises linearly from 0 to ``initial_rate`` over the
    first ``warmup_fraction`` of ``total_steps`` updates, then falls linearly
    to 0 at ``total_steps`` (thinc's ``warmup_linear.v1`` with a warm-up
    that scales with the schedule).

    [training.optimizer.learn_rate]
    @schedules = "spacy_rnn.warmup_linear.v1"
    initial_rate = 0.002
    total_steps = ${training.max_steps}
    warmup_fraction = 0.1

    initial_rate (float): The peak rate.
    total_steps (int): Updates until the rate reaches 0, 1 or more.
    warmup_fraction (float): The share of ``total_steps`` spent warming up, in [0, 1).
    """
    where = "spacy_rnn.warmup_linear.v1"
    _check_int(where, "total_steps", total_steps, 1)
    if isinstance(warmup_fraction, bool) or not isinstance(warmup_fraction, (int, float)) or not 0 <= warmup_fraction < 1:
        raise ConfigValueError(
            Errors.E002.format(name="warmup_fraction", value=warmup_fraction, where=where,
                               reason="use a number in [0, 1).")
        )
    warmup_steps = max(1, round(warmup_fraction * total_steps))
    return thinc_warmup_linear(initial_rate, warmup_steps, total_steps)


def _check_int(where: str, name: str, value: Any, minimum: int, advice: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        reason = f"use an integer of {minimum} or more" + (f"; {advice}." if advice else ".")
        raise ConfigValueError(Errors.E002.format(name=name, value=value, where=where, reason=reason))


def _resolved(value: Any) -> Any:
    """A config value, with a registered function (a dict with an "@" key) called."""
    if isinstance(value, dict) and any(key.startswith("@") for key in value):
        return registry.resolve({"value": value})["value"]
    return value


def check_dropout(training: Dict[str, Any]) -> None:
    """Refuse a ``[training] dropout`` outside [0, 1) (E037): spaCy passes any
    number to every layer, and a rate of 1 or more (or below 0) trains with a
    frozen loss without a word.

    training (Dict[str, Any]): The interpolated ``[training]`` block.
    """
    dropout = training.get("dropout")
    if isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and not 0 <= dropout < 1:
        raise ConfigValueError(Errors.E037.format(value=dropout))


def check_evaluations(training: Dict[str, Any], get_examples: Callable[[], Iterable[Any]]) -> None:
    """Refuse a training schedule whose only evaluation comes after the first
    update (E036): ``spacy train`` would then keep a barely trained model as
    ``model-best``, without a word.

    training (Dict[str, Any]): The interpolated ``[training]`` block of
        ``nlp.config`` (under ``spacy train`` the training config; in Python,
        spaCy's defaults, which pass).
    get_examples (Callable): The training examples, counted only for a
        schedule that ends after ``max_epochs``.

    The updates
    are ``max_steps + 1`` or the batches of ``max_epochs`` passes over
    ``get_examples()`` with the training batcher, whichever is fewer.
    A block that cannot be resolved here is left to spaCy's own checks.
    """
    try:
        frequency = _resolved(training.get("eval_frequency"))
        max_steps = _resolved(training.get("max_steps"))
        max_epochs = training.get("max_epochs")
        if not isinstance(frequency, int) or frequency < 1:
            return
        # training stops at max_steps or after max_epochs, whichever comes first
        candidates = []
        if isinstance(max_steps, int) and max_steps > 0:
            candidates.append(max_steps + 1)
        if isinstance(max_epochs, int) and max_epochs > 0 and training.get("batcher"):
            batcher = _resolved(training["batcher"])
            candidates.append(count_updates(batcher, [len(eg) for eg in get_examples()], max_epochs))
        if not candidates:
            return
        updates = min(candidates)
    except (ConfigValidationError, CorpusError, ConfigValueError, KeyError, TypeError, ValueError):
        return
    if updates - 1 < frequency:
        suggested = max(1, (updates - 1) // 10)
        raise ConfigValueError(Errors.E036.format(
            updates=updates, eval_frequency=frequency, most=max(1, updates - 1), suggested=suggested,
        ))


def check_init_tok2vec(config: Config) -> None:
    """spaCy loads ``[initialize] init_tok2vec`` through the ``[pretraining]``
    block (its ``component`` and ``layer``) and silently skips the weights when
    that block is empty, as it is in most training configs. Refuse that case,
    so pretrained weights are never dropped without a word.

    config (Config): The pipeline's interpolated config.
    """
    init_tok2vec = config.get("initialize", {}).get("init_tok2vec")
    if init_tok2vec and not config.get("pretraining"):
        raise ConfigValueError(Errors.E016.format(path=init_tok2vec))


def check_training_config(nlp: Optional[Language], get_examples: Callable[[], Iterable[Example]]) -> None:
    """What both components check at ``initialize``, on the pipeline's config
    interpolated once: ``init_tok2vec`` without a ``[pretraining]`` block
    (E016), ``[training] dropout`` (E037) and a schedule whose only
    evaluation follows the first update (E036)."""
    if nlp is None:
        return
    try:
        config = nlp.config.interpolate()
    except ConfigValidationError:  # a config spaCy cannot resolve fails later with spaCy's own error
        return
    check_init_tok2vec(config)
    training = config.get("training", {})
    check_dropout(training)
    check_evaluations(training, get_examples)
