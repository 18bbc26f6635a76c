"""QuickXorHash: the one content hash OneDrive reports for every drive type (`file.hashes`).

Definition (Microsoft's published algorithm): a 160-bit register; input byte number `i` is
XORed in at bit `11 * i mod 160`, wrapping around the top; at the end the input length, as a
64-bit little-endian number, is XORed into the last 8 of the 20 output bytes.

Why it is fast here without numpy: where a byte lands depends only on `i mod 160`, so every
160-byte block of the input can first be XORed onto one 160-byte block; the register placement
then runs once, on 160 bytes. The XOR of many blocks is done with Python integers over
`_SPAN`-byte windows (one C-level XOR per 640 KiB), so hashing while uploading costs little.
"""

from __future__ import annotations

import base64

_BITS = 160
_SHIFT = 11
_PERIOD = 160  # bytes after which the bit position repeats (gcd(11, 160) = 1)
_BLOCKS = 4096  # 160-byte blocks per window: a power of two, so windows fold by halving
_SPAN = _PERIOD * _BLOCKS
_MASK160 = (1 << _BITS) - 1


class QuickXor:
    """Incremental QuickXorHash: `update()` with any chunking, then `digest()`/`b64()`."""

    __slots__ = ("_window", "_tail", "_length")

    def __init__(self) -> None:
        self._window = 0  # XOR of every complete _SPAN-byte window, little-endian
        self._tail = bytearray()  # the bytes after the last complete window
        self._length = 0

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview) -> QuickXor:
        h = cls()
        h.update(data)
        return h

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._length += len(data)
        self._tail += data
        whole = len(self._tail) // _SPAN * _SPAN
        if not whole:
            return
        window = self._window
        view = memoryview(self._tail)
        for at in range(0, whole, _SPAN):
            window ^= int.from_bytes(view[at : at + _SPAN], "little")
        view.release()
        self._window = window
        del self._tail[:whole]

    def _block(self) -> bytes:
        """All input XORed onto one 160-byte block (windows start at multiples of 160)."""
        folded = self._window ^ int.from_bytes(self._tail, "little")
        # Halve from the fewest blocks (a power of two) that hold the input: a small file's
        # fold then costs nothing, where halving from a whole window built 327 KB masks.
        used = -(-folded.bit_length() // (_PERIOD * 8))
        blocks = 1 << max(0, used - 1).bit_length()
        while blocks > 1:
            blocks //= 2
            bits = blocks * _PERIOD * 8
            folded = (folded >> bits) ^ (folded & ((1 << bits) - 1))
        return folded.to_bytes(_PERIOD, "little")

    def digest(self) -> bytes:
        register = 0
        for k, byte in enumerate(self._block()):
            if byte:
                placed = byte << (_SHIFT * k % _BITS)
                register ^= (placed & _MASK160) | (placed >> _BITS)
        register ^= (self._length & 0xFFFFFFFFFFFFFFFF) << 96  # bytes 12..19 of 20
        return register.to_bytes(_BITS // 8, "little")

    def b64(self) -> str:
        """As Graph shows it in `file.hashes.quickXorHash`."""
        return base64.b64encode(self.digest()).decode("ascii")


def quickxor_b64(data: bytes | bytearray | memoryview) -> str:
    return QuickXor.of(data).b64()
