#!/usr/bin/env bash
# Installs the stock clients the interoperability tests drive: Python's grpcio (grpc-core) with
# grpcio-tools (tests/tests/stock_clients.rs), and the AWS tools the AWS KMS protocol tests use
# (tests/tests/aws_clients.rs: aws-cli, boto3, the AWS Encryption SDK, pytest) into .venv/, and
# Node's @grpc/grpc-js with @grpc/proto-loader into tests/clients/node/node_modules/. Versions are
# pinned; both directories are gitignored. Does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."

GRPCIO_VERSION=1.85.1
GRPC_JS_VERSION=1.14.7
PROTO_LOADER_VERSION=0.8.1
AWS_PYTHON_PACKAGES=(awscli==1.46.3 boto3==1.44.18 botocore==1.44.18 aws-encryption-sdk==4.0.7 pytest==9.2.0)

if ! .venv/bin/python -c "import grpc, grpc_tools, sys; sys.exit(grpc.__version__ != '$GRPCIO_VERSION')" 2>/dev/null; then
  command -v python3 >/dev/null || { echo "python3 is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check \
    "grpcio==$GRPCIO_VERSION" "grpcio-tools==$GRPCIO_VERSION"
fi

if ! .venv/bin/python -c "
import sys, importlib.metadata as m
wanted = dict(p.split('==') for p in sys.argv[1:])
sys.exit(any(m.version(name) != version for name, version in wanted.items()))
" "${AWS_PYTHON_PACKAGES[@]}" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "${AWS_PYTHON_PACKAGES[@]}"
fi

node_dir=tests/clients/node
if ! node -e "process.exit(require('./$node_dir/node_modules/@grpc/grpc-js/package.json').version === '$GRPC_JS_VERSION' ? 0 : 1)" 2>/dev/null; then
  command -v npm >/dev/null || { echo "npm is needed (scripts/install-deps.sh installs it)" >&2; exit 1; }
  (cd "$node_dir" && npm install --silent --no-audit --no-fund --no-save \
    "@grpc/grpc-js@$GRPC_JS_VERSION" "@grpc/proto-loader@$PROTO_LOADER_VERSION")
fi
