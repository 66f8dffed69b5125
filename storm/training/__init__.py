"""Training: the multi-task loss, calm-day sampling, the plain-PyTorch loop, checkpoints, the Ray trainer.

What a trained run publishes, and everything that scores with it, is storm.published. Import from the modules:
``storm.training.trainer`` (Ray) for ``train`` and ``train_models``; ``storm.training.loop`` (no Ray) for the loop.
"""
