# Shared by backup.sh and restore.sh (sourced, not run).
# Reads SEQUESTER_DATABASE_URL the way ops/settings.py does:
#   postgresql://user[:password]@host[:port]/database[?schema=name]
# and exports libpq's PG* variables, so no password ever appears on a command line.
# Without a password in the URL, libpq reads PGPASSFILE (default ~/.pgpass).

die() { echo "$(basename "$0"): $*" >&2; exit 2; }

urldecode() { local s="${1//+/ }"; printf '%b' "${s//%/\\x}"; }

parse_database_url() {
  local url="${SEQUESTER_DATABASE_URL:-}" query="" pair
  local re='^postgres(ql)?://(([^:@/]*)(:([^@/]*))?@)?([^:/?]*)(:([0-9]+))?(/([^?]*))?(\?(.*))?$'
  [[ -n "$url" ]] || die "SEQUESTER_DATABASE_URL is not set"
  [[ "$url" =~ $re ]] || die "SEQUESTER_DATABASE_URL must be postgresql://user@host:port/db[?schema=name]"
  PGUSER="$(urldecode "${BASH_REMATCH[3]:-postgres}")"
  if [[ -n "${BASH_REMATCH[5]}" ]]; then
    PGPASSWORD="$(urldecode "${BASH_REMATCH[5]}")"; export PGPASSWORD
  fi
  PGHOST="${BASH_REMATCH[6]:-127.0.0.1}"
  PGPORT="${BASH_REMATCH[8]:-5432}"
  PGDATABASE="$(urldecode "${BASH_REMATCH[10]:-postgres}")"
  query="${BASH_REMATCH[12]}"
  SCHEMA=public
  for pair in ${query//&/ }; do
    [[ "$pair" == schema=* ]] && SCHEMA="$(urldecode "${pair#schema=}")"
  done
  [[ "$SCHEMA" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "schema name '$SCHEMA' is not a plain identifier"
  export PGUSER PGHOST PGPORT PGDATABASE SCHEMA
}

require_connection() {
  sql_value "SELECT 1" > /dev/null \
    || die "cannot connect to database '$PGDATABASE' on $PGHOST:$PGPORT as $PGUSER"
}

sequester_bin() { echo "${SEQUESTER_BIN:-sequester}"; }

# psql, quiet and scripted: one value out.
sql_value() { psql --no-psqlrc --no-password --tuples-only --no-align --quiet -v ON_ERROR_STOP=1 -c "$1"; }

has_events_table() {
  [[ "$(sql_value "SELECT to_regclass('\"$SCHEMA\".sequester_events') IS NOT NULL")" == t ]]
}
