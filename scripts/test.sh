#!/usr/bin/env bash
# Set up and run the whole test suite, registry tests on SQLite and on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${HAWIYA_TEST_DATABASE_URL:-}" ]; then
  HAWIYA_TEST_DATABASE_URL=$(bash scripts/ensure-postgres.sh hawiya_test | tail -1)
  export HAWIYA_TEST_DATABASE_URL
fi
echo "PostgreSQL tests on ${HAWIYA_TEST_DATABASE_URL%%@*}@..."
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
[ $rc -eq 5 ] && { echo "no tests ran"; exit 1; }
exit $rc
