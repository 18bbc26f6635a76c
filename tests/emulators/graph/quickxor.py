"""Microsoft's QuickXorHash, the only content hash OneDrive reports on every drive type.

Each input byte ``i`` is XORed into a 160-bit circular register at bit ``(11 * i) mod 160``;
the total length (64-bit little-endian) is XORed into the last 8 bytes of the digest.
Because the bit position only depends on ``i mod 160``, bytes 160 apart can be XORed together
first, which lets us fold big inputs with Python's arbitrary-precision integers instead of a
per-byte loop (5 MiB hashes in a few milliseconds).
"""

from __future__ import annotations

import base64

WIDTH_BITS = 160
SHIFT = 11
_WIDTH_BYTES = WIDTH_BITS // 8
_MASK = (1 << WIDTH_BITS) - 1
# Byte positions repeat every 160 bytes (11 and 160 are coprime): XOR such blocks together.
_PERIOD = 160
# Fold unit: 1024 periods, a power of two so the accumulator can be halved down to one period.
_FOLD_BYTES = 1024 * _PERIOD


class QuickXorHash:
    """Incremental QuickXorHash (``update``/``digest``), usable on streamed uploads."""

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        self._acc = 0  # XOR of all folded 160 KiB units, as a little-endian integer
        self._length = 0
        self._pending = bytearray()  # bytes not yet folded into _acc
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed more bytes; order matters, chunking does not."""
        self._pending += data
        self._length += len(data)
        usable = len(self._pending) - len(self._pending) % _FOLD_BYTES
        if usable:
            view = memoryview(self._pending)
            acc = self._acc
            for start in range(0, usable, _FOLD_BYTES):
                acc ^= int.from_bytes(view[start : start + _FOLD_BYTES], "little")
            view.release()
            self._acc = acc
            del self._pending[:usable]

    def digest(self) -> bytes:
        """The 20-byte hash of everything fed so far (the object stays usable)."""
        acc = self._acc ^ int.from_bytes(bytes(self._pending), "little")
        # Halve the 1024-block accumulator down to one 160-byte block.
        bits = _FOLD_BYTES * 8
        while bits > _PERIOD * 8:
            bits //= 2
            acc = (acc >> bits) ^ (acc & ((1 << bits) - 1))
        block = acc.to_bytes(_PERIOD, "little")
        state = 0
        for k, byte in enumerate(block):
            if byte:
                pos = (SHIFT * k) % WIDTH_BITS
                state ^= ((byte << pos) | (byte >> (WIDTH_BITS - pos))) & _MASK
        out = bytearray(state.to_bytes(_WIDTH_BYTES, "little"))
        for i, b in enumerate(self._length.to_bytes(8, "little")):
            out[_WIDTH_BYTES - 8 + i] ^= b
        return bytes(out)

    def b64digest(self) -> str:
        """Base64 form, as Graph reports it in ``file.hashes.quickXorHash``."""
        return base64.b64encode(self.digest()).decode("ascii")


def quickxor_b64(data: bytes | bytearray | memoryview) -> str:
    """QuickXorHash of ``data`` in base64, exactly as ``file.hashes.quickXorHash`` shows it."""
    return QuickXorHash(data).b64digest()


def quickxor_reference(data: bytes) -> bytes:
    """Slow per-byte port of Microsoft's published cell-based algorithm, to cross-check."""
    cells = [0, 0, 0]  # 64 + 64 + 32 bits
    vector_index = 0
    offset = 0
    for byte in data:
        last = vector_index == 2
        bits_in_cell = 32 if last else 64
        if offset <= bits_in_cell - 8:
            cells[vector_index] ^= byte << offset
        else:
            cells[vector_index] ^= (byte << offset) & ((1 << 64) - 1)
            cells[0 if last else vector_index + 1] ^= byte >> (bits_in_cell - offset)
        offset += SHIFT
        while offset >= bits_in_cell:
            vector_index = 0 if last else vector_index + 1
            offset -= bits_in_cell
            last = vector_index == 2
            bits_in_cell = 32 if last else 64
    out = bytearray(
        cells[0].to_bytes(8, "little")
        + cells[1].to_bytes(8, "little")
        + (cells[2] & 0xFFFFFFFF).to_bytes(4, "little")
    )
    for i, b in enumerate(len(data).to_bytes(8, "little")):
        out[_WIDTH_BYTES - 8 + i] ^= b
    return bytes(out)
