"""Mutants of crest image sets, for the fuzz mode of test/run.

An image file is (src/image.h):

    file   := header record*     (raw kinds: header, padding to 4096, bytes)
    header := "CRST" u32 kind-magic u32 version u32 crc32c(first 12 bytes)
    record := u32 length u32 crc32c(payload) payload(protobuf)

A mutation takes an image directory and changes it in place, returning
one line that says what it did (so a failure names the mutant, and the
seed reproduces it). Mutations with recomputed checksums get past the
record checks and test what crest does with well-framed nonsense.
"""

import os
import shutil
import struct

HDR = 32
RAW_OFF = 4096


def _crc32c_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C as arch_crc32c(0, buf, len): initial ~0, final xor ~0."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def records(buf):
    """(offset, length) of every record payload, or None if buf is not a
    well-framed record stream (a raw image, or damaged)."""
    out, off = [], HDR
    while off < len(buf):
        if off + 8 > len(buf):
            return None
        n = struct.unpack_from("<I", buf, off)[0]
        if off + 8 + n > len(buf):
            return None
        out.append((off + 8, n))
        off += 8 + n
    return out


def image_files(d):
    return sorted(f for f in os.listdir(d)
                  if f.endswith(".img") and os.path.isfile(os.path.join(d, f)))


def _read(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def _write(path, buf):
    with open(path, "wb") as f:
        f.write(buf)


def m_truncate(d, rng, other):
    name = rng.choice(image_files(d))
    path = os.path.join(d, name)
    size = os.path.getsize(path)
    cut = rng.randrange(0, max(size, 1))
    os.truncate(path, cut)
    return "truncate %s from %d to %d bytes" % (name, size, cut)


def m_flip(d, rng, other):
    """One bit flipped anywhere, checksums left as they were."""
    name = rng.choice(image_files(d))
    path = os.path.join(d, name)
    buf = _read(path)
    if not buf:
        return "flip: %s is empty, left alone" % name
    off = rng.randrange(len(buf))
    bit = 1 << rng.randrange(8)
    buf[off] ^= bit
    _write(path, buf)
    return "flip bit %#x at %d of %s" % (bit, off, name)


def m_flip_crc(d, rng, other):
    """A byte of one record's payload changed, its checksum recomputed:
    the framing is intact, the contents are not what was dumped."""
    cands = []
    for name in image_files(d):
        buf = _read(os.path.join(d, name))
        recs = records(buf)
        if recs:
            cands += [(name, o, n) for o, n in recs if n]
    if not cands:
        return "flip-crc: no record to change"
    name, off, n = rng.choice(cands)
    path = os.path.join(d, name)
    buf = _read(path)
    at = off + rng.randrange(n)
    val = rng.randrange(1, 256)
    buf[at] ^= val
    struct.pack_into("<I", buf, off - 4, crc32c(bytes(buf[off:off + n])))
    _write(path, buf)
    return "xor %#x at %d of %s (record at %d, checksum recomputed)" % (
        val, at, name, off - 8)


def m_missing(d, rng, other):
    name = rng.choice(image_files(d))
    os.unlink(os.path.join(d, name))
    return "remove %s" % name


def m_swap(d, rng, other):
    """Two files' contents exchanged, names kept: of one kind where the
    set has two (a tree), else any two."""
    files = image_files(d)
    kinds = {}
    for f in files:
        kinds.setdefault(f.split("-")[0].split(".")[0], []).append(f)
    pairs = [v for v in kinds.values() if len(v) > 1]
    a, b = rng.sample(rng.choice(pairs) if pairs else files, 2)
    pa, pb = os.path.join(d, a), os.path.join(d, b)
    tmp = pa + ".swap"
    os.rename(pa, tmp)
    os.rename(pb, pa)
    os.rename(tmp, pb)
    return "swap %s and %s" % (a, b)


def m_mix(d, rng, other):
    """One file replaced by the same file of another dump of the same
    processes (taken a little later, with --leave-running)."""
    names = [f for f in image_files(d) if os.path.exists(os.path.join(other, f))]
    name = rng.choice(names)
    shutil.copyfile(os.path.join(other, name), os.path.join(d, name))
    return "take %s from the other dump" % name


MUTATIONS = {
    "truncate": m_truncate,
    "flip": m_flip,
    "flip-crc": m_flip_crc,
    "missing": m_missing,
    "swap": m_swap,
    "mix": m_mix,
}
