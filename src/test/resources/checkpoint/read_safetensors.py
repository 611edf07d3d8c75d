"""An independent safetensors reader, standard library only, written from the format's README
(https://github.com/huggingface/safetensors): an 8-byte little-endian unsigned header length N, N bytes of
UTF-8 JSON (which may end in spaces), then the byte buffer. Each header entry but "__metadata__" is
{"dtype", "shape", "data_offsets": [begin, end]}, offsets relative to the buffer, which the tensors cover
without holes or overlaps.

Usage: python3 read_safetensors.py FILE
Prints one JSON object: header_length, metadata, buffer_length, buffer_sha256, and for each tensor in
header order its name, dtype, shape, data_offsets and its first and last values. Exits non-zero, saying
why, when the file breaks the format.
"""

import hashlib
import json
import struct
import sys

ELEMENTS = {"F64": ("<d", 8), "F32": ("<f", 4)}  # the dtypes microgpt writes


def fail(message):
    sys.exit("not a valid safetensors file: " + message)


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", blob[:8])
    if 8 + header_length > len(blob):
        fail("header length %d exceeds the file" % header_length)
    text = blob[8:8 + header_length].decode("utf-8")
    if not text.startswith("{"):
        fail("header does not start with '{'")
    header = json.loads(text)
    buffer = blob[8 + header_length:]

    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail("__metadata__ is not a string-to-string map")

    tensors = []
    for name, entry in header.items():
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        fmt, size = ELEMENTS[dtype]
        count = 1
        for dim in shape:
            count *= dim
        if end - begin != count * size:
            fail("%s: %d bytes for shape %s of %s" % (name, end - begin, shape, dtype))
        tensors.append({
            "name": name,
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [begin, end],
            "first": struct.unpack_from(fmt, buffer, begin)[0],
            "last": struct.unpack_from(fmt, buffer, end - size)[0],
        })

    position = 0
    for begin, end in sorted(t["data_offsets"] for t in tensors):
        if begin != position:
            fail("tensor data at %d, expected %d: a hole or an overlap" % (begin, position))
        position = end
    if position != len(buffer):
        fail("tensors cover %d bytes of a %d-byte buffer" % (position, len(buffer)))

    return {
        "header_length": header_length,
        "metadata": metadata,
        "buffer_length": len(buffer),
        "buffer_sha256": hashlib.sha256(buffer).hexdigest(),
        "tensors": tensors,
    }


if __name__ == "__main__":
    print(json.dumps(read(sys.argv[1]), ensure_ascii=True))
