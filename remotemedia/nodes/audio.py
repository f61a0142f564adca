"""Audio nodes backed by kernels (remotemedia 1.x signatures)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from remotemedia.audio import coerce_audio
from remotemedia.kernels import convert, resolve_impl
from remotemedia.nodes.base import Node
from remotemedia.nodes.registry import register_node


class KernelNode(Node):
    """A node whose work is done by a kernel family.

    Args:
        runtime_hint: ``auto`` (the class default chosen at import), ``native``
            (alias ``rust``; fails loudly when native is missing) or ``python``.
        name: node id.

    Attributes:
        impl: ``"native"`` or ``"python"``, what this instance runs.
        impl_reason: why.
    """

    def __init__(self, runtime_hint: str = "auto", name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.runtime_hint = runtime_hint
        assert self.kernel_family is not None
        self.impl, self.impl_reason = resolve_impl(self.kernel_family, runtime_hint, node_id=self.name)


@register_node
class FormatConverterNode(KernelNode):
    """Converts audio to another sample format.

    Args:
        target_format: ``"f32"``, ``"i16"`` or ``"i32"``.
        runtime_hint: see :class:`KernelNode`.
        name: node id.

    ``process((samples, sample_rate))`` returns ``(array (channels, n), sample_rate)``
    of the target dtype; input already in the target format is returned as is.
    The number of clipped samples of the last call is in ``last_clipped`` and
    the running total in ``total_clipped``.
    """

    kernel_family = "convert"
    input_types = {"audio": "audio"}
    output_types = {"audio": "audio"}

    def __init__(self, target_format: str = "f32", runtime_hint: str = "auto", name: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(runtime_hint=runtime_hint, name=name, **kwargs)
        self.target_format = convert.normalize_format(target_format, node_id=self.name)
        self.last_clipped = 0
        self.total_clipped = 0

    def process(self, data: Any) -> Tuple[np.ndarray, int]:
        samples, sample_rate = coerce_audio(data, node_id=self.name)
        result = convert.convert_format(samples, self.target_format, impl=self.impl)
        self.last_clipped = result.clipped
        self.total_clipped += result.clipped
        return result.samples, sample_rate
