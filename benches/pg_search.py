#!/usr/bin/env python3
"""PostgreSQL side of the search benchmark (issue 6). Run through pg_search.sh.

Loads DIR/corpus.tsv (COPY text format) into `messages` with a stored
Spanish/English tsvector column, builds a GIN index and b-trees, then times
DIR/queries.tsv: each search runs both statements a search engine answers
(top 20 conversations by best message rank, and the number of matching
conversations) on one connection. Progress goes to stderr; stdout gets a
table and, as its last line, one JSON object.
"""
import argparse
import json
import math
import os
import sys
import time

import psycopg

CHUNK = 1 << 20

DDL = """
CREATE TABLE messages (
    conversation_id bigint,
    message_id bigint PRIMARY KEY,
    channel text,
    status text,
    lang text,
    sent_at_ms bigint,
    text text,
    tsv tsvector GENERATED ALWAYS AS (
        CASE WHEN lang = 'en' THEN to_tsvector('english', text)
             ELSE to_tsvector('spanish', text) END
    ) STORED
)
"""

INDEXES = [
    ("gin(tsv)", "CREATE INDEX messages_tsv ON messages USING GIN (tsv)"),
    ("btree(channel)", "CREATE INDEX messages_channel ON messages (channel)"),
    ("btree(status)", "CREATE INDEX messages_status ON messages (status)"),
    ("btree(conversation_id)", "CREATE INDEX messages_conversation ON messages (conversation_id)"),
]

# The tsquery is built once per statement in a one-row subquery; PostgreSQL
# pulls it up, so the GIN index is used as with a literal.
TSQ = ("(SELECT websearch_to_tsquery('spanish', %(w)s)"
       " || websearch_to_tsquery('english', %(w)s) AS q) AS s")


def sql_for(channel, status):
    where = "m.tsv @@ s.q"
    if channel:
        where += " AND m.channel = %(channel)s"
    if status:
        where += " AND m.status = %(status)s"
    top = (f"SELECT m.conversation_id, max(ts_rank(m.tsv, s.q)) AS r FROM messages m, {TSQ}"
           f" WHERE {where} GROUP BY m.conversation_id ORDER BY r DESC LIMIT 20")
    total = f"SELECT count(DISTINCT m.conversation_id) FROM messages m, {TSQ} WHERE {where}"
    return top, total


def log(msg):
    print(f"pg_search: {msg}", file=sys.stderr, flush=True)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(1, math.ceil(p / 100.0 * len(s)))
    return s[k - 1]


def read_queries(path):
    queries = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t") + ["", "", ""]
            name, websearch, channel, status = (c.strip() for c in cols[:4])
            if not name or not websearch:
                sys.exit(f"pg_search: {path}:{lineno}: need at least name and websearch")
            queries.append({"name": name, "websearch": websearch,
                            "channel": channel, "status": status})
    if not queries:
        sys.exit(f"pg_search: {path}: no queries")
    return queries


def load(conn, corpus):
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS messages")
        cur.execute(DDL)
    conn.commit()

    size = os.path.getsize(corpus)
    log(f"loading {corpus} ({size / 1e6:.0f} MB)")
    t0 = time.perf_counter()
    sent = 0
    next_report = t0 + 10
    with conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        with open(corpus, "rb") as f, cur.copy(
                "COPY messages (conversation_id, message_id, channel, status, lang,"
                " sent_at_ms, text) FROM STDIN") as copy:
            while True:
                block = f.read(CHUNK)
                if not block:
                    break
                copy.write(block)
                sent += len(block)
                now = time.perf_counter()
                if now >= next_report:
                    pct = 100.0 * sent / size if size else 0.0
                    log(f"  {sent / 1e6:.0f} MB sent ({pct:.0f}%) in {now - t0:.0f} s")
                    next_report = now + 10
        conn.commit()
        load_s = time.perf_counter() - t0
        cur.execute("SET synchronous_commit = on")
    conn.commit()
    return load_s


