"""User-facing error messages, in the style of spaCy's ``Errors`` table.

Each message says what was wrong, where, and what to do about it.
"""


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
        "Choose one of: {allowed}."
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


class ConfigValueError(ValueError):
    """A registered function received an argument it cannot use."""
