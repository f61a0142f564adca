"""The one place that loads the compiled module ``remotemedia_runtime``.

The choice is made once, at import, from the environment variable
``REMOTEMEDIA_IMPL``:

- ``auto`` (or unset): use the compiled module when it imports and matches this
  package's version and ABI; otherwise fall back to numpy and record why.
- ``python``: never load the compiled module.
- ``native``: the compiled module is required; importing remotemedia raises
  :class:`ImportError` (a :class:`~remotemedia.errors.NativeUnavailableError`)
  saying why it cannot be used.

Anything else raises :class:`ValueError`. Nothing else in the package imports
the compiled module: kernels reach it through :func:`module`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Optional

from remotemedia._version import __version__
from remotemedia.errors import NativeUnavailableError

ENV_VAR = "REMOTEMEDIA_IMPL"
VALID_CHOICES = ("auto", "python", "native")
MODULE_NAME = "remotemedia_runtime"
#: The ABI version this Python package was written against. The compiled
#: module's ``ABI_VERSION`` must equal it.
EXPECTED_ABI_VERSION = 3


@dataclass(frozen=True)
class NativeStatus:
    """What the loader chose and why.

    Attributes:
        requested: the value of ``REMOTEMEDIA_IMPL`` (``auto`` when unset).
        available: True when the compiled module is loaded and usable.
        version: the compiled module's version, when it was found.
        reason: why native is not used (None when it is).
    """

    requested: str
    available: bool
    version: Optional[str]
    reason: Optional[str]

    @property
    def impl(self) -> str:
        """``"native"`` or ``"python"``: the implementation kernels default to."""
        return "native" if self.available else "python"


def _requested() -> str:
    raw = os.environ.get(ENV_VAR, "")
    value = raw.strip().lower() or "auto"
    if value not in VALID_CHOICES:
        raise ValueError(
            f"{ENV_VAR}: expected one of {', '.join(VALID_CHOICES)}, given {raw!r}"
        )
    return value


def _try_import() -> "tuple[Optional[ModuleType], Optional[str], Optional[str]]":
    """Returns (module, version, reason it is unusable)."""
    try:
        import remotemedia_runtime as mod  # the only import of the compiled module
    except ImportError as exc:
        return None, None, f"the compiled module {MODULE_NAME!r} is not installed ({exc})"
    version = getattr(mod, "__version__", None)
    abi = getattr(mod, "ABI_VERSION", None)
    if version != __version__:
        return None, version, (
            f"{MODULE_NAME} version {version} does not match remotemedia {__version__}; "
            f"install the same version of both (pip install ./native '.[native]')"
        )
    if abi != EXPECTED_ABI_VERSION:
        return None, version, (
            f"{MODULE_NAME} ABI version {abi} does not match the expected {EXPECTED_ABI_VERSION}"
        )
    return mod, version, None


def _load() -> "tuple[NativeStatus, Optional[ModuleType]]":
    requested = _requested()
    if requested == "python":
        return NativeStatus(requested, False, None, f"{ENV_VAR}=python"), None
    mod, version, reason = _try_import()
    if mod is None:
        if requested == "native":
            raise NativeUnavailableError(f"{ENV_VAR}=native but native cannot be used: {reason}")
        return NativeStatus(requested, False, version, reason), None
    return NativeStatus(requested, True, version, None), mod


STATUS, _MODULE = _load()


def module() -> Optional[ModuleType]:
    """The compiled module, or None when native is not in use."""
    return _MODULE
