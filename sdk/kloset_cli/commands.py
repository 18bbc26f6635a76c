"""Argument parsing and the command handlers (everything but the `plugin` fast path)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import grpc

from kloset_sdk.errors import KlosetError, one_line

from . import __version__
from .config import CliError, build_config, split_prefixed
from .plugins import rpc_message

EPILOG = """\
locations use Plakar's syntax: posixfs:///abs/path (or a plain path), s3://host:port/bucket,
sftp://user@host/path, gdrive://..., onedrive://... Options are key=value; they can also come
from a file (--config FILE: JSON, TOML, INI or key=value lines) or the environment
(KLOSET_SRC_<KEY>, KLOSET_DST_<KEY>, KLOSET_STORE_<KEY>) so secrets stay off the command line.
"""


def _common(p: argparse.ArgumentParser, role: str) -> None:
    p.add_argument("options", nargs="*", metavar="key=value", help="connector options")
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE[#SECTION]",
        help=f"options file (also KLOSET_{role.upper()}_<KEY> variables)",
    )
    p.add_argument("--exe", help="run this plugin executable instead of the installed integration")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="klosetctl",
        description="Use Plakar connectors without Plakar.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"klosetctl {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("ls", help="list what an importer sees")
    p.add_argument("source")
    _common(p, "src")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("copy", help="copy importer -> exporter, streaming")
    p.add_argument("source")
    p.add_argument("destination")
    p.add_argument("--src-opt", "-s", action="append", default=[], metavar="K=V")
    p.add_argument("--dst-opt", "-d", action="append", default=[], metavar="K=V")
    p.add_argument("-o", dest="prefixed", action="append", default=[], metavar="src.K=V|dst.K=V")
    p.add_argument("--src-config", action="append", default=[], metavar="FILE[#SECTION]")
    p.add_argument("--dst-config", action="append", default=[], metavar="FILE[#SECTION]")
    p.add_argument("--src-exe")
    p.add_argument("--dst-exe")
    p.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto")
    p.add_argument(
        "--no-count", action="store_true", help="skip the statistics pass (no totals, no ETA)"
    )
    p.add_argument("-j", "--jobs", type=int, default=8, help="maxconcurrency sent in Init")
    p.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON")

    store = sub.add_parser("store", help="storage checks and benchmarks").add_subparsers(
        dest="store_cmd", required=True
    )
    p = store.add_parser("check", help="run the storage conformance checks (empty location)")
    p.add_argument("location")
    _common(p, "store")
    p.add_argument("--expect-mode", type=int, default=6, help="Mode a fresh store reports")
    p = store.add_parser("bench", help="Put/Get throughput and latency")
    p.add_argument("location")
    _common(p, "store")
    p.add_argument("--size", default="16MiB")
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--jobs", type=int, default=4)

    p = sub.add_parser("login", help="OAuth login; prints the config lines for Plakar")
    p.add_argument("service", choices=("gdrive", "onedrive"))
    p.add_argument("--headless", action="store_true", help="no browser: paste the code back")
    p.add_argument("--device-code", action="store_true", help="device code flow (onedrive)")
    p.add_argument("--client-id")
    p.add_argument("--client-secret")
    p.add_argument("--tenant")
    p.add_argument("--token-file")
    p.add_argument("--scope")
    p.add_argument(
        "-o",
        dest="option",
        action="append",
        default=[],
        metavar="K=V",
        help="other arguments of the flow (e.g. token_uri=..., ca_bundle=...)",
    )

    p = sub.add_parser("plugin", help="serve NAME's KIND connector on stdin/stdout")
    p.add_argument("name")
    p.add_argument("kind", choices=("importer", "exporter", "storage"))
    return ap


def cmd_ls(a: argparse.Namespace) -> int:
    from .ls import run_ls

    proto, config = build_config(a.source, "src", a.options, a.config)
    return run_ls(proto, config, exe=a.exe, as_json=a.json)


def cmd_copy(a: argparse.Namespace) -> int:
    from .copy import run_copy
    from .report import print_copy_summary

    src_pairs, dst_pairs = split_prefixed(a.prefixed)
    src = build_config(a.source, "src", a.src_opt + src_pairs, a.src_config)
    dst = build_config(a.destination, "dst", a.dst_opt + dst_pairs, a.dst_config)
    counters = run_copy(
        src,
        dst,
        src_exe=a.src_exe,
        dst_exe=a.dst_exe,
        progress=a.progress,
        count=not a.no_count,
        jobs=a.jobs,
    )
    print_copy_summary(counters, src[1]["location"], dst[1]["location"])
    if a.summary_json:
        from .report import write_summary_json

        write_summary_json(a.summary_json, counters)
    return 1 if counters.failed else 0


def cmd_store(a: argparse.Namespace) -> int:
    from . import report

    proto, config = build_config(a.location, "store", a.options, a.config)
    if a.store_cmd == "check":
        from .storecheck import run_checks

        results = run_checks(proto, config, exe=a.exe, expected_mode=a.expect_mode)
        report.print_checks(results, config["location"])
        return 0 if all(r.ok for r in results) else 1
    from .bench import parse_size, run_bench

    size = parse_size(a.size)
    where, phases = run_bench(proto, config, size, a.count, a.jobs, exe=a.exe)
    report.print_bench(phases, config["location"], where, size, a.jobs)
    return 0


def cmd_login(a: argparse.Namespace) -> int:
    from .login import run_login

    return run_login(a)


def cmd_plugin(a: argparse.Namespace) -> int:
    from kloset_sdk.registry import serve_integration

    try:
        serve_integration(a.name, a.kind)
    except KlosetError as exc:
        raise CliError(f"plugin {a.name} {a.kind}: {exc}") from None


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ls": cmd_ls,
    "copy": cmd_copy,
    "store": cmd_store,
    "login": cmd_login,
    "plugin": cmd_plugin,
}


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse like argparse, but take `key=value` options anywhere after the command.

    argparse fills a `nargs="*"` positional once, where it first stands, so
    `ls LOC --config F key=value` left `key=value` unrecognized; users type options in any
    order, so every left-over `key=value` joins the command's options.
    """
    ap = parser()
    args, extra = ap.parse_known_args(argv)
    rest = []
    for word in extra:
        if hasattr(args, "options") and "=" in word and not word.startswith("-"):
            args.options.append(word)
        else:
            rest.append(word)
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def run(argv: list[str]) -> int:
    """Run one command; every failure is one line on stderr and a non-zero exit status."""
    args = parse(argv)
    try:
        return HANDLERS[args.cmd](args)
    except CliError as exc:
        sys.stderr.write(f"klosetctl: {exc}\n")
        return exc.status
    except KlosetError as exc:
        sys.stderr.write(f"klosetctl: {exc}\n")
        return 2
    except grpc.RpcError as exc:  # a call no command caught: still the plugin's own message
        sys.stderr.write(f"klosetctl: {args.cmd}: {one_line(rpc_message(exc))}\n")
        return 1
    except OSError as exc:  # e.g. --exe that does not exist, --summary-json in a missing dir
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"klosetctl: {args.cmd}: {where}{exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("klosetctl: interrupted\n")
        return 130
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("KLOSETCTL_TRACEBACK"):
            raise
        sys.stderr.write(
            f"klosetctl: {args.cmd}: internal error: {one_line(rpc_message(exc))}"
            " (KLOSETCTL_TRACEBACK=1 shows where)\n"
        )
        return 70
