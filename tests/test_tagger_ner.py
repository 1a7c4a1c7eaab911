"""Our encoder as the tok2vec of spaCy's own components: a tagger (tok2vec
inside its model) and an NER (through a shared ``tok2vec`` component and a
listener) each learn a task that needs context, and get it right on held-out
sentences; with a context-free encoder in its place, each gets half of them wrong.

In both tasks an ambiguous word takes its label from a neighbour: "book" is a
noun after "the" and a verb after "we"; "paris" is a place after "to" and a
person before "said". Every ambiguous word is seen in training with both
labels, so a model that reads the word alone gets half of them wrong. The
held-out sentences put words into frames that they never filled in training.
"""
from typing import Dict, List, Tuple

import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

# Tiny widths: the tasks are small, and the tests take seconds.
WIDTH = 16
TOK2VEC = {
    "@architectures": "spacy.Tok2Vec.v2",
    "embed": {"@architectures": "spacy_rnn.SumHashEmbed.v1", "width": WIDTH, "rows": [500, 100, 100, 100]},
    "encode": {"@architectures": "spacy_rnn.RNNEncoder.v1", "width": WIDTH, "cell": "lstm", "bidirectional": True},
}

# --- the tasks ---------------------------------------------------------------

TAG_WORDS = ["book", "watch", "park", "fly", "ship", "train", "cook", "dance"]
# (frame, the tag of {w} in it); every other word has one tag, in TAGS.
TAG_FRAMES = [
    ("the {w} is here", "NOUN"), ("i like the {w}", "NOUN"), ("a {w} fell down", "NOUN"),
    ("my {w} looks old", "NOUN"), ("where is your {w}", "NOUN"),
    ("we {w} it today", "VERB"), ("they {w} every day", "VERB"), ("please {w} it now", "VERB"),
    ("i will {w} tomorrow", "VERB"), ("you can {w} later", "VERB"),
]
TAGS = {
    "the": "DET", "a": "DET", "my": "DET", "your": "DET", "every": "DET", "is": "AUX", "will": "AUX",
    "can": "AUX", "i": "PRON", "we": "PRON", "they": "PRON", "you": "PRON", "it": "PRON",
    "like": "VERB", "fell": "VERB", "looks": "VERB", "please": "INTJ", "here": "ADV", "down": "ADV",
    "where": "ADV", "now": "ADV", "later": "ADV", "today": "NOUN", "tomorrow": "NOUN", "day": "NOUN",
    "old": "ADJ",
}

NER_WORDS = ["jordan", "paris", "georgia", "chelsea", "austin", "victoria", "florence", "sydney"]
NER_FRAMES = [
    ("we drove to {w} last week", "GPE"), ("she lives in {w} now", "GPE"), ("the train to {w} was late", "GPE"),
    ("i grew up near {w}", "GPE"), ("they moved from {w} in may", "GPE"),
    ("{w} said hello to us", "PERSON"), ("i called {w} yesterday", "PERSON"), ("we met {w} for lunch", "PERSON"),
    ("{w} wrote me a letter", "PERSON"), ("ask {w} about it", "PERSON"),
]


def split(words: List[str], frames: List[Tuple[str, str]]):
    """(text, index of the word, label) for every word in every frame: one
    pair in five held out, so each word keeps both labels in training."""
    training, held_out = [], []
    for i, word in enumerate(words):
        for j, (frame, label) in enumerate(frames):
            text = frame.format(w=word)
            item = (text, text.split().index(word), label)
            (held_out if (i + j) % 5 == 0 else training).append(item)
    return training, held_out


def labels_by_word(items) -> Dict[str, set]:
    seen: Dict[str, set] = {}
    for text, i, label in items:
        seen.setdefault(text.split()[i], set()).add(label)
    return seen


def train(nlp, examples, epochs=20):
    """Seeded; Adam at 0.01, ten times spaCy's default, so that 20 epochs are plenty
    (with seeds 0 to 7 both tasks got every held-out sentence right by epoch 20)."""
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01))
    for _ in range(epochs):
        for start in range(0, len(examples), 8):
            nlp.update(examples[start : start + 8], sgd=optimizer, drop=0.0)
    return nlp


@pytest.fixture(scope="module", params=["tagger", "ner"])
def task(request):
    words, frames = (TAG_WORDS, TAG_FRAMES) if request.param == "tagger" else (NER_WORDS, NER_FRAMES)
    return request.param, split(words, frames)


