"""``python -m spacy_rnn``: the spacy-rnn command line (see ``spacy_rnn.cli``)."""
if __name__ == "__main__":
    from spacy_rnn.cli import setup_cli

    setup_cli()
