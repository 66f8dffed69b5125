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


TEXT_ENCODERS = Registry("text encoder")
IMAGE_ENCODERS = Registry("image encoder")
AUDIO_ENCODERS = Registry("audio encoder")
FUSIONS = Registry("fusion")

register_text_encoder = TEXT_ENCODERS.register
register_image_encoder = IMAGE_ENCODERS.register
register_audio_encoder = AUDIO_ENCODERS.register
register_fusion = FUSIONS.register


def create_text_encoder(name: str, **kwargs: Any) -> nn.Module:
    return TEXT_ENCODERS.create(name, **kwargs)


def create_audio_encoder(name: str, optional: Mapping[str, Any] | None = None, **kwargs: Any) -> nn.Module:
    return AUDIO_ENCODERS.create(name, optional, **kwargs)


def create_fusion(name: str, **kwargs: Any) -> nn.Module:
    return FUSIONS.create(name, **kwargs)


def create_image_encoder(name: str, optional: Mapping[str, Any] | None = None, **kwargs: Any) -> nn.Module:
    """A registered image encoder, or else any timm model name wrapped by the ``timm`` encoder."""
    if name in IMAGE_ENCODERS:
        return IMAGE_ENCODERS.create(name, optional, **kwargs)
    import timm

    if not timm.is_model(name):
        raise KeyError(
            f"model.image_encoder {name!r} is neither a registered image encoder ({', '.join(sorted(IMAGE_ENCODERS))}) "
            "nor a timm model name; see timm.list_models()"
        )
    return IMAGE_ENCODERS.create("timm", **{**kwargs, "model_name": name})  # the name is the backbone


def image_encoder_reads_pixels(name: str) -> bool:
    """Whether the chart modality's encoder looks at chart pixels (a timm name does; price_evidence reads prices only)."""
    return name not in IMAGE_ENCODERS or "image" in getattr(IMAGE_ENCODERS[name], "input_keys", ("image",))