def build_indexes(conn):
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for label, stmt in INDEXES:
            t = time.perf_counter()
            cur.execute(stmt)
            conn.commit()
            log(f"  index {label}: {time.perf_counter() - t:.2f} s")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--dbname", default="postgres")
    ap.add_argument("--rounds", type=int, default=50)
    a = ap.parse_args()

    queries = read_queries(f"{a.dir}/queries.tsv")
    # prepare_threshold=None: every execution is planned with its actual
    # parameters (a custom plan), PostgreSQL's best case for selectivity.
    conn = psycopg.connect(host=a.host, port=a.port, user=a.user, dbname=a.dbname,
                           prepare_threshold=None)
    conn.add_notice_handler(lambda d: None)  # e.g. "text-search query contains only stop words"

    load_s = load(conn, f"{a.dir}/corpus.tsv")
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT conversation_id),"
                    " count(*) FILTER (WHERE strpos(text, E'\\t') > 0),"
                    " count(*) FILTER (WHERE strpos(text, E'\\n') > 0),"
                    " count(*) FILTER (WHERE strpos(text, E'\\\\') > 0) FROM messages")
        rows, convs, tabs, nls, bss = cur.fetchone()
    conn.commit()
    log(f"loaded {rows} messages in {convs} conversations in {load_s:.2f} s "
        f"({rows / load_s if load_s else 0:.0f} msg/s); texts with tab {tabs}, "
        f"newline {nls}, backslash {bss}")

    log("building indexes")
    index_s = build_indexes(conn)
    log(f"indexes built in {index_s:.2f} s")
    conn.autocommit = True
    t = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE messages")
    vacuum_s = time.perf_counter() - t
    with conn.cursor() as cur:
        cur.execute("SELECT pg_total_relation_size('messages'), pg_relation_size('messages'),"
                    " pg_indexes_size('messages'), pg_relation_size('messages_tsv')")
        total_b, heap_b, idx_b, gin_b = cur.fetchone()
    size_mb = total_b / (1024 * 1024)
    log(f"vacuum analyze {vacuum_s:.2f} s; size {size_mb:.1f} MB total "
        f"(heap {heap_b / 2**20:.1f}, indexes {idx_b / 2**20:.1f} of which GIN {gin_b / 2**20:.1f})")

    stmts = [sql_for(q["channel"], q["status"]) for q in queries]
    params = [{"w": q["websearch"], "channel": q["channel"], "status": q["status"]}
              for q in queries]
    times = [[] for _ in queries]      # ms per search (both statements)
    top_times = [[] for _ in queries]  # ms of the top-20 statement alone
    totals = [None] * len(queries)

    def search(i):
        top, total = stmts[i]
        with conn.cursor() as cur:
            t0 = time.perf_counter_ns()
            cur.execute(top, params[i])
            hits = cur.fetchall()
            t1 = time.perf_counter_ns()
            cur.execute(total, params[i])
            n = cur.fetchone()[0]
            t2 = time.perf_counter_ns()
        if len(hits) > n or (n > 0 and not hits):
            sys.exit(f"pg_search: inconsistent results for {queries[i]['name']}: "
                     f"{len(hits)} top rows, total {n}")
        return (t2 - t0) / 1e6, (t1 - t0) / 1e6, n

    log(f"warm-up round over {len(queries)} queries")
    for i in range(len(queries)):
        _, _, totals[i] = search(i)
    log(f"timing {a.rounds} rounds")
    t_start = time.perf_counter()
    for r in range(a.rounds):
        for i in range(len(queries)):
            ms, top_ms, n = search(i)
            times[i].append(ms)
            top_times[i].append(top_ms)
            if n != totals[i]:
                sys.exit(f"pg_search: total changed for {queries[i]['name']}: {totals[i]} -> {n}")
        if (r + 1) % 10 == 0 and r + 1 < a.rounds:
            log(f"  round {r + 1}/{a.rounds} ({time.perf_counter() - t_start:.0f} s)")
    conn.close()

    out = []
    w = max(12, max(len(q["name"]) for q in queries))
    print(f"PostgreSQL {rows} messages, {a.rounds} rounds; ms per search = top-20 + total "
          f"statements, client wall time")
    print(f"{'query':<{w}}  {'p50 ms':>9}  {'p99 ms':>9}  {'top p50':>9}  {'total':>9}")
    for i, q in enumerate(queries):
        p50, p99 = percentile(times[i], 50), percentile(times[i], 99)
        print(f"{q['name']:<{w}}  {p50:9.2f}  {p99:9.2f}  {percentile(top_times[i], 50):9.2f}"
              f"  {totals[i]:>9}")
        out.append({"name": q["name"], "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
                    "total": totals[i]})
    pooled = [x for ts in times for x in ts]
    overall = {"p50_ms": round(percentile(pooled, 50), 3),
               "p99_ms": round(percentile(pooled, 99), 3)}
    print(f"{'overall':<{w}}  {overall['p50_ms']:9.2f}  {overall['p99_ms']:9.2f}")
    print(f"load {load_s:.2f} s, index {index_s:.2f} s (+ vacuum analyze {vacuum_s:.2f} s), "
          f"size {size_mb:.1f} MB")
    print(json.dumps({"load_s": round(load_s, 3), "index_s": round(index_s, 3),
                      "size_mb": round(size_mb, 1), "queries": out, "overall": overall}),
          flush=True)


if __name__ == "__main__":
    main()
