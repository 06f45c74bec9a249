#!/usr/bin/env bash
# Back up a sequester deployment: the database and the key material, to two places.
#
#   backup.sh DUMP_DIR KEY_BACKUP_DIR
#
# DUMP_DIR gets   sequester-<time>.dump        pg_dump, custom format (only the schema
#                                              named by ?schema=, else the whole database)
#                 sequester-<time>.checkpoint  the signed tree head taken just before it
#                 sequester-<time>.sha256      checksums of both
# KEY_BACKUP_DIR gets sequester-keys-<time>.tar (mode 0600): SEQUESTER_KEY_DIR as it is.
#
# The two must be different places, neither inside the other: a dump is useless without
# the keys, and the keys must never travel with the dumps. With SEQUESTER_KEY_SOURCE=env
# the key material is not on disk here: back up your secret store instead.
#
# Environment: the service's own (SEQUESTER_DATABASE_URL, SEQUESTER_KEY_DIR, …), and
# SEQUESTER_BIN (default: `sequester` on PATH). Needs pg_dump and psql (PostgreSQL 15).
set -euo pipefail
umask 077
source "$(dirname "$(readlink -f "$0")")/lib.sh"

[[ $# -eq 2 ]] || die "usage: backup.sh DUMP_DIR KEY_BACKUP_DIR"
mkdir -p -- "$1" "$2"
dumps="$(readlink -f -- "$1")"
keys="$(readlink -f -- "$2")"
case "$dumps/" in "$keys/"*) die "DUMP_DIR and KEY_BACKUP_DIR must be separate places" ;; esac
case "$keys/" in "$dumps/"*) die "DUMP_DIR and KEY_BACKUP_DIR must be separate places" ;; esac

parse_database_url
require_connection
has_events_table || die "no sequester tables in schema '$SCHEMA' of database '$PGDATABASE'"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
base="$dumps/sequester-$stamp"

"$(sequester_bin)" audit checkpoint > "$base.checkpoint"
scope=()
[[ "$SCHEMA" == public ]] || scope=(--schema="$SCHEMA")
pg_dump --no-password --format=custom "${scope[@]}" --file="$base.dump"
(cd "$dumps" && sha256sum "$(basename "$base.dump")" "$(basename "$base.checkpoint")" > "$base.sha256")
echo "database: $base.dump (schema $SCHEMA), checkpoint: $base.checkpoint"

if [[ "${SEQUESTER_KEY_SOURCE:-files}" == env ]]; then
  echo "keys: SEQUESTER_KEY_SOURCE=env, so no key files here; back up SEQUESTER_KEK_* and"
  echo "      SEQUESTER_CHECKPOINT_SIGNING_KEY from your secret store, apart from the dumps"
  exit 0
fi
key_dir="${SEQUESTER_KEY_DIR:-./var/keys}"
[[ -d "$key_dir" ]] || die "key directory $key_dir does not exist"
tar --create --file="$keys/sequester-keys-$stamp.tar" --directory="$key_dir" .
chmod 600 "$keys/sequester-keys-$stamp.tar"
echo "keys: $keys/sequester-keys-$stamp.tar (keep it apart from the dumps)"
