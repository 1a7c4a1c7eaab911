"""GPU checks: skipped cleanly where no CUDA device (or no cupy) is present."""
import numpy
import pytest
import torch

pytestmark = pytest.mark.gpu

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@needs_cuda
def test_encoder_module_on_gpu_matches_cpu():
    from spacy_rnn.torch import RecurrentEncoder

    torch.manual_seed(0)
    cpu = RecurrentEncoder("lstm", 6, 8, depth=2, bidirectional=True).eval()
    gpu = RecurrentEncoder("lstm", 6, 8, depth=2, bidirectional=True).eval()
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda()
    lengths = [3, 0, 17, 1]
    X = torch.randn(sum(lengths), 6)
    with torch.no_grad():
        expected = cpu(X, lengths)
        got = gpu(X.cuda(), lengths).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@needs_cuda
def test_pipeline_trains_and_predicts_on_gpu():
    thinc_api = pytest.importorskip("thinc.api")
    pytest.importorskip("cupy")
    import spacy
    from spacy.training import Example

    thinc_api.require_gpu(0)
    try:
        nlp = spacy.blank("en")
        nlp.add_pipe("rnn_textcat")
        labels = ["negative", "positive"]
        texts = ["great film", "awful , boring", "I loved it", "", "worst ever"]
        golds = ["positive", "negative", "positive", "negative", "negative"]
        examples = [
            Example.from_dict(nlp.make_doc(t), {"cats": {l: float(l == g) for l in labels}})
            for t, g in zip(texts, golds)
        ]
        optimizer = nlp.initialize(lambda: examples)
        losses = {}
        for _ in range(5):
            nlp.update(examples, sgd=optimizer, losses=losses)
        docs = list(nlp.pipe(texts))
        assert all(abs(sum(d.cats.values()) - 1) < 1e-4 for d in docs)
        encoder = nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec").get_ref("encode")
        assert next(encoder.shims[0]._model.parameters()).is_cuda
        # batch invariance holds on the GPU too
        for text, doc in zip(texts, docs):
            alone = nlp(text).cats
            assert all(abs(alone[k] - doc.cats[k]) < 1e-4 for k in alone)
    finally:
        thinc_api.use_ops("numpy")
