"""S3 and S3-compatible object storage (boto3): importer, exporter and storage (GitHub issue 4).

A drop-in for Plakar's Go s3 integration: the same config keys with the same meanings and
defaults, the same repository layout, plus the AWS credential chain, SSE-KMS, bounded-memory
multipart uploads, checksums on every upload and a metadata round trip between importer and
exporter (see README.md).
"""

from __future__ import annotations

NAME = "s3"
DISPLAY_NAME = "S3"
PROTOCOLS = ("s3",)
