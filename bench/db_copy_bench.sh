#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# `focal db copy` on a generated library of N photos (an asset, EXIF and a 512-d CLIP embedding each):
# SQLite → PostgreSQL → SQLite and SQLite → SQLite, with wall time and peak memory, beside the engines' own
# whole-database copies in the same run as baselines (sqlite3's .backup, pg_dump | pg_restore).
#
#   bench/db_copy_bench.sh [N] [FOCAL]     # N photos (default 100000), FOCAL binary (default build/release/focal)
#
# Starts a throwaway PostgreSQL server (tests/support/postgres.sh) in a temporary folder; prints a Markdown table.
set -euo pipefail
photos=${1:-100000}
focal=$(realpath "${2:-build/release/focal}")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/focal-db-copy-bench.XXXXXX)
chmod 755 "$work"  # the server may run as user postgres
server="$work/pg"
trap '"$repo/tests/support/postgres.sh" stop "$server" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$repo/tests/support/postgres.sh" start "$server" >/dev/null
psql_on() { psql -X -q -v ON_ERROR_STOP=1 "host=$server user=focal dbname=$1" "${@:2}"; }
for db in copy restored; do psql_on postgres -c "CREATE DATABASE $db"; done
url() { echo "postgresql://focal@/$1?host=$server"; }

export FOCAL_DATA_DIR="$work/data" FOCAL_LOG_LEVEL=warning
"$focal" db migrate >/dev/null
python3 - "$work/data/focal.db" "$photos" <<'EOF'
import random, sqlite3, struct, sys
db, count = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
rng = random.Random(7)
db.execute("INSERT INTO auth_user (id, email, name, password_hash, is_admin, created_at) "
           "VALUES (1, 'admin@example.com', 'Admin', 'x', 1, 0)")
db.execute("INSERT INTO library (id, path, created_at, owner_id) VALUES (1, '/photos', 0, 1)")
def rows():
    for i in range(1, count + 1):
        yield (i, f"/photos/{i // 1000}/IMG_{i:07d}.jpg", f"IMG_{i:07d}.jpg", f"{i:064x}")
db.executemany("INSERT INTO asset (id, owner_id, library_id, status, original_path, original_file_name, checksum, "
               "created_at, updated_at) VALUES (?, 1, 1, 'ready', ?, ?, ?, 0, 0)", rows())
db.executemany("INSERT INTO asset_exif (asset_id, make, model, date_time_original) VALUES (?, 'Canon', 'EOS 40D', "
               "'2024-05-01T10:00:00')", ((i,) for i in range(1, count + 1)))
vector = struct.Struct("<512f")
db.executemany("INSERT INTO smart_search (asset_id, model, dim, embedding, version) VALUES (?, 'ViT-B-32__openai', "
               "512, ?, ?)", ((i, vector.pack(*(rng.gauss(0, 1) for _ in range(512))), rng.getrandbits(62))
                              for i in range(1, count + 1)))
db.commit()
EOF
size=$(du -m "$work/data/focal.db" | cut -f1)

# Seconds and peak RSS (MiB) of a command.
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out"
  read -r seconds kib <"$work/time"
  echo "$seconds $((kib / 1024))"
}
# focal's own split of the time: rows copied, then the keyword and text-in-photos indexes rebuilt.
split() {
  sed -n 's/^Copied .* in \([0-9.]*\) s\.$/rows \1 s/p; s/^Rebuilt .* in \([0-9.]*\) s\.$/+ indexes \1 s/p' \
    "$work/out" | paste -sd' '
}
row() { printf '| %s | %s s | %s MiB | %s |\n' "$1" "$2" "$3" "${4:-}"; }
echo "Library: $photos photos, SQLite file $size MiB"
echo
echo "| copy | wall | peak RSS | of which |"
echo "|---|---|---|---|"
read -r s m < <(measure sqlite3 "$work/data/focal.db" ".backup '$work/backup.db'")
row "baseline: sqlite3 .backup (SQLite → SQLite, page copy)" "$s" "$m"
read -r s m < <(measure "$focal" db copy --to "sqlite:$work/copy.db")
row "focal db copy SQLite → SQLite" "$s" "$m" "$(split)"
read -r s m < <(measure "$focal" db copy --to "$(url copy)")
row "focal db copy SQLite → PostgreSQL" "$s" "$m" "$(split)"
read -r s m < <(measure "$focal" db copy --from "$(url copy)" --to "sqlite:$work/back.db")
row "focal db copy PostgreSQL → SQLite" "$s" "$m" "$(split)"
read -r s m < <(measure bash -c "pg_dump -Fc 'host=$server user=focal dbname=copy' | \
  pg_restore -d 'host=$server user=focal dbname=restored'")
row "baseline: pg_dump -Fc \| pg_restore (PostgreSQL → PostgreSQL)" "$s" "$m"
rows=$(sqlite3 "$work/back.db" "SELECT count(*) FROM smart_search")
echo
echo "Embeddings after the round trip: $rows of $photos"
