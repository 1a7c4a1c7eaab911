"""User-facing error messages, in the style of spaCy's ``Errors`` table.

Each message says what was wrong, where, and what to do about it:
:class:`ConfigValueError` for a setting (the ``Errors`` table), and
:class:`CorpusError` for input data (the file, line and field).
"""
from typing import Any, Optional

from confection import ConfigValidationError


class Errors:
    E001 = (
        "[spacy_rnn E001] Unknown recurrent cell {cell!r} in {where}. "
        "Choose one of: {allowed}."
    )
    E002 = (
        "[spacy_rnn E002] Invalid value {name} = {value!r} in {where}: {reason}"
    )
    E003 = (
        "[spacy_rnn E003] Unknown pooling {pooling!r} in {where}. "
        "Choose one of: {allowed}; or several joined by \"+\" (e.g. "
        "\"max+mean\"), each at most once, to concatenate them."
    )
    E004 = (
        "[spacy_rnn E004] The recurrent encoder's input width (nI) is unknown. "
        "Initialize the model with sample data (nlp.initialize() does this) or "
        "set the width of the embedding layer that feeds it."
    )
    E005 = (
        "[spacy_rnn E005] The recurrent encoder expects {expected} input "
        "columns but received {got}. Make `width` of the embedding layer match "
        "the encoder's input width, or leave the input width to be inferred."
    )
    E006 = (
        "[spacy_rnn E006] {name} = {value!r} in {where} is a setting of the "
        "clockwork cell only, but cell = {cell!r}. Remove {name}, or set "
        "cell = \"clockwork\"."
    )
    E007 = (
        "[spacy_rnn E007] cell = \"dglstm\" with depth = {depth!r} in {where}: "
        "the depth-gated LSTM links each layer's memory cells to the layer "
        "below, so it needs depth = 2 or more. Raise depth, or use cell = \"lstm\"."
    )
    E008 = (
        "[spacy_rnn E008] The component {name!r} was asked to store attention "
        "weights (store_attention = true), but its model pools with {pooling!r}: "
        "only attention pooling has per-token weights. Set "
        "[components.{name}.model] pooling = \"attention\" and train the "
        "pipeline again, or set [components.{name}] store_attention = false."
    )
    E009 = (
        "[spacy_rnn E009] The pipeline {model!r} has no rnn_textcat or "
        "rnn_textcat_multilabel component to explain; its components are: "
        "{components}. Train a pipeline with one of those factories (with "
        "pooling = \"attention\"), e.g. from configs/sentiment_bilstm.cfg."
    )
    E010 = (
        "[spacy_rnn E010] The pipeline has no component {name!r} to explain. "
        "Its rnn_textcat components are: {components}. Pass one of them as "
        "--component."
    )
    E011 = (
        "[spacy_rnn E011] The language-model vocabulary file {path!r} "
        "({where}, vocab_path) does not exist. Write it from the raw text "
        "first: python -m spacy_rnn lm-vocab RAW_TEXT {path} --size 10000 "
        "(RAW_TEXT: the same .jsonl/.txt file or directory as "
        "[paths] raw_text), or set vocab_path to an existing file."
    )
    E012 = (
        "[spacy_rnn E012] {path!r} ({where}, vocab_path) is not a "
        "language-model vocabulary file: {reason}. Write it with "
        "python -m spacy_rnn lm-vocab RAW_TEXT {path} --size 10000."
    )
    E013 = (
        "[spacy_rnn E013] Language-model pretraining ({where}) cannot train "
        "the layer named by [pretraining] component and layer: {reason} "
        "The objective needs a tok2vec whose output is the output of one "
        "spacy_rnn.RNNEncoder.v1, e.g. spacy.Tok2Vec.v2 with "
        "encode = spacy_rnn.RNNEncoder.v1."
    )
    E014 = (
        "[spacy_rnn E014] The encoder of the [pretraining] component ({where}) "
        "is bidirectional with depth = {depth}, and its "
        "layers after the first read both directions of the layer below, so "
        "the forward state at a token has seen the next token (through the "
        "backward direction of the layer below) and would learn to copy the "
        "word it must predict. Set separate_directions = true in its "
        "spacy_rnn.RNNEncoder.v1 block (e.g. "
        "--components.COMPONENT.model.tok2vec.encode.separate_directions "
        "true, and the same in the config you later train with), or use "
        "depth = 1, or bidirectional = false."
    )
    E015 = (
        "[spacy_rnn E015] The tok2vec of the [pretraining] component ({where}) "
        "mixes neighbouring tokens outside the recurrent encoder's separate "
        "directions: {found}. The forward direction would then see the next "
        "token it must predict. Use an embed layer that embeds each token "
        "on its own (spacy_rnn.SumHashEmbed.v1, spacy.MultiHashEmbed.v2, "
        "spacy_rnn.CharRNNEmbed.v1) and no context-mixing encode layer "
        "(spacy.MaxoutWindowEncoder.v2, spacy.MishWindowEncoder.v2, "
        "spacy.TorchBiLSTMEncoder.v1) in front of spacy_rnn.RNNEncoder.v1."
    )
    E016 = (
        "[spacy_rnn E016] [initialize] init_tok2vec = {path!r} is set, but the "
        "config's [pretraining] block is empty, so spaCy would skip those "
        "weights without a word: it finds the layer to load through "
        "[pretraining] component and layer. Train with "
        "configs/pretrain_bilstm.cfg or configs/sentiment_bilstm_long.cfg, "
        "or copy their [pretraining] block (component = your rnn_textcat "
        "component, layer = \"tok2vec\") into your config."
    )
    E017 = (
        "[spacy_rnn E017] The component {name!r} of {model} pools with "
        "{pooling}, and explain needs attention pooling: only attention "
        "gives each token a weight. To explain predictions, train a pipeline "
        "whose component pools with attention alone, [components.{name}.model] "
        "pooling = \"attention\" (as in configs/sentiment_bilstm.cfg, the "
        "default of rnn_textcat)."
    )
    E020 = (
        "[spacy_rnn E020] {where} has include_static_vectors = true, but the "
        "pipeline has no word vectors to include (nlp.vocab.vectors is "
        "empty). Load a vectors table at initialization: in a training "
        "config, [initialize] vectors = \"en_core_web_lg\" (an installed "
        "pipeline: python -m spacy download en_core_web_lg), or the path of "
        "a pipeline or of `spacy init vectors` output, e.g. the folder that "
        "this project's `python -m spacy project run vectors .` writes; "
        "from Python, load them into nlp.vocab before nlp.initialize(). Or "
        "set include_static_vectors = false to train without vectors."
    )
    E030 = (
        "[spacy_rnn E030] {path!r} is not a saved language model: {missing!r} "
        "is missing. Give the output directory of `spacy pretrain` (or one of "
        "its model*.bin files) from a run whose [pretraining.objective] "
        "(spacy_rnn.PretrainRNNLM.v1) had lm_dir set to that directory, e.g. "
        "python -m spacy pretrain configs/pretrain_bilstm.cfg training/pretrain "
        "--paths.lm_dir training/pretrain ..."
    )
    E031 = (
        "[spacy_rnn E031] {path!r} does not describe a language model that "
        "spacy-rnn can load: {reason}. Pretrain again with "
        "[pretraining.objective] lm_dir set."
    )
    E032 = (
        "[spacy_rnn E032] [pretraining.objective] init_head = {path!r} cannot "
        "start this objective's output layer: {reason}. Resume with the same "
        "[pretraining.objective] settings and vocab_path as the saved run, or "
        "set init_head = null to start a fresh output layer."
    )
    E033 = (
        "[spacy_rnn E033] The static-vectors layer was built for {nM}-wide "
        "word vectors, but the pipeline's table is {shape}. Load the table the "
        "model was trained with: in a training config, [initialize] vectors "
        "(e.g. --paths.vectors assets/vectors_en_md), also when the config "
        "sources a trained component (spaCy does not copy the source's vectors "
        "then); from Python, load it into nlp.vocab first."
    )
    E034 = (
        "[spacy_rnn E034] {name!r} was given a training example with the "
        "label(s) {unknown}, which it does not have (its labels: {labels}); "
        "the example's text starts {text!r}. spaCy would train that example "
        "toward none of its labels. A component sourced from a trained "
        "pipeline keeps the source's labels: train it on a corpus with those "
        "labels, or train a new component (with --paths.init_tok2vec to keep "
        "the source's tok2vec) when the labels differ."
    )
    E035 = (
        "[spacy_rnn E035] {where}: the document has the gold label(s) "
        "{unknown}, which no text classifier in the pipeline predicts ({labels}); "
        "its text starts {text!r}. Its scores would count it as a mistake "
        "whatever the pipeline predicts. Evaluate on a corpus with the "
        "pipeline's labels, or train a pipeline on these labels."
    )
    E036 = (
        "[spacy_rnn E036] Training would make {updates} update(s) and evaluate "
        "every {eval_frequency}, so the only evaluation of the dev set is the "
        "one after the first update, and model-best would be a barely trained "
        "model. Set [training] eval_frequency to at most {most} (e.g. "
        "{suggested} for about ten evaluations; or use "
        "{{\"@misc\": \"spacy_rnn.eval_frequency.v1\"}}, which scales it with "
        "the schedule), or train longer ([training] max_epochs or max_steps)."
    )
    E037 = (
        "[spacy_rnn E037] [training] dropout = {value!r} is not a rate: use a "
        "number from 0 (no dropout) up to, not including, 1 (e.g. 0.2, or "
        "--training.dropout 0.2 on the command line). A rate of 1 or more, or "
        "below 0, leaves nothing to train on."
    )
    E038 = (
        "[spacy_rnn E038] {where} = {value!r} is not a temperature: use a "
        "number above 0 (1.0 leaves the model's probabilities as they are; "
        "python -m spacy_rnn calibrate fits one on a labelled corpus)."
    )
    E039 = (
        "[spacy_rnn E039] {where} = {value!r} {problem}: give a table of "
        "label = threshold, each from 0 to 1, e.g. {{\"positive\": 0.3}} "
        "(python -m spacy_rnn tune-thresholds fits them on a labelled corpus)."
    )
    E040 = (
        "[spacy_rnn E040] {where} {name} = {value!r}: {reason}."
    )
    I001 = (
        "[spacy_rnn] {where}: the pipeline has no word vectors, so "
        "include_static_vectors = \"auto\" trains without them. Load a "
        "vectors table with [initialize] vectors (or into nlp.vocab before "
        "nlp.initialize()) to use them."
    )


