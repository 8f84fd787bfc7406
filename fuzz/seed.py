#!/usr/bin/env python3
"""Seeds each fuzz target's corpus from the repository's fixtures (small, valid inputs the
fuzzer mutates): fuzz/seed.py CORPUS_DIR. Large fixtures are cut to a few entries, so that the
fuzzer's inputs stay small and fast."""
import glob
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = sys.argv[1]


def fixture(path):
    with open(os.path.join(root, path), "rb") as f:
        return f.read()


def head(path, lines):
    return b"".join(fixture(path).splitlines(keepends=True)[:lines])


def seed(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def small_otlp():
    line = json.loads(fixture("fixtures/traces/shop.otlp.jsonl").splitlines()[0])
    for rs in line["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            ss["spans"] = ss["spans"][:3]
    return json.dumps(line).encode()


def small_jaeger():
    doc = json.loads(fixture("fixtures/traces/shop.jaeger.json"))
    doc["data"] = doc["data"][:2]
    return json.dumps(doc, indent=1).encode()


def small_zipkin():
    return json.dumps(json.loads(fixture("fixtures/traces/shop.zipkin.json"))[:6], indent=1).encode()


def pseudo_random(seed, n):
    """Deterministic bytes (xorshift), for targets that build their input's structure."""
    x = (seed * 0x9E3779B97F4A7C15 | 1) & (2**64 - 1)
    out = bytearray()
    for _ in range(n):
        x ^= (x << 13) & (2**64 - 1)
        x ^= x >> 7
        x ^= (x << 17) & (2**64 - 1)
        out.append(x & 0xFF)
    return bytes(out)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(tag, wire, body):
    key = varint(tag << 3 | wire)
    if wire == 2:
        return key + varint(len(body)) + body
    return key + body


def kinds_all():
    """An encoded tests/proto/kinds.proto `All` with a field of each kind set."""
    inner = field(1, 2, b"inner") + field(2, 2, varint(5) + varint(2**32 - 1))
    return b"".join([
        field(1, 1, bytes.fromhex("000000000000f83f")), field(3, 0, varint(2**64 - 7)),
        field(13, 0, varint(1)), field(14, 2, "grüße".encode()), field(15, 2, b"\x00\xff"),
        field(16, 0, varint(99)), field(17, 0, varint(0)), field(22, 2, varint(1) + varint(300)),
        field(24, 2, b"a"), field(24, 2, b""), field(27, 2, inner), field(28, 2, inner),
        field(29, 2, field(1, 2, b"k") + field(2, 0, varint(5))),
        field(30, 2, field(1, 0, varint(7)) + field(2, 2, inner)),
        field(33, 2, b"chosen"), field(37, 2, field(1, 0, varint(1700000000))),
        field(38, 2, field(1, 2, b"root") + field(2, 2, field(1, 2, b"leaf"))),
        field(39, 2, field(1, 2, b"1") + field(2, 2, field(1, 2, b"2") + field(4, 2, b"done"))),
        field(999, 2, b"unknown"),
    ])


seeds = {
    "import_native_toml": [(p, fixture(p)) for p in ["fixtures/traffic/shop.toml"] + sorted(glob.glob("fixtures/traffic/cases/*.toml", root_dir=root))],
    "import_native_json": [("shop.json", fixture("fixtures/traffic/shop.json"))],
    "import_native_csv": [("shop-csv", fixture("fixtures/traffic/shop-csv/services.csv") + b"---\n" + fixture("fixtures/traffic/shop-csv/calls.csv"))],
    "import_alibaba": [("v2021", head("fixtures/traffic/alibaba-v2021-sample/Callgraph.csv", 40) + b"---\n" + head("fixtures/traffic/alibaba-v2021-sample/Resource.csv", 20))],
    "import_dgg": [(p, fixture(p)) for p in sorted(glob.glob("fixtures/traffic/dgg/*/S_*/graph1.json", root_dir=root))[:4]],
    "import_otlp": [("shop", small_otlp())],
    "import_jaeger": [("shop", small_jaeger())],
    "import_zipkin": [("shop", small_zipkin())],
    "import_links": [("shop", fixture("fixtures/traces/shop.links.json"))],
    "import_prometheus": [(p, fixture(p)) for p in ["fixtures/traces/shop.cpu.prom", "fixtures/traces/shop.servicegraph.prom", "fixtures/traces/shop.servicegraph.query.json"]],
    "import_profiles": [("shop", head("fixtures/profiles/shop/gateway.folded", 30) + b"---\n" + head("fixtures/profiles/shop/pricing.folded", 30))],
    "read_lock": [(p, fixture(p)) for p in sorted(glob.glob("fixtures/**/merge.lock", root_dir=root, recursive=True))],
    "rewrite_generated": [("random-%d" % i, pseudo_random(i, 300)) for i in range(8)],
    "convert_differential": [("all", kinds_all()), ("empty", b"")],
    "read_plan": [(p, fixture(p)) for p in sorted(glob.glob("fixtures/**/merge.toml", root_dir=root, recursive=True))],
    "check_scan": [(p, fixture(p)) for p in sorted(glob.glob("fixtures/shop/*/src/*.rs", root_dir=root) + glob.glob("fixtures/hazards/**/*.rs", root_dir=root, recursive=True) + glob.glob("fixtures/guarded/**/*.rs", root_dir=root, recursive=True))],
}
seeds["detect_and_import"] = [
    (t + "-" + name, data)
    for t in ("import_native_toml", "import_native_json", "import_otlp", "import_jaeger", "import_zipkin", "import_links", "import_prometheus")
    for name, data in seeds[t][:2]
]

for target, inputs in seeds.items():
    for name, data in inputs:
        seed(target, name.replace("/", "_"), data)

# Every input a target once failed on (fixtures/fuzz/<target>/, README.md there) starts its
# corpus too, so that each fuzz run replays them first. The rewrite's kept generated files
# (.rs) are its ordinary test's, not fuzzer input.
kept = os.path.join(root, "fixtures", "fuzz")
for target in sorted(os.listdir(kept)):
    folder = os.path.join(kept, target)
    if not os.path.isdir(folder):
        continue
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".rs"):
            seed(target, "kept-" + name, fixture(os.path.join("fixtures", "fuzz", target, name)))
