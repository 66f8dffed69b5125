import numpy as np
import pytest

from storm.config import FeatureConfig
from storm.features.batch_features import HeadlineEmbedder
from storm.features.featurize import embedding_placement


def test_auto_embeds_on_the_cpu_when_the_cluster_has_no_gpus():
    placement = embedding_placement(FeatureConfig(embed_actors=2), cluster_gpus=0, cluster_cpus=16)
    assert (placement.actors, placement.num_cpus, placement.num_gpus, placement.device) == (2, 1, 0, "cpu")


def test_auto_shares_each_gpu_among_several_tokenising_actors():
    placement = embedding_placement(FeatureConfig(gpu_embed_actors_per_gpu=8), cluster_gpus=1, cluster_cpus=16)
    assert (placement.actors, placement.device) == (8, "cuda")
    assert placement.num_gpus == pytest.approx(1 / 8) and placement.num_cpus == 1


def test_gpu_actors_take_at_most_half_the_cpus_but_one_per_gpu_at_least():
    assert embedding_placement(FeatureConfig(), cluster_gpus=1, cluster_cpus=4).actors == 2
    few_cpus = embedding_placement(FeatureConfig(), cluster_gpus=4, cluster_cpus=2)
    assert few_cpus.actors == 4 and few_cpus.num_gpus == 1.0


def test_gpu_shares_never_add_up_to_more_gpus_than_the_cluster_has():
    for gpus, cpus in [(1, 16), (2, 16), (4, 64), (3, 7), (0.5, 8)]:
        placement = embedding_placement(FeatureConfig(embed_actors=3), cluster_gpus=gpus, cluster_cpus=cpus)
        assert placement.actors * placement.num_gpus <= gpus + 1e-9
        assert 0 < placement.num_gpus <= 1


def test_cpu_setting_keeps_embedding_off_the_gpus():
    placement = embedding_placement(FeatureConfig(embed_device="cpu"), cluster_gpus=8, cluster_cpus=64)
    assert (placement.num_gpus, placement.device) == (0, "cpu")


def test_cuda_setting_on_a_cluster_without_gpus_is_an_error_not_a_cpu_run():
    with pytest.raises(ValueError, match="no GPUs"):
        embedding_placement(FeatureConfig(embed_device="cuda"), cluster_gpus=0, cluster_cpus=2)


def test_a_gpu_embedder_reads_the_gpu_batch_size_and_a_cpu_one_the_cpu_batch_size():
    features = FeatureConfig(embed_batch_size=64, gpu_embed_batch_size=512)
    assert HeadlineEmbedder(features, frozenset(), "cuda").encoder_batch_size == 512
    assert HeadlineEmbedder(features, frozenset(), "cpu").encoder_batch_size == 64


def test_headline_embedder_outside_ray_embeds_only_uncached_items_and_keeps_their_keys():
    embedder = HeadlineEmbedder(FeatureConfig(), frozenset({"h-cached"}))
    batch = {"market": np.array(["spx", "spx", "ftse"], dtype=object),
             "date": np.array(["2020-03-02"] * 3, dtype=object),
             "headline": np.array(["Stocks slump on virus fears", "Old news", "FTSE rallies"], dtype=object),
             "content_hash": np.array(["h-new-1", "h-cached", "h-new-2"], dtype=object),
             "source_path": np.array(["raw/news/a.jsonl"] * 3, dtype=object)}
    out = embedder(batch)
    assert list(out["content_hash"]) == ["h-new-1", "h-cached", "h-new-2"]
    assert out["feature"][1] == b""
    vectors = [np.frombuffer(out["feature"][i], dtype=np.float32) for i in (0, 2)]
    assert all(v.shape == (384,) and abs(np.linalg.norm(v) - 1) < 1e-4 for v in vectors)


def test_features_ending_in_zero_bytes_keep_their_full_length():
    from storm.features.batch_features import featurize_new_items

    batch = {"content_hash": np.array(["a", "b", "c"], dtype=object), "market": np.array(["m"] * 3, dtype=object)}
    vectors = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)  # trailing zero bytes, one all zero
    out = featurize_new_items(batch, lambda new: vectors, frozenset({"b"}), ("market", "content_hash"))
    assert [len(f) for f in out["feature"]] == [8, 0, 8]
    np.testing.assert_array_equal(np.frombuffer(out["feature"][2], dtype=np.float32), [0.0, 0.0])