class ConfigValueError(ConfigValidationError):
    """A registered function received an argument it cannot use.

    A :class:`confection.ConfigValidationError` (and so a ``ValueError``):
    ``spacy train`` and the other spaCy commands print it as a clean ✘
    message, as they print their own config errors, with no traceback.
    """

    def __init__(self, message: Optional[str] = None, **kwargs: Any) -> None:
        # spaCy re-creates the error with from_error(title="", ...): keyword
        # arguments only, and no message.
        kwargs.setdefault("show_config", False)
        if message is not None:
            kwargs["title"] = message
        super().__init__(**kwargs)

    def __str__(self) -> str:
        return self.text.strip()

    def __reduce__(self):  # picklable, for worker processes
        return (type(self), (self.title,))


class OutputError(ValueError):
    """An output path that would overwrite or delete an input, or something
    that is not the command's to replace; the message says which and what to do."""


class WeightsError(ValueError):
    """A weights file that is not a plain PyTorch state dict: refused unread."""


class ScoreError(ValueError):
    """A scoring run cannot start: bad options, or no usable pipeline (also
    for ``evaluate`` and ``explain``: a pipeline that cannot be loaded)."""


class EvaluationError(ValueError):
    """The pipeline or the settings cannot be evaluated this way."""


class ExplainError(ValueError):
    """The pipeline has no component that can explain its predictions."""


