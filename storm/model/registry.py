"""Name -> class registries for encoders and fusions (timm style).

A config names a component (``model.fusion: gated``); the registry turns the
name into a class, so adding a variant is one decorated class and every test
parametrised over the registry checks it too.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, TypeVar

from torch import nn

ModuleClass = TypeVar("ModuleClass", bound=type[nn.Module])


class Registry(dict[str, type[nn.Module]]):
    """A dict of name -> nn.Module class with a ``register`` decorator and a ``create`` factory."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[ModuleClass], ModuleClass]:
        def add(cls: ModuleClass) -> ModuleClass:
            if name in self and self[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered to {self[name].__name__}")
            self[name] = cls
            return cls

        return add

    def create(self, name: str, optional: Mapping[str, Any] | None = None, **kwargs: Any) -> nn.Module:
        """``cls(**kwargs)``, plus each ``optional`` setting the class's constructor takes (a window length, a backbone)."""
        if name not in self:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self))}")
        cls = self[name]
        accepted = inspect.signature(cls).parameters
        return cls(**kwargs, **{key: value for key, value in (optional or {}).items() if key in accepted})


# One registry per modality, named for what it reads (config: model.news_encoder, prices_encoder, calls_encoder).
NEWS_ENCODERS = Registry("news encoder")
PRICE_ENCODERS = Registry("prices encoder")
CALL_ENCODERS = Registry("calls encoder")
FUSIONS = Registry("fusion")
ENCODERS = {"news": NEWS_ENCODERS, "prices": PRICE_ENCODERS, "calls": CALL_ENCODERS}

register_news_encoder = NEWS_ENCODERS.register
register_prices_encoder = PRICE_ENCODERS.register
register_calls_encoder = CALL_ENCODERS.register
register_fusion = FUSIONS.register


def create_encoder(modality: str, name: str, optional: Mapping[str, Any] | None = None, **kwargs: Any) -> nn.Module:
    """The modality's registered encoder ``name``; an unknown name is an error listing the registered ones."""
    try:
        return ENCODERS[modality].create(name, optional, **kwargs)
    except KeyError as err:
        raise KeyError(f"model.{modality}_encoder: {err.args[0]}") from None


def create_fusion(name: str, **kwargs: Any) -> nn.Module:
    return FUSIONS.create(name, **kwargs)


def prices_encoder_reads_pixels(name: str) -> bool:
    """Whether the prices encoder also looks at chart pixels (chart_evidence does; price_evidence reads prices only)."""
    return "image" in getattr(PRICE_ENCODERS.get(name), "input_keys", ())
