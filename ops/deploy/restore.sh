#!/usr/bin/env bash
# Restore a sequester backup into an EMPTY database (or schema), then prove it.
#
#   restore.sh DUMP_FILE [KEY_ARCHIVE]
#
# Restores DUMP_FILE (from backup.sh) into SEQUESTER_DATABASE_URL, whose schema must hold
# no sequester tables yet and must be the schema the dump was taken from. KEY_ARCHIVE, if
# given, is unpacked into SEQUESTER_KEY_DIR, which must hold no keys yet (leave it out when
# the keys are already in place, or come from the environment). Then it runs
#   sequester audit verify [--checkpoint <dump>.checkpoint]   every row against its Merkle leaf
#   sequester keys status                                     the keys unwrap every data key
# and exits non-zero if either fails: a restore that does not verify is not a restore.
set -euo pipefail
umask 077
source "$(dirname "$(readlink -f "$0")")/lib.sh"

[[ $# -ge 1 && $# -le 2 ]] || die "usage: restore.sh DUMP_FILE [KEY_ARCHIVE]"
dump="$1"
[[ -f "$dump" ]] || die "no such dump file: $dump"
base="${dump%.dump}"
if [[ -f "$base.sha256" ]]; then
  (cd "$(dirname "$dump")" && sha256sum --check --quiet "$(basename "$base.sha256")") \
    || die "checksums in $base.sha256 do not match: the dump or its checkpoint changed"
fi

parse_database_url
pg_restore --list "$dump" | grep -E "^[0-9]+; [0-9]+ [0-9]+ TABLE $SCHEMA sequester_events " > /dev/null \
  || die "$dump holds no sequester tables for schema '$SCHEMA': restore with the ?schema= it was taken from"
require_connection
has_events_table && die "schema '$SCHEMA' of database '$PGDATABASE' already holds sequester tables; restore into an empty one"

if [[ $# -eq 2 ]]; then
  key_dir="${SEQUESTER_KEY_DIR:-./var/keys}"
  if compgen -G "$key_dir/*.key" > /dev/null || [[ -e "$key_dir/checkpoint.signing" ]]; then
    die "key directory $key_dir already holds keys; refusing to overwrite"
  fi
  mkdir -p -m 700 -- "$key_dir"
  tar --extract --file="$2" --directory="$key_dir" --no-same-owner
  echo "keys: unpacked into $key_dir"
fi

if [[ "$SCHEMA" != public && "$(sql_value "SELECT count(*) FROM pg_namespace WHERE nspname = '$SCHEMA'")" == 1 ]]; then
  sql_value "DROP SCHEMA \"$SCHEMA\"" > /dev/null  # empty (checked above); the dump creates it
fi
pg_restore --no-password --exit-on-error --single-transaction --no-owner --no-privileges \
  --dbname="$PGDATABASE" "$dump"
has_events_table || die "the restore left no sequester tables in schema '$SCHEMA'"
echo "database: restored $dump into schema $SCHEMA of $PGDATABASE"

checkpoint=()
[[ -f "$base.checkpoint" ]] && checkpoint=(--checkpoint "$base.checkpoint")
if ! "$(sequester_bin)" audit verify "${checkpoint[@]}"; then
  echo "$(basename "$0"): RESTORE FAILED VERIFICATION: do not serve from this database" >&2
  exit 1
fi
if ! "$(sequester_bin)" keys status; then
  echo "$(basename "$0"): RESTORE FAILED: the keys do not unwrap the restored data keys" >&2
  exit 1
fi
echo "restore verified"
