"""The judged mode's `tinytorch`: a proxy package whose every name forwards to the worker.

In a judged run (`--kata-judged`, set by the grader) the test process never imports the
submission. `install()` puts a finder first on sys.meta_path that answers every `tinytorch...`
import with a ProxyModule built from grading/judged/api.toml (one proxy module per package module).
Their names are proxies:

  * an API class becomes a ProxyMeta class with the API's bases, so isinstance/issubclass work
    against it; calling it constructs the object in the worker. Its instances are RemoteObjects:
    attribute reads and writes, method calls and exactly the API's operators forward to the worker
    (Python's own operator semantics run there, reflected and in-place ones included);
  * an API function becomes a ProxyFunction;
  * anything else the worker returns that cannot cross by value is a plain RemoteObject, which
    compares by identity and has no operators: an object of the submission's own class that
    claims to equal everything claims it only inside the worker.

One remote object is one proxy (`a is b` holds for the same object). A class a test defines on a
proxied base (a Module, Function or Dataset of its own) is defined in the worker too, with the
same bases, and each of its methods calls back into the test process; a test's function passed
to the submission is called back the same way. When the worker crashes, proxies from before fail
with a clear error and the next call starts a fresh worker.
"""
from __future__ import annotations

import collections.abc
import copy
import importlib.abc
import importlib.machinery
import subprocess
import sys
import types
import weakref

from grading.judged import apimap, remote, replay, wire
from grading.judged.wire import Callback, Handle
from grading.judged.worker import error_name

PACKAGE = "tinytorch"
ARRAY_CLASS = "tinytorch.core.tensor.Tensor"  # its instances' `.data` travels with their handles (worker._snapshots)
# What the submission reads of an error in the test's code (a callback's, or one that ends a `with`
# block around the submission's context manager): a fixed text, never the error's own, which could
# name the test or quote its source or its inputs.
TEST_ERROR_TEXT = "raised in the test's code (its details stay with the test)"
CALLBACK_UNKNOWN = "there is no such test callback"
VISIBLE_TESTS = "spec."  # the package of the visible tests: the students have their source already


def _text_for_worker(error: BaseException) -> str:
    """What the worker is told of an error that ends a test's callback or `with` block: the error's
    own text when the submission raised it (it crossed from the worker, and says what to implement,
    say), else TEST_ERROR_TEXT: an error of the test's own could name the test or quote its inputs."""
    from_submission = getattr(error, "kata_frames", None) is not None  # set on every error a worker reported
    return str(error)[:1000] if from_submission else TEST_ERROR_TEXT


def _name_in_worker(cls: type, tag: int) -> str:
    """The name a test's class has in the worker: its own for a class of the visible spec (a student
    can read it there, and what it reports may show it, a profile row say), a neutral one for any
    other (a hidden test's class name is not the submission's to read). Its members keep their names,
    since the submission calls them by name."""
    return cls.__name__ if cls.__module__.startswith(VISIBLE_TESTS) else f"TestClass{tag}"
RUNTIME: "Runtime | None" = None

BINARY = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift", "rshift"}
UNARY = {"neg", "pos", "abs", "invert"}
COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}
CONVERSIONS = {"len", "iter", "next", "bool", "repr", "str", "float", "int", "index", "complex"}
# Dunders a proxy class never mirrors: attribute machinery and class creation stay the proxy's own.
NOT_MIRRORED = {"__getattr__", "__getattribute__", "__setattr__", "__delattr__", "__new__", "__init_subclass__",
                "__class_getitem__", "__set_name__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
                "__dir__", "__del__", "__hash__", "__copy__", "__deepcopy__", "__format__", "__sizeof__",
                "__subclasshook__", "__instancecheck__", "__subclasscheck__", "__get__", "__set__", "__delete__"}


class StaleObject(RuntimeError):
    """A proxy whose worker has since crashed or been replaced."""


