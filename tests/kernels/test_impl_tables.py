"""The implementation is decided in one module and bound once: tables, lookups, errors."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import remotemedia
from remotemedia import _native, kernels
from remotemedia.errors import KernelInputError, NativeUnavailableError
from remotemedia.kernels import convert, mix, normalize, resample, vad

TABLES = {"convert": convert.TABLE, "mix": mix.TABLE, "resample": resample.TABLE, "webrtc_vad": vad.WEBRTC_TABLE,
          "energy_vad": vad.ENERGY_TABLE, "normalize": normalize.TABLE}


def test_every_family_has_a_table_with_its_default():
    assert set(TABLES) == set(kernels.FAMILIES)
    for family, table in TABLES.items():
        impl, why = kernels.default_impl(family)
        assert table.family == family
        assert table[None] is table[impl] and table.select(None) is table[impl]
        assert ("native" in table) == (kernels.native_missing_reason(family) is None)
        assert impl == _native.STATUS.impl and why


def test_a_missing_implementation_raises_what_impl_always_raised():
    table = kernels.ImplTable("mix", {"python": "py", None: "py"})
    for bad in ("fast", 3, None.__class__, ["native"]):  # a list is unhashable: same error
        with pytest.raises(KernelInputError) as info:
            table.select(bad)
        assert str(info.value) == f"impl: expected 'python' or 'native', given {bad!r}"
    with pytest.raises(NativeUnavailableError, match="impl='native' but native mix is unavailable: "):
        table.select("native")
    assert table.select("python") == "py"


def test_public_functions_take_impl_as_before(impl):
    x = np.array([[1, 3], [2, 4]], dtype=np.int16)
    np.testing.assert_array_equal(mix.mix_to_mono(x, impl=impl), [[2, 4]])
    with pytest.raises(KernelInputError, match="impl: expected 'python' or 'native', given 'fast'"):
        convert.convert_format(x, "f32", impl="fast")
    with pytest.raises(KernelInputError, match=r"impl: expected 'python' or 'native', given \['native'\]"):
        mix.mix_to_mono(x, impl=["native"])


@pytest.mark.skipif(_native.module() is not None, reason="needs the pure install")
def test_native_asked_for_in_the_pure_install_names_the_family():
    with pytest.raises(NativeUnavailableError, match="impl='native' but native resample is unavailable"):
        resample.resample(np.zeros(10, np.float32), 48000, 16000, impl="native")


def test_node_classes_and_info_ask_the_kernels_module():
    from remotemedia.nodes.registry import registered_classes

    info = remotemedia.info()
    for name, cls in registered_classes().items():
        if cls.kernel_family is None:
            continue
        assert (cls.default_impl, cls.default_impl_reason) == kernels.default_impl(cls.kernel_family), name
        assert info["nodes"][name]["implementation"] == cls.default_impl
    for family in kernels.FAMILIES:
        assert info["kernels"][family] == dict(zip(("implementation", "reason"), kernels.default_impl(family)))


def test_only_the_kernels_package_reaches_the_loader_for_kernels():
    """Kernel modules and nodes never look at the compiled module: remotemedia.kernels.select decides
    (re-exported by the package)."""
    root = pathlib.Path(remotemedia.__file__).parent
    offenders = []
    for path in [*(root / "kernels").rglob("*.py"), *(root / "nodes").rglob("*.py"), root / "audio.py",
                 root / "validate.py"]:
        if path == root / "kernels" / "select.py":
            continue
        text = path.read_text()
        if "_native" in text.replace("_native_runner", "") or "check_impl" in text or "hasattr(mod" in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