class ClockworkSettingError(ValueError):
    """A bad clockwork ``modules`` or ``periods``: ``name`` and ``value`` say
    which, ``reason`` what to do. The Thinc layer turns it into a config error."""

    def __init__(self, name: str, value: object, reason: str) -> None:
        super().__init__(f"invalid {name} = {value!r}: {reason}")
        self.name = name
        self.value = value
        self.reason = reason


class CorpusWarning(UserWarning):
    """Invalid records were skipped (``skip_invalid=True``) and no report was kept."""


class CorpusError(ValueError):
    """Invalid corpus input. The message says where and what to do.

    path (str): The file (or stream name) the problem is in.
    line (Optional[int]): The 1-based line number, if the problem has one.
    problem (str): What is wrong, without the location or the advice; the
        reason listed for a skipped record.
    field (Optional[str]): The record field concerned, if any.
    """

    def __init__(
        self,
        path: str,
        line: Optional[int],
        problem: str,
        advice: str = "",
        field: Optional[str] = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.advice = advice
        self.field = field
        where = self.path if line is None else f"{self.path}, line {line}"
        message = f"{where}: {problem}."
        if advice:
            message += f" {advice}" if advice.endswith((".", "\n")) else f" {advice}."
        super().__init__(message)

    def __reduce__(self):  # keep it picklable (worker processes, pytest-xdist)
        return (type(self), (self.path, self.line, self.problem, self.advice, self.field))


# Errors whose message says what is wrong and what to do: the commands print
# them as they are (cli._util.describe_error), and under spaCy's own CLI they
# are ✘ messages too (_spacy_cli, which adds the two a command never lets out).
MESSAGE_ERRORS = (ConfigValueError, CorpusError, EvaluationError, ExplainError, OutputError, ScoreError)