class Runtime:
    """The harness's side of one judged session: the worker, the proxy tables, the callbacks."""

    def __init__(self, worker: remote.Worker, api: apimap.Api):
        self.worker, self.api = worker, api
        self.generation = 0
        self.epoch = 0  # requests sent so far
        self.modules: dict[str, ProxyModule] = {}
        self.proxy_classes: dict[str, type] = {}  # canonical API name -> proxy class
        self.test_classes: dict[int, type] = {}  # tag -> a class a test defined on a proxied base
        self._callbacks: dict[int, object] = {}  # kept across workers: they are the harness's own objects
        self._callback_ids: dict[int, int] = {}
        self._depth = 0  # requests in progress (callbacks nest them)
        self._failed_checks: list[AssertionError] = []
        self.lost: BaseException | None = None  # how the worker was lost during the current test
        self.recorder: replay.Recording | None = None  # sees every request while one evaluation is recorded
        self._reset()

    def _reset(self) -> None:
        self._proxies: dict[int, weakref.ref] = {}
        self._pending: set[int] = set()  # handles of dead proxies, released with the next request
        self._remote: dict[tuple, Handle] = {}  # ("module", name) | ("class", canonical) | ("test", tag)

    # ------------------------------------------------------------------ requests
    def new_test(self) -> None:
        """A test starts: a worker lost during the last one is replaced at this test's first call."""
        self.lost = None
        self._failed_checks.clear()

    def request(self, message: dict):
        __tracebackhide__ = True  # a failing test shows its own line and the submission's error
        if self.lost is not None:
            # The worker died or hung earlier in this test: every later call of the test fails the same
            # way (a fresh worker would lack what the test set up, and Hypothesis's replay of the
            # failing example must meet the same failure).
            raise copy.copy(self.lost)
        if not self.worker.running:
            self._reset()
            snapshot = [name for name in self.api.classes if self._derives_from(name, ARRAY_CLASS)]
            self.worker.request({"op": "hello", "api": sorted(self.api.classes), "snapshot": snapshot})
            self.generation = self.worker.generation
        if self._pending:
            message = {**message, "release": sorted(self._pending)}
            self._pending.clear()
        self._depth += 1
        self.epoch += 1  # any request may run the submission's code: snapshots from before are old
        try:
            answer = self.worker.request(message, self._on_callback)
        except BaseException as error:
            if not self.worker.running:
                self.lost = error
            self._raise_failed_check(error)
            raise
        finally:
            self._depth -= 1
        self._raise_failed_check(None)
        if self.recorder is not None and self._depth == 0:
            self.recorder.saw(message, answer)
        value = self.incoming(answer)
        for number, data in self.worker.snapshots.items():
            proxy = self._proxies.get(number)
            if proxy is not None and proxy() is not None:
                object.__setattr__(proxy(), "_kata_snapshot", (self.epoch, data))
        return value

    def _raise_failed_check(self, cause: BaseException | None) -> None:
        """When the outermost request ends: a test's assertion that failed inside a callback fails
        the test, whatever the submission did with the error it saw there."""
        if self._depth == (1 if cause is not None else 0) and self._failed_checks:
            failed, self._failed_checks = self._failed_checks[0], []
            raise failed from cause

    def _derives_from(self, name: str, base: str) -> bool:
        return name == base or any(self._derives_from(parent, base) for parent in self.api.classes[name].bases)

    def _on_callback(self, message: dict) -> dict:
        if self.recorder is not None:
            self.recorder.saw_callback()
        target = self._callbacks.get(message["callback"]) if isinstance(message["callback"], int) else None
        if target is None:
            return {"error": ["RuntimeError", CALLBACK_UNKNOWN]}
        try:
            args = self.incoming(message["args"])
            kwargs = self.incoming(message["kwargs"])
            result = target(*args, **kwargs)
            return {"value": self.outgoing(result)}
        except AssertionError as error:
            self._failed_checks.append(error)
            return {"error": ["AssertionError", _text_for_worker(error)]}
        except Exception as error:  # noqa: BLE001 -- the callback's error becomes the worker's error
            return {"error": [error_name(error), _text_for_worker(error)]}

    def invoke(self, target, name: str, args: tuple, kwargs: dict, via_class: bool = False):
        __tracebackhide__ = True
        message = {"op": "invoke", "target": self.outgoing(target), "name": name, "args": self.outgoing(list(args)),
                   "kwargs": self.outgoing(dict(kwargs))}
        if via_class:
            message["via_class"] = True
        return self.request(message)

    def getattr(self, target, name: str):
        """`target.name` read in the worker (target: a proxy, a proxy class or a proxy module)."""
        __tracebackhide__ = True
        return self.request({"op": "getattr", "target": self.outgoing(target), "name": name})

    def operation(self, name: str, *args):
        __tracebackhide__ = True
        return self.request({"op": "op", "name": name, "args": self.outgoing(list(args))})

    # ------------------------------------------------------------------ worker -> harness
    def incoming(self, value):
        if isinstance(value, Handle):
            return self._proxy_for(value)
        if isinstance(value, Callback):
            return self._callbacks.get(value.id)
        if isinstance(value, list):
            return [self.incoming(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.incoming(v) for v in value)
        if isinstance(value, dict):
            return {k: self.incoming(v) for k, v in value.items()}
        return value

    def _proxy_for(self, handle: Handle):
        kind, _, name = handle.kind.partition(":")
        if kind == "class" and name in self.api.classes:
            self._remote.setdefault(("class", name), handle)
            return self.proxy_class(name)
        if kind == "class-test" and name.isdigit() and int(name) in self.test_classes:
            self._remote.setdefault(("test", int(name)), handle)
            return self.test_classes[int(name)]
        if kind == "module" and name in self.api.modules:
            self._remote.setdefault(("module", name), handle)
            return self.module(name)
        known = self._proxies.get(handle.id)
        proxy = known() if known is not None else None
        if proxy is not None:
            return proxy
        self._pending.discard(handle.id)  # it is alive again; the worker never forgot it
        if kind == "api" and name in self.api.classes:
            cls = self.proxy_class(name)
        elif kind == "test" and name.isdigit() and int(name) in self.test_classes:
            cls = self.test_classes[int(name)]
        else:
            cls = RemoteObject
        proxy = object.__new__(cls)
        object.__setattr__(proxy, "_kata_ref", (self.generation, handle.id))
        generation, number = self.generation, handle.id
        self._proxies[number] = weakref.ref(proxy, lambda ref: self._forget(generation, number, ref))
        return proxy

    def _forget(self, generation: int, number: int, ref: weakref.ref) -> None:
        if generation == self.generation and self._proxies.get(number) is ref:
            del self._proxies[number]
            self._pending.add(number)

    # ------------------------------------------------------------------ harness -> worker
    def outgoing(self, value, depth: int = 0):
        """A value as it crosses to the worker (grading/judged/wire.py decides what crosses by value)."""
        return wire.by_value_or(value, self._reference, depth)

    def _reference(self, value, depth: int):
        """How a harness object that cannot cross by value reaches the worker: a proxy as its
        handle, a test's generator as a list, anything else as a callback."""
        if isinstance(value, RemoteObject):
            return self.handle_of(value)
        if isinstance(value, ProxyMeta):
            return self.class_handle(value)
        if isinstance(value, (ProxyFunction, BoundRemote)):
            return value.remote_handle()
        if isinstance(value, ProxyModule):
            return self.module_handle(value.__name__)
        if isinstance(value, (collections.abc.Iterator, range, set, frozenset, collections.abc.MappingView)) \
                and not callable(value):
            # A test's generator (a corpus, say) crosses as the list of what it yields.
            return [self.outgoing(v, depth + 1) for v in value]
        return self._export(value)

    def live_handles(self) -> frozenset[int]:
        """The handles of the worker's objects that the harness holds a proxy of now."""
        return frozenset(number for number, ref in list(self._proxies.items()) if ref() is not None)

    @staticmethod
    def is_remote(value) -> bool:
        return isinstance(value, RemoteObject)

    def handle_of(self, proxy: "RemoteObject") -> Handle:
        generation, number = object.__getattribute__(proxy, "_kata_ref")
        if generation != self.generation or not self.worker.running:
            raise StaleObject("this object lived in a submission process that has since crashed or been stopped; "
                              "it cannot be used any more")
        return Handle(number)

    def _export(self, value) -> Callback:
        """A harness object the worker may call back (a test's function, say)."""
        number = self._callback_ids.get(id(value))
        if number is None or self._callbacks.get(number) is not value:
            number = len(self._callbacks) + 1
            self._callbacks[number], self._callback_ids[id(value)] = value, number
        return Callback(number)

    def module_handle(self, name: str) -> Handle:
        if not self.worker.running or ("module", name) not in self._remote:
            found = self.request({"op": "import", "module": name})
            if found is not self.module(name):
                raise TypeError(f"importing {name} in the submission's process gave {type(found).__name__}, not the module")
        return self._remote[("module", name)]

    def class_handle(self, cls: type) -> Handle:
        tag = cls.__dict__.get("_kata_test_tag")
        if tag is not None:
            return self._test_class_handle(cls, tag)
        canonical = cls._kata_canonical
        if not self.worker.running or ("class", canonical) not in self._remote:
            module, _, name = canonical.rpartition(".")
            found = self.getattr(self.module(module), name)
            if found is not cls:
                raise TypeError(f"the submission's {canonical} is not a class (got {type(found).__name__})")
        return self._remote[("class", canonical)]

    def _test_class_handle(self, cls: type, tag: int) -> Handle:
        if not self.worker.running or ("test", tag) not in self._remote:
            bases = [self.class_handle(base) for base in cls.__bases__ if isinstance(base, ProxyMeta)]
            members = {name: member for name, value in vars(cls).items() if (member := self._member(value))}
            self.request({"op": "define", "tag": tag, "name": _name_in_worker(cls, tag), "bases": bases,
                          "members": members})
        return self._remote[("test", tag)]

    def _member(self, value) -> list | None:
        """How one attribute of a test's class is defined in the worker (None: not at all)."""
        if isinstance(value, staticmethod):
            return ["static", self._export(value.__func__)]
        if isinstance(value, classmethod):
            return ["class", self._export(value.__func__)]
        if isinstance(value, property):
            return ["property"] + [self._export(f) if f else None for f in (value.fget, value.fset)]
        if isinstance(value, types.FunctionType):
            return ["method", self._export(value)]
        if wire.crosses_by_value(value) and not isinstance(value, str):
            return ["value", value]
        return None

    # ------------------------------------------------------------------ the proxy package
    def module(self, name: str) -> "ProxyModule":
        if name not in self.modules:
            module = ProxyModule(name)
            module.__loader__ = None
            module.__package__ = name if self.api.is_package(name) else name.rpartition(".")[0]
            if self.api.is_package(name):
                module.__path__ = []
            self.modules[name] = module
        return self.modules[name]

    def proxy_class(self, canonical: str) -> type:
        if canonical not in self.proxy_classes:
            spec = self.api.classes[canonical]
            bases = tuple(self.proxy_class(base) for base in spec.bases) or (RemoteObject,)
            module, _, name = canonical.rpartition(".")
            namespace = {"__module__": module, "__qualname__": name, "_kata_canonical": canonical, **spec.values}
            for method in spec.methods:
                if method.startswith("__") and method.endswith("__"):
                    if method not in NOT_MIRRORED and (dunder := _dunder(method)) is not None:
                        namespace[method] = dunder
                else:
                    namespace[method] = RemoteMethod(method)
            for method in spec.static + spec.classmethods:
                namespace[method] = RemoteClassAttribute(method)
            namespace["__hash__"] = None if spec.unhashable else RemoteObject.__hash__
            self.proxy_classes[canonical] = ProxyMeta(name, bases, namespace)
        return self.proxy_classes[canonical]

    def fresh_python(self, code: str, timeout: float) -> subprocess.CompletedProcess:
        done = self.request({"op": "fresh", "code": code, "timeout": timeout})
        if not (isinstance(done, dict) and isinstance(done.get("returncode"), int)
                and all(isinstance(done.get(key), str) for key in ("stdout", "stderr"))):
            raise RuntimeError("the submission's process answered a fresh-interpreter run with something else")
        return subprocess.CompletedProcess(["python", "-c", code], done["returncode"], done["stdout"], done["stderr"])


def runtime() -> Runtime:
    if RUNTIME is None:
        raise RuntimeError("the judged runtime is not installed (grading.judged.proxy.install)")
    return RUNTIME


# ---------------------------------------------------------------------- proxies
class RemoteObject:
    """An object that lives in the worker. Attribute access and calls forward; equality and
    hashing are by identity; it has no operators of its own (API classes add theirs)."""

    __slots__ = ("_kata_ref", "_kata_snapshot", "__weakref__")

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__") or name == "_kata_snapshot":
            raise AttributeError(name)  # protocol probes (numpy's __array_interface__, ...) stay local
        run = runtime()
        if name == "data":
            epoch, data = getattr(self, "_kata_snapshot", (-1, None))
            if epoch == run.epoch:  # read with the answer that brought this object; nothing ran since
                return data
        return run.getattr(self, name)

    def __setattr__(self, name: str, value) -> None:
        run = runtime()
        run.request({"op": "setattr", "target": run.outgoing(self), "name": name, "value": run.outgoing(value)})

    def __delattr__(self, name: str) -> None:
        run = runtime()
        run.request({"op": "delattr", "target": run.outgoing(self), "name": name})

    def __call__(self, *args, **kwargs):
        run = runtime()
        return run.request({"op": "call", "target": run.outgoing(self), "args": run.outgoing(list(args)),
                            "kwargs": run.outgoing(kwargs)})

    def __iter__(self):
        return runtime().operation("iter", self)

    def __next__(self):
        return runtime().operation("next", self)

    def __len__(self):
        return runtime().operation("len", self)

    def __getitem__(self, key):
        return runtime().operation("getitem", self, key)

    def __setitem__(self, key, value):
        runtime().operation("setitem", self, key, value)

    def __contains__(self, item):
        return runtime().operation("contains", self, item)

    def __bool__(self):
        return runtime().operation("bool", self)

    def __repr__(self):
        return _text(runtime().operation("repr", self))

    def __str__(self):
        return _text(runtime().operation("str", self))

    def __enter__(self):
        return runtime().operation("enter", self)

    def __exit__(self, kind, error, traceback):
        name = error_name(error) if error is not None else None
        return runtime().operation("exit", self, name, _text_for_worker(error) if error is not None else None)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the submission's __repr__/__str__ returned {type(value).__name__}, not str")
    return value


def _dunder(method: str):
    """The proxy implementation of one API dunder (None when it is not one a proxy forwards)."""
    bare = method[2:-2]
    if method == "__init__":
        def init(self, *args, **kwargs):  # reached through super().__init__() in a test's class
            owner = _owner_of(type(self), "__init__")
            runtime().invoke(owner, "__init__", (self, *args), kwargs)
        return init
    if method == "__call__":
        return RemoteObject.__call__
    if bare in BINARY:
        return lambda self, other: runtime().operation(_operator(bare), self, other)
    if bare.startswith("r") and bare[1:] in BINARY:  # reflected: Python's own dispatch, run in the worker
        return lambda self, other: runtime().operation(_operator(bare[1:]), other, self)
    if bare.startswith("i") and bare[1:] in BINARY:
        return lambda self, other: runtime().operation(bare, self, other)
    if bare in UNARY:
        return lambda self: runtime().operation(bare, self)
    if bare in COMPARISONS:
        return lambda self, other: runtime().operation(bare, self, other)
    if bare in CONVERSIONS or bare in {"getitem", "setitem", "delitem", "contains", "enter", "exit"}:
        return getattr(RemoteObject, method, None) or (lambda self, *args: runtime().operation(bare, self, *args))
    if method == "__array__":
        return lambda self, *args, **kwargs: runtime().invoke(self, "__array__", args, kwargs)
    return None


def _operator(name: str) -> str:
    """The operator module's name for a binary dunder's stem ("and" is operator.and_)."""
    return name + "_" if name in ("and", "or") else name


def _owner_of(cls: type, name: str) -> type:
    """The nearest proxy API class (not a test's class) in cls's MRO that defines `name`."""
    for klass in cls.__mro__:
        if "_kata_canonical" in klass.__dict__ and name in klass.__dict__:
            return klass
    return cls


class ProxyMeta(type):
    """The metaclass of proxy API classes and of every class a test derives from them."""

    _next_tag = 0

    def __init__(cls, name, bases, namespace, **kwargs):
        super().__init__(name, bases, namespace, **kwargs)
        if "_kata_canonical" not in namespace:  # a class a test defined: known to the worker by a tag
            ProxyMeta._next_tag += 1
            cls._kata_test_tag = ProxyMeta._next_tag
            runtime().test_classes[ProxyMeta._next_tag] = cls

    def __call__(cls, *args, **kwargs):
        run = runtime()
        return run.request({"op": "call", "target": run.class_handle(cls), "args": run.outgoing(list(args)),
                            "kwargs": run.outgoing(kwargs)})

    def __getattr__(cls, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return runtime().getattr(cls, name)


class RemoteMethod:
    """An API method on a proxy class. On an instance it is a BoundRemote (the worker resolves the
    method on the object's own class); reached through super() from a test's override, or on the
    class itself, it calls the API class's function with the instance as `self`."""

    def __init__(self, name: str):
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner

    def __get__(self, instance, owner=None):
        if instance is None:
            return _ClassFunction(owner, self.name)
        if _first_definition(type(instance), self.name) is self:
            return BoundRemote(instance, self.name)
        return _ClassFunction(self.owner, self.name).bind(instance)


class RemoteClassAttribute:
    """An API static or class method: read from the worker's class (a test's subclass included)."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, instance, owner=None):
        return runtime().getattr(type(instance) if instance is not None else owner, self.name)


def _first_definition(cls: type, name: str):
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def _held_remote(holder, fetch) -> Handle:
    """The handle of a worker object fetched for `holder` and kept alive by it.

    Passing an API function or method as an argument needs the worker's own function object. The
    proxy standing for it must outlive the request that carries its handle, or its release would
    travel with that same request; `holder` keeps it (refetched after the worker is replaced)."""
    run = runtime()
    held = holder._held
    if held is None or held[0] != run.generation:
        held = (run.generation, fetch(run))
        holder._held = held
    return run.outgoing(held[1])


class BoundRemote:
    """`obj.method` for an API method: one round trip when called."""

    __slots__ = ("target", "name", "_held")

    def __init__(self, target, name: str):
        self.target, self.name, self._held = target, name, None

    def __call__(self, *args, **kwargs):
        return runtime().invoke(self.target, self.name, args, kwargs, via_class=True)

    def remote_handle(self) -> Handle:
        return _held_remote(self, lambda run: run.getattr(self.target, self.name))

    def __repr__(self) -> str:
        return f"<bound judged method {self.name}>"


class _ClassFunction:
    """`Class.method` for an API method: calls the worker's class attribute (unbound)."""

    def __init__(self, owner: type, name: str, bound=None):
        self.owner, self.name, self.bound = owner, name, bound

    def bind(self, instance) -> "_ClassFunction":
        return _ClassFunction(self.owner, self.name, (instance,))

    def __call__(self, *args, **kwargs):
        return runtime().invoke(self.owner, self.name, (*(self.bound or ()), *args), kwargs)


class ProxyFunction:
    """An API function: one round trip per call."""

    def __init__(self, canonical: str):
        self.__module__, _, self.__name__ = canonical.rpartition(".")
        self.__qualname__ = self.__name__
        self._held = None

    def __call__(self, *args, **kwargs):
        return runtime().invoke(runtime().module(self.__module__), self.__name__, args, kwargs)

    def remote_handle(self) -> Handle:
        return _held_remote(self, lambda run: run.getattr(run.module(self.__module__), self.__name__))

    def __repr__(self) -> str:
        return f"<judged function {self.__module__}.{self.__name__}>"


class ProxyModule(types.ModuleType):
    """A module of the proxy package: API names from api.toml, anything else read from the worker."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        run = runtime()
        entry = run.api.modules.get(self.__name__, {}).get(name)
        if entry is None:
            return run.getattr(self, name)
        kind, _, canonical = entry.partition(":")
        value = {"class": run.proxy_class, "function": ProxyFunction, "module": run.module}[kind](canonical)
        setattr(self, name, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers every import of the package (and only those) with a proxy module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PACKAGE and not fullname.startswith(PACKAGE + "."):
            return None
        if fullname not in runtime().api.modules:
            raise ModuleNotFoundError(f"No module named {fullname!r} (judged runs import only the API's modules)",
                                      name=fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=runtime().api.is_package(fullname))

    def create_module(self, spec):
        return runtime().module(spec.name)

    def exec_module(self, module) -> None:
        module.__kata_judged__ = True


def install(worker: remote.Worker, api: apimap.Api | None = None) -> Runtime:
    """Serve `tinytorch` from the worker in this process, from now on."""
    global RUNTIME
    RUNTIME = Runtime(worker, api or apimap.load())
    _forget_package()
    sys.meta_path.insert(0, _Finder())
    return RUNTIME


def uninstall() -> None:
    """Undo install() (tests of the proxy itself): stop the worker, forget the proxy package."""
    global RUNTIME
    if RUNTIME is not None:
        RUNTIME.worker.close(kill=True)
    RUNTIME = None
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _Finder)]
    _forget_package()


def _forget_package() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def reference_to(target, name: str):
    """A proxy for `target.name` itself, even when its value could cross as a copy: two reads give
    the same proxy exactly when they are the same object in the submission's process."""
    run = runtime()
    return run.request({"op": "getattr", "target": run.outgoing(target), "name": name, "by_reference": True})


def evaluate_all(build, inputs: list) -> list:
    """`build(x).data` for each x in `inputs`, the evaluations after the first in one round trip
    (grading/judged/replay.py): spec.support's finite differences in a judged run."""
    return replay.evaluate_all(runtime(), build, inputs)


def run_fresh_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """spec.support.run_fresh_python in a judged run: the new interpreter starts beside the worker."""
    return runtime().fresh_python(code, timeout)
