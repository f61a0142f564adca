"""KernelNode: a node whose work is done by a kernel family, bound to one implementation.

The implementation is chosen by :mod:`remotemedia.kernels` (the one module that
decides) from the node's ``runtime_hint`` when the node is built, and again
whenever ``runtime_hint`` is assigned; the node then binds the kernel
implementations it calls (:meth:`KernelNode._bind`), so a call does no lookup.
:meth:`KernelNode.with_impl` gives a copy bound to another implementation,
leaving the node itself untouched (what a run with ``use_rust=False`` uses).
"""

from __future__ import annotations

from typing import Any, Optional

from remotemedia.errors import KernelInputError
from remotemedia.kernels import IMPLS, resolve_impl
from remotemedia.nodes.base import Node


class KernelNode(Node):
    """A node whose work is done by a kernel family.

    Args:
        runtime_hint: ``auto`` (the class default chosen at import), ``native``
            (alias ``rust``; fails loudly when native is missing) or ``python``.
        name: node id.

    Attributes:
        runtime_hint: the hint as given; assigning it chooses and binds the
            implementation again (and drops any stream state).
        impl: ``"native"`` or ``"python"``, what this instance runs.
        impl_reason: why.
    """

    def __init__(self, runtime_hint: str = "auto", name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        assert self.kernel_family is not None
        self.runtime_hint = runtime_hint

    @property
    def runtime_hint(self) -> str:
        return self._runtime_hint

    @runtime_hint.setter
    def runtime_hint(self, runtime_hint: str) -> None:
        impl, why = resolve_impl(self.kernel_family, runtime_hint, node_id=self.name)  # type: ignore[arg-type]
        self._runtime_hint = runtime_hint
        params = self.__dict__.get("_init_params")
        if isinstance(params, dict) and "runtime_hint" in params:
            params["runtime_hint"] = runtime_hint  # get_params() / to_manifest() say what runs
        self._set_impl(impl, why)

    @property
    def impl(self) -> str:
        return self._impl

    @impl.setter
    def impl(self, impl: str) -> None:
        """Binds ``impl`` (``"python"``/``"native"``) directly; prefer ``runtime_hint`` or :meth:`with_impl`."""
        if impl not in IMPLS:
            raise KernelInputError("impl", "'python' or 'native'", repr(impl), node_id=self.name)
        self._set_impl(*resolve_impl(self.kernel_family, impl, node_id=self.name))  # type: ignore[arg-type]

    def _set_impl(self, impl: str, why: str) -> None:
        self._impl = impl
        self.impl_reason = why
        self._bind(impl)

    def _bind(self, impl: str) -> None:
        """Selects the kernel implementations this node calls (subclasses); drops any stream state.

        Called when the node is built and whenever its implementation changes.
        """

    def with_impl(self, impl: str) -> "KernelNode":
        """A copy of this node bound to ``impl``, with fresh stream state; this node is untouched.

        The copy is built again from this node's constructor parameters
        (:meth:`get_params`, the same ``name``) and then given
        ``runtime_hint=impl``.

        Args:
            impl: ``"python"`` or ``"native"``.

        Raises:
            KernelInputError: another value.
            NativeUnavailableError: ``"native"`` and native cannot run this node's kernel.
        """
        if impl not in IMPLS:
            raise KernelInputError("impl", "'python' or 'native'", repr(impl), node_id=self.name)
        resolve_impl(self.kernel_family, impl, node_id=self.name)  # type: ignore[arg-type]  # fails before building
        params = self.get_params()
        copy = type(self)(name=self.name, **params)
        copy.runtime_hint = impl
        return copy
