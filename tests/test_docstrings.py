"""Every public module, class, function and method of l2l has a docstring.

Public: a module whose dotted name has no part starting with "_"; in it, the names of its
`__all__`, or without one the names it defines that do not start with "_"; in a public class,
the methods and properties it defines that do not start with "_". A method overriding a
documented one inherits its docstring (`inspect.getdoc`), as in the API reference, which
`docs/build_api.sh` builds from these docstrings with pdoc.
"""

from __future__ import annotations

import importlib
import inspect

from l2l.serialization import package_modules

KERAS_PROTOCOL = {"build", "call", "compute_output_shape", "compute_output_spec", "get_config",
                  "from_config", "train_step", "test_step", "predict_step"}
"""Methods whose meaning Keras defines: a layer's or model's class docstring says what its
inputs and outputs are, so overriding one needs no docstring of its own."""


def public_modules() -> list:
    names = ["l2l"] + [m for m in package_modules(skip=())
                       if not any(part.startswith("_") for part in m.split("."))]
    return [importlib.import_module(name) for name in sorted(names)]


def public_names(module) -> dict:
    if hasattr(module, "__all__"):
        return {name: getattr(module, name) for name in module.__all__}
    return {name: value for name, value in vars(module).items() if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ == module.__name__}


def undocumented() -> list[str]:
    missing = []
    for module in public_modules():
        if not inspect.getdoc(module):
            missing.append(module.__name__)
        for name, value in public_names(module).items():
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue  # constants: documented by the module's docstring
            if value.__module__ != module.__name__:
                continue  # a re-export: checked where it is defined
            where = f"{module.__name__}.{name}"
            if not inspect.getdoc(value):
                missing.append(where)
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    if attribute.startswith("_") or attribute in KERAS_PROTOCOL:
                        continue
                    if isinstance(member, staticmethod | classmethod):
                        member = member.__func__
                    if not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    if not inspect.getdoc(getattr(value, attribute)):
                        missing.append(f"{where}.{attribute}")
    return missing


def test_every_public_name_has_a_docstring():
    missing = undocumented()
    assert not missing, ("Public names without a docstring (add one; the API reference is "
                         "built from them):\n  " + "\n  ".join(missing))
