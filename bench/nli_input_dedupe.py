"""How many NLI model rows de-duplication by model input saves (no model is run).

For each prompt of a results file written by ``lmuq demo`` / ``lmuq run`` (``results.jsonl``),
takes the answer and its samples, forms every ordered pair of distinct texts (what the
pairwise NLI scorers and NLI clustering ask for), and counts

* the distinct text pairs over the whole file (the "text-pair floor" a string-keyed cache
  reaches), and
* the distinct model inputs among them: token ids after the tokenizer's normalisation and
  truncation, what ``HFNLIModel(dedupe_inputs=True)`` runs.

The tokenizer defaults to the MiniLM one that ships offline (uncased WordPiece, like
DeBERTa-MNLI's is not: a cased tokenizer merges fewer pairs, so the saving depends on it).

    python bench/nli_input_dedupe.py lmuq-out/results.jsonl
    python bench/nli_input_dedupe.py lmuq-out/results.jsonl --tokenizer PATH --max-length 512
    python bench/nli_input_dedupe.py --workload   # bench/workload.py's 75 x 10 numeric set
"""

from __future__ import annotations

import argparse
import json
from itertools import permutations
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, nargs="?")
    ap.add_argument("--workload", action="store_true", help="bench/workload.py's responses")
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder [default: MiniLM]")
    ap.add_argument("--max-length", type=int, default=512)
    args = ap.parse_args()

    import transformers

    if args.tokenizer is None:
        from lmuq.statistics.embeddings import default_sentence_model_path

        args.tokenizer = str(default_sentence_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(args.tokenizer)

    if args.workload:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from workload import make_workload

        w = make_workload()
        rows = [[r, *s] for r, s in zip(w.responses, w.sampled_responses, strict=True)]
    elif args.results is not None:
        rows = []
        for line in args.results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows.append([row["answer"]["text"], *(s["text"] for s in row["samples"])])
    else:
        ap.error("give a results.jsonl or --workload")
    pairs: set[tuple[str, str]] = set()
    for texts in rows:
        pairs.update(permutations(dict.fromkeys(texts), 2))
    ordered = sorted(pairs)
    enc = tok(
        [p for p, _ in ordered],
        [h for _, h in ordered],
        truncation="longest_first",
        max_length=args.max_length,
    )
    fields = [k for k in enc if k != "attention_mask"]
    inputs = {tuple(tuple(enc[k][i]) for k in fields) for i in range(len(ordered))}
    saved = len(ordered) - len(inputs)
    print(f"tokenizer: {args.tokenizer}")
    print(f"distinct text pairs (string-keyed floor): {len(ordered)}")
    print(f"distinct model inputs (token ids):        {len(inputs)}")
    print(f"rows saved: {saved} ({100 * saved / max(1, len(ordered)):.1f}%)")


if __name__ == "__main__":
    main()
