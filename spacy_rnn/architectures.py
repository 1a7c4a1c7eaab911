"""Registered model architectures.

- ``spacy_rnn.RNNEncoder.v1``: a recurrent ``encode`` layer for ``spacy.Tok2Vec.v2``.
- ``spacy_rnn.SumHashEmbed.v1``: summed hash embeddings plus, when the
  pipeline has a vectors table, its projected static vectors; an ``embed`` layer.
- ``spacy_rnn.CharRNNEmbed.v1``: token vectors from a character RNN, an
  ``embed`` layer, optionally concatenated with hash embeddings.
- ``spacy_rnn.RNNTextCat.v1``: the text classifier, tok2vec -> pooling ->
  dropout -> scores, beside a bag-of-n-grams linear model, following spaCy's
  textcat model contract (``nO``, ``attrs["multi_label"]``, refs "tok2vec"
  and "output_layer", probabilities as output, a resizable output layer).
"""
from functools import partial
from typing import Callable, List, Literal, Optional, Tuple, get_args

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Linear, Logistic, Model, chain
from thinc.layers.resizable import resize_model
from thinc.layers.resizable import resizable, resize_linear_weighted
from thinc.types import Floats2d

from .layers import RNNEncoder, build_pooling, find_encoders
from .layers.bow import COUNTS, BagOfNgrams, Counts, softmax_scores
from .layers.mean_probabilities import mean_probabilities
from .layers.sum_outputs import sum_outputs
from .layers.pooling import pooled_width
from .layers.char_embed import CharRNNEmbed, concatenate_embeds
from .errors import ConfigValueError, Errors
from .layers.checks import check_choice, check_settings
from .layers.embed import StaticVectorsChoice, SumHashEmbed

# Bias given to a label added after training, so that it starts improbable
# (the value spaCy's own textcat architectures use).
NEG_VALUE = -5000

# How RNNTextCat.v1 combines its recurrent and bag-of-n-grams branches.
Combine = Literal["sum", "mean", "geometric_mean"]
COMBINE = get_args(Combine)


@registry.architectures("spacy_rnn.RNNEncoder.v1")
def build_rnn_encoder(
    width: int,
    depth: int = 1,
    cell: str = "lstm",
    bidirectional: bool = True,
    dropout: float = 0.0,
    modules: Optional[int] = None,
    periods: Optional[List[int]] = None,
    separate_directions: bool = False,
) -> Model[List[Floats2d], List[Floats2d]]:
    """Encode context into token vectors with a recurrent network.

    Use it as the ``encode`` layer of ``spacy.Tok2Vec.v2``; it works for every
    spaCy component that takes a tok2vec (textcat, tagger, ner, ...). Each
    document is processed on its own: its output does not depend on the other
    documents in the batch, and the backward direction starts at the document's
    last token. The input width is inferred at initialization.

    width (int): The output width. A bidirectional encoder gives each direction
        width // 2 units, so the width must then be even.
    depth (int): The number of stacked recurrent layers. The "dglstm" cell
        needs 2 or more.
    cell (str): "rnn" (Elman, tanh), "lstm", "gru", "clockwork" (the
        Clockwork RNN of Koutník et al. 2014: the hidden units form modules
        that update only every T_i steps, slow modules feeding fast ones) or
        "dglstm" (the depth-gated LSTM of Yao et al. 2015: each layer after
        the first adds the gated memory cell of the layer below to its own).
    bidirectional (bool): Whether to add a backward direction.
    dropout (float): Dropout applied between stacked layers during training.
    modules (Optional[int]): "clockwork" only: the number of modules each
        direction's units are split into; it must divide width // 2 for a
        bidirectional encoder, else width. Defaults to len(periods), or 4.
    periods (Optional[List[int]]): "clockwork" only: each module's clock
        period, positive ints, one per module (module i updates at steps t
        with t mod periods[i] == 0, counting from 0 at the document's first
        token, or its last for the backward direction). Defaults to 1, 2, 4,
        ..., 2 ** (modules - 1).
    separate_directions (bool): Stack the two directions separately (as in
        ELMo): every layer after the first reads only the same direction of
        the layer below, instead of both. The forward half of each output
        (its first width // 2 columns) then depends only on the tokens up to
        and including t, the backward half only on the tokens from t on, at
        any depth. Language-model pretraining
        (``spacy_rnn.PretrainRNNLM.v1``) needs it for a bidirectional encoder
        with depth > 1; it changes nothing at depth 1 or for a
        unidirectional encoder. Default false: layers read both directions,
        as ``torch.nn.LSTM`` does.
    """
    return RNNEncoder(
        cell, width, depth, bidirectional, dropout, modules=modules, periods=periods,
        separate_directions=separate_directions,
    )


