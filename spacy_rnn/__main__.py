"""``python -m spacy_rnn``: the spacy-rnn command line (see ``spacy_rnn.cli``)."""
if __name__ == "__main__":
    try:
        # importing spaCy and torch takes seconds: Ctrl-C then is not a traceback
        from spacy_rnn.cli import setup_cli
    except KeyboardInterrupt:
        import sys

        sys.stderr.write("✘ Interrupted while starting: nothing was read or written.\n")
        raise SystemExit(130)
    setup_cli()
