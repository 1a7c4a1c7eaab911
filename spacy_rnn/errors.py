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


class ConfigValueError(ValueError):
    """A registered function received an argument it cannot use."""