@registry.architectures("spacy_rnn.SumHashEmbed.v1")
def build_sum_hash_embed(
    width: int = 64,
    attrs: List[str] = ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
    rows: List[int] = [5000, 1000, 2500, 2500],
    dropout: float = 0.0,
    include_static_vectors: StaticVectorsChoice = "auto",
    vectors_dropout: float = 0.0,
) -> Model[List[Doc], List[Floats2d]]:
    """Embed tokens as the sum of one hash embedding per lexical attribute
    and, when the pipeline has them, its pretrained static vectors.

    An ``embed`` layer for ``spacy.Tok2Vec.v2``, cheaper than
    ``spacy.MultiHashEmbed.v2`` in front of a recurrent encoder: the tables
    are summed rather than concatenated and mixed by a Maxout layer, which
    would only repeat the encoder's own input projection. The pipeline's
    vectors table (``nlp.vocab.vectors``, loaded by ``[initialize] vectors``:
    an installed pipeline such as "en_core_web_lg", a pipeline directory, or
    ``spacy init vectors`` output, floret included) joins the sum through
    spaCy's ``StaticVectors`` (frozen table, learned projection to ``width``).
    Tokens without a vector contribute zeros.

    width (int): The width of every table and of the output.
    attrs (List[str]): Token attributes to hash-embed, e.g. NORM, PREFIX, SUFFIX, SHAPE.
    rows (List[int]): Rows of each attribute's hash table, one per attr.
    dropout (float): Dropout on the hash embedding rows during training, in
        [0, 1); 0 adds no dropout layer.
    include_static_vectors (Union[bool, str]): "auto" uses the vectors table
        when the vocab has one at initialization and logs an info line when
        it has none; the decision is saved with the pipeline, so it reloads
        identically. True requires a table (initialization fails with a
        message that says how to add one); false never uses one.
    vectors_dropout (float): Dropout on the projected vectors' columns
        (spaCy's StaticVectors dropout), in [0, 1).

    As with spaCy's own layers, ``Language.update`` (and so ``spacy train``)
    sets every layer's dropout rate to its ``drop``, ``[training] dropout``.
    """
    return SumHashEmbed(
        width, attrs, rows, dropout, include_static_vectors, vectors_dropout, where="spacy_rnn.SumHashEmbed.v1",
    )


@registry.architectures("spacy_rnn.CharRNNEmbed.v1")
def build_char_rnn_embed(
    width: int = 64,
    cell: str = "lstm",
    char_width: int = 32,
    n_chars: int = 1024,
    max_chars: int = 20,
    also_hash_embed: bool = True,
    hash_width: int = 64,
    hash_attrs: List[str] = ["NORM"],
    hash_rows: List[int] = [5000],
) -> Model[List[Doc], List[Floats2d]]:
    """Embed each token by reading its characters with a bidirectional RNN.

    A ``Model[List[Doc], List[Floats2d]]`` for the ``embed`` slot of
    ``spacy.Tok2Vec.v2`` (under any encoder, and so under any component that
    takes a tok2vec). A token's vector depends on its spelling only, so
    misspelt, rare and unseen words get informative vectors where a hash
    embedding only has a collision bucket.

    Each token's first ``max_chars`` characters are mapped to ids by a fixed
    hash of their Unicode code points into ``n_chars`` buckets (no character
    vocabulary to build or serialize; emoji and any other code point work),
    embedded at ``char_width`` and read by a bidirectional ``cell``. The token
    vector is the forward state after the last character concatenated with the
    backward state after the first character, ``width / 2`` units each;
    padding is never read. Within a batch, each distinct token string is
    encoded once and its vector shared by all of its tokens. Empty docs get
    ``(0, nO)`` arrays.

    width (int): The width of the character RNN's output, even: each direction
        gets width / 2 units.
    cell (str): The recurrent cell reading the characters: "rnn", "lstm" or "gru".
    char_width (int): The width of the character embeddings.
    n_chars (int): Hash buckets for characters. A power of two of 128 or more
        keeps ASCII characters apart; other code points may share a bucket.
    max_chars (int): Characters read per token (its first ones).
    also_hash_embed (bool): Concatenate ``spacy_rnn.SumHashEmbed.v1``
        embeddings of ``hash_attrs`` after the character vector, so that
        frequent words also get a free-form vector of their own. The output
        width ``nO`` is then ``width + hash_width``, else ``width``.
    hash_width (int): The width of the hash embeddings (used only with
        ``also_hash_embed``).
    hash_attrs (List[str]): Token attributes to hash-embed, e.g. ["NORM"].
    hash_rows (List[int]): Rows of each attribute's hash table, one per attr.
    """
    check_settings(
        "spacy_rnn.CharRNNEmbed.v1", ints={"hash_width": hash_width}, int_lists={"hash_rows": hash_rows}
    )
    chars = CharRNNEmbed(width, cell, char_width, n_chars, max_chars)
    if not also_hash_embed:
        return chars
    return concatenate_embeds(chars, SumHashEmbed(hash_width, hash_attrs, hash_rows))


