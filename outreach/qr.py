"""QR codes for personal links: a tiny 1-bit PNG for letters and a compact SVG for web use.

The letter gets a PNG with one pixel per module, scaled up in CSS with ``image-rendering:
pixelated``: WeasyPrint embeds it about twice as fast as an SVG and the print stays sharp.
"""

from __future__ import annotations

import base64
import struct
import zlib

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white border the QR standard requires around the symbol


def qr_matrix(data: str) -> list[list[bool]]:
    """The module matrix (True = dark) including the quiet zone; error correction level M."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def qr_png(data: str) -> bytes:
    """A 1-bit greyscale PNG, one pixel per module (scale it up without smoothing)."""
    matrix = qr_matrix(data)
    size = len(matrix)
    rows = bytearray()
    for row in matrix:
        rows.append(0)  # PNG filter type "none" for each scanline
        for start in range(0, size, 8):
            bits = row[start : start + 8]
            byte = 0
            for i in range(8):
                # 1 = white in 1-bit greyscale; padding bits are white
                white = i >= len(bits) or not bits[i]
                byte |= white << (7 - i)
            rows.append(byte)
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def qr_png_data_uri(data: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode("ascii")


def qr_svg(data: str, *, size: str = "40mm") -> str:
    """A standalone SVG with one path, horizontal runs of dark modules merged."""
    matrix = qr_matrix(data)
    n = len(matrix)
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < n and row[x]:
                x += 1
            parts.append(f"M{start} {y}h{x - start}v1h{start - x}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path d="{"".join(parts)}"/></svg>'
    )
