#!/bin/sh
# What a test container does with the fake: list a database's backups,
# create one, move the fake's clock until it is done, then download its
# archive through the link the API gives. POSIX sh and curl only.
#
#   FAKE_URL  the fake's base URL (http://scalingo-db:8080 in compose.yml)
#   TOKEN     a bearer token the fake accepts (its DB_BEARER_TOKEN)
#   DB        the database (addon id) to back up
#   OUT       where the archive goes (default: /tmp/archive.tar.gz)
set -eu
: "${FAKE_URL:?}" "${TOKEN:?}" "${DB:?}"
out=${OUT:-/tmp/archive.tar.gz}
api="$FAKE_URL/api/databases/$DB"

step() { printf '== %s\n' "$*"; }
fail() { printf 'client.sh: %s\n' "$*" >&2; exit 1; }
# text NAME JSON / number NAME JSON: the value of "NAME" in one small JSON object.
text() { printf '%s' "$2" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
number() { printf '%s' "$2" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
api_call() { curl -fsS -H "Authorization: Bearer $TOKEN" "$@"; }

step "list the backups of $DB"
list=$(api_call "$api/backups")
case $list in
  *'"database_backups":['*) ;;
  *) fail "unexpected list: $list" ;;
esac

step "create a backup"
created=$(api_call -X POST -H 'Content-Type: application/json' -d '{}' "$api/backups")
id=$(text id "$created")
[ -n "$id" ] || fail "no backup id in: $created"
echo "backup $id is $(text status "$created")"

step "move the fake's clock one hour on"
curl -fsS -X POST -H 'Content-Type: application/json' -d '{"advance_secs": 3600}' "$FAKE_URL/_fake/clock"
echo

step "the backup is done"
shown=$(api_call "$api/backups/$id")
status=$(text status "$shown")
[ "$status" = done ] || fail "backup $id is $status: $shown"
size=$(number size "$shown")

step "download its archive through the link"
link=$(api_call "$api/backups/$id/archive")
url=$(text download_url "$link")
[ -n "$url" ] || fail "no download_url in: $link"
curl -fsS -o "$out" "$url"
got=$(wc -c < "$out" | tr -d ' ')
[ "$got" = "$size" ] || fail "downloaded $got bytes, the backup says $size"
echo "archive of $got bytes in $out"
step "ok"
