"""Features: text embeddings, chart tensors and log-mel cached by content hash, the per-day evidence panel, windows,
and per-sentence voice features of a recording (voice: imported without the cache's pandas and pyarrow)."""