@registry.architectures("spacy_rnn.RNNTextCat.v1")
def build_rnn_textcat(
    tok2vec: Model[List[Doc], List[Floats2d]],
    pooling: str = "attention",
    dropout: float = 0.2,
    exclusive_classes: bool = True,
    bow_ngram_size: int = 2,
    bow_length: int = 262144,
    bow_counts: Counts = "binary",
    bow_combine: Combine = "mean",
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """Classify documents by pooling recurrent token vectors, beside a
    bag-of-n-grams linear model.

    The model follows spaCy's textcat contract: ``nO``,
    ``attrs["multi_label"]``, refs "tok2vec", "pooling" and "output_layer",
    probabilities out, and new labels added by resizing (a new label starts
    improbable).

    tok2vec (Model[List[Doc], List[Floats2d]]): The token-to-vector layer,
        typically ``spacy.Tok2Vec.v2`` with ``spacy_rnn.RNNEncoder.v1`` as its
        encoder. Any tok2vec, including a ``spacy.Tok2VecListener.v1``, works.
    pooling (str): How token vectors become a document vector, over the real
        tokens only: "mean", "max", "last" (the final state of each
        direction), "attention" (a learned, masked softmax over tokens), or
        several joined by "+" (e.g. ULMFiT's "last+max+mean"), concatenated.
    dropout (float): Dropout on the pooled vector during training, in [0, 1).
    exclusive_classes (bool): True for softmax over mutually exclusive labels
        (component ``rnn_textcat``), False for an independent logistic per
        label (component ``rnn_textcat_multilabel``).
    bow_ngram_size (int): The longest n-gram of the bag-of-n-grams branch, a
        linear model over hashed 1..n-grams of the lower-cased tokens (the
        model of ``spacy.TextCatBOW.v3``); 0 turns the branch off.
    bow_length (int): Hash rows of the bag-of-n-grams weights per label
        (rounded up to a power of two).
    bow_counts (str): How an n-gram's count in a document enters the branch:
        "binary" (1 for each n-gram present), "log" (log(1 + count)) or
        "count" (spaCy's ``TextCatBOW``).
    bow_combine (str): How the branches make one prediction. "mean" and
        "geometric_mean" give each branch its own softmax (or logistic), each
        trained with its own cross-entropy, an ensemble of two models, and
        output the arithmetic or the normalized geometric mean of the two
        probabilities; "sum" adds the branches' scores before one softmax (or
        logistic), one log-linear model.
    nO (Optional[int]): The number of labels, set by the component.
    """
    return _rnn_textcat(tok2vec, pooling, dropout, exclusive_classes, bow_ngram_size, bow_length,
                        bow_counts, nO, "spacy_rnn.RNNTextCat.v1", bow_combine)


def _rnn_textcat(
    tok2vec: Model[List[Doc], List[Floats2d]], pooling: str, dropout: float, exclusive_classes: bool,
    bow_ngram_size: int, bow_length: int, bow_counts: Counts, nO: Optional[int], where: str,
    bow_combine: Combine,
) -> Model[List[Doc], Floats2d]:
    """The classifier of ``spacy_rnn.RNNTextCat.v1``."""
    check_textcat_args(dropout, bow_ngram_size, bow_length, bow_counts, nO, where, bow_combine)
    layers, pool = _pooling_layers(tok2vec, pooling, dropout, where)
    # random (Glorot) weights, Thinc's default, not the zero weights spaCy's output layers start
    # from: the comparison is in benchmarks/output_combination.json
    scores_layer = Linear(nO=nO, nI=pooled_width(pooling, tok2vec.maybe_get_dim("nO")))
    fill_defaults = {"b": NEG_VALUE if exclusive_classes else 0, "W": 0}
    resizable_scores = resizable(
        scores_layer, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults)
    )
    scores = chain(*layers, resizable_scores)
    resizables = [resizable_scores]
    if bow_ngram_size:
        # in the means, the branch has its own softmax: a label added later must start improbable there too
        own_softmax = exclusive_classes and bow_combine != "sum"
        bow, resizable_bow = BagOfNgrams(bow_ngram_size, bow_length, nO=nO, counts=bow_counts,
                                         new_label_bias=NEG_VALUE if own_softmax else 0.0)
        resizables.append(resizable_bow)
    if bow_ngram_size and bow_combine != "sum":
        model = mean_probabilities(scores, bow, exclusive_classes=exclusive_classes,
                                   geometric=bow_combine == "geometric_mean")
    else:
        if bow_ngram_size:
            scores = sum_outputs("sum_scores", scores, bow)
        model = chain(scores, softmax_scores() if exclusive_classes else Logistic())
    resize = partial(_resize_all, resizables=resizables)
    return _textcat_model(model, tok2vec, pool, scores_layer, resize, exclusive_classes, nO)


