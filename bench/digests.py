#!/usr/bin/env python3
"""bench/digests.py FILE PART_SIZE - what an object store would say about FILE, computed
here (not by hcdl), for bench/download's served headers:

    md5 <hex>                          the whole file's MD5 (a plain ETag; md5sum's answer)
    etag-multipart <hex>-<parts>       MD5 of the parts' binary MD5s, parts of PART_SIZE bytes
    crc64 <decimal>                    CRC-64/XZ (ECMA-182 reflected, init and xor-out all ones)

One pass over the file.  The CRC-64 needs Debian's python3-crcmod (its C extension).
"""
import hashlib
import sys

try:
    import crcmod
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")      # Debian's, for another python3
    import crcmod


def main(path, part_size):
    crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
    if crc64(b"123456789") != 0x995DC9BBDF1939FA:
        raise SystemExit("digests.py: crcmod's CRC-64/XZ check value is wrong")
    whole, parts, crc = hashlib.md5(), [], 0
    with open(path, "rb") as f:
        while True:
            part = f.read(part_size)
            if not part:
                break
            whole.update(part)
            parts.append(hashlib.md5(part).digest())
            crc = crc64(part, crc)
    print("md5", whole.hexdigest())
    print("etag-multipart", hashlib.md5(b"".join(parts)).hexdigest() + "-" + str(len(parts)))
    print("crc64", crc)


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        raise SystemExit("usage: bench/digests.py FILE PART_SIZE")
    main(sys.argv[1], int(sys.argv[2]))
