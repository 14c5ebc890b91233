#!/usr/bin/env python3
"""Times a metadata-only update of a 5 GiB object (issue 12 §2).

Starts `kura serve` on a free loopback port with a temporary data directory,
streams a 5 GiB object into it (a multipart upload through boto3, never
held in memory or written anywhere else), then times CopyObject of the object
onto itself with `MetadataDirective=REPLACE`: one request round trip each,
measured around the boto3 call with a client already connected. Checks that
the ETag, size and chunk files are unchanged and the new metadata is there,
then deletes everything (the data directory is removed on exit).

    scripts/metadata_update_5gib.py [path/to/kura] [size-in-MiB]

Needs about 5 GiB of free disk for the object.
"""

import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

KEY_ID = "KURAMEASUREACCESSKEY"
SECRET = "kurameasuresecretkey00000000000000000000"


class Zeros(io.RawIOBase):
    """A readable stream of `n` zero bytes."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chunk_files(data_dir):
    return sum(len(f) for _, _, f in os.walk(os.path.join(data_dir, "chunks")))


def main():
    kura = sys.argv[1] if len(sys.argv) > 1 else "target/release/kura"
    size = (int(sys.argv[2]) if len(sys.argv) > 2 else 5 * 1024) << 20
    tmp = tempfile.mkdtemp(prefix="kura-mdupdate-")
    port = free_port()
    env = dict(os.environ, KURA_ACCESS_KEY_ID=KEY_ID, KURA_SECRET_ACCESS_KEY=SECRET)
    server = subprocess.Popen(
        [kura, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", tmp + "/data"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in server.stdout:
            if line.startswith("kura listening on"):
                break
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )
        s3.create_bucket(Bucket="bkt")
        t = time.perf_counter()
        s3.upload_fileobj(
            Zeros(size),
            "bkt",
            "big",
            Config=TransferConfig(multipart_chunksize=64 << 20, max_concurrency=4),
        )
        print(f"upload of {size >> 20} MiB: {time.perf_counter() - t:.1f} s")
        before = s3.head_object(Bucket="bkt", Key="big")
        files = chunk_files(tmp + "/data")
        times = []
        for i in range(10):
            t = time.perf_counter()
            s3.copy_object(
                Bucket="bkt",
                Key="big",
                CopySource={"Bucket": "bkt", "Key": "big"},
                MetadataDirective="REPLACE",
                ContentType="application/octet-stream",
                Metadata={"revision": str(i)},
            )
            times.append((time.perf_counter() - t) * 1000)
        after = s3.head_object(Bucket="bkt", Key="big")
        assert after["ETag"] == before["ETag"], (before["ETag"], after["ETag"])
        assert after["ContentLength"] == size
        assert after["Metadata"] == {"revision": "9"}, after["Metadata"]
        assert chunk_files(tmp + "/data") == files, "chunk files written"
        print(
            f"metadata update of {size >> 20} MiB ({files} chunk files), 10 runs: "
            f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms; "
            f"ETag {after['ETag']} unchanged"
        )
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
