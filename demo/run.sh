#!/usr/bin/env bash
# The main job, end to end, on the embedded default: a SQLite file and a local shard store.
# Everything lands in demo-out/ (deleted and rebuilt on each run).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=demo-out
rm -rf "$OUT"
mkdir -p "$OUT"
export PROVREG_DATABASE_URL="sqlite:///$OUT/provreg.db"
export PROVREG_STORE="$OUT/store"
export PROVREG_ACTOR="demo"
STDLIB=$(python -c 'import os, sysconfig; print(sysconfig.get_paths()["stdlib"])')
PYVER=$(python -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
step() { printf '\n== %s  [%ss]\n' "$*" "$(( $(date +%s) - start ))"; }
start=$(date +%s)

step "initialise the registry ($PROVREG_DATABASE_URL)"
provreg init

step "a signing key: from now on the registry signs what it freezes, records and publishes"
provreg key create demo-registry --out "$OUT/keys/registry.pem"
export PROVREG_SIGNING_KEY="$OUT/keys/registry.pem"

step "contributors"
provreg contributor add "Python Software Foundation" --kind organisation --contact psf@example.org
provreg contributor add "provreg authors" --kind organisation --contact authors@example.org --payout-ref DEMO-ACCT-1
provreg contributor add "Ada Example" --kind person --contact ada@example.org --payout-ref DEMO-ACCT-2

step "sources"
provreg source add python-stdlib \
    --uri "https://github.com/python/cpython/tree/v$PYVER/Lib" --kind public-dataset \
    --licence PSF-2.0 --contributor "Python Software Foundation=1" --terms per-mtok:2.00:EUR \
    --collected-from 2023-12-04 --collected-to 2023-12-04 --jurisdiction US \
    --tdm-checked --tdm-respected --consent not-required \
    --description "The Python $PYVER standard library's own .py source files, read from $STDLIB."
provreg source add provreg-notes \
    --uri "file://demo/corpus" --kind user-contributed --licence CC0-1.0 \
    --contributor "provreg authors=0.75" --contributor "Ada Example=0.25" --terms flat:50.00:EUR \
    --collected-from 2026-11-22 --collected-to 2026-11-22 --jurisdiction EU \
    --tdm-checked --tdm-respected --consent consented \
    --description "Short texts about provenance written for the project, dedicated under CC0-1.0."
provreg source list

step "ingest: the Python standard library's own source (a document per .py file)"
# top-level modules and a few packages: about 6 MB of real PSF-2.0 text
provreg ingest "$STDLIB"/*.py "$STDLIB"/json/*.py "$STDLIB"/email/*.py "$STDLIB"/asyncio/*.py \
    "$STDLIB"/importlib/*.py "$STDLIB"/collections/*.py \
    --format text --source python-stdlib --dataset python-stdlib@1 --shard-size 1MiB

step "ingest: the project's CC0 notes (a document per file)"
provreg ingest demo/corpus/*.txt --format text --source provreg-notes --dataset provreg-notes@1

step "re-ingest the same notes: adds nothing"
provreg ingest demo/corpus/*.txt --format text --source provreg-notes --dataset provreg-notes@1

step "datasets"
provreg dataset list
provreg dataset show provreg-notes@1
provreg dataset stats python-stdlib@1

step "verify every stored shard against its id"
provreg shard verify --all

step "manifest: freeze both datasets for commercial use (policy-checked, Merkle-rooted)"
MANIFEST=$(provreg manifest create --name demo-commercial-v1 --use commercial \
    --dataset python-stdlib@1 --dataset provreg-notes@1)
provreg manifest show "$MANIFEST"
provreg manifest verify "${MANIFEST:0:12}"
FIRST_SHARD=$(provreg manifest shards "$MANIFEST" | awk 'NR == 1 {print $1}')
provreg manifest prove "$MANIFEST" "$FIRST_SHARD" > "$OUT/proof.json"
provreg manifest export "$MANIFEST" | awk 'NR == 1' > "$OUT/manifest.json"
provreg manifest verify-proof "$OUT/proof.json" --manifest "$OUT/manifest.json"

step "train: tiny GPT on manifest ${MANIFEST:0:16} (reads only its verified shards)"
# The data order is a pure function of the seed and the manifest; seed 4 happens to open the small
# CC0 notes shard first, so this short run consumes both sources and both get paid below.
# --async-checkpoint: each checkpoint (file, then its transaction) is written while training goes on.
provreg train --manifest "$MANIFEST" --config tiny --steps 200 --batch-size 16 \
    --checkpoint-every 100 --async-checkpoint --seed 4 --out "$OUT/model.safetensors"
RUN=$(provreg run list --json | python -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')

step "the run: status, loss curve, consumption"
provreg run show "$RUN"

step "verify the weights file against the registry"
provreg weights verify "$OUT/model.safetensors"

step "sign the weights (OMS too) and verify their attestation offline, with no database"
provreg weights sign "$OUT/model.safetensors"
mkdir -p "$OUT/offline"
cp "$OUT/model.safetensors" "$OUT/model.safetensors.attestation.json" "$OUT/keys/registry.pub.pem" "$OUT/offline/"
provreg manifest export "$MANIFEST" > "$OUT/offline/manifest.json"
echo "offline directory: $(ls "$OUT/offline" | tr '\n' ' ')"
(cd "$OUT/offline" && PROVREG_DATABASE_URL="sqlite:///absent.db" provreg attest verify \
    --weights model.safetensors --attestation model.safetensors.attestation.json \
    --manifest manifest.json --key registry.pub.pem)
test ! -e "$OUT/offline/absent.db"  # verification opened no database

step "a sample from the trained model"
provreg generate "$OUT/model.safetensors" --prompt "def " --tokens 120 --seed 0

step "settle the run: what each contributor is owed, exactly"
provreg settle "$RUN"
provreg statement "Python Software Foundation"
provreg statement "Ada Example"
provreg ledger summary

step "publish the public disclosures of the demo model (immutable, content-addressed)"
for fmt in html json croissant eu-summary eu-summary-html spdx; do
    provreg disclose "$OUT/model.safetensors" --format "$fmt" --provider "provreg demo" \
        --model "provreg-demo-tiny-1" --out "$OUT/disclosure.$fmt" --publish
done
echo "files: $(ls "$OUT"/disclosure.* | tr '\n' ' ')"
echo "served by \`provreg serve\` at http://127.0.0.1:8000/disclosures (HTML index, no token needed)"

step "record provenance: a small web crawl with each record's URL, author, date and licence"
# Text that ships with Python (stdlib module docstrings, PSF-2.0) on reserved example hosts;
# demo/crawl.py says how. Every seventh record is labelled CC-BY-NC-4.0 for the demo.
python demo/crawl.py "$OUT/crawl.jsonl"
# It pays by author: 70% of what it earns goes to its records' authors by the tokens trained on
# their records, the rest to the source-level contributor (docs/ledger.md).
provreg source add demo-crawl --uri "https://example.com" --kind web-crawl --licence PSF-2.0 \
    --crawler ExampleBot --collected-from 2024-01-01 --collected-to 2024-12-31 \
    --contributor "Python Software Foundation=1" --terms per-mtok:2000:EUR --pay-authors 0.7

step "opt-out signals: a robots.txt with Content-Usage: train-ai=n, a TDMRep file (docs/signals.md)"
provreg signals add https://forum.example.org --robots demo/signals/forum.robots.txt \
    --observed-at 2024-06-01T00:00:00Z
provreg signals add https://news.example.net --tdmrep demo/signals/news.tdmrep.json \
    --observed-at 2024-06-01T00:00:00Z
provreg signals check https://forum.example.org/library/json.html --crawler ExampleBot
provreg signals check https://news.example.net/library/shutil.html --crawler ExampleBot

step "ingest the crawl: each record's URL is judged; disallowed records are not stored"
provreg ingest "$OUT/crawl.jsonl" --source demo-crawl --dataset demo-crawl@1 \
    --url-field url --author-field author --date-field date --licence-field licence --shard-size 8KiB

echo "-- each author key became a contributor; the crawl's 'ada' is the notes' Ada: one statement"
provreg contributor link demo-crawl:ada "Ada Example"

step "a commercial manifest over the crawl is refused: some records carry CC-BY-NC-4.0"
provreg manifest create --name crawl-commercial --use commercial --dataset demo-crawl@1 \
    || echo "(refused, as it should be: the source is PSF-2.0, but those records are not)"

step "for research it is allowed; its disclosure lists domains by content size from the records"
CRAWL=$(provreg manifest create --name crawl-research --use research --dataset demo-crawl@1)
provreg disclose "$CRAWL" --format json --out "$OUT/crawl-disclosure.json"
provreg disclose "$CRAWL" --format html --out "$OUT/crawl-disclosure.html"
python - "$OUT/crawl-disclosure.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["records"]
print(f"{r['domains_total']} registrable domains, {r['records_with_url']} records with a URL, "
      f"{r['authors_total']} authors, dates {r['records_from']} to {r['records_to']}, "
      f"crawlers {', '.join(r['crawlers'])}")
print(f"the EU summary (section 2.3) lists {r['rule']}; this table: the largest 10 or 10%")
print(f"{'domain':<16}{'records':>8}{'bytes':>9}{'share':>8}")
for d in r["domains"]:
    print(f"{d['domain']:<16}{d['records']:>8}{d['bytes']:>9}{d['byte_share']:>8.1%}")
for x in r["licences"]:
    print(f"record licence {x['licence']}: {x['records']} records, {x['tokens']} tokens")
PY

step "prove one crawl record is in crawl-research (manifest /2), and check the proof offline"
# Each Merkle leaf commits to a shard and the root of a tree over its record ids, so one record's
# proof is two short audit paths: anyone checks it with the manifest alone (docs/manifest-format.md).
provreg manifest export crawl-research | awk 'NR == 1' > "$OUT/crawl-manifest.json"
URL=$(python -c 'import json, sys; print(json.loads(sys.stdin.readline())["url"])' < "$OUT/crawl.jsonl")
provreg record prove crawl-research --url "$URL" --out "$OUT/record-proof.json"
provreg record verify-proof "$OUT/record-proof.json" --manifest "$OUT/crawl-manifest.json"

step "takedown: train on the crawl, then one author (grace) asks for her records to be removed"
provreg train --manifest crawl-research --config tiny --steps 10 --batch-size 4 \
    --checkpoint-every 5 --out "$OUT/crawl.safetensors" >/dev/null
CRUN=$(provreg run list --manifest crawl-research --json | python -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
echo "-- settle it: the authors are paid by the tokens trained on their records (exact per record)"
provreg settle "$CRUN"
provreg statement "Ada Example"
provreg contributor usage "Ada Example"
echo "-- what grace's records reached (no shard file opened: the per-shard author table)"
provreg impact --author demo-crawl:grace
provreg takedown --author demo-crawl:grace --reason "request from grace, ticket 14" --dry-run
provreg takedown --author demo-crawl:grace --reason "request from grace, ticket 14"
echo "-- rebase the manifest: replacements in, revoked shards out; the old one is refused now"
provreg manifest rebase crawl-research --name crawl-research-2
provreg train --manifest crawl-research --config tiny --steps 2 --out "$OUT/refused.safetensors" \
    2>&1 | tail -1 || true
provreg train --manifest crawl-research-2 --config tiny --steps 10 --batch-size 4 \
    --checkpoint-every 10 --out "$OUT/crawl-2.safetensors" >/dev/null
provreg weights verify "$OUT/crawl-2.safetensors" >/dev/null && echo "weights trained on the rebased manifest verified"
echo "-- grace stays paid for the run that trained on her records before the takedown (append-only)"
provreg statement demo-crawl:grace
provreg disclose crawl-research-2 --format json --out "$OUT/crawl-2-disclosure.json"
python -c 'import json,sys; print("disclosure says:", json.load(open(sys.argv[1]))["takedown"])' \
    "$OUT/crawl-2-disclosure.json"

step "continual training: a dataset that grows by versions, followed by one model"
# stream@1: the json package; stream@2 (arrives later): email; stream@3: the CC0 notes
provreg ingest "$STDLIB"/json/*.py --format text --source python-stdlib --dataset stream@1 \
    --shard-size 16KiB
provreg manifest create --name stream-v1 --use research --dataset stream@1 >/dev/null
provreg train --manifest stream-v1 --config tiny --steps 20 --batch-size 4 \
    --checkpoint-every 10 --out "$OUT/continual-origin.safetensors" >/dev/null
FOLLOW=(train --follow stream --from-weights "$OUT/continual-origin.safetensors" --once
    --steps 12 --batch-size 4 --checkpoint-every 6 --eval-fraction 0.25)
provreg ingest "$STDLIB"/email/[a-p]*.py --format text --source python-stdlib \
    --dataset stream@2 --shard-size 32KiB
echo "-- increment 1, with 25% replay, and (another follower) without"
provreg "${FOLLOW[@]}" --replay 0.25 --out-dir "$OUT/continual-replay"
provreg "${FOLLOW[@]}" --replay 0 --out-dir "$OUT/continual-none"
provreg ingest demo/corpus/*.txt --format text --source provreg-notes --dataset stream@3 \
    --shard-size 4KiB
echo "-- increment 2: English notes after code; the replaying model grows a block (function-preserving)"
provreg "${FOLLOW[@]}" --replay 0.25 --out-dir "$OUT/continual-replay" --grow-layers 1
provreg "${FOLLOW[@]}" --replay 0 --out-dir "$OUT/continual-none"

step "lineage with replay: increments, new and replayed shards, growth, the forgetting table"
provreg lineage "$OUT/continual-replay/increment-0002.safetensors"
step "lineage without replay (compare 'eval inc 1' after increment 2)"
provreg lineage "$OUT/continual-none/increment-0002.safetensors"
provreg weights verify "$OUT/continual-replay/increment-0002.safetensors" >/dev/null && echo "grown weights verified"

step "audit log, and a signed checkpoint of it (GET /audit/checkpoints)"
provreg audit verify
provreg audit checkpoint --out "$OUT/audit-checkpoint.json"
provreg audit verify --checkpoint "$OUT/audit-checkpoint.json" --key "$OUT/keys/registry.pub.pem"

printf '\ndemo finished in %ss; registry at %s\n' "$(( $(date +%s) - start ))" "$OUT/provreg.db"
