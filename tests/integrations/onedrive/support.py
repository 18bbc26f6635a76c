"""Helpers for the onedrive tests: configs that reach the Graph emulator, host-like runs."""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from kloset_sdk import Record
from kloset_sdk.connector import Identity
from kloset_sdk.harness import ExporterClient, ImporterClient, ImportRun, PluginProcess
from kloset_sdk.harness.clients import Imported
from tests.conftest import plugin_argv
from tests.emulators.graph import GraphEmulator


def endpoint_config(emu: GraphEmulator) -> dict[str, str]:
    return {
        "graph_endpoint": emu.graph_url,
        "authority_host": emu.base_url,
        "ca_bundle": emu.ca_cert_path,
    }


def app_config(emu: GraphEmulator, location: str = "onedrive:///", **extra: str) -> dict[str, str]:
    """Client credentials on the emulator's default drive."""
    return {
        "location": location,
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "tenant": emu.tenant_id,
        "drive_id": emu.default_drive_id,
        **endpoint_config(emu),
        **extra,
    }


def run_import(
    config: dict[str, str],
    opens: Callable[[Imported], bool] | None = None,
    jobs: int = 6,
) -> ImportRun:
    """One Import in a fresh plugin process, acking every record as the host does; `opens`
    decides which contents are read (kloset reads only what its cache does not know,
    docs/PROTOCOL.md: Records), in `jobs` parallel Open streams."""
    with PluginProcess(plugin_argv("onedrive", "importer")) as proc:
        client = ImporterClient(proc)
        client.init(config, maxconcurrency=jobs)
        run = ImportRun(identity=Identity("", "", ""))
        sess = client.session()
        lock = threading.Lock()

        def handle(rec: Record) -> None:
            item = Imported(rec)
            if rec.has_reader and not rec.error and (opens is None or opens(item)):
                h = hashlib.sha256()
                try:
                    for chunk in client.open(rec):
                        h.update(chunk)
                        item.read += len(chunk)
                    item.sha256 = h.hexdigest()
                except grpc.RpcError as exc:
                    item.open_error = exc.details() or str(exc.code())
            with lock:
                run.records.append(item)
            sess.ack(rec, item.open_error)

        with ThreadPoolExecutor(jobs) as pool:
            try:
                futures = [pool.submit(handle, rec) for rec in sess]
                for f in futures:
                    f.result()
            finally:
                sess.end()
        run.finished = sess.finished
        client.close()
    return run


def run_export(config: dict[str, str], items: list[tuple[Any, Any]]) -> Any:
    with PluginProcess(plugin_argv("onedrive", "exporter")) as proc:
        client = ExporterClient(proc)
        client.init(config)
        result = client.export(items)
        client.close()
    return result


def files_of(run: ImportRun) -> dict[str, Imported]:
    return {p: r for p, r in run.by_path().items() if r.record.info and r.record.is_regular}


def dirs_of(run: ImportRun) -> set[str]:
    return {p for p, r in run.by_path().items() if r.record.is_dir}


MiB = 1 << 20


def seed_tree(emu: GraphEmulator, files: int, folders: int, big: int = 0, seed: int = 7) -> None:
    """A nested tree: `folders` folders up to 4 deep, `files` small files spread over them,
    optionally one `big`-byte file, plus a OneNote notebook and the Personal Vault."""
    rng = random.Random(seed)
    dirs = ["/"]
    for i in range(folders):
        parent = rng.choice([d for d in dirs if d.count("/") < 4])
        path = (parent.rstrip("/") + f"/dir {i:03d}") if parent != "/" else f"/dir {i:03d}"
        emu.add_folder(path)
        dirs.append(path)
    stamp = 1_600_000_000
    for i in range(files):
        parent = dirs[i % len(dirs)]
        name = f"file-{i:05d}.bin" if i % 7 else f"Doc {i:05d}.TXT"
        size = rng.choice((0, 1, 100, 4096, 70_000, rng.randrange(1, 200_000)))
        path = (parent.rstrip("/") + "/" + name) if parent != "/" else "/" + name
        emu.add_file(path, rng.randbytes(size), modified=stamp + i * 61)
    if big:
        emu.add_file("/dir 000/big.iso", os.urandom(big), modified=stamp)
    emu.add_onenote("/dir 001/Notebook")
    emu.add_vault()


def expected_tree(emu: GraphEmulator) -> tuple[dict[str, bytes], set[str]]:
    """What a backup must hold: the emulator's tree minus the notebook and the vault."""
    skipped = [p for p, item in _items(emu) if "package" in item or "specialFolder" in item]
    files: dict[str, bytes] = {}
    dirs = {"/"}
    for path, data in emu.tree().items():
        if any(path == s or path.startswith(s + "/") for s in skipped):
            continue
        if data is None:
            dirs.add(path)
        else:
            files[path] = data
    return files, dirs


def _items(emu: GraphEmulator) -> list[tuple[str, dict[str, Any]]]:
    return [(p, emu.get_item(p)) for p, data in emu.tree().items() if data is None]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
