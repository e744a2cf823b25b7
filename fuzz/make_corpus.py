#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus, small valid and invalid IDX files, raw and gzip, to fuzz/corpus/.

Deterministic (gzip mtime 0), so running it again changes nothing: python3 fuzz/make_corpus.py
"""
import gzip
import os
import struct

IMAGES, LABELS = 0x00000803, 0x00000801


def idx(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def seeds():
    labels = idx(LABELS, [10], range(10))
    small_images = idx(IMAGES, [2, 4, 4], range(32))
    mnist_image = idx(IMAGES, [1, 28, 28], [(i * 7) % 256 for i in range(784)])
    bad_crc = bytearray(gz(labels))
    bad_crc[-5] ^= 0xFF  # the CRC32 in the gzip trailer
    bad_deflate = bytearray(gz(small_images))
    bad_deflate[12] ^= 0x55  # inside the deflate stream
    return {
        "valid-labels": labels,
        "valid-images-2x4x4": small_images,
        "valid-images-1x28x28": mnist_image,
        "valid-labels.gz": gz(labels),
        "valid-images-2x4x4.gz": gz(small_images),
        "valid-images-1x28x28.gz": gz(mnist_image),
        "empty": b"",
        "truncated-magic": bytes([0, 0, 8]),
        "truncated-header": idx(IMAGES, [2, 4], []),
        "truncated-payload": idx(IMAGES, [2, 4, 4], range(20)),
        "trailing-bytes": labels + b"\x00\x01",
        "wrong-magic": b"PK\x03\x04" + bytes(12),
        "float-type": idx(0x00000D03, [1, 2, 2], bytes(16)),
        "zero-dimension": idx(IMAGES, [0, 28, 28], []),
        "absurd-dimensions": idx(IMAGES, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], []),
        "billions-of-images": idx(IMAGES, [4_000_000_000, 28, 28], bytes(784)),
        "images-magic-short-header": idx(0x00000801 | 0x02, [3], bytes(3)),
        "truncated.gz": gz(small_images)[:-9],
        "bad-crc.gz": bytes(bad_crc),
        "bad-deflate.gz": bytes(bad_deflate),
        "gzip-then-garbage.gz": gz(labels) + b"garbage",
        "gzip-huge-claim.gz": gz(idx(IMAGES, [2_000_000, 28, 28], bytes(784))),
    }


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