def _pooling_layers(
    tok2vec: Model[List[Doc], List[Floats2d]], pooling: str, dropout: float, where: str
) -> Tuple[List[Model], Model]:
    """The start of a classifier: ``tok2vec``, its pooling (told the
    directions of the last ``spacy_rnn.RNNEncoder.v1`` in ``tok2vec``) and, with
    ``dropout``, a Dropout layer. Returns those layers and the pooling."""
    encoders = find_encoders(tok2vec)
    bidirectional = encoders[-1].attrs["bidirectional"] if encoders else False
    pool = build_pooling(pooling, bidirectional=bidirectional, where=where)
    return [tok2vec, pool] + ([Dropout(dropout)] if dropout else []), pool


def _textcat_model(
    model: Model, tok2vec: Model, pool: Model, output_layer: Model, resize: Callable,
    exclusive_classes: bool, nO: Optional[int],
) -> Model[List[Doc], Floats2d]:
    """Give a classifier spaCy's textcat contract: refs "tok2vec", "pooling"
    and "output_layer", ``resize_output``, ``multi_label`` and ``nO``."""
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("pooling", pool)
    model.set_ref("output_layer", output_layer)
    model.attrs["resize_output"] = resize
    model.attrs["multi_label"] = not exclusive_classes
    if nO is not None:
        model.set_dim("nO", nO)
    return model


def check_textcat_args(
    dropout: float, bow_ngram_size: int, bow_length: int, bow_counts: Counts, nO: Optional[int], where: str,
    bow_combine: Combine,
) -> None:
    """Raise a :class:`ConfigValueError` that names the bad setting."""
    check_settings(where, rates={"dropout": dropout}, ints={"bow_length": bow_length, **({} if nO is None else {"nO": nO})})
    if isinstance(bow_ngram_size, bool) or not isinstance(bow_ngram_size, int) or not 0 <= bow_ngram_size <= 5:
        raise ConfigValueError(
            Errors.E002.format(
                name="bow_ngram_size", value=bow_ngram_size, where=where,
                reason="use an int from 0 (no bag-of-words branch) to 5.",
            )
        )
    check_choice(where, "bow_counts", bow_counts, COUNTS)
    check_choice(where, "bow_combine", bow_combine, COMBINE)


def _resize_all(model: Model, new_nO: int, resizables: List[Model]) -> Model:
    """Resize every branch's output layer to ``new_nO`` labels."""
    for i, layer in enumerate(resizables):
        resized = resize_model(layer, new_nO)
        if i == 0:
            model.set_ref("output_layer", resized.layers[0])
    model.set_dim("nO", new_nO, force=True)
    return model
