"""model.fine_tune_text: MiniLM runs inside the model on token ids and trains with it."""

from __future__ import annotations

import pytest
import torch

from model_batches import HORIZONS, small_configs
from storm.features.text import text_model_path
from storm.model import build_model

HEADLINES = ["Central bank signals emergency rate cut", "Index futures slide as credit spreads widen"]
TOKENS = 8


@pytest.fixture(scope="module")
def token_batch():
    from transformers import AutoTokenizer

    _, features = small_configs()
    tokenizer = AutoTokenizer.from_pretrained(text_model_path(features.text_model), local_files_only=True)
    encoded = tokenizer(HEADLINES, padding="max_length", truncation=True, max_length=TOKENS, return_tensors="pt")
    return {
        "text_input_ids": encoded["input_ids"][None],  # [1 sample, 2 headlines, 8 tokens]
        "text_attention_mask": encoded["attention_mask"][None],
        "text_count": torch.tensor([2]),
        "modality_mask": torch.tensor([[1.0, 0.0, 0.0]]),
    }


@pytest.fixture(scope="module")
def finetune_model():
    model_cfg, features = small_configs(modalities=["text"], fine_tune_text=True, modality_dropout=0.0)
    torch.manual_seed(0)
    return build_model(model_cfg, features, HORIZONS)


def test_fine_tuned_text_encoder_reads_token_ids_and_needs_no_cached_embeddings(finetune_model, token_batch):
    assert finetune_model.encoders["text"].input_keys == ("text_input_ids", "text_attention_mask", "text_count")
    output = finetune_model.eval()(token_batch)
    assert output.storm_logits.shape == (1, len(HORIZONS))
    assert torch.isfinite(output.storm_logits).all()


def test_gradients_flow_into_the_minilm_weights(finetune_model, token_batch):
    finetune_model.train().zero_grad()
    finetune_model(token_batch).storm_logits.sum().backward()
    transformer = finetune_model.encoders["text"].transformer
    embedding_grad = transformer.embeddings.word_embeddings.weight.grad
    assert embedding_grad is not None and embedding_grad.abs().sum() > 0
    assert transformer.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def test_headlines_past_text_count_are_ignored(finetune_model, token_batch):
    finetune_model.eval()
    one_headline = dict(token_batch, text_count=torch.tensor([1]))
    changed = dict(one_headline, text_input_ids=token_batch["text_input_ids"].clone())
    changed["text_input_ids"][0, 1, 1:4] = 1000
    with torch.no_grad():
        assert torch.equal(finetune_model(one_headline).storm_logits, finetune_model(changed).storm_logits)
        assert not torch.equal(finetune_model(one_headline).storm_logits, finetune_model(token_batch).storm_logits)
