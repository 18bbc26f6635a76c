"""What the three connector kinds share: options, Init context, identity, and error mapping."""

from __future__ import annotations

import logging
from abc import ABCMeta
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, NoReturn, TypeVar, get_args

import grpc

from . import options as _options
from .errors import ConfigError, KlosetError, status_of
from .location import Flag

log = logging.getLogger(__name__)
OptT = TypeVar("OptT")


@dataclass(frozen=True)
class InitContext:
    """Everything Init carried besides the config (docs/PROTOCOL.md: Init)."""

    kind: str
    proto: str
    config: Mapping[str, str] = field(default_factory=dict)
    hostname: str = ""
    os: str = ""
    arch: str = ""
    cwd: str = ""
    maxconcurrency: int = 0
    excludes: tuple[str, ...] = ()
    noxattr: bool = False


@dataclass(frozen=True)
class Identity:
    """InitResponse: `type:origin` groups sources in Plakar; root is shown to users."""

    origin: str
    type: str
    root: str
    flags: Flag = Flag.NONE


class Connector(Generic[OptT], metaclass=ABCMeta):
    """Base of Importer, Exporter and Storage.

    Subclasses set `type_name` (which makes them concrete) and implement `identity()` when
    origin/root depend on the config. The options dataclass (built with `options.option`) is the
    type parameter, `class X(Storage[XOptions])`, or an explicit `options_class`. `__init__`
    receives the parsed options; raise `ConfigError` there for checks a schema cannot express.
    """

    options_class: ClassVar[type[Any]]
    type_name: ClassVar[str] = ""
    flags: ClassVar[Flag] = Flag.NONE
    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Derive `options_class`; refuse, at import, a concrete connector missing a method."""
        super().__init_subclass__(**kwargs)
        if "options_class" not in cls.__dict__:
            for base in cls.__dict__.get("__orig_bases__", ()):
                args = get_args(base)
                if args and isinstance(args[0], type):
                    cls.options_class = args[0]
        if not cls.type_name:
            return  # an abstract base: ABCMeta still refuses to instantiate it
        abstract = {n for b in cls.__mro__[1:] for n in getattr(b, "__abstractmethods__", ())}
        missing = sorted(
            n for n in abstract if getattr(getattr(cls, n, None), "__isabstractmethod__", False)
        )
        if missing:
            raise TypeError(f"{cls.__qualname__} does not implement {', '.join(missing)}")
        if not isinstance(getattr(cls, "options_class", None), type):
            raise TypeError(
                f"{cls.__qualname__}: no options class (write {cls.__bases__[0].__name__}[Options])"
            )

    def __init__(self, opts: OptT, ctx: InitContext) -> None:
        self.opts = opts
        self.ctx = ctx

    def identity(self) -> Identity:
        return Identity(
            origin=self.ctx.hostname or "localhost", type=self.type_name, root="/", flags=self.flags
        )

    def ping(self) -> None:
        """Check the backend is reachable (`plakar ... ping`)."""

    def close(self) -> None:
        """Release everything: the process may be killed right after (P15, §9 item 43)."""


Resolver = Callable[[str], type[Connector[Any]]]


def make_resolver(
    connectors: type[Connector[Any]] | Mapping[str, type[Connector[Any]]],
) -> Resolver:
    """One executable may serve several protocols; dispatch on InitRequest.proto (§9 item 7)."""
    if isinstance(connectors, Mapping):
        table = connectors  # may be lazy (registry.LazyConnectors): look up only on Init

        def resolve(proto: str) -> type[Connector[Any]]:
            if proto in table:
                return table[proto]
            if len(table) == 1 and not proto:
                return table[next(iter(table))]
            raise ConfigError("proto", f'"{proto}" is not served here (serves: {", ".join(table)})')

        return resolve
    return lambda proto: connectors


def build(resolve: Resolver, ctx: InitContext) -> Connector[Any]:
    cls = resolve(ctx.proto)
    opts = _options.parse(cls.options_class, ctx.config, ctx.kind)
    return cls(opts, ctx)


def abort(context: grpc.ServicerContext, exc: BaseException, what: str = "") -> NoReturn:
    code, msg = status_of(exc)
    if what and not isinstance(exc, KlosetError):
        msg = f"{what}: {msg}"
    if isinstance(exc, KlosetError):
        log.debug("%s: %s", what or "call", msg)
    else:
        log.debug("%s failed", what or "call", exc_info=exc)
    context.abort(code, msg)
    raise AssertionError("unreachable")  # context.abort always raises


def guarded(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a unary handler so any exception becomes a clean status (one line, no trace)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return fn(self, request, context)
            except Exception as exc:  # the boundary where errors become statuses
                if _is_abort(exc):
                    raise
                abort(context, exc, what)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return deco


def guarded_stream(what: str) -> Callable[[Callable[..., Iterator[Any]]], Callable[..., Any]]:
    """The same for server-streaming handlers written as generators."""

    def deco(fn: Callable[..., Iterator[Any]]) -> Callable[..., Any]:
        def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from fn(self, request, context)
            except Exception as exc:
                if _is_abort(exc):
                    raise
                abort(context, exc, what)

        wrapper.__name__ = fn.__name__
        return wrapper

    return deco


def _is_abort(exc: BaseException) -> bool:
    # grpc raises a bare Exception from context.abort(); let it through untouched.
    return type(exc) is Exception and not exc.args


class NotInitialized(KlosetError):
    """A call that needs the connector arrived before Init built one."""

    code = grpc.StatusCode.FAILED_PRECONDITION


def require(conn: Connector[Any] | None, what: str) -> Connector[Any]:
    """`conn`, or NotInitialized naming the call (`what`, e.g. "storage: Open")."""
    if conn is None:
        raise NotInitialized(f"{what} called before a successful Init")
    return conn
