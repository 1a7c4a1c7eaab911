"""The components' loss options (spacy_rnn.losses): spaCy's squared error by
default, cross-entropy, class weights ("balanced" saved with the pipeline)
and label smoothing (issue 37, loss options)."""
import numpy
import pytest
import spacy
from spacy.pipeline.textcat import TextCategorizer
from spacy.training import Example

from spacy_rnn.errors import ConfigValueError
from spacy_rnn.losses import balanced_weights

FACTORIES = ["rnn_textcat", "rnn_textcat_multilabel"]
DATA = [("good", "pos"), ("great", "pos"), ("fine", "pos"), ("bad", "neg")]


def make(factory, **config):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe(factory, config={"model": {"bow_ngram_size": 0}, **config})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                for t, l in DATA]
    nlp.initialize(lambda: examples)
    return nlp, pipe, examples


def scores_for(pipe):
    rng = numpy.random.default_rng(0)
    raw = rng.uniform(0.05, 0.95, size=(len(DATA), len(pipe.labels))).astype("float32")
    if pipe.name == "rnn_textcat":
        raw /= raw.sum(axis=1, keepdims=True)
    return raw


@pytest.mark.parametrize("factory", FACTORIES)
def test_default_loss_is_spacys(factory):
    nlp, pipe, examples = make(factory)
    scores = scores_for(pipe)
    base = TextCategorizer.get_loss  # spaCy's, for both of its text classifiers
    ours = pipe.get_loss(examples, scores)
    theirs = base(pipe, examples, scores)
    assert ours[0] == pytest.approx(theirs[0])
    numpy.testing.assert_allclose(ours[1], theirs[1])


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("config", [
    {"loss": "cross_entropy"},
    {"loss": "cross_entropy", "class_weights": "balanced", "label_smoothing": 0.1},
    {"loss": "cross_entropy", "class_weights": {"neg": 3.0}},
])
def test_gradient_is_the_derivative_of_the_loss_at_the_scores_under_the_softmax(factory, config):
    """Our models' softmax (or logistic), like Thinc's, hands its gradient
    straight to the scores under it; d_scores is proportional to the
    finite-difference gradient of the loss value with respect to those
    scores (spaCy's convention: the gradient is not divided by the batch)."""
    nlp, pipe, examples = make(factory, **config)
    exclusive = pipe.name == "rnn_textcat"
    logits = numpy.random.default_rng(0).normal(size=(len(DATA), len(pipe.labels)))

    def probabilities(z):
        if exclusive:
            e = numpy.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return 1 / (1 + numpy.exp(-z))

    value, d_scores = pipe.get_loss(examples, probabilities(logits))
    numeric = numpy.zeros_like(logits)
    for index in numpy.ndindex(logits.shape):
        step = numpy.zeros_like(logits)
        step[index] = 1e-6
        numeric[index] = (pipe.get_loss(examples, probabilities(logits + step))[0]
                          - pipe.get_loss(examples, probabilities(logits - step))[0]) / 2e-6
    ratio = d_scores[numpy.abs(numeric) > 1e-6] / numeric[numpy.abs(numeric) > 1e-6]
    assert ratio.min() > 0
    numpy.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-3)


@pytest.mark.parametrize("factory", FACTORIES)
def test_both_losses_train_alike_and_report_their_own_value(factory):
    """spaCy's P - y is the cross-entropy gradient of the scores under the
    softmax, so "squared" and "cross_entropy" update the weights alike."""
    from thinc.api import fix_random_seed

    trained = {}
    for loss in ("squared", "cross_entropy"):
        fix_random_seed(0)
        nlp, pipe, examples = make(factory, loss=loss, class_weights={"neg": 3.0})
        optimizer = nlp.resume_training()
        losses = {}
        for _ in range(3):
            nlp.update(examples, sgd=optimizer, losses=losses)
        trained[loss] = (pipe.model.get_ref("output_layer").get_param("W").copy(), losses[factory])
    numpy.testing.assert_allclose(trained["squared"][0], trained["cross_entropy"][0], rtol=1e-5, atol=1e-7)
    assert trained["squared"][1] != pytest.approx(trained["cross_entropy"][1])


def test_class_weights_scale_spacys_gradient():
    _, pipe, examples = make("rnn_textcat", class_weights={"neg": 3.0})
    scores = scores_for(pipe)
    _, d_scores = pipe.get_loss(examples, scores)
    _, spacys = TextCategorizer.get_loss(pipe, examples, scores)
    weight = numpy.asarray([[3.0] if label == "neg" else [1.0] for _, label in DATA])
    numpy.testing.assert_allclose(d_scores, spacys * weight, rtol=1e-6)


def test_balanced_weights_are_computed_at_initialize_and_saved(tmp_path):
    nlp, pipe, examples = make("rnn_textcat", class_weights="balanced", loss="cross_entropy")
    assert pipe.cfg["label_weights"] == pytest.approx({"pos": 4 / (2 * 3), "neg": 4 / (2 * 1)})
    assert balanced_weights(examples, ["pos", "neg", "other"])["other"] == 1.0
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p").get_pipe("rnn_textcat")
    assert loaded.cfg["label_weights"] == pytest.approx(pipe.cfg["label_weights"])
    assert loaded.loss == "cross_entropy" and loaded.class_weights == "balanced"
    # the minority class's document gets the larger gradient
    scores = numpy.full((4, 2), 0.5, dtype="float32")
    _, d_scores = pipe.get_loss(examples, scores)
    assert numpy.abs(d_scores[3]).sum() > numpy.abs(d_scores[0]).sum()


def test_label_smoothing_moves_the_targets():
    _, pipe, examples = make("rnn_textcat", label_smoothing=0.2)
    # squared loss at p = y (1 - e) + e / K: zero gradient
    smoothed = numpy.asarray([[0.9, 0.1] if l == "pos" else [0.1, 0.9] for _, l in DATA], dtype="float32")
    order = [pipe.labels.index("pos"), pipe.labels.index("neg")]
    scores = numpy.zeros_like(smoothed)
    scores[:, order] = smoothed
    _, d_scores = pipe.get_loss(examples, scores)
    numpy.testing.assert_allclose(d_scores, 0.0, atol=1e-6)


@pytest.mark.parametrize("config,name", [
    ({"loss": "hinge"}, "loss"), ({"class_weights": "even"}, "class_weights"),
    ({"class_weights": {"pos": 0}}, "class_weights"), ({"label_smoothing": 1.0}, "label_smoothing"),
])
def test_bad_loss_settings(config, name):
    with pytest.raises(ConfigValueError, match=f"E040.*{name}"):
        spacy.blank("en").add_pipe("rnn_textcat", config=config)


@pytest.mark.parametrize("factory", FACTORIES)
def test_training_with_cross_entropy_learns(factory):
    nlp, pipe, examples = make(factory, loss="cross_entropy", class_weights="balanced")
    optimizer = nlp.resume_training()
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    assert nlp("bad").cats["neg"] > 0.5 and nlp("good").cats["pos"] > 0.5