def test_the_tasks_need_context(task):
    """Each ambiguous word has both labels in training; held-out frames are new to it."""
    name, (train_items, held_out) = task
    words = TAG_WORDS if name == "tagger" else NER_WORDS
    seen = labels_by_word(train_items)
    assert all(len(seen[word]) == 2 for word in words)
    assert not {text for text, _, _ in held_out} & {text for text, _, _ in train_items}
    assert {label for _, _, label in held_out} == {label for _, _, label in train_items}


# --- the tagger ----------------------------------------------------------------

# The control: the same tok2vec with a context-free encoder (a Maxout layer per
# token, window 0) in place of ours.
NO_CONTEXT = {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": WIDTH, "window_size": 0,
              "maxout_pieces": 2, "depth": 1}


def tagger_example(nlp, text, index, tag):
    words = text.split()
    tags = [tag if i == index else TAGS[w] for i, w in enumerate(words)]
    return Example.from_dict(nlp.make_doc(text), {"tags": tags})


def trained_tagger(encode):
    train_items, held_out = split(TAG_WORDS, TAG_FRAMES)
    nlp = spacy.blank("en")
    tok2vec = dict(TOK2VEC, encode=encode)
    nlp.add_pipe("tagger", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": tok2vec}})
    train(nlp, [tagger_example(nlp, *item) for item in train_items])
    docs = list(nlp.pipe(text for text, _, _ in held_out))
    return nlp, docs, held_out


def test_tagger_with_rnn_encoder_learns_context(tmp_path):
    nlp, docs, held_out = trained_tagger(TOK2VEC["encode"])
    assert [doc[i].tag_ for doc, (_, i, _) in zip(docs, held_out)] == [tag for _, _, tag in held_out]
    # every other word gets its one tag too
    assert all(t.tag_ == TAGS[t.text] for doc, (_, i, _) in zip(docs, held_out) for t in doc if t.i != i)
    # the saved pipeline predicts the same
    nlp.to_disk(tmp_path / "tagger")
    loaded = spacy.load(tmp_path / "tagger")
    assert [[t.tag_ for t in doc] for doc in loaded.pipe(doc.text for doc in docs)] == [
        [t.tag_ for t in doc] for doc in docs
    ]


def test_tagger_without_context_gets_half_wrong():
    _, docs, held_out = trained_tagger(NO_CONTEXT)
    right = sum(doc[i].tag_ == tag for doc, (_, i, tag) in zip(docs, held_out))
    assert right <= len(held_out) // 2


# --- the NER, through a listener -------------------------------------------


def ner_example(nlp, text, index, label):
    start = len(" ".join(text.split()[:index])) + (1 if index else 0)
    word = text.split()[index]
    return Example.from_dict(nlp.make_doc(text), {"entities": [(start, start + len(word), label)]})


def trained_ner(encode):
    """A ``tok2vec`` component with ``encode``, and an ``ner`` listening to it."""
    train_items, held_out = split(NER_WORDS, NER_FRAMES)
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec", config={"model": dict(TOK2VEC, encode=encode)})
    nlp.add_pipe("ner", config={"model": {
        "@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "extra_state_tokens": False,
        "hidden_width": WIDTH, "maxout_pieces": 2, "use_upper": True, "nO": None,
        "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": WIDTH, "upstream": "tok2vec"},
    }})
    train(nlp, [ner_example(nlp, *item) for item in train_items])
    texts = [text for text, _, _ in held_out]
    expected = [[(text.split()[i], label)] for text, i, label in held_out]
    return nlp, texts, entities(nlp, texts), expected


def entities(nlp, texts):
    return [[(ent.text, ent.label_) for ent in doc.ents] for doc in nlp.pipe(texts)]


def test_ner_with_rnn_encoder_listener_learns_context(tmp_path):
    nlp, texts, predicted, expected = trained_ner(TOK2VEC["encode"])
    assert predicted == expected
    nlp.to_disk(tmp_path / "ner")
    assert entities(spacy.load(tmp_path / "ner"), texts) == expected


def test_ner_without_context_gets_half_wrong():
    _, _, predicted, expected = trained_ner(NO_CONTEXT)
    assert sum(p == e for p, e in zip(predicted, expected)) <= len(expected) // 2
