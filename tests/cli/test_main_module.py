"""``python -m spacy_rnn`` interrupted while it imports spaCy and torch: one line, exit code 130, no traceback."""
import subprocess
import sys

INTERRUPT_THE_IMPORT = """
import runpy, sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "spacy_rnn.cli":
            raise KeyboardInterrupt  # Ctrl-C in the seconds the imports take
        return None

sys.meta_path.insert(0, Interrupt())
runpy.run_module("spacy_rnn", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_while_starting_is_one_line():
    proc = subprocess.run([sys.executable, "-c", INTERRUPT_THE_IMPORT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "✘ Interrupted while starting: nothing was read or written.\n"
